package streamswitch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	pjs "github.com/cim/personrt/persistence/jetstream"
)

// Defaults of the route records and of the event store they replace; the
// store defaults are those of persistence/jetstream.
const (
	// DefaultBucket is the KV bucket holding the route records.
	DefaultBucket = "PERSON_STREAMS"
	// DefaultStream, DefaultSubjectPrefix and DefaultSnapshotBucket are the
	// route of a zero pjs.Config.
	DefaultStream         = "PERSON_EVENTS"
	DefaultSubjectPrefix  = "person.events"
	DefaultSnapshotBucket = "PERSON_SNAPSHOTS"
)

// Errors of the route records.
var (
	// ErrRouteChanged is returned by [Routes.Fence], [Routes.Switch] and
	// [Routes.Unfence] when the record is not in the state the caller
	// expects (another migration holds it, or it moved on).
	ErrRouteChanged = errors.New("streamswitch: route record changed")
	// ErrInvalidRecord is returned for a stored record or a route that
	// breaks a rule (empty or malformed names).
	ErrInvalidRecord = errors.New("streamswitch: invalid route record")
)

// Route names where the events of a logical stream live: the JetStream
// stream, its subject prefix and the snapshot bucket that goes with it
// (snapshots hold stream sequences, so every stream has its own bucket).
type Route struct {
	Stream         string `json:"stream"`
	SubjectPrefix  string `json:"subject_prefix"`
	SnapshotBucket string `json:"snapshot_bucket"`
}

// String returns "STREAM (prefix.>)".
func (r Route) String() string { return r.Stream + " (" + r.SubjectPrefix + ".>)" }

// check reports a route with an empty or malformed name.
func (r Route) check() error {
	for _, f := range [...]struct{ name, v, bad string }{
		{"stream", r.Stream, " .*>/\\\t"},
		{"snapshot_bucket", r.SnapshotBucket, " .*>/\\\t"},
		{"subject_prefix", r.SubjectPrefix, " *>\t"},
	} {
		if f.v == "" || strings.ContainsAny(f.v, f.bad) {
			return fmt.Errorf("%w: rule route.%s: %q", ErrInvalidRecord, f.name, f.v)
		}
	}
	if strings.HasPrefix(r.SubjectPrefix, ".") || strings.HasSuffix(r.SubjectPrefix, ".") || strings.Contains(r.SubjectPrefix, "..") {
		return fmt.Errorf("%w: rule route.subject_prefix: %q is not a list of subject tokens", ErrInvalidRecord, r.SubjectPrefix)
	}
	return nil
}

// RouteOf returns the route a store config uses, defaults filled in.
func RouteOf(cfg pjs.Config) Route {
	r := Route{Stream: cfg.Stream, SubjectPrefix: cfg.SubjectPrefix, SnapshotBucket: cfg.SnapshotBucket}
	if r.Stream == "" {
		r.Stream = DefaultStream
	}
	if r.SubjectPrefix == "" {
		r.SubjectPrefix = DefaultSubjectPrefix
	}
	if r.SnapshotBucket == "" {
		r.SnapshotBucket = DefaultSnapshotBucket
	}
	return r
}

// Config returns base with the stream, subject prefix and snapshot bucket
// of r.
func (r Route) Config(base pjs.Config) pjs.Config {
	base.Stream, base.SubjectPrefix, base.SnapshotBucket = r.Stream, r.SubjectPrefix, r.SnapshotBucket
	return base
}

// Fence is a pending switch: writers stop appending to the active route
// until the record switches to Target.
type Fence struct {
	Target Route     `json:"target"`
	Since  time.Time `json:"since"`
	By     string    `json:"by,omitempty"` // who fenced, for operators
}

// Record is the value of a route key: the active route and, while a
// migration switches streams, the fence. Epoch counts the switches.
type Record struct {
	Active Route  `json:"active"`
	Fence  *Fence `json:"fence,omitempty"`
	Epoch  uint64 `json:"epoch"`
}

// decodeRecord decodes and checks a stored record.
func decodeRecord(b []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	if err := rec.Active.check(); err != nil {
		return Record{}, err
	}
	if rec.Fence != nil {
		if err := rec.Fence.Target.check(); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

func encodeRecord(rec Record) []byte {
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err) // a Record always marshals
	}
	return b
}

// RoutesConfig configures [OpenRoutes]. The zero value means the defaults.
type RoutesConfig struct {
	// Bucket is the KV bucket of the route records. Default DefaultBucket.
	Bucket string
	// Replicas of the bucket. Default 1.
	Replicas int
	// MemoryStorage keeps the bucket in memory (tests).
	MemoryStorage bool
	// APIPrefix is the JetStream API prefix. Default "$JS.API".
	APIPrefix string
	// ReadOnly binds an existing bucket without creating or updating it: a
	// missing bucket reads as no records, and changes return
	// ErrReadOnly.
	ReadOnly bool
}

// ErrReadOnly is returned by the changes of [Routes] opened ReadOnly.
var ErrReadOnly = errors.New("streamswitch: routes opened read-only")

// Routes reads and changes route records, one KV key per logical stream
// (by convention the name of its first stream, e.g. "PERSON_EVENTS"). Safe
// for concurrent use; every change is a compare-and-set on the key's
// revision.
type Routes struct {
	kv       jetstream.KeyValue // nil: read-only without a bucket
	readOnly bool
}

