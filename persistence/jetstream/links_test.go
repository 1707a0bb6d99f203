package jetstream

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/cim/personrt/persistence"
)

func TestLinksRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		seq, ver   uint64
		batchIndex int
		prev       []uint64
		wantTail   []uint64
	}{
		{"first event", 7, 1, 0, nil, []uint64{7}},
		{"single appends", 100, 4, 0, []uint64{90, 50, 3}, []uint64{100, 90, 50, 3}},
		{"in a batch", 100, 5, 2, []uint64{40, 12}, []uint64{100, 99, 98, 40, 12}},
		{"batch of a new person", 12, 3, 2, nil, []uint64{12, 11, 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var prevHeader, batchHeader string
			if len(tc.prev) > 0 {
				prevHeader = formatPrevSeqs(tc.prev)
			}
			if tc.batchIndex > 0 {
				batchHeader = fmt.Sprint(tc.batchIndex)
			}
			l := parseLinks(tc.seq, tc.ver, prevHeader, batchHeader)
			if got := l.tail(100); !slices.Equal(got, tc.wantTail) {
				t.Fatalf("tail = %v, want %v (header %q)", got, tc.wantTail, prevHeader)
			}
			if got := l.tail(2); !slices.Equal(got, tc.wantTail[:min(2, len(tc.wantTail))]) {
				t.Fatalf("tail(2) = %v, want %v", got, tc.wantTail[:2])
			}
		})
	}
}

// TestParseLinksRejects: a malformed header yields no links (the reader
// then scans), never wrong ones.
func TestParseLinksRejects(t *testing.T) {
	tests := []struct {
		name          string
		seq, version  uint64
		prev, batchIx string
	}{
		{"not numbers", 100, 5, "a,b", ""},
		{"not below own sequence", 100, 5, "100", ""},
		{"zero delta", 100, 5, "90,0", ""},
		{"delta below 1", 100, 5, "90,90", ""},
		{"more links than versions", 100, 2, "90,5", ""},
		{"batch index too large", 100, 2, "", "2"},
		{"batch index not a number", 100, 5, "", "x"},
		{"first link inside the batch", 100, 5, "99", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := parseLinks(tc.seq, tc.version, tc.prev, tc.batchIx)
			if len(l.prev) != 0 {
				t.Fatalf("parseLinks(%q, %q) = %v, want no backlinks", tc.prev, tc.batchIx, l.prev)
			}
		})
	}
}

func TestNextTail(t *testing.T) {
	got := nextTail(50, 3, []uint64{20, 10, 5}, 5)
	if want := []uint64{50, 49, 48, 20, 10}; !slices.Equal(got, want) {
		t.Fatalf("nextTail = %v, want %v", got, want)
	}
	if got := nextTail(50, 3, nil, 2); !slices.Equal(got, []uint64{50, 49}) {
		t.Fatalf("nextTail capped = %v", got)
	}
}

func TestCacheEntry(t *testing.T) {
	c, err := newPositions(2)
	if err != nil {
		t.Fatal(err)
	}
	c.setLast("p", 5, []uint64{50, 40, 30})
	c.addPosition("p", position{version: 1, seq: 3})
	e := c.get("p")
	for _, tc := range []struct {
		version uint64
		want    uint64
		ok      bool
	}{{5, 50, true}, {3, 30, true}, {2, 0, false}, {1, 3, true}, {6, 0, false}, {0, 0, false}} {
		got, ok := e.at(tc.version)
		if got != tc.want || ok != tc.ok {
			t.Errorf("at(%d) = %d, %v; want %d, %v", tc.version, got, ok, tc.want, tc.ok)
		}
	}
	if p, ok := e.before(3); !ok || p != (position{version: 1, seq: 3}) {
		t.Errorf("before(3) = %v, %v; want {1 3}", p, ok)
	}
	if p, ok := e.before(5); !ok || p != (position{version: 4, seq: 40}) {
		t.Errorf("before(5) = %v, %v; want {4 40}", p, ok)
	}
	c.setLast("p", 4, []uint64{40})
	if got := c.get("p").version; got != 5 {
		t.Errorf("an older setLast replaced version 5 with %d", got)
	}
	c.setLast("q", 1, []uint64{1})
	c.setLast("r", 1, []uint64{2})
	if got := c.get("p"); got.version != 0 {
		t.Errorf("the cache kept %v beyond its size", got)
	}
}

func TestSnapshotValue(t *testing.T) {
	in := persistence.Snapshot{PersonID: "p", Version: 42, SchemaVersion: 3, State: []byte("state")}
	got, seq, err := decodeSnapshot("p", encodeSnapshot(in, 1234))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 42 || got.SchemaVersion != 3 || !bytes.Equal(got.State, in.State) || seq != 1234 || got.PersonID != "p" {
		t.Fatalf("decoded %+v seq %d", got, seq)
	}
	for _, bad := range [][]byte{{0xff}, {0x08}, encodeSnapshot(persistence.Snapshot{}, 1)} {
		if _, _, err := decodeSnapshot("p", bad); err == nil {
			t.Errorf("decodeSnapshot(%x) succeeded", bad)
		}
	}
}

// FuzzParseLinks: any header yields links whose tail is strictly
// decreasing, below the event's own sequence, and no longer than its
// version.
func FuzzParseLinks(f *testing.F) {
	f.Add(uint64(100), uint64(5), "90,10,5", "1")
	f.Add(uint64(7), uint64(1), "", "")
	f.Fuzz(func(t *testing.T, seq, version uint64, prev, batch string) {
		if seq == 0 || version == 0 {
			return
		}
		tail := parseLinks(seq, version, prev, batch).tail(1 << 20)
		if len(tail) == 0 || tail[0] != seq || uint64(len(tail)) > version {
			t.Fatalf("tail %v for seq %d version %d", tail, seq, version)
		}
		for i := 1; i < len(tail); i++ {
			if tail[i] >= tail[i-1] || tail[i] == 0 {
				t.Fatalf("tail %v is not strictly decreasing above 0", tail)
			}
		}
	})
}

// FuzzDecodeSnapshot: any stored value decodes or fails, never panics, and
// what decodes re-encodes to the same snapshot.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(persistence.Snapshot{Version: 3, SchemaVersion: 1, State: []byte("x")}, 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, seq, err := decodeSnapshot("p", b)
		if err != nil {
			return
		}
		again, seq2, err := decodeSnapshot("p", encodeSnapshot(s, seq))
		if err != nil || again.Version != s.Version || again.SchemaVersion != s.SchemaVersion || !bytes.Equal(again.State, s.State) || seq2 != seq {
			t.Fatalf("round trip: %+v %d → %+v %d, %v", s, seq, again, seq2, err)
		}
	})
}
