package node_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
)

func personHost(t *testing.T) node.Kind {
	t.Helper()
	s := memstore.New()
	h, err := personkind.NewHost(grain.Config{Events: s, Snapshots: s})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewRejectsBadConfig(t *testing.T) {
	h := personHost(t)
	tests := []struct {
		name string
		cfg  node.Config
	}{
		{name: "port", cfg: node.Config{Port: 70000}},
		{name: "request timeout", cfg: node.Config{RequestTimeout: -time.Second}},
		{name: "dial attempts", cfg: node.Config{DialAttempts: -1}},
		{name: "nil kind", cfg: node.Config{Kinds: []node.Kind{nil}}},
		{name: "kind twice", cfg: node.Config{Kinds: []node.Kind{h, h}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := node.New(tc.cfg); !errors.Is(err, node.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// records keeps slog records; safe for concurrent use.
type records struct {
	mu  sync.Mutex
	all []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) count(level slog.Level) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.all {
		if rec.Level == level {
			n++
		}
	}
	return n
}

// A member starts, refuses a second Start, serves its kind, and shuts down
// within its deadline without protoactor-go's fixed sleep; protoactor's Info
// chatter is filtered out of the node's log.
func TestMemberLifecycle(t *testing.T) {
	logs := &records{}
	n, err := node.New(node.Config{Kinds: []node.Kind{personHost(t)}, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Address(); got != "" {
		t.Errorf("address before start = %q", got)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); !errors.Is(err, node.ErrStarted) {
		t.Errorf("second start: err = %v, want ErrStarted", err)
	}
	if n.Address() == "" || n.Cluster() == nil {
		t.Fatal("no address or cluster after start")
	}
	if got := n.Cluster().MemberList.Members().Len(); got != 1 {
		t.Errorf("members = %d, want 1 (standalone)", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("shutdown took %v, want no fixed 2s sleep", took)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if err := n.Start(t.Context()); !errors.Is(err, node.ErrClosed) {
		t.Errorf("start after shutdown: err = %v, want ErrClosed", err)
	}
	// The node logs "node started" at Info; protoactor's own Info records
	// (actor system, remote, gossip, partition manager) are dropped.
	if got := logs.count(slog.LevelInfo); got != 2 {
		t.Errorf("%d Info records, want the node's own 2", got)
	}
}

// A client-only member (no kinds) shuts down cleanly, where protoactor-go's
// Cluster.Shutdown panics on the nil gossip throttler.
func TestClientShutdown(t *testing.T) {
	n, err := node.New(node.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// A provider that fails to start makes Start fail with ErrStart instead of
// protoactor-go's panic, and stops the kinds it started.
func TestStartFailure(t *testing.T) {
	n, err := node.New(node.Config{Kinds: []node.Kind{personHost(t)}, Provider: failingProvider{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); !errors.Is(err, node.ErrStart) {
		t.Fatalf("err = %v, want ErrStart", err)
	}
}

type failingProvider struct{}

var errProvider = errors.New("test: provider down")

func (failingProvider) StartMember(*cluster.Cluster) error { return errProvider }
func (failingProvider) StartClient(*cluster.Cluster) error { return errProvider }
func (failingProvider) Shutdown(bool) error                { return nil }
