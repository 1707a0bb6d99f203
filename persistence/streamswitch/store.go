package streamswitch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	pjs "github.com/cim/personrt/persistence/jetstream"
)

// Rules named by the UNAVAILABLE errors of a [Store]. Clients retry the
// command with the same command id.
const (
	// RuleFenced: a migration fenced the stream to switch to another one.
	RuleFenced = "store.fenced"
	// RuleSwitching: the stream refused the write (sealed by a migration)
	// or was swapped during the call.
	RuleSwitching = "store.switching"
	// RuleRouteOpen: the active stream could not be opened (yet).
	RuleRouteOpen = "store.route_open"
)

// errSealed is the server's error code for a write to a sealed stream.
const errSealed jetstream.ErrorCode = 10109

// Log attribute keys.
const (
	logKey   = "route_key"
	logRoute = "route"
	logErr   = "err"
)

// Config configures a [Store]. Base is required in spirit: its zero value
// is the default Person store.
type Config struct {
	// Base is the configuration of the underlying JetStream store; its
	// Stream, SubjectPrefix and SnapshotBucket are the route used while no
	// record exists and are replaced by the active route of the record.
	Base pjs.Config
	// Bucket is the KV bucket of the route records. Default DefaultBucket.
	Bucket string
	// Key is the route key. Default: the base route's stream name.
	Key string
	// RetryWait is the pause between attempts to re-create a failed
	// watch. Default 1s.
	RetryWait time.Duration
	// Logger receives route changes and watch failures. Nil discards.
	Logger *slog.Logger
}

// Store is a [persistence.EventStore] and [persistence.SnapshotStore] that
// routes every call to the JetStream store of the active route of its key,
// and refuses appends while the key is fenced. Safe for concurrent use.
//
// Lock order: switchMu before mu; neither is held while calling a store.
type Store struct {
	cfg    Config
	base   Route
	nc     *nats.Conn
	routes *Routes
	closed atomic.Bool

	switchMu sync.Mutex // serialises route changes (held while opening a store)

	lastRefresh atomic.Int64 // unix nanos of the last refresh of a fenced record

	mu     sync.RWMutex // guards the fields below
	rec    Record       // latest record applied (base route when none)
	rev    uint64       // its revision, 0 for none
	active *pjs.Store   // store of active; nil while it cannot be opened
	route  Route        // route of active
}

var (
	_ persistence.EventStore    = (*Store)(nil)
	_ persistence.SnapshotStore = (*Store)(nil)
)

// Open reads the route record (creating the routes bucket if needed) and
// opens the JetStream store of the active route. When that store cannot be
// opened while a fence is set (the migration sealed the stream, which the
// JetStream store's Open refuses to update), Open still succeeds: every
// call answers UNAVAILABLE until the switch. Open starts no goroutine: run
// [Store.Run] to follow the record.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	base := RouteOf(cfg.Base)
	if cfg.Key == "" {
		cfg.Key = base.Stream
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := base.check(); err != nil {
		return nil, err
	}
	routes, err := OpenRoutes(ctx, nc, RoutesConfig{Bucket: cfg.Bucket, Replicas: cfg.Base.Replicas, MemoryStorage: cfg.Base.MemoryStorage, APIPrefix: cfg.Base.APIPrefix})
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, base: base, nc: nc, routes: routes, rec: Record{Active: base}}
	rec, rev, found, err := routes.Get(ctx, cfg.Key)
	if err != nil {
		return nil, err
	}
	if !found {
		rec = Record{Active: base}
	}
	if err := s.apply(ctx, rec, rev); err != nil && rec.Fence == nil {
		return nil, err
	}
	return s, nil
}

// Route returns the active route and a copy of the fence, if any.
func (s *Store) Route() (Route, *Fence) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rec.Fence == nil {
		return s.rec.Active, nil
	}
	f := *s.rec.Fence
	return s.rec.Active, &f
}

