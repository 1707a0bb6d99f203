package app_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
)

// A person created through the gateway sets the node's policies off: the
// welcome notification is stored, the onboarding workflow starts on its own
// stream, and the policy metrics count what was handled.
func TestPoliciesReactEndToEnd(t *testing.T) {
	a := startApp(t, t.TempDir())
	defer shutdown(t, a)
	c := gatewayClient(t, a)
	id := "policy-ada"
	cmd := create(id)
	cmd.GetCreatePerson().Contacts = []*personv1.ContactInput{{Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: "ada@example.org", Primary: true}}
	if _, err := c.Execute(t.Context(), cmd); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stored := func(stream, subject string) bool {
		s, err := js.Stream(t.Context(), stream)
		if err != nil {
			return false
		}
		_, err = s.GetLastMsgForSubject(t.Context(), subject)
		return err == nil
	}
	waitFor(t, 10*time.Second, "welcome notification", func() bool { return stored("NOTIFICATIONS", "person.notifications.welcome."+id) })
	waitFor(t, 10*time.Second, "onboarding started", func() bool { return stored("ONBOARDING_EVENTS", "onboarding.events."+id) })
	waitFor(t, 10*time.Second, "policy metrics", func() bool {
		_, body := get(t, "http://"+a.HTTPAddr()+"/metrics")
		return strings.Contains(body, "personrt_policy_events_handled_total{policy=")
	})
	// Onboarding commands sent to the gateway reach the workflow, which
	// rejects an identity without an id by its guard.
	_, err = c.Execute(t.Context(), &personv1.Command{PersonId: id, Body: &personv1.Command_VerifyIdentity{VerifyIdentity: &personv1.VerifyIdentity{}}})
	if !errors.Is(err, personv1.ErrInvalidArgument) && !errors.Is(err, personv1.ErrFailedPrecondition) {
		t.Fatalf("VerifyIdentity without an id: got %v, want a rejection by the onboarding workflow", err)
	}
	if strings.Contains(err.Error(), "not_person") {
		t.Fatalf("VerifyIdentity reached the person kind: %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}
