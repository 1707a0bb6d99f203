//go:build !race

package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/natsserver"
)

// Fault tests (see harness_norace_test.go for why they are !race). Each
// starts real persond processes on loopback, drives a steady command load
// through the NATS gateway and a client-only member's typed client, injects
// one fault, and then reads the event stream back.

// nodeOn describes a persond that uses the NATS server at url.
func nodeOn(name, url string, extra ...string) *proc {
	return newProc(name, append([]string{"--nats-url", url}, extra...)...)
}

// bothCallers is a load through the gateway and through a typed client.
func bothCallers(t *testing.T, natsURL string, nc *nats.Conn) map[string]execFunc {
	t.Helper()
	gw := gatewayCaller(t, natsURL)
	typed := typedMember(t, nc)
	return map[string]execFunc{"gateway": gw.Execute, "typed": typed.Execute}
}

// One of three nodes is killed with SIGKILL under a steady command load:
// afterwards no acknowledged command is lost, none is applied twice, every
// person's versions are contiguous, no caller waited past its deadline, and
// no command failed for good. The typed client fails calls in flight to
// the dead node at once and retries them, so its callers (deadline 4s)
// never see the crash; the grains move when the membership drops the node
// (TTL 3s). Gateway requests that the dead node had taken are lost with
// it: their callers retry after their deadline.
func TestNoRaceKillNodeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs persond processes")
	}
	bin := buildPersond(t)
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	url := srv.ClientURL()
	nodes := []*proc{nodeOn("a", url), nodeOn("b", url), nodeOn("c", url)}
	startAll(t, bin, nodes...)
	persons := personIDs("kill", 36)
	createPersons(t, gatewayCaller(t, url), persons)

	l := startLoad(t.Context(), loadConfig{
		persons: persons, callers: bothCallers(t, url, nc), workers: len(persons) / 2,
		deadline: 4 * time.Second, budget: 20 * time.Second,
	})
	l.waitAcks(t, time.Now(), 200, 20*time.Second)
	victim := nodes[1]
	grains := victim.metric(t, "personrt_grain_active")
	killAt := time.Now()
	victim.kill(t)
	// Every person must be served again, by the survivors.
	served := l.waitServed(t, killAt, 30*time.Second)
	l.waitAcks(t, time.Now(), 200, 20*time.Second)
	l.finish(t)
	end := time.Now()

	t.Logf("killed node %s hosting %.0f grains; every person served again %v after the kill; calls failed after the kill (retried): %v",
		victim.name, grains, served.Sub(killAt).Round(time.Millisecond), l.errorsBetween(killAt, end))
	for _, caller := range []string{"typed", "gateway"} {
		worst, slow := l.slowest(caller, killAt, end)
		t.Logf("after the kill, %s: slowest command %v from first call to acknowledgement; %d commands needed more than one call's deadline (%v)",
			caller, worst.Round(time.Millisecond), slow, l.cfg.deadline)
	}
	t.Logf("longest interval without any acknowledgement after the kill: %v", l.ackGap(killAt, served).Round(time.Millisecond))
	l.report(t)
	if over := l.overshoot; over > 250*time.Millisecond {
		t.Errorf("a caller waited %v past its deadline", over)
	}
	for _, f := range l.final {
		t.Errorf("%s %s failed for good: %v", f.caller, f.person, f.err)
	}
	if grains == 0 {
		t.Error("the killed node hosted no grains: the test proved nothing")
	}
	verifyStream(t, nc, l)
}

