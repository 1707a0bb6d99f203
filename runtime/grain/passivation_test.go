package grain

import (
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

func TestPassivatorTicks(t *testing.T) {
	tests := []struct {
		idle      time.Duration
		wantTick  time.Duration
		wantLimit uint32
	}{
		{idle: 5 * time.Minute, wantTick: 75 * time.Second, wantLimit: 4},
		{idle: 20 * time.Millisecond, wantTick: 5 * time.Millisecond, wantLimit: 4},
		{idle: 3 * time.Millisecond, wantTick: time.Millisecond, wantLimit: 3},
		{idle: time.Millisecond, wantTick: time.Millisecond, wantLimit: 1},
	}
	for _, tc := range tests {
		p := newPassivator(tc.idle)
		if p.tick != tc.wantTick || p.limit != tc.wantLimit {
			t.Errorf("idle %v: tick %v, limit %d; want %v, %d", tc.idle, p.tick, p.limit, tc.wantTick, tc.wantLimit)
		}
		// A grain active during tick m is idle once more than limit
		// whole ticks passed: never before the idle timeout.
		if got := time.Duration(p.limit) * p.tick; got < tc.idle {
			t.Errorf("idle %v: passivates after %v", tc.idle, got)
		}
	}
}

func TestPassivatorIdle(t *testing.T) {
	p := newPassivator(100 * time.Millisecond) // limit 4
	tests := []struct {
		name          string
		active, clock uint32
		want          bool
	}{
		{"same tick", 7, 7, false},
		{"limit ticks later", 7, 11, false},
		{"more than limit ticks later", 7, 12, true},
		{"across the clock's wrap", math.MaxUint32 - 1, 2, false},
		{"idle across the wrap", math.MaxUint32 - 1, 3, true},
	}
	for _, tc := range tests {
		p.clock.Store(tc.clock)
		if got := p.idle(tc.active); got != tc.want {
			t.Errorf("%s: idle(%d) at clock %d = %t, want %t", tc.name, tc.active, tc.clock, got, tc.want)
		}
	}
}

// sweep sends a check to the grains that look idle and to no other; a
// grain restarted at the same pid keeps its registration.
func TestPassivatorSweep(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(sys.Shutdown)
	// Each actor reports the checks and probes it receives, in mailbox order.
	type got struct {
		pid   *actor.PID
		check bool
	}
	received := make(chan got, 4)
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case passivationCheck:
			received <- got{ctx.Self(), true}
		case string:
			received <- got{ctx.Self(), false}
		}
	})
	next := func() got {
		t.Helper()
		select {
		case g := <-received:
			return g
		case <-time.After(5 * time.Second):
			t.Fatal("no message handled")
			return got{}
		}
	}
	idle, busy := sys.Root.Spawn(props), sys.Root.Spawn(props)
	p := newPassivator(100 * time.Millisecond)
	var idleMark, busyMark, restarted atomic.Uint32
	p.add(sys, idle, &idleMark)
	p.add(sys, busy, &busyMark)
	p.clock.Store(p.limit + 1)
	busyMark.Store(p.now())

	p.sweep(nil)
	if g := next(); !g.pid.Equal(idle) || !g.check {
		t.Errorf("first handled %+v, want the idle grain's check", g)
	}
	// A check sent to the busy grain would be handled before this probe.
	sys.Root.Send(busy, "probe")
	if g := next(); !g.pid.Equal(busy) || g.check {
		t.Errorf("then handled %+v, want the busy grain's probe", g)
	}

	p.add(sys, idle, &restarted) // a new activation at the same pid
	p.remove(sys, idle, &idleMark)
	if got, want := p.registered(), 2; got != want {
		t.Errorf("after a stale remove: %d registered, want %d", got, want)
	}
	p.remove(sys, idle, &restarted)
	p.remove(sys, busy, &busyMark)
	if got := p.registered(); got != 0 {
		t.Errorf("%d registered after removing all, want 0", got)
	}
}
