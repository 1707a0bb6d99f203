// Package fsm is a small table-driven finite state machine for the pure
// actor kinds (actors/person, actors/onboarding, …).
//
// # Model
//
// A [Machine] is built once from a [Spec]: the states (the value at index 0
// is the initial state), the command kinds, and the [Transition] rows. A row
// says that command kind On moves From one of a set of states To another (or
// leaves the state unchanged with Stay) provided every [Guard] accepts the
// command. Terminal states have no outgoing rows.
//
// States and kinds are small integer enums (a protobuf enum works as is) whose
// values run contiguously from 0, so a step is one index into a dense table:
// [Machine.Step] does no allocation and no map lookup.
//
// # Introspection
//
// The table is data. [Machine.Transitions], [Machine.Target] and
// [Machine.Terminal] let tests walk every cell, and [Machine.Mermaid],
// [Machine.TransitionTable] and [Machine.Matrix] print it as Markdown, so
// documentation is generated from the same table the code runs.
//
// # Concurrency
//
// A Machine is immutable after [New]; any number of goroutines may use it.
// Guards must be pure functions of their input.
package fsm
