package placement

// The activator is adapted from protoactor-go's disthash placement actor
// (github.com/asynkron/protoactor-go, cluster/identitylookup/disthash/
// placement_actor.go, Apache License 2.0, Copyright Asynkron AB): one actor
// per member spawns the grains it owns as its children, answers
// ActivationRequests with their PIDs, and poisons the grains whose owner
// changed when the topology changes. Differences: the owner comes from
// Table (a well-mixed hash) instead of cluster.Rendezvous; a request that
// reaches a member which no longer owns the grain is forwarded once to the
// owner; the ActivationTerminated broadcast goes to the members of our own
// view instead of MemberList's racy member set, and every member's lookup
// evicts it from its PID cache; a PID index replaces the linear search on
// Terminated.

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
)

// forwardedMark tags an ActivationRequest that a member forwarded to the
// owner it sees, so that two members with crossed views forward at most
// once instead of back and forth.
const forwardedMark = "placement:forwarded"

// defaultStrayRecheck is how long a grain activated against this member's
// view (a forwarded request during a view change) may live before the
// activator checks its ownership again. Views converge within
// milliseconds; a grain still owned elsewhere then is poisoned.
const defaultStrayRecheck = 2 * time.Second

// topologyChanged is the local message by which the lookup hands the
// activator the new ownership view.
type topologyChanged struct{ table *Table }

// recheckOwnership is the activator's timer message: poison the grains
// that this member does not own in its current view.
type recheckOwnership struct{}

type grain struct {
	id  *cluster.ClusterIdentity
	pid *actor.PID
	// poisoned is set once the grain was told to stop for a move; it
	// stays listed until Terminated, so that it is not activated twice here.
	poisoned bool
}

// activator is the per-member actor; its state is touched only by its
// mailbox goroutine.
type activator struct {
	cluster *cluster.Cluster
	logger  *slog.Logger
	opts    *options
	self    string // this member's address
	table   *Table // latest view; nil before the first topology

	grains map[string]grain  // by ClusterIdentity.AsKey()
	byPID  map[string]string // PID.Id -> key in grains

	// recheck is the pending recheckOwnership timer, nil if none.
	recheck *time.Timer
}

func newActivator(c *cluster.Cluster, opts *options) *activator {
	return &activator{
		cluster: c,
		logger:  opts.logger,
		opts:    opts,
		self:    c.ActorSystem.Address(),
		grains:  make(map[string]grain),
		byPID:   make(map[string]string),
	}
}

// Receive implements actor.Actor.
func (a *activator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *cluster.ActivationRequest:
		a.onActivationRequest(ctx, msg)
	case *topologyChanged:
		a.table = msg.table
		a.poisonMoved(ctx)
	case *recheckOwnership:
		a.recheck = nil
		a.poisonMoved(ctx)
	case *actor.Terminated:
		a.onTerminated(ctx, msg.Who)
	case *actor.Stopping:
		if a.recheck != nil {
			a.recheck.Stop()
		}
		a.stopGrains(ctx)
	}
}

func (a *activator) onActivationRequest(ctx actor.Context, req *cluster.ActivationRequest) {
	ci := req.ClusterIdentity
	if ci == nil {
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
		return
	}
	key := ci.AsKey()
	g, found := a.grains[key]
	if found && !g.poisoned {
		ctx.Respond(&cluster.ActivationResponse{Pid: g.pid})
		return
	}
	// The caller's view says we own ci. If our view names another member,
	// hand the request to it: the owner answers the caller directly, and
	// no activation is left here that no topology change would move. (A
	// poisoned grain is on its way there too.)
	owner := ""
	if a.table != nil {
		owner = a.table.Owner(ci.Kind, ci.Identity)
	}
	elsewhere := owner != "" && owner != a.self
	if elsewhere && req.RequestId != forwardedMark {
		fwd := &cluster.ActivationRequest{ClusterIdentity: ci, RequestId: forwardedMark, TopologyHash: req.TopologyHash}
		ctx.RequestWithCustomSender(actor.NewPID(owner, ActivatorName), fwd, ctx.Sender())
		return
	}
	if found {
		// Still stopping: a call to it may be dead-lettered, and the
		// caller's retry finds it gone and activates it afresh.
		ctx.Respond(&cluster.ActivationResponse{Pid: g.pid})
		return
	}
	if elsewhere {
		// Forwarded to us by a member whose view names us while ours names
		// it: views are changing. Serve the call, and look again once the
		// views have had time to converge.
		a.scheduleRecheck(ctx)
	}
	kind, ok := a.cluster.TryGetClusterKind(ci.Kind)
	if !ok {
		a.logger.Warn("placement: activation of a kind this member does not host",
			slog.String(logKeyIdentity, key))
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
		return
	}
	pid := ctx.SpawnPrefix(cluster.WithClusterIdentity(kind.Props, ci), ci.Identity)
	kind.Inc()
	a.grains[key] = grain{id: ci, pid: pid}
	a.byPID[pid.Id] = key
	ctx.Respond(&cluster.ActivationResponse{Pid: pid})
}

func (a *activator) scheduleRecheck(ctx actor.Context) {
	if a.recheck != nil {
		return
	}
	sys, self := ctx.ActorSystem(), ctx.Self()
	a.recheck = time.AfterFunc(a.opts.strayRecheck, func() { sys.Root.Send(self, &recheckOwnership{}) })
}

// poisonMoved poisons every grain whose owner in the current view is
// another member. The poison lets its mailbox drain; the grain's next call
// re-activates it on the new owner.
func (a *activator) poisonMoved(ctx actor.Context) {
	if a.table == nil {
		return
	}
	moved := 0
	for key, g := range a.grains {
		if !g.poisoned && a.table.Owner(g.id.Kind, g.id.Identity) != a.self {
			ctx.Poison(g.pid)
			g.poisoned = true
			a.grains[key] = g
			moved++
		}
	}
	if moved > 0 {
		a.logger.Info("placement: moving grains to their new owners", slog.Int(logKeyGrains, moved),
			slog.Any(logKeyMembers, a.table.Addresses()))
	}
}

func (a *activator) onTerminated(ctx actor.Context, who *actor.PID) {
	key, ok := a.byPID[who.Id]
	if !ok {
		return
	}
	g := a.grains[key]
	delete(a.byPID, who.Id)
	delete(a.grains, key)
	if kind, ok := a.cluster.TryGetClusterKind(g.id.Kind); ok {
		kind.Dec()
	}
	a.opts.broadcast(ctx, a.table, &cluster.ActivationTerminated{Pid: who, ClusterIdentity: g.id})
}

// stopGrains poisons every grain and waits for each, so that a stopping
// member finishes the messages already queued to its grains.
func (a *activator) stopGrains(ctx actor.Context) {
	futures := make([]actor.Future, 0, len(a.grains))
	for _, g := range a.grains {
		futures = append(futures, ctx.PoisonFuture(g.pid))
	}
	for _, f := range futures {
		if err := f.Wait(); err != nil {
			a.logger.Warn("placement: grain did not stop", slog.Any(logKeyError, err))
		}
	}
}
