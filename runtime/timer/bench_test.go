package timer_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/runtime/timer"
)

// BenchmarkArm measures re-arming a timer (one publish that rolls up the
// previous schedule of its key), as AutoArchive does on every event.
func BenchmarkArm(b *testing.B) {
	_, nc := natstest.Connect(b, natstest.WithSyncInterval())
	ts, err := timer.Open(b.Context(), nc, timer.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	at := time.Now().Add(time.Hour)
	i := 0
	for b.Loop() {
		if err := ts.Arm(b.Context(), armAt(fmt.Sprintf("auto-archive.p%d", i%1000), at, uint64(i+1))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFireLateness arms b.N timers due within a second and reports
// how late they fire (p50, p99, max) through a durable consumer.
func BenchmarkFireLateness(b *testing.B) {
	_, nc := natstest.Connect(b, natstest.WithSyncInterval())
	ts, err := timer.Open(b.Context(), nc, timer.Config{})
	if err != nil {
		b.Fatal(err)
	}
	f := newFired(b, nc, ts)
	start := time.Now().Add(300 * time.Millisecond)
	due := make(map[string]time.Time, b.N)
	for i := range b.N {
		key := fmt.Sprintf("k.p%d", i)
		at := start.Add(time.Duration(i) * time.Second / time.Duration(b.N))
		due[key] = at
		if err := ts.Arm(b.Context(), armAt(key, at, 1)); err != nil {
			b.Fatal(err)
		}
	}
	var late []time.Duration
	for range b.N {
		tm, when := f.next(10 * time.Second)
		if tm == nil {
			b.Fatalf("%d of %d timers fired", len(late), b.N)
		}
		late = append(late, when.Sub(due[tm.Key]))
	}
	slices.Sort(late)
	b.ReportMetric(float64(late[len(late)/2].Microseconds())/1e3, "p50-late-ms")
	b.ReportMetric(float64(late[len(late)*99/100].Microseconds())/1e3, "p99-late-ms")
	b.ReportMetric(float64(late[len(late)-1].Microseconds())/1e3, "max-late-ms")
}
