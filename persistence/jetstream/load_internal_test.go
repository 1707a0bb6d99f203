package jetstream

import (
	"testing"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/storetest"
)

// TestLoadFollowsBacklinks: a store that knows nothing about a person
// (fresh cache) loads it through the backlinks, without scanning, whatever
// the tail length; a store writing no backlinks scans.
func TestLoadFollowsBacklinks(t *testing.T) {
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	writer, err := Open(t.Context(), nc, Config{Backlinks: 4})
	if err != nil {
		t.Fatal(err)
	}
	p, q := storetest.NewPersonID(), storetest.NewPersonID()
	var v uint64
	for i := range 15 {
		n := 1 + i%3
		// interleave with another person so that the events are not adjacent
		if _, err := writer.Append(t.Context(), q, uint64(i), storetest.Events(q, uint64(i)+1, 1)); err != nil {
			t.Fatal(err)
		}
		if v, err = writer.Append(t.Context(), p, v, storetest.Events(p, v+1, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []uint64{0, 1, v - 4, v - 5, v - 12, v, v + 1} {
		nc2, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := Open(t.Context(), nc2, Config{Backlinks: 4})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		err = fresh.Load(t.Context(), p, from, func(e *personv1.EventEnvelope) error { got = append(got, e.GetVersion()); return nil })
		nc2.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := v - min(v, max(from, 1)-1); uint64(len(got)) != want {
			t.Fatalf("from %d: loaded %v, want %d events", from, got, want)
		}
		if n := fresh.scans.Load(); n != 0 {
			t.Fatalf("from %d: %d scans, want the backlinks to be followed", from, n)
		}
	}

	noLinks, err := Open(t.Context(), nc, Config{Stream: "NOLINKS", SubjectPrefix: "nolinks.events", SnapshotBucket: "NOLINKS_SNAPSHOTS", Backlinks: -1})
	if err != nil {
		t.Fatal(err)
	}
	for v := range uint64(3) { // single events: an atomic batch links its own events
		if _, err := noLinks.Append(t.Context(), p, v, storetest.Events(p, v+1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := noLinks.Load(t.Context(), p, 0, func(*personv1.EventEnvelope) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := noLinks.scans.Load(); n != 1 {
		t.Fatalf("store without backlinks scanned %d times, want 1", n)
	}
}
