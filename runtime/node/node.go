package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/cim/personrt/runtime/placement"
)

// Errors returned by Start.
var (
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("node: already started")
	// ErrClosed is returned by Start after Shutdown.
	ErrClosed = errors.New("node: closed")
	// ErrStart wraps a failure of protoactor-go while joining the cluster.
	ErrStart = errors.New("node: start failed")
)

// Node is one protoactor-go actor system with remote and cluster membership,
// hosting the configured grain kinds (or none, as a client).
type Node struct {
	cfg Config

	mu      sync.Mutex // guards the fields below
	started bool
	closed  bool
	cancel  context.CancelFunc // ends the lifetime given to the kinds
	cluster *cluster.Cluster
	topoSub *eventstream.Subscription // feeds owners; nil unless the lookup is placement

	// owners is the ownership view of the latest topology when the identity
	// lookup is runtime/placement (nil otherwise or before the first
	// topology). Written by the topology subscription, read by Owner.
	owners atomic.Pointer[placement.Table]
}

// New validates cfg (filling defaults) and returns a Node. It starts nothing.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg}, nil
}

// Start starts the kinds, the actor system, remote and cluster membership,
// and returns when this node has joined (protoactor-go's StartMember sleeps a
// fixed second). ctx bounds nothing inside protoactor-go but its values are
// passed to the kinds; the kinds' lifetime ends with Shutdown.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return ErrClosed
	case n.started:
		return ErrStarted
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("node: start: %w", err)
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	started := make([]Kind, 0, len(n.cfg.Kinds))
	defer func() {
		if err == nil {
			return
		}
		cancel()
		for _, k := range started {
			// The start error is what the caller needs; a kind that started
			// has nothing queued yet.
			_ = k.Shutdown(ctx)
		}
	}()
	kinds := make([]*cluster.Kind, 0, len(n.cfg.Kinds))
	for _, k := range n.cfg.Kinds {
		if err := k.Start(life); err != nil {
			return fmt.Errorf("node: start kind %s: %w", k.Name(), err)
		}
		started = append(started, k)
		kinds = append(kinds, k.ClusterKind())
	}

	c, sub, err := n.join(kinds)
	if err != nil {
		return err
	}
	n.started, n.cancel, n.cluster, n.topoSub = true, cancel, c, sub
	n.cfg.Logger.Info("node started", slog.String("address", c.ActorSystem.Address()), slog.Int("kinds", len(kinds)))
	return nil
}

// join builds the actor system and cluster and starts membership. It turns
// protoactor-go's panics (provider errors, name clashes) into errors. With
// the placement lookup it subscribes to topology changes before joining, so
// that Owner sees the first member list.
func (n *Node) join(kinds []*cluster.Kind) (c *cluster.Cluster, sub *eventstream.Subscription, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrStart, r)
			if c != nil && sub != nil {
				c.ActorSystem.EventStream.Unsubscribe(sub)
			}
			if c != nil && c.Remote != nil {
				n.abandon(c)
			}
			c, sub = nil, nil
		}
	}()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(n.actorLogger))
	var ropts []remote.ConfigOption
	if n.cfg.AdvertisedHost != "" {
		ropts = append(ropts, remote.WithAdvertisedHost(n.cfg.AdvertisedHost))
	}
	provider := n.cfg.Provider
	if provider == nil {
		provider = standalone{}
	}
	lookup := n.cfg.IdentityLookup
	if lookup == nil {
		lookup = disthash.New()
	}
	rcfg := remote.Configure(n.cfg.Host, n.cfg.Port, ropts...)
	rcfg.MaxRetryCount = n.cfg.DialAttempts
	ccfg := cluster.Configure(n.cfg.ClusterName, provider, lookup, rcfg,
		cluster.WithKinds(kinds...),
		cluster.WithRequestTimeout(n.cfg.RequestTimeout))
	c = cluster.New(sys, ccfg)
	if _, ok := lookup.(*placement.Lookup); ok {
		sub = sys.EventStream.Subscribe(func(ev any) {
			if tp, ok := ev.(*cluster.ClusterTopology); ok {
				n.owners.Store(placement.NewTable(tp.Members))
			}
		})
	}
	if len(kinds) == 0 {
		c.StartClient()
	} else {
		c.StartMember()
	}
	return c, sub, nil
}

// Owner returns the address ("host:port") of the member that hosts the
// grain (kind, identity) in this node's current view of the cluster, or ""
// when it cannot tell: before the first topology, when no member hosts
// kind, or when the identity lookup is not runtime/placement (whose
// ownership is a pure function of the member list). It does no I/O and is
// safe for concurrent use; pass it as runtime/client Config.Owner so that
// calls to a grain whose owner was lost fail over at once.
func (n *Node) Owner(kind, identity string) string {
	t := n.owners.Load()
	if t == nil {
		return ""
	}
	return t.Owner(kind, identity)
}

