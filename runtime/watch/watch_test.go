package watch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
	"github.com/cim/personrt/runtime/watch"
)

func open(t *testing.T) (*pjs.Store, *nats.Conn) {
	t.Helper()
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	s, err := pjs.Open(t.Context(), nc, pjs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, nc
}

func TestWatch(t *testing.T) {
	store, nc := open(t)
	w, err := watch.New(nc, store, watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	id, other := storetest.NewPersonID(), storetest.NewPersonID()
	if _, err := store.Append(ctx, id, 0, storetest.Events(id, 1, 3)); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan *personv1.EventEnvelope, 16)
	done := make(chan error, 1)
	go func() {
		done <- w.Watch(wctx, id, 2, func(e *personv1.EventEnvelope) error {
			got <- e
			return nil
		})
	}()
	expect := func(want ...uint64) {
		t.Helper()
		for _, v := range want {
			select {
			case e := <-got:
				if e.GetVersion() != v || e.GetPersonId() != id {
					t.Fatalf("got %s@%d, want %s@%d", e.GetPersonId(), e.GetVersion(), id, v)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no event %d", v)
			}
		}
	}
	expect(2, 3)
	if _, err := store.Append(ctx, other, 0, storetest.Events(other, 1, 1)); err != nil {
		t.Fatal(err)
	}
	for v := uint64(4); v <= 6; v++ {
		if _, err := store.Append(ctx, id, v-1, storetest.Events(id, v, 1)); err != nil {
			t.Fatal(err)
		}
	}
	expect(4, 5, 6)
	if _, err := store.Append(ctx, id, 6, storetest.Events(id, 7, 2)); err != nil {
		t.Fatal(err)
	}
	expect(7, 8)

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
	select {
	case e := <-got:
		t.Errorf("unexpected event %s@%d", e.GetPersonId(), e.GetVersion())
	default:
	}
	if n := consumers(t, nc); n != 0 {
		t.Errorf("%d consumers left on the stream, want 0", n)
	}
}

// loadOnly is a watch.Loader and nothing more, as personctl's gateway
// reader is.
type loadOnly struct{ s *pjs.Store }

func (l loadOnly) Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	return l.s.Load(ctx, personID, fromVersion, fn)
}

func TestNewRejectsBadConfig(t *testing.T) {
	store, nc := open(t)
	tests := []struct {
		name    string
		nc      *nats.Conn
		events  watch.Loader
		cfg     watch.Config
		wantErr error
	}{
		{name: "defaults", nc: nc, events: store},
		{name: "no connection", events: store, wantErr: watch.ErrInvalidConfig},
		{name: "no loader", nc: nc, wantErr: watch.ErrInvalidConfig},
		{name: "inactive threshold below 1s", nc: nc, events: store, cfg: watch.Config{InactiveThreshold: time.Millisecond}, wantErr: watch.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := watch.New(tc.nc, tc.events, tc.cfg); !errors.Is(err, tc.wantErr) {
				t.Errorf("New: err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// Watch reads through any Loader; this one is not an event store.
func TestWatchCallbackError(t *testing.T) {
	store, nc := open(t)
	w, err := watch.New(nc, loadOnly{store}, watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	id := storetest.NewPersonID()
	if _, err := store.Append(ctx, id, 0, storetest.Events(id, 1, 2)); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	var seen []uint64
	err = w.Watch(ctx, id, 0, func(e *personv1.EventEnvelope) error {
		seen = append(seen, e.GetVersion())
		if e.GetVersion() == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(seen) != 2 || seen[0] != 1 {
		t.Errorf("Watch = %v after %v, want the callback's error after versions 1, 2", err, seen)
	}
	if n := consumers(t, nc); n != 0 {
		t.Errorf("%d consumers left on the stream, want 0", n)
	}
	if err := w.Watch(ctx, "not a person id", 0, func(*personv1.EventEnvelope) error { return nil }); err == nil {
		t.Error("Watch accepted a malformed person id")
	}
}

func consumers(t *testing.T, nc *nats.Conn) int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), pjs.StreamConfig(pjs.Config{}).Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}
