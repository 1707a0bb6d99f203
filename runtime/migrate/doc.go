// Package migrate rewrites an event stream eagerly into a new one at the
// current schema, switches running nodes to it without losing a command,
// and proves the result: the library behind `personctl migrate` and
// `personctl verify` ([Command]).
//
// A [Migrator] works on one source stream (this system's PERSON_EVENTS,
// or, through another connection, a stream of the original system) and
// one new target stream:
//
//   - [Migrator.DryRun] reads the whole source and returns a [Report]:
//     counts per event type and stored shape, the upcasts, every
//     undecodable event (stream sequence and reason) and every per-person
//     version gap. Report.OK is false when anything cannot be migrated.
//   - [Migrator.Migrate] copies every event, upcast to the current schema,
//     into the new stream, then switches (below). Resumable at every step.
//   - [Migrator.Verify] compares the two streams person by person.
//   - [Migrator.Finalize] verifies fully and deletes the source.
//
// # Reading
//
// Streams are read in sequence ranges with an ephemeral pull consumer
// without acknowledgements, Config.ReadBatch messages per fetch, deleted at
// the end (and expiring by itself should the process die). It needs no
// direct access (the original system's streams lack it), and reads about
// five times faster than batched direct gets, which the server serves
// message by message. Several goroutines decode batches; a sequencer hands
// them on in stream order. Memory is bounded by the batches in flight,
// never by the stream: what grows with the stream is per person (a few
// hundred bytes: versions, backlinks, verify's folded state) and the
// problem lists (bounded by Config.MaxListed).
//
// Messages on subjects outside the source's event prefix (the original
// PERSON_EVENTS also bound person.commands.>) are counted and skipped.
// This system's messages (header Cim-Event-Type) are upcast by the
// messages/upcast registry; others are the original system's and go
// through upcast.DecodeLegacy.
//
// # Ids and versions of legacy events
//
// The original system's envelopes carry the person version ("sequence");
// a few shapes (bare tagged events, flat versioned events) carry none.
// Such an event gets the next version of its person in stream order (the
// person's previous version + 1: the stream order is the order the events
// happened in), and, without an id of its own (Nats-Msg-Id header or the
// envelope's event_id), the id upcast.DecodeLegacy derives from the person
// and that version (UUIDv5 of "<person>/<version>"). Both are therefore
// deterministic: a dry run, a migration, a resumed migration and a verify
// all derive the same ones.
//
// # Copying
//
// Every event is written as persistence/jetstream stores it (its headers,
// the body in Store.Payload encoding, backlinks to the person's previous
// events in the new stream) on "<target prefix>.<person>", with the same
// event id (Nats-Msg-Id), person version and metadata, plus Cim-Source-Seq,
// its sequence in the source. Writes are pipelined: at most one write per
// person in flight, carrying the person's expected last subject sequence
// (per-person optimistic concurrency), and up to Config.MaxInFlight
// persons at once; events of a person with a write in flight wait in a
// bounded window. A person's events are therefore written in their order,
// and nobody else can have written in between.
//
// # Checkpoint and resume
//
// The migration record (KV bucket Config.StateBucket, key: the target
// stream) holds the phase and the checkpoint: the source sequence up to
// which every message is copied, saved every Config.CheckpointEvery. A
// resumed migration reads from the checkpoint on; for every person it
// meets it first reads the person's last event in the new stream, whose
// Cim-Source-Seq says which of the person's source events are copied:
// those are skipped. So a migration killed at any point, even with a lost
// checkpoint, writes every event exactly once; Nats-Msg-Id and the
// expected subject sequence make a retried write harmless on top.
//
// # Switch
//
// See persistence/streamswitch for the protocol: after the copy (and up to
// Config.CatchUpRounds rounds catching up with what nodes appended in the
// meantime) the migration fences the route record (nodes answer
// UNAVAILABLE: retry with the same command id), seals the source (the
// server then refuses every write to it: nothing acknowledged can be left
// behind), copies the tail, and switches the route to the new stream.
// Phases: copying → fenced → sealed → switched ([Phase]); a failure before
// the seal lifts the fence again, after it only a resume goes on. The
// source stays, sealed, until Finalize. Migrations that do not switch
// (MigrateOptions.NoSwitch, or a new stream that is already the active
// one) end in PhaseCopied. The switch is refused when it would abandon
// events (the key's active stream is not the source and holds events) or
// cross another migration's fence.
//
// # Verify
//
// Verify reads the source (upcast on read, versions derived as above) and
// the new stream and checks that every event decodes and is stored at the
// current schema, and per person that both streams hold the same number of
// events, with versions contiguous from 1, the same event ids in the same
// order, and the same folded state (actors/person Apply, then ToSnapshot,
// compared with proto.Equal; a difference names the fields). Events nodes
// appended to the new stream after the switch (no Cim-Source-Seq) are
// counted, not compared. VerifyOptions.Sample compares a uniform sample of
// persons (the smallest hashes of their ids) for huge streams, holding only
// their states.
package migrate
