//go:build !race

package policy

// Killing the runner cancels in-flight grain calls. The typed client ends a
// cancelled call by stopping its protoactor-go future, and a grain's reply
// arriving at that moment trips an upstream data race: futureProcess.
// SendUserMessage writes future.result without the future's lock
// (protoactor-go actor/future.go:178, dev 288962e52f3f) while Result reads
// it. So this test runs without -race (.ci/run runs TestNoRace*).

import (
	"sync/atomic"
	"testing"
	"time"

	apolicy "github.com/cim/personrt/actors/policy"
)

// The runner is killed in the middle of its backlog, once right between
// carrying out a message's reactions and acking it: a new runner handles
// every event, and no command is applied twice.
func TestNoRaceKilledMidBatch(t *testing.T) {
	e := newEnv(t, "")
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID()
		e.create(ids[i], name("J", "Doe")) // DataQuality flags the "J"
	}
	cfg := e.config(policies(t, apolicy.Config{}))
	cfg.Only = []string{apolicy.Onboarding, apolicy.DataQuality}
	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int32
	var crashed atomic.Bool
	killed := make(chan struct{})
	first.beforeAck = func(worker string, _ uint64) bool {
		if worker == apolicy.Onboarding && seen.Add(1) == 10 && crashed.CompareAndSwap(false, true) {
			close(killed)
		}
		return !crashed.Load() // nothing is acked after the crash
	}
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	case <-time.After(20 * time.Second):
		t.Fatal("the first runner handled fewer than 10 events")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	handledFirst := e.obs.count(func(ev Event) bool { h, ok := ev.(Handled); return ok && h.Worker == apolicy.Onboarding })
	if handledFirst >= n {
		t.Fatalf("the first runner handled all %d events before it was killed", handledFirst)
	}

	cfg.Observer = (&observer{}).add
	second := e.start(cfg)
	ctx := t.Context()
	eventually(t, 20*time.Second, "every person onboarded and flagged", func() bool {
		for _, id := range ids {
			v, err := e.onboarding.LastVersion(ctx, id)
			if err != nil || v == 0 {
				return false
			}
			if len(e.person(id).GetQualityFlags()) == 0 {
				return false
			}
		}
		return true
	})
	// The redelivered reactions did not apply again (give stragglers the
	// time of one more ack wait).
	eventually(t, 10*time.Second, "the second runner caught up", func() bool {
		s := second.Stats()
		return s.Handled >= uint64(2*n-2*handledFirst)
	})
	for _, id := range ids {
		if v, err := e.onboarding.LastVersion(ctx, id); err != nil || v != 1 {
			t.Errorf("onboarding of %s at version %d (%v), want 1", id, v, err)
		}
		if flags := e.person(id).GetQualityFlags(); len(flags) != 1 {
			t.Errorf("%s has %d quality flags, want 1", id, len(flags))
		}
	}
	if s := second.Stats(); s.Parked != 0 {
		t.Errorf("the second runner parked %d events", s.Parked)
	}
}
