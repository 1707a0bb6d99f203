// Package app assembles a whole node, as persond runs it and as tests
// start it in-process: the NATS server (embedded with JetStream, or an
// external one), the JetStream event and snapshot store, the person grain
// host, the protoactor-go cluster member, the NATS command gateway and an
// HTTP listener for health and metrics.
//
// # Lifecycle
//
// [New] validates a [Config] (zero value: a standalone node storing under
// ./data with fsync on every write) and starts nothing. [App.Start] starts
// the parts in dependency order and returns when the node serves;
// [App.Run] starts, waits for its ctx to end and then shuts down within
// Config.ShutdownTimeout. [App.Shutdown] drains in reverse order:
//
//  1. readiness turns false (/readyz answers 503);
//  2. the gateway stops taking requests and answers those it has;
//  3. the cluster member leaves: grains finish their message and
//     passivate, queued snapshots are written;
//  4. the store is closed, the NATS connection flushed and closed;
//  5. the embedded NATS server shuts down (its store is synced);
//  6. the HTTP listener closes.
//
// # HTTP
//
//	/healthz  200 while the process serves HTTP (liveness)
//	/readyz   200 once every part is up, 503 while starting or draining
//	/metrics  Prometheus text: gateway requests and latencies by code,
//	          grain activations, commands, conflicts, panics, snapshots
//
// The default HTTP address, 127.0.0.1:8080, does not clash with NATS
// (4222) or its monitor (off unless asked for; it would use 8222).
package app
