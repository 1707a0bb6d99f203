package app

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/actors/onboarding"
	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/persistence"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/streamswitch"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/dlq"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/onboardingkind"
	"github.com/cim/personrt/runtime/policy"
	"github.com/cim/personrt/runtime/timer"
)

// reactive is the reactive half of a node (the onboarding kind's host is
// owned by the node): the onboarding store and client, the policy runners on their durable consumers, the dead-letter stream and
// the durable timers.
type reactive struct {
	onbStore    *pjs.Store
	onbClient   *client.Client
	dlq         *dlq.DLQ
	timers      *timer.Timers
	runner      *policy.Runner
	deadLetters *dlq.DeadLetters
}

// openOnboarding opens the onboarding stream.
func (a *App) openOnboarding(ctx context.Context, nc *nats.Conn, replicas int, clustered bool) (*pjs.Store, error) {
	return openRetrying(ctx, a, clustered, "the onboarding stream", func(ctx context.Context) (*pjs.Store, error) {
		return pjs.Open(ctx, nc, onboardingkind.StoreConfig(pjs.Config{Replicas: replicas, Logger: a.cfg.Logger}))
	})
}

// onboardingHost creates the onboarding grain host, with the same grain
// settings as persons.
func (a *App) onboardingHost(store *pjs.Store) (*grain.Host[onboarding.State], error) {
	host, err := onboardingkind.NewHost(a.grainConfig(store))
	if err != nil {
		return nil, fmt.Errorf("app: onboarding host: %w", err)
	}
	return host, nil
}

// kindStore is the event and snapshot store of one grain kind.
type kindStore interface {
	persistence.EventStore
	persistence.SnapshotStore
}

// grainConfig is the grain shell configuration of every kind of the node.
func (a *App) grainConfig(store kindStore) grain.Config {
	return grain.Config{
		Events: store, Snapshots: store,
		IdleTimeout: a.cfg.IdleTimeout, SnapshotEvery: a.cfg.SnapshotEvery, StateCacheSize: a.cfg.StateCacheSize,
		Logger: a.cfg.Logger, Observer: a.metrics.observeGrain,
	}
}

// startPolicies opens the dead-letter stream and the timers and starts the
// policy runners (unless Config.NoPolicies) after the node is up.
//
// The person policies consume the stream that is active when the node
// starts (persistence/streamswitch): after a migration switched the nodes,
// restarting a node moves its policies to the new stream.
func (a *App) startPolicies(ctx context.Context, nc *nats.Conn, c *cluster.Cluster, persons *streamswitch.Store, onb persistence.EventStore, replicas int, clustered bool, r *reactive) error {
	r.deadLetters = dlq.WatchDeadLetters(c.ActorSystem, a.cfg.Logger, 10*time.Second)
	if a.cfg.NoPolicies {
		return nil
	}
	d, err := openRetrying(ctx, a, clustered, "the dead-letter stream", func(ctx context.Context) (*dlq.DLQ, error) {
		return dlq.Open(ctx, nc, dlq.Config{Replicas: replicas})
	})
	if err != nil {
		return err
	}
	r.dlq = d
	tm, err := openRetrying(ctx, a, clustered, "the timer stream", func(ctx context.Context) (*timer.Timers, error) {
		return timer.Open(ctx, nc, timer.Config{Replicas: replicas})
	})
	if err != nil {
		return err
	}
	r.timers = tm
	set, err := apolicy.New(apolicy.Config{ArchiveAfter: a.cfg.ArchiveAfter})
	if err != nil {
		return fmt.Errorf("app: policies: %w", err)
	}
	route, _ := persons.Route() // a fence does not matter to consumers
	run, err := policy.New(policy.Config{
		Policies: set.Policies(), Cluster: c, Conn: nc, DLQ: d, Timers: tm,
		Sources: map[string]policy.Source{
			apolicy.KindPerson:     {Stream: route.Stream, SubjectPrefix: route.SubjectPrefix, Events: persons},
			apolicy.KindOnboarding: {Stream: onboardingkind.Stream, SubjectPrefix: onboardingkind.SubjectPrefix, Events: onb},
		},
		Logger: a.cfg.Logger, Observer: a.metrics.observePolicy,
	})
	if err != nil {
		return fmt.Errorf("app: policy runner: %w", err)
	}
	if err := run.Start(ctx); err != nil {
		return fmt.Errorf("app: start policy runner: %w", err)
	}
	r.runner = run
	return nil
}

// shutdownPolicies stops the runners first (no new reactions), then the
// dead-letter subscription.
func (r *reactive) shutdownPolicies(ctx context.Context) error {
	var err error
	if r.runner != nil {
		err = r.runner.Shutdown(ctx)
	}
	if r.deadLetters != nil {
		r.deadLetters.Stop()
	}
	return err
}
