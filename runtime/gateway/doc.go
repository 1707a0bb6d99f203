// Package gateway is the NATS command gateway of a node: any NATS client
// sends person commands and queries as requests, and every node of a
// cluster serves them on one queue group, so the nodes share the load and
// a node that stops takes no requests with it.
//
// # Subjects (prefix "person" by default)
//
//	person.commands.<personID>  a Command           → a CommandReply
//	person.queries.<personID>   a GetPerson or ""   → a PersonReply
//	person.history.<personID>   "" (headers below)  → EventEnvelope messages, then an end message
//
// The body is protojson (snake_case or lowerCamel field names on input,
// snake_case on output) unless the request has the header
// "Content-Type: application/protobuf"; the reply uses the request's
// encoding and names its message in the header Cim-Type
// ("person.v1.CommandReply"). docs/PROTOCOL.md has copy-paste examples.
//
// A command without person_id takes the subject's; a different one is
// rejected. Every failure is a coded reply, never silence:
//
//	INVALID_ARGUMENT   gateway.subject            the subject is not <prefix>.<kind>.<personID> with a valid id
//	INVALID_ARGUMENT   gateway.content_type       neither JSON nor protobuf
//	INVALID_ARGUMENT   gateway.body_empty         a command without a body
//	INVALID_ARGUMENT   gateway.body_malformed     the body does not decode
//	INVALID_ARGUMENT   gateway.person_id_mismatch the body names another person than the subject
//	INVALID_ARGUMENT   command.body_required      a command that sets no command
//	UNIMPLEMENTED      gateway.command_unknown    a command this node does not know (gateway.query_unknown: a query)
//	RESOURCE_EXHAUSTED gateway.body_size          the body is over Config.MaxBodyBytes
//	UNAVAILABLE        gateway.shutting_down      the node stopped before it could serve the request
//	INTERNAL           gateway.panic              a bug; the gateway keeps serving
//
// and the grain's own rejections (codes and rules of the domain) pass
// through unchanged. A command without command_id gets a fresh UUIDv7, so
// set one to make retries safe.
//
// # History
//
// A history request reads the person's stored events from the version in
// header Cim-From-Version (default 1), at most Cim-Limit of them (default
// and maximum Config.HistoryLimit). Each event is one reply message
// (Cim-Type: person.v1.EventEnvelope); the last message has an empty body
// and Cim-Type: end, plus Cim-Next-Version when the limit cut the history
// short (ask again from there). A failure is a single person.v1.Error
// message. [Client.Load] pages through it.
//
// # Concurrency and shutdown
//
// [Gateway.Start] subscribes; each request runs on its own goroutine,
// at most Config.MaxInFlight at once (further requests wait in the
// subscription's buffer). [Gateway.Shutdown] drains: the server stops
// delivering, buffered requests and those in flight are answered, and it
// returns when every handler goroutine has returned, or answers the rest
// UNAVAILABLE and cancels the handlers when its ctx ends first.
//
// [Client] is the Go client of these subjects (personctl uses it).
package gateway
