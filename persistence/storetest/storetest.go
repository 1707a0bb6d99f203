package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// Stores is the store under test. Events and Snapshots may be the same
// value. The closed-store test closes both, so each must implement
// [io.Closer].
type Stores struct {
	Events    persistence.EventStore
	Snapshots persistence.SnapshotStore
}

// Run runs the conformance suite. newStores is called once per subtest and
// must return empty stores; it should register their cleanup with t.Cleanup.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s Stores)
	}{
		{"AppendLoadOrder", testAppendLoadOrder},
		{"LoadFromVersion", testLoadFromVersion},
		{"LoadLongHistory", testLoadLongHistory},
		{"LoadUnknownPerson", testLoadUnknownPerson},
		{"LoadStopsAtCallbackError", testLoadStopsAtCallbackError},
		{"LoadOwnsEvents", testLoadOwnsEvents},
		{"Conflict", testConflict},
		{"ConcurrentWritersOneWins", testConcurrentWriters},
		{"ConcurrentPersons", testConcurrentPersons},
		{"IdempotentRetry", testIdempotentRetry},
		{"InvalidEvents", testInvalidEvents},
		{"InvalidPersonID", testInvalidPersonID},
		{"LastVersion", testLastVersion},
		{"Snapshots", testSnapshots},
		{"SnapshotsConcurrent", testSnapshotsConcurrent},
		{"InvalidSnapshot", testInvalidSnapshot},
		{"CanceledContext", testCanceledContext},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStores(t)
			if s.Events == nil || s.Snapshots == nil {
				t.Fatal("storetest: newStores returned a nil store")
			}
			tc.fn(t, s)
		})
	}
}

// mustAppend appends events and checks the returned version.
func mustAppend(t *testing.T, es persistence.EventStore, personID string, expected uint64, events []*personv1.EventEnvelope) {
	t.Helper()
	got, err := es.Append(t.Context(), personID, expected, events)
	if err != nil {
		t.Fatalf("Append(%s, %d, %d events): %v", personID, expected, len(events), err)
	}
	if want := expected + uint64(len(events)); got != want {
		t.Fatalf("Append(%s, %d, %d events) = %d, want %d", personID, expected, len(events), got, want)
	}
}

// loadAll loads personID from fromVersion and returns the events.
func loadAll(t *testing.T, es persistence.EventStore, personID string, fromVersion uint64) []*personv1.EventEnvelope {
	t.Helper()
	var got []*personv1.EventEnvelope
	err := es.Load(t.Context(), personID, fromVersion, func(e *personv1.EventEnvelope) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Load(%s, %d): %v", personID, fromVersion, err)
	}
	return got
}

