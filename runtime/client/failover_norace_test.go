//go:build !race

// Two actor systems with remoting in one process race inside their
// dependencies, not in this package: remote.Start sets gRPC's global logger
// (grpclog.SetLoggerV2) while the other system's gRPC server reads it
// (protoactor-go remote/server.go). Hence !race; the fault tests of
// cmd/persond run the same paths across processes.

package client_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/node"
)

// A call in flight to a member whose process dies fails at once with
// UNAVAILABLE (rule cluster.member_lost) instead of waiting for its
// deadline; later calls bound for that member, by a cached PID or by its
// owner, fail at once without sending.
func TestNoRaceFailover(t *testing.T) {
	// The other member: a bare remote actor system with an actor that
	// takes every message and never answers.
	quiet := func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }
	other := actor.NewActorSystem(actor.WithLoggerFactory(quiet))
	otherRemote := remote.NewRemote(other, remote.Configure("127.0.0.1", 0))
	otherRemote.Start()
	received := make(chan struct{}, 16)
	sink, err := other.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*personv1.GetPerson); ok {
			received <- struct{}{}
		}
	}), "sink")
	if err != nil {
		t.Fatal(err)
	}
	crashed := false
	t.Cleanup(func() {
		if !crashed {
			otherRemote.Shutdown(false)
		}
		other.Shutdown()
	})

	n, err := node.New(node.Config{}) // a client-only member
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	owner := ""
	c, err := client.New(n.Cluster(), client.Config{Kind: "sink", MaxAttempts: 1, Owner: func(string, string) string { return owner }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Shutdown(context.WithoutCancel(t.Context())); err != nil {
			t.Error(err)
		}
	})
	ask := func(id string) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Ask(ctx, "sink", id, &personv1.GetPerson{PersonId: id})
		return time.Since(start), err
	}
	wantLost := func(t *testing.T, name string, took time.Duration, err error, within time.Duration) {
		t.Helper()
		var e *personv1.Error
		if !errors.Is(err, personv1.ErrUnavailable) || !errors.As(err, &e) || e.GetRule() != "cluster.member_lost" {
			t.Fatalf("%s: err = %v, want UNAVAILABLE cluster.member_lost", name, err)
		}
		if took > within {
			t.Errorf("%s: took %v, want at most %v", name, took, within)
		}
	}

	n.Cluster().PidCache.Set("x", "sink", sink)
	type result struct {
		took time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		took, err := ask("x")
		done <- result{took, err}
	}()
	select {
	case <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the other member")
	}
	crashStart := time.Now()
	crashed = true
	otherRemote.Shutdown(false) // its connections break, as when its process dies
	r := <-done
	wantLost(t, "call in flight", time.Since(crashStart), r.err, 2*time.Second)
	t.Logf("call in flight failed %v after the crash (call took %v of its 10s deadline)", time.Since(crashStart).Round(time.Millisecond), r.took.Round(time.Millisecond))

	// The member is known lost: a cached PID on it fails without a send.
	n.Cluster().PidCache.Set("y", "sink", sink)
	took, err := ask("y")
	wantLost(t, "cached PID on the lost member", took, err, 100*time.Millisecond)
	if _, ok := n.Cluster().PidCache.Get("y", "sink"); ok {
		t.Error("the PID on the lost member is still cached")
	}
	// So does a lookup whose owner is the lost member.
	owner = sink.GetAddress()
	took, err = ask("z")
	wantLost(t, "lookup owned by the lost member", took, err, 100*time.Millisecond)
}
