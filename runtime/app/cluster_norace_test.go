//go:build !race

package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cim/personrt/runtime/app"
)

// activations reads personrt_grain_activations_total from a node's metrics.
func activations(t *testing.T, a *app.App) int {
	t.Helper()
	_, body := get(t, "http://"+a.HTTPAddr()+"/metrics")
	m := regexp.MustCompile(`personrt_grain_activations_total\{kind="person"\} (\d+)`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Two nodes on one NATS with the NATS membership provider and even
// placement share the grains and the gateway's requests; when one leaves,
// the other serves every person. (Two protoactor-go nodes in one process
// race on gRPC's global logger, hence !race.)
func TestNoRaceTwoNodes(t *testing.T) {
	a := startAppWith(t, app.Config{DataDir: t.TempDir(), NATSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Provider: app.ProviderNATS, Lookup: app.LookupPlacement})
	defer shutdown(t, a)
	b := startAppWith(t, app.Config{NATSURL: a.NATSURL(), HTTPAddr: "127.0.0.1:0",
		Provider: app.ProviderNATS, Lookup: app.LookupPlacement})
	c := gatewayClient(t, a)
	// A node places grains on itself until it sees the other: create
	// persons until both nodes host some, at least 40.
	created := 0
	deadline := time.Now().Add(20 * time.Second)
	for ; created < 40 || activations(t, a) == 0 || activations(t, b) == 0; created++ {
		if time.Now().After(deadline) {
			t.Fatalf("grains not spread over both nodes: %d and %d activations", activations(t, a), activations(t, b))
		}
		if _, err := c.Execute(t.Context(), create(fmt.Sprintf("p%d", created))); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d persons, %d grains on the first node, %d on the second", created, activations(t, a), activations(t, b))
	shutdown(t, b)
	for i := range created {
		if _, err := c.Execute(t.Context(), rename(fmt.Sprintf("p%d", i), "King")); err != nil {
			t.Errorf("p%d after the other node left: %v", i, err)
		}
	}
}

// startAppWith starts a node with cfg.
func startAppWith(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}