// checkEvents fails unless got and want are the same envelopes in order.
func checkEvents(t *testing.T, got, want []*personv1.EventEnvelope) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("loaded %d events (versions %v), want %d (versions %v)", len(got), versions(got), len(want), versions(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("event %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func versions(events []*personv1.EventEnvelope) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.GetVersion()
	}
	return out
}

// checkLastVersion fails unless personID's last version is want.
func checkLastVersion(t *testing.T, es persistence.EventStore, personID string, want uint64) {
	t.Helper()
	got, err := es.LastVersion(t.Context(), personID)
	if err != nil {
		t.Fatalf("LastVersion(%s): %v", personID, err)
	}
	if got != want {
		t.Fatalf("LastVersion(%s) = %d, want %d", personID, got, want)
	}
}

func testAppendLoadOrder(t *testing.T, s Stores) {
	p := NewPersonID()
	other := NewPersonID()
	want := Events(p, 1, 6)
	mustAppend(t, s.Events, p, 0, want[:1])
	mustAppend(t, s.Events, other, 0, Events(other, 1, 2))
	mustAppend(t, s.Events, p, 1, want[1:4])
	mustAppend(t, s.Events, p, 4, want[4:])
	checkEvents(t, loadAll(t, s.Events, p, 0), want)
	checkEvents(t, loadAll(t, s.Events, p, 1), want)
}

func testLoadFromVersion(t *testing.T, s Stores) {
	p := NewPersonID()
	all := Events(p, 1, 5)
	mustAppend(t, s.Events, p, 0, all[:2])
	mustAppend(t, s.Events, p, 2, all[2:])
	tests := []struct {
		from uint64
		want []*personv1.EventEnvelope
	}{
		{0, all},
		{1, all},
		{2, all[1:]},
		{5, all[4:]},
		{6, nil},
		{100, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("from=%d", tc.from), func(t *testing.T) {
			checkEvents(t, loadAll(t, s.Events, p, tc.from), tc.want)
		})
	}
}

// testLoadLongHistory crosses any internal read batch size.
func testLoadLongHistory(t *testing.T, s Stores) {
	p := NewPersonID()
	const n = 700
	all := Events(p, 1, n)
	for v := 0; v < n; {
		k := 1
		if v%50 == 0 {
			k = min(3, n-v) // a few multi-event appends
		}
		mustAppend(t, s.Events, p, uint64(v), all[v:v+k])
		v += k
	}
	checkEvents(t, loadAll(t, s.Events, p, 0), all)
	checkEvents(t, loadAll(t, s.Events, p, 257), all[256:])
	checkEvents(t, loadAll(t, s.Events, p, n), all[n-1:])
	checkLastVersion(t, s.Events, p, n)
}

func testLoadUnknownPerson(t *testing.T, s Stores) {
	p := NewPersonID()
	mustAppend(t, s.Events, p, 0, Events(p, 1, 2))
	checkEvents(t, loadAll(t, s.Events, NewPersonID(), 0), nil)
	checkEvents(t, loadAll(t, s.Events, NewPersonID(), 3), nil)
}

func testLoadStopsAtCallbackError(t *testing.T, s Stores) {
	p := NewPersonID()
	mustAppend(t, s.Events, p, 0, Events(p, 1, 3))
	errStop := errors.New("stop")
	var calls int
	err := s.Events.Load(t.Context(), p, 0, func(*personv1.EventEnvelope) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Load error = %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Fatalf("callback called %d times, want 2", calls)
	}
}

// testLoadOwnsEvents: changing an appended or loaded envelope must not
// change what the store holds.
func testLoadOwnsEvents(t *testing.T, s Stores) {
	p := NewPersonID()
	events := Events(p, 1, 2)
	want := []*personv1.EventEnvelope{proto.CloneOf(events[0]), proto.CloneOf(events[1])}
	mustAppend(t, s.Events, p, 0, events)
	events[0].Actor = "changed after append"
	for _, e := range loadAll(t, s.Events, p, 0) {
		e.Actor = "changed after load"
	}
	checkEvents(t, loadAll(t, s.Events, p, 0), want)
}

func testConflict(t *testing.T, s Stores) {
	p := NewPersonID()
	stored := Events(p, 1, 2)
	mustAppend(t, s.Events, p, 0, stored)
	tests := []struct {
		name     string
		expected uint64
	}{
		{"expected 0 on an existing person", 0},
		{"expected behind", 1},
		{"expected ahead", 3},
		{"expected far ahead", 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Events.Append(t.Context(), p, tc.expected, Events(p, tc.expected+1, 2))
			if !errors.Is(err, persistence.ErrConflict) {
				t.Fatalf("Append at %d = %v, want ErrConflict", tc.expected, err)
			}
			checkLastVersion(t, s.Events, p, 2)
			checkEvents(t, loadAll(t, s.Events, p, 0), stored)
		})
	}
	t.Run("new person with expected 1", func(t *testing.T) {
		q := NewPersonID()
		_, err := s.Events.Append(t.Context(), q, 1, Events(q, 2, 1))
		if !errors.Is(err, persistence.ErrConflict) {
			t.Fatalf("Append = %v, want ErrConflict", err)
		}
		checkLastVersion(t, s.Events, q, 0)
	})
}

