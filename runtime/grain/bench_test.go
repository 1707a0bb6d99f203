package grain_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
)

// BenchmarkCommand measures one command through the client, the cluster
// and the shell to the in-memory store and back, in-process: callers
// goroutines send renames to persons spread over `persons` grains.
func BenchmarkCommand(b *testing.B) {
	es := newStore(b)
	n := startNode(b, es, es, grain.Config{SnapshotEvery: -1, Observer: func(grain.LifecycleEvent) {}})
	for _, bc := range []struct{ callers, persons int }{{1, 1}, {64, 1000}} {
		b.Run(fmt.Sprintf("callers=%d/persons=%d", bc.callers, bc.persons), func(b *testing.B) {
			ctx := b.Context()
			ids := make([]string, bc.persons)
			for i := range ids {
				ids[i] = newID()
				if _, err := n.client.Execute(ctx, create(ids[i], "p")); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([][]time.Duration, bc.callers)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for g := range bc.callers {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						id := ids[(int(i)+g)%len(ids)]
						start := time.Now()
						if _, err := n.client.Execute(ctx, rename(id, fmt.Sprint("n", i), "")); err != nil {
							b.Error(err)
							return
						}
						lat[g] = append(lat[g], time.Since(start))
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-us")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-us")
			}
		})
	}
}

// BenchmarkActivation measures the activation of a passivated grain whose
// state is not cached: a snapshot and a short tail, or a full replay.
func BenchmarkActivation(b *testing.B) {
	for _, bc := range []struct {
		name   string
		events int
		every  int
	}{{"replay=100", 100, -1}, {"snapshot+tail=100", 100, 90}} {
		b.Run(bc.name, func(b *testing.B) {
			es := newStore(b)
			n := startNode(b, es, es, grain.Config{SnapshotEvery: bc.every, StateCacheSize: -1, Observer: func(grain.LifecycleEvent) {}})
			ctx := b.Context()
			id := newID()
			if _, err := n.client.Execute(ctx, create(id, "p")); err != nil {
				b.Fatal(err)
			}
			for i := 1; i < bc.events; i++ {
				if _, err := n.client.Execute(ctx, rename(id, fmt.Sprint("n", i), "")); err != nil {
					b.Fatal(err)
				}
			}
			sys := n.node.Cluster().ActorSystem
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				pid := n.node.Cluster().Get(id, n.host.Name())
				if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
					b.Fatal(err)
				}
				n.node.Cluster().PidCache.Remove(id, n.host.Name())
				b.StartTimer()
				if _, err := n.client.Get(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bareKind is a protoactor-go cluster kind whose grains hold nothing and
// answer every message with an empty PersonReply: the floor a grain shell
// adds to.
type bareKind struct{}

func (bareKind) Name() string { return "bare" }
func (bareKind) ClusterKind() *cluster.Kind {
	return cluster.NewKind("bare", actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*personv1.GetPerson); ok {
			ctx.Respond(&personv1.PersonReply{})
		}
	}))
}
func (bareKind) Start(context.Context) error    { return nil }
func (bareKind) Shutdown(context.Context) error { return nil }

// BenchmarkIdleGrainMemory reports the live heap per idle active grain of
// the test kind (B/grain: protoactor-go's share, the shell, the state, the
// idempotency window, passivation) and per bare protoactor-go grain on the
// same node (bare-B/grain); each person has one stored event. Every
// iteration activates n grains of each, the order swapped each iteration;
// the figures are the medians over iterations (run with -benchtime=5x).
//
// protoactor-go keeps every activation in maps and slices shared by all
// grains, whose growth steps are charged to whichever batch crosses them.
// The warm-up makes the steps small and rare: 40k bare grains stay active,
// so those maps are past the size where they grow a whole table at once,
// and requests to active grains churn the process registry (a future is
// registered and removed per request) until deletions no longer grow it.
// A step can still land in one batch: hence the median. Run it in a fresh
// process (protoactor-go keeps per-process cluster state: no -count).
func BenchmarkIdleGrainMemory(b *testing.B) {
	const n = 5_000
	es := newStore(b)
	h, err := grain.NewHost(testKind(), grain.Config{Events: es, Snapshots: es, IdleTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	nd, err := node.New(node.Config{Kinds: []node.Kind{h, bareKind{}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := nd.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(b.Context()), 30*time.Second)
		defer cancel()
		if err := nd.Shutdown(ctx); err != nil {
			b.Error(err)
		}
	})
	c, err := client.New(nd.Cluster(), client.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	shell := func(ctx context.Context, id string) error { _, err := c.Get(ctx, id); return err }
	bare := func(ctx context.Context, id string) error {
		_, err := c.Ask(ctx, "bare", id, &personv1.GetPerson{PersonId: id})
		return err
	}
	warm := persons(b, es, 1000)
	if err := activate(ctx, warm, shell); err != nil {
		b.Fatal(err)
	}
	if err := activate(ctx, ids(40_000), bare); err != nil {
		b.Fatal(err)
	}
	for range 50 {
		if err := activate(ctx, warm, shell); err != nil {
			b.Fatal(err)
		}
	}
	var shellBytes, bareBytes []float64 // per grain, per iteration
	for b.Loop() {
		b.StopTimer()
		type batch struct {
			ids   []string
			f     func(context.Context, string) error
			bytes *[]float64
		}
		order := []batch{{persons(b, es, n), shell, &shellBytes}, {ids(n), bare, &bareBytes}}
		if len(shellBytes)%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		b.StartTimer()
		for _, o := range order {
			before := liveHeap()
			if err := activate(ctx, o.ids, o.f); err != nil {
				b.Fatal(err)
			}
			*o.bytes = append(*o.bytes, float64(int64(liveHeap())-int64(before))/n)
		}
	}
	b.ReportMetric(median(shellBytes), "B/grain")
	b.ReportMetric(median(bareBytes), "bare-B/grain")
	if got := h.CachedStates(); got != 0 {
		b.Errorf("%d grains passivated during the measurement", got)
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// persons stores a created person for each of n new ids and returns them.
func persons(b *testing.B, es persistence.EventStore, n int) []string {
	b.Helper()
	out := ids(n)
	for _, id := range out {
		e := &personv1.EventEnvelope{EventId: newID(), PersonId: id, Version: 1, Type: "PersonCreated", SchemaVersion: testKind().SchemaVersion("PersonCreated"), CausationId: newID(),
			Event: &personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: id, Name: &personv1.PersonName{GivenNames: []string{"Ada"}}}}}}
		if _, err := es.Append(b.Context(), id, 0, []*personv1.EventEnvelope{e}); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = newID()
	}
	return out
}

// activate calls f for every id, 32 at a time.
func activate(ctx context.Context, ids []string, f func(context.Context, string) error) error {
	const workers = 32
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				if err := f(ctx, ids[i]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// liveHeap returns the live heap after two collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
