// Package node assembles one protoactor-go cluster member in a process: the
// actor system, remote (gRPC), cluster membership and identity lookup, and
// the grain kinds it hosts ([Kind], implemented by *grain.Host). persond and
// tests start it; runtime/client calls grains through [Node.Cluster].
//
// # Lifecycle
//
// [New] validates a [Config] (zero value: a standalone member on a random
// loopback port) and starts nothing. [Node.Start] starts the kinds, then
// joins; [Node.Shutdown] leaves, lets every grain finish its message and
// passivate, then shuts the kinds down (queued snapshots are written).
//
// # Leaving
//
// Shutdown deregisters first, then stops the grains: the other members
// drop this one at once (runtime/membership deletes its key) and send new
// calls to the grains' new owners, while the grains here finish the
// messages they already have. Stopping the grains first would leave the
// member listed with no activator: calls routed to it in the meantime
// would be dropped. A grain may thus briefly be active here and on its new
// owner; the event store's optimistic concurrency keeps one writer.
//
// [Node.Owner] names a grain's owner in this node's view under the
// runtime/placement lookup, for runtime/client's failover.
//
// # protoactor-go defects worked around here (no fork)
//
//   - Cluster.Shutdown panics on a client member (nil gossip throttler) and
//     always sleeps 2s: Shutdown runs the graceful steps itself.
//   - StartMember panics on provider errors: Start returns [ErrStart] and
//     stops what was started.
//   - Logging goes through an injected slog logger (actor.WithLoggerFactory)
//     filtered by Config.ActorLogLevel, since protoactor logs routine work
//     at Info and every retried request at Error.
//   - remote's EndpointWriter dials an unreachable member five times with a
//     2s pause after each failure, holding the messages for it (and a
//     Shutdown) for 10s: Config.DialAttempts (default 1) shortens that.
//   - Metrics: the node never passes a meter provider to protoactor, whose
//     actor.WithMetricProviders calls otel.SetMeterProvider (a process
//     global). Grain metrics come from grain lifecycle events instead.
//
// Not worked around: StartMember sleeps a fixed second; remote.Start sets
// the gRPC global logger (grpclog.SetLoggerV2), a data race when two nodes
// start in one process while the first one serves (tests start one node at
// a time); disthash's lookup blocks up to 5s on an unreachable owner.
//
// # Concurrency
//
// A Node's methods are safe for concurrent use; its mutex guards only its
// lifecycle fields and is not held during Shutdown's waits.
package node
