// Package messages holds the wire schema of the Person domain: the .proto
// sources under proto/ and the generated Go in [personv1].
//
// # Contract
//
// The protobuf full names (person.v1.Command, person.v1.EventEnvelope, …)
// are an external contract: other actor systems and languages send and
// receive them by name. Names and field numbers never change; fields are only
// added, and removed ones are reserved.
//
// # Regenerating
//
//	go generate ./messages
//
// needs protoc on PATH; protoc-gen-go is pinned in go.mod as a tool.
package messages
