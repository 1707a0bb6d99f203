package grain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// grain is one activation of a Kind: the protoactor actor that hydrates,
// serves one message at a time and passivates. Its fields are touched only
// by its own mailbox goroutine.
type grain[S any] struct {
	h    *Host[S]
	id   string
	life context.Context // the host's lifetime; nil before the host started

	// loaded: state folds every stored event up to version (a consistent
	// prefix). False before hydration and after the kind panicked.
	loaded bool
	// stale: events after version may be stored (activation, lost append,
	// unknown append outcome): catch up before deciding.
	stale       bool
	state       S
	version     uint64
	snapVersion uint64 // version of the last snapshot written or read

	activating *activation // reported once the first catch-up succeeds
	restarting bool        // the next hydration follows a panic

	// window holds the recent commands that wrote events, for idempotency.
	// Nil until the first one.
	window *window
}

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
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.id = m.Identity.GetIdentity()
		g.life = g.h.lifetime()
		if g.h.cfg.IdleTimeout > 0 {
			ctx.SetReceiveTimeout(g.h.cfg.IdleTimeout)
		}
		// A failure is reported by ready and retried on the next message.
		_ = g.ready()
	case *actor.ReceiveTimeout:
		ctx.Poison(ctx.Self())
	case *actor.Stopped:
		g.park()
	case *actor.Started, *actor.Stopping, *actor.Restarting, *actor.Terminated:
	case *personv1.Command:
		g.command(ctx, m)
	case proto.Message:
		g.query(ctx, m)
	}
}

// storeCtx bounds one store call by StoreTimeout and the host's lifetime.
func (g *grain[S]) storeCtx() (context.Context, context.CancelFunc, error) {
	if g.life == nil {
		g.life = g.h.lifetime()
		if g.life == nil {
			return nil, nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "host.started", "%s host is not started", g.h.kind.Name)
		}
	}
	ctx, cancel := context.WithTimeout(g.life, g.h.cfg.StoreTimeout)
	return ctx, cancel, nil
}

// ready makes the state current: it initialises it when needed (from the
// host's cache, else a snapshot, else Initial) and applies the stored events
// after it.
func (g *grain[S]) ready() error {
	if err := persistence.CheckPersonID(g.id); err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "person_id.format", "%v", err)
	}
	if !g.loaded {
		g.initialise()
	}
	if !g.stale {
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
	g.stale = false
	if a := g.activating; a != nil {
		g.activating = nil
		a.ev.Version, a.ev.Commands, a.ev.Took = g.version, g.window.len(), time.Since(a.start)
		g.h.observe(a.ev)
	}
	return nil
}

// initialise sets the starting point of a hydration.
func (g *grain[S]) initialise() {
	a := &activation{ev: Activated{Kind: g.h.kind.Name, ID: g.id, Restart: g.restarting}, start: time.Now()}
	g.restarting = false
	if p, ok := g.takeParked(); ok {
		g.state, g.version, g.snapVersion, g.window = p.state, p.version, p.snapVersion, p.window
		a.ev.Cached = true
	} else {
		g.state, g.version, g.snapVersion, g.window = g.initial(), 0, 0, nil
		a.ev.SnapshotVersion = g.loadSnapshot()
	}
	g.loaded, g.stale, g.activating = true, true, a
}

func (g *grain[S]) initial() S {
	if g.h.kind.Initial == nil {
		var zero S
		return zero
	}
	return g.h.kind.Initial(g.id)
}

