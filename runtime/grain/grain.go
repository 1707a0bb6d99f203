package grain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// grain is one activation of a Kind: the protoactor actor that hydrates,
// serves one message at a time and passivates. Its fields are touched only
// by its own mailbox goroutine, except active (atomic, read by the host's
// passivator).
//
// Every active grain costs its struct, so it holds only what differs per
// grain; the layout keeps the shell's fields at 64 bytes beside the state.
type grain[S any] struct {
	h     *Host[S]
	ident *cluster.ClusterIdentity // set by ClusterInit; Identity is the person id

	version uint64 // of the last applied event; state folds every event up to it
	// window holds the recent commands that wrote events, for idempotency.
	window     window
	activating *activation // reported once the first catch-up succeeds
	flags      grainFlags
	// active is the passivator's clock at the grain's last message.
	active atomic.Uint32

	state S
}

// grainFlags are a grain's booleans.
type grainFlags uint8

const (
	// loaded: state folds every stored event up to version (a consistent
	// prefix). Unset before hydration and after the kind panicked.
	loaded grainFlags = 1 << iota
	// stale: events after version may be stored (activation, lost append,
	// unknown append outcome): catch up before deciding.
	stale
	// restarting: the next hydration follows a panic.
	restarting
	// snapshotDue: an applied event's version is a multiple of
	// SnapshotEvery and no snapshot was taken since.
	snapshotDue
)

func (g *grain[S]) is(f grainFlags) bool { return g.flags&f != 0 }

func (g *grain[S]) set(f grainFlags, on bool) {
	if on {
		g.flags |= f
	} else {
		g.flags &^= f
	}
}

// id returns the person id ("" before ClusterInit).
func (g *grain[S]) id() string { return g.ident.GetIdentity() }

// activation is a hydration in progress.
type activation struct {
	ev    Activated
	start time.Time
}

// panicError carries a panic out of the kind's code.
type panicError struct {
	phase    string
	value    any
	stack    []byte
	reported bool // panicked ran for it (a hydration failure): do not restart again
}

func (p *panicError) Error() string { return fmt.Sprintf("panic in %s: %v", p.phase, p.value) }

// errStopLoad ends a Load early.
var errStopLoad = errors.New("grain: stop load")

// Receive implements actor.Actor.
func (g *grain[S]) Receive(ctx actor.Context) {
	msg := ctx.Message()
	if _, ok := msg.(passivationCheck); ok {
		if p := g.h.passivator; p != nil && p.idle(g.active.Load()) {
			ctx.Poison(ctx.Self())
			g.active.Store(p.now()) // no further check while it stops
		}
		return
	}
	if p := g.h.passivator; p != nil {
		g.active.Store(p.now())
	}
	switch m := msg.(type) {
	case *cluster.ClusterInit:
		g.ident = m.Identity
		if p := g.h.passivator; p != nil {
			p.add(ctx.ActorSystem(), ctx.Self(), &g.active)
		}
		// A failure is reported by ready and retried on the next message.
		_ = g.ready()
	case *actor.Stopped:
		if p := g.h.passivator; p != nil {
			p.remove(ctx.ActorSystem(), ctx.Self(), &g.active)
		}
		g.park()
	case *actor.Started, *actor.Stopping, *actor.Restarting, *actor.Terminated:
	case *personv1.Command:
		g.command(ctx, m)
	case proto.Message:
		g.query(ctx, m)
	}
}

// storeCtx bounds one store call by StoreTimeout and the host's lifetime.
// It is shared with the store calls of other grains (see Host.storeCtx):
// there is nothing to cancel.
func (g *grain[S]) storeCtx() (context.Context, error) {
	return g.h.storeCtx()
}

// ready makes the state current: it initialises it when needed (from the
// host's cache, else a snapshot, else Initial) and applies the stored events
// after it.
func (g *grain[S]) ready() error {
	if err := persistence.CheckPersonID(g.id()); err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "person_id.format", "%v", err)
	}
	if !g.is(loaded) {
		g.initialise()
	}
	if !g.is(stale) {
		return nil
	}
	n, err := g.catchUp()
	if g.activating != nil {
		g.activating.ev.Replayed += n
	}
	if err != nil {
		g.hydrationFailed(err)
		return err
	}
	g.set(stale, false)
	if a := g.activating; a != nil {
		g.activating = nil
		a.ev.Version, a.ev.Commands, a.ev.Took = g.version, g.window.len(), time.Since(a.start)
		observe(g.h, a.ev)
	}
	return nil
}

