// Package memstore is an in-memory [persistence.EventStore] and
// [persistence.SnapshotStore] with the same semantics as the JetStream
// adapter: optimistic concurrency with [persistence.ErrConflict], idempotent
// retries by event id, all-or-nothing multi-event appends, [persistence.ErrClosed]
// after Close. It is a real store, not a mock: tests and examples of the
// grain shell run against it, and it passes persistence/storetest.
//
// # Concurrency
//
// One RWMutex guards all state. Stored events are immutable clones; Load
// copies the person's event list under the read lock and calls its callback
// outside any lock, with a fresh clone per event.
package memstore
