package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/natsserver"
)

func init() {
	register(Scenario{
		Name:  "command",
		About: "1 caller, sequential commands through the typed client → grain → JetStream and back, vs raw sync OCC append with the same headers; fsync always and interval",
		Run:   func(ctx context.Context, env *Env) error { return runCommand(ctx, env, 1) },
	})
	register(Scenario{
		Name:  "command-concurrent",
		About: "64 callers over 10k persons through the grains, vs raw async OCC append with one in flight per person and 64 in flight; fsync always and interval",
		Run:   func(ctx context.Context, env *Env) error { return runCommand(ctx, env, 64) },
	})
}

// commandBench is one server with the adapter's stream behind a node of
// person grains, and the raw stream of appendBench for the baseline.
type commandBench struct {
	*appendBench
	node    *benchNode
	persons []string // grain persons; worker w owns person(w, i, …)
}

func newCommandBench(ctx context.Context, env *Env, sync string, persons int) (*commandBench, error) {
	srv, err := env.StartServer(sync)
	if err != nil {
		return nil, err
	}
	store, err := pjs.Open(ctx, srv.NC, pjs.Config{})
	if err != nil {
		return nil, err
	}
	env.Defer(func() { _ = store.Close() }) // Close always returns nil
	js, err := jetstream.New(srv.NC)
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateStream(ctx, pjs.StreamConfig(pjs.Config{Stream: "RAW_EVENTS", SubjectPrefix: "raw.events"})); err != nil {
		return nil, err
	}
	n, err := startNode(ctx, env, store, store, grain.Config{})
	if err != nil {
		return nil, err
	}
	body, contentType := mustEncode(nameUpdated(1_000_000), pjs.PayloadJSON)
	b := &commandBench{
		appendBench: &appendBench{
			js: js, nc: srv.NC, payload: body, contentType: contentType,
			rawPersons: newPersonIDs(persons), rawSeqs: make([]uint64, persons),
		},
		node:    n,
		persons: newPersonIDs(persons),
	}
	env.Logf("fsync %s: creating %d persons", sync, persons)
	if err := createPersons(ctx, n.client, b.persons); err != nil {
		return nil, err
	}
	return b, nil
}

// commandOp sends one rename through the typed client to the grain of a
// person owned by worker w.
func (b *commandBench) commandOp(workers int) op {
	return func(ctx context.Context, w, i int) (time.Duration, error) {
		id := b.persons[person(w, i, workers, len(b.persons))]
		cmd := renameCommand(id, i)
		t0 := time.Now()
		_, err := b.node.client.Execute(ctx, cmd)
		return time.Since(t0), err
	}
}

// rawAsyncFor publishes OCC appends with js.PublishMsgAsync for window,
// cycling through the raw persons with at most one append in flight per
// person and at most inflight in total; it counts the acknowledged ones.
func (b *commandBench) rawAsyncFor(ctx context.Context, window time.Duration, inflight int) (measured, error) {
	type pending struct {
		p int
		f jetstream.PubAckFuture
	}
	queue := make([]pending, 0, inflight)
	busy := make([]bool, len(b.rawPersons))
	var m measured
	settle := func() error {
		pd := queue[0]
		queue = queue[1:]
		select {
		case ack := <-pd.f.Ok():
			b.rawSeqs[pd.p] = ack.Sequence
		case err := <-pd.f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		busy[pd.p] = false
		m.ops++
		return nil
	}
	start := time.Now()
	deadline := start.Add(window)
	for i := 0; time.Now().Before(deadline); i++ {
		p := i % len(b.rawPersons)
		for len(queue) == inflight || busy[p] {
			if err := settle(); err != nil {
				return m, err
			}
		}
		id := b.rawPersons[p]
		e := newEvent(id, uint64(i+1), nameUpdated(uint64(i)))
		f, err := b.js.PublishMsgAsync(rawMsg("raw.events."+id, e, b.payload, b.contentType, b.rawSeqs[p]))
		if err != nil {
			return m, fmt.Errorf("raw async publish: %w", err)
		}
		busy[p] = true
		queue = append(queue, pending{p: p, f: f})
	}
	for len(queue) > 0 {
		if err := settle(); err != nil {
			return m, err
		}
	}
	m.wall = time.Since(start)
	return m, nil
}

// runCommand measures commands through grains with workers callers in both
// fsync modes, each against its baseline in the same run.
func runCommand(ctx context.Context, env *Env, workers int) error {
	rounds, window := 6, 1500*time.Millisecond
	if env.Quick {
		rounds, window = 2, 500*time.Millisecond
	}
	persons := 1000
	if workers > 1 {
		persons = 10_000
	}
	for _, sync := range []string{natsserver.SyncAlways, natsserver.SyncInterval} {
		b, err := newCommandBench(ctx, env, sync, persons)
		if err != nil {
			return err
		}
		suffix := ""
		if sync == natsserver.SyncInterval {
			suffix = "_sync_interval"
		}
		env.Logf("fsync %s: %d callers, %d rounds of %s", sync, workers, rounds, window)
		if workers == 1 {
			if _, _, err := alternate(ctx, 1, 1, window/2, b.commandOp(1), b.rawOp(1, 1)); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			s, r, err := alternate(ctx, rounds, 1, window, b.commandOp(1), b.rawOp(1, 1))
			if err != nil {
				return err
			}
			env.Compare("p50_us"+suffix, s.lat.Micros(0.5), r.lat.Micros(0.5), Lower)
			env.Compare("p99_us"+suffix, s.lat.Micros(0.99), r.lat.Micros(0.99), Lower)
			env.Compare("ops_per_s"+suffix, s.opsPerSec(), r.opsPerSec(), Higher)
		} else {
			s, r, err := b.alternateAsync(ctx, rounds, workers, window)
			if err != nil {
				return err
			}
			env.Compare("ops_per_s"+suffix, s.opsPerSec(), r.opsPerSec(), Higher)
			env.Report("p50_us"+suffix, s.lat.Micros(0.5), Lower)
			env.Report("p99_us"+suffix, s.lat.Micros(0.99), Lower)
		}
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = b.node.node.Shutdown(sctx) // before the next mode's node starts
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// alternateAsync measures workers concurrent command callers against the
// raw async baseline at the same concurrency, in rounds alternating which
// goes first, after a warm-up of both. It returns (subject, baseline).
func (b *commandBench) alternateAsync(ctx context.Context, rounds, workers int, window time.Duration) (measured, measured, error) {
	if _, err := runFor(ctx, workers, window/2, b.commandOp(workers)); err != nil {
		return measured{}, measured{}, fmt.Errorf("warm-up: %w", err)
	}
	if _, err := b.rawAsyncFor(ctx, window/2, workers); err != nil {
		return measured{}, measured{}, fmt.Errorf("warm-up: %w", err)
	}
	var s, r measured
	for round := range rounds {
		for k := range 2 {
			if (round+k)%2 == 0 {
				m, err := runFor(ctx, workers, window, b.commandOp(workers))
				if err != nil {
					return s, r, err
				}
				s.merge(m)
			} else {
				m, err := b.rawAsyncFor(ctx, window, workers)
				if err != nil {
					return s, r, err
				}
				r.merge(m)
			}
		}
	}
	return s, r, nil
}
