// Package runtimev1 holds the persisted formats of the runtime (protobuf
// package personrt.runtime.v1), generated from
// messages/proto/runtime/v1/*.proto by `go generate ./messages`.
//
// [GrainSnapshot] is the state runtime/grain stores in every snapshot: the
// kind's own snapshot bytes and the grain's idempotency window of
// [CommandSpan] values. Unlike person.v1, these messages are not part of the
// Person domain's wire contract; they are still stored, so their names and
// field numbers never change.
package runtimev1
