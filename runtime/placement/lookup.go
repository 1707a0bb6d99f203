package placement

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// ActivatorName is the name of the actor that every member runs to host
// its grains. Every member of one cluster must use this package's lookup:
// a member running protoactor-go's disthash answers at another name.
const ActivatorName = "placement-activator"

// ErrInvalidOption is returned by New for an option value that breaks a
// rule; the wrapped message names the option and the rule.
var ErrInvalidOption = errors.New("placement: invalid option")

// Log attribute keys.
const (
	logKeyIdentity = "identity"
	logKeyOwner    = "owner"
	logKeyMembers  = "members"
	logKeyError    = "error"
	logKeyGrains   = "grains"
)

// Option configures a Lookup.
type Option func(*options) error

type options struct {
	logger            *slog.Logger
	activationTimeout time.Duration
	// strayRecheck is how long a grain activated against this member's
	// view may live before its ownership is checked again (tests shorten it).
	strayRecheck time.Duration
	// broadcast tells the members of a view that a grain stopped
	// (broadcastTerminated; tests with imaginary members record instead).
	broadcast func(actor.SenderContext, *Table, *cluster.ActivationTerminated)
}

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// WithActivationTimeout bounds how long Get waits for the owning member to
// activate a grain (default 5s, as disthash). A cluster call whose owner
// does not answer in time sees no PID and retries or fails.
func WithActivationTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: activation timeout %s: must be positive", ErrInvalidOption, d)
		}
		o.activationTimeout = d
		return nil
	}
}

// Lookup is a cluster.IdentityLookup that places each grain on the member
// that wins rendezvous hashing of its identity (see [Table]) and moves
// grains when the topology changes. It implements cluster.IdentityLookup
// and is set up and shut down by the cluster that it is configured in; use
// one Lookup per cluster.Cluster.
//
// Get is safe for concurrent use. Setup and Shutdown are called by
// protoactor-go; Shutdown is idempotent.
type Lookup struct {
	opts options

	// table is the latest topology's ownership view; nil before the first
	// topology. Read by Get on caller goroutines, written by the topology
	// subscription.
	table atomic.Pointer[Table]

	mu          sync.Mutex // guards the fields below (Setup and Shutdown)
	cluster     *cluster.Cluster
	activator   *actor.PID
	subs        []*eventstream.Subscription
	setUp, down bool
}

var _ cluster.IdentityLookup = (*Lookup)(nil)

// New returns a Lookup to pass to cluster.Configure. It starts nothing:
// protoactor-go calls Setup when the cluster starts.
func New(opts ...Option) (*Lookup, error) {
	o := options{activationTimeout: 5 * time.Second, strayRecheck: defaultStrayRecheck, broadcast: broadcastTerminated}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return &Lookup{opts: o}, nil
}

// Setup spawns this member's activator actor and subscribes to topology
// changes. protoactor-go calls it from Cluster.StartMember and StartClient
// after remoting has started; a client member runs an activator too but
// owns no grains, because it hosts no kinds.
func (l *Lookup) Setup(c *cluster.Cluster, _ []string, _ bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.setUp {
		l.opts.logger.Error("placement: Setup called twice; ignored")
		return
	}
	l.setUp = true
	l.cluster = c
	sys := c.ActorSystem
	props := actor.PropsFromProducer(func() actor.Actor {
		return newActivator(c, &l.opts)
	})
	pid, err := sys.Root.SpawnNamed(props, ActivatorName)
	if err != nil {
		// The interface gives Setup no error: a second lookup in one actor
		// system is a wiring bug, reported loudly; Get then finds no owner.
		l.opts.logger.Error("placement: spawn activator", slog.Any(logKeyError, err))
		return
	}
	l.activator = pid
	l.subs = append(l.subs,
		sys.EventStream.Subscribe(func(ev any) {
			if tp, ok := ev.(*cluster.ClusterTopology); ok {
				l.onTopology(tp)
			}
		}),
		sys.EventStream.Subscribe(func(ev any) {
			if at, ok := ev.(*cluster.ActivationTerminated); ok && at.ClusterIdentity != nil && at.Pid != nil {
				c.PidCache.RemoveByValue(at.ClusterIdentity.Identity, at.ClusterIdentity.Kind, at.Pid)
			}
		}),
	)
}

// onTopology runs synchronously in the publisher of the topology (the
// cluster provider, under MemberList's lock): it must not block or call
// back into MemberList.
func (l *Lookup) onTopology(tp *cluster.ClusterTopology) {
	table := NewTable(tp.Members)
	l.table.Store(table)
	l.opts.logger.Debug("placement: topology", slog.Any(logKeyMembers, table.Addresses()))
	l.cluster.ActorSystem.Root.Send(l.activator, &topologyChanged{table: table})
}

// Get returns the PID of the grain ci, asking its owner to activate it if
// needed, or nil when no member hosts the kind, the owner did not answer
// within the activation timeout, or the activation failed. The cluster's
// request loop retries a nil PID.
func (l *Lookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	table := l.table.Load()
	if table == nil {
		return nil
	}
	owner := table.Owner(ci.Kind, ci.Identity)
	if owner == "" {
		return nil
	}
	sys := l.cluster.ActorSystem
	res, err := sys.Root.RequestFuture(actor.NewPID(owner, ActivatorName),
		&cluster.ActivationRequest{ClusterIdentity: ci}, l.opts.activationTimeout).Result()
	if err != nil {
		l.opts.logger.Debug("placement: activation request failed",
			slog.String(logKeyIdentity, ci.AsKey()), slog.String(logKeyOwner, owner), slog.Any(logKeyError, err))
		return nil
	}
	resp, ok := res.(*cluster.ActivationResponse)
	if !ok || resp.Failed {
		return nil
	}
	return resp.Pid
}

// RemovePid tells every member that the activation pid of ci has ended, so
// that their PID caches drop it (protoactor-go calls nothing here today;
// the activator does the same when a grain stops).
func (l *Lookup) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	l.mu.Lock()
	c := l.cluster
	l.mu.Unlock()
	if c == nil {
		return
	}
	l.opts.broadcast(c.ActorSystem.Root, l.table.Load(), &cluster.ActivationTerminated{Pid: pid, ClusterIdentity: ci})
}

// Shutdown stops the activator, which first poisons its grains and waits
// for them (so their mailboxes drain), and unsubscribes. protoactor-go's
// Cluster.Shutdown calls it twice; later calls do nothing.
func (l *Lookup) Shutdown() {
	l.mu.Lock()
	if !l.setUp || l.down {
		l.mu.Unlock()
		return
	}
	l.down = true
	sys, activator, subs := l.cluster.ActorSystem, l.activator, l.subs
	l.mu.Unlock()
	for _, s := range subs {
		sys.EventStream.Unsubscribe(s)
	}
	if activator == nil {
		return
	}
	if err := sys.Root.PoisonFuture(activator).Wait(); err != nil {
		l.opts.logger.Error("placement: stop activator", slog.Any(logKeyError, err))
	}
}

// broadcastTerminated sends at to the event stream of every member in
// table (nil: none). It reads the members from our own view rather than
// MemberList, whose accessors race with its updates.
func broadcastTerminated(sender actor.SenderContext, table *Table, at *cluster.ActivationTerminated) {
	if table == nil {
		return
	}
	for _, addr := range table.Addresses() {
		sender.Send(actor.NewPID(addr, "eventstream"), at)
	}
}