// OpenRoutes creates the routes bucket if needed and returns access to it.
func OpenRoutes(ctx context.Context, nc *nats.Conn, cfg RoutesConfig) (*Routes, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.APIPrefix == "" {
		cfg.APIPrefix = "$JS.API"
	}
	js, err := jetstream.NewWithAPIPrefix(nc, cfg.APIPrefix)
	if err != nil {
		return nil, fmt.Errorf("streamswitch: %w", err)
	}
	if cfg.ReadOnly {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("streamswitch: bucket %s: %w", cfg.Bucket, err)
		}
		return &Routes{kv: kv, readOnly: true}, nil
	}
	storage := jetstream.FileStorage
	if cfg.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "active event stream per logical stream, and the write fence of a migration",
		History:     16,
		Storage:     storage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("streamswitch: open bucket %s: %w", cfg.Bucket, err)
	}
	return &Routes{kv: kv}, nil
}

// Get returns the record of key and its revision. Without a record it
// returns found false (the logical stream still lives at its first route).
func (r *Routes) Get(ctx context.Context, key string) (rec Record, rev uint64, found bool, err error) {
	if r.kv == nil {
		return Record{}, 0, false, nil
	}
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, 0, false, nil
	}
	if err != nil {
		return Record{}, 0, false, fmt.Errorf("streamswitch: get route %s: %w", key, err)
	}
	rec, err = decodeRecord(e.Value())
	if err != nil {
		return Record{}, 0, false, fmt.Errorf("streamswitch: route %s revision %d: %w", key, e.Revision(), err)
	}
	return rec, e.Revision(), true, nil
}

// Fence sets the write fence of key for a switch from the active route
// from to the route to: from then on writers of the logical stream answer
// UNAVAILABLE instead of appending. Without a record, from is taken as the
// active route. It is idempotent (fencing again for the same target keeps
// the first fence) and returns [ErrRouteChanged] when the active route is
// not from or another fence is set.
func (r *Routes) Fence(ctx context.Context, key string, from, to Route, by string, now time.Time) (Record, error) {
	if err := from.check(); err != nil {
		return Record{}, err
	}
	if err := to.check(); err != nil {
		return Record{}, err
	}
	if from == to {
		return Record{}, fmt.Errorf("%w: rule route.distinct: fence %s to itself", ErrInvalidRecord, from)
	}
	return r.change(ctx, key, from, func(rec Record) (Record, bool, error) {
		switch {
		case rec.Active != from:
			return rec, false, fmt.Errorf("%w: rule route.active: %s is active, not %s", ErrRouteChanged, rec.Active, from)
		case rec.Fence != nil && rec.Fence.Target != to:
			return rec, false, fmt.Errorf("%w: rule route.one_fence: already fenced for a switch to %s by %q", ErrRouteChanged, rec.Fence.Target, rec.Fence.By)
		case rec.Fence != nil:
			return rec, false, nil
		}
		rec.Fence = &Fence{Target: to, Since: now.UTC(), By: by}
		return rec, true, nil
	})
}

// Switch makes to the active route of key and lifts the fence, which must
// be set for a switch to to. Switching again once to is active is a no-op.
func (r *Routes) Switch(ctx context.Context, key string, to Route) (Record, error) {
	return r.change(ctx, key, Route{}, func(rec Record) (Record, bool, error) {
		switch {
		case rec.Active == to && rec.Fence == nil:
			return rec, false, nil
		case rec.Fence == nil || rec.Fence.Target != to:
			return rec, false, fmt.Errorf("%w: rule route.fenced: %s is not fenced for a switch to %s", ErrRouteChanged, rec.Active, to)
		}
		return Record{Active: to, Epoch: rec.Epoch + 1}, true, nil
	})
}

// Unfence lifts the fence of key without switching (a migration that gave
// up before the source stream was sealed). It is a no-op without a fence.
func (r *Routes) Unfence(ctx context.Context, key string) (Record, error) {
	return r.change(ctx, key, Route{}, func(rec Record) (Record, bool, error) {
		if rec.Fence == nil {
			return rec, false, nil
		}
		rec.Fence = nil
		return rec, true, nil
	})
}

// maxRouteUpdates bounds change's compare-and-set loop.
const maxRouteUpdates = 8

// change applies f to the record of key (or, without one, to a record
// whose active route is initial; an empty initial means a record must
// exist) and stores the result by compare-and-set when f reports a change.
func (r *Routes) change(ctx context.Context, key string, initial Route, f func(Record) (Record, bool, error)) (Record, error) {
	if r.readOnly {
		return Record{}, fmt.Errorf("%w: change route %s", ErrReadOnly, key)
	}
	for range maxRouteUpdates {
		rec, rev, found, err := r.Get(ctx, key)
		if err != nil {
			return Record{}, err
		}
		if !found {
			if initial == (Route{}) {
				return Record{}, fmt.Errorf("%w: rule route.exists: no route record %s", ErrRouteChanged, key)
			}
			rec = Record{Active: initial}
		}
		next, changed, err := f(rec)
		if err != nil || !changed {
			return next, err
		}
		if found {
			_, err = r.kv.Update(ctx, key, encodeRecord(next), rev)
		} else {
			_, err = r.kv.Create(ctx, key, encodeRecord(next))
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return Record{}, fmt.Errorf("streamswitch: update route %s: %w", key, err)
		}
		return next, nil
	}
	return Record{}, fmt.Errorf("%w: %d concurrent updates of route %s in a row", ErrRouteChanged, maxRouteUpdates, key)
}
