package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/dlq"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/onboardingkind"
	"github.com/cim/personrt/runtime/policy"
	"github.com/cim/personrt/runtime/timer"
)

func init() {
	register(Scenario{
		Name: "policy-reaction",
		About: "PersonCreated stored → the Onboarding policy's StartOnboarding applied by the onboarding grain, under a steady rename load; " +
			"baseline: a raw headers-only JetStream consumer's delivery of the same events; fsync always and interval",
		Run: runPolicyReaction,
	})
}

// Sizes of the policy-reaction scenario.
const (
	reactionLoadPersons = 500              // persons renamed by the load
	reactionLoadRate    = 400              // renames per second
	reactionCreateRate  = 100              // persons created (and reacted to) per second
	reactionLoadWorkers = 8                // rename callers
	reactionDrain       = 30 * time.Second // bound on waiting for the last reactions
)

// reactionLatencies is a Latencies safe for concurrent Add.
type reactionLatencies struct {
	mu  sync.Mutex
	lat Latencies
}

func (s *reactionLatencies) add(d time.Duration) {
	s.mu.Lock()
	s.lat.Add(d)
	s.mu.Unlock()
}

func (s *reactionLatencies) snapshot() *Latencies {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out Latencies
	out.Merge(&s.lat)
	return &out
}

func runPolicyReaction(ctx context.Context, env *Env) error {
	window := 20 * time.Second
	if env.Quick {
		window = 5 * time.Second
	}
	for _, mode := range []string{natsserver.SyncAlways, natsserver.SyncInterval} {
		suffix := ""
		if mode == natsserver.SyncInterval {
			suffix = "_sync_interval"
		}
		if err := reactionMode(ctx, env, mode, suffix, window); err != nil {
			return fmt.Errorf("fsync %s: %w", mode, err)
		}
	}
	return nil
}

