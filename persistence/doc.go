// Package persistence defines the event store port that grains stand on:
// [EventStore] appends a person's events with optimistic concurrency and
// loads them back in order, upcast to the current schema; [SnapshotStore]
// keeps the latest folded state of a person.
//
// # Adapters
//
//   - persistence/jetstream: NATS JetStream (the production store)
//   - persistence/memstore: in memory, for tests and examples
//
// Both run the shared conformance suite in persistence/storetest.
//
// # Invariants
//
//   - Append succeeds only when the stored last version equals the expected
//     version; otherwise it returns [ErrConflict]. Two writers on one person
//     can never both succeed.
//   - Event ids are idempotency keys: appending the same events again at the
//     same expected version after a lost acknowledgement returns the version
//     they were stored at and writes nothing.
//   - Events of one command are stored all or nothing.
//   - Load yields a person's events in version order, contiguous from the
//     requested version, holding at most one event in memory at a time.
package persistence
