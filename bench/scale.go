package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/natsserver"
)

func init() {
	register(Scenario{
		Name: "scale",
		About: "command-concurrent (64 callers, renames over 10k persons) through a client-only member with 1, 2 and 3 grain hosts, each its own process, " +
			"vs raw async OCC append at the same concurrency; fsync interval",
		Run: runScale,
	})
}

// runScale measures 64 concurrent command callers against 1, 2 and 3 grain
// host processes on one embedded server, each host count against the raw
// async baseline in the same rounds. On a 2-core machine more hosts cannot
// mean more throughput: the figures show the cost of spreading (every call
// crosses gRPC; with n hosts the same two cores run n actor systems) and
// that commands stay correct while grains move.
func runScale(ctx context.Context, env *Env) error {
	const workers = 64
	rounds, window, persons := 4, 1500*time.Millisecond, 10_000
	if env.Quick {
		rounds, window, persons = 2, 500*time.Millisecond, 2_000
	}
	srv, err := env.StartServer(natsserver.SyncInterval)
	if err != nil {
		return err
	}
	js, err := jetstream.New(srv.NC)
	if err != nil {
		return err
	}
	if _, err := js.CreateStream(ctx, pjs.StreamConfig(pjs.Config{Stream: "RAW_EVENTS", SubjectPrefix: "raw.events"})); err != nil {
		return err
	}
	c, err := newCaller(ctx, env, srv)
	if err != nil {
		return err
	}
	body, contentType := mustEncode(nameUpdated(1_000_000), pjs.PayloadJSON)
	b := &commandBench{
		appendBench: &appendBench{
			js: js, nc: srv.NC, payload: body, contentType: contentType,
			rawPersons: newPersonIDs(persons), rawSeqs: make([]uint64, persons),
		},
		node:    c.benchNode,
		persons: newPersonIDs(persons),
	}
	for hosts := 1; hosts <= 3; hosts++ {
		if _, err := startHost(ctx, env, srv.ClientURL()); err != nil {
			return err
		}
		if err := c.waitHosts(ctx, b.persons, hosts); err != nil {
			return err
		}
		if hosts == 1 {
			env.Logf("creating %d persons", persons)
			if err := createPersons(ctx, c.client, b.persons); err != nil {
				return err
			}
		} else {
			// The grains the new host owns move to it: re-activate every
			// person on its owner first, so that the rounds measure the
			// steady state (the move itself is the fault tests' subject).
			start := time.Now()
			if err := forEach(ctx, b.persons, func(ctx context.Context, id string) error {
				_, err := c.client.Get(ctx, id)
				return err
			}); err != nil {
				return fmt.Errorf("re-activate after the join: %w", err)
			}
			env.Logf("%d hosts: every person re-activated on its owner in %v", hosts, time.Since(start).Round(time.Millisecond))
		}
		env.Logf("%d hosts (persons per host %v): %d callers, %d rounds of %s", hosts, spread(c.hostsOf(b.persons)), workers, rounds, window)
		s, r, err := b.alternateAsync(ctx, rounds, workers, window)
		if err != nil {
			return err
		}
		suffix := fmt.Sprintf("_hosts%d", hosts)
		env.Compare("ops_per_s"+suffix, s.opsPerSec(), r.opsPerSec(), Higher)
		env.Report("p50_us"+suffix, s.lat.Micros(0.5), Lower)
		env.Report("p99_us"+suffix, s.lat.Micros(0.99), Lower)
	}
	return nil
}

// spread lists the persons per host.
func spread(owners map[string]int) []int {
	out := make([]int, 0, len(owners))
	for _, n := range owners {
		out = append(out, n)
	}
	return out
}
