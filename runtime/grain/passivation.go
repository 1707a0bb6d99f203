package grain

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// passivationTicks is how many ticks of the passivator's clock make one
// IdleTimeout: a grain passivates after between IdleTimeout and a quarter
// more without messages.
const passivationTicks = 4

// minPassivationTick bounds the tick for very short idle timeouts (tests).
const minPassivationTick = time.Millisecond

// passivationCheck asks a grain to passivate if it is still idle. The
// passivator sends it to the grains that look idle; the grain decides on
// its own mailbox goroutine, after any message queued before it.
type passivationCheck struct{}

// passivator stops the idle grains of a host. It replaces protoactor-go's
// receive timeout, which costs every grain a runtime timer and a timer stop
// and reset per message: here a grain stores the clock in an atomic on each
// message, and one goroutine per host ticks the clock and sweeps the
// registered grains. Registration costs a map entry per grain.
//
// Safe for concurrent use. mu is never held while sending to a grain.
type passivator struct {
	tick  time.Duration
	limit uint32        // a grain is idle when the clock passed its mark by more than limit ticks
	clock atomic.Uint32 // ticks since the passivator started; wraps harmlessly

	mu     sync.Mutex // guards grains
	grains map[*actor.ActorSystem]map[*actor.PID]*atomic.Uint32
}

func newPassivator(idle time.Duration) *passivator {
	tick := max(idle/passivationTicks, minPassivationTick)
	limit := max(uint32((idle+tick-1)/tick), 1)
	return &passivator{tick: tick, limit: limit, grains: map[*actor.ActorSystem]map[*actor.PID]*atomic.Uint32{}}
}

// now returns the clock, which a grain stores in its mark on every message.
func (p *passivator) now() uint32 { return p.clock.Load() }

// idle reports whether a grain whose mark is active received no message for
// at least the idle timeout: more than limit whole ticks passed since the
// tick during which it was last active.
func (p *passivator) idle(active uint32) bool { return p.clock.Load()-active > p.limit }

// add registers the grain at pid in sys, whose mark is active.
func (p *passivator) add(sys *actor.ActorSystem, pid *actor.PID, active *atomic.Uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.grains[sys]
	if m == nil {
		m = map[*actor.PID]*atomic.Uint32{}
		p.grains[sys] = m
	}
	m[pid] = active
}

// remove unregisters the grain at pid unless another activation at the
// same pid (a restart) registered since.
func (p *passivator) remove(sys *actor.ActorSystem, pid *actor.PID, active *atomic.Uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.grains[sys]
	if m[pid] != active {
		return
	}
	delete(m, pid)
	if len(m) == 0 {
		delete(p.grains, sys)
	}
}

// run ticks the clock and sweeps until ctx ends.
func (p *passivator) run(ctx context.Context) {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	var idle []idleGrain
	for {
		select {
		case <-t.C:
			p.clock.Add(1)
			idle = p.sweep(idle[:0])
			clear(idle) // drop the PIDs until the next sweep
		case <-ctx.Done():
			return
		}
	}
}

// idleGrain is a grain that looked idle in a sweep.
type idleGrain struct {
	sys *actor.ActorSystem
	pid *actor.PID
}

// sweep sends a passivationCheck to every grain that looks idle; buf is
// reused for the list. It returns buf.
func (p *passivator) sweep(buf []idleGrain) []idleGrain {
	p.mu.Lock()
	for sys, m := range p.grains {
		for pid, active := range m {
			if p.idle(active.Load()) {
				buf = append(buf, idleGrain{sys: sys, pid: pid})
			}
		}
	}
	p.mu.Unlock()
	for _, g := range buf {
		g.sys.Root.Send(g.pid, passivationCheck{})
	}
	return buf
}

// registered returns how many grains are registered.
func (p *passivator) registered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.grains {
		n += len(m)
	}
	return n
}
