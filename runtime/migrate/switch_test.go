package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/streamswitch"
	"github.com/cim/personrt/runtime/migrate"
)

// renamed returns the event that renames personID at version v (as a
// grain would write it for command cmd).
func renamed(personID string, v uint64, cmd string) *personv1.EventEnvelope {
	return &personv1.EventEnvelope{
		EventId: uuid.Must(uuid.NewV7()).String(), PersonId: personID, Version: v,
		Type: "NameUpdated", SchemaVersion: upcast.CurrentVersion("NameUpdated"),
		OccurredAt: timestamppb.New(time.Date(2026, 1, 1, 0, 0, int(v), 0, time.UTC)), CausationId: cmd,
		Event: &personv1.Event{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{
			NewName: &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{fmt.Sprintf("King-%d", v)}},
		}}},
	}
}

// writer appends to its persons through the node's switching store, about
// one append a millisecond, until stop is closed, retrying a refused append
// (UNAVAILABLE) with the same event, as a client retries a command with
// the same command id. acked records every acknowledged event id per
// person.
type writer struct {
	stop    chan struct{}
	store   *streamswitch.Store
	persons []string
	version map[string]uint64

	mu      sync.Mutex
	acked   map[string][]string
	refused atomic.Int64
	total   atomic.Int64
}

func (w *writer) run(ctx context.Context) error {
	pending := map[string]*personv1.EventEnvelope{}
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-pace.C:
		}
		id := w.persons[i%len(w.persons)]
		e := pending[id]
		if e == nil {
			e = renamed(id, w.version[id]+1, fmt.Sprintf("cmd-%s-%d", id, w.version[id]+1))
			pending[id] = e
		}
		_, err := w.store.Append(ctx, id, w.version[id], []*personv1.EventEnvelope{e})
		switch {
		case err == nil:
			delete(pending, id)
			w.version[id]++
			w.mu.Lock()
			w.acked[id] = append(w.acked[id], e.GetEventId())
			w.mu.Unlock()
			w.total.Add(1)
		case errors.Is(err, personv1.ErrUnavailable):
			w.refused.Add(1)
		default:
			return err
		}
	}
}

// Commands appended through the node's switching store while a migration
// copies, fences, seals and switches all land in the new stream: every
// acknowledged event is there, in order, and the streams verify.
func TestMigrateSwitchesRunningWriters(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	ctx := t.Context()
	store, err := streamswitch.Open(ctx, nc, streamswitch.Config{Base: pjs.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- store.Run(runCtx) }()
	defer func() {
		stopRun()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The stream as an earlier version of this system wrote it: persons at
	// version 2, schema 1.
	const persons = 12
	publishFixtures(t, nc, persons, "system/schema-v1")
	writers := make([]*writer, 3)
	stop := make(chan struct{})
	for i := range writers {
		w := &writer{stop: stop, store: store, version: map[string]uint64{}, acked: map[string][]string{}}
		for p := i; p < persons; p += len(writers) {
			w.persons = append(w.persons, personID(p))
			w.version[personID(p)] = 2
		}
		writers[i] = w
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(writers))
	for _, w := range writers {
		wg.Go(func() { errs <- w.run(ctx) })
	}
	var stopped sync.Once
	stopWriters := func() { stopped.Do(func() { close(stop) }) }
	defer func() { stopWriters(); wg.Wait() }()
	total := func() (n int64) {
		for _, w := range writers {
			n += w.total.Load()
		}
		return n
	}
	eventually(t, "writes before the migration", func() bool { return total() >= 30 })

	cfg := config(nc, "", "PERSON_EVENTS_V2")
	cfg.MaxInFlight, cfg.Window = 64, 256
	res, err := newMigrator(t, cfg).Migrate(ctx, migrate.MigrateOptions{})
	if err != nil {
		stopWriters()
		wg.Wait()
		t.Fatal(err)
	}
	atSwitch := total()
	eventually(t, "writes after the switch", func() bool { return total() >= atSwitch+30 })
	stopWriters()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	if res.Status.Phase != migrate.PhaseSwitched || res.Status.Source != "PERSON_EVENTS" {
		t.Fatalf("migration: %+v", res.Status)
	}
	if active, fence := store.Route(); active != res.Status.Target || fence != nil {
		t.Fatalf("store route %s (fence %v), want %s", active, fence, res.Status.Target)
	}

	target := res.Status.Target
	var refused int64
	for _, w := range writers {
		refused += w.refused.Load()
		for id, acked := range w.acked {
			got := loadPerson(t, nc, target.Stream, target.SubjectPrefix, id)
			if len(got) != 2+len(acked) {
				t.Errorf("person %s: new stream holds %d events, want 2 + %d acknowledged", id, len(got), len(acked))
				continue
			}
			for i, e := range got[2:] {
				if e.GetEventId() != acked[i] || e.GetVersion() != uint64(3+i) {
					t.Errorf("person %s: event %d is %s v%d, want the acknowledged %s", id, 3+i, e.GetEventId(), e.GetVersion(), acked[i])
				}
			}
		}
	}
	t.Logf("%d appends acknowledged (%d before the switch returned), %d refused while switching", total(), atSwitch, refused)

	v, err := newMigrator(t, cfg).Verify(ctx, migrate.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Persons != persons || v.AppendedAfter == 0 {
		t.Fatalf("verify: OK %t, %d persons, %d appended after the switch: %+v", v.OK(), v.Persons, v.AppendedAfter, v.Differences)
	}
}

// eventually polls cond until it holds or 20s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling a condition, not synchronising
	}
}