// A node joins and another leaves gracefully under a steady load: callers
// that retry see no error at all (the typed client's own retries and the
// gateway's drain hide both changes), and the stream stays consistent.
func TestNoRaceJoinLeaveUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs persond processes")
	}
	bin := buildPersond(t)
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	url := srv.ClientURL()
	a, b := nodeOn("a", url), nodeOn("b", url)
	startAll(t, bin, a, b)
	persons := personIDs("move", 36)
	createPersons(t, gatewayCaller(t, url), persons)

	l := startLoad(t.Context(), loadConfig{
		persons: persons, callers: bothCallers(t, url, nc), workers: len(persons) / 2,
		deadline: 4 * time.Second, budget: 20 * time.Second,
	})
	start := time.Now()
	l.waitAcks(t, start, 200, 20*time.Second)

	c := nodeOn("c", url)
	joinAt := time.Now()
	startAll(t, bin, c)
	l.waitServed(t, time.Now(), 20*time.Second)
	moved := c.metric(t, "personrt_grain_active")

	leaveAt := time.Now()
	hosted := a.metric(t, "personrt_grain_active")
	a.term(t)
	leftAt := time.Now()
	l.waitServed(t, leftAt, 20*time.Second)
	l.finish(t)
	end := time.Now()

	t.Logf("join: %.0f grains moved to the new node; graceful leave of a node hosting %.0f grains took %v",
		moved, hosted, leftAt.Sub(leaveAt).Round(time.Millisecond))
	t.Logf("longest interval without any acknowledgement: across the join %v, across the leave %v",
		l.ackGap(joinAt, leaveAt).Round(time.Millisecond), l.ackGap(leaveAt, end).Round(time.Millisecond))
	l.report(t)
	for _, caller := range []string{"typed", "gateway"} {
		worst, slow := l.slowest(caller, joinAt, end)
		t.Logf("%s: slowest command across the join and the leave %v; %d took longer than one call's deadline", caller, worst.Round(time.Millisecond), slow)
	}
	if errs := l.errorsBetween(start, end); len(errs) > 0 {
		t.Errorf("callers saw errors: %v", errs)
		for _, n := range []*proc{a, b, c} {
			t.Logf("log of %s:\n%s", n.name, n.log)
		}
	}
	if moved == 0 || hosted == 0 {
		t.Errorf("grains on the joining node %.0f, on the leaving node %.0f: the test proved nothing", moved, hosted)
	}
	verifyStream(t, nc, l)
}

// Two nodes that do not know each other (standalone membership) share one
// store and the gateway's queue group, so the same persons are active on
// both at once and both write: the store's optimistic concurrency accepts
// no conflicting append (versions stay contiguous, no command twice) while
// the losing grain reloads and decides again.
func TestNoRaceDoubleActivation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs persond processes")
	}
	bin := buildPersond(t)
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	url := srv.ClientURL()
	a, b := nodeOn("a", url, "--provider", "standalone"), nodeOn("b", url, "--provider", "standalone")
	startAll(t, bin, a, b)
	persons := personIDs("twice", 4)
	gw := gatewayCaller(t, url)
	createPersons(t, gw, persons)

	l := startLoad(t.Context(), loadConfig{
		persons: persons, callers: map[string]execFunc{"gateway": gw.Execute}, workers: 12, shared: true,
		deadline: 5 * time.Second, budget: 20 * time.Second,
	})
	l.waitAcks(t, time.Now(), 400, 30*time.Second)
	l.finish(t)

	activeA, activeB := a.metric(t, "personrt_grain_active"), b.metric(t, "personrt_grain_active")
	conflicts := a.metric(t, "personrt_grain_conflicts_total") + b.metric(t, "personrt_grain_conflicts_total")
	t.Logf("persons active on node a: %.0f, on node b: %.0f; appends lost to the other node and decided again: %.0f",
		activeA, activeB, conflicts)
	l.report(t)
	if activeA != float64(len(persons)) || activeB != float64(len(persons)) {
		t.Errorf("want all %d persons active on both nodes", len(persons))
	}
	if conflicts == 0 {
		t.Error("no append conflicted: the two activations never raced")
	}
	for _, f := range l.final {
		t.Errorf("%s failed for good: %v", f.person, f.err)
	}
	verifyStream(t, nc, l)
}

