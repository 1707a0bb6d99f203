package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	pjs "github.com/cim/personrt/persistence/jetstream"
)

// ErrInvalidConfig is returned by New for arguments that break a rule.
var ErrInvalidConfig = errors.New("watch: invalid config")

// DefaultInactiveThreshold is the default of Config.InactiveThreshold.
const DefaultInactiveThreshold = 30 * time.Second

// Config configures a Watcher; the zero value means the defaults.
type Config struct {
	// Store is the configuration the event store was opened with; Watch
	// uses its stream name and subject prefix. Zero means the adapter's
	// defaults.
	Store pjs.Config
	// InactiveThreshold is how long the server keeps the consumer of a
	// watcher that disappeared without deleting it. Default
	// DefaultInactiveThreshold.
	InactiveThreshold time.Duration
}

// Loader reads a person's stored events: the read half of
// persistence.EventStore, which is all a Watcher needs (the JetStream
// store, or a client that reads through a gateway).
type Loader interface {
	// Load calls fn for each event of personID with version >=
	// fromVersion, in version order, upcast to the current schema. It stops
	// at the first error from fn and returns it. A person without events
	// yields nothing. It must be safe for concurrent use when the Watcher
	// is: Watch calls it on the calling goroutine.
	Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error
}

// Watcher follows persons' events. Safe for concurrent use; it starts
// nothing until Watch is called.
type Watcher struct {
	js       jetstream.JetStream
	events   Loader
	stream   string
	prefix   string // subject prefix with its trailing dot
	inactive time.Duration
}

// New returns a Watcher over the stream behind nc, reading events through
// events (the JetStream store opened with cfg.Store, or anything that reads
// that store's events).
func New(nc *nats.Conn, events Loader, cfg Config) (*Watcher, error) {
	if nc == nil || events == nil {
		return nil, fmt.Errorf("%w: rule watch.deps: a connection and an event store are required", ErrInvalidConfig)
	}
	if cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = DefaultInactiveThreshold
	}
	if cfg.InactiveThreshold < time.Second {
		return nil, fmt.Errorf("%w: rule watch.inactive_threshold: %v is below 1s", ErrInvalidConfig, cfg.InactiveThreshold)
	}
	sc := pjs.StreamConfig(cfg.Store)
	if len(sc.Subjects) != 1 || !strings.HasSuffix(sc.Subjects[0], ".>") {
		return nil, fmt.Errorf("%w: rule watch.subjects: stream %s binds %v, want one <prefix>.> subject", ErrInvalidConfig, sc.Name, sc.Subjects)
	}
	apiPrefix := cfg.Store.APIPrefix
	if apiPrefix == "" {
		apiPrefix = jetstream.DefaultAPIPrefix
	}
	js, err := jetstream.NewWithAPIPrefix(nc, apiPrefix)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return &Watcher{
		js: js, events: events, stream: sc.Name,
		prefix:   strings.TrimSuffix(sc.Subjects[0], ">"),
		inactive: cfg.InactiveThreshold,
	}, nil
}

// Watch calls fn for each event of personID with version >= fromVersion
// (from 1 when 0): the stored ones, then each new one as it is stored, in
// version order. fn runs on the calling goroutine. Watch returns fn's first
// error, a store error, or ctx's error when ctx ends (the normal way to stop
// watching). The consumer it created is deleted before it returns.
func (w *Watcher) Watch(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) (err error) {
	if err := persistence.CheckPersonID(personID); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	cons, err := w.js.OrderedConsumer(ctx, w.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{w.prefix + personID},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		HeadersOnly:       true,
		InactiveThreshold: w.inactive,
	})
	if err != nil {
		return fmt.Errorf("watch %s: consumer: %w", personID, err)
	}
	stored := make(chan struct{}, 1) // coalesces notifications: one pending read is enough
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case stored <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("watch %s: consume: %w", personID, err)
	}
	defer func() {
		if derr := w.stop(ctx, cons, cc); derr != nil && err == nil {
			err = derr
		}
	}()

	next := max(fromVersion, 1)
	for {
		err := w.events.Load(ctx, personID, next, func(e *personv1.EventEnvelope) error {
			if err := fn(e); err != nil {
				return err
			}
			next = e.GetVersion() + 1
			return nil
		})
		if err != nil {
			return err
		}
		select {
		case <-stored:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop stops consuming, waits for the handler to return and deletes the
// server-side consumer (nats.go's ordered consumer leaves it to expire).
func (w *Watcher) stop(ctx context.Context, cons jetstream.Consumer, cc jetstream.ConsumeContext) error {
	closed := cc.Closed()
	cc.Stop()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	select {
	case <-closed:
	case <-dctx.Done():
		return fmt.Errorf("watch: consumer did not stop: %w", dctx.Err())
	}
	name := cons.CachedInfo().Name
	if err := w.js.DeleteConsumer(dctx, w.stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("watch: delete consumer %s: %w", name, err)
	}
	return nil
}