// Run follows the route record until ctx ends, switching stores as it
// changes, and returns nil then. A failed watch is re-created after
// Config.RetryWait. Deleting the record is ignored (the store keeps its
// route): routes only move forward.
func (s *Store) Run(ctx context.Context) error {
	for {
		if err := s.watch(ctx); err != nil {
			s.cfg.Logger.Warn("streamswitch: route watch failed", slog.String(logKey, s.cfg.Key), slog.Any(logErr, err))
		}
		t := time.NewTimer(s.cfg.RetryWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// watch applies the record's updates until ctx ends or the watch fails.
func (s *Store) watch(ctx context.Context) error {
	w, err := s.routes.kv.Watch(ctx, s.cfg.Key)
	if err != nil {
		return err
	}
	defer func() {
		// Stop fails only when the watch is already gone.
		_ = w.Stop()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("watch ended")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // end of the initial values, or a delete (ignored)
			}
			rec, err := decodeRecord(e.Value())
			if err != nil {
				s.cfg.Logger.Warn("streamswitch: ignoring an invalid route record", slog.String(logKey, s.cfg.Key), slog.Uint64("revision", e.Revision()), slog.Any(logErr, err))
				continue
			}
			if err := s.apply(ctx, rec, e.Revision()); err != nil {
				s.cfg.Logger.Warn("streamswitch: cannot open the active stream", slog.String(logKey, s.cfg.Key), slog.String(logRoute, rec.Active.String()), slog.Any(logErr, err))
			}
		}
	}
}

// fencedRefreshEvery bounds how often appends refused by a fence read the
// record themselves.
const fencedRefreshEvery = 20 * time.Millisecond

// refreshDue reports whether a fenced append should read the record again.
func (s *Store) refreshDue() bool {
	now := time.Now().UnixNano()
	last := s.lastRefresh.Load()
	return now-last >= int64(fencedRefreshEvery) && s.lastRefresh.CompareAndSwap(last, now)
}

// refresh reads the record now (after a write the stream refused, or
// while the active store is not open) and applies it.
func (s *Store) refresh(ctx context.Context) {
	rec, rev, found, err := s.routes.Get(ctx, s.cfg.Key)
	if err != nil || !found {
		if err != nil {
			s.cfg.Logger.Warn("streamswitch: read route", slog.String(logKey, s.cfg.Key), slog.Any(logErr, err))
		}
		return
	}
	s.mu.RLock()
	// The same record again: nothing to do unless its store failed to open
	// outside a fence (a fenced stream may be sealed and cannot be opened).
	unchanged := rev == s.rev && (s.active != nil || s.rec.Fence != nil)
	s.mu.RUnlock()
	if unchanged {
		return
	}
	if err := s.apply(ctx, rec, rev); err != nil {
		s.cfg.Logger.Warn("streamswitch: cannot open the active stream", slog.String(logKey, s.cfg.Key), slog.String(logRoute, rec.Active.String()), slog.Any(logErr, err))
	}
}

// apply installs rec (revision rev) unless a newer one is installed,
// opening the store of its active route when it changed or is not open.
func (s *Store) apply(ctx context.Context, rec Record, rev uint64) error {
	s.switchMu.Lock()
	defer s.switchMu.Unlock()
	s.mu.RLock()
	stale := rev != 0 && rev < s.rev
	reopen := s.active == nil || s.route != rec.Active
	s.mu.RUnlock()
	if stale {
		return nil
	}
	var opened *pjs.Store
	var openErr error
	if reopen {
		opened, openErr = pjs.Open(ctx, s.nc, rec.Active.Config(s.cfg.Base))
	}
	s.mu.Lock()
	old, changed := s.active, s.route != rec.Active || (s.rec.Fence == nil) != (rec.Fence == nil)
	s.rec, s.rev = rec, rev
	switch {
	case opened != nil:
		s.active, s.route = opened, rec.Active
	case reopen:
		s.active = nil // never keep writing to a route that is no longer active
	default:
		old = nil
	}
	s.mu.Unlock()
	if old != nil {
		// Close only marks the store closed (calls in flight finish); it
		// always returns nil.
		_ = old.Close()
	}
	if changed {
		s.cfg.Logger.Info("streamswitch: route", slog.String(logKey, s.cfg.Key), slog.String(logRoute, rec.Active.String()),
			slog.Bool("fenced", rec.Fence != nil), slog.Uint64("epoch", rec.Epoch), slog.Bool("open", s.isOpen()))
	}
	if openErr != nil {
		return fmt.Errorf("streamswitch: open %s: %w", rec.Active, openErr)
	}
	return nil
}

func (s *Store) isOpen() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.active != nil
}

// current returns the active store (nil when not open) and the record.
func (s *Store) current() (*pjs.Store, Record) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.active, s.rec
}

// unavailable returns the retryable error of a call that cannot be served
// now.
func unavailable(rule, format string, args ...any) error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, rule, format+"; retry with the same command id", args...)
}

