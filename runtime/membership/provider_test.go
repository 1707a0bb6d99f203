package membership_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/natsserver"
)

func TestNewRejectsBadOptions(t *testing.T) {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		js      jetstream.JetStream
		opts    []membership.Option
		wantErr error
	}{
		{"defaults", js, nil, nil},
		{"all set", js, []membership.Option{membership.WithBucket("m_1"), membership.WithTTL(time.Second),
			membership.WithReplicas(3), membership.WithStorage(jetstream.FileStorage),
			membership.WithClusterName("persons"), membership.WithLogger(nil), membership.WithStartTimeout(time.Second)}, nil},
		{"nil jetstream", nil, nil, membership.ErrInvalidOption},
		{"bucket with dot", js, []membership.Option{membership.WithBucket("a.b")}, membership.ErrInvalidOption},
		{"ttl below minimum", js, []membership.Option{membership.WithTTL(100 * time.Millisecond)}, membership.ErrInvalidOption},
		{"zero replicas", js, []membership.Option{membership.WithReplicas(0)}, membership.ErrInvalidOption},
		{"six replicas", js, []membership.Option{membership.WithReplicas(6)}, membership.ErrInvalidOption},
		{"unknown storage", js, []membership.Option{membership.WithStorage(jetstream.StorageType(7))}, membership.ErrInvalidOption},
		{"cluster name with dot", js, []membership.Option{membership.WithClusterName("a.b")}, membership.ErrInvalidOption},
		{"cluster name wildcard", js, []membership.Option{membership.WithClusterName("*")}, membership.ErrInvalidOption},
		{"zero start timeout", js, []membership.Option{membership.WithStartTimeout(0)}, membership.ErrInvalidOption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := membership.New(tc.js, tc.opts...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New() error = %v, want %v", err, tc.wantErr)
			}
			if (got != nil) != (tc.wantErr == nil) {
				t.Errorf("New() provider = %v with error %v", got, err)
			}
		})
	}
}

func bucketKeys(t *testing.T, kv jetstream.KeyValue) []string {
	t.Helper()
	keys, err := kv.Keys(t.Context())
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	return keys
}

func memberKeys(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = clusterName + "." + id
	}
	slices.Sort(out)
	return out
}

// record is the member record of a foreign member id at n's address.
func (n *node) record(t *testing.T, id string) []byte {
	t.Helper()
	host, port, err := n.c.ActorSystem.GetHostPort()
	if err != nil {
		t.Fatal(err)
	}
	return mustMember(t, &cluster.Member{Id: id, Host: host, Port: int32(port)})
}

