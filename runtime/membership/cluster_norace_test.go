//go:build !race

// Tests with several cluster members in one process. The race detector
// reports races inside protoactor-go (dev 2026-01-18) in them, none in this
// package, so they build without -race only:
//   - remote.BlockList.BlockedMembers reads the blocked set without the
//     lock that Block takes (remote/blocklist.go); the gossip actor's
//     topology updates call Block while endpoint writers read it;
//   - cluster/informer.go shuffles with a package-level *rand.Rand that
//     every cluster in the process shares;
//   - remote.Start sets grpc's global logger (grpclog.SetLoggerV2);
//   - remote endpointManager.stop clears its connections unsynchronised.
// The race-enabled tests run one member (plus clients, which do not
// gossip) and cover this package's own code under -race.

package membership_test

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/runtime/membership"
)

// TestNoRaceJoinLeaveAndCrash runs three members and a client: all see
// each other join, a graceful leave is seen at once (the key's Delete), and
// a member whose heartbeat stops disappears after about the TTL (the
// expiry marker).
func TestNoRaceJoinLeaveAndCrash(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	srv, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	opt := membership.WithTTL(ttl)
	a, b, c := newNode(t, srv, "a", false, opt), newNode(t, srv, "b", false, opt), newNode(t, srv, "c", false, opt)
	client := newNode(t, srv, "client", true, opt)
	startNodes(t, true, a, b, c, client)
	started := time.Now()

	all := []*node{a, b, c, client}
	for _, n := range all {
		n.topo.waitFor(t, time.Second, n.name+" sees a, b and c", hasExactly(ids(a, b, c)...))
	}
	kv, err := js.KeyValue(t.Context(), membership.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bucketKeys(t, kv), memberKeys(ids(a, b, c)...); !slices.Equal(got, want) {
		t.Errorf("bucket keys = %v, want %v (members only, not the client)", got, want)
	}
	t.Logf("all joined %s after the last start", time.Since(started).Round(time.Millisecond))

	// Crash: b's NATS connection closes, so its heartbeats stop without
	// deleting its key.
	crashed := time.Now()
	b.nc.Close()
	for _, n := range []*node{a, c, client} {
		at := n.topo.waitFor(t, ttl+2*time.Second, n.name+" sees b expire", hasExactly(ids(a, c)...))
		took := at.Sub(crashed)
		t.Logf("%s saw the crash after %s (TTL %s)", n.name, took.Round(time.Millisecond), ttl)
		if took < ttl/2 {
			t.Errorf("%s saw b leave %s after its crash, want about the TTL %s (expiry, not a delete)", n.name, took, ttl)
		}
	}

	// The rest of a crash: b's process would be gone too. (Left running,
	// its frozen member list keeps its remote dialling stopped members.)
	bStopped := stopAsync(b)

	// Graceful leave: c's provider deletes its key.
	leaving := time.Now()
	cStopped := stopAsync(c)
	for _, n := range []*node{a, client} {
		// Faster than any expiry (at least 2/3 TTL): the key's Delete.
		at := n.topo.waitFor(t, ttl/2, n.name+" sees c leave", hasExactly(ids(a)...))
		t.Logf("%s saw the graceful leave after %s", n.name, at.Sub(leaving).Round(time.Millisecond))
	}
	for _, stopped := range []<-chan struct{}{bStopped, cStopped} {
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("b or c did not shut down")
		}
	}
	if got, want := bucketKeys(t, kv), memberKeys(a.id()); !slices.Equal(got, want) {
		t.Errorf("bucket keys after leave and crash = %v, want %v", got, want)
	}
}

// TestNoRaceMembersSurviveNATSRestart stops the NATS server for longer than
// the TTL while two members and a client run, and starts it again on the
// same port and store (the memory bucket is lost). Nobody drops anybody,
// both members re-register, and a member that joins afterwards is seen by
// all.
func TestNoRaceMembersSurviveNATSRestart(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	dir := t.TempDir()
	srv := natstest.Start(t, natstest.WithStoreDir(dir))
	opt := membership.WithTTL(ttl)
	a, b, k := newNode(t, srv, "a", false, opt), newNode(t, srv, "b", false, opt), newNode(t, srv, "client", true, opt)
	startNodes(t, true, a, b, k)
	for _, n := range []*node{a, b, k} {
		n.topo.waitFor(t, time.Second, n.name+" sees a and b", hasExactly(ids(a, b)...))
	}

	outage := time.Now()
	js := natsOutage(t, srv, dir, ttl, a.nc)
	waitKeys(t, js, 5*time.Second, ids(a, b)...)
	t.Logf("re-registered %s after the outage began", time.Since(outage).Round(time.Millisecond))

	// The new server's port is the old one: a late member finds it.
	c := newNode(t, srv, "c", false, opt)
	startNodes(t, false, c)
	for _, n := range []*node{a, b, k, c} {
		n.topo.waitFor(t, 2*time.Second, n.name+" sees c join", hasExactly(ids(a, b, c)...))
		listedThroughout(t, n, outage, a.id(), b.id())
	}
}