// store returns the store to call, or the error to return instead.
func (s *Store) store(ctx context.Context, op string) (*pjs.Store, Record, error) {
	if s.closed.Load() {
		return nil, Record{}, fmt.Errorf("%s: %w", op, persistence.ErrClosed)
	}
	st, rec := s.current()
	if st == nil {
		s.refresh(ctx)
		if st, rec = s.current(); st == nil {
			return nil, rec, fmt.Errorf("%s: %w", op, unavailable(RuleRouteOpen, "event stream %s is not open (fenced: %t)", rec.Active, rec.Fence != nil))
		}
	}
	return st, rec, nil
}

// swapped reports whether err comes from a store that was replaced during
// the call (it was closed by the switch, not by the caller).
func (s *Store) swapped(err error) bool {
	return errors.Is(err, persistence.ErrClosed) && !s.closed.Load()
}

// Append implements [persistence.EventStore]. While the key is fenced it
// returns an UNAVAILABLE *personv1.Error (rule [RuleFenced]) without
// writing; a write the stream refuses because a migration sealed it, or
// that meets a store swapped by a switch, is UNAVAILABLE too (rule
// [RuleSwitching]) after the record is read again. Clients retry with the
// same command id.
func (s *Store) Append(ctx context.Context, personID string, expectedVersion uint64, events []*personv1.EventEnvelope) (uint64, error) {
	op := fmt.Sprintf("append %s@%d", personID, expectedVersion)
	st, rec, err := s.store(ctx, op)
	if err == nil && rec.Fence != nil && s.refreshDue() {
		// The fence may be gone already: do not wait for the watch.
		s.refresh(ctx)
		st, rec, err = s.store(ctx, op)
	}
	if err != nil {
		return 0, err
	}
	if rec.Fence != nil {
		return 0, fmt.Errorf("%s: %w", op, unavailable(RuleFenced, "event stream %s is fenced for a switch to %s", rec.Active, rec.Fence.Target))
	}
	v, err := st.Append(ctx, personID, expectedVersion, events)
	if err == nil {
		return v, nil
	}
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.ErrorCode == errSealed || s.swapped(err) {
		s.refresh(ctx)
		return 0, fmt.Errorf("%s: %w", op, unavailable(RuleSwitching, "event stream %s refused the write (%v)", rec.Active, err))
	}
	return 0, err
}

// Load implements [persistence.EventStore] on the active stream (also
// while fenced: the fenced stream is complete).
func (s *Store) Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	return s.read(ctx, fmt.Sprintf("load %s from %d", personID, fromVersion), func(st *pjs.Store) error {
		return st.Load(ctx, personID, fromVersion, fn)
	})
}

// LastVersion implements [persistence.EventStore] on the active stream.
func (s *Store) LastVersion(ctx context.Context, personID string) (uint64, error) {
	var v uint64
	err := s.read(ctx, "last version of "+personID, func(st *pjs.Store) error {
		var err error
		v, err = st.LastVersion(ctx, personID)
		return err
	})
	return v, err
}

// SaveSnapshot implements [persistence.SnapshotStore] on the snapshot
// bucket of the active route.
func (s *Store) SaveSnapshot(ctx context.Context, snap persistence.Snapshot) error {
	return s.read(ctx, fmt.Sprintf("save snapshot %s@%d", snap.PersonID, snap.Version), func(st *pjs.Store) error {
		return st.SaveSnapshot(ctx, snap)
	})
}

// LoadSnapshot implements [persistence.SnapshotStore] on the snapshot
// bucket of the active route.
func (s *Store) LoadSnapshot(ctx context.Context, personID string) (persistence.Snapshot, error) {
	var snap persistence.Snapshot
	err := s.read(ctx, "load snapshot "+personID, func(st *pjs.Store) error {
		var err error
		snap, err = st.LoadSnapshot(ctx, personID)
		return err
	})
	return snap, err
}

// read calls f with the active store, once more with the new one when the
// store was swapped before f could start (a swapped store refuses calls
// up front, so f has delivered nothing).
func (s *Store) read(ctx context.Context, op string, f func(*pjs.Store) error) error {
	for attempt := 0; ; attempt++ {
		st, _, err := s.store(ctx, op)
		if err != nil {
			return err
		}
		err = f(st)
		if !s.swapped(err) {
			return err
		}
		if attempt == 1 {
			return fmt.Errorf("%s: %w", op, unavailable(RuleSwitching, "the event stream was switched during the call"))
		}
	}
}

// Close makes every later call return persistence.ErrClosed and closes
// the active store. It does not close the connection nor stop Run (cancel
// its ctx). Idempotent; returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	if st, _ := s.current(); st != nil {
		return st.Close()
	}
	return nil
}
