package streamswitch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
	"github.com/cim/personrt/persistence/streamswitch"
)

var streamN atomic.Int64

// newRoute returns a route with names unique in the test binary.
func newRoute() streamswitch.Route {
	n := streamN.Add(1)
	return streamswitch.Route{
		Stream:         fmt.Sprintf("EVENTS_%d", n),
		SubjectPrefix:  fmt.Sprintf("events%d.person", n),
		SnapshotBucket: fmt.Sprintf("SNAPSHOTS_%d", n),
	}
}

// openStore opens a switching store whose base route is base.
func openStore(t *testing.T, nc *nats.Conn, base streamswitch.Route) *streamswitch.Store {
	t.Helper()
	s, err := streamswitch.Open(t.Context(), nc, streamswitch.Config{Base: base.Config(pjs.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// run follows the record until the test ends.
func run(t *testing.T, s *streamswitch.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func routes(t *testing.T, nc *nats.Conn) *streamswitch.Routes {
	t.Helper()
	r, err := streamswitch.OpenRoutes(t.Context(), nc, streamswitch.RoutesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronising
	}
}

// seal seals a stream as a migration does.
func seal(t *testing.T, nc *nats.Conn, stream string) {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Sealed = true
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}

// streamEvents reads every event of personID directly from route's stream.
func streamEvents(t *testing.T, nc *nats.Conn, route streamswitch.Route, personID string) []*personv1.EventEnvelope {
	t.Helper()
	st, err := pjs.Open(t.Context(), nc, route.Config(pjs.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	var got []*personv1.EventEnvelope
	if err := st.Load(t.Context(), personID, 1, func(e *personv1.EventEnvelope) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestConformance(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		s := openStore(t, nc, newRoute())
		return storetest.Stores{Events: s, Snapshots: s}
	})
}

func TestFenceRefusesAppendsAndSwitchMovesThem(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	src, dst := newRoute(), newRoute()
	s := openStore(t, nc, src)
	run(t, s)
	r := routes(t, nc)
	ctx := t.Context()
	person := storetest.NewPersonID()
	events := storetest.Events(person, 1, 3)
	if _, err := s.Append(ctx, person, 0, events[:1]); err != nil {
		t.Fatal(err)
	}

	if _, err := r.Fence(ctx, src.Stream, src, dst, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watch to see the fence", func() bool { _, fence := s.Route(); return fence != nil })
	_, fenceErr := s.Append(ctx, person, 1, events[1:2])
	var pe *personv1.Error
	if !errors.Is(fenceErr, personv1.ErrUnavailable) || !errors.As(fenceErr, &pe) || pe.GetRule() != streamswitch.RuleFenced {
		t.Fatalf("append while fenced: got %v, want UNAVAILABLE [%s]", fenceErr, streamswitch.RuleFenced)
	}
	if got, err := s.LastVersion(ctx, person); err != nil || got != 1 {
		t.Fatalf("LastVersion while fenced = %d, %v; want 1 (reads go on)", got, err)
	}

	if _, err := r.Switch(ctx, src.Stream, dst); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the switch", func() bool { active, fence := s.Route(); return active == dst && fence == nil })
	// The new stream is empty here (nothing was copied): the person starts
	// over, which shows where the append lands.
	if _, err := s.Append(ctx, person, 0, events[:1]); err != nil {
		t.Fatalf("append after the switch: %v", err)
	}
	if got := streamEvents(t, nc, dst, person); len(got) != 1 || got[0].GetEventId() != events[0].GetEventId() {
		t.Fatalf("new stream holds %d events, want the appended one", len(got))
	}
	if got := streamEvents(t, nc, src, person); len(got) != 1 {
		t.Fatalf("old stream holds %d events, want 1 (untouched)", len(got))
	}
}

// Without its watch, a store learns the fence from the sealed stream and
// the switch by reading the record on refused appends.
func TestSealedStreamWithoutWatch(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	src, dst := newRoute(), newRoute()
	s := openStore(t, nc, src)
	r := routes(t, nc)
	ctx := t.Context()
	person := storetest.NewPersonID()
	events := storetest.Events(person, 1, 2)
	if _, err := s.Append(ctx, person, 0, events[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fence(ctx, src.Stream, src, dst, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	seal(t, nc, src.Stream)

	_, err := s.Append(ctx, person, 1, events[1:])
	var pe *personv1.Error
	if !errors.As(err, &pe) || pe.GetCode() != personv1.ErrorCode_ERROR_CODE_UNAVAILABLE || pe.GetRule() != streamswitch.RuleSwitching {
		t.Fatalf("append to the sealed stream: got %v, want UNAVAILABLE [%s]", err, streamswitch.RuleSwitching)
	}
	if _, fence := s.Route(); fence == nil {
		t.Fatal("the refused append did not read the fence")
	}
	// A dedicated stream for dst, created as the migrator does, holding the
	// copied event.
	dstStore, err := pjs.Open(ctx, nc, dst.Config(pjs.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dstStore.Append(ctx, person, 0, events[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Switch(ctx, src.Stream, dst); err != nil {
		t.Fatal(err)
	}
	var got uint64
	eventually(t, "the retried append to succeed", func() bool {
		got, err = s.Append(ctx, person, 1, events[1:])
		return err == nil
	})
	if got != 2 {
		t.Fatalf("append after the switch = %d, want 2", got)
	}
	if n := len(streamEvents(t, nc, dst, person)); n != 2 {
		t.Fatalf("new stream holds %d events of the person, want 2", n)
	}
}

// A node starting while the stream is sealed for a switch opens, answers
// UNAVAILABLE, and serves once the switch happens.
func TestOpenWhileSealed(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	src, dst := newRoute(), newRoute()
	first := openStore(t, nc, src) // creates src
	r := routes(t, nc)
	ctx := t.Context()
	person := storetest.NewPersonID()
	if _, err := first.Append(ctx, person, 0, storetest.Events(person, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fence(ctx, src.Stream, src, dst, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	seal(t, nc, src.Stream)

	s := openStore(t, nc, src)
	run(t, s)
	_, err := s.LastVersion(ctx, person)
	var pe *personv1.Error
	if !errors.As(err, &pe) || pe.GetCode() != personv1.ErrorCode_ERROR_CODE_UNAVAILABLE || pe.GetRule() != streamswitch.RuleRouteOpen {
		t.Fatalf("LastVersion on a sealed route: got %v, want UNAVAILABLE [%s]", err, streamswitch.RuleRouteOpen)
	}
	if _, err := r.Switch(ctx, src.Stream, dst); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the store to serve the new route", func() bool {
		v, err := s.LastVersion(ctx, person)
		return err == nil && v == 0
	})
}

// Appends racing a fence and a seal either land in the old stream before
// the seal or fail UNAVAILABLE: none is lost, none is stored twice.
func TestConcurrentAppendsAcrossTheSeal(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	src, dst := newRoute(), newRoute()
	s := openStore(t, nc, src)
	run(t, s)
	r := routes(t, nc)
	ctx := t.Context()

	const writers = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		acked   = map[string]uint64{} // person → last acknowledged version
		stop    = make(chan struct{})
		refused atomic.Int64
	)
	for range writers {
		wg.Go(func() {
			person := storetest.NewPersonID()
			var v uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := s.Append(ctx, person, v, storetest.Events(person, v+1, 1))
				switch {
				case err == nil:
					v++
					mu.Lock()
					acked[person] = v
					mu.Unlock()
				case errors.Is(err, personv1.ErrUnavailable):
					refused.Add(1)
				default:
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	eventually(t, "some appends", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) == writers })
	if _, err := r.Fence(ctx, src.Stream, src, dst, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	seal(t, nc, src.Stream)
	eventually(t, "refused appends", func() bool { return refused.Load() > 0 })
	close(stop)
	wg.Wait()

	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, src.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, natsjs.WithSubjectFilter(src.SubjectPrefix+".>"))
	if err != nil {
		t.Fatal(err)
	}
	for person, v := range acked {
		if got := info.State.Subjects[src.SubjectPrefix+"."+person]; got != v {
			t.Errorf("person %s: sealed stream holds %d events, %d were acknowledged", person, got, v)
		}
	}
}

func TestRoutes(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	r := routes(t, nc)
	ctx := t.Context()
	a, b, c := newRoute(), newRoute(), newRoute()
	key := a.Stream
	steps := []struct {
		name       string
		do         func() (streamswitch.Record, error)
		wantActive streamswitch.Route
		wantFence  *streamswitch.Route
		wantErr    error
	}{
		{"switch without a record", func() (streamswitch.Record, error) { return r.Switch(ctx, key, b) }, streamswitch.Route{}, nil, streamswitch.ErrRouteChanged},
		{"fence from a route that is not active", func() (streamswitch.Record, error) {
			if _, err := r.Fence(ctx, key, a, b, "t", time.Now()); err != nil {
				return streamswitch.Record{}, err
			}
			if _, err := r.Unfence(ctx, key); err != nil {
				return streamswitch.Record{}, err
			}
			return r.Fence(ctx, key, c, b, "t", time.Now())
		}, streamswitch.Route{}, nil, streamswitch.ErrRouteChanged},
		{"fence a to b", func() (streamswitch.Record, error) { return r.Fence(ctx, key, a, b, "t", time.Now()) }, a, &b, nil},
		{"fence again for b (idempotent)", func() (streamswitch.Record, error) { return r.Fence(ctx, key, a, b, "t2", time.Now()) }, a, &b, nil},
		{"fence for another target", func() (streamswitch.Record, error) { return r.Fence(ctx, key, a, c, "t", time.Now()) }, streamswitch.Route{}, nil, streamswitch.ErrRouteChanged},
		{"switch to another target", func() (streamswitch.Record, error) { return r.Switch(ctx, key, c) }, streamswitch.Route{}, nil, streamswitch.ErrRouteChanged},
		{"switch to b", func() (streamswitch.Record, error) { return r.Switch(ctx, key, b) }, b, nil, nil},
		{"switch to b again (idempotent)", func() (streamswitch.Record, error) { return r.Switch(ctx, key, b) }, b, nil, nil},
		{"fence to itself", func() (streamswitch.Record, error) { return r.Fence(ctx, key, b, b, "t", time.Now()) }, streamswitch.Route{}, nil, streamswitch.ErrInvalidRecord},
		{"fence with a bad route", func() (streamswitch.Record, error) {
			return r.Fence(ctx, key, b, streamswitch.Route{Stream: "X.Y", SubjectPrefix: "x", SnapshotBucket: "X"}, "t", time.Now())
		}, streamswitch.Route{}, nil, streamswitch.ErrInvalidRecord},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.do()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if got.Active != tc.wantActive {
				t.Errorf("active = %s, want %s", got.Active, tc.wantActive)
			}
			switch {
			case tc.wantFence == nil && got.Fence != nil:
				t.Errorf("fence = %s, want none", got.Fence.Target)
			case tc.wantFence != nil && (got.Fence == nil || got.Fence.Target != *tc.wantFence):
				t.Errorf("fence = %v, want %s", got.Fence, *tc.wantFence)
			}
			stored, _, found, err := r.Get(ctx, key)
			if err != nil || !found || stored.Active != got.Active || (stored.Fence == nil) != (got.Fence == nil) {
				t.Errorf("stored record %+v (found %t, %v) differs from the returned %+v", stored, found, err, got)
			}
		})
	}
}

// The default route is the default JetStream store's.
func TestRouteOfDefaults(t *testing.T) {
	got := streamswitch.RouteOf(pjs.Config{})
	sc := pjs.StreamConfig(pjs.Config{})
	if got.Stream != sc.Name || got.SubjectPrefix+".>" != sc.Subjects[0] {
		t.Fatalf("RouteOf(zero) = %s, the store's defaults are %s %v", got, sc.Name, sc.Subjects)
	}
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	if _, err := pjs.Open(t.Context(), nc, pjs.Config{}); err != nil {
		t.Fatal(err)
	}
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.KeyValue(t.Context(), got.SnapshotBucket); err != nil {
		t.Fatalf("default snapshot bucket %s: %v", got.SnapshotBucket, err)
	}
}