// initialise sets the starting point of a hydration.
func (g *grain[S]) initialise() {
	a := &activation{ev: Activated{Kind: g.h.kind.Name, ID: g.id(), Restart: g.is(restarting)}, start: time.Now()}
	g.set(restarting, false)
	if p, ok := g.takeParked(); ok {
		g.state, g.version, g.window = p.state, p.version, p.window
		g.set(snapshotDue, p.snapshotDue)
		a.ev.Cached = true
	} else {
		g.state, g.version, g.window = g.initial(), 0, window{}
		g.set(snapshotDue, false)
		a.ev.SnapshotVersion = g.loadSnapshot()
	}
	g.set(loaded|stale, true)
	g.activating = a
}

func (g *grain[S]) initial() S {
	if g.h.kind.Initial == nil {
		var zero S
		return zero
	}
	return g.h.kind.Initial(g.id())
}

// takeParked removes and returns this grain's state from the host's cache.
// One activation per id runs on a node, so nobody else takes it meanwhile.
func (g *grain[S]) takeParked() (*parked[S], bool) {
	if g.h.cache == nil {
		return nil, false
	}
	p, ok := g.h.cache.Peek(g.id())
	if ok {
		g.h.cache.Remove(g.id())
	}
	return p, ok
}

// loadSnapshot starts from the stored snapshot when there is a usable one
// and returns its version. Any problem with it is logged and the state is
// rebuilt from events.
func (g *grain[S]) loadSnapshot() uint64 {
	codec := g.h.kind.Snapshot
	if codec == nil || g.h.cfg.Snapshots == nil {
		return 0
	}
	ctx, err := g.storeCtx()
	if err != nil {
		return 0
	}
	id := g.id()
	snap, err := g.h.cfg.Snapshots.LoadSnapshot(ctx, id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return 0
	case err != nil:
		g.h.cfg.Logger.Warn("snapshot not read, replaying events", slog.String(logKind, g.h.kind.Name), slog.String(logID, id), slog.Any(logErr, err))
		return 0
	case snap.SchemaVersion != storedSchemaVersion(codec.SchemaVersion):
		return 0
	}
	b, w, err := unwrapSnapshot(snap.State, snap.Version, g.h.cfg.IdempotencyWindow)
	if err != nil {
		g.h.cfg.Logger.Warn("snapshot not decoded, replaying events", slog.String(logKind, g.h.kind.Name), slog.String(logID, id), slog.Uint64(logVersion, snap.Version), slog.Any(logErr, err))
		return 0
	}
	s, err := g.decodeSnapshot(b)
	if err != nil {
		g.h.cfg.Logger.Warn("snapshot not decoded, replaying events", slog.String(logKind, g.h.kind.Name), slog.String(logID, id), slog.Uint64(logVersion, snap.Version), slog.Any(logErr, err))
		return 0
	}
	g.state, g.version, g.window = s, snap.Version, w
	return snap.Version
}

func (g *grain[S]) decodeSnapshot(b []byte) (s S, err error) {
	defer g.recoverInto("snapshot", &err)
	return g.h.kind.Snapshot.Decode(b)
}

func (g *grain[S]) encodeSnapshot() (b []byte, err error) {
	defer g.recoverInto("snapshot", &err)
	return g.h.kind.Snapshot.Encode(g.state)
}

// catchUp applies the stored events after g.version and returns how many.
// On a store error the state stays a consistent prefix; on a panic the
// caller discards it.
func (g *grain[S]) catchUp() (int, error) {
	ctx, err := g.storeCtx()
	if err != nil {
		return 0, err
	}
	id, n := g.id(), 0
	err = g.h.cfg.Events.Load(ctx, id, g.version+1, func(e *personv1.EventEnvelope) error {
		if e.GetVersion() != g.version+1 {
			return fmt.Errorf("%w: rule event.version: %s@%d follows version %d", persistence.ErrInvalidEvent, id, e.GetVersion(), g.version)
		}
		if err := g.apply(e); err != nil {
			return err
		}
		g.window.record(e.GetCausationId(), e.GetVersion(), g.h.cfg.IdempotencyWindow)
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("load %s %s from %d: %w", g.h.kind.Name, id, g.version+1, err)
	}
	return n, nil
}

// apply folds one stored event, turning a panic into a *panicError.
func (g *grain[S]) apply(e *personv1.EventEnvelope) (err error) {
	defer g.recoverInto("apply", &err)
	g.state = g.h.kind.Apply(g.state, e)
	g.version = e.GetVersion()
	if every := g.h.cfg.SnapshotEvery; every > 0 && g.version%uint64(every) == 0 {
		g.set(snapshotDue, true)
	}
	return nil
}

// recoverInto turns a panic of the kind's code into a *panicError in *err.
// Deferred directly by the function that calls the kind.
func (g *grain[S]) recoverInto(phase string, err *error) {
	if r := recover(); r != nil {
		*err = &panicError{phase: phase, value: r, stack: debug.Stack()}
	}
}

// hydrationFailed reports a failed hydration or catch-up.
func (g *grain[S]) hydrationFailed(err error) {
	var p *panicError
	if errors.As(err, &p) {
		g.panicked(p)
	}
	if ok, dropped := g.h.warns.allow(time.Now()); ok {
		g.h.cfg.Logger.Warn("grain not hydrated", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id()), slog.Any(logErr, err), slog.Int("suppressed", dropped))
	}
	observe(g.h, HydrationFailed{Kind: g.h.kind.Name, ID: g.id(), Err: err})
}

