package policy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go/jetstream"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/dlq"
)

// A durable timer armed before the node and the NATS server restart fires
// afterwards: AutoArchive archives the idle person.
func TestTimerSurvivesNodeRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	pols := policies(t, apolicy.Config{ArchiveAfter: 2 * time.Second})
	cfg := e.config(pols)
	cfg.Only = []string{apolicy.AutoArchive, TimerWorker}
	r := e.start(cfg)
	id := newID()
	e.create(id, name("Idle", "Person"))
	eventually(t, 10*time.Second, "the timer armed", func() bool {
		ok, err := e.timers.Pending(t.Context(), apolicy.AutoArchive+"."+id)
		return err == nil && ok
	})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	e.stopNode()
	e.nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	e2 := newEnv(t, dir)
	cfg2 := e2.config(pols)
	cfg2.Only = []string{apolicy.AutoArchive, TimerWorker}
	e2.start(cfg2)
	eventually(t, 15*time.Second, "the person archived by the timer", func() bool {
		return e2.person(id).GetLifecycle() == personv1.LifecycleState_LIFECYCLE_STATE_ARCHIVED
	})
	if got := e2.person(id).GetStatusReason(); got != "auto-archived after 2s of inactivity" {
		t.Errorf("reason = %q", got)
	}
	// The archive cancelled the timer, and nothing was parked.
	eventually(t, 5*time.Second, "no timer left", func() bool {
		ok, err := e2.timers.Pending(t.Context(), apolicy.AutoArchive+"."+id)
		return err == nil && !ok
	})
	if entries, err := e2.dlq.List(t.Context(), dlq.Filter{}); err != nil || len(entries) != 0 {
		t.Errorf("dlq = %v, %v", entries, err)
	}
}

// A timer whose aggregate moved on is dropped: activity re-arms it, so the
// person is archived only after the last event's idle time.
func TestTimerRearmedByActivity(t *testing.T) {
	e := newEnv(t, "")
	cfg := e.config(policies(t, apolicy.Config{ArchiveAfter: 1500 * time.Millisecond}))
	cfg.Only = []string{apolicy.AutoArchive, TimerWorker}
	e.start(cfg)
	id := newID()
	e.create(id, name("Busy", "Person"))
	created := time.Now()
	eventually(t, 5*time.Second, "the timer armed", func() bool { return e.obs.count(handled(apolicy.AutoArchive, id)) == 1 })
	e.rename(id, "Busier")
	renamed := time.Now()
	eventually(t, 10*time.Second, "archived", func() bool {
		return e.person(id).GetLifecycle() == personv1.LifecycleState_LIFECYCLE_STATE_ARCHIVED
	})
	archivedAt := e.person(id).GetUpdatedAt().AsTime()
	if archivedAt.Before(renamed.Add(1500*time.Millisecond)) || archivedAt.Before(created.Add(1500*time.Millisecond)) {
		t.Errorf("archived at %v, before 1.5s after the last activity at %v", archivedAt, renamed)
	}
}

// The supervisor restarts a failing worker with back-off and escalates
// after MaxRestarts failures; a worker whose consumer disappears restarts
// and goes on.
func TestSupervision(t *testing.T) {
	e := newEnv(t, "")

	t.Run("escalates", func(t *testing.T) {
		obs := &observer{}
		cfg := e.config(policies(t, apolicy.Config{}))
		cfg.Name, cfg.ConsumerPrefix = "broken", "broken-"
		cfg.Only = []string{apolicy.Onboarding}
		cfg.Sources[apolicy.KindPerson] = Source{Stream: "NO_SUCH_STREAM", SubjectPrefix: "person.events", Events: e.persons}
		cfg.MaxRestarts, cfg.RestartBackoff, cfg.Observer = 2, 20*time.Millisecond, obs.add
		r := e.start(cfg)
		eventually(t, 10*time.Second, "escalated", func() bool { return errors.Is(r.Err(), ErrEscalated) })
		var restarts []Restarted
		for _, ev := range obs.events() {
			if rs, ok := ev.(Restarted); ok {
				restarts = append(restarts, rs)
			}
		}
		if len(restarts) != 2 || obs.count(func(ev Event) bool { _, ok := ev.(Escalated); return ok }) != 1 {
			t.Fatalf("events = %v, want 2 restarts then an escalation", obs.events())
		}
		for _, rs := range restarts {
			full := 20 * time.Millisecond << (rs.Failures - 1)
			if rs.Delay < full/2 || rs.Delay > full {
				t.Errorf("restart %d after %v, want [%v, %v]", rs.Failures, rs.Delay, full/2, full)
			}
		}
	})

	t.Run("restarts and goes on", func(t *testing.T) {
		cfg := e.config(policies(t, apolicy.Config{}))
		cfg.Only = []string{apolicy.Onboarding}
		r := e.start(cfg)
		a := newID()
		e.create(a, name("Ada", "Before"))
		eventually(t, 10*time.Second, "a onboarded", func() bool { return e.onboardingOf(a) != nil })
		js, err := jetstream.New(e.nc)
		if err != nil {
			t.Fatal(err)
		}
		if err := js.DeleteConsumer(t.Context(), "PERSON_EVENTS", "policy-"+apolicy.Onboarding); err != nil {
			t.Fatal(err)
		}
		b := newID()
		e.create(b, name("Bob", "After"))
		eventually(t, 15*time.Second, "b onboarded after the restart", func() bool { return e.onboardingOf(b) != nil })
		if s := r.Stats(); s.Restarted == 0 || r.Err() != nil {
			t.Errorf("stats %+v, err %v: want a restart and no escalation", s, r.Err())
		}
	})
}

// The dead-letter watcher counts messages sent to stopped actors.
func TestWatchDeadLetters(t *testing.T) {
	e := newEnv(t, "")
	sys := e.node.Cluster().ActorSystem
	d := dlq.WatchDeadLetters(sys, nil, time.Minute)
	defer d.Stop()
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sys.Root.Send(pid, "hello")
	}
	eventually(t, 5*time.Second, "3 dead letters", func() bool { return d.Count() >= 3 })
}
