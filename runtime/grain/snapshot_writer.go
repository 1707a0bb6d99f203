package grain

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cim/personrt/persistence"
)

// ErrSnapshotQueueFull is reported in SnapshotFailed when a snapshot found
// the writer's queue full (or the writer stopped) and was dropped.
var ErrSnapshotQueueFull = errors.New("grain: snapshot queue full")

// snapshotWriter writes snapshots off the command path: grains enqueue
// without blocking, one goroutine saves them in order.
type snapshotWriter struct {
	store   persistence.SnapshotStore
	timeout time.Duration
	kind    string
	log     *slog.Logger
	observe func(LifecycleEvent)

	warns warnLimiter

	mu     sync.Mutex // guards closed and sends on queue
	closed bool
	queue  chan persistence.Snapshot
}

func newSnapshotWriter(store persistence.SnapshotStore, size int, timeout time.Duration, kind string, log *slog.Logger, observe func(LifecycleEvent)) *snapshotWriter {
	return &snapshotWriter{store: store, timeout: timeout, kind: kind, log: log, observe: observe, queue: make(chan persistence.Snapshot, size)}
}

// enqueue hands s to the writer; false means it was dropped (queue full or
// writer closed).
func (w *snapshotWriter) enqueue(s persistence.Snapshot) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	select {
	case w.queue <- s:
		return true
	default:
		return false
	}
}

// close stops intake; run then drains what is queued and returns.
func (w *snapshotWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
}

// run saves queued snapshots until close was called and the queue is empty,
// or ctx ends (queued snapshots are then dropped: they are an optimisation).
func (w *snapshotWriter) run(ctx context.Context) {
	for {
		select {
		case s, ok := <-w.queue:
			if !ok {
				return
			}
			w.save(ctx, s)
		case <-ctx.Done():
			return
		}
	}
}

func (w *snapshotWriter) save(ctx context.Context, s persistence.Snapshot) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if err := w.store.SaveSnapshot(ctx, s); err != nil {
		if ok, dropped := w.warns.allow(time.Now()); ok {
			w.log.Warn("snapshot not saved", slog.String(logKind, w.kind), slog.String(logID, s.PersonID), slog.Uint64(logVersion, s.Version), slog.Any(logErr, err), slog.Int("suppressed", dropped))
		}
		w.observe(SnapshotFailed{Kind: w.kind, ID: s.PersonID, Version: s.Version, Err: err})
		return
	}
	w.observe(SnapshotSaved{Kind: w.kind, ID: s.PersonID, Version: s.Version, Bytes: len(s.State)})
}
