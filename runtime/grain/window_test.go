package grain

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// rec is one event recorded in a window: the command that wrote it and its
// version.
type rec struct {
	id      string
	version uint64
}

// entry is a command of a window as the tests see it.
type entry struct {
	id string
	span
}

// contents returns the commands of w, oldest first, checking the
// window's own invariants on the way.
func contents(t testing.TB, w *window) []entry {
	t.Helper()
	var out []entry
	seen := map[string]bool{}
	for e := range w.all() {
		if seen[e.id] {
			t.Errorf("command %s is in the window twice", e.id)
		}
		seen[e.id] = true
		if e.hash != idHash(e.id) {
			t.Errorf("command %s has a stale hash", e.id)
		}
		if n := len(out); n > 0 && e.first <= out[n-1].last {
			t.Errorf("command %s at %d follows %v", e.id, e.first, out[n-1])
		}
		out = append(out, entry{e.id, e.span()})
	}
	return out
}

func TestWindow(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		records []rec
		want    []entry  // oldest first
		gone    []string // ids the window must not hold
	}{
		{
			name:    "one event per command",
			size:    4,
			records: []rec{{"a", 1}, {"b", 2}, {"c", 3}},
			want:    []entry{{"a", span{1, 1}}, {"b", span{2, 2}}, {"c", span{3, 3}}},
		},
		{
			name:    "contiguous events extend a span",
			size:    4,
			records: []rec{{"a", 1}, {"a", 2}, {"a", 3}, {"b", 4}, {"b", 5}},
			want:    []entry{{"a", span{1, 3}}, {"b", span{4, 5}}},
		},
		{
			name:    "an event seen again changes nothing",
			size:    4,
			records: []rec{{"a", 1}, {"a", 2}, {"a", 1}},
			want:    []entry{{"a", span{1, 2}}},
		},
		{
			name:    "the oldest command is forgotten when full",
			size:    2,
			records: []rec{{"a", 1}, {"b", 2}, {"b", 3}, {"c", 4}, {"d", 5}},
			want:    []entry{{"c", span{4, 4}}, {"d", span{5, 5}}},
			gone:    []string{"a", "b"},
		},
		{
			name:    "the ring wraps more than once",
			size:    3,
			records: []rec{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}, {"f", 6}, {"g", 7}},
			want:    []entry{{"e", span{5, 5}}, {"f", span{6, 6}}, {"g", span{7, 7}}},
			gone:    []string{"a", "b", "c", "d"},
		},
		{
			name: "an id written again later keeps its newest span",
			size: 3,
			// Another writer reused a causation id: the newest span answers.
			records: []rec{{"a", 1}, {"b", 2}, {"a", 5}, {"c", 6}},
			want:    []entry{{"b", span{2, 2}}, {"a", span{5, 5}}, {"c", span{6, 6}}},
		},
		{
			name:    "a superseded entry leaving the ring keeps the id",
			size:    2,
			records: []rec{{"a", 1}, {"a", 5}, {"b", 6}},
			want:    []entry{{"a", span{5, 5}}, {"b", span{6, 6}}},
		},
		{
			name:    "an event older than the newest command is not remembered",
			size:    4,
			records: []rec{{"a", 1}, {"b", 3}, {"c", 2}},
			want:    []entry{{"a", span{1, 1}}, {"b", span{3, 3}}},
			gone:    []string{"c"},
		},
		{
			name:    "a window that grows keeps its order",
			size:    5,
			records: []rec{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}, {"f", 6}, {"b", 7}, {"g", 8}},
			want:    []entry{{"d", span{4, 4}}, {"e", span{5, 5}}, {"f", span{6, 6}}, {"b", span{7, 7}}, {"g", span{8, 8}}},
			gone:    []string{"a", "c"},
		},
		{
			name:    "events without a causation id are not remembered",
			size:    2,
			records: []rec{{"", 1}, {"a", 2}},
			want:    []entry{{"a", span{2, 2}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w window
			for _, r := range tc.records {
				w.record(r.id, r.version, tc.size)
			}
			if got := contents(t, &w); !slices.Equal(got, tc.want) {
				t.Errorf("entries = %v, want %v", got, tc.want)
			}
			if got, want := w.len(), len(tc.want); got != want {
				t.Errorf("len = %d, want %d", got, want)
			}
			for _, e := range tc.want {
				if got, ok := w.lookup(e.id); !ok || got != e.span {
					t.Errorf("lookup(%s) = %v, %t; want %v", e.id, got, ok, e.span)
				}
			}
			for _, id := range tc.gone {
				if got, ok := w.lookup(id); ok {
					t.Errorf("lookup(%s) = %v, want forgotten", id, got)
				}
			}
		})
	}
}

