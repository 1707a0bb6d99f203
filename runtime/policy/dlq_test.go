package policy

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/dlq"
)

// relay is a test policy: every person event is relayed as a notification
// to "<subject>.<personID>"; the poison person's go to "unbound.<id>",
// which no stream stores until the test creates one (the fix).
func relay(poison string) apolicy.Policy {
	return apolicy.Policy{Name: "relay", Source: apolicy.KindPerson, Evaluate: func(env *personv1.EventEnvelope, _ time.Time) []apolicy.Reaction {
		subject := "person.notifications.relay." + env.GetPersonId()
		if env.GetPersonId() == poison {
			subject = "unbound." + env.GetPersonId()
		}
		return []apolicy.Reaction{{Policy: "relay", Notification: &apolicy.Notification{
			Subject: subject, ID: apolicy.DeriveID("relay", env.GetEventId(), "n"),
			Message: &personv1.Notification{Template: env.GetType(), PersonId: env.GetPersonId(), EventId: env.GetEventId()},
		}}}
	}}
}

func (e *env) rename(id, given string) {
	e.t.Helper()
	if _, err := e.people.Execute(e.t.Context(), &personv1.Command{PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: name(given, "Poison")}}}); err != nil {
		e.t.Fatal(err)
	}
}

// A poison event is retried with the configured back-off and parked after
// MaxDeliver deliveries; later events of that person wait and are parked
// behind it; other persons flow; a malformed event is parked at once and
// the loop goes on; replay after the fix removes the entries in order.
func TestPoisonEventParkedAndReplayed(t *testing.T) {
	e := newEnv(t, "")
	p, q := newID(), newID()
	e.start(e.config([]apolicy.Policy{relay(p)}))
	ctx := t.Context()

	e.create(p, name("Pat", "Poison"))
	e.rename(p, "Patricia") // waits behind the retried creation
	e.create(q, name("Quinn", "Fine"))
	eventually(t, 10*time.Second, "q flows", func() bool { return e.obs.count(handled("relay", q)) == 1 })
	eventually(t, 10*time.Second, "both events of p parked", func() bool {
		entries, err := e.dlq.List(ctx, dlqFilter("relay", p))
		return err == nil && len(entries) == 2
	})
	entries, _ := e.dlq.List(ctx, dlqFilter("relay", p))
	head, second := entries[0], entries[1]
	if head.Letter.GetVersion() != 1 {
		head, second = second, head // parked in the other order
	}
	if h, ok, err := e.dlq.Head(ctx, "relay", p); err != nil || !ok || h.Sequence != head.Sequence {
		t.Errorf("Head = %d, %v, %v; want the entry of version 1 (%d)", h.Sequence, ok, err, head.Sequence)
	}
	if l := head.Letter; l.GetAttempts() != 3 || l.GetVersion() != 1 || l.GetCode() != personv1.ErrorCode_ERROR_CODE_INTERNAL ||
		l.GetStream() != "PERSON_EVENTS" || l.GetSubject() != "person.events."+p || l.GetEventId() == "" || l.GetBlockedBy() != 0 ||
		!l.GetFirstFailure().AsTime().Before(l.GetLastFailure().AsTime()) {
		t.Errorf("head = %v", l)
	}
	if l := second.Letter; l.GetVersion() != 2 || (l.GetRule() != RuleParkedBehind && l.GetRule() != RuleWaitedBehind) {
		t.Errorf("second = %v, want parked behind the head", l)
	}
	// The back-off: delivery n is nak'ed for BaseBackoff·2^(n-1) with equal
	// jitter, and the later event waited (was not evaluated) meanwhile.
	var waited bool
	for _, ev := range e.obs.events() {
		r, ok := ev.(Retried)
		if !ok || r.Key != p {
			continue
		}
		waited = waited || r.Waiting
		full := 50 * time.Millisecond << (r.Attempt - 1)
		if !r.Waiting && (r.Delay < full/2 || r.Delay > full) {
			t.Errorf("retry %d delayed %v, want [%v, %v]", r.Attempt, r.Delay, full/2, full)
		}
	}
	if !waited {
		t.Error("the second event of p did not wait behind the first")
	}

	// A third event of p is parked behind the head without being tried.
	e.rename(p, "Patty")
	eventually(t, 10*time.Second, "the third event parked", func() bool {
		entries, err := e.dlq.List(ctx, dlqFilter("relay", p))
		return err == nil && len(entries) == 3
	})
	entries, _ = e.dlq.List(ctx, dlqFilter("relay", p))
	if l := entries[2].Letter; l.GetBlockedBy() != head.Sequence || l.GetRule() != RuleParkedBehind || l.GetAttempts() != 0 {
		t.Errorf("third = %v, want blocked by %d", l, head.Sequence)
	}

	// A malformed event is parked at once; the loop goes on.
	m := newID()
	bad := &nats.Msg{Subject: "person.events." + m, Data: []byte("not json"), Header: nats.Header{}}
	bad.Header.Set("Nats-Msg-Id", newID())
	bad.Header.Set("Cim-Event-Type", "PersonCreated")
	bad.Header.Set("Cim-Schema-Version", "3")
	bad.Header.Set("Cim-Person-Id", m)
	bad.Header.Set("Cim-Person-Version", "1")
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, bad); err != nil {
		t.Fatal(err)
	}
	q2 := newID()
	e.create(q2, name("Quentin", "Fine"))
	eventually(t, 10*time.Second, "the malformed event parked and q2 handled", func() bool {
		entries, err := e.dlq.List(ctx, dlqFilter("relay", m))
		return err == nil && len(entries) == 1 && e.obs.count(handled("relay", q2)) == 1
	})
	if l, _ := e.dlq.List(ctx, dlqFilter("relay", m)); l[0].Letter.GetCode() != personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT || l[0].Letter.GetRule() != RuleMalformed || l[0].Letter.GetAttempts() != 1 {
		t.Errorf("malformed entry = %v", l[0].Letter)
	}

	// Replay before the fix fails and keeps the entry; a non-head entry is
	// refused.
	if err := e.dlq.Replay(ctx, head.Sequence); err == nil {
		t.Error("replay before the fix succeeded")
	}
	if err := e.dlq.Replay(ctx, second.Sequence); !errors.Is(err, personv1.ErrFailedPrecondition) || personv1.AsError(err, "").GetRule() != RuleNotHead {
		t.Errorf("replay of a non-head entry: err = %v, want FAILED_PRECONDITION [%s]", err, RuleNotHead)
	}

	// The fix: a stream for the poison subject. Replay all three in order
	// through the CLI.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "UNBOUND", Subjects: []string{"unbound.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"replay"}
	for _, en := range []dlq.Entry{head, second, entries[2]} {
		args = append(args, strconv.FormatUint(en.Sequence, 10))
	}
	if code := dlq.Command(ctx, e.dlq, args, &out, &errOut); code != 0 {
		t.Fatalf("dlq replay: exit %d: %s", code, errOut.String())
	}
	if left, _ := e.dlq.List(ctx, dlqFilter("relay", p)); len(left) != 0 {
		t.Errorf("%d entries left after replay", len(left))
	}
	st, err := js.Stream(ctx, "UNBOUND")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 3 {
		t.Errorf("after replay UNBOUND holds %v messages (%v), want 3", info.State.Msgs, err)
	}
	// Later events of p flow again.
	e.rename(p, "Patsy")
	eventually(t, 10*time.Second, "p flows after the replay", func() bool { return e.obs.count(handled("relay", p)) == 1 })

	// The CLI lists, shows and discards the malformed entry.
	out.Reset()
	if code := dlq.Command(ctx, e.dlq, []string{"list", "-policy", "relay"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), m) || !strings.Contains(out.String(), RuleMalformed) {
		t.Errorf("dlq list: exit %d:\n%s", code, out.String())
	}
	mseq := strconv.FormatUint(func() uint64 { l, _ := e.dlq.List(ctx, dlqFilter("relay", m)); return l[0].Sequence }(), 10)
	out.Reset()
	if code := dlq.Command(ctx, e.dlq, []string{"show", mseq}, &out, &errOut); code != 0 || !strings.Contains(out.String(), `"event.malformed"`) || !strings.Contains(out.String(), `"stream_sequence"`) {
		t.Errorf("dlq show: exit %d:\n%s", code, out.String())
	}
	if code := dlq.Command(ctx, e.dlq, []string{"discard", mseq}, &out, &errOut); code != 0 {
		t.Errorf("dlq discard: exit %d: %s", code, errOut.String())
	}
	if code := dlq.Command(ctx, e.dlq, []string{"show", mseq}, &out, &errOut); code != 1 {
		t.Errorf("dlq show of a discarded entry: exit %d, want 1", code)
	}
	if code := dlq.Command(ctx, e.dlq, []string{"replay", "x"}, &out, &errOut); code != 2 {
		t.Errorf("dlq replay x: exit %d, want 2", code)
	}
}

