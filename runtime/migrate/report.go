package migrate

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cim/personrt/messages/upcast"
)

// Report is what reading a source stream found: counts per event type and
// stored shape, what the migration changes, and every problem that stops
// it. DryRun returns it; Migrate fills one for the events it copied.
type Report struct {
	Source   string `json:"source"`
	FirstSeq uint64 `json:"first_seq"` // the range read
	LastSeq  uint64 `json:"last_seq"`
	Messages uint64 `json:"messages"` // read
	Events   uint64 `json:"events"`   // decoded
	Persons  int    `json:"persons"`  // with at least one event
	// Skipped counts the messages that are not events (another subject
	// than the event prefix, e.g. the original's person.commands), by the
	// first two tokens of their subject.
	Skipped map[string]uint64 `json:"skipped,omitempty"`
	// Shapes counts events per type and stored shape, with what the
	// migration writes.
	Shapes []ShapeCount `json:"shapes"`
	// Upcasts counts events stored in an older shape than the current one.
	Upcasts uint64 `json:"upcasts"`
	// DerivedVersions counts legacy events stored without a person version
	// (see the package doc).
	DerivedVersions uint64 `json:"derived_versions"`
	// Invalid lists undecodable events (the first MaxListed);
	// InvalidCount counts all of them.
	Invalid      []Invalid `json:"invalid,omitempty"`
	InvalidCount uint64    `json:"invalid_count"`
	// Gaps lists persons whose versions are not contiguous (the first
	// MaxListed); GapCount counts all of them.
	Gaps     []Gap  `json:"gaps,omitempty"`
	GapCount uint64 `json:"gap_count"`
}

// ShapeCount is the number of events of one type stored in one shape.
type ShapeCount struct {
	Type string `json:"type"`
	// From is the stored shape: "schema N" for this system's events,
	// "legacy envelope", "legacy flat 1.0", … for the original system's.
	From string `json:"from"`
	// To is the current schema version the migration writes.
	To     uint32 `json:"to"`
	Events uint64 `json:"events"`
	// Changed reports an upcast (From is not the current schema).
	Changed bool `json:"changed"`
}

// Invalid is a source message that cannot be decoded.
type Invalid struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
}

// Gap is a person's event whose version does not follow the previous one.
type Gap struct {
	PersonID string `json:"person_id"`
	Seq      uint64 `json:"seq"` // stream sequence of the event
	Want     uint64 `json:"want"`
	Got      uint64 `json:"got"`
}

// OK reports whether everything read can be migrated.
func (r *Report) OK() bool { return r.InvalidCount == 0 && r.GapCount == 0 }

// WriteText prints the report as tables.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "source\t%s (sequences %d…%d)\n", r.Source, r.FirstSeq, r.LastSeq)
	fmt.Fprintf(tw, "messages\t%d\n", r.Messages)
	fmt.Fprintf(tw, "events\t%d of %d persons\n", r.Events, r.Persons)
	for _, k := range sortedKeys(r.Skipped) {
		fmt.Fprintf(tw, "skipped\t%d on %s.* (not events)\n", r.Skipped[k], k)
	}
	fmt.Fprintf(tw, "upcast\t%d events\n", r.Upcasts)
	if r.DerivedVersions > 0 {
		fmt.Fprintf(tw, "derived versions\t%d events stored without a person version\n", r.DerivedVersions)
	}
	fmt.Fprintf(tw, "\ntype\tstored as\twritten as\tevents\tchange\n")
	for _, s := range r.Shapes {
		change := "none"
		if s.Changed {
			change = "upcast"
		}
		fmt.Fprintf(tw, "%s\t%s\tschema %d\t%d\t%s\n", s.Type, s.From, s.To, s.Events, change)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.InvalidCount > 0 {
		fmt.Fprintf(w, "\n%d undecodable events:\n", r.InvalidCount)
		for _, i := range r.Invalid {
			fmt.Fprintf(w, "  seq %d  %s: %s\n", i.Seq, i.Subject, i.Reason)
		}
		if n := r.InvalidCount - uint64(len(r.Invalid)); n > 0 {
			fmt.Fprintf(w, "  … and %d more\n", n)
		}
	}
	if r.GapCount > 0 {
		fmt.Fprintf(w, "\n%d version gaps:\n", r.GapCount)
		for _, g := range r.Gaps {
			fmt.Fprintf(w, "  person %s at seq %d: version %d, want %d\n", g.PersonID, g.Seq, g.Got, g.Want)
		}
		if n := r.GapCount - uint64(len(r.Gaps)); n > 0 {
			fmt.Fprintf(w, "  … and %d more\n", n)
		}
	}
	verdict := "OK: every event can be migrated"
	if !r.OK() {
		verdict = fmt.Sprintf("NOT MIGRATABLE: %d undecodable events, %d version gaps", r.InvalidCount, r.GapCount)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", verdict)
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shapeKey identifies a ShapeCount.
type shapeKey struct{ typ, from string }

// tally accumulates a Report.
type tally struct {
	r         *Report
	maxListed int
	shapes    map[shapeKey]uint64
}

func newTally(source string, maxListed int) *tally {
	return &tally{r: &Report{Source: source, Skipped: map[string]uint64{}}, maxListed: maxListed, shapes: map[shapeKey]uint64{}}
}

// message counts one message read.
func (t *tally) message(d *decoded) {
	r := t.r
	if r.Messages == 0 || d.seq < r.FirstSeq {
		r.FirstSeq = d.seq
	}
	r.LastSeq = max(r.LastSeq, d.seq)
	r.Messages++
	switch d.kind {
	case kindSkipped:
		r.Skipped[d.skip]++
	case kindInvalid:
		r.InvalidCount++
		if len(r.Invalid) < t.maxListed {
			r.Invalid = append(r.Invalid, Invalid{Seq: d.seq, Subject: d.subject, Reason: d.err.Error()})
		}
	case kindEvent:
		r.Events++
		t.shapes[shapeKey{d.typ, d.from}]++
		if d.needsVersion {
			r.DerivedVersions++
		}
	}
}

// gap records a version that does not follow the person's previous one.
func (t *tally) gap(g Gap) {
	t.r.GapCount++
	if len(t.r.Gaps) < t.maxListed {
		t.r.Gaps = append(t.r.Gaps, g)
	}
}

// report returns the report with the shape table, persons counted by the
// caller.
func (t *tally) report(persons int) *Report {
	r := t.r
	r.Persons = persons
	r.Shapes, r.Upcasts = r.Shapes[:0], 0
	for k, n := range t.shapes {
		cur := upcast.CurrentVersion(k.typ)
		changed := k.from != fmt.Sprintf("schema %d", cur)
		r.Shapes = append(r.Shapes, ShapeCount{Type: k.typ, From: k.from, To: cur, Events: n, Changed: changed})
		if changed {
			r.Upcasts += n
		}
	}
	slices.SortFunc(r.Shapes, func(a, b ShapeCount) int {
		return cmp.Or(strings.Compare(a.Type, b.Type), strings.Compare(a.From, b.From))
	})
	return r
}

// nextVersion checks the version of a person's next event in stream order
// against last, the person's previous version, and returns the version the
// event has: a legacy event stored without one gets last+1.
func nextVersion(last uint64, d *decoded) (v uint64, ok bool) {
	if d.needsVersion {
		return last + 1, true
	}
	return d.version, d.version == last+1
}
