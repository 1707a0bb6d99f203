package grain

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cim/personrt/persistence"
)

// ErrInvalidConfig is returned by NewHost for a Config or Kind that breaks a
// rule; the wrapped message names the rule.
var ErrInvalidConfig = errors.New("grain: invalid config")

// Defaults applied by NewHost to zero Config fields.
const (
	DefaultIdleTimeout        = 5 * time.Minute
	DefaultSnapshotEvery      = 16 // bench hydrate: a 16-event tail costs ~0.6 ms p50, 32 events ~1.5 ms
	DefaultSnapshotQueue      = 1024
	DefaultIdempotencyWindow  = 256 // commands per person: a retry after a 5 s outage under load is ~80 commands late
	DefaultStateCacheSize     = 10_000
	DefaultMaxConflictRetries = 3
	DefaultStoreTimeout       = 5 * time.Second
)

// MaxIdempotencyWindow bounds Config.IdempotencyWindow: the window is
// stored in every snapshot (about 50 bytes per command).
const MaxIdempotencyWindow = 4096

// DefaultResultCacheSize is the former default of Config.ResultCacheSize.
//
// Deprecated: use DefaultIdempotencyWindow.
const DefaultResultCacheSize = DefaultIdempotencyWindow

// Config configures a Host. The zero value of every field but Events means
// its default.
type Config struct {
	// Events is the event store grains hydrate from and append to. Required.
	Events persistence.EventStore
	// Snapshots keeps snapshots of kinds with a SnapshotCodec. Nil disables
	// snapshots.
	Snapshots persistence.SnapshotStore

	// IdleTimeout passivates a grain that received no message for this long
	// (at most a quarter longer: the host checks every quarter of it).
	// Default DefaultIdleTimeout; negative never passivates.
	IdleTimeout time.Duration
	// SnapshotEvery writes a snapshot after a command whose events reach a
	// version that is a multiple of it (or the first command after an
	// activation that replayed such a version). Default DefaultSnapshotEvery;
	// negative disables snapshot writes (stored snapshots are still read).
	SnapshotEvery int
	// SnapshotQueue bounds the snapshots waiting for the writer; a snapshot
	// that finds the queue full is dropped and retried after the grain's next
	// command. Default DefaultSnapshotQueue.
	SnapshotQueue int
	// IdempotencyWindow is how many of its most recent commands that wrote
	// events a grain recognises when they are retried: it answers their
	// first result and writes nothing. The window moves with the grain: it
	// is kept in the host's state cache and in every snapshot, and extended
	// with the causation ids of the events replayed at activation. A retry
	// of an older command is decided again (package doc, "Idempotency
	// window"). Default DefaultIdempotencyWindow, at most
	// MaxIdempotencyWindow.
	IdempotencyWindow int
	// ResultCacheSize is the former name of IdempotencyWindow, used when
	// IdempotencyWindow is zero.
	//
	// Deprecated: use IdempotencyWindow.
	ResultCacheSize int
	// StateCacheSize bounds the hydrated states of passivated grains kept by
	// this host, so that a re-activation reads only the events after the
	// cached version. Default DefaultStateCacheSize; negative disables it.
	StateCacheSize int
	// MaxConflictRetries bounds how often a command is decided again after
	// another activation appended first; then the caller gets CONFLICT.
	// Default DefaultMaxConflictRetries; negative means no retry.
	MaxConflictRetries int
	// StoreTimeout bounds every store call made on a grain's behalf: the
	// call's context ends between StoreTimeout and StoreTimeout plus an
	// eighth after the call starts (calls share contexts; see the package
	// doc). Default DefaultStoreTimeout.
	StoreTimeout time.Duration

	// Now is the clock read at the edge and passed to Decide. Default time.Now.
	Now func() time.Time
	// Logger receives warnings and errors; nil discards them.
	Logger *slog.Logger
	// Observer, when set, receives every lifecycle event synchronously on the
	// goroutine that produced it (a grain or the snapshot writer). It must
	// not block and must be safe for concurrent use.
	Observer func(LifecycleEvent)
}

// validate fills defaults and rejects bad input.
func (c *Config) validate() error {
	if c.Events == nil {
		return fmt.Errorf("%w: rule config.events: an event store is required", ErrInvalidConfig)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.IdleTimeout > 0 && c.IdleTimeout < time.Millisecond {
		return fmt.Errorf("%w: rule config.idle_timeout: %v is below 1ms", ErrInvalidConfig, c.IdleTimeout)
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.SnapshotQueue == 0 {
		c.SnapshotQueue = DefaultSnapshotQueue
	}
	if c.SnapshotQueue < 0 {
		return fmt.Errorf("%w: rule config.snapshot_queue: %d is negative", ErrInvalidConfig, c.SnapshotQueue)
	}
	if c.IdempotencyWindow == 0 {
		c.IdempotencyWindow = c.ResultCacheSize
	}
	if c.IdempotencyWindow == 0 {
		c.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if c.IdempotencyWindow < 0 || c.IdempotencyWindow > MaxIdempotencyWindow {
		return fmt.Errorf("%w: rule config.idempotency_window: %d is not within 1..%d", ErrInvalidConfig, c.IdempotencyWindow, MaxIdempotencyWindow)
	}
	if c.StateCacheSize == 0 {
		c.StateCacheSize = DefaultStateCacheSize
	}
	if c.MaxConflictRetries == 0 {
		c.MaxConflictRetries = DefaultMaxConflictRetries
	}
	if c.MaxConflictRetries < 0 {
		c.MaxConflictRetries = 0
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = DefaultStoreTimeout
	}
	if c.StoreTimeout < 0 {
		return fmt.Errorf("%w: rule config.store_timeout: %v is negative", ErrInvalidConfig, c.StoreTimeout)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// validateKind rejects a Kind without its required functions.
func validateKind[S any](k *Kind[S]) error {
	switch {
	case k.Name == "":
		return fmt.Errorf("%w: rule kind.name: a kind needs a name", ErrInvalidConfig)
	case k.Decide == nil:
		return fmt.Errorf("%w: rule kind.decide: kind %s has no Decide", ErrInvalidConfig, k.Name)
	case k.Apply == nil:
		return fmt.Errorf("%w: rule kind.apply: kind %s has no Apply", ErrInvalidConfig, k.Name)
	case k.SchemaVersion == nil:
		return fmt.Errorf("%w: rule kind.schema_version: kind %s has no SchemaVersion", ErrInvalidConfig, k.Name)
	case k.Snapshot != nil && (k.Snapshot.Encode == nil || k.Snapshot.Decode == nil):
		return fmt.Errorf("%w: rule kind.snapshot: kind %s has a snapshot codec without Encode or Decode", ErrInvalidConfig, k.Name)
	case k.Snapshot != nil && k.Snapshot.SchemaVersion > maxKindSchema:
		return fmt.Errorf("%w: rule kind.snapshot.schema_version: kind %s has snapshot schema version %d, above %d", ErrInvalidConfig, k.Name, k.Snapshot.SchemaVersion, maxKindSchema)
	}
	return nil
}