func mustMember(t *testing.T, m *cluster.Member) []byte {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// natsOutage stops srv (started with natstest.WithStoreDir(dir)) for
// longer than ttl once watcher's connection has noticed, and starts it again
// on the same port and store. It returns the new server and a JetStream
// client of it.
func natsOutage(t *testing.T, srv *natsserver.Server, dir string, ttl time.Duration, watcher *nats.Conn) jetstream.JetStream {
	t.Helper()
	_, portStr, err := net.SplitHostPort(strings.TrimPrefix(srv.ClientURL(), "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	waitCond(t, 5*time.Second, "connection reconnecting", func() bool { return watcher.Status() == nats.RECONNECTING })
	time.Sleep(ttl + ttl/2) // not a synchronisation: the outage lasts longer than the TTL
	srv2, err := natsserver.Start(natsserver.Config{Name: "test", StoreDir: dir, Port: port, MaxMemory: 256 << 20, MaxStore: 1 << 30})
	if err != nil {
		t.Fatalf("restart nats server: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() has ended when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv2.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	nc, err := srv2.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// waitKeys waits until the bucket holds exactly the keys of ids.
func waitKeys(t *testing.T, js jetstream.JetStream, within time.Duration, ids ...string) {
	t.Helper()
	want := memberKeys(ids...)
	waitCond(t, within, fmt.Sprintf("bucket keys %v", want), func() bool {
		kv, err := js.KeyValue(t.Context(), membership.DefaultBucket)
		return err == nil && slices.Equal(bucketKeys(t, kv), want)
	})
}

// listedThroughout checks that every topology n published since t0 lists ids.
func listedThroughout(t *testing.T, n *node, t0 time.Time, ids ...string) {
	t.Helper()
	for _, e := range n.topo.since(t0) {
		for _, id := range ids {
			if !slices.Contains(e.ids, id) {
				t.Errorf("%s published %v during the outage or recovery, want %v listed throughout", n.name, e.ids, ids)
			}
		}
	}
}

// TestSurvivesNATSRestart stops the NATS server for longer than the TTL and
// starts it again on the same port and store. The node under test keeps
// its list during the outage, re-registers (re-creating a memory bucket
// that the restart lost, or outliving the expiry of every key in a file
// bucket), and its restarted watch sees new members. A client watches a
// member of another process; a member runs alone (a member that gossips
// with another races inside protoactor-go: see cluster_norace_test.go).
func TestSurvivesNATSRestart(t *testing.T) {
	tests := []struct {
		name    string
		storage jetstream.StorageType
		client  bool
	}{
		{"client with memory bucket", jetstream.MemoryStorage, true},
		{"client with file bucket", jetstream.FileStorage, true},
		{"lone member with memory bucket", jetstream.MemoryStorage, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const ttl = 1500 * time.Millisecond
			dir := t.TempDir()
			srv := natstest.Start(t, natstest.WithStoreDir(dir))
			a := newNode(t, srv, "a", tc.client, membership.WithTTL(ttl), membership.WithStorage(tc.storage))
			startNodes(t, false, a)
			var listed []string
			if tc.client {
				// b is a member in another process: the test heartbeats its key.
				startForeignMember(t, srv, "b", ttl, a)
				listed = append(listed, "b")
			} else {
				listed = append(listed, a.id())
			}
			a.topo.waitFor(t, time.Second, "a sees the members", hasExactly(listed...))

			outage := time.Now()
			js := natsOutage(t, srv, dir, ttl, a.nc)
			waitKeys(t, js, 5*time.Second, listed...)
			t.Logf("re-registered %s after the outage began", time.Since(outage).Round(time.Millisecond))

			if tc.client {
				// A member joining now is seen: the watch restarted.
				kv, err := js.KeyValue(t.Context(), membership.DefaultBucket)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := kv.Put(t.Context(), clusterName+".late", a.record(t, "late")); err != nil {
					t.Fatal(err)
				}
				a.topo.waitFor(t, 2*time.Second, "a sees the late member", hasExactly(append(listed, "late")...))
				if err := kv.Delete(t.Context(), clusterName+".late"); err != nil {
					t.Fatal(err)
				}
				a.topo.waitFor(t, 2*time.Second, "a sees the late member leave", hasExactly(listed...))
			}
			listedThroughout(t, a, outage, listed...)
		})
	}
}

// foreignMember is a member of another process, seen only through its
// key: a goroutine re-puts its record every TTL/3, ignoring failures, until
// the test ends or stop is called. Its record borrows the address of the
// node under test (at: nobody else listens in a race-enabled test), so
// that nothing dials an address that does not answer. Only a client may
// watch foreign members under -race: a member's gossip would send them
// requests that its own gossip actor answers, which races inside
// protoactor-go (MemberList.ContainsMemberID reads without the lock).
type foreignMember struct {
	id   string
	js   jetstream.JetStream
	stop func()
}

func startForeignMember(t *testing.T, srv *natsserver.Server, id string, ttl time.Duration, at *node) *foreignMember {
	t.Helper()
	nc, err := srv.Connect(nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	record := at.record(t, id)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	beat := func() {
		opCtx, cancelOp := context.WithTimeout(ctx, ttl/3)
		defer cancelOp()
		kv, err := js.KeyValue(opCtx, membership.DefaultBucket)
		if err != nil {
			return // not created yet (or lost with a memory store): retry
		}
		if _, err := kv.Put(opCtx, clusterName+"."+id, record); err != nil {
			return // NATS down: retry
		}
	}
	beat()
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				beat()
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(func() { stop(); nc.Close() })
	return &foreignMember{id: id, js: js, stop: stop}
}

func waitCond(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartErrors checks the start rules: one start per provider, none
// after Shutdown.
func TestStartErrors(t *testing.T) {
	srv := natstest.Start(t)
	a := newNode(t, srv, "a", false)
	startNodes(t, false, a)
	if err := a.provider.StartMember(a.c); !errors.Is(err, membership.ErrStarted) {
		t.Errorf("second StartMember: got %v, want ErrStarted", err)
	}
	if err := a.provider.Shutdown(false); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := a.provider.StartClient(a.c); !errors.Is(err, membership.ErrClosed) {
		t.Errorf("StartClient after Shutdown: got %v, want ErrClosed", err)
	}
	if err := a.provider.Shutdown(true); err != nil {
		t.Errorf("second Shutdown: %v, want nil", err)
	}
}

// TestSeesJoinLeaveAndExpiry watches, from a client, members of other
// processes: a join and a graceful leave (a Delete) are seen at once, a
// member whose heartbeats stop is dropped after about the TTL (the expiry
// marker), and records that break the protocol are ignored.
func TestSeesJoinLeaveAndExpiry(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	srv := natstest.Start(t)
	k := newNode(t, srv, "k", true, membership.WithTTL(ttl))
	startNodes(t, false, k)
	if got := k.topo.current(); len(got) != 0 {
		t.Fatalf("client alone sees %v, want no members", got)
	}

	joined := time.Now()
	f1, f2 := startForeignMember(t, srv, "f1", ttl, k), startForeignMember(t, srv, "f2", ttl, k)
	at := k.topo.waitFor(t, time.Second, "k sees f1 and f2", hasExactly("f1", "f2"))
	t.Logf("join seen after %s", at.Sub(joined).Round(time.Millisecond))

	kv, err := f1.js.KeyValue(t.Context(), membership.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"not-json":   []byte("{"),
		"wrong-id":   mustMember(t, &cluster.Member{Id: "other", Host: "127.0.0.1", Port: 1}),
		"no-address": mustMember(t, &cluster.Member{Id: "no-address"}),
	}
	for id, v := range bad {
		if _, err := kv.Put(t.Context(), clusterName+"."+id, v); err != nil {
			t.Fatal(err)
		}
	}
	// Another cluster in the same bucket is not ours.
	if _, err := kv.Put(t.Context(), "othercluster.x", mustMember(t, &cluster.Member{Id: "x", Host: "127.0.0.1", Port: 1})); err != nil {
		t.Fatal(err)
	}
	f3 := startForeignMember(t, srv, "f3", ttl, k) // put after the bad ones: seen after them
	k.topo.waitFor(t, time.Second, "k sees f3 and no invalid record", hasExactly("f1", "f2", "f3"))
	f3.stop() // f3 crashes: no more heartbeats, no delete
	crashed := time.Now()

	leaving := time.Now()
	f2.stop()
	if err := kv.Delete(t.Context(), clusterName+".f2"); err != nil {
		t.Fatal(err)
	}
	at = k.topo.waitFor(t, ttl/2, "k sees f2 leave (faster than any expiry)", hasExactly("f1", "f3"))
	t.Logf("graceful leave seen after %s", at.Sub(leaving).Round(time.Millisecond))

	// f3's key expires: at least 2/3 TTL after its crash.
	at = k.topo.waitFor(t, ttl+2*time.Second, "k sees f3 expire", hasExactly("f1"))
	took := at.Sub(crashed)
	t.Logf("crash seen after %s (TTL %s)", took.Round(time.Millisecond), ttl)
	if took < ttl/2 {
		t.Errorf("f3 dropped %s after its crash, want about the TTL %s (expiry, not a delete)", took, ttl)
	}
}

// TestMemberKeyLifecycle checks a member's own key: its record, that the
// heartbeat keeps it beyond the TTL and puts it back when it vanishes, and
// that only a graceful Shutdown deletes it.
func TestMemberKeyLifecycle(t *testing.T) {
	const ttl = time.Second
	tests := []struct {
		name     string
		graceful bool
		wantKeys func(id string) []string
	}{
		{"graceful shutdown deletes the key", true, func(string) []string { return nil }},
		{"abrupt shutdown leaves it to expire", false, func(id string) []string { return memberKeys(id) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, nc := natstest.Connect(t)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			a := newNode(t, srv, "a", false, membership.WithTTL(ttl))
			startNodes(t, false, a)
			kv, err := js.KeyValue(t.Context(), membership.DefaultBucket)
			if err != nil {
				t.Fatal(err)
			}
			e, err := kv.Get(t.Context(), clusterName+"."+a.id())
			if err != nil {
				t.Fatalf("get own key: %v", err)
			}
			var got cluster.Member
			if err := protojson.Unmarshal(e.Value(), &got); err != nil {
				t.Fatal(err)
			}
			host, port, err := a.c.ActorSystem.GetHostPort()
			if err != nil {
				t.Fatal(err)
			}
			if got.Id != a.id() || got.Host != host || int(got.Port) != port || !slices.Contains(got.Kinds, cluster.TopicActorKind) {
				t.Errorf("record = %v, want id %s at %s:%d with kind %s", &got, a.id(), host, port, cluster.TopicActorKind)
			}

			// Two TTLs later the key is still there, re-put by heartbeats.
			first := e.Revision()
			waitCond(t, 3*ttl, "heartbeats re-put the key", func() bool {
				e, err := kv.Get(t.Context(), clusterName+"."+a.id())
				return err == nil && e.Revision() > first && time.Since(e.Created()) < ttl
			})

			// The key vanishes, as when heartbeats overran the TTL: the next
			// heartbeat puts it back, and the member never drops itself.
			vanished := time.Now()
			if err := kv.Purge(t.Context(), clusterName+"."+a.id()); err != nil {
				t.Fatal(err)
			}
			waitCond(t, 3*ttl, "heartbeat puts the vanished key back", func() bool {
				_, err := kv.Get(t.Context(), clusterName+"."+a.id())
				return err == nil
			})
			for _, e := range a.topo.since(vanished) {
				if !slices.Contains(e.ids, a.id()) {
					t.Errorf("a published %v after its key vanished, want itself listed", e.ids)
				}
			}
			if got := a.topo.current(); !slices.Equal(got, []string{a.id()}) {
				t.Errorf("a's view = %v, want itself", got)
			}

			if err := a.provider.Shutdown(tc.graceful); err != nil {
				t.Fatalf("Shutdown(%v): %v", tc.graceful, err)
			}
			if got, want := bucketKeys(t, kv), tc.wantKeys(a.id()); !slices.Equal(got, want) {
				t.Errorf("keys after Shutdown(%v) = %v, want %v", tc.graceful, got, want)
			}
		})
	}
}
