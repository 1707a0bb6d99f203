// Package grain is the generic event-sourced grain shell: it brings a pure
// [Kind] (Decide, Apply, snapshot codec, queries over a state type S) to life
// as protoactor-go cluster grains backed by a persistence.EventStore.
//
// # Lifecycle of an activation
//
//   - Activation (cluster.ClusterInit) hydrates: the state the [Host] cached
//     when the grain last passivated on this node, else the stored snapshot,
//     else Kind.Initial; then the stored events after it (upcast by the
//     store) through Kind.Apply. Command ids found as causation ids of those
//     events are remembered for idempotency.
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
//   - After Config.IdleTimeout without messages the grain poisons itself; its
//     state goes to the host's bounded state cache, so a re-activation on
//     this node reads only the events after the cached version.
//   - Every Config.SnapshotEvery events the grain encodes its state and hands
//     it to the host's snapshot writer, which saves it off the command path.
//
// # Idempotency window
//
// A command id is recognised while it is among the last
// Config.ResultCacheSize commands the grain remembers (kept across
// passivation in the host's state cache) or while its events are among
// those replayed at activation, i.e. after the snapshot hydrated from. So
// when a grain re-activates without its cached state (on another node,
// after a restart) from a snapshot written after a command, a retry of that
// command is decided again: most commands are then rejected or change
// nothing, but one that is not naturally idempotent could apply twice.
// Clients retry within seconds, so this needs a snapshot and a move of the
// grain between a write and its retry.
//
// # Concurrency
//
// A grain blocks only its own mailbox goroutine while it waits for the store,
// so appends of many grains are in flight together over the store's shared
// connection, one per grain. A grain's fields are touched only by its mailbox
// goroutine. The Host's state cache is a thread-safe golang-lru; its mutex
// guards only its lifetime fields and is never held while calling out.
//
// # Lifecycle events
//
// Config.Observer receives typed [LifecycleEvent] values ([Activated],
// [CommandHandled], [ConflictRetried], [Panicked], …) for tests, logs and
// metrics.
package grain
