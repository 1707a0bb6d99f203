package migrate

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
)

// ErrVerifyFailed is returned by Finalize when the verification finds a
// difference (nothing is deleted then).
var ErrVerifyFailed = errors.New("migrate: verification found differences")

// Names of the verification checks, as the summary and the differences
// name them.
const (
	CheckDecodes    = "decodes at the current schema"
	CheckContiguous = "versions contiguous from 1"
	CheckCounts     = "per-person event counts equal"
	CheckIDs        = "event ids equal"
	CheckState      = "folded state equal"
	CheckPersons    = "persons in both streams"
)

// VerifyOptions choose how much Verify compares.
type VerifyOptions struct {
	// Sample compares this many persons (a uniform sample: those with the
	// smallest hash of their id) instead of all of them. Every event of
	// both streams is still decoded. 0 means all.
	Sample int
}

// Verification is the outcome of Verify.
type Verification struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Sample is the requested sample size, 0 for a full verification.
	Sample int `json:"sample"`
	// Persons is the number of persons compared.
	Persons      int    `json:"persons"`
	SourceEvents uint64 `json:"source_events"`
	TargetEvents uint64 `json:"target_events"` // migrated events in the target
	// AppendedAfter counts the target's events written by nodes after the
	// switch; they are not compared.
	AppendedAfter uint64 `json:"appended_after"`
	// Checks has one row per check: how many persons (or events, for
	// CheckDecodes) failed it.
	Checks []CheckResult `json:"checks"`
	// Differences lists the failures (the first MaxListed);
	// DifferenceCount counts all of them.
	Differences     []Difference `json:"differences,omitempty"`
	DifferenceCount uint64       `json:"difference_count"`
}

// CheckResult is one row of the summary.
type CheckResult struct {
	Name   string `json:"name"`
	Failed uint64 `json:"failed"`
}

// Difference is one failed check.
type Difference struct {
	Check    string `json:"check"`
	PersonID string `json:"person_id,omitempty"`
	Detail   string `json:"detail"`
}

// OK reports that nothing differs.
func (v *Verification) OK() bool { return v.DifferenceCount == 0 }

// WriteText prints the summary table and the differences.
func (v *Verification) WriteText(w io.Writer) error {
	scope := "all persons"
	if v.Sample > 0 {
		scope = fmt.Sprintf("a sample of %d persons", v.Sample)
	}
	fmt.Fprintf(w, "verify %s → %s (%s)\n\n", v.Source, v.Target, scope)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "check\tfailed\tresult\t\n")
	fmt.Fprintf(tw, "events (source / target)\t%d / %d\t\t\n", v.SourceEvents, v.TargetEvents)
	fmt.Fprintf(tw, "persons compared\t%d\t\t\n", v.Persons)
	for _, c := range v.Checks {
		res := "ok"
		if c.Failed > 0 {
			res = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", c.Name, c.Failed, res)
	}
	if v.AppendedAfter > 0 {
		fmt.Fprintf(tw, "appended after the switch (not compared)\t%d\t\t\n", v.AppendedAfter)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range v.Differences {
		who := ""
		if d.PersonID != "" {
			who = " person " + d.PersonID + ":"
		}
		fmt.Fprintf(w, "  %s:%s %s\n", d.Check, who, d.Detail)
	}
	if n := v.DifferenceCount - uint64(len(v.Differences)); n > 0 {
		fmt.Fprintf(w, "  … and %d more\n", n)
	}
	verdict := "OK: the streams agree"
	if !v.OK() {
		verdict = fmt.Sprintf("FAILED: %d differences", v.DifferenceCount)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", verdict)
	return err
}

// side is what one stream says about one person.
type side struct {
	count    uint64
	last     uint64 // last version
	gap      string // the first version gap, "" if none
	ids      uint64 // order-dependent hash of the event ids
	state    person.State
	applyErr error
	any      bool // the stream has events of the person
}

// add folds one event in.
func (s *side) add(e *personv1.EventEnvelope, v uint64, ok bool) {
	s.any = true
	s.count++
	if !ok && s.gap == "" {
		s.gap = fmt.Sprintf("version %d follows %d", v, s.last)
	}
	s.last = max(s.last, v)
	s.ids = hashString(hashByte(s.ids, 0), e.GetEventId())
	if s.applyErr == nil {
		s.state, s.applyErr = apply(s.state, e)
	}
}

// apply is person.Apply with its panic (a broken invariant) as an error.
func apply(s person.State, e *personv1.EventEnvelope) (out person.State, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("apply %s v%d: %v", e.GetType(), e.GetVersion(), r)
		}
	}()
	return person.Apply(s, e), nil
}

