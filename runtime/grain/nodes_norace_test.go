//go:build !race

// Tests with two nodes in one process. They build without -race because
// protoactor-go's remote.Start sets grpc's global logger
// (grpclog.SetLoggerV2) while the first node's gRPC server reads it: a race
// inside protoactor-go, none in this package (the race-enabled tests force
// two activations on one node instead).

package grain_test

import (
	"testing"

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
