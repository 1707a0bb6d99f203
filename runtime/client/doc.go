// Package client is the typed client of event-sourced grains: a thin
// hand-written wrapper over protoactor-go's cluster requests with the oneof
// *personv1.Command (no generated grain code: no second serialisation, no
// positional method ids).
//
// [Client.Execute] sends a command and returns its *personv1.CommandResult;
// [Client.Get] returns a person's state; [Client.Ask] sends any query.
//
// # Deadlines and errors
//
// Every call is bounded by its ctx (or Config.Timeout when ctx has none):
// cancelling ctx returns at once. Errors are *personv1.Error values that
// match the personv1.Err* sentinels with errors.Is: a grain's rejection
// keeps its code and rule; a call that ran out of time is
// DEADLINE_EXCEEDED (and matches ctx's error); no reachable activation is
// UNAVAILABLE.
//
// # Retries
//
// protoactor-go retries a request three times with pauses of 50, 200 and
// 450 nanoseconds. The client does not use its request loop: it resolves
// the activation (PID cache, else the identity lookup), sends one request,
// and retries UNAVAILABLE failures itself with exponential back-off and
// jitter, up to Config.MaxAttempts and the deadline. Commands carry a
// command id (Execute sets one when empty), so a retry never applies a
// command twice. A call that ran out of time is not retried: its outcome
// is unknown; retry it with the same command id.
//
// # Failover
//
// protoactor-go never fails a request whose member died: no dead-letter
// reply crosses a broken connection, so the caller waits for its whole
// timeout, and a lookup bound for the dead owner waits for the lookup's
// activation timeout (5s) without regard to any deadline. The client
// therefore:
//
//   - watches the actor system's event stream: when the connection to a
//     member breaks, or the membership drops it, protoactor-go publishes
//     remote.EndpointTerminatedEvent; every attempt in flight to that
//     member (request or lookup) ends at once with UNAVAILABLE (rule
//     cluster.member_lost) and is retried after the back-off;
//   - remembers such a member as unreachable until it reconnects
//     (EndpointConnectedEvent), leaves or joins again (ClusterTopology):
//     attempts bound for it fail at once, except for one probe per second
//     (bounded to 500ms) that finds a member whose connection only broke;
//     with Config.Owner (node.Node.Owner under runtime/placement) this
//     covers lookups too, which ask the grain's owner;
//   - runs identity lookups on its own goroutines (one per grain, shared by
//     concurrent callers), so that waiting for one ends with the caller's
//     ctx. [Client.Shutdown] waits for them;
//   - empties the cluster's PID cache when a member joins, so that calls go
//     to the grains' owners instead of old activations that are stopping;
//   - retries a request whose grain stopped with it queued: protoactor-go
//     drops such a message without an answer (a grain told to stop for a
//     move or a passivation finishes the messages before the stop, not
//     those after it). On a member the placement's
//     cluster.ActivationTerminated broadcast cuts the request at once; a
//     client-only member, which gets no broadcast, retries after
//     Config.AttemptTimeout.
//
// A grain of a crashed member therefore answers as soon as the membership
// drops the member (runtime/membership: within its TTL, 3s by default) and
// its new owner activates it; callers with a deadline beyond that see no
// error, and no caller waits past its deadline. A member that leaves
// gracefully is dropped at once: calls in flight to it are retried on the
// new owner (the leaving member may still finish them; the event store's
// optimistic concurrency and the command id keep the command applied
// once).
package client
