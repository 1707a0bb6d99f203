// Package person is the pure domain of the Person actor kind: its [State],
// [Decide] (command → events or a coded rejection) and [Apply] (event →
// new state), the lifecycle table, and snapshots.
//
// Nothing here does I/O, reads the clock, draws random numbers or starts a
// goroutine: the runtime passes time and ids in and carries events out, as
// etcd raft's RawNode does with Ready.
//
// # Lifecycle
//
// Draft → Active (CreatePerson); Active ⇄ Deactivated; Active|Deactivated
// → Archived | Deceased; Active → MergedInto. Archived, Deceased and
// MergedInto are terminal. The table lives in [LifecycleMachine] (an
// [fsm.Machine]) and docs/LIFECYCLE.md is generated from it by
// `go generate ./actors/person`; it lists every command in every state.
//
// # Decide
//
// [Decide] checks the command envelope, steps the lifecycle table (Draft →
// NOT_FOUND, CreatePerson on an existing person → ALREADY_EXISTS, terminal
// → FAILED_PRECONDITION [lifecycle.terminal] naming the state), then the
// command's own rules. Every rejection is a *personv1.Error whose rule is
// one of the Rule constants here or in the value packages [name],
// [contact] and [attribute]. Choices worth knowing:
//
//   - Ids default to the command id: attribute_id and the contact id of
//     AddContact; the contacts of CreatePerson get "<command id>#<index>".
//   - Adding a primary contact demotes the previous primary of its kind
//     (it is not rejected); CreatePerson with two primaries of one kind is
//     rejected ([RuleContactPrimaries]). A duplicate value of the same kind
//     is rejected ([RuleContactDuplicate]).
//   - NormalizeContact emits ContactNormalized only when the value changes,
//     else it rejects with [RuleContactNormalized].
//   - UpdateName accepts an unchanged name (the command id already makes
//     retries idempotent).
//   - Names and free text are trimmed before they are stored.
//   - SetBirthDate, RecordDeath, ArchivePerson, NormalizeContact and
//     FlagDataQuality are also allowed while Deactivated; name, attribute
//     and contact changes only while Active.
//
// # Apply and snapshots
//
// [Apply] folds a stored [personv1.EventEnvelope] into a new State and
// panics with [ErrBrokenInvariant] when the event cannot follow the state
// (version gap, unknown body, missing person or referenced id). [ToSnapshot]
// and [FromSnapshot] convert to and from [personv1.PersonSnapshot] at
// [SnapshotSchemaVersion].
package person
