package timer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/timer"
)

func archive(id string) *personv1.Command {
	return &personv1.Command{CommandId: "cmd-" + id, PersonId: id, Body: &personv1.Command_ArchivePerson{ArchivePerson: &personv1.ArchivePerson{Reason: "idle"}}}
}

func armAt(key string, at time.Time, ifVersion uint64) *policy.Timer {
	return &policy.Timer{Key: key, At: at, Target: policy.KindPerson, Command: archive(key), IfVersion: ifVersion,
		Accept: []policy.Accepted{{Code: personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, Rule: "lifecycle.terminal"}, {Code: personv1.ErrorCode_ERROR_CODE_NOT_FOUND}}}
}

// fired consumes the fired timers of ts.
type fired struct {
	t    testing.TB
	ts   *timer.Timers
	cons jetstream.Consumer
}

func newFired(t testing.TB, nc *nats.Conn, ts *timer.Timers) *fired {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(t.Context(), ts.Stream(), jetstream.ConsumerConfig{
		Durable: "test", FilterSubject: ts.FiredSubjects(), AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fired{t: t, ts: ts, cons: cons}
}

// next waits up to wait for the next fired timer; nil when none came.
func (f *fired) next(wait time.Duration) (*policy.Timer, time.Time) {
	f.t.Helper()
	batch, err := f.cons.Fetch(1, jetstream.FetchMaxWait(wait))
	if err != nil {
		f.t.Fatal(err)
	}
	for m := range batch.Messages() {
		at := time.Now()
		tm, err := f.ts.Decode(m.Subject(), m.Headers(), m.Data())
		if err != nil {
			f.t.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			f.t.Fatal(err)
		}
		return tm, at
	}
	return nil, time.Time{}
}

func open(t *testing.T, nc *nats.Conn) *timer.Timers {
	t.Helper()
	ts, err := timer.Open(t.Context(), nc, timer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestFireReplaceCancel(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	ctx := t.Context()
	ts := open(t, nc)
	f := newFired(t, nc, ts)

	// Fires once, with everything armed, a little after At.
	at := time.Now().Add(300 * time.Millisecond)
	if err := ts.Arm(ctx, armAt("auto-archive.p1", at, 7)); err != nil {
		t.Fatal(err)
	}
	if ok, err := ts.Pending(ctx, "auto-archive.p1"); err != nil || !ok {
		t.Fatalf("pending = %v, %v", ok, err)
	}
	got, when := f.next(3 * time.Second)
	if got == nil {
		t.Fatal("timer did not fire")
	}
	late := when.Sub(at)
	t.Logf("fired %v after its time", late)
	if late < 0 || late > 1500*time.Millisecond {
		t.Errorf("fired %v after its time, want 0..1.5s", late)
	}
	if got.Key != "auto-archive.p1" || got.Target != policy.KindPerson || got.IfVersion != 7 || got.Command.GetCommandId() != "cmd-auto-archive.p1" ||
		!got.At.Equal(at.UTC()) || len(got.Accept) != 2 || got.Accept[0].Rule != "lifecycle.terminal" || got.Accept[1].Code != personv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Errorf("fired %+v", got)
	}
	if ok, err := ts.Pending(ctx, "auto-archive.p1"); err != nil || ok {
		t.Errorf("after firing: pending = %v, %v", ok, err)
	}

	// Re-arming replaces: only the second timer fires.
	if err := ts.Arm(ctx, armAt("auto-archive.p2", time.Now().Add(200*time.Millisecond), 1)); err != nil {
		t.Fatal(err)
	}
	second := time.Now().Add(900 * time.Millisecond)
	if err := ts.Arm(ctx, armAt("auto-archive.p2", second, 2)); err != nil {
		t.Fatal(err)
	}
	got, when = f.next(3 * time.Second)
	if got == nil || got.IfVersion != 2 || when.Before(second) {
		t.Fatalf("re-armed timer fired %+v at %v, want version 2 after %v", got, when, second)
	}
	if extra, _ := f.next(500 * time.Millisecond); extra != nil {
		t.Errorf("replaced timer fired too: %+v", extra)
	}

	// Cancelled: never fires.
	if err := ts.Arm(ctx, armAt("auto-archive.p3", time.Now().Add(300*time.Millisecond), 1)); err != nil {
		t.Fatal(err)
	}
	if err := ts.Cancel(ctx, "auto-archive.p3"); err != nil {
		t.Fatal(err)
	}
	if ok, err := ts.Pending(ctx, "auto-archive.p3"); err != nil || ok {
		t.Errorf("after cancel: pending = %v, %v", ok, err)
	}
	if extra, _ := f.next(time.Second); extra != nil {
		t.Errorf("cancelled timer fired: %+v", extra)
	}
}

// A timer armed before the server stops fires after it restarted.
func TestSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.Start(t, natstest.WithStoreDir(dir))
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	ts := open(t, nc)
	at := time.Now().Add(1500 * time.Millisecond)
	if err := ts.Arm(t.Context(), armAt("onboarding-deadlines.p1", at, 3)); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	_, nc2 := natstest.Connect(t, natstest.WithStoreDir(dir))
	ts2 := open(t, nc2)
	if ok, err := ts2.Pending(t.Context(), "onboarding-deadlines.p1"); err != nil || !ok {
		t.Fatalf("after restart: pending = %v, %v", ok, err)
	}
	got, when := newFired(t, nc2, ts2).next(5 * time.Second)
	if got == nil || got.IfVersion != 3 || when.Before(at) {
		t.Fatalf("after restart fired %+v at %v, want version 3 after %v", got, when, at)
	}
}

func TestArmRejects(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	ts := open(t, nc)
	tests := []struct {
		name string
		tm   *policy.Timer
	}{
		{"nil", nil},
		{"cancel", &policy.Timer{Key: "k", Cancel: true}},
		{"no command", &policy.Timer{Key: "k", Target: "person"}},
		{"no target", &policy.Timer{Key: "k", Command: archive("x")}},
		{"wildcard key", &policy.Timer{Key: "a.*", Target: "person", Command: archive("x")}},
		{"empty token", &policy.Timer{Key: "a..b", Target: "person", Command: archive("x")}},
	}
	for _, tc := range tests {
		if err := ts.Arm(t.Context(), tc.tm); !errors.Is(err, timer.ErrInvalidTimer) {
			t.Errorf("%s: err = %v, want ErrInvalidTimer", tc.name, err)
		}
	}
	if _, err := ts.Decode("timers.fired.k", nats.Header{}, []byte("x")); !errors.Is(err, timer.ErrInvalidTimer) {
		t.Errorf("decode garbage: err = %v", err)
	}
	if _, err := ts.Decode("elsewhere.k", nats.Header{}, nil); !errors.Is(err, timer.ErrInvalidTimer) {
		t.Errorf("decode other subject: err = %v", err)
	}
	if _, err := timer.Open(t.Context(), nc, timer.Config{SubjectPrefix: "a.>"}); !errors.Is(err, timer.ErrInvalidConfig) {
		t.Errorf("bad prefix: err = %v", err)
	}
}
