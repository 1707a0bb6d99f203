// Package app assembles a whole node, as persond runs it and as tests
// start it in-process: the NATS server (embedded with JetStream, or an
// external one), the JetStream event and snapshot store, the person grain
// host, the protoactor-go cluster member, the NATS command gateway and an
// HTTP listener for health and metrics.
//
// # Lifecycle
//
// [New] validates a [Config] (zero value: a one-member cluster storing
// under ./data with fsync on every write) and starts nothing. [App.Start] starts
// the parts in dependency order and returns when the node serves;
// [App.Run] starts, waits for its ctx to end and then shuts down within
// Config.ShutdownTimeout. [App.Shutdown] drains in reverse order:
//
//  1. readiness turns false (/readyz answers 503);
//  2. the gateway stops taking requests and answers those it has (they
//     may be served by grains on other nodes, which are still up);
//  3. the cluster member leaves: it deregisters (the others move its
//     grains to themselves at once), then its grains finish the messages
//     they have and passivate, and queued snapshots are written;
//  4. the store is closed, the NATS connection flushed and closed;
//  5. the embedded NATS server shuts down (its store is synced);
//  6. the HTTP listener closes.
//
// # Cluster
//
// Every node is a cluster member: by default its membership lives in a
// NATS KV bucket (runtime/membership) and grains are placed evenly
// (runtime/placement), so nodes that share one NATS server or NATS
// cluster form one cluster and a lone node is a one-member cluster.
// Config.ClusterProvider plugs in any other protoactor-go provider.
//
// NATS itself can be clustered: with Config.NATSClusterListen the embedded
// server joins a NATS cluster through Config.NATSRoutes, and the event
// stream and the snapshot and membership buckets get Config.Replicas
// replicas (default 3 on a NATS cluster, 1 on a lone server). A node of a
// NATS cluster that starts first waits (readiness false) until a quorum
// of servers has elected JetStream's meta leader. docs/CLUSTER.md has the
// commands and the failure behaviour.
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