// actorLogger is protoactor-go's logger: the node's, filtered by level.
func (n *Node) actorLogger(*actor.ActorSystem) *slog.Logger {
	return slog.New(&levelHandler{min: n.cfg.ActorLogLevel, h: n.cfg.Logger.Handler()}).With(slog.String("lib", "protoactor"))
}

// Cluster returns the protoactor cluster, nil before Start. Use it with
// runtime/client.
func (n *Node) Cluster() *cluster.Cluster {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cluster
}

// Address returns the remote address of the node ("host:port"), "" before
// Start.
func (n *Node) Address() string {
	c := n.Cluster()
	if c == nil {
		return ""
	}
	return c.ActorSystem.Address()
}

// Shutdown leaves the cluster and drains: it deregisters from the provider,
// stops every grain after the message it is handling (grains passivate and
// keep their state in their host's cache), stops gossip and remote, then
// shuts the kinds down (queued snapshots are written). When ctx ends first,
// the grains' store calls are cancelled so they stop promptly, and Shutdown
// returns ctx's error after protoactor-go returned (its own waits are
// bounded: 10s per poisoned grain, 10s for the gRPC server).
//
// It works around protoactor-go's Cluster.Shutdown, which panics on a client
// member (nil gossip throttler) and always sleeps 2s.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	started, c, cancel, sub := n.started, n.cluster, n.cancel, n.topoSub
	n.mu.Unlock()
	if !started {
		return nil
	}
	if sub != nil {
		c.ActorSystem.EventStream.Unsubscribe(sub)
	}

	var errs []error
	left := make(chan struct{})
	go func() {
		defer close(left)
		if err := n.leave(c); err != nil {
			errs = append(errs, err)
		}
	}()
	select {
	case <-left:
	case <-ctx.Done():
		cancel()
		<-left
		errs = append(errs, fmt.Errorf("node: leave cluster: %w", ctx.Err()))
	}
	for _, k := range n.cfg.Kinds {
		if err := k.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: shutdown kind %s: %w", k.Name(), err))
		}
	}
	cancel()
	n.cfg.Logger.Info("node stopped", slog.String("address", c.ActorSystem.Address()))
	return errors.Join(errs...)
}

// leave is protoactor-go's graceful Cluster.Shutdown without its fixed sleep
// and its client panics.
func (n *Node) leave(c *cluster.Cluster) (err error) {
	member := len(n.cfg.Kinds) > 0
	if member {
		// Client members have no gossip throttler: SetState would panic.
		c.Gossip.SetState(cluster.GracefullyLeftKey, &emptypb.Empty{})
	}
	if perr := shutdownProvider(c.Config.ClusterProvider); perr != nil {
		err = perr
	}
	c.IdentityLookup.Shutdown() // poisons this node's grains and waits for them
	c.Gossip.Shutdown()         // a no-op on clients
	c.ActorSystem.Shutdown()
	c.Remote.Shutdown(true)
	return err
}

// abandon stops what a failed join started; its own failures are only
// logged, the caller reports the join's.
func (n *Node) abandon(c *cluster.Cluster) {
	defer func() {
		if r := recover(); r != nil {
			n.cfg.Logger.Warn("cleanup after a failed start panicked", slog.Any("panic", r))
		}
	}()
	if c.IdentityLookup != nil {
		c.IdentityLookup.Shutdown()
	}
	c.Gossip.Shutdown()
	c.ActorSystem.Shutdown()
	c.Remote.Shutdown(true)
}

// shutdownProvider deregisters from the membership provider. Some
// protoactor-go providers panic when shut down on a client member (test,
// automanaged); that panic is returned as an error.
func shutdownProvider(p cluster.ClusterProvider) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node: membership provider shutdown panicked: %v", r)
		}
	}()
	if err := p.Shutdown(true); err != nil {
		return fmt.Errorf("node: membership provider shutdown: %w", err)
	}
	return nil
}

// standalone is the membership provider of a single-node cluster: the
// member lists itself and nobody else. It starts no goroutines.
type standalone struct{}

func (standalone) StartMember(c *cluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("standalone member address: %w", err)
	}
	c.MemberList.UpdateClusterTopology(cluster.Members{{Id: c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: c.GetClusterKinds()}})
	return nil
}

func (standalone) StartClient(*cluster.Cluster) error { return nil }

func (standalone) Shutdown(bool) error { return nil }

// levelHandler passes on records at or above min.
type levelHandler struct {
	min slog.Leveler
	h   slog.Handler
}

func (l *levelHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= l.min.Level() && l.h.Enabled(ctx, level)
}

func (l *levelHandler) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }

func (l *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{min: l.min, h: l.h.WithAttrs(attrs)}
}

func (l *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{min: l.min, h: l.h.WithGroup(name)}
}
