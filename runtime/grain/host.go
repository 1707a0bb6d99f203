package grain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cim/personrt/messages/personv1"
)

// ErrClosed is returned by Start after Shutdown.
var ErrClosed = errors.New("grain: host closed")

// Log attribute keys.
const (
	logKind      = "kind"
	logID        = "id"
	logVersion   = "version"
	logCommandID = "command_id"
	logErr       = "err"
)

// Host runs the grains of one Kind on this node: it builds the cluster kind
// whose activations are the shell, and owns what they share: the state cache
// of passivated grains, the snapshot writer, the passivator that stops idle
// grains, the workers that run their mailboxes, the context bounding their
// store calls and the type name tables.
// What is the same for every grain lives here, not in the grains.
//
// A Host is started before the cluster member that serves its kind and shut
// down after that member stopped its grains (runtime/node does both).
type Host[S any] struct {
	kind  Kind[S]
	cfg   Config
	names typeNames

	cache      *lru.Cache[string, *parked[S]] // nil when disabled; safe for concurrent use
	writer     *snapshotWriter                // nil when snapshots are disabled
	passivator *passivator                    // nil when grains never passivate
	dispatcher *workerDispatcher              // runs the grains' mailbox passes
	warns      warnLimiter                    // hydration failures
	call       atomic.Pointer[storeCall]      // the current store call context; nil before Start

	mu          sync.Mutex // guards life, stop, started, closed and replacing call
	life        context.Context
	stop        context.CancelFunc
	started     bool
	closed      bool
	writerDone  chan struct{} // closed when the writer goroutine returned
	passiveDone chan struct{} // closed when the passivator goroutine returned
}

// parked is the state of a passivated grain, kept by the host's state cache.
type parked[S any] struct {
	state       S
	version     uint64
	window      window
	snapshotDue bool
}

// storeCall is a context for store calls, shared by all those that start
// before deadline-StoreTimeout (see Host.storeCtx).
type storeCall struct {
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time
}

// NewHost validates kind and cfg (filling defaults) and returns a Host. It
// starts nothing.
func NewHost[S any](kind Kind[S], cfg Config) (*Host[S], error) {
	if err := validateKind(&kind); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Host[S]{
		kind: kind, cfg: cfg, names: newTypeNames(), dispatcher: newWorkerDispatcher(workerIdle),
		writerDone: make(chan struct{}), passiveDone: make(chan struct{}),
	}
	if cfg.StateCacheSize > 0 {
		c, err := lru.New[string, *parked[S]](cfg.StateCacheSize)
		if err != nil {
			return nil, fmt.Errorf("%w: rule config.state_cache_size: %w", ErrInvalidConfig, err)
		}
		h.cache = c
	}
	if cfg.Snapshots != nil && kind.Snapshot != nil && cfg.SnapshotEvery > 0 {
		h.writer = newSnapshotWriter(cfg.Snapshots, cfg.SnapshotQueue, cfg.StoreTimeout, kind.Name, cfg.Logger, h.observe)
	}
	if cfg.IdleTimeout > 0 {
		h.passivator = newPassivator(cfg.IdleTimeout)
	}
	return h, nil
}

// Name returns the cluster kind name.
func (h *Host[S]) Name() string { return h.kind.Name }

// ClusterKind returns the protoactor cluster kind whose activations run this
// host's shell. Register it with the cluster config.
func (h *Host[S]) ClusterKind() *cluster.Kind {
	props := actor.PropsFromProducer(func() actor.Actor { return &grain[S]{h: h} }, actor.WithDispatcher(h.dispatcher))
	return cluster.NewKind(h.kind.Name, props)
}

// Start starts the snapshot writer and the passivator. ctx is the lifetime
// of the host: store calls of its grains are cancelled when it ends or when
// Shutdown gives up. Grains activated before Start answer UNAVAILABLE.
func (h *Host[S]) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return ErrClosed
	case h.started:
		return nil
	}
	h.started = true
	h.life, h.stop = context.WithCancel(ctx)
	if h.writer == nil {
		close(h.writerDone)
	} else {
		go func() {
			defer close(h.writerDone)
			h.writer.run(h.life)
		}()
	}
	if h.passivator == nil {
		close(h.passiveDone)
	} else {
		go func() {
			defer close(h.passiveDone)
			h.passivator.run(h.life)
		}()
	}
	return nil
}

// Shutdown stops accepting snapshots, waits until the queued ones are
// written or ctx ends, then cancels the host's store calls and stops the
// passivator and the mailbox workers. Call it after the grains were
// stopped. It returns an error wrapping ctx.Err() when it gave up on queued
// snapshots or on busy workers.
func (h *Host[S]) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	started := h.started
	h.mu.Unlock()
	if !started {
		return h.dispatcher.close(ctx)
	}
	if h.writer != nil {
		h.writer.close()
	}
	var err error
	select {
	case <-h.writerDone:
	case <-ctx.Done():
		err = fmt.Errorf("grain: shutdown %s: snapshots not drained: %w", h.kind.Name, ctx.Err())
	}
	h.stop()
	if c := h.call.Load(); c != nil {
		c.cancel() // already cancelled with life; releases its timer now
	}
	// Both return promptly once life is cancelled.
	<-h.writerDone
	<-h.passiveDone
	return errors.Join(err, h.dispatcher.close(ctx))
}

// storeCtx returns the context of a store call starting now: it ends with
// the host's lifetime, or between StoreTimeout and StoreTimeout plus an
// eighth after now. All the store calls of the host's grains that start
// within that eighth share one context, so a call costs no timer, no
// allocation and no registration with the lifetime context (whose lock
// every grain would otherwise take twice per call).
func (h *Host[S]) storeCtx() (context.Context, error) {
	now := time.Now()
	if c := h.call.Load(); c != nil && !now.Add(h.cfg.StoreTimeout).After(c.deadline) {
		return c.ctx, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.life == nil {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "host.started", "%s host is not started", h.kind.Name)
	}
	if c := h.call.Load(); c != nil && !now.Add(h.cfg.StoreTimeout).After(c.deadline) {
		return c.ctx, nil // another grain replaced it meanwhile
	}
	// The replaced context stays with the calls that hold it and ends
	// itself at its deadline.
	deadline := now.Add(h.cfg.StoreTimeout + h.cfg.StoreTimeout/8)
	ctx, cancel := context.WithDeadline(h.life, deadline)
	h.call.Store(&storeCall{ctx: ctx, cancel: cancel, deadline: deadline})
	return ctx, nil
}

// CachedStates returns how many passivated states the host keeps.
func (h *Host[S]) CachedStates() int {
	if h.cache == nil {
		return 0
	}
	return h.cache.Len()
}

// observe reports e to the Observer, for callers that hold a
// LifecycleEvent already (the snapshot writer).
func (h *Host[S]) observe(e LifecycleEvent) {
	if h.cfg.Observer != nil {
		h.cfg.Observer(e)
	}
}

// observe reports e to h's Observer. Generic so that e becomes an interface
// value (an allocation) only when there is an observer.
func observe[S any, E LifecycleEvent](h *Host[S], e E) {
	if h.cfg.Observer != nil {
		h.cfg.Observer(e)
	}
}
