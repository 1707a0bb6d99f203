// Package policy runs the policies of actors/policy as durable actors: one
// protoactor-go actor per policy (and one for fired timers), each on its
// own durable JetStream pull consumer, under a supervisor actor; reactions
// are carried out through runtime/client (commands to grains), JetStream
// (notifications) and runtime/timer (durable timers). Events a policy
// cannot handle are parked in runtime/dlq.
//
// # Delivery
//
// Each worker's consumer ("<ConsumerPrefix><policy>") reads its source
// stream (person or onboarding events; the timer worker reads the fired
// timers) with explicit acks, AckWait, MaxDeliver and an exponential
// BackOff for deliveries whose ack never came (a crashed node). Event
// consumers deliver headers only: the worker reads the event through the
// source's persistence.EventStore (Load from the version in the headers),
// so it decodes and upcasts exactly as the grains do.
//
// A worker hands each message to one of its lanes (Config.Lanes child
// actors), chosen by a hash of the message's key (the person id; the timer
// key for timers), with at most Config.FetchBatch messages in the lanes at
// once. A lane handles one message at a time: evaluate the policy, carry
// out the reactions in order, then ack; so a person's events are handled
// in order while different persons' run in parallel. An event whose type
// (header Cim-Event-Type) is not in the policy's Types is acked without
// being read. Redelivery is harmless: every command has a deterministic id
// (actors/policy.DeriveID) that the grain answers with its first result,
// notifications carry a Nats-Msg-Id and are stored at most once per
// person, and arming a timer again replaces it.
//
// # Failures
//
//   - A domain rejection of a command (INVALID_ARGUMENT, NOT_FOUND,
//     ALREADY_EXISTS, FAILED_PRECONDITION, UNIMPLEMENTED) that the reaction
//     does not accept is final: logged (rate-limited), counted, parked in
//     the DLQ with its code and rule, and the message is acked.
//   - A transient failure (UNAVAILABLE, DEADLINE_EXCEEDED, CONFLICT,
//     INTERNAL, RESOURCE_EXHAUSTED, a NATS error) is retried: the message
//     is nak'ed with an exponential delay with jitter (Config.BaseBackoff
//     doubling up to MaxBackoff); after MaxDeliver deliveries it is parked.
//   - A malformed message (no version header, an event the store cannot
//     decode, a fired timer without command) is parked at once as
//     INVALID_ARGUMENT [event.malformed]; a policy that panics on an event
//     fails it as INTERNAL [policy.panic] (retried, then parked). Neither
//     stops the loop.
//
// # Order per person
//
// A lane keeps each person's events in order: while an event of person P
// waits for its redelivery, later events of P are nak'ed with the same
// delay without being evaluated (an event whose deliveries run out while
// waiting is parked with rule policy.waited_behind); while P has an entry
// in the DLQ for this policy, later events of P are parked behind it
// (blocked_by = the head's sequence) without being tried, as Axon's
// sequenced dead-letter queue does. Other persons flow. The head of P's
// entries is the one whose event came first in the stream. Replay
// (runtime/dlq, served by the lane of the entry's person on its mailbox,
// so never concurrently with that person's live events) runs the head
// again and removes it on success. The in-memory part (who is being
// retried) is per lane: after a restart, or with the same policy running
// on two nodes, events of one person in retry may be handled out of order;
// the DLQ part is durable. Run each policy on one node for strict order.
//
// # Supervision
//
// The supervisor restarts a failed worker (it could not create its
// consumer, its message iterator failed, a lane failed: a lane's failure
// escalates to its worker) after an
// exponential delay with jitter; after more than Config.MaxRestarts
// failures within Config.RestartWindow it escalates: the worker is
// stopped, an [Escalated] event is reported and logged at Error, and
// [Runner.Err] returns the failure, for the node's health check.
//
// # Lifecycle events
//
// Config.Observer receives typed events ([Handled], [Retried], [Parked],
// [Replayed], [Restarted], [Escalated]); [Runner.Stats] counts them.
package policy
