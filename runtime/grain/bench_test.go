package grain_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cim/personrt/runtime/grain"
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
