// Package streamswitch lets running nodes move from one event stream to
// another without losing a command: a [Store] routes every call to the
// JetStream store (persistence/jetstream) of the stream named by a route
// record in a JetStream KV bucket, and refuses appends while the record
// carries a write fence. `personctl migrate` (runtime/migrate) drives the
// record through [Routes].
//
// # Route records
//
// Bucket [DefaultBucket] holds one key per logical stream, by convention
// the name of its first stream ("PERSON_EVENTS"). The value is a JSON
// [Record]:
//
//	{"active":{"stream":"PERSON_EVENTS_V2","subject_prefix":"person_events_v2",
//	           "snapshot_bucket":"PERSON_EVENTS_V2_SNAPSHOTS"},
//	 "fence":{"target":{…},"since":"…","by":"personctl migrate"},"epoch":1}
//
// Without a record the logical stream lives at the route of the base
// store config ([RouteOf]). Every stream has its own snapshot bucket:
// a snapshot remembers the stream sequence of its last event, which means
// nothing in another stream. Two streams of one server cannot bind the
// same subjects, so the new stream has its own subject prefix.
//
// # Switch protocol
//
//  1. The migrator copies the active stream S into the new stream T while
//     nodes keep appending to S.
//  2. [Routes.Fence] sets the fence {target T} (compare-and-set on the
//     key's revision). Nodes see it through their watch ([Store.Run]) and
//     answer every Append with UNAVAILABLE (rule [RuleFenced]) without
//     writing; reads still go to S, which is complete.
//  3. The migrator seals S (JetStream StreamConfig.Sealed). The server
//     then refuses every write to S: a node whose watch lags, or whose
//     append was already on its way, gets the sealed error, which the
//     Store turns into UNAVAILABLE (rule [RuleSwitching]) after reading the
//     record again. So every append to S either was stored before the seal
//     or failed; none is lost in between, whatever the nodes know.
//  4. The migrator copies the tail of S, which is now final, into T.
//  5. [Routes.Switch] makes T active and lifts the fence. Nodes open the
//     store of T and append there; the client's retry (same command id)
//     succeeds on T, where the events of the first attempt, if any,
//     were copied with their ids and causation ids.
//
// S stays (sealed, readable) until `personctl migrate --finalize`.
//
// # Failure modes
//
//   - A node whose watch is down keeps appending to S until the seal; after
//     it, its appends fail with UNAVAILABLE and it reads the record on
//     every refused write, so it follows the switch without its watch.
//   - The migrator dies after the fence, before the seal: nodes stay
//     UNAVAILABLE for writes until `migrate --resume` continues (or
//     [Routes.Unfence] lifts the fence). After the seal there is no way
//     back: a sealed stream cannot be unsealed, so the resume completes the
//     switch (T already holds the copy).
//   - A node starting while S is sealed but not yet switched cannot open S
//     (the JetStream store's Open updates the stream config, which a sealed
//     stream refuses): [Open] succeeds anyway and every call answers
//     UNAVAILABLE (rule [RuleRouteOpen]) until the switch.
//   - The store of the new route fails to open after a switch: calls answer
//     UNAVAILABLE and retry the open on demand; the node never writes to a
//     route that is no longer active.
//   - Deleting the record is ignored by running stores (routes only move
//     forward); a node started afterwards would use the base route again,
//     so never delete it.
//   - Durable consumers of the old stream (policies, projections) do not
//     move by themselves: they bind the new stream after the switch and
//     start from their own checkpoints, not S's sequences.
//
// # Concurrency
//
// A Store is safe for concurrent use. Route changes are serialised by
// one mutex held while opening the new store; the current route is read
// under an RWMutex and no lock is held while a call runs on a store. A
// call that meets a store swapped under it is retried once on the new
// store when it had not started, else answered UNAVAILABLE.
package streamswitch