// The node whose embedded NATS server leads the event stream (R3, three
// embedded servers in a NATS cluster) is stopped, gracefully with SIGTERM
// and, after it rejoined, with SIGKILL: service resumes, nothing
// acknowledged is lost. The test measures the interruption.
func TestNoRaceStreamLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs persond processes")
	}
	bin := buildPersond(t)
	routes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	seeds := routes[0] + "," + routes[1] + "," + routes[2]
	nodes := make([]*proc, 3)
	urls := ""
	for i := range nodes {
		natsAddr := freeAddr(t)
		nodes[i] = newProc(string(rune('a'+i)),
			"--data-dir", t.TempDir(), "--nats-addr", natsAddr, "--sync", natsserver.SyncInterval,
			"--nats-cluster-listen", routes[i], "--nats-cluster", seeds, "--nats-name", "n"+string(rune('a'+i)),
			// A short membership TTL: the crash below also takes the
			// membership bucket's leader, and after its election the
			// members wait two TTLs for each other to re-register.
			"--membership-ttl", "1s")
		if i > 0 {
			urls += ","
		}
		urls += "nats://" + natsAddr
	}
	startAll(t, bin, nodes...)
	nc := connect(t, urls)
	persons := personIDs("leader", 24)
	gw := gatewayCaller(t, urls)
	createPersons(t, gw, persons)
	if got := streamReplicas(t, nc); got != 3 {
		t.Fatalf("event stream has %d replicas, want 3", got)
	}

	// Known defect, retried and reported: after a leader change, the
	// store's direct gets may be answered by a replica that lags, and a
	// grain that looks up a retried command's first result finds its
	// events missing (INTERNAL grain.first_result). Nothing is lost: the
	// stream check below reads the leader.
	stale := func(err error) bool {
		return hasRule(err, personv1.ErrorCode_ERROR_CODE_INTERNAL, "grain.first_result")
	}
	l := startLoad(t.Context(), loadConfig{
		persons: persons, callers: map[string]execFunc{"gateway": gw.Execute}, workers: len(persons),
		deadline: 3 * time.Second, budget: 40 * time.Second, alsoRetry: stale,
	})
	l.waitAcks(t, time.Now(), 100, 20*time.Second)

	for _, crash := range []bool{false, true} {
		leader := streamLeader(t, nc)
		var victim *proc
		for _, n := range nodes {
			if "n"+n.name == leader {
				victim = n
			}
		}
		if victim == nil {
			t.Fatalf("stream leader %q is none of the nodes", leader)
		}
		at := time.Now()
		if crash {
			victim.kill(t)
		} else {
			victim.term(t)
		}
		resumed := l.waitServed(t, at, 40*time.Second)
		newLeader := streamLeader(t, nc)
		how := "SIGTERM"
		if crash {
			how = "SIGKILL"
		}
		worst, _ := l.slowest("gateway", at, resumed)
		t.Logf("%s of the stream leader's node %s: new leader %s; longest interval without any acknowledgement %v; every person served again after %v; slowest command %v; calls failed meanwhile (retried): %v",
			how, victim.name, newLeader, l.ackGap(at, resumed).Round(time.Millisecond), resumed.Sub(at).Round(time.Millisecond), worst.Round(time.Millisecond), l.errorsBetween(at, resumed))
		if !crash && resumed.Sub(at) > 6*time.Second {
			t.Errorf("after a graceful stop of the stream leader's node, persons were served again only after %v", resumed.Sub(at))
		}
		if !crash {
			// Back to three current replicas before the crash.
			victim.launch(t, bin)
			victim.waitReady(t, 60*time.Second)
			waitCurrent(t, nc)
		}
	}
	l.finish(t)
	l.report(t)
	for _, f := range l.final {
		t.Errorf("%s failed for good: %v", f.person, f.err)
	}
	verifyStream(t, nc, l)
}
