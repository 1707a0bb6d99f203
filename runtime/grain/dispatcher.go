package grain

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// dispatcherThroughput is how many messages a mailbox pass serves before it
// yields: protoactor-go's default.
const dispatcherThroughput = 300

// workerIdle is how long a worker waits for another mailbox pass before it
// exits: between workerIdle and twice that after its last pass.
const workerIdle = time.Second

// workerDispatcher is the actor.Dispatcher of a host's grains: it runs
// mailbox passes on worker goroutines that outlive them.
//
// protoactor-go's default dispatcher starts a goroutine for every mailbox
// pass, that is for nearly every command of a grain that is not busy. The
// goroutine starts with a small stack and grows it (a copy each time it
// doubles) down the command path through the kind's Decide, the store's
// append and the reply, on every command. A worker keeps its grown stack
// from pass to pass.
//
// Schedule never blocks and never queues: it hands the pass to a worker
// that waits for one, or starts a new worker, so as many passes run at
// once as with the default dispatcher (a grain waiting for the store holds
// its worker). Workers exit after workerIdle without a pass. After close,
// passes run on goroutines of their own again, as by default.
type workerDispatcher struct {
	idle time.Duration
	work chan func() // unbuffered: a send succeeds only when a worker waits
	quit chan struct{}

	mu      sync.Mutex // guards closed, workers and starting workers
	closed  bool
	workers int
	wg      sync.WaitGroup
}

func newWorkerDispatcher(idle time.Duration) *workerDispatcher {
	return &workerDispatcher{idle: idle, work: make(chan func()), quit: make(chan struct{})}
}

// Throughput implements actor.Dispatcher.
func (d *workerDispatcher) Throughput() int { return dispatcherThroughput }

// Schedule implements actor.Dispatcher: it runs fn on a worker.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
		return
	default:
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		go fn()
		return
	}
	d.workers++
	d.wg.Add(1)
	d.mu.Unlock()
	go d.run(fn)
}

// run is a worker: it runs fn, then each pass handed to it, until it was
// idle for between d.idle and twice that, or the dispatcher closed.
func (d *workerDispatcher) run(fn func()) {
	defer func() {
		d.mu.Lock()
		d.workers--
		d.mu.Unlock()
		d.wg.Done()
	}()
	t := time.NewTimer(d.idle)
	defer t.Stop()
	for fn != nil {
		fn()
		fn = d.next(t)
	}
}

// next waits for the next pass; nil means exit. The timer is reset only
// when it fires, not once per pass.
func (d *workerDispatcher) next(t *time.Timer) func() {
	worked := true
	for {
		select {
		case fn := <-d.work:
			return fn
		case <-t.C:
			if !worked {
				return nil
			}
			worked = false
			t.Reset(d.idle)
		case <-d.quit:
			return nil
		}
	}
}

// running returns how many workers there are.
func (d *workerDispatcher) running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.workers
}

// close stops the idle workers and waits, within ctx, for the busy ones to
// finish their pass. Later passes run on goroutines of their own.
func (d *workerDispatcher) close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.quit)
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.wg.Wait()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("grain: %d mailbox workers still busy: %w", d.running(), ctx.Err())
	}
}
