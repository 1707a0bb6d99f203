// Package jetstream is the NATS JetStream adapter of the event store: a
// [persistence.EventStore] and [persistence.SnapshotStore] over one stream
// and one KV bucket. NATS types never leave it: callers pass a *nats.Conn to
// [Open] and get the persistence port back.
//
// # Stream
//
// [Open] creates or updates it ([StreamConfig]): stream PERSON_EVENTS (Config.Stream), one
// subject per person "person.events.<personID>" (Config.SubjectPrefix, so
// that another event-sourced kind can use its own stream), R1 by default
// and R3 in a cluster (Config.Replicas), no age or size limit (events are
// the source of truth), discard new, an explicit duplicate window
// (Config.Duplicates, default 2m), deletes and purges denied, direct get
// and atomic batch publish allowed. Durability is the server's fsync
// setting (runtime/natsserver Config.Sync: "always", the single-node
// default, or "interval"); bench/README.md measures both.
//
// # Stored events
//
// One message per event. The payload is the protojson (proto field names)
// of the event body message at its current schema version, e.g. for a
// NameUpdated:
//
//	{"old_name":{"given_names":["Ada"],"family_names":["Byron"]},
//	 "new_name":{"given_names":["Ada"],"family_names":["King"]},"change_reason":"marriage"}
//
// so that `nats stream view PERSON_EVENTS` is readable. The metadata is in
// headers:
//
//	Nats-Msg-Id          event id (UUIDv7): the server's idempotency key
//	Cim-Event-Type       message name of the body: "NameUpdated"
//	Cim-Schema-Version   schema version of the payload: "2"
//	Cim-Person-Id        the person
//	Cim-Person-Version   the person's version after this event: "7"
//	Cim-Occurred-At      RFC 3339 with nanoseconds
//	Cim-Correlation-Id   optional
//	Cim-Causation-Id     optional: the id of the command that produced it
//	Cim-Actor            optional: who did it
//	Content-Type         application/json
//	Cim-Prev-Seqs        backlinks (below): "S1,d2,d3,…"
//	Cim-Batch-Index      i > 0: the event is the i-th of an atomic append
//	Nats-Expected-Last-Subject-Sequence, Nats-Batch-*  kept by the server
//
// On every read the payload is lifted to the current schema by
// messages/upcast. A message without Cim-Event-Type is a raw message of the
// original system and is decoded by upcast.DecodeLegacy. docs/EVENTS.md has
// the full reference.
//
// # Optimistic concurrency
//
// Append turns the expected person version into the expected last stream
// sequence of the person's subject (Nats-Expected-Last-Subject-Sequence),
// which the server checks: of two writers only one can succeed. The
// sequence comes from a bounded LRU cache of what this store has seen
// (appends, loads, snapshots), or else from the subject's last message. A
// rejection (10071; 10164 on replicated streams; 10201 for an atomic batch
// whose ids the server has seen) is [persistence.ErrConflict] unless the
// subject's last message is the append's own last event: then an earlier
// attempt was stored and its ack lost, and the retry succeeds without
// writing (R1 and R3 answer such a retry differently; this check covers
// both). A transport error leaves the outcome unknown: retry with the same
// events.
//
// One event is one plain publish. Several events of one command are one
// atomic batch (headers Nats-Batch-Id / Nats-Batch-Sequence /
// Nats-Batch-Commit, nats.go has no API for it): all or none are stored,
// contiguously. On an R1 file stream the server stages a batch with an
// fsync per message, so a multi-event append costs milliseconds rather
// than tens of microseconds (bench/README.md).
//
// # Hydration and backlinks
//
// Reading a subject with next_by_subj costs time in proportion to the
// messages of other persons stored in between (the file store walks its
// blocks), so a person's events interleaved in a large stream are slow to
// read however few they are. Every event therefore carries the stream
// sequences of its person's previous Config.Backlinks events (Cim-Prev-Seqs:
// the newest absolute, then the differences). Load reads the last message
// (a direct get by subject), takes the sequences from its backlinks (one
// more round per Backlinks events for a longer tail) and fetches the
// events from the requested version on by exact sequence with pipelined
// direct gets: the cost follows the number of events read. Combined with a
// snapshot every Backlinks+1 events or fewer, hydration is three round
// trips whatever the history and the interleaving. Every fetched message is
// checked (subject, version); a broken link falls back to scanning, as do
// events stored without backlinks. No consumer is created, so none can
// leak (the server allows 1000 per stream).
//
// In a cluster, direct gets may be answered by a replica a moment behind
// the leader. A stale read can only make an append fail with ErrConflict
// (the caller reloads and retries), never lose or duplicate an event.
//
// # Snapshots
//
// A KV bucket (Config.SnapshotBucket, History 1) keyed by person id holds
// the latest snapshot: its version, the schema version of its state, the
// state, and the stream sequence of its last event. SaveSnapshot updates
// by revision and never replaces a newer snapshot. When to snapshot is the
// caller's decision (bench/README.md recommends every 16 events).
//
// # Concurrency
//
// A Store is safe for concurrent use. Appends of different persons
// pipeline over the shared connection; callers keep one append in flight
// per person. The cache has one mutex, held only to read or update an
// entry; no lock is held across I/O.
package jetstream