// reactionMode measures one fsync mode on its own server and node, which
// it shuts down before returning.
func reactionMode(ctx context.Context, env *Env, mode, suffix string, window time.Duration) error {
	srv, err := env.StartServer(mode)
	if err != nil {
		return err
	}
	nc := srv.NC
	persons, err := pjs.Open(ctx, nc, pjs.Config{})
	if err != nil {
		return err
	}
	onboarding, err := pjs.Open(ctx, nc, onboardingkind.StoreConfig(pjs.Config{}))
	if err != nil {
		return err
	}
	env.Defer(func() { _, _ = persons.Close(), onboarding.Close() }) // Close always returns nil
	ohost, err := onboardingkind.NewHost(grain.Config{Events: onboarding, Snapshots: onboarding})
	if err != nil {
		return err
	}
	n, err := startNode(ctx, env, persons, persons, grain.Config{}, ohost)
	if err != nil {
		return err
	}
	dl, err := dlq.Open(ctx, nc, dlq.Config{})
	if err != nil {
		return err
	}
	timers, err := timer.Open(ctx, nc, timer.Config{})
	if err != nil {
		return err
	}
	set, err := apolicy.New(apolicy.Config{})
	if err != nil {
		return err
	}

	// The measured reaction: Handled by the Onboarding worker with a
	// reaction (only PersonCreated has one), from the event's store time.
	var measuring atomic.Bool
	var reacted, baseline reactionLatencies
	var reactions, parked atomic.Int64
	r, err := policy.New(policy.Config{
		Policies: set.Policies(),
		Only:     []string{apolicy.Onboarding},
		Cluster:  n.node.Cluster(),
		Conn:     nc,
		Sources: map[string]policy.Source{
			apolicy.KindPerson:     {Events: persons},
			apolicy.KindOnboarding: {Stream: onboardingkind.Stream, SubjectPrefix: onboardingkind.SubjectPrefix, Events: onboarding},
		},
		DLQ:    dl,
		Timers: timers,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Observer: func(e policy.Event) {
			switch ev := e.(type) {
			case policy.Handled:
				if ev.Reactions > 0 {
					reactions.Add(1)
					if measuring.Load() {
						reacted.add(time.Since(ev.Stored))
					}
				}
			case policy.Parked:
				parked.Add(1)
			}
		},
	})
	if err != nil {
		return err
	}
	if err := r.Start(ctx); err != nil {
		return err
	}
	env.Defer(func() {
		if err := r.Close(); err != nil {
			env.Logf("close runner: %v", err)
		}
	})

	// The baseline: a raw headers-only consumer of the same stream.
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	raw, err := js.CreateOrUpdateConsumer(ctx, "PERSON_EVENTS", jetstream.ConsumerConfig{
		Durable: "raw-baseline", FilterSubject: "person.events.>", AckPolicy: jetstream.AckExplicitPolicy, HeadersOnly: true,
	})
	if err != nil {
		return err
	}
	cc, err := raw.Consume(func(m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil && measuring.Load() && m.Headers().Get("Cim-Event-Type") == "PersonCreated" {
			baseline.add(time.Since(md.Timestamp))
		}
		_ = m.Ack() // a lost ack only redelivers to the baseline
	})
	if err != nil {
		return err
	}
	env.Defer(cc.Stop)

	env.Logf("creating %d persons for the rename load", reactionLoadPersons)
	loadIDs := newPersonIDs(reactionLoadPersons)
	if err := createPersons(ctx, n.client, loadIDs); err != nil {
		return err
	}
	if err := reactionWait(ctx, reactionDrain, func() bool { return reactions.Load() >= reactionLoadPersons }); err != nil {
		return fmt.Errorf("setup reactions: %w", err)
	}

	env.Logf("fsync %s: measuring %v: %d creates/s reacted to, under %d renames/s", mode, window, reactionCreateRate, reactionLoadRate)
	measuring.Store(true)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	var renames, created atomic.Int64
	errs := make(chan error, reactionLoadWorkers+1)
	for w := range reactionLoadWorkers {
		wg.Go(func() {
			reactionPaced(lctx, time.Second*reactionLoadWorkers/reactionLoadRate, func(i int) error {
				id := loadIDs[(w+i*reactionLoadWorkers)%len(loadIDs)]
				if _, err := n.client.Execute(lctx, renameCommand(id, i)); err != nil {
					if lctx.Err() != nil {
						return nil // stopped; the outcome of this one does not count
					}
					return err
				}
				renames.Add(1)
				return nil
			}, errs)
		})
	}
	start := reactions.Load()
	wg.Go(func() {
		reactionPaced(lctx, time.Second/reactionCreateRate, func(int) error {
			cmd := &personv1.Command{PersonId: newPersonIDs(1)[0], Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: benchName("Byron"), Source: "bench"}}}
			if _, err := n.client.Execute(lctx, cmd); err != nil {
				if lctx.Err() != nil {
					return nil // stopped; the outcome of this one does not count
				}
				return err
			}
			created.Add(1)
			return nil
		}, errs)
	})
	t0 := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
	}
	stopLoad()
	wg.Wait()
	wall := time.Since(t0)
	close(errs)
	for err := range errs {
		return fmt.Errorf("load: %w", err)
	}
	if err := reactionWait(ctx, reactionDrain, func() bool { return reactions.Load()-start >= created.Load() }); err != nil {
		return fmt.Errorf("drain: %d of %d reactions (runner %+v): %w", reactions.Load()-start, created.Load(), r.Stats(), err)
	}
	measuring.Store(false)
	if parked.Load() != 0 {
		return fmt.Errorf("%d events parked", parked.Load())
	}
	lat, base := reacted.snapshot(), baseline.snapshot()
	env.Logf("%d reactions, %d baseline deliveries, %d renames", lat.Len(), base.Len(), renames.Load())
	env.Compare("p50_us"+suffix, lat.Micros(0.50), base.Micros(0.50), Lower)
	env.Compare("p99_us"+suffix, lat.Micros(0.99), base.Micros(0.99), Lower)
	env.Report("reactions_per_s"+suffix, float64(reactions.Load()-start)/wall.Seconds(), Higher)
	env.Report("load_commands_per_s"+suffix, float64(renames.Load()+created.Load())/wall.Seconds(), Higher)
	// Stop this mode's runner and node before the next mode's start.
	cc.Stop()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return errors.Join(r.Shutdown(sctx), n.node.Shutdown(sctx))
}

// reactionPaced calls f every interval until ctx ends; the first error goes to
// errs and stops it.
func reactionPaced(ctx context.Context, interval time.Duration, f func(i int) error, errs chan<- error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f(i); err != nil {
			errs <- err
			return
		}
	}
}

// reactionWait polls cond every 10ms until it holds, d passes or ctx ends.
func reactionWait(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