// testConcurrentWriters races two writers with the same expected version on
// one person, round after round: exactly one must win each round.
func testConcurrentWriters(t *testing.T, s Stores) {
	p := NewPersonID()
	const rounds = 25
	var history []*personv1.EventEnvelope
	for round := range rounds {
		expected := uint64(len(history))
		n := 1 + round%3 // single- and multi-event appends
		batches := [2][]*personv1.EventEnvelope{Events(p, expected+1, n), Events(p, expected+1, n)}
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				<-start
				_, errs[w] = s.Events.Append(t.Context(), p, expected, batches[w])
			})
		}
		close(start)
		waitGroup(t, &wg)
		var winners int
		for w, err := range errs {
			switch {
			case err == nil:
				winners++
				history = append(history, batches[w]...)
			case errors.Is(err, persistence.ErrConflict):
			default:
				t.Fatalf("round %d writer %d: %v", round, w, err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners (errors %v), want exactly 1", round, winners, errs)
		}
	}
	checkEvents(t, loadAll(t, s.Events, p, 0), history)
}

// testConcurrentPersons appends to many persons at once.
func testConcurrentPersons(t *testing.T, s Stores) {
	const persons, perPerson = 8, 12
	ids := make([]string, persons)
	want := make([][]*personv1.EventEnvelope, persons)
	errs := make([]error, persons)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = NewPersonID()
		want[i] = Events(ids[i], 1, perPerson)
		wg.Go(func() {
			for v := range perPerson {
				if _, err := s.Events.Append(t.Context(), ids[i], uint64(v), want[i][v:v+1]); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	waitGroup(t, &wg)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, p := range ids {
		checkEvents(t, loadAll(t, s.Events, p, 0), want[i])
	}
}

// testIdempotentRetry: after a lost acknowledgement the writer retries the
// same events at the same expected version.
func testIdempotentRetry(t *testing.T, s Stores) {
	tests := []struct {
		name  string
		first int // events before the retried append
		n     int // events in the retried append
	}{
		{"single event on a new person", 0, 1},
		{"single event", 3, 1},
		{"multi-event append", 0, 3},
		{"multi-event append after others", 2, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPersonID()
			all := Events(p, 1, tc.first+tc.n)
			if tc.first > 0 {
				mustAppend(t, s.Events, p, 0, all[:tc.first])
			}
			retried := all[tc.first:]
			mustAppend(t, s.Events, p, uint64(tc.first), retried)
			for range 2 {
				mustAppend(t, s.Events, p, uint64(tc.first), retried)
			}
			checkEvents(t, loadAll(t, s.Events, p, 0), all)
			checkLastVersion(t, s.Events, p, uint64(len(all)))
		})
	}
	t.Run("retry after a later append is a conflict", func(t *testing.T) {
		p := NewPersonID()
		all := Events(p, 1, 2)
		mustAppend(t, s.Events, p, 0, all[:1])
		mustAppend(t, s.Events, p, 1, all[1:])
		_, err := s.Events.Append(t.Context(), p, 0, all[:1])
		if !errors.Is(err, persistence.ErrConflict) {
			t.Fatalf("stale retry = %v, want ErrConflict", err)
		}
		checkEvents(t, loadAll(t, s.Events, p, 0), all)
	})
}

func testInvalidEvents(t *testing.T, s Stores) {
	p := NewPersonID()
	mustAppend(t, s.Events, p, 0, Events(p, 1, 1))
	mutate := func(n int, at int, f func(e *personv1.EventEnvelope)) []*personv1.EventEnvelope {
		events := Events(p, 2, n)
		f(events[at])
		return events
	}
	tests := []struct {
		name     string
		personID string
		events   []*personv1.EventEnvelope
	}{
		{"no events", p, nil},
		{"wrong person id", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.PersonId = NewPersonID() })},
		{"wrong person id in a batch", p, mutate(3, 2, func(e *personv1.EventEnvelope) { e.PersonId = "" })},
		{"version not next", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.Version = 3 })},
		{"version gap in a batch", p, mutate(3, 1, func(e *personv1.EventEnvelope) { e.Version = 4 })},
		{"version 0", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.Version = 0 })},
		{"empty event id", p, mutate(2, 1, func(e *personv1.EventEnvelope) { e.EventId = "" })},
		{"repeated event id", p, func() []*personv1.EventEnvelope {
			events := Events(p, 2, 2)
			events[1].EventId = events[0].EventId
			return events
		}()},
		{"no body", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.Event = nil })},
		{"empty body", p, mutate(2, 0, func(e *personv1.EventEnvelope) { e.Event = &personv1.Event{} })},
		{"type is not the body", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.Type = "PersonArchived" })},
		{"no type", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.Type = "" })},
		{"old schema version", p, mutate(2, 1, func(e *personv1.EventEnvelope) {
			e.Event, e.Type, e.SchemaVersion = Body(p, 1), "NameUpdated", 1
		})},
		{"future schema version", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.SchemaVersion++ })},
		{"no schema version", p, mutate(1, 0, func(e *personv1.EventEnvelope) { e.SchemaVersion = 0 })},
		{"nil event", p, append(Events(p, 2, 1), nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Events.Append(t.Context(), tc.personID, 1, tc.events)
			if !errors.Is(err, persistence.ErrInvalidEvent) {
				t.Fatalf("Append = %v, want ErrInvalidEvent", err)
			}
			checkLastVersion(t, s.Events, p, 1)
		})
	}
}

