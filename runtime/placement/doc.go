// Package placement is a protoactor-go identity lookup
// (cluster.IdentityLookup) that spreads grains evenly over the cluster's
// members and moves them when members join or leave.
//
// # Placement
//
// A grain lives on the member that wins rendezvous hashing of its
// identity against the members' addresses (see [Table]). The hash is a
// fixed, well-mixed 64-bit function, identical in every process; over 10k
// identities every member's share of 3–5 members is within a few percent
// of even, both for ports on one host and for distinct addresses (the
// tests check ±10%). protoactor-go's disthash, whose design this package
// follows, uses FNV-1a 32 over identity||address and gives one of three
// members on one host half the grains.
//
// # Activation and rebalancing
//
// Each member runs an activator actor named [ActivatorName] that spawns
// the grains it owns as its children. Lookup.Get asks the owner's
// activator for the grain's PID, activating it on first use. When the
// topology changes, each activator poisons the grains whose owner is now
// another member: a poisoned grain finishes its queued messages, stops,
// and is re-activated on its new owner by its next call. Every member's
// lookup evicts a stopped grain from its PID cache, so that next call goes
// straight to the new owner.
//
// Members with different views (for the milliseconds a change takes to
// reach everyone) may disagree on an owner. An activator that receives a
// request for a grain it no longer owns forwards it once to the owner in
// its view; a grain it activates against its own view is checked again
// after a short delay and poisoned if still owned elsewhere. Placement
// never guarantees a single activation: the event store's optimistic
// concurrency does.
//
// # Usage
//
//	lookup, err := placement.New(placement.WithLogger(log))
//	c := cluster.New(sys, cluster.Configure("persons", provider, lookup, remoteConfig, cluster.WithKinds(kinds...)))
//
// Every member of a cluster must use this lookup (with the same hash).
package placement
