// Package storetest is the conformance suite every [persistence.EventStore]
// and [persistence.SnapshotStore] runs (like testing/slogtest for slog
// handlers):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Stores {
//			s := memstore.New()
//			return storetest.Stores{Events: s, Snapshots: s}
//		})
//	}
//
// # What it checks
//
//   - append and load order, Load from a version, long histories;
//   - optimistic concurrency: a stale expected version is [persistence.ErrConflict]
//     and writes nothing; of two concurrent writers on one person exactly one wins;
//   - idempotent retry: the same events at the same expected version after a
//     lost acknowledgement return the same version and write nothing;
//   - envelope rules: [persistence.ErrInvalidEvent] for a wrong person id, a
//     non-contiguous version, an empty or repeated id, no body, a wrong type
//     or schema version; nothing of a rejected append is stored;
//   - LastVersion; snapshots: save, load, the latest wins, [persistence.ErrNotFound];
//   - [persistence.ErrClosed] from every call after Close.
//
// [NewEvent] and [NewPersonID] build valid input for other tests.
package storetest