func testInvalidPersonID(t *testing.T, s Stores) {
	ctx := t.Context()
	for _, id := range []string{"", "a.b", "a*", ">", "a b", "person.events.x", "ä", string(make([]byte, 129))} {
		t.Run(fmt.Sprintf("%.20q", id), func(t *testing.T) {
			calls := []struct {
				name    string
				call    func() error
				wantErr error
			}{
				{"Append", func() error { _, err := s.Events.Append(ctx, id, 0, Events(id, 1, 1)); return err }, persistence.ErrInvalidEvent},
				{"Load", func() error {
					return s.Events.Load(ctx, id, 0, func(*personv1.EventEnvelope) error { return nil })
				}, persistence.ErrInvalidEvent},
				{"LastVersion", func() error { _, err := s.Events.LastVersion(ctx, id); return err }, persistence.ErrInvalidEvent},
				{"SaveSnapshot", func() error {
					return s.Snapshots.SaveSnapshot(ctx, persistence.Snapshot{PersonID: id, Version: 1, SchemaVersion: 1})
				}, persistence.ErrInvalidSnapshot},
				{"LoadSnapshot", func() error { _, err := s.Snapshots.LoadSnapshot(ctx, id); return err }, persistence.ErrInvalidEvent},
			}
			for _, c := range calls {
				if err := c.call(); !errors.Is(err, c.wantErr) {
					t.Errorf("%s(%q) = %v, want %v", c.name, id, err, c.wantErr)
				}
			}
		})
	}
}

func testLastVersion(t *testing.T, s Stores) {
	p := NewPersonID()
	checkLastVersion(t, s.Events, p, 0)
	mustAppend(t, s.Events, p, 0, Events(p, 1, 1))
	checkLastVersion(t, s.Events, p, 1)
	mustAppend(t, s.Events, p, 1, Events(p, 2, 3))
	checkLastVersion(t, s.Events, p, 4)
	checkLastVersion(t, s.Events, NewPersonID(), 0)
}

func testSnapshots(t *testing.T, s Stores) {
	ss := s.Snapshots
	p := NewPersonID()
	if _, err := ss.LoadSnapshot(t.Context(), p); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("LoadSnapshot of a person without snapshot = %v, want ErrNotFound", err)
	}
	snap := func(v uint64, schema uint32, state string) persistence.Snapshot {
		return persistence.Snapshot{PersonID: p, Version: v, SchemaVersion: schema, State: []byte(state)}
	}
	steps := []struct {
		name string
		save persistence.Snapshot
		want persistence.Snapshot
	}{
		{"first", snap(2, 1, "two"), snap(2, 1, "two")},
		{"newer wins", snap(5, 1, "five"), snap(5, 1, "five")},
		{"older is ignored", snap(3, 1, "three"), snap(5, 1, "five")},
		{"same version replaces", snap(5, 2, "five again"), snap(5, 2, "five again")},
		{"empty state", snap(6, 2, ""), snap(6, 2, "")},
	}
	for _, st := range steps {
		saved := st.save
		saved.State = bytes.Clone(st.save.State)
		if err := ss.SaveSnapshot(t.Context(), saved); err != nil {
			t.Fatalf("%s: SaveSnapshot: %v", st.name, err)
		}
		clear(saved.State) // the store must have copied it
		got, err := ss.LoadSnapshot(t.Context(), p)
		if err != nil {
			t.Fatalf("%s: LoadSnapshot: %v", st.name, err)
		}
		if !snapshotEqual(got, st.want) {
			t.Fatalf("%s: LoadSnapshot = %+v, want %+v", st.name, got, st.want)
		}
	}
	q := NewPersonID()
	if _, err := ss.LoadSnapshot(t.Context(), q); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("LoadSnapshot of another person = %v, want ErrNotFound", err)
	}
}

