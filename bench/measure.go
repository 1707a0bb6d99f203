package main

import (
	"context"
	"errors"
	"sync"
	"time"
)

// op runs one timed operation of worker w (its i-th) and returns how long
// the measured part took.
type op func(ctx context.Context, w, i int) (time.Duration, error)

// measured is the outcome of running an op for a while.
type measured struct {
	lat  Latencies
	ops  int
	wall time.Duration
}

// opsPerSec is the aggregate throughput.
func (m *measured) opsPerSec() float64 {
	if m.wall <= 0 {
		return 0
	}
	return float64(m.ops) / m.wall.Seconds()
}

func (m *measured) merge(o measured) {
	m.lat.Merge(&o.lat)
	m.ops += o.ops
	m.wall += o.wall
}

// runFor runs f on workers goroutines until window has passed and returns
// the latencies and the throughput over the wall time.
func runFor(ctx context.Context, workers int, window time.Duration, f op) (measured, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(window)
	lats := make([]Latencies, workers)
	errs := make([]error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				d, err := f(ctx, w, i)
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				lats[w].Add(d)
			}
		})
	}
	wg.Wait() // every op is bounded by its ctx and the store's request timeout
	m := measured{wall: time.Since(start)}
	for w := range lats {
		m.lat.Merge(&lats[w])
	}
	m.ops = m.lat.Len()
	return m, errors.Join(errs...)
}

// alternate measures a baseline and a subject in rounds, alternating which
// goes first, so that drift on a shared machine hits both alike. It returns
// (subject, baseline).
func alternate(ctx context.Context, rounds, workers int, window time.Duration, subject, baseline op) (measured, measured, error) {
	var s, b measured
	for r := range rounds {
		order := []struct {
			f   op
			acc *measured
		}{{baseline, &b}, {subject, &s}}
		if r%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, o := range order {
			m, err := runFor(ctx, workers, window, o.f)
			if err != nil {
				return s, b, err
			}
			o.acc.merge(m)
		}
	}
	return s, b, nil
}
