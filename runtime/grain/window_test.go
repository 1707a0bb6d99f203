package grain

import (
	"slices"
	"testing"
)

// rec is one event recorded in a window: the command that wrote it and its
// version.
type rec struct {
	id      string
	version uint64
}

func contents(w *window) []written {
	var out []written
	w.entries(func(e written) { out = append(out, e) })
	return out
}

func TestWindow(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		records []rec
		want    []written // oldest first
		gone    []string  // ids the window must not hold
	}{
		{
			name:    "one event per command",
			size:    4,
			records: []rec{{"a", 1}, {"b", 2}, {"c", 3}},
			want:    []written{{"a", span{1, 1}}, {"b", span{2, 2}}, {"c", span{3, 3}}},
		},
		{
			name:    "contiguous events extend a span",
			size:    4,
			records: []rec{{"a", 1}, {"a", 2}, {"a", 3}, {"b", 4}, {"b", 5}},
			want:    []written{{"a", span{1, 3}}, {"b", span{4, 5}}},
		},
		{
			name:    "an event seen again changes nothing",
			size:    4,
			records: []rec{{"a", 1}, {"a", 2}, {"a", 1}},
			want:    []written{{"a", span{1, 2}}},
		},
		{
			name:    "the oldest command is forgotten when full",
			size:    2,
			records: []rec{{"a", 1}, {"b", 2}, {"b", 3}, {"c", 4}, {"d", 5}},
			want:    []written{{"c", span{4, 4}}, {"d", span{5, 5}}},
			gone:    []string{"a", "b"},
		},
		{
			name:    "the ring wraps more than once",
			size:    3,
			records: []rec{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}, {"f", 6}, {"g", 7}},
			want:    []written{{"e", span{5, 5}}, {"f", span{6, 6}}, {"g", span{7, 7}}},
			gone:    []string{"a", "b", "c", "d"},
		},
		{
			name: "an id written again later keeps its newest span",
			size: 3,
			// Another writer reused a causation id: the newest span answers.
			records: []rec{{"a", 1}, {"b", 2}, {"a", 5}, {"c", 6}},
			want:    []written{{"b", span{2, 2}}, {"a", span{5, 5}}, {"c", span{6, 6}}},
		},
		{
			name:    "a superseded entry leaving the ring keeps the id",
			size:    2,
			records: []rec{{"a", 1}, {"a", 5}, {"b", 6}},
			want:    []written{{"a", span{5, 5}}, {"b", span{6, 6}}},
		},
		{
			name:    "events without a causation id are not remembered",
			size:    2,
			records: []rec{{"", 1}, {"a", 2}},
			want:    []written{{"a", span{2, 2}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow(tc.size, 0)
			for _, r := range tc.records {
				w.record(r.id, r.version)
			}
			if got := contents(w); !slices.Equal(got, tc.want) {
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

func TestNilWindow(t *testing.T) {
	var w *window
	if _, ok := w.lookup("a"); ok {
		t.Error("a nil window holds a command")
	}
	if got := w.len(); got != 0 {
		t.Errorf("len = %d, want 0", got)
	}
	b, err := wrapSnapshot([]byte("state"), w)
	if err != nil {
		t.Fatal(err)
	}
	state, got, err := unwrapSnapshot(b, 1, 4)
	if err != nil || string(state) != "state" || got.len() != 0 {
		t.Errorf("unwrap = %q, %d commands, %v; want the state and no command", state, got.len(), err)
	}
}
