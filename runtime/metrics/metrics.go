package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

var identifier = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Registry holds metric families in registration order.
type Registry struct {
	mu       sync.Mutex // guards families and scrape serialisation
	families []*family
	names    map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{names: map[string]bool{}}
}

// family is one metric name with its help, type and series.
type family struct {
	name, help, typ string
	labels          []string
	write           func(w *bufio.Writer, f *family) // writes every sample line
}

func (r *Registry) add(f *family) {
	if !identifier.MatchString(f.name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", f.name))
	}
	for _, l := range f.labels {
		if !identifier.MatchString(l) || strings.HasPrefix(l, "__") || l == "le" {
			panic(fmt.Sprintf("metrics: invalid label name %q of %s", l, f.name))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[f.name] {
		panic(fmt.Sprintf("metrics: %s registered twice", f.name))
	}
	r.names[f.name] = true
	r.families = append(r.families, f)
}

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Histogram counts observations into cumulative buckets and keeps their sum.
type Histogram struct {
	bounds []float64       // upper bounds, ascending, without +Inf
	counts []atomic.Uint64 // per bucket (not cumulative); last is +Inf
	sum    atomic.Uint64   // float64 bits
	count  atomic.Uint64
}

func newHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v, len(bounds) for +Inf
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Vec is a metric family with labels: one series of T per combination of
// label values, created on first use.
type Vec[T any] struct {
	fam    *family
	newT   func() *T
	mu     sync.Mutex // guards series and keys
	series map[string]*T
	keys   []string // label values joined by \xff, in creation order
}

// With returns the series for the label values, given in the order of the
// label names the family was registered with. A wrong number of values is
// a programming error and panics.
func (v *Vec[T]) With(values ...string) *T {
	if len(values) != len(v.fam.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", v.fam.name, len(v.fam.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.series[key]
	if !ok {
		s = v.newT()
		v.series[key] = s
		v.keys = append(v.keys, key)
	}
	return s
}

// each calls fn for every series with its label values, in creation order.
func (v *Vec[T]) each(fn func(values []string, s *T)) {
	v.mu.Lock()
	keys := slices.Clone(v.keys)
	series := make([]*T, len(keys))
	for i, k := range keys {
		series[i] = v.series[k]
	}
	v.mu.Unlock()
	for i, k := range keys {
		var values []string
		if len(v.fam.labels) > 0 {
			values = strings.Split(k, "\xff")
		}
		fn(values, series[i])
	}
}

func newVec[T any](f *family, newT func() *T) *Vec[T] {
	return &Vec[T]{fam: f, newT: newT, series: map[string]*T{}}
}

// CounterVec registers a counter family with the given label names.
func (r *Registry) CounterVec(name, help string, labels ...string) *Vec[Counter] {
	f := &family{name: name, help: help, typ: "counter", labels: labels}
	v := newVec(f, func() *Counter { return &Counter{} })
	f.write = func(w *bufio.Writer, f *family) {
		v.each(func(values []string, c *Counter) {
			writeSample(w, f.name, f.labels, values, "", "", float64(c.Value()))
		})
	}
	r.add(f)
	return v
}

// Counter registers a counter without labels.
func (r *Registry) Counter(name, help string) *Counter {
	return r.CounterVec(name, help).With()
}

// HistogramVec registers a histogram family with the given upper bucket
// bounds (ascending; +Inf is implied) and label names.
func (r *Registry) HistogramVec(name, help string, bounds []float64, labels ...string) *Vec[Histogram] {
	if !slices.IsSorted(bounds) || len(bounds) == 0 {
		panic(fmt.Sprintf("metrics: %s needs ascending bucket bounds", name))
	}
	bounds = slices.Clone(bounds)
	f := &family{name: name, help: help, typ: "histogram", labels: labels}
	v := newVec(f, func() *Histogram { return newHistogram(bounds) })
	f.write = func(w *bufio.Writer, f *family) {
		v.each(func(values []string, h *Histogram) {
			var cum uint64
			for i := range h.counts {
				cum += h.counts[i].Load()
				le := "+Inf"
				if i < len(h.bounds) {
					le = strconv.FormatFloat(h.bounds[i], 'g', -1, 64)
				}
				writeSample(w, f.name+"_bucket", f.labels, values, "le", le, float64(cum))
			}
			writeSample(w, f.name+"_sum", f.labels, values, "", "", math.Float64frombits(h.sum.Load()))
			writeSample(w, f.name+"_count", f.labels, values, "", "", float64(cum))
		})
	}
	r.add(f)
	return v
}

// GaugeFunc registers a gauge without labels whose value fn returns at
// scrape time. fn must be safe for concurrent use and must not block.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.add(&family{name: name, help: help, typ: "gauge", write: func(w *bufio.Writer, f *family) {
		writeSample(w, f.name, nil, nil, "", "", fn())
	}})
}

// WriteTo writes every family in the text exposition format.
func (r *Registry) WriteTo(out io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cw := &countingWriter{w: out}
	w := bufio.NewWriter(cw)
	for _, f := range r.families {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		f.write(w, f)
	}
	err := w.Flush()
	return cw.n, err
}

// ServeHTTP serves the registry (GET /metrics).
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	// A failed write means the scraper went away; there is no one to tell.
	_, _ = r.WriteTo(w)
}

func writeSample(w *bufio.Writer, name string, labels, values []string, extraName, extraValue string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			writeLabel(w, l, values[i])
		}
		if extraName != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			writeLabel(w, extraName, extraValue)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatValue(v))
	w.WriteByte('\n')
}

func writeLabel(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(`="`)
	w.WriteString(labelEscaper.Replace(value))
	w.WriteByte('"')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
