//go:build !race

// Tests with several cluster members in one process. The race detector
// reports races inside protoactor-go (dev 2026-01-18) in them, none in this
// package, so they build without -race only (the race-enabled tests run
// one member):
//   - remote.BlockList.BlockedMembers reads the blocked set without the
//     lock that Block takes (remote/blocklist.go), while gossip updates
//     call Block;
//   - cluster/informer.go shuffles with a package-level *rand.Rand shared
//     by every cluster in the process;
//   - remote.Start sets grpc's global logger (grpclog.SetLoggerV2) while
//     another remote's grpc goroutines log.

package placement

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/internal/natstest"
)

// startAll starts nodes concurrently (StartMember sleeps 1s) and stops them
// when the test ends, members before clients.
func startAll(t *testing.T, nodes ...*testNode) {
	t.Helper()
	each(t, "start", nodes, (*testNode).start)
	t.Cleanup(func() {
		var members, clients []*testNode
		for _, n := range nodes {
			if n.client {
				clients = append(clients, n)
			} else {
				members = append(members, n)
			}
		}
		each(t, "stop members", members, (*testNode).stop)
		each(t, "stop clients", clients, (*testNode).stop)
	})
}

// each runs fn on every node concurrently and waits, at most 15s.
func each(t *testing.T, what string, nodes []*testNode, fn func(*testNode)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { fn(n) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: %d nodes did not finish within 15s", what, len(nodes))
	}
}

// TestNoRaceSpreadAndRebalance places grains from a client over three
// members, adds a fourth and removes it again, checking after each change
// that every grain answers from the member the Table names, that a grain
// which did not move keeps its activation, and that no member keeps a
// grain it does not own.
func TestNoRaceSpreadAndRebalance(t *testing.T) {
	const grains = 600
	srv := natstest.Start(t)
	a, b, c := newTestNode(t, srv, "a", false), newTestNode(t, srv, "b", false), newTestNode(t, srv, "c", false)
	k := newTestNode(t, srv, "client", true)
	startAll(t, a, b, c, k)
	members := []*testNode{a, b, c}
	for _, n := range []*testNode{a, b, c, k} {
		n.waitView(t, 2*time.Second, a.address(), b.address(), c.address())
	}

	ids := make([]string, grains)
	for i := range ids {
		ids[i] = fmt.Sprintf("person-%04d", i)
	}
	placed := callAll(t, k, members, ids)
	logSpread(t, "3 members", members, placed)

	// A fourth member joins: the grains it wins move to it on their next
	// call, the others stay where they are, activation and all.
	d := newTestNode(t, srv, "d", false)
	startAll(t, d)
	grown := []*testNode{a, b, c, d}
	for _, n := range []*testNode{a, b, c, d, k} {
		n.waitView(t, 2*time.Second, a.address(), b.address(), c.address(), d.address())
	}
	moved := 0
	after := callAll(t, k, grown, ids)
	for _, id := range ids {
		switch {
		case hostOf(after[id]) == d.address():
			moved++
		case after[id] != placed[id]:
			t.Errorf("grain %s re-activated (%s -> %s) without moving to the new member", id, placed[id], after[id])
		}
	}
	t.Logf("join moved %d of %d grains to the new member (want about 1/4)", moved, grains)
	if moved < grains/8 || moved > grains/2 {
		t.Errorf("join moved %d of %d grains, want about %d", moved, grains, grains/4)
	}
	logSpread(t, "4 members", grown, after)

	// A request that reaches a member that does not own the grain is
	// forwarded: the owner answers.
	id := ids[0]
	owner := NewTable(membersOf(t, grown)).Owner(echoKind, id)
	other := a
	if other.address() == owner {
		other = b
	}
	res, err := k.c.ActorSystem.Root.RequestFuture(actor.NewPID(other.address(), ActivatorName),
		&cluster.ActivationRequest{ClusterIdentity: cluster.NewClusterIdentity(id, echoKind)}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("activation via a non-owner: %v", err)
	}
	if resp, ok := res.(*cluster.ActivationResponse); !ok || resp.Pid == nil || resp.Pid.Address != owner {
		t.Errorf("activation via non-owner %s = %v, want a PID on the owner %s", other.address(), res, owner)
	}

	// d leaves gracefully: its grains come back to the three.
	d.stop()
	for _, n := range []*testNode{a, b, c, k} {
		n.waitView(t, 2*time.Second, a.address(), b.address(), c.address())
	}
	back := callAll(t, k, members, ids)
	for _, id := range ids {
		if hostOf(after[id]) != d.address() && back[id] != after[id] {
			t.Errorf("grain %s re-activated (%s -> %s) though its member stayed", id, after[id], back[id])
		}
	}
	logSpread(t, "after the leave", members, back)
}

// callAll calls every grain from n and checks it answers from the member
// that the Table over members names, and that every member's activator
// holds exactly the grains it owns. It returns each grain's activation.
//
// It first waits until no member holds more grains than it owns: a grain
// whose owner changed is poisoned asynchronously, and a call that
// overtakes the poison would still be answered by the old activation.
func callAll(t *testing.T, n *testNode, members []*testNode, ids []string) map[string]string {
	t.Helper()
	table := NewTable(membersOf(t, members))
	share := make(map[string]int)
	for _, id := range ids {
		share[table.Owner(echoKind, id)]++
	}
	for _, m := range members {
		waitUntil(t, 2*time.Second, m.name+" gave up the grains it lost", func() bool { return m.grainCount() <= share[m.address()] })
	}
	got := make(map[string]string, len(ids))
	for _, id := range ids {
		pid := n.call(t, id)
		if owner := table.Owner(echoKind, id); hostOf(pid) != owner {
			t.Fatalf("grain %s answered from %s, want its owner %s", id, hostOf(pid), owner)
		}
		got[id] = pid
	}
	for _, m := range members {
		waitUntil(t, 2*time.Second, m.name+" holds exactly its own grains", func() bool { return m.grainCount() == share[m.address()] })
	}
	return got
}

func membersOf(t *testing.T, nodes []*testNode) []*cluster.Member {
	t.Helper()
	out := make([]*cluster.Member, len(nodes))
	for i, n := range nodes {
		out[i] = n.member(t)
	}
	return out
}

func logSpread(t *testing.T, what string, members []*testNode, placed map[string]string) {
	t.Helper()
	count := make(map[string]int)
	for _, pid := range placed {
		count[hostOf(pid)]++
	}
	s := ""
	for _, m := range members {
		s += fmt.Sprintf(" %s=%d (%.1f%%)", m.name, count[m.address()], 100*float64(count[m.address()])/float64(len(placed)))
	}
	t.Logf("spread, %s:%s", what, s)
}
