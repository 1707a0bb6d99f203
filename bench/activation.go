package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/natsserver"
)

func init() {
	register(Scenario{
		Name:  "activation",
		About: "cold activation (first query) of persons with 1000 events interleaved in a 1M-event stream, with snapshots every 16 events, vs raw snapshot get + tail direct get",
		Run:   runActivation,
	})
}

// activationLength is the history length of the measured persons.
const activationLength = 1000

func runActivation(ctx context.Context, env *Env) error {
	long, short := 200, 80_000 // 200k + 800k = 1M events
	if env.Quick {
		long, short = 40, 6_000 // 40k + 60k = 100k events
	}
	rng := rand.New(rand.NewPCG(3, 4))
	srv, err := env.StartServer(natsserver.SyncInterval)
	if err != nil {
		return err
	}
	fill, err := pjs.Open(ctx, srv.NC, pjs.Config{})
	if err != nil {
		return err
	}
	env.Defer(func() { _ = fill.Close() }) // Close always returns nil
	longIDs, shortIDs := newPersonIDs(long), newPersonIDs(short)

	// The long persons get their snapshot from a grain, as in production:
	// event snapVer (the last 16 events, uniformly) is a command through a
	// setup node, whose grain replays the events before it, appends it and
	// snapshots. The setup node's stop writes the queued snapshots.
	ps := make([]*hydratePerson, long)
	viaGrain := make(map[string]uint64, long)
	for i, id := range longIDs {
		ps[i] = &hydratePerson{id: id, length: activationLength, snapVer: uint64(activationLength - rng.IntN(snapshotEvery))}
		viaGrain[id] = ps[i].snapVer
	}
	setup, err := startNode(ctx, env, fill, fill, grain.Config{})
	if err != nil {
		return err
	}
	classes := []fillClass{{longIDs, activationLength}, {shortIDs, 10}}
	if err := fillThroughStore(ctx, env, fill, classes, rng, viaGrain, setup); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = setup.node.Shutdown(sctx)
	cancel()
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := findSnapshot(ctx, fill, srv.NC, p); err != nil {
			return err
		}
	}

	// Cold: a restarted server (no block cached), a new store (no cached
	// positions) and a new node (no cached states).
	srv, h, err := restart(ctx, env, srv)
	if err != nil {
		return err
	}
	store, err := pjs.Open(ctx, srv.NC, pjs.Config{})
	if err != nil {
		return err
	}
	env.Defer(func() { _ = store.Close() }) // Close always returns nil
	var stats activationStats
	n, err := startNode(ctx, env, store, store, grain.Config{Observer: stats.observe})
	if err != nil {
		return err
	}
	for _, id := range shortIDs[:20] { // connections and code paths, not measured
		if _, err := n.client.Get(ctx, id); err != nil {
			return fmt.Errorf("warm-up activation: %w", err)
		}
	}
	stats.reset()

	// The node activates the even persons, the raw baseline reads the odd
	// ones, so that neither reads blocks the other has just loaded.
	env.Logf("activating %d persons cold", long)
	var s, r Latencies
	for i, p := range ps {
		if i%2 == 1 {
			if err := h.raw(ctx, p, true, &r); err != nil {
				return err
			}
			continue
		}
		t0 := time.Now()
		got, err := n.client.Get(ctx, p.id)
		s.Add(time.Since(t0))
		if err != nil {
			return fmt.Errorf("activate %s: %w", p.id, err)
		}
		if got.GetVersion() != activationLength {
			return fmt.Errorf("activated %s at version %d, want %d", p.id, got.GetVersion(), activationLength)
		}
	}
	env.Compare("cold_p50_us", s.Micros(0.5), r.Micros(0.5), Lower)
	env.Compare("cold_p99_us", s.Micros(0.99), r.Micros(0.99), Lower)
	activations, fromSnapshot, replayed := stats.read()
	if activations != int64(s.Len()) {
		return fmt.Errorf("%d activations reported for %d queries", activations, s.Len())
	}
	env.Report("snapshot_hit_ratio", float64(fromSnapshot)/float64(activations), Higher)
	env.Report("replayed_events_mean", float64(replayed)/float64(activations), Lower)
	return nil
}

