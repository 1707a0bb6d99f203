package grain

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitUntil polls cond until it holds or 5s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

func TestWorkerDispatcher(t *testing.T) {
	d := newWorkerDispatcher(50 * time.Millisecond)
	ran := make(chan int, 8)

	// A pass scheduled while a worker waits runs on that worker.
	d.Schedule(func() { ran <- 1 })
	if got := <-ran; got != 1 {
		t.Fatalf("ran %d", got)
	}
	waitUntil(t, "the worker to wait", func() bool {
		select {
		case d.work <- func() { ran <- 2 }:
			return true
		default:
			return false
		}
	})
	if got := <-ran; got != 2 {
		t.Fatalf("ran %d", got)
	}
	if got := d.running(); got != 1 {
		t.Errorf("%d workers for passes one after another, want 1", got)
	}

	// Passes that run at once get a worker each: Schedule never queues.
	release := make(chan struct{})
	for i := range 3 {
		d.Schedule(func() { ran <- 10 + i; <-release })
	}
	for range 3 {
		<-ran
	}
	if got := d.running(); got != 3 {
		t.Errorf("%d workers for 3 passes at once, want 3", got)
	}
	close(release)

	// Idle workers exit.
	waitUntil(t, "idle workers to exit", func() bool { return d.running() == 0 })

	// close waits for a busy worker, within its ctx; later passes still run.
	block := make(chan struct{})
	d.Schedule(func() { <-block })
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := d.close(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close with a busy worker: err = %v, want DeadlineExceeded", err)
	}
	close(block)
	if err := d.close(t.Context()); err != nil {
		t.Errorf("close: %v", err)
	}
	if got := d.running(); got != 0 {
		t.Errorf("%d workers after close, want 0", got)
	}
	d.Schedule(func() { ran <- 99 })
	select {
	case got := <-ran:
		if got != 99 {
			t.Errorf("ran %d after close, want 99", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a pass scheduled after close did not run")
	}
}
