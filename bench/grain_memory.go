package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/runtime/grain"
)

func init() {
	register(Scenario{
		Name:  "grain-memory",
		About: "heap bytes per idle active person grain (100k activated, GC'd), vs a bare protoactor-go grain on the same node",
		Run:   runGrainMemory,
	})
}

// rawKind is the baseline: a protoactor-go cluster kind whose grains hold
// nothing and answer every query with an empty PersonReply.
type rawKind struct{}

// rawGrain is a bare grain.
type rawGrain struct{}

func (rawGrain) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*personv1.GetPerson); ok {
		ctx.Respond(&personv1.PersonReply{})
	}
}

func (rawKind) Name() string { return "raw" }
func (rawKind) ClusterKind() *cluster.Kind {
	return cluster.NewKind("raw", actor.PropsFromProducer(func() actor.Actor { return rawGrain{} }))
}
func (rawKind) Start(context.Context) error    { return nil }
func (rawKind) Shutdown(context.Context) error { return nil }

func runGrainMemory(ctx context.Context, env *Env) error {
	n := 100_000
	if env.Quick {
		n = 20_000
	}
	const warm = 1000
	// The events live in an in-memory store created before the first
	// measurement, so the figure is what activation adds: the actor, its
	// mailbox and registrations, the PID caches and the grain's state.
	store := memstore.New()
	ids := newPersonIDs(n + warm)
	env.Logf("storing %d persons", len(ids))
	for _, id := range ids {
		created := &personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: id, Name: benchName("Byron"), Source: "bench"}}}
		if _, err := store.Append(ctx, id, 0, []*personv1.EventEnvelope{newEvent(id, 1, created)}); err != nil {
			return err
		}
	}
	var stats activationStats
	node, err := startNode(ctx, env, store, store, grain.Config{IdleTimeout: time.Hour, Observer: stats.observe}, rawKind{})
	if err != nil {
		return err
	}
	activatePerson := func(ctx context.Context, id string) error {
		p, err := node.client.Get(ctx, id)
		if err == nil && p.GetVersion() != 1 {
			err = fmt.Errorf("person %s at version %d", id, p.GetVersion())
		}
		return err
	}
	raw := func(ctx context.Context, id string) error {
		_, err := node.client.Ask(ctx, "raw", id, &personv1.GetPerson{PersonId: id})
		return err
	}
	rawIDs := newPersonIDs(n + warm)
	// Warm-up: first activations grow one-time structures.
	if err := forEach(ctx, ids[n:], activatePerson); err != nil {
		return err
	}
	if err := forEach(ctx, rawIDs[n:], raw); err != nil {
		return err
	}
	start := heapAfterGC()
	env.Logf("activating %d person grains", n)
	t0 := time.Now()
	if err := forEach(ctx, ids[:n], activatePerson); err != nil {
		return err
	}
	took := time.Since(t0)
	afterPersons := heapAfterGC()
	env.Logf("activating %d bare grains", n)
	if err := forEach(ctx, rawIDs[:n], raw); err != nil {
		return err
	}
	afterRaw := heapAfterGC()
	perGrain := float64(afterPersons-start) / float64(n)
	perRaw := float64(afterRaw-afterPersons) / float64(n)
	env.Compare("bytes_per_grain", perGrain, perRaw, Lower)
	env.Report("activations_per_s", float64(n)/took.Seconds(), Higher)
	// The grains must have stayed active: a second pass over some of them
	// activates none.
	if err := forEach(ctx, ids[:1000], activatePerson); err != nil {
		return err
	}
	if got, want := stats.activations.Load(), int64(n+warm); got != want {
		return fmt.Errorf("%d person activations, want %d: grains passivated during the measurement", got, want)
	}
	return nil
}

// heapAfterGC returns the live heap after two collections.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
