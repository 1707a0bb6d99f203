// Package upcast lifts stored events of any schema version to the current
// one. The event stores apply it on every read; the migration tool uses
// [DecodeLegacy] to read raw messages of the original system.
//
// # Schema versions
//
// Every stored event carries its type (the message name of its body, e.g.
// "NameUpdated") and the schema version of its stored shape.
// [CurrentVersion] returns the version writers stamp on new events:
// PersonCreated 3, NameUpdated 2, every other type 1. Stored bodies are
// JSON; at the current version they are the protojson of the body message
// ([EncodeBody]).
//
// # Upcasters
//
// An [Upcaster] is a pure function that lifts one type by one version step
// over the decoded JSON; a [Registry] chains them, and [Registry.Decode]
// turns a [Record] into a current person.v1.EventEnvelope. [Default] holds
// the steps for the original system's schemas: PersonCreated 1→2
// (created_at becomes metadata), 2→3 (metadata becomes envelope metadata,
// names become structured), NameUpdated 1→2 (reason becomes change_reason).
// An unknown type or version, or a body that does not decode, is an error
// that names both and wraps persistence.ErrInvalidEvent: the person is then
// unloadable rather than silently wrong.
//
// # Legacy messages
//
// [DecodeLegacy] reads every envelope and event shape the original system
// (cim-domain-person) wrote to NATS — the NatsEventStore envelope with
// externally tagged events and person ids as {"id":"<uuid>"}, the
// streaming envelope with PersonEventV2, flat versioned events — including
// its three name shapes, and returns current envelopes. Events without a
// counterpart are [ErrUnsupportedLegacy].
//
// # Golden files
//
// testdata/schema holds an event of every type at every schema version,
// testdata/legacy every legacy shape; they are never edited once created,
// and each has a .want file with the expected decoding. docs/EVENTS.md
// describes the wire format.
package upcast
