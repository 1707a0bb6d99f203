// Package dlq is the dead-letter stream of the policies, PERSON_DLQ: the
// events a policy could not handle are parked there, one message per event,
// for an operator to inspect, replay or discard ([Command] is the CLI:
// personctl dlq list|show|replay|discard).
//
// # Entries
//
// An entry is a [personv1.DeadLetter] (protojson payload, readable with
// `nats stream view PERSON_DLQ`) on the subject
// "<SubjectPrefix>.<policy>.<personID>" (default prefix "person.dlq"); of
// the entries of one policy and person the head is the one whose event came
// first in its source stream (the smallest stream sequence), whatever order
// they were parked in. It records the event (id, stream, stream sequence, subject,
// version), the policy, the error code, rule and message, the deliveries
// tried, the first and last failure time, and, for an entry parked behind
// another without being tried, blocked_by (the head's DLQ sequence). The
// entry's id is its DLQ stream sequence.
//
// # Order
//
// runtime/policy keeps a person's events in order per policy: while a
// person has an entry for a policy, the policy's later events of that
// person are parked behind it (Axon's sequenced dead-letter queue) instead
// of being handled. Replay therefore works head first: [DLQ.Replay] asks
// the node running the policy (a NATS request on
// "<ReplaySubject>.<policy>") to run the policy again on the head's event;
// on success the entry is removed and the next one becomes the head.
// Replaying an entry that is not its sequence's head is refused with
// FAILED_PRECONDITION [dlq.not_head]. Discard removes an entry without
// running anything; what was parked behind it stays parked.
//
// # protoactor-go dead letters
//
// [WatchDeadLetters] subscribes to an actor system's event stream and
// counts and logs (rate-limited) messages sent to actors that no longer
// exist; a node installs it once.
package dlq
