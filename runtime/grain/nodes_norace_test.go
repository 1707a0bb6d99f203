//go:build !race

// Tests with two nodes in one process, and timing-sensitive ones. The
// former build without -race because protoactor-go's remote.Start sets
// grpc's global logger (grpclog.SetLoggerV2) while the first node's gRPC
// server reads it: a race inside protoactor-go, none in this package (the
// race-enabled tests force two activations on one node instead).

package grain_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cim/personrt/runtime/grain"
)

// Two standalone nodes that do not know each other host the same person over
// one store (a split view of the cluster): the store keeps them single
// writers; the second node's lost append is decided again.
func TestNoRaceTwoNodesConflict(t *testing.T) {
	es := newStore(t)
	a := startNode(t, es, es, grain.Config{})
	b := startNode(t, es, es, grain.Config{})
	ctx := t.Context()
	id := newID()

	if _, err := a.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Get(ctx, id); err != nil { // activates b at version 1
		t.Fatal(err)
	}
	if _, err := a.client.Execute(ctx, rename(id, "Grace", "")); err != nil {
		t.Fatal(err)
	}
	res, err := b.client.Execute(ctx, rename(id, "Hedy", ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.GetVersion(), uint64(3); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
	if h, ok := last[grain.CommandHandled](b.rec, id); !ok || h.Conflicts != 1 {
		t.Errorf("b handled %+v, want 1 conflict", h)
	}
	if got := len(stored(t, es, id)); got != 3 {
		t.Errorf("stored %d events, want 3", got)
	}
}

// A grain that gets messages more often than IdleTimeout stays active; an
// idle one passivates no sooner than IdleTimeout after its last message
// (less the host ticker's lateness on a loaded machine).
func TestNoRacePassivationWaitsIdleTimeout(t *testing.T) {
	const idle = 150 * time.Millisecond
	es := newStore(t)
	var passivated atomic.Int64 // unix nanos
	rec := &recorder{}
	n := startNode(t, es, es, grain.Config{IdleTimeout: idle, Observer: func(e grain.LifecycleEvent) {
		if _, ok := e.(grain.Passivated); ok {
			passivated.CompareAndSwap(0, time.Now().UnixNano())
		}
		rec.observe(e)
	}})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	var lastReply time.Time
	for i := range 3 { // messages closer together than idle keep it active
		if _, err := n.client.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		lastReply = time.Now()
		if i < 2 {
			waitFor(t, "a third of the idle timeout", func() bool { return time.Since(lastReply) > idle/3 })
		}
	}
	waitFor(t, "passivation", func() bool { return passivated.Load() != 0 })
	if got := time.Unix(0, passivated.Load()).Sub(lastReply); got < idle-idle/8 {
		t.Errorf("passivated %v after the last message, want about %v or more", got, idle)
	}
	if got := rec.count(func(e grain.LifecycleEvent) bool { _, ok := e.(grain.Activated); return ok }); got != 1 {
		t.Errorf("%d activations, want 1: the grain passivated while in use", got)
	}
}
