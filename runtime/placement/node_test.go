package placement

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/natsserver"
)

const (
	testCluster = "ptest"
	echoKind    = "Echo"
)

var discard = slog.New(slog.DiscardHandler)

// grainLog records the activations of the echo grains on one node.
type grainLog struct {
	mu      sync.Mutex
	stopped []string // identities, in stop order
}

func (g *grainLog) stop(id string) {
	g.mu.Lock()
	g.stopped = append(g.stopped, id)
	g.mu.Unlock()
}

func (g *grainLog) stoppedIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.stopped...)
}

// newEchoKind is a grain kind that answers any *wrapperspb.StringValue with
// its own PID ("address/id"): the host it runs on and its activation.
func newEchoKind(log *grainLog) *cluster.Kind {
	return cluster.NewKind(echoKind, actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *wrapperspb.StringValue:
			ctx.Respond(wrapperspb.String(ctx.Self().Address + "/" + ctx.Self().Id))
		case *actor.Stopped:
			if ci := cluster.GetClusterIdentity(ctx); ci != nil {
				log.stop(ci.Identity)
			}
		}
	}))
}

// testNode is one actor system of the test process: a member hosting the
// echo kind, or a client, on membership over NATS and this package's lookup.
type testNode struct {
	name     string
	c        *cluster.Cluster
	lookup   *Lookup
	provider *membership.Provider
	grains   *grainLog
	client   bool
	stopOnce sync.Once
}

func newTestNode(t *testing.T, srv *natsserver.Server, name string, client bool, opts ...Option) *testNode {
	t.Helper()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := membership.New(js)
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{name: name, lookup: lookup, provider: provider, grains: &grainLog{}, client: client}
	var cfgOpts []cluster.ConfigOption
	if !client {
		cfgOpts = append(cfgOpts, cluster.WithKinds(newEchoKind(n.grains)))
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }))
	n.c = cluster.New(sys, cluster.Configure(testCluster, provider, lookup, remote.Configure("127.0.0.1", 0), cfgOpts...))
	return n
}

func (n *testNode) start() {
	if n.client {
		n.c.StartClient()
	} else {
		n.c.StartMember()
	}
}

// stop shuts the node down once; a client by parts, because
// Cluster.Shutdown panics on a client (protoactor-go: nil gossip throttler).
func (n *testNode) stop() {
	n.stopOnce.Do(func() {
		if !n.client {
			n.c.Shutdown(true)
			return
		}
		if err := n.provider.Shutdown(true); err != nil {
			panic("client provider shutdown: " + err.Error())
		}
		n.lookup.Shutdown()
		n.c.ActorSystem.Shutdown()
		n.c.Remote.Shutdown(true)
	})
}

func (n *testNode) address() string { return n.c.ActorSystem.Address() }

// member is the node's cluster.Member as its provider registers it.
func (n *testNode) member(t *testing.T) *cluster.Member {
	t.Helper()
	host, port, err := n.c.ActorSystem.GetHostPort()
	if err != nil {
		t.Fatal(err)
	}
	return &cluster.Member{Id: n.c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: []string{echoKind}}
}

// grainCount is the number of echo grains the node's activator holds.
func (n *testNode) grainCount() int {
	k, ok := n.c.TryGetClusterKind(echoKind)
	if !ok {
		return 0
	}
	return int(k.Count())
}

// waitView waits until the node's lookup lists exactly the addresses.
func (n *testNode) waitView(t *testing.T, within time.Duration, addrs ...string) {
	t.Helper()
	want := strings.Join(slices.Sorted(slices.Values(addrs)), ",")
	var got string
	waitUntil(t, within, n.name+" sees "+want, func() bool {
		if tb := n.lookup.table.Load(); tb != nil {
			got = strings.Join(tb.Addresses(), ",")
		}
		return got == want
	}, func() string { return "view " + got })
}

// call asks grain id for its PID string through the cluster.
func (n *testNode) call(t *testing.T, id string) string {
	t.Helper()
	res, err := n.c.Request(id, echoKind, wrapperspb.String(id), cluster.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("%s: call %s: %v", n.name, id, err)
	}
	s, ok := res.(*wrapperspb.StringValue)
	if !ok {
		t.Fatalf("%s: call %s: reply %T, want *wrapperspb.StringValue", n.name, id, res)
	}
	return s.Value
}

// hostOf is the address part of a PID string "address/id".
func hostOf(pid string) string {
	host, _, _ := strings.Cut(pid, "/")
	return host
}

// waitUntil polls cond until it holds, failing the test after within;
// the optional state describes what was seen instead.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s: not within %s", what, within)
			for _, s := range state {
				msg += "; " + s()
			}
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
