package dlq

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// DeadLetters counts the messages an actor system could not deliver
// (protoactor-go *actor.DeadLetterEvent: the target actor had stopped) and
// logs them, at most one record per interval carrying how many were
// suppressed. Safe for concurrent use.
type DeadLetters struct {
	es       *actor.ActorSystem
	sub      *eventstream.Subscription
	logger   *slog.Logger
	interval time.Duration
	count    atomic.Uint64

	mu         sync.Mutex // guards lastLog and suppressed
	lastLog    time.Time
	suppressed uint64
}

// WatchDeadLetters subscribes to sys's event stream. logger nil discards;
// interval is the least time between two log records (0 means 10s). Call
// Stop to unsubscribe.
func WatchDeadLetters(sys *actor.ActorSystem, logger *slog.Logger, interval time.Duration) *DeadLetters {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	d := &DeadLetters{es: sys, logger: logger, interval: interval}
	d.sub = sys.EventStream.Subscribe(func(evt any) {
		if dl, ok := evt.(*actor.DeadLetterEvent); ok {
			d.record(dl)
		}
	})
	return d
}

// Count returns the dead letters seen so far.
func (d *DeadLetters) Count() uint64 { return d.count.Load() }

// Stop unsubscribes; Count keeps its value.
func (d *DeadLetters) Stop() { d.es.EventStream.Unsubscribe(d.sub) }

func (d *DeadLetters) record(dl *actor.DeadLetterEvent) {
	n := d.count.Add(1)
	now := time.Now()
	d.mu.Lock()
	if now.Sub(d.lastLog) < d.interval {
		d.suppressed++
		d.mu.Unlock()
		return
	}
	suppressed := d.suppressed
	d.lastLog, d.suppressed = now, 0
	d.mu.Unlock()
	d.logger.Warn("dead letter: message to a stopped actor",
		slog.String("target", dl.PID.String()), slog.String("message", typeName(dl.Message)),
		slog.Uint64("suppressed", suppressed), slog.Uint64("total", n))
}

func typeName(m any) string { return fmt.Sprintf("%T", m) }
