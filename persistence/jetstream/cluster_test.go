package jetstream_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
	"github.com/cim/personrt/runtime/natsserver"
)

// startCluster starts a three-node cluster (each node with its own store)
// and returns a connection to each node. The nodes start together: a
// clustered JetStream server is ready only once the cluster has formed.
func startCluster(t *testing.T) []*nats.Conn {
	t.Helper()
	names := []string{"n1", "n2", "n3"}
	routes := make([]string, len(names))
	for i := range names {
		routes[i] = "nats://" + freeAddr(t)
	}
	servers := make([]*natsserver.Server, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		_, port, err := net.SplitHostPort(strings.TrimPrefix(routes[i], "nats://"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			t.Fatal(err)
		}
		cfg := natsserver.Config{
			Name: name, StoreDir: t.TempDir(), Port: -1, Sync: natsserver.SyncInterval,
			MaxMemory: 64 << 20, MaxStore: 1 << 30, ClusterName: "test", ClusterPort: p,
			Routes: routes, ReadyTimeout: 30 * time.Second,
		}
		wg.Go(func() { servers[i], errs[i] = natsserver.Start(cfg) })
	}
	wg.Wait() // each Start is bounded by its ReadyTimeout
	var conns []*nats.Conn
	for i, srv := range servers {
		if errs[i] != nil {
			t.Fatalf("start %s: %v", names[i], errs[i])
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown %s: %v", names[i], err)
			}
		})
		nc, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		conns = append(conns, nc)
	}
	return conns
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// openClustered opens a store with an R3 stream, retrying while the
// cluster elects its meta leader.
func openClustered(t *testing.T, nc *nats.Conn) *jetstream.Store {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		s, err := jetstream.Open(ctx, nc, jetstream.Config{Replicas: 3})
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("open an R3 store: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval while the cluster forms
	}
}

// TestClusterR3 checks the semantics that differ on replicated streams
// (notes G1, G5): a conflict comes back as 10164 and must still be
// ErrConflict; a retried append is acked as a duplicate instead of being
// rejected and must still return its version without writing.
func TestClusterR3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	conns := startCluster(t)
	a := openClustered(t, conns[0])
	b, err := jetstream.Open(t.Context(), conns[1], jetstream.Config{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("two writers on two nodes, one wins", func(t *testing.T) {
		p := storetest.NewPersonID()
		var version uint64
		for round := range 10 {
			n := 1 + round%2
			errs := make([]error, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w, s := range []*jetstream.Store{a, b} {
				events := storetest.Events(p, version+1, n)
				wg.Go(func() {
					<-start
					_, errs[w] = s.Append(t.Context(), p, version, events)
				})
			}
			close(start)
			wg.Wait() // both end by the store's request timeout
			winners := 0
			for _, err := range errs {
				switch {
				case err == nil:
					winners++
				case !errors.Is(err, persistence.ErrConflict):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if winners != 1 {
				t.Fatalf("round %d: %d winners (%v)", round, winners, errs)
			}
			version += uint64(n)
		}
	})

	t.Run("retry after a lost ack", func(t *testing.T) {
		for _, n := range []int{1, 3} {
			p := storetest.NewPersonID()
			events := storetest.Events(p, 1, n)
			if _, err := a.Append(t.Context(), p, 0, events); err != nil {
				t.Fatal(err)
			}
			fresh, err := jetstream.Open(t.Context(), conns[2], jetstream.Config{Replicas: 3})
			if err != nil {
				t.Fatal(err)
			}
			got, err := fresh.Append(t.Context(), p, 0, events)
			if err != nil || got != uint64(n) {
				t.Fatalf("retry of %d events = %d, %v; want %d", n, got, err, n)
			}
			loaded, err := loadAll(t, fresh, p, 0)
			if err != nil || len(loaded) != n {
				t.Fatalf("loaded %v, %v; want %d events", versionsOf(loaded), err, n)
			}
		}
	})
}
