package jetstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
)

// open starts an embedded server and opens a store on it.
func open(t *testing.T, cfg jetstream.Config, opts ...natstest.Option) (*jetstream.Store, *nats.Conn) {
	t.Helper()
	_, nc := natstest.Connect(t, opts...)
	s, err := jetstream.Open(t.Context(), nc, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, nc
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		s, _ := open(t, jetstream.Config{Logger: failOnWarn(t)}, natstest.WithSyncInterval())
		return storetest.Stores{Events: s, Snapshots: s}
	})
}

// TestConformanceVariants runs the suite with few backlinks (long tails
// hop from event to event), with none (loads scan the subject), and with
// binary payloads.
func TestConformanceVariants(t *testing.T) {
	for _, cfg := range []jetstream.Config{{Backlinks: 2}, {Backlinks: -1}, {Payload: jetstream.PayloadProtobuf}} {
		t.Run(fmt.Sprintf("backlinks=%d,payload=%s", cfg.Backlinks, cfg.Payload), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Stores {
				cfg.Logger = failOnWarn(t)
				s, _ := open(t, cfg, natstest.WithSyncInterval())
				return storetest.Stores{Events: s, Snapshots: s}
			})
		})
	}
}

// failOnWarn returns a logger that fails t on a warning: the store warns
// only when backlinks are broken, which a correct store never causes.
func failOnWarn(t *testing.T) *slog.Logger {
	return slog.New(warnHandler{t: t})
}

type warnHandler struct{ t *testing.T }

func (h warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h warnHandler) Handle(_ context.Context, r slog.Record) error {
	h.t.Errorf("store warned: %s", r.Message)
	return nil
}
func (h warnHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h warnHandler) WithGroup(string) slog.Handler      { return h }

// openOn opens another store, on its own connection, on the server behind
// on (tests that need a store with an empty cache).
func openOn(t *testing.T, on *nats.Conn, cfg jetstream.Config) (*jetstream.Store, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(on.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := jetstream.Open(t.Context(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, nc
}

// publishAndWait publishes m to the stream and waits for the ack.
func publishAndWait(t *testing.T, nc *nats.Conn, m *nats.Msg) error {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(t.Context(), m)
	return err
}