// panicked logs and reports a panic of the kind's code and drops the state:
// whatever the kind did to it is suspect. The next ready re-hydrates.
func (g *grain[S]) panicked(p *panicError) {
	p.reported = true
	g.set(loaded, false)
	g.set(restarting, true)
	g.activating = nil
	g.state = *new(S)
	g.h.cfg.Logger.Error("grain panicked", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id()), slog.String("phase", p.phase), slog.Any("panic", p.value), slog.String("stack", string(p.stack)))
	observe(g.h, Panicked{Kind: g.h.kind.Name, ID: g.id(), Phase: p.phase, Value: p.value, Stack: p.stack})
}

// reportPanic reports err if it is a panic of the kind's code (dropping the
// state) and says so.
func (g *grain[S]) reportPanic(err error) bool {
	var p *panicError
	if !errors.As(err, &p) || p.reported {
		return false
	}
	g.panicked(p)
	return true
}

// restart re-hydrates from the store after a panic, as a restarted actor
// would.
func (g *grain[S]) restart() {
	// A failure is reported by ready and retried on the next message.
	_ = g.ready()
}

// park keeps the state in the host's cache when the grain stops.
func (g *grain[S]) park() {
	id := g.id()
	ev := Passivated{Kind: g.h.kind.Name, ID: id, Version: g.version}
	if g.is(loaded) && g.h.cache != nil && id != "" {
		g.h.cache.Add(id, &parked[S]{state: g.state, version: g.version, window: g.window, snapshotDue: g.is(snapshotDue)})
		ev.Cached = true
	}
	observe(g.h, ev)
}

// query answers a read-only message.
func (g *grain[S]) query(ctx actor.Context, q proto.Message) {
	if err := g.ready(); err != nil {
		ctx.Respond(wireError(err, g.id()))
		return
	}
	if g.h.kind.Query == nil {
		ctx.Respond(unimplemented(q, g.id()))
		return
	}
	reply, ok, err := g.runQuery(q)
	switch {
	case err != nil:
		panicked := g.reportPanic(err)
		ctx.Respond(wireError(err, g.id()))
		if panicked {
			g.restart()
		}
	case !ok:
		ctx.Respond(unimplemented(q, g.id()))
	default:
		ctx.Respond(reply)
	}
}

func (g *grain[S]) runQuery(q proto.Message) (reply proto.Message, ok bool, err error) {
	defer g.recoverInto("query", &err)
	reply, ok = g.h.kind.Query(View[S]{ID: g.id(), Version: g.version, State: g.state}, q)
	return reply, ok, nil
}

func unimplemented(q proto.Message, id string) *personv1.Error {
	return &personv1.Error{
		Code:     personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED,
		Rule:     "message.known",
		Message:  fmt.Sprintf("%s is not a command or query of this kind", q.ProtoReflect().Descriptor().FullName()),
		PersonId: id,
	}
}

// wireError converts a shell error to its wire form: a coded *personv1.Error
// keeps its code; a panic or an invalid stored event is INTERNAL; store
// timeouts and outages are UNAVAILABLE (retry with the same command id).
func wireError(err error, id string) *personv1.Error {
	var (
		p  *panicError
		pe *personv1.Error
	)
	switch {
	case errors.As(err, &pe):
		return personv1.AsError(err, id)
	case errors.As(err, &p):
		return &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_INTERNAL, Rule: "grain.no_panic", Message: p.Error(), PersonId: id}
	case errors.Is(err, persistence.ErrInvalidEvent):
		return &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_INTERNAL, Rule: "store.valid_events", Message: err.Error(), PersonId: id}
	default:
		return &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, Rule: "store.available", Message: err.Error(), PersonId: id}
	}
}
