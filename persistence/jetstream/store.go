package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/persistence"
)

// Store is the JetStream event and snapshot store. Safe for concurrent use;
// callers keep at most one Append in flight per person (see
// [persistence.EventStore]), appends of different persons pipeline over the
// shared connection.
type Store struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	kv     jetstream.KeyValue

	directGet string // "$JS.API.DIRECT.GET.<stream>"
	prefix    string // SubjectPrefix + "."

	cache  *positions
	closed atomic.Bool
	scans  atomic.Int64 // loads that scanned the subject (tests)
}

var (
	_ persistence.EventStore    = (*Store)(nil)
	_ persistence.SnapshotStore = (*Store)(nil)
)

// Open creates or updates the event stream and the snapshot bucket
// described by cfg on the server behind nc and returns a store using them.
// The caller owns nc and closes it after [Store.Close]. Open starts no
// goroutines.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.NewWithAPIPrefix(nc, cfg.APIPrefix)
	if err != nil {
		return nil, fmt.Errorf("jetstream store: %w", err)
	}
	storage := jetstream.FileStorage
	if cfg.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	stream, err := js.CreateOrUpdateStream(ctx, streamConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("jetstream store: create stream %s: %w", cfg.Stream, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.SnapshotBucket,
		Description: "latest snapshot per person of stream " + cfg.Stream,
		History:     1,
		Storage:     storage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream store: create snapshot bucket %s: %w", cfg.SnapshotBucket, err)
	}
	cache, err := newPositions(cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("jetstream store: %w", err)
	}
	return &Store{
		cfg:       cfg,
		nc:        nc,
		js:        js,
		stream:    stream,
		kv:        kv,
		directGet: strings.TrimSuffix(cfg.APIPrefix, ".") + ".DIRECT.GET." + cfg.Stream,
		prefix:    cfg.SubjectPrefix + ".",
		cache:     cache,
	}, nil
}

// StreamConfig returns the event stream configuration Open applies for cfg
// (after defaults), for tools and benchmarks that create a stream of the
// same configuration (it is the one nats type this package hands out).
func StreamConfig(cfg Config) jetstream.StreamConfig {
	// Only the defaults matter here; Open reports invalid configs.
	_ = cfg.validate()
	return streamConfig(cfg)
}

// streamConfig returns the event stream configuration for a validated cfg: one subject per person under SubjectPrefix, no age or size
// limit (events are the source of truth), discard new (never drop an event
// silently), an explicit duplicate window, deletes and purges denied,
// direct get and atomic batch publish allowed.
func streamConfig(cfg Config) jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if cfg.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:               cfg.Stream,
		Description:        "events per person: subject " + cfg.SubjectPrefix + ".<personID>",
		Subjects:           []string{cfg.SubjectPrefix + ".>"},
		Retention:          jetstream.LimitsPolicy,
		MaxConsumers:       -1,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgsPerSubject:  -1,
		Discard:            jetstream.DiscardNew,
		Storage:            storage,
		Replicas:           cfg.Replicas,
		Duplicates:         cfg.Duplicates,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		DenyDelete:         true,
		DenyPurge:          true,
	}
}

// Close makes every later call return [persistence.ErrClosed]. Calls in
// flight finish. It does not close the connection. Idempotent; returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// subject returns the subject of personID's events.
func (s *Store) subject(personID string) string { return s.prefix + personID }

// check returns ErrClosed after Close, a wrapped ErrInvalidEvent for a bad
// person id, and ctx's error once it is done.
func (s *Store) check(ctx context.Context, personID string) error {
	if s.closed.Load() {
		return persistence.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return persistence.CheckPersonID(personID)
}

// isWrongLastSequence reports whether err is the server's optimistic
// concurrency rejection (10071, or 10164 on replicated streams).
func isWrongLastSequence(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
