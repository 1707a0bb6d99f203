package placement

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cim/personrt/internal/natstest"
)

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		wantErr error
	}{
		{"defaults", nil, nil},
		{"all set", []Option{WithLogger(nil), WithActivationTimeout(time.Second)}, nil},
		{"zero activation timeout", []Option{WithActivationTimeout(0)}, ErrInvalidOption},
		{"negative activation timeout", []Option{WithActivationTimeout(-time.Second)}, ErrInvalidOption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New() error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestActivatorPlacesAndMoves runs one member (several in one process race
// inside protoactor-go; see cluster_norace_test.go) and drives its
// activator with topologies naming a second, imaginary member: the grains
// that member wins are poisoned, the others stay; a grain activated by a
// forwarded request against the activator's view is poisoned after the
// recheck delay.
func TestActivatorPlacesAndMoves(t *testing.T) {
	srv := natstest.Start(t)
	a := newTestNode(t, srv, "a", false)
	a.lookup.opts.strayRecheck = 200 * time.Millisecond
	// The real broadcast would dial the imaginary member: deliver only
	// this member's copy, and record who would have been told.
	var mu sync.Mutex
	told := make(map[string][]string) // identity -> addresses
	a.lookup.opts.broadcast = func(sender actor.SenderContext, tb *Table, at *cluster.ActivationTerminated) {
		mu.Lock()
		told[at.ClusterIdentity.Identity] = tb.Addresses()
		mu.Unlock()
		sender.Send(actor.NewPID(a.address(), "eventstream"), at)
	}
	a.start()
	t.Cleanup(a.stop)
	a.waitView(t, time.Second, a.address())

	ids := make([]string, 60)
	for i := range ids {
		ids[i] = fmt.Sprintf("person-%03d", i)
	}
	first := make(map[string]string)
	for _, id := range ids {
		pid := a.call(t, id)
		if got := hostOf(pid); got != a.address() {
			t.Fatalf("grain %s on %s, want the only member %s", id, got, a.address())
		}
		first[id] = pid
	}
	for _, id := range ids {
		if got := a.call(t, id); got != first[id] {
			t.Fatalf("second call to %s reached %s, want the same activation %s", id, got, first[id])
		}
	}
	if got := a.grainCount(); got != len(ids) {
		t.Fatalf("activations = %d, want %d", got, len(ids))
	}

	// An imaginary member joins the activator's view: it wins about half
	// of the grains, which must stop here.
	ghost := &cluster.Member{Id: "ghost", Host: "10.255.255.1", Port: 1, Kinds: []string{echoKind}}
	two := NewTable([]*cluster.Member{a.member(t), ghost})
	var moved []string
	for _, id := range ids {
		if two.Owner(echoKind, id) != a.address() {
			moved = append(moved, id)
		}
	}
	if len(moved) == 0 || len(moved) == len(ids) {
		t.Fatalf("ghost wins %d of %d grains: pick other identities", len(moved), len(ids))
	}
	activator := actor.NewPID(a.address(), ActivatorName)
	a.c.ActorSystem.Root.Send(activator, &topologyChanged{table: two})
	waitUntil(t, 2*time.Second, "moved grains stopped", func() bool { return a.grainCount() == len(ids)-len(moved) })
	if got := slices.Sorted(slices.Values(a.grains.stoppedIDs())); !slices.Equal(got, moved) {
		t.Errorf("stopped %v, want the grains the ghost owns %v", got, moved)
	}
	mu.Lock()
	for _, id := range moved {
		if got, want := told[id], two.Addresses(); !slices.Equal(got, want) {
			t.Errorf("stop of %s told %v, want every member of the view %v", id, got, want)
		}
	}
	mu.Unlock()

	// A request forwarded by a member whose view names us is served; the
	// grain is looked at again after the recheck delay and, still owned by
	// the ghost in our view, stopped.
	stray := moved[0]
	res, err := a.c.ActorSystem.Root.RequestFuture(activator, &cluster.ActivationRequest{
		ClusterIdentity: cluster.NewClusterIdentity(stray, echoKind), RequestId: forwardedMark,
	}, 2*time.Second).Result()
	if err != nil {
		t.Fatalf("forwarded activation: %v", err)
	}
	if resp, ok := res.(*cluster.ActivationResponse); !ok || resp.Failed || resp.Pid == nil || resp.Pid.Address != a.address() {
		t.Fatalf("forwarded activation = %v, want a local PID", res)
	}
	if got := a.grainCount(); got != len(ids)-len(moved)+1 {
		t.Fatalf("activations after the stray = %d, want %d", got, len(ids)-len(moved)+1)
	}
	waitUntil(t, 2*time.Second, "stray stopped after the recheck", func() bool { return a.grainCount() == len(ids)-len(moved) })

	// Back to one member: nothing else stops, and the moved grains come
	// back here on their next call.
	a.c.ActorSystem.Root.Send(activator, &topologyChanged{table: NewTable([]*cluster.Member{a.member(t)})})
	for _, id := range moved {
		if got := hostOf(a.call(t, id)); got != a.address() {
			t.Fatalf("grain %s on %s after the ghost left, want %s", id, got, a.address())
		}
	}
	if got := a.grainCount(); got != len(ids) {
		t.Errorf("activations after the ghost left = %d, want %d", got, len(ids))
	}
	if got := len(a.grains.stoppedIDs()); got != len(moved)+1 {
		t.Errorf("grains stopped in all = %d, want %d (the moved ones and the stray)", got, len(moved)+1)
	}
}

// TestGetWithoutOwner checks that Get returns nil (the cluster then
// retries or fails the call) when no member hosts the kind.
func TestGetWithoutOwner(t *testing.T) {
	srv := natstest.Start(t)
	a := newTestNode(t, srv, "a", false)
	a.start()
	t.Cleanup(a.stop)
	a.waitView(t, time.Second, a.address())
	if pid := a.lookup.Get(cluster.NewClusterIdentity("x", "NoSuchKind")); pid != nil {
		t.Errorf("Get(unknown kind) = %v, want nil", pid)
	}
	if _, err := a.c.Request("x", "NoSuchKind", wrapperspb.String("x"), cluster.WithTimeout(time.Second)); err == nil {
		t.Error("Request(unknown kind) succeeded, want an error")
	}
}
