package membership_test

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/placement"
)

const clusterName = "mtest"

// discard is the logger of the actor systems under test (protoactor-go is
// chatty at Info).
var discard = slog.New(slog.DiscardHandler)

// topologyLog records every *cluster.ClusterTopology an actor system
// publishes: the race-free way to observe MemberList.
type topologyLog struct {
	mu     sync.Mutex
	events []topologyEvent
}

type topologyEvent struct {
	at  time.Time
	ids []string
}

func watchTopology(sys *actor.ActorSystem) *topologyLog {
	l := &topologyLog{}
	sys.EventStream.Subscribe(func(ev any) {
		tp, ok := ev.(*cluster.ClusterTopology)
		if !ok {
			return
		}
		ids := make([]string, len(tp.Members))
		for i, m := range tp.Members {
			ids[i] = m.Id
		}
		slices.Sort(ids)
		l.mu.Lock()
		l.events = append(l.events, topologyEvent{at: time.Now(), ids: ids})
		l.mu.Unlock()
	})
	return l
}

// current returns the member ids of the latest topology.
func (l *topologyLog) current() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return nil
	}
	return l.events[len(l.events)-1].ids
}

// since returns the topologies published at or after t.
func (l *topologyLog) since(t time.Time) []topologyEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []topologyEvent
	for _, e := range l.events {
		if !e.at.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls until the latest topology satisfies cond and returns when
// that topology was published; it fails the test after within.
func (l *topologyLog) waitFor(t *testing.T, within time.Duration, what string, cond func(ids []string) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l.mu.Lock()
		var last *topologyEvent
		if n := len(l.events); n > 0 {
			last = &l.events[n-1]
		}
		l.mu.Unlock()
		if last != nil && cond(last.ids) {
			return last.at
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last topology %v", what, within, l.current())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasExactly(want ...string) func([]string) bool {
	w := slices.Clone(want)
	slices.Sort(w)
	return func(ids []string) bool { return slices.Equal(ids, w) }
}

// node is one protoactor-go actor system in the test process, a cluster
// member or client with its own NATS connection.
type node struct {
	name     string
	c        *cluster.Cluster
	provider *membership.Provider
	nc       *nats.Conn
	topo     *topologyLog
	client   bool
	stopOnce sync.Once
}

func (n *node) id() string { return n.c.ActorSystem.ID }

// newNode builds a node on srv; start it with startNodes.
func newNode(t *testing.T, srv *natsserver.Server, name string, client bool, opts ...membership.Option) *node {
	t.Helper()
	nc, err := srv.Connect(nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := membership.New(js, append(opts, membership.WithLogger(discard))...)
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := placement.New()
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }))
	c := cluster.New(sys, cluster.Configure(clusterName, provider, lookup, remote.Configure("127.0.0.1", 0)))
	return &node{name: name, c: c, provider: provider, nc: nc, topo: watchTopology(sys), client: client}
}

// startNodes starts the nodes, in parallel when concurrently is set
// (protoactor-go's StartMember sleeps 1s), and stops them in parallel when
// the test ends: members first, then clients, because a member that still
// sends to a stopped client spends seconds in protoactor-go's reconnect
// back-off before its remote shuts down. Concurrent starts race inside
// protoactor-go (remote.Start sets grpc's global logger): race-enabled
// tests start in order.
func startNodes(t *testing.T, concurrently bool, nodes ...*node) {
	t.Helper()
	start := func(n *node) {
		if n.client {
			n.c.StartClient()
		} else {
			n.c.StartMember()
		}
	}
	if concurrently {
		parallel(t, 10*time.Second, "start", nodes, start)
	} else {
		for _, n := range nodes {
			start(n)
		}
	}
	t.Cleanup(func() {
		var members, clients []*node
		for _, n := range nodes {
			if n.client {
				clients = append(clients, n)
			} else {
				members = append(members, n)
			}
		}
		parallel(t, 15*time.Second, "stop members", members, (*node).stop)
		parallel(t, 15*time.Second, "stop clients", clients, (*node).stop)
	})
}

// stop shuts the node down once. Cluster.Shutdown panics on a client
// (protoactor-go: nil gossip throttler), so a client is stopped by parts.
func (n *node) stop() { n.stopOnce.Do(n.shutdown) }

func (n *node) shutdown() {
	if !n.client {
		n.c.Shutdown(true)
		return
	}
	if err := n.provider.Shutdown(true); err != nil {
		panic(fmt.Sprintf("client %s: provider shutdown: %v", n.name, err))
	}
	n.c.ActorSystem.Shutdown()
	n.c.Remote.Shutdown(true)
}

// stopAsync stops n in the background; the channel closes when it has.
func stopAsync(n *node) <-chan struct{} {
	done := make(chan struct{})
	go func() { defer close(done); n.stop() }()
	return done
}

// parallel runs fn for every node concurrently and waits for all of them,
// failing the test after within.
func parallel(t *testing.T, within time.Duration, what string, nodes []*node, fn func(*node)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { fn(n) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("%s of %d nodes did not finish within %s", what, len(nodes), within)
	}
}

func ids(nodes ...*node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.id()
	}
	return out
}