// activationStats counts the grains' Activated events.
type activationStats struct {
	activations, fromSnapshot, replayed atomic.Int64
}

func (a *activationStats) observe(e grain.LifecycleEvent) {
	if act, ok := e.(grain.Activated); ok && !act.Restart {
		a.activations.Add(1)
		a.replayed.Add(int64(act.Replayed))
		if act.SnapshotVersion > 0 {
			a.fromSnapshot.Add(1)
		}
	}
}

func (a *activationStats) reset() {
	a.activations.Store(0)
	a.fromSnapshot.Store(0)
	a.replayed.Store(0)
}

func (a *activationStats) read() (activations, fromSnapshot, replayed int64) {
	return a.activations.Load(), a.fromSnapshot.Load(), a.replayed.Load()
}

// fillClass is a group of persons with the same number of events.
type fillClass struct {
	ids    []string
	length int
}

// fillThroughStore appends every class's events through the store, one
// event per Append, in one random order over all persons (so a person's
// events are spread over the stream), 64 appends in flight. Each person's
// first event is PersonCreated, the others are renames: histories a grain
// can fold. Event viaGrain[id] of person id is instead a rename command
// through n's grains. Setup, not measured.
func fillThroughStore(ctx context.Context, env *Env, store *pjs.Store, classes []fillClass, rng *rand.Rand, viaGrain map[string]uint64, n *benchNode) error {
	const workers = 64
	var ids []string
	var order []int32 // person index per event
	for _, c := range classes {
		for _, id := range c.ids {
			for range c.length {
				order = append(order, int32(len(ids)))
			}
			ids = append(ids, id)
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	queues := make([][]int32, workers) // worker w appends for persons p with p%workers == w
	for _, p := range order {
		queues[p%workers] = append(queues[p%workers], p)
	}
	versions := make([]uint64, len(ids)) // each index is touched by one worker only
	var done atomic.Int64
	start := time.Now()
	env.Logf("filling %d events over %d persons through the store", len(order), len(ids))
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for _, p := range queues[w] {
				id, v := ids[p], versions[p]
				if viaGrain[id] == v+1 {
					if _, err := n.client.Execute(ctx, renameCommand(id, int(v))); err != nil {
						errs[w] = fmt.Errorf("fill %s@%d through its grain: %w", id, v, err)
						return
					}
					versions[p] = v + 1
					done.Add(1)
					continue
				}
				body := nameUpdated(v)
				if v == 0 {
					body = &personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: id, Name: benchName("Byron"), Source: "bench"}}}
				}
				if _, err := store.Append(ctx, id, v, []*personv1.EventEnvelope{newEvent(id, v+1, body)}); err != nil {
					errs[w] = fmt.Errorf("fill %s@%d: %w", id, v, err)
					return
				}
				versions[p] = v + 1
				if n := done.Add(1); n%200_000 == 0 {
					env.Logf("filled %d events (%.0f/s)", n, float64(n)/time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	env.Logf("filled %d events in %s", len(order), time.Since(start).Round(time.Millisecond))
	return nil
}

// findSnapshot checks that the grain saved p's snapshot at p.snapVer and
// records the stream sequence of that event for the raw baseline.
func findSnapshot(ctx context.Context, store *pjs.Store, nc *nats.Conn, p *hydratePerson) error {
	snap, err := store.LoadSnapshot(ctx, p.id)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", p.id, err)
	}
	if snap.Version != p.snapVer {
		return fmt.Errorf("snapshot of %s at version %d, want %d", p.id, snap.Version, p.snapVer)
	}
	_, err = rawRead(ctx, nc, "person.events."+p.id, 0, func(m *nats.Msg, seq uint64) bool {
		if m.Header.Get("Cim-Person-Version") == strconv.FormatUint(p.snapVer, 10) {
			p.snapSeq = seq
			return false
		}
		return true
	})
	return err
}