// A policy that panics on one person's event does not stop: the event is
// retried, then parked as INTERNAL [policy.panic]; other persons flow and
// the worker is not restarted.
func TestPanickingPolicyParksTheEvent(t *testing.T) {
	e := newEnv(t, "")
	bad, good := newID(), newID()
	boom := apolicy.Policy{Name: "boom", Source: apolicy.KindPerson, Evaluate: func(env *personv1.EventEnvelope, _ time.Time) []apolicy.Reaction {
		if env.GetPersonId() == bad {
			panic("unexpected data")
		}
		return nil
	}}
	r := e.start(e.config([]apolicy.Policy{boom}))
	e.create(bad, name("Bad", "Data"))
	e.create(good, name("Good", "Data"))
	eventually(t, 10*time.Second, "the bad event parked, the good one handled", func() bool {
		entries, err := e.dlq.List(t.Context(), dlqFilter("boom", bad))
		return err == nil && len(entries) == 1 && e.obs.count(handled("boom", good)) == 1
	})
	entries, _ := e.dlq.List(t.Context(), dlqFilter("boom", bad))
	if l := entries[0].Letter; l.GetCode() != personv1.ErrorCode_ERROR_CODE_INTERNAL || l.GetRule() != RulePanic || l.GetAttempts() != 3 {
		t.Errorf("entry = %v", l)
	}
	if s := r.Stats(); s.Restarted != 0 || r.Err() != nil {
		t.Errorf("stats %+v, err %v; want no restart", s, r.Err())
	}
}
