// Package membership is a protoactor-go cluster provider that keeps the
// cluster's member list in a NATS JetStream key-value bucket, so that a
// cluster needs nothing but NATS.
//
// # Usage
//
//	js, _ := jetstream.New(nc)
//	provider, err := membership.New(js, membership.WithTTL(3*time.Second), membership.WithLogger(log))
//	lookup, err := placement.New()
//	c := cluster.New(sys, cluster.Configure("persons", provider, lookup, remote.Configure("0.0.0.0", 8090)))
//	c.StartMember()         // or c.StartClient() for a caller that hosts no grains
//	defer c.Shutdown(true)  // calls provider.Shutdown(true); a client calls provider.Shutdown itself
//
// # Protocol
//
// Each member is one key, "<cluster>.<ActorSystem.ID>", whose value is the
// protojson form of its cluster.Member {Id, Host, Port, Kinds}. The bucket
// (default [DefaultBucket]) keeps History 1, expires a key TTL after its
// last Put, and writes a delete marker when it does (LimitMarkerTTL; needs
// nats-server 2.11 or later). A member re-puts its key every TTL/3. Every
// member and client watches "<cluster>.*" and, on every change, hands the
// full list to cluster.MemberList.UpdateClusterTopology, which works out
// who joined and left and publishes a cluster.ClusterTopology event.
// So:
//   - a join is seen by everyone within milliseconds (the Put);
//   - a graceful leave (Shutdown(true)) likewise (the key's Delete);
//   - a crashed member disappears about one TTL after its crash: when its
//     key expires, between 2/3 TTL and TTL after the crash plus the
//     server's expiry scan (the expiry marker).
//
// MemberList blocks a member id that left for good; a member that comes
// back must start a new actor system (a new id). That includes a member
// cut off from NATS for longer than the TTL: the others drop it, and it
// logs an error when it sees its own key expire. A running member always
// lists itself in its own view.
//
// # NATS outages
//
// While the connection is down the provider publishes nothing, so the
// cluster keeps its last member list. On reconnect (or when a heartbeat
// fails on a live connection, as when a memory bucket was lost with its
// server) it re-creates the bucket if needed, re-puts its key and restarts
// the watch. Members listed before but missing from the restarted watch
// stay listed for two TTLs, to give them time to re-register, and are
// dropped after that. If the connection is closed for good the provider
// stops and the list freezes.
//
// # Lifecycle and concurrency
//
// New does no I/O and starts nothing. StartMember or StartClient does the
// first round trip synchronously (bucket, key, initial members) and starts
// one goroutine; Shutdown stops it and waits for it. The goroutine also
// stops when the actor system stops (so Cluster.Shutdown(false), which
// skips the provider, does not leave it running; the key then expires).
// The provider never reads MemberList's unsynchronised accessors
// (Members, Length); observe the member list through
// *cluster.ClusterTopology events on the actor system's EventStream.
package membership