func TestEmptyWindow(t *testing.T) {
	var w window
	if _, ok := w.lookup("a"); ok {
		t.Error("an empty window holds a command")
	}
	if got := w.len(); got != 0 {
		t.Errorf("len = %d, want 0", got)
	}
	b, err := wrapSnapshot([]byte("state"), &w)
	if err != nil {
		t.Fatal(err)
	}
	state, got, err := unwrapSnapshot(b, 1, 4)
	if err != nil || string(state) != "state" || got.len() != 0 || got.ring != nil {
		t.Errorf("unwrap = %q, %d commands, %v; want the state and no command", state, got.len(), err)
	}
}

// model is the naive window: a list, oldest first, searched linearly.
type model struct{ entries []entry }

func (m *model) find(id string) int {
	return slices.IndexFunc(m.entries, func(e entry) bool { return e.id == id })
}

func (m *model) record(id string, v uint64, size int) {
	n := len(m.entries)
	switch {
	case id == "" || n > 0 && v <= m.entries[n-1].last:
		return
	case n > 0 && m.entries[n-1].id == id && m.entries[n-1].last+1 == v:
		m.entries[n-1].last = v
		return
	}
	if i := m.find(id); i >= 0 {
		m.entries = slices.Delete(m.entries, i, i+1)
	}
	m.entries = append(m.entries, entry{id, span{v, v}})
	if len(m.entries) > size {
		m.entries = m.entries[1:]
	}
}

// The window behaves as the naive model over random histories: commands
// of one or more events, ids reused by other writers, replays of known
// events, windows of every small size.
func TestWindowModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		size := 1 + r.IntN(9)
		var w window
		var m model
		v := uint64(0)
		for step := range 200 {
			id := fmt.Sprintf("c%d", r.IntN(3*size))
			switch r.IntN(10) {
			case 0: // a replayed event already seen
				if v > 0 {
					old := 1 + r.Uint64N(v)
					w.record(id, old, size)
					m.record(id, old, size)
				}
			case 1: // an event without a command
				v++
				w.record("", v, size)
				m.record("", v, size)
			case 2: // a command through add, as the command path does
				if w.find(id) >= 0 {
					continue
				}
				n := 1 + r.Uint64N(3)
				w.add(id, v+1, v+n, size)
				for range n {
					v++
					m.record(id, v, size)
				}
			default:
				for range 1 + r.IntN(3) {
					v++
					w.record(id, v, size)
					m.record(id, v, size)
				}
			}
			if got := contents(t, &w); !slices.Equal(got, m.entries) {
				t.Fatalf("round %d step %d (size %d): window %v, model %v", round, step, size, got, m.entries)
			}
			if cap(w.ring) > size {
				t.Fatalf("round %d step %d: capacity %d above size %d", round, step, cap(w.ring), size)
			}
		}
	}
}

// A window grows with its commands: nothing for a grain that wrote none,
// one entry for one command.
func TestWindowGrowsFromNothing(t *testing.T) {
	var w window
	if got := testing.AllocsPerRun(10, func() { _, _ = w.lookup("a") }); got != 0 {
		t.Errorf("lookup in an empty window allocates %v times", got)
	}
	w.record("a", 1, DefaultIdempotencyWindow)
	if got, want := cap(w.ring), 1; got != want {
		t.Errorf("capacity after one command = %d, want %d", got, want)
	}
	for v := uint64(2); v <= 2*DefaultIdempotencyWindow; v++ {
		w.record(fmt.Sprint("c", v), v, DefaultIdempotencyWindow)
	}
	if got, want := cap(w.ring), DefaultIdempotencyWindow; got != want {
		t.Errorf("capacity when full = %d, want %d", got, want)
	}
}

// BenchmarkWindow measures the per-command work on a full default window:
// the duplicate lookup of a new command id and its add.
func BenchmarkWindow(b *testing.B) {
	var w window
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprintf("0198a0c2-7b1e-7c3a-9f00-%012d", i)
	}
	v := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		id := ids[v%uint64(len(ids))]
		if _, ok := w.lookup(id); !ok {
			w.add(id, v+1, v+1, DefaultIdempotencyWindow)
		}
		v++
	}
}
