package grain

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/runtimev1"
)

func TestSnapshotEnvelope(t *testing.T) {
	var w window
	for _, r := range []rec{{"a", 1}, {"b", 2}, {"b", 3}, {"c", 4}} {
		w.record(r.id, r.version, 8)
	}
	b, err := wrapSnapshot([]byte("kind state"), &w)
	if err != nil {
		t.Fatal(err)
	}
	state, got, err := unwrapSnapshot(b, 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	if string(state) != "kind state" {
		t.Errorf("state = %q, want %q", state, "kind state")
	}
	if !slices.Equal(contents(t, &got), contents(t, &w)) {
		t.Errorf("window = %v, want %v", contents(t, &got), contents(t, &w))
	}

	t.Run("a smaller window keeps the newest commands", func(t *testing.T) {
		_, got, err := unwrapSnapshot(b, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []entry{{"b", span{2, 3}}, {"c", span{4, 4}}}
		if !slices.Equal(contents(t, &got), want) {
			t.Errorf("window = %v, want %v", contents(t, &got), want)
		}
	})

	envelope := func(spans ...*runtimev1.CommandSpan) []byte {
		b, err := proto.Marshal(&runtimev1.GrainSnapshot{State: []byte("s"), Commands: spans})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cs := func(id string, first, last uint64) *runtimev1.CommandSpan {
		return &runtimev1.CommandSpan{CommandId: id, FirstVersion: first, LastVersion: last}
	}
	t.Run("a command id stored twice keeps its newest span", func(t *testing.T) {
		_, got, err := unwrapSnapshot(envelope(cs("a", 1, 1), cs("b", 2, 2), cs("a", 3, 4)), 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []entry{{"b", span{2, 2}}, {"a", span{3, 4}}}
		if !slices.Equal(contents(t, &got), want) {
			t.Errorf("window = %v, want %v", contents(t, &got), want)
		}
	})

	bad := []struct {
		name string
		b    []byte
	}{
		{"not a protobuf", []byte{0xff, 0xff, 0xff}},
		{"a kind's bare JSON", []byte(`{"created":true}`)},
		{"command without id", envelope(cs("", 1, 1))},
		{"version zero", envelope(cs("a", 0, 1))},
		{"span backwards", envelope(cs("a", 3, 2))},
		{"span past the snapshot", envelope(cs("a", 4, 5))},
		{"commands out of order", envelope(cs("a", 3, 3), cs("b", 2, 2))},
		{"commands overlap", envelope(cs("a", 1, 3), cs("b", 3, 4))},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := unwrapSnapshot(tc.b, 4, 8); !errors.Is(err, errBadSnapshot) {
				t.Errorf("err = %v, want errBadSnapshot", err)
			}
		})
	}
}

func TestStoredSchemaVersion(t *testing.T) {
	tests := []struct {
		kind, want uint32
	}{
		{0, 1 << 24},
		{1, 1<<24 | 1},
		{maxKindSchema, 1<<25 - 1},
	}
	for _, tc := range tests {
		if got := storedSchemaVersion(tc.kind); got != tc.want {
			t.Errorf("storedSchemaVersion(%d) = %#x, want %#x", tc.kind, got, tc.want)
		}
	}
}

// goldenSnapshot is testdata/grain_snapshot_v1.bin: a snapshot envelope of
// format 1 as the shell wrote it, kept unedited so that the stored format
// stays readable.
const goldenSnapshot = "testdata/grain_snapshot_v1.bin"

func TestGoldenSnapshot(t *testing.T) {
	b, err := os.ReadFile(goldenSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	state, w, err := unwrapSnapshot(b, 6, DefaultIdempotencyWindow)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{"0198a0c2-7b1e-7c3a-9f00-000000000001", span{1, 1}},
		{"0198a0c2-7b1e-7c3a-9f00-000000000002", span{2, 4}},
		{"policy:welcome:0198a0c2-7b1e-7c3a-9f00-0000000000aa", span{5, 6}},
	}
	if string(state) != `{"created":true,"renames":3,"name":"Ada"}` {
		t.Errorf("state = %q", state)
	}
	if got := contents(t, &w); !slices.Equal(got, want) {
		t.Errorf("window = %v, want %v", got, want)
	}
}

// FuzzUnwrapSnapshot: any bytes either decode to a window that keeps the
// envelope's rules and survives a round trip, or are rejected with
// errBadSnapshot; nothing panics.
func FuzzUnwrapSnapshot(f *testing.F) {
	if b, err := os.ReadFile(goldenSnapshot); err == nil {
		f.Add(b, uint64(6), 2)
	}
	f.Add([]byte{}, uint64(0), 1)
	f.Add([]byte(`{"created":true}`), uint64(3), 4)
	f.Fuzz(func(t *testing.T, b []byte, version uint64, size int) {
		size = 1 + int(uint(size)%MaxIdempotencyWindow)
		state, w, err := unwrapSnapshot(b, version, size)
		if err != nil {
			if !errors.Is(err, errBadSnapshot) {
				t.Fatalf("err = %v, want errBadSnapshot", err)
			}
			return
		}
		var prev uint64
		got := contents(t, &w)
		if len(got) > size {
			t.Fatalf("%d commands in a window of %d", len(got), size)
		}
		for _, e := range got {
			if e.id == "" || e.first == 0 || e.first > e.last || e.last > version || e.first <= prev {
				t.Fatalf("entry %v breaks the envelope rules (snapshot at %d, previous %d)", e, version, prev)
			}
			prev = e.last
		}
		again, err := wrapSnapshot(state, &w)
		if err != nil {
			t.Fatal(err)
		}
		state2, w2, err := unwrapSnapshot(again, version, size)
		if err != nil || string(state2) != string(state) || !slices.Equal(contents(t, &w2), got) {
			t.Fatalf("round trip = %q %v %v, want %q %v", state2, contents(t, &w2), err, state, got)
		}
	})
}

// BenchmarkSnapshotEnvelope measures wrapping a full default window into a
// snapshot (on the grain's goroutine, every SnapshotEvery events) and
// unwrapping it at activation.
func BenchmarkSnapshotEnvelope(b *testing.B) {
	var w window
	for v := range uint64(DefaultIdempotencyWindow) {
		w.record(fmt.Sprintf("0198a0c2-7b1e-7c3a-9f00-%012d", v), v+1, DefaultIdempotencyWindow)
	}
	state := make([]byte, 512)
	env, err := wrapSnapshot(state, &w)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wrap", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(env)))
		for b.Loop() {
			if _, err := wrapSnapshot(state, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unwrap", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(env)))
		for b.Loop() {
			if _, _, err := unwrapSnapshot(env, DefaultIdempotencyWindow, DefaultIdempotencyWindow); err != nil {
				b.Fatal(err)
			}
		}
	})
}
