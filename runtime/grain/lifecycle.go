package grain

import (
	"time"

	"github.com/cim/personrt/messages/personv1"
)

// LifecycleEvent is one of the typed lifecycle events a Host reports to
// Config.Observer: [Activated], [Passivated], [CommandHandled],
// [ConflictRetried], [Panicked], [HydrationFailed], [SnapshotSaved] and
// [SnapshotFailed]. Tests, logs and metrics consume the same structs.
type LifecycleEvent interface {
	lifecycleEvent()
}

// Activated reports a grain that finished hydrating.
type Activated struct {
	Kind, ID string
	// Version is the version of the last applied event.
	Version uint64
	// Cached is true when the state came from the host's state cache.
	Cached bool
	// SnapshotVersion is the version of the snapshot hydrated from, 0 if none.
	SnapshotVersion uint64
	// Replayed counts the events read from the event store.
	Replayed int
	// Commands counts the commands in the idempotency window after
	// hydration: their retries are answered with their first result.
	Commands int
	// Restart is true for a re-hydration after a panic.
	Restart bool
	Took    time.Duration
}

// Passivated reports a grain that stopped (idle, rebalanced or shut down).
type Passivated struct {
	Kind, ID string
	Version  uint64
	// Cached is true when its state was kept in the host's state cache.
	Cached bool
}

// CommandHandled reports the outcome of one command.
type CommandHandled struct {
	Kind, ID, CommandID, CommandType string
	// Version is the grain's version after the command.
	Version uint64
	// Events counts the events written (or first written, for a duplicate).
	Events    int
	Duplicate bool
	// Conflicts counts the appends lost to another writer before the outcome.
	Conflicts int
	// Code is ERROR_CODE_UNSPECIFIED on success.
	Code personv1.ErrorCode
	Took time.Duration
}

// ConflictRetried reports an append lost to another writer; the grain reads
// the new events and decides the command again.
type ConflictRetried struct {
	Kind, ID, CommandID string
	// Expected is the version the lost append expected.
	Expected uint64
	// Attempt counts from 1.
	Attempt int
}

// Panicked reports a panic in the kind's code. The caller was answered with
// INTERNAL and the grain re-hydrates from the store.
type Panicked struct {
	Kind, ID string
	// Phase is "decide", "apply", "query" or "snapshot".
	Phase string
	Value any
	Stack []byte
}

// HydrationFailed reports an activation (or catch-up) that could not read
// the store or fold its events; the next message tries again.
type HydrationFailed struct {
	Kind, ID string
	Err      error
}

// SnapshotSaved reports a snapshot written by the snapshot writer.
type SnapshotSaved struct {
	Kind, ID string
	Version  uint64
	Bytes    int
}

// SnapshotFailed reports a snapshot that was not written: encoding or the
// store failed, or the writer's queue was full (Err is ErrSnapshotQueueFull).
type SnapshotFailed struct {
	Kind, ID string
	Version  uint64
	Err      error
}

func (Activated) lifecycleEvent()       {}
func (Passivated) lifecycleEvent()      {}
func (CommandHandled) lifecycleEvent()  {}
func (ConflictRetried) lifecycleEvent() {}
func (Panicked) lifecycleEvent()        {}
func (HydrationFailed) lifecycleEvent() {}
func (SnapshotSaved) lifecycleEvent()   {}
func (SnapshotFailed) lifecycleEvent()  {}