// compared is one person under comparison.
type compared struct {
	hash     uint64
	src, dst side
}

// FNV-1a, inline (no allocation per event).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func hashString(h uint64, s string) uint64 {
	for i := range len(s) {
		h = hashByte(h, s[i])
	}
	return h
}

// sample keeps the persons with the k smallest id hashes (a max-heap on
// the hash): a person not admitted at its first event never is later.
type sample struct {
	k       int
	persons map[string]*compared
	heap    hashHeap
}

type hashEntry struct {
	hash uint64
	id   string
}

type hashHeap []hashEntry

func (h hashHeap) Len() int           { return len(h) }
func (h hashHeap) Less(i, j int) bool { return h[i].hash > h[j].hash }
func (h hashHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hashHeap) Push(x any)        { *h = append(*h, x.(hashEntry)) }
func (h *hashHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// admit returns the person's entry, adding it when it belongs to the
// sample (evicting the largest hash when full); nil when it does not.
func (s *sample) admit(id string) *compared {
	if c := s.persons[id]; c != nil {
		return c
	}
	h := hashString(fnvOffset, id)
	if s.k > 0 && len(s.heap) == s.k {
		if h >= s.heap[0].hash {
			return nil
		}
		delete(s.persons, heap.Pop(&s.heap).(hashEntry).id)
	}
	c := &compared{hash: h}
	s.persons[id] = c
	if s.k > 0 {
		heap.Push(&s.heap, hashEntry{hash: h, id: id})
	}
	return c
}

// inScope reports whether a person absent from the source would belong
// to the sample.
func (s *sample) inScope(id string) bool {
	return s.k == 0 || len(s.heap) < s.k || hashString(fnvOffset, id) < s.heap[0].hash
}

// Verify compares the source (upcast on read) with the new stream of the
// migration to TargetStream: every event decodes at the current schema,
// and per person the event counts, contiguous versions from 1, the event
// ids and the folded state (actors/person Apply, compared with
// proto.Equal) are equal. Events the nodes appended to the new stream
// after the switch are counted, not compared. Without a migration record
// the streams and prefixes come from the Config.
func (m *Migrator) Verify(ctx context.Context, opts VerifyOptions) (*Verification, error) {
	if m.cfg.TargetStream == "" {
		return nil, fmt.Errorf("%w: rule config.target_stream: a target stream is required", ErrInvalidConfig)
	}
	if opts.Sample < 0 {
		return nil, fmt.Errorf("%w: rule verify.sample: %d is negative", ErrInvalidConfig, opts.Sample)
	}
	source, sourcePrefix, targetPrefix, err := m.verifyNames(ctx)
	if err != nil {
		return nil, err
	}
	return m.verify(ctx, source, sourcePrefix, targetPrefix, opts)
}

// verifyNames returns the source, its prefix and the target's prefix from
// the migration record, else from the Config and the streams.
func (m *Migrator) verifyNames(ctx context.Context) (source, sourcePrefix, targetPrefix string, err error) {
	state, err := m.state(ctx, false)
	if err != nil {
		return "", "", "", err
	}
	st, found, err := state.load(ctx)
	if err != nil {
		return "", "", "", err
	}
	if found {
		if st.SourceServer != "" && m.cfg.Source == m.cfg.Target {
			return "", "", "", fmt.Errorf("%w: rule verify.source_server: the source %s is on %s: connect to it (--from)", ErrInvalidConfig, st.Source, st.SourceServer)
		}
		return st.Source, st.SourcePrefix, st.Target.SubjectPrefix, nil
	}
	p, err := m.resolve(ctx, false)
	if err != nil {
		return "", "", "", err
	}
	if m.cfg.SourceStream == "" {
		return "", "", "", fmt.Errorf("%w: %s (name the source to verify without one)", ErrNoMigration, m.cfg.TargetStream)
	}
	targetPrefix = m.cfg.TargetPrefix
	if targetPrefix == "" {
		info, err := m.targetStream(m.cfg.TargetStream).info(ctx)
		if err != nil {
			return "", "", "", err
		}
		if len(info.subjects) != 1 || !strings.HasSuffix(info.subjects[0], ".>") {
			return "", "", "", fmt.Errorf("%w: rule config.target_prefix: %s binds %v: name its prefix", ErrInvalidConfig, m.cfg.TargetStream, info.subjects)
		}
		targetPrefix = strings.TrimSuffix(info.subjects[0], ".>")
	}
	return p.source, p.sourcePrefix, targetPrefix, nil
}

// verify runs the comparison (see Verify).
func (m *Migrator) verify(ctx context.Context, source, sourcePrefix, targetPrefix string, opts VerifyOptions) (*Verification, error) {
	v := &Verification{Source: source, Target: m.cfg.TargetStream, Sample: opts.Sample}
	failed := map[string]uint64{}
	diff := func(check, personID, format string, args ...any) {
		failed[check]++
		v.DifferenceCount++
		if len(v.Differences) < m.cfg.MaxListed {
			v.Differences = append(v.Differences, Difference{Check: check, PersonID: personID, Detail: fmt.Sprintf(format, args...)})
		}
	}
	s := &sample{k: opts.Sample, persons: map[string]*compared{}}
	m.cfg.Logger.Info("migrate: verify", slog.String(logSource, source), slog.String(logTarget, m.cfg.TargetStream), slog.Int("sample", opts.Sample))

	err := m.scan(ctx, m.sourceStream(source), "verify source", sourcePrefix, func(d *decoded) {
		switch d.kind {
		case kindInvalid:
			diff(CheckDecodes, "", "source sequence %d (%s): %v", d.seq, d.subject, d.err)
			return
		case kindSkipped:
			return
		}
		v.SourceEvents++
		c := s.admit(d.env.GetPersonId())
		if c == nil {
			return
		}
		ver, ok := nextVersion(c.src.last, d)
		env := d.env
		if d.needsVersion && ver != 1 {
			var err error
			if env, err = decodeAt(d.raw, ver); err != nil {
				diff(CheckDecodes, d.env.GetPersonId(), "source sequence %d at derived version %d: %v", d.seq, ver, err)
				return
			}
		}
		c.src.add(env, ver, ok)
	})
	if err != nil {
		return nil, err
	}
	err = m.scan(ctx, m.targetStream(m.cfg.TargetStream), "verify target", targetPrefix, func(d *decoded) {
		switch {
		case d.kind == kindInvalid:
			diff(CheckDecodes, "", "target sequence %d (%s): %v", d.seq, d.subject, d.err)
			return
		case d.kind == kindSkipped:
			return
		case first(d.raw.header, hdrSourceSeq) == "":
			v.AppendedAfter++
			return
		}
		v.TargetEvents++
		id := d.env.GetPersonId()
		if cur := upcast.CurrentVersion(d.env.GetType()); d.schema != cur {
			diff(CheckDecodes, id, "target sequence %d: %s stored as %s, current is schema %d", d.seq, d.env.GetType(), d.from, cur)
		}
		c := s.persons[id]
		if c == nil {
			if !s.inScope(id) {
				return
			}
			c = &compared{}
			s.persons[id] = c
		}
		ver, ok := nextVersion(c.dst.last, d)
		c.dst.add(d.env, ver, ok)
	})
	if err != nil {
		return nil, err
	}
	v.Persons = len(s.persons)
	for _, id := range sortedKeys(s.persons) {
		m.compare(id, s.persons[id], diff)
	}
	for _, name := range []string{CheckDecodes, CheckPersons, CheckContiguous, CheckCounts, CheckIDs, CheckState} {
		v.Checks = append(v.Checks, CheckResult{Name: name, Failed: failed[name]})
	}
	return v, nil
}

// compare reports how the two sides of one person differ.
func (m *Migrator) compare(id string, c *compared, diff func(check, personID, format string, args ...any)) {
	switch {
	case !c.src.any:
		diff(CheckPersons, id, "only in the target (%d events)", c.dst.count)
		return
	case !c.dst.any:
		diff(CheckPersons, id, "only in the source (%d events)", c.src.count)
		return
	}
	if c.src.gap != "" {
		diff(CheckContiguous, id, "source: %s", c.src.gap)
	}
	if c.dst.gap != "" {
		diff(CheckContiguous, id, "target: %s", c.dst.gap)
	}
	if c.src.count != c.dst.count {
		diff(CheckCounts, id, "source %d events, target %d", c.src.count, c.dst.count)
	}
	if c.src.ids != c.dst.ids {
		diff(CheckIDs, id, "the event ids differ (in value or order)")
	}
	switch {
	case c.src.applyErr != nil || c.dst.applyErr != nil:
		diff(CheckState, id, "cannot fold: source %v; target %v", c.src.applyErr, c.dst.applyErr)
	default:
		a, b := person.ToSnapshot(c.src.state), person.ToSnapshot(c.dst.state)
		if !proto.Equal(a, b) {
			diff(CheckState, id, "fields differ: %s", strings.Join(differingFields(a, b), ", "))
		}
	}
}

// differingFields names the top-level fields in which a and b differ.
func differingFields(a, b proto.Message) []string {
	ra, rb := a.ProtoReflect(), b.ProtoReflect()
	var out []string
	fields := ra.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		ca, cb := ra.New(), rb.New()
		copyField(ca, ra, fd)
		copyField(cb, rb, fd)
		if !proto.Equal(ca.Interface(), cb.Interface()) {
			out = append(out, string(fd.Name()))
		}
	}
	return out
}

