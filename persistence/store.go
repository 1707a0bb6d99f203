package persistence

import (
	"context"
	"errors"

	"github.com/cim/personrt/messages/personv1"
)

// Sentinel errors returned by every store; match them with errors.Is.
var (
	// ErrConflict is returned by Append when the expected version is not the
	// stored last version: another writer appended first.
	ErrConflict = errors.New("persistence: wrong expected version")
	// ErrNotFound is returned by LoadSnapshot when no snapshot exists.
	ErrNotFound = errors.New("persistence: not found")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("persistence: store closed")
	// ErrInvalidEvent is returned by Append for an event that breaks the
	// envelope rules (wrong person, non-contiguous version, missing id or
	// body), and by Load for a stored event that cannot be decoded or
	// upcast. The wrapped message names the rule and the event.
	ErrInvalidEvent = errors.New("persistence: invalid event")
)

// EventStore stores the events of many persons, one ordered stream each.
//
// Implementations are safe for concurrent use. A caller must keep at most
// one Append in flight per person (the grain's mailbox guarantees it);
// appends for different persons may run concurrently.
type EventStore interface {
	// Append stores events for personID if its last stored version is
	// expectedVersion (0 for a person with no events). The events must carry
	// personID, versions expectedVersion+1, +2, … and unique event ids. It
	// returns the new last version. Errors: ErrConflict, ErrInvalidEvent,
	// ErrClosed, or a transport error (the append may or may not have been
	// stored: retry with the same events).
	Append(ctx context.Context, personID string, expectedVersion uint64, events []*personv1.EventEnvelope) (uint64, error)

	// Load calls fn for each event of personID with version >= fromVersion,
	// in version order, upcast to the current schema. It stops at the first
	// error from fn and returns it. A person without events yields nothing.
	// Errors: ErrInvalidEvent (a stored event is undecodable: the person
	// cannot be loaded), ErrClosed, transport errors.
	Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error

	// LastVersion returns the version of personID's last event, 0 if none.
	LastVersion(ctx context.Context, personID string) (uint64, error)
}

// Snapshot is the serialised state of a person after its event at Version.
type Snapshot struct {
	PersonID string
	// Version is the version of the last event folded into State.
	Version uint64
	// SchemaVersion tags the shape of State. Readers ignore a snapshot whose
	// schema version is not the one they expect and rebuild from events.
	SchemaVersion uint32
	// State is opaque to the store.
	State []byte
}

// SnapshotStore keeps the latest snapshot of each person. Safe for
// concurrent use.
type SnapshotStore interface {
	// SaveSnapshot stores s unless a snapshot with a higher version is
	// already stored (then it is a no-op).
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// LoadSnapshot returns the latest snapshot, or ErrNotFound.
	LoadSnapshot(ctx context.Context, personID string) (Snapshot, error)
}
