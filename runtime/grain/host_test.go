package grain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/memstore"
)

// countKind counts its events; enough for a Host.
func countKind() Kind[int] {
	return Kind[int]{
		Name:          "count",
		Decide:        func(int, *personv1.Command, time.Time) ([]*personv1.Event, error) { return nil, nil },
		Apply:         func(s int, _ *personv1.EventEnvelope) int { return s + 1 },
		SchemaVersion: func(string) uint32 { return 1 },
	}
}

// Store calls share a context that ends between StoreTimeout and an eighth
// more after the call started, and with the host.
func TestStoreCtx(t *testing.T) {
	const timeout = 80 * time.Millisecond
	h, err := NewHost(countKind(), Config{Events: memstore.New(), StoreTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.storeCtx(); !errors.Is(err, personv1.ErrUnavailable) {
		t.Fatalf("before Start: err = %v, want UNAVAILABLE", err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Shutdown(context.WithoutCancel(t.Context())); err != nil {
			t.Error(err)
		}
	})

	start := time.Now()
	first, err := h.storeCtx()
	if err != nil {
		t.Fatal(err)
	}
	d, ok := first.Deadline()
	if !ok || d.Before(start.Add(timeout)) || d.After(time.Now().Add(timeout+timeout/8)) {
		t.Errorf("deadline %v after the call, want within [%v, %v]", d.Sub(start), timeout, timeout+timeout/8)
	}
	if again, err := h.storeCtx(); err != nil || again != first {
		t.Errorf("a call at once got another context (%v)", err)
	}
	// Once the shared context no longer leaves a call StoreTimeout, the
	// next call gets a new one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := h.storeCtx()
		if err != nil {
			t.Fatal(err)
		}
		if c != first {
			if d2, _ := c.Deadline(); !d2.After(d) {
				t.Errorf("new deadline %v is not after %v", d2, d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shared context was never replaced")
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}

	if err := h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := h.storeCtx()
	if err != nil {
		t.Fatal(err)
	}
	if c.Err() == nil {
		t.Error("after Shutdown: the store call context is not cancelled")
	}
}
