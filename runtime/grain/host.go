package grain

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	lru "github.com/hashicorp/golang-lru/v2"
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
// of passivated grains and the snapshot writer.
//
// A Host is started before the cluster member that serves its kind and shut
// down after that member stopped its grains (runtime/node does both).
type Host[S any] struct {
	kind Kind[S]
	cfg  Config

	cache  *lru.Cache[string, *parked[S]] // nil when disabled; safe for concurrent use
	writer *snapshotWriter                // nil when snapshots are disabled
	warns  warnLimiter                    // hydration failures

	mu      sync.Mutex // guards life, stop, started, closed
	life    context.Context
	stop    context.CancelFunc
	started bool
	closed  bool
	done    chan struct{} // closed when the writer goroutine returned
}

// parked is the state of a passivated grain, kept by the host's state cache.
type parked[S any] struct {
	state       S
	version     uint64
	snapVersion uint64
	window      *window
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
	h := &Host[S]{kind: kind, cfg: cfg, done: make(chan struct{})}
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
	return h, nil
}

// Name returns the cluster kind name.
func (h *Host[S]) Name() string { return h.kind.Name }

// ClusterKind returns the protoactor cluster kind whose activations run this
// host's shell. Register it with the cluster config.
func (h *Host[S]) ClusterKind() *cluster.Kind {
	props := actor.PropsFromProducer(func() actor.Actor { return &grain[S]{h: h} })
	return cluster.NewKind(h.kind.Name, props)
}

// Start starts the snapshot writer. ctx is the lifetime of the host: store
// calls of its grains are cancelled when it ends or when Shutdown gives up.
// Grains activated before Start answer UNAVAILABLE.
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
		close(h.done)
		return nil
	}
	go func() {
		defer close(h.done)
		h.writer.run(h.life)
	}()
	return nil
}

// Shutdown stops accepting snapshots, waits until the queued ones are
// written or ctx ends, then cancels the host's store calls. Call it after the
// grains were stopped. It returns ctx.Err() when it gave up on queued
// snapshots.
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
		return nil
	}
	if h.writer != nil {
		h.writer.close()
	}
	var err error
	select {
	case <-h.done:
	case <-ctx.Done():
		err = fmt.Errorf("grain: shutdown %s: snapshots not drained: %w", h.kind.Name, ctx.Err())
	}
	h.stop()
	<-h.done // the writer returns promptly once life is cancelled
	return err
}

// lifetime returns the host's lifetime context, or nil before Start.
func (h *Host[S]) lifetime() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.life
}

// CachedStates returns how many passivated states the host keeps.
func (h *Host[S]) CachedStates() int {
	if h.cache == nil {
		return 0
	}
	return h.cache.Len()
}

func (h *Host[S]) observe(e LifecycleEvent) {
	if h.cfg.Observer != nil {
		h.cfg.Observer(e)
	}
}
