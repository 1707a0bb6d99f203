package jetstream_test

import (
	"errors"
	"testing"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
)

// TestSnapshotThenTail: a node that knows nothing loads a snapshot and the
// events after it, as a grain activation does.
func TestSnapshotThenTail(t *testing.T) {
	s, nc := open(t, jetstream.Config{}, natstest.WithSyncInterval())
	p := storetest.NewPersonID()
	all := storetest.Events(p, 1, 30)
	for v := 0; v < len(all); v += 3 {
		if _, err := s.Append(t.Context(), p, uint64(v), all[v:v+3]); err != nil {
			t.Fatal(err)
		}
	}
	// Saved by a store that did not write the events: it finds the
	// snapshot's stream position through the backlinks.
	saver, _ := openOn(t, nc, jetstream.Config{Logger: failOnWarn(t)})
	if err := saver.SaveSnapshot(t.Context(), persistence.Snapshot{PersonID: p, Version: 20, SchemaVersion: 1, State: []byte("s20")}); err != nil {
		t.Fatal(err)
	}
	fresh, _ := openOn(t, nc, jetstream.Config{Logger: failOnWarn(t)})
	snap, err := fresh.LoadSnapshot(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 20 || string(snap.State) != "s20" {
		t.Fatalf("LoadSnapshot = %+v", snap)
	}
	got, err := loadAll(t, fresh, p, snap.Version+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[0].GetVersion() != 21 || got[9].GetVersion() != 30 {
		t.Fatalf("tail after the snapshot: versions %v, want 21..30", versionsOf(got))
	}
}

// TestUndecodableSnapshotIgnored: a corrupt snapshot value reads as no
// snapshot (the events rebuild the state), not as a failed activation.
func TestUndecodableSnapshotIgnored(t *testing.T) {
	s, nc := open(t, jetstream.Config{}, natstest.WithSyncInterval())
	p := storetest.NewPersonID()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), "PERSON_SNAPSHOTS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), p, []byte{0xff, 0x01}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadSnapshot(t.Context(), p); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("LoadSnapshot of a corrupt value = %v, want ErrNotFound", err)
	}
	// A new snapshot replaces it.
	if err := s.SaveSnapshot(t.Context(), persistence.Snapshot{PersonID: p, Version: 1, SchemaVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadSnapshot(t.Context(), p); err != nil || got.Version != 1 {
		t.Fatalf("LoadSnapshot = %+v, %v", got, err)
	}
}