// takeParked removes and returns this grain's state from the host's cache.
// One activation per id runs on a node, so nobody else takes it meanwhile.
func (g *grain[S]) takeParked() (*parked[S], bool) {
	if g.h.cache == nil {
		return nil, false
	}
	p, ok := g.h.cache.Peek(g.id)
	if ok {
		g.h.cache.Remove(g.id)
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
	ctx, cancel, err := g.storeCtx()
	if err != nil {
		return 0
	}
	defer cancel()
	snap, err := g.h.cfg.Snapshots.LoadSnapshot(ctx, g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return 0
	case err != nil:
		g.h.cfg.Logger.Warn("snapshot not read, replaying events", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id), slog.Any(logErr, err))
		return 0
	case snap.SchemaVersion != storedSchemaVersion(codec.SchemaVersion):
		return 0
	}
	b, w, err := unwrapSnapshot(snap.State, snap.Version, g.h.cfg.IdempotencyWindow)
	if err != nil {
		g.h.cfg.Logger.Warn("snapshot not decoded, replaying events", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id), slog.Uint64(logVersion, snap.Version), slog.Any(logErr, err))
		return 0
	}
	s, err := g.decodeSnapshot(b)
	if err != nil {
		g.h.cfg.Logger.Warn("snapshot not decoded, replaying events", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id), slog.Uint64(logVersion, snap.Version), slog.Any(logErr, err))
		return 0
	}
	g.state, g.version, g.snapVersion, g.window = s, snap.Version, snap.Version, w
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
	ctx, cancel, err := g.storeCtx()
	if err != nil {
		return 0, err
	}
	defer cancel()
	n := 0
	err = g.h.cfg.Events.Load(ctx, g.id, g.version+1, func(e *personv1.EventEnvelope) error {
		if e.GetVersion() != g.version+1 {
			return fmt.Errorf("%w: rule event.version: %s@%d follows version %d", persistence.ErrInvalidEvent, g.id, e.GetVersion(), g.version)
		}
		if err := g.apply(e); err != nil {
			return err
		}
		g.remember(e.GetCausationId(), e.GetVersion())
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("load %s %s from %d: %w", g.h.kind.Name, g.id, g.version+1, err)
	}
	return n, nil
}

// apply folds one stored event, turning a panic into a *panicError.
func (g *grain[S]) apply(e *personv1.EventEnvelope) (err error) {
	defer g.recoverInto("apply", &err)
	g.state = g.h.kind.Apply(g.state, e)
	g.version = e.GetVersion()
	return nil
}

// recoverInto turns a panic of the kind's code into a *panicError in *err.
// Deferred directly by the function that calls the kind.
func (g *grain[S]) recoverInto(phase string, err *error) {
	if r := recover(); r != nil {
		*err = &panicError{phase: phase, value: r, stack: debug.Stack()}
	}
}

// remember records in the idempotency window that command id wrote the
// event at version.
func (g *grain[S]) remember(id string, version uint64) {
	if id == "" {
		return
	}
	if g.window == nil {
		g.window = newWindow(g.h.cfg.IdempotencyWindow, 0)
	}
	g.window.record(id, version)
}

// hydrationFailed reports a failed hydration or catch-up.
func (g *grain[S]) hydrationFailed(err error) {
	var p *panicError
	if errors.As(err, &p) {
		g.panicked(p)
	}
	if ok, dropped := g.h.warns.allow(time.Now()); ok {
		g.h.cfg.Logger.Warn("grain not hydrated", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id), slog.Any(logErr, err), slog.Int("suppressed", dropped))
	}
	g.h.observe(HydrationFailed{Kind: g.h.kind.Name, ID: g.id, Err: err})
}

// panicked logs and reports a panic of the kind's code and drops the state:
// whatever the kind did to it is suspect. The next ready re-hydrates.
func (g *grain[S]) panicked(p *panicError) {
	p.reported = true
	g.loaded, g.restarting, g.activating = false, true, nil
	g.state = *new(S)
	g.h.cfg.Logger.Error("grain panicked", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id), slog.String("phase", p.phase), slog.Any("panic", p.value), slog.String("stack", string(p.stack)))
	g.h.observe(Panicked{Kind: g.h.kind.Name, ID: g.id, Phase: p.phase, Value: p.value, Stack: p.stack})
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
	ev := Passivated{Kind: g.h.kind.Name, ID: g.id, Version: g.version}
	if g.loaded && g.h.cache != nil && g.id != "" {
		g.h.cache.Add(g.id, &parked[S]{state: g.state, version: g.version, snapVersion: g.snapVersion, window: g.window})
		ev.Cached = true
	}
	g.h.observe(ev)
}

// query answers a read-only message.
func (g *grain[S]) query(ctx actor.Context, q proto.Message) {
	if err := g.ready(); err != nil {
		ctx.Respond(wireError(err, g.id))
		return
	}
	if g.h.kind.Query == nil {
		ctx.Respond(unimplemented(q, g.id))
		return
	}
	reply, ok, err := g.runQuery(q)
	switch {
	case err != nil:
		panicked := g.reportPanic(err)
		ctx.Respond(wireError(err, g.id))
		if panicked {
			g.restart()
		}
	case !ok:
		ctx.Respond(unimplemented(q, g.id))
	default:
		ctx.Respond(reply)
	}
}

func (g *grain[S]) runQuery(q proto.Message) (reply proto.Message, ok bool, err error) {
	defer g.recoverInto("query", &err)
	reply, ok = g.h.kind.Query(View[S]{ID: g.id, Version: g.version, State: g.state}, q)
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
