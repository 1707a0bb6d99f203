package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

// Every policy of the person stream reacts for real: a welcome notification
// stored once, a data-quality flag, the onboarding started, the inactivity
// timer armed, the merge recorded on the target.
func TestPersonPolicies(t *testing.T) {
	e := newEnv(t, "")
	e.start(e.config(policies(t, apolicy.Config{})))
	ctx := t.Context()
	a, b := newID(), newID()
	e.create(a, name("J", "Lovelace"), emailInput("ada@example.com"))
	e.create(b, name("Ada", "King"))

	eventually(t, 10*time.Second, "a's data-quality flag", func() bool { return len(e.person(a).GetQualityFlags()) == 1 })
	if f := e.person(a).GetQualityFlags()[0]; f.GetField() != "name.given_names[0]" || f.GetSeverity() != personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING {
		t.Errorf("flag = %v", f)
	}
	eventually(t, 10*time.Second, "onboarding of a and b started", func() bool {
		oa, ob := e.onboardingOf(a), e.onboardingOf(b)
		return oa.GetState() == personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION && ob != nil
	})
	if got := len(e.onboardingOf(a).GetDeadlines()); got != 5 {
		t.Errorf("onboarding deadlines = %d, want the 5 defaults", got)
	}

	// The welcome notification of a, stored once although a second email
	// comes in.
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.people.Execute(ctx, &personv1.Command{PersonId: a, Body: &personv1.Command_AddContact{AddContact: &personv1.AddContact{Contact: &personv1.ContactInput{Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: "ada@work.example.org"}}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "welcome reacted to the second email", func() bool {
		return e.obs.count(func(ev Event) bool {
			h, ok := ev.(Handled)
			return ok && h.Worker == apolicy.WelcomeNotification && h.Key == a && h.Reactions > 0
		}) == 2
	})
	st, err := js.Stream(ctx, "NOTIFICATIONS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("person.notifications.welcome."+a))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects["person.notifications.welcome."+a]; n != 1 {
		t.Errorf("%d welcome notifications for a, want 1", n)
	}
	raw, err := st.GetLastMsgForSubject(ctx, "person.notifications.welcome."+a)
	if err != nil {
		t.Fatal(err)
	}
	var n personv1.Notification
	if err := protojson.Unmarshal(raw.Data, &n); err != nil {
		t.Fatal(err)
	}
	if n.GetTemplate() != apolicy.TemplateWelcomeNewPerson || n.GetRecipient() != "ada@example.com" || n.GetPersonId() != a || n.GetCorrelationId() == "" {
		t.Errorf("notification = %v", &n)
	}

	// The inactivity timer is armed.
	if ok, err := e.timers.Pending(ctx, apolicy.AutoArchive+"."+b); err != nil || !ok {
		t.Errorf("auto-archive timer of b pending = %v, %v", ok, err)
	}

	// Merge a into b: b records it; a's timer is cancelled.
	if _, err := e.people.Execute(ctx, &personv1.Command{PersonId: a, Body: &personv1.Command_MergePersons{MergePersons: &personv1.MergePersons{TargetPersonId: b, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "b records the merge", func() bool {
		from := e.person(b).GetMergedFromPersonIds()
		return len(from) == 1 && from[0] == a
	})
	eventually(t, 10*time.Second, "a's timer cancelled", func() bool {
		ok, err := e.timers.Pending(ctx, apolicy.AutoArchive+"."+a)
		return err == nil && !ok
	})
	if got := e.obs.count(func(ev Event) bool { _, ok := ev.(Parked); return ok }); got != 0 {
		t.Errorf("%d events parked: %v", got, e.obs.events())
	}
}

// A person grain rejects onboarding commands with UNIMPLEMENTED.
func TestPersonRejectsOnboardingCommand(t *testing.T) {
	e := newEnv(t, "")
	id := newID()
	e.create(id, name("Ada", "Lovelace"))
	_, err := e.people.Execute(t.Context(), &personv1.Command{PersonId: id, Body: &personv1.Command_StartOnboarding{StartOnboarding: &personv1.StartOnboarding{}}})
	if !errors.Is(err, personv1.ErrUnimplemented) {
		t.Errorf("StartOnboarding to a person: err = %v, want UNIMPLEMENTED", err)
	}
}
