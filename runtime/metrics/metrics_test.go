package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cim/personrt/runtime/metrics"
)

func TestExposition(t *testing.T) {
	r := metrics.NewRegistry()
	reqs := r.CounterVec("app_requests_total", "Requests by kind and code.", "kind", "code")
	reqs.With("command", "OK").Add(3)
	reqs.With("query", `NOT "FOUND"`).Inc()
	r.Counter("app_panics_total", "Panics.\nMultiline help.")
	r.GaugeFunc("app_ready", "1 when ready.", func() float64 { return 1 })
	h := r.HistogramVec("app_seconds", "Latency.", []float64{0.001, 0.01}, "kind")
	for _, v := range []float64{0.0005, 0.001, 0.005, 2} {
		h.With("command").Observe(v)
	}
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP app_requests_total Requests by kind and code.
# TYPE app_requests_total counter
app_requests_total{kind="command",code="OK"} 3
app_requests_total{kind="query",code="NOT \"FOUND\""} 1
# HELP app_panics_total Panics.\nMultiline help.
# TYPE app_panics_total counter
app_panics_total 0
# HELP app_ready 1 when ready.
# TYPE app_ready gauge
app_ready 1
# HELP app_seconds Latency.
# TYPE app_seconds histogram
app_seconds_bucket{kind="command",le="0.001"} 2
app_seconds_bucket{kind="command",le="0.01"} 3
app_seconds_bucket{kind="command",le="+Inf"} 4
app_seconds_sum{kind="command"} 2.0065
app_seconds_count{kind="command"} 4
`
	if got := b.String(); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
}

func TestServeHTTP(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("x_total", "X.").Add(7)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if got := rec.Header().Get("Content-Type"); got != metrics.ContentType {
		t.Errorf("content type = %q", got)
	}
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "x_total 7\n") {
		t.Errorf("body = %q", body)
	}
}

func TestRegistrationErrorsPanic(t *testing.T) {
	tests := []struct {
		name string
		reg  func(r *metrics.Registry)
	}{
		{"twice", func(r *metrics.Registry) { r.Counter("a", ""); r.Counter("a", "") }},
		{"bad name", func(r *metrics.Registry) { r.Counter("a-b", "") }},
		{"bad label", func(r *metrics.Registry) { r.CounterVec("a", "", "le") }},
		{"unsorted buckets", func(r *metrics.Registry) { r.HistogramVec("a", "", []float64{2, 1}) }},
		{"label count", func(r *metrics.Registry) { r.CounterVec("a", "", "x").With() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.reg(metrics.NewRegistry())
		})
	}
}

// Concurrent updates and scrapes are race-free and lose no increments.
func TestConcurrentUpdates(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.CounterVec("c_total", "", "k")
	h := r.HistogramVec("h", "", []float64{1}, "k")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				c.With([]string{"a", "b"}[(w+i)%2]).Inc()
				h.With("x").Observe(float64(i % 3))
				if i%100 == 0 {
					_, _ = r.WriteTo(io.Discard) // cannot fail on io.Discard
				}
			}
		})
	}
	wg.Wait()
	if got := c.With("a").Value() + c.With("b").Value(); got != 8000 {
		t.Errorf("counted %d, want 8000", got)
	}
	if got := h.With("x").Count(); got != 8000 {
		t.Errorf("observed %d, want 8000", got)
	}
}
