package grain

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
)

// Kind is the pure behaviour of one event-sourced actor kind, over its state
// type S. The shell calls these functions on the grain's goroutine, one
// message at a time, and never concurrently for one grain; they must not do
// I/O. A function that panics is treated as a bug: the caller is answered
// with INTERNAL and the grain re-hydrates from the store.
type Kind[S any] struct {
	// Name is the cluster kind name clients address ("person"). Required.
	Name string

	// Initial returns the state of a grain with no events. Nil means the zero S.
	Initial func(id string) S

	// Decide returns the events a command produces in state s at now, or a
	// rejection (a *personv1.Error naming the broken rule). No events and no
	// error means the command changes nothing. Required.
	Decide func(s S, cmd *personv1.Command, now time.Time) ([]*personv1.Event, error)

	// Apply folds one stored event into s. It cannot fail for a stored
	// event; a broken invariant panics. Required.
	Apply func(s S, e *personv1.EventEnvelope) S

	// SchemaVersion returns the current schema version of an event type; the
	// shell stamps it on every envelope it writes. Required.
	SchemaVersion func(eventType string) uint32

	// Snapshot serialises states for the snapshot store. Nil disables
	// snapshots for this kind.
	Snapshot *SnapshotCodec[S]

	// Query answers a read-only message (anything but a *personv1.Command),
	// for example *personv1.GetPerson with a *personv1.PersonReply. ok false
	// means the message is not a query of this kind: the caller gets an
	// UNIMPLEMENTED *personv1.Error. Nil means the kind has no queries.
	Query func(v View[S], q proto.Message) (reply proto.Message, ok bool)
}

// SnapshotCodec converts a kind's state to and from the bytes kept by a
// persistence.SnapshotStore.
type SnapshotCodec[S any] struct {
	// SchemaVersion tags the encoding; at most 2^24-1 (the shell keeps its
	// own envelope's format in the top byte of the stored tag). A stored
	// snapshot with another schema version is ignored and the state is
	// rebuilt from events.
	SchemaVersion uint32
	// Encode serialises s. It must not retain or modify s.
	Encode func(s S) ([]byte, error)
	// Decode is the inverse of Encode.
	Decode func(b []byte) (S, error)
}

// View is what a query sees: the grain's identity, the version of its last
// applied event and its state. The state is owned by the grain: a query must
// not modify it nor return parts of it that the grain may modify later.
type View[S any] struct {
	ID      string
	Version uint64
	State   S
}
