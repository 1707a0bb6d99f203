// Package natstest starts a real embedded nats-server with JetStream for
// tests: random port, t.TempDir() storage, shut down by t.Cleanup.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/runtime/natsserver"
)

// Option adjusts the server config before start.
type Option func(*natsserver.Config)

// WithStoreDir uses dir instead of a fresh t.TempDir() (restart tests).
func WithStoreDir(dir string) Option { return func(c *natsserver.Config) { c.StoreDir = dir } }

// WithSyncInterval uses lazy fsync (faster tests that do not test durability).
func WithSyncInterval() Option {
	return func(c *natsserver.Config) { c.Sync = natsserver.SyncInterval }
}

// Start starts a server on a random loopback port.
func Start(t testing.TB, opts ...Option) *natsserver.Server {
	t.Helper()
	cfg := natsserver.Config{Name: "test", StoreDir: t.TempDir(), Port: -1, MaxMemory: 256 << 20, MaxStore: 4 << 30}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := natsserver.Start(cfg)
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown nats server: %v", err)
		}
	})
	return srv
}

// Connect starts a server (see Start) and returns a connection to it that is
// closed by t.Cleanup.
func Connect(t testing.TB, opts ...Option) (*natsserver.Server, *nats.Conn) {
	t.Helper()
	srv := Start(t, opts...)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return srv, nc
}