// testSnapshotsConcurrent: snapshots saved concurrently in any order leave
// the newest.
func testSnapshotsConcurrent(t *testing.T, s Stores) {
	p := NewPersonID()
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		v := uint64(n - i) // newest first, to give older ones the chance to overwrite
		wg.Go(func() {
			errs[i] = s.Snapshots.SaveSnapshot(t.Context(), persistence.Snapshot{PersonID: p, Version: v, SchemaVersion: 1, State: []byte(fmt.Sprint(v))})
		})
	}
	waitGroup(t, &wg)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got, err := s.Snapshots.LoadSnapshot(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != n || string(got.State) != fmt.Sprint(n) {
		t.Fatalf("LoadSnapshot = version %d state %q, want version %d", got.Version, got.State, n)
	}
}

func snapshotEqual(a, b persistence.Snapshot) bool {
	return a.PersonID == b.PersonID && a.Version == b.Version && a.SchemaVersion == b.SchemaVersion && bytes.Equal(a.State, b.State)
}

func testInvalidSnapshot(t *testing.T, s Stores) {
	tests := []struct {
		name string
		snap persistence.Snapshot
	}{
		{"no person id", persistence.Snapshot{Version: 1, SchemaVersion: 1}},
		{"version 0", persistence.Snapshot{PersonID: NewPersonID(), SchemaVersion: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Snapshots.SaveSnapshot(t.Context(), tc.snap)
			if !errors.Is(err, persistence.ErrInvalidSnapshot) {
				t.Fatalf("SaveSnapshot = %v, want ErrInvalidSnapshot", err)
			}
		})
	}
}

func testCanceledContext(t *testing.T, s Stores) {
	p := NewPersonID()
	mustAppend(t, s.Events, p, 0, Events(p, 1, 2))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Events.Append(ctx, p, 2, Events(p, 3, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context = %v, want context.Canceled", err)
	}
	err := s.Events.Load(ctx, p, 0, func(*personv1.EventEnvelope) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context = %v, want context.Canceled", err)
	}
	checkLastVersion(t, s.Events, p, 2)
}

func testClosed(t *testing.T, s Stores) {
	p := NewPersonID()
	mustAppend(t, s.Events, p, 0, Events(p, 1, 1))
	if err := s.Snapshots.SaveSnapshot(t.Context(), persistence.Snapshot{PersonID: p, Version: 1, SchemaVersion: 1}); err != nil {
		t.Fatal(err)
	}
	closers := []any{s.Events}
	if any(s.Snapshots) != any(s.Events) {
		closers = append(closers, s.Snapshots)
	}
	for _, c := range closers {
		cl, ok := c.(io.Closer)
		if !ok {
			t.Fatalf("%T does not implement io.Closer", c)
		}
		if err := cl.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	ctx := t.Context()
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { _, err := s.Events.Append(ctx, p, 1, Events(p, 2, 1)); return err }},
		{"Load", func() error {
			return s.Events.Load(ctx, p, 0, func(*personv1.EventEnvelope) error { return nil })
		}},
		{"LastVersion", func() error { _, err := s.Events.LastVersion(ctx, p); return err }},
		{"SaveSnapshot", func() error {
			return s.Snapshots.SaveSnapshot(ctx, persistence.Snapshot{PersonID: p, Version: 2, SchemaVersion: 1})
		}},
		{"LoadSnapshot", func() error { _, err := s.Snapshots.LoadSnapshot(ctx, p); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, persistence.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
	for _, c := range closers {
		if err := c.(io.Closer).Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	}
}

// waitGroup waits for wg, failing the test after a generous deadline.
func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("goroutines did not finish within a minute")
	}
}