func copyField(dst, src protoreflect.Message, fd protoreflect.FieldDescriptor) {
	if src.Has(fd) {
		dst.Set(fd, src.Get(fd))
	}
}

// scan decodes every message of a stream with the pipeline and hands
// them to each in order on the caller's goroutine.
func (m *Migrator) scan(ctx context.Context, st *stream, phase, prefix string, each func(*decoded)) error {
	info, err := st.info(ctx)
	if err != nil {
		return err
	}
	if info.msgs == 0 {
		return nil
	}
	progress := m.progressFunc(phase, info.lastSeq-info.firstSeq+1)
	pipe := startPipeline(ctx, st, info.firstSeq, info.lastSeq, m.cfg.Decoders, func(msg sourceMsg) decoded { return decodeSource(msg, prefix) })
	var done uint64
	err = pipe.drain(ctx, func(batch []decoded) error {
		for i := range batch {
			each(&batch[i])
		}
		done = batch[len(batch)-1].seq - info.firstSeq + 1
		progress(done, false)
		return nil
	})
	progress(done, true)
	if err != nil {
		return fmt.Errorf("migrate: read %s: %w", st.name, err)
	}
	// The range held info.msgs messages when the read started; a stream
	// that allows deletes may have lost some meanwhile.
	switch got := pipe.messages(); {
	case got != info.msgs && (info.config.Sealed || info.config.DenyDelete):
		return fmt.Errorf("migrate: read %d of the %d messages of %s", got, info.msgs, st.name)
	case got != info.msgs:
		m.cfg.Logger.Warn("migrate: messages deleted during the read", slog.String("stream", st.name), slog.Uint64("read", got), slog.Uint64("messages", info.msgs))
	}
	return nil
}
