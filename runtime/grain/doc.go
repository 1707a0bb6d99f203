// Package grain is the generic event-sourced grain shell: it brings a pure
// [Kind] (Decide, Apply, snapshot codec, queries over a state type S) to life
// as protoactor-go cluster grains backed by a persistence.EventStore.
//
// # Lifecycle of an activation
//
//   - Activation (cluster.ClusterInit) hydrates: the state the [Host] cached
//     when the grain last passivated on this node, else the stored snapshot,
//     else Kind.Initial; then the stored events after it (upcast by the
//     store) through Kind.Apply. The idempotency window comes with the
//     cached state or the snapshot, and the causation ids of the replayed
//     events extend it.
//   - The mailbox serves one message at a time. A *personv1.Command runs
//     Decide → envelopes (UUIDv7 event ids, version, type, schema version,
//     occurred_at, correlation and causation ids, actor) → Append with the
//     expected version → Apply → a *personv1.CommandReply. Other proto
//     messages go to Kind.Query.
//   - A lost append (persistence.ErrConflict) reads the new events and
//     decides again, at most Config.MaxConflictRetries times, then answers
//     CONFLICT. A command id seen before answers its first result with
//     duplicate=true and writes nothing.
//   - A panic in the kind's code answers the caller at once with INTERNAL,
//     drops the state and re-hydrates from the store (protoactor-go would
//     leave the caller waiting for its timeout and restart the actor).
//   - After Config.IdleTimeout without messages (up to a quarter more) the
//     grain poisons itself; its state goes to the host's bounded state
//     cache, so a re-activation on this node reads only the events after
//     the cached version. See "Memory of an active grain" for how.
//   - After a command whose events reach a version that is a multiple of
//     Config.SnapshotEvery (also one replayed at activation), the grain
//     encodes its state, wraps it with its idempotency window (below) and
//     hands it to the host's snapshot writer, which saves it off the command
//     path. So snapshots sit at the same versions whatever the activation
//     history, and at most SnapshotEvery-1 events (plus the rest of one
//     command's batch) follow the last one.
//
// # Idempotency window
//
// A command id is the idempotency key of a command and the causation id of
// the events it writes. Each grain keeps a window of its last
// Config.IdempotencyWindow (K, default 256) commands that wrote events: the
// command id and the versions first..last of its events, nothing else. A
// command whose id is in the window is not decided again: the grain reads
// its events first..last back from the store and answers
// CommandResult{duplicate: true, version: last, events}, the first result,
// and writes nothing. Only the versions are kept, so the window costs 32
// bytes of memory per command plus its id, whatever the events weigh, and
// nothing for a grain that wrote no command.
//
// The window moves with the grain, so a retry is recognised wherever and
// whenever the grain re-activates:
//   - in memory while the grain is active, and in the host's state cache
//     with its state when it passivates;
//   - in every snapshot: the shell stores a runtimev1.GrainSnapshot (see
//     "Snapshot format" below) holding the kind's bytes and the window as of
//     the snapshot's version, and restores both when it hydrates from it;
//   - the causation ids of the events replayed after the cached state or the
//     snapshot are added as they are applied, as are those of events read
//     after a lost append. Without a usable snapshot every event is
//     replayed, which rebuilds the window of the whole history.
//
// So a retry after a move to another node, a restart or a rebalance, with
// any number of snapshots in between, answers the first result as long as
// the person wrote fewer than K other commands since. The window counts
// commands per person that wrote events, not time: K = 256 covers the whole
// history of most persons.
//
// What the window does not cover:
//   - A retry of a command older than the K most recent ones is forgotten
//     and decided again like a new command. Most commands are then rejected
//     (CreatePerson: ALREADY_EXISTS) or change nothing (a rename to the
//     current name); a command that is not naturally idempotent (a rename
//     to a name since replaced, RecordAttribute with a client id after the
//     attribute changed, FlagDataQuality) writes again. Raise
//     Config.IdempotencyWindow (at most [MaxIdempotencyWindow]) for kinds
//     whose retries can come after more commands than that.
//   - A command that wrote no events (a rejection or a no-op) is not in the
//     window: its retry is decided again, on the current state.
//
// Event ids stay random UUIDv7, not derived from the command id.
// Deterministic ids (the command id's timestamp bits and a hash of person,
// command id and index) would let JetStream's Nats-Msg-Id deduplication
// refuse a command re-decided beyond the window, but only within the
// stream's duplicate window (two minutes by default) and only as a
// CONFLICT, not the first result. They would also break a path that is
// correct today: when an append's outcome is unknown and the retried
// command is decided again at the same version before the first attempt
// has landed, both stores (memstore and persistence/jetstream) accept an
// append whose last event id is already stored as a retry of that append,
// so the grain would apply and answer its second decision (another
// occurred_at, possibly other bodies) instead of the stored events. With
// random ids that append is a conflict: the grain reads the stored events
// and answers them as a duplicate.
//
// The store never deletes events, so the events of a command in the window
// are always there; if they are not exactly the ones the window names, the
// retry is answered INTERNAL with rule grain.first_result rather than
// decided again.
//
// # Snapshot format
//
// The shell stores a snapshot's State as a runtimev1.GrainSnapshot: the
// kind's bytes (SnapshotCodec.Encode) and the window as CommandSpan values,
// oldest first (about 50 bytes per command). The stored SchemaVersion is the
// envelope's format (1) in the top byte and the kind's
// SnapshotCodec.SchemaVersion in the 24 bits below, which is why a kind's
// schema version is at most 2^24-1. A snapshot with another schema version
// (a kind's bare bytes written before the envelope existed are format 0),
// an envelope that does not decode, a window that names versions after the
// snapshot, or kind bytes that do not decode: the snapshot is logged and
// ignored, and the grain rebuilds state and window from the events.
//
// # Memory of an active grain
//
// A node holds every active grain, so a grain holds only what differs per
// grain and everything else lives in the [Host]: the kind, the config, the
// type name tables, the store call context, the snapshot writer and the
// passivator. An idle grain is protoactor-go's actor (context, mailbox,
// registrations: its floor) plus the shell's struct (64 bytes beside the
// kind's state S), the state's own allocations, its idempotency window (an
// entry per command, grown on demand), and one entry in the passivator's
// registry.
//
// Passivation does not use protoactor-go's receive timeout, which gives
// every grain a runtime timer, stopped and reset on every message. Instead each message stores the passivator's clock in the grain
// (an atomic), and one goroutine per host ticks that clock every quarter of
// IdleTimeout and sends a check to the grains that look idle; a grain
// receiving the check poisons itself if no message came meanwhile.
//
// Store calls do not each get a timer either: the calls that start within
// an eighth of Config.StoreTimeout share one context whose deadline lies
// between StoreTimeout and StoreTimeout plus that eighth after each of them.
//
// # Mailbox goroutines
//
// protoactor-go runs each pass over a mailbox on a new goroutine, which
// grows its stack, by copying it, down the command path (Decide, the
// store's append, the reply) on nearly every command. The host's grains
// use a dispatcher that hands passes to worker goroutines instead, which
// keep their grown stacks and exit after a second without work. It never
// queues a pass: with no idle worker it starts one, so grains waiting for
// the store never wait for each other.
//
// # Concurrency
//
// A grain blocks only its own mailbox goroutine while it waits for the store,
// so appends of many grains are in flight together over the store's shared
// connection, one per grain. A grain's fields are touched only by its mailbox
// goroutine, except its passivation mark (an atomic the passivator reads).
// The Host's state cache is a thread-safe golang-lru; the Host's mutex guards
// its lifetime fields and the replacement of the store call context, the
// passivator's mutex its registry, the dispatcher's its worker count; none
// is held while calling out, and none is taken while holding another.
//
// # Lifecycle events
//
// Config.Observer receives typed [LifecycleEvent] values ([Activated],
// [CommandHandled], [ConflictRetried], [Panicked], …) for tests, logs and
// metrics.
package grain
