package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/runtime/natsserver"
)

// Scenario is one end-to-end benchmark. Scenarios live in their own files
// of package main and add themselves with [register] from an init func.
type Scenario struct {
	// Name is what -scenario selects.
	Name string
	// About is one line for -list.
	About string
	// Run measures and reports every metric through env, the raw baseline
	// in the same run. With env.Quick it must finish in well under a minute.
	Run func(ctx context.Context, env *Env) error
}

// scenarios is the registry filled by register (package main only).
var scenarios = map[string]Scenario{}

// register adds s; a duplicate name is a programming error.
func register(s Scenario) {
	if _, dup := scenarios[s.Name]; dup {
		panic("bench: scenario registered twice: " + s.Name)
	}
	scenarios[s.Name] = s
}

// Better tells which direction of a metric is good.
type Better string

const (
	Lower  Better = "lower"
	Higher Better = "higher"
)

// Result is one figure, printed as one JSON line with -json (the contract
// in DESIGN.md): ratio = value / baseline; baseline and ratio are omitted
// where no baseline applies.
type Result struct {
	Scenario string   `json:"scenario"`
	Metric   string   `json:"metric"`
	Value    float64  `json:"value"`
	Baseline *float64 `json:"baseline,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"`
	Better   Better   `json:"better"`
}

// Env is what a scenario runs in: size, output, scratch space.
type Env struct {
	// Quick asks for a reduced size that still prints every metric.
	Quick bool

	scenario string
	out      io.Writer
	json     bool
	dir      string    // scratch root, removed at the end
	cleanups []func()  // run in reverse order by close
	logw     io.Writer // progress lines (stderr)
	results  []Result  // printed so far
}

// Report prints a figure without a baseline.
func (e *Env) Report(metric string, value float64, better Better) {
	e.emit(Result{Scenario: e.scenario, Metric: metric, Value: round(value), Better: better})
}

// Compare prints a figure with its raw baseline from the same run.
func (e *Env) Compare(metric string, value, baseline float64, better Better) {
	v, b := round(value), round(baseline)
	r := Result{Scenario: e.scenario, Metric: metric, Value: v, Baseline: &b, Better: better}
	if baseline != 0 {
		ratio := round(value / baseline)
		r.Ratio = &ratio
	}
	e.emit(r)
}

func (e *Env) emit(r Result) {
	e.results = append(e.results, r)
	if e.json {
		b, err := json.Marshal(r)
		if err != nil {
			panic(err) // a Result always marshals
		}
		fmt.Fprintf(e.out, "%s\n", b)
		return
	}
	line := fmt.Sprintf("%-20s %-36s %14.3f", r.Scenario, r.Metric, r.Value)
	if r.Baseline != nil {
		line += fmt.Sprintf("  baseline %14.3f", *r.Baseline)
	}
	if r.Ratio != nil {
		line += fmt.Sprintf("  ratio %6.3f", *r.Ratio)
	}
	fmt.Fprintf(e.out, "%s  (%s is better)\n", line, r.Better)
}

// Logf prints a progress line to stderr.
func (e *Env) Logf(format string, args ...any) {
	fmt.Fprintf(e.logw, "[%s %s] %s\n", time.Now().Format("15:04:05"), e.scenario, fmt.Sprintf(format, args...))
}

// Defer registers f to run when the scenario ends.
func (e *Env) Defer(f func()) { e.cleanups = append(e.cleanups, f) }

// close runs the cleanups in reverse order.
func (e *Env) close() {
	for _, f := range slices.Backward(e.cleanups) {
		f()
	}
	e.cleanups = nil
}

// Server is an embedded nats-server started for a scenario, with a
// connection to it.
type Server struct {
	*natsserver.Server
	NC  *nats.Conn
	Dir string // the store directory

	stopped bool
}

// Stop closes the connection and shuts the server down; later calls do
// nothing. The scenario's end stops every server still running.
func (s *Server) Stop(ctx context.Context) error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	s.NC.Close()
	return s.Shutdown(ctx)
}

// StartServer starts an embedded nats-server with JetStream on a random
// loopback port and a fresh store directory, with the given fsync mode
// (natsserver.SyncAlways or SyncInterval), and connects to it.
func (e *Env) StartServer(sync string) (*Server, error) {
	dir, err := os.MkdirTemp(e.dir, "nats-")
	if err != nil {
		return nil, err
	}
	return e.StartServerAt(dir, sync)
}

// StartServerAt is StartServer on an existing store directory (restarts).
func (e *Env) StartServerAt(dir, sync string) (*Server, error) {
	srv, err := natsserver.Start(natsserver.Config{
		Name: "bench", StoreDir: dir, Port: -1, Sync: sync,
		MaxMemory: 2 << 30, MaxStore: 64 << 30,
	})
	if err != nil {
		return nil, err
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Kill()
		return nil, err
	}
	s := &Server{Server: srv, NC: nc, Dir: dir}
	e.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			e.Logf("shutdown server: %v", err)
		}
	})
	return s, nil
}

// round keeps three decimals.
func round(v float64) float64 {
	if v >= 1000 {
		return float64(int64(v*10+0.5)) / 10
	}
	return float64(int64(v*1000+0.5)) / 1000
}

// Latencies collects operation durations.
type Latencies struct {
	d      []time.Duration
	sorted bool
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) { l.d = append(l.d, d); l.sorted = false }

// Merge adds all of o.
func (l *Latencies) Merge(o *Latencies) { l.d = append(l.d, o.d...); l.sorted = false }

// Len is the number of samples.
func (l *Latencies) Len() int { return len(l.d) }

// Micros returns the q-quantile (0..1) in microseconds, 0 without samples.
func (l *Latencies) Micros(q float64) float64 {
	if len(l.d) == 0 {
		return 0
	}
	if !l.sorted {
		sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
		l.sorted = true
	}
	i := int(q * float64(len(l.d)-1))
	return float64(l.d[i]) / float64(time.Microsecond)
}

// selectScenarios resolves a comma-separated -scenario value.
func selectScenarios(list string) ([]Scenario, error) {
	var out []Scenario
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		s, ok := scenarios[name]
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(scenarioNames(), ", "))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario selected (have %s)", strings.Join(scenarioNames(), ", "))
	}
	return out, nil
}

func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
