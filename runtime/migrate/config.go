package migrate

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/streamswitch"
)

// ErrInvalidConfig is returned by [New] for a Config that breaks a rule.
var ErrInvalidConfig = errors.New("migrate: invalid config")

// DefaultStateBucket is the KV bucket of the migration records.
const DefaultStateBucket = "PERSON_MIGRATIONS"

// Config configures a [Migrator]. Source is required; every other zero
// field means its default.
type Config struct {
	// Source is the connection to the server holding the source stream.
	Source *nats.Conn
	// Target is the connection to the server of the new stream, the route
	// records and the migration records. Default Source. The caller owns
	// both connections.
	Target *nats.Conn

	// SourceStream is the stream to read. Default: the active stream of
	// RouteKey.
	SourceStream string
	// SourcePrefix is the subject prefix of the source's events
	// ("<prefix>.<personID>" or, in the original system,
	// "<prefix>.<personID>.<suffix>"); messages on other subjects are
	// skipped. Default: the active route's prefix when SourceStream is the
	// active stream, else "person.events".
	SourcePrefix string
	// TargetStream is the new stream. Required by Migrate, Verify and
	// Finalize.
	TargetStream string
	// TargetPrefix is the subject prefix of the new stream. Default
	// "person.events", or the target's name in lower case when a stream of
	// the target server binds that already (two streams of one server
	// cannot bind the same subjects).
	TargetPrefix string
	// TargetSnapshotBucket is the snapshot bucket of the new stream.
	// Default "<TargetStream>_SNAPSHOTS" ("PERSON_SNAPSHOTS" for
	// "PERSON_EVENTS").
	TargetSnapshotBucket string
	// Store is the JetStream store configuration the nodes use: the new
	// stream is created as its Open would (replicas, duplicate window,
	// storage), bodies are written in its Payload encoding with its number
	// of Backlinks. Its route (Stream, SubjectPrefix, SnapshotBucket) is
	// the logical stream's first one, used while no route record exists.
	Store pjs.Config

	// RoutesBucket and RouteKey name the route record the switch moves
	// (persistence/streamswitch). Defaults streamswitch.DefaultBucket and
	// the stream of Store's route ("PERSON_EVENTS").
	RoutesBucket string
	RouteKey     string
	// StateBucket holds one migration record per target stream (its
	// checkpoint and phase). Default DefaultStateBucket.
	StateBucket string

	// ReadBatch is the number of messages per read request (and per
	// decoding job). Default 256.
	ReadBatch int
	// Decoders is the number of decoding goroutines. Default GOMAXPROCS.
	Decoders int
	// MaxInFlight bounds the unacknowledged writes (one per person at most).
	// Default 4096.
	MaxInFlight int
	// Window bounds the events read but not yet written; events of a person
	// with a write in flight wait in it. Default 16384.
	Window int
	// CatchUpRounds is the number of copy rounds run to catch up with
	// events appended during the copy before the fence. Default 3.
	CatchUpRounds int
	// CheckpointEvery is how often the checkpoint is saved. Default 1s.
	CheckpointEvery time.Duration
	// AckTimeout fails a copy that receives no acknowledgement for that
	// long while writes are in flight. Default 30s.
	AckTimeout time.Duration
	// RequestTimeout bounds a single server request. Default 10s.
	RequestTimeout time.Duration
	// MaxListed bounds the problems a report lists (it counts them all).
	// Default 1000.
	MaxListed int

	// Progress, when set, is called with the progress of long operations,
	// from the goroutine running them, every ProgressEvery (default 250ms)
	// and once when each phase ends.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Logger receives the phases and warnings. Nil discards.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Source == nil {
		return fmt.Errorf("%w: rule config.source: Source connection is required", ErrInvalidConfig)
	}
	if c.Target == nil {
		c.Target = c.Source
	}
	if c.RoutesBucket == "" {
		c.RoutesBucket = streamswitch.DefaultBucket
	}
	if c.RouteKey == "" {
		c.RouteKey = streamswitch.RouteOf(c.Store).Stream
	}
	if c.StateBucket == "" {
		c.StateBucket = DefaultStateBucket
	}
	if c.Store.Payload == "" {
		c.Store.Payload = pjs.PayloadJSON
	}
	if c.Store.APIPrefix == "" {
		c.Store.APIPrefix = "$JS.API"
	}
	defaults := []struct {
		v   *int
		def int
	}{{&c.ReadBatch, 256}, {&c.Decoders, runtime.GOMAXPROCS(0)}, {&c.MaxInFlight, 4096}, {&c.Window, 16384}, {&c.CatchUpRounds, 3}, {&c.MaxListed, 1000}}
	for _, d := range defaults {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	durations := []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.CheckpointEvery, time.Second}, {&c.AckTimeout, 30 * time.Second}, {&c.RequestTimeout, 10 * time.Second}, {&c.ProgressEvery, 250 * time.Millisecond}}
	for _, d := range durations {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, n := range []struct {
		name string
		v    string
	}{{"source_stream", c.SourceStream}, {"target_stream", c.TargetStream}, {"target_snapshot_bucket", c.TargetSnapshotBucket}} {
		if strings.ContainsAny(n.v, " .*>/\\\t") {
			return fmt.Errorf("%w: rule config.%s: %q must not contain spaces, '.', '*', '>' or slashes", ErrInvalidConfig, n.name, n.v)
		}
	}
	for _, n := range []struct {
		name string
		v    string
	}{{"source_prefix", c.SourcePrefix}, {"target_prefix", c.TargetPrefix}} {
		if strings.ContainsAny(n.v, " *>\t") || strings.HasPrefix(n.v, ".") || strings.HasSuffix(n.v, ".") || strings.Contains(n.v, "..") {
			return fmt.Errorf("%w: rule config.%s: %q must be literal subject tokens", ErrInvalidConfig, n.name, n.v)
		}
	}
	switch {
	case c.Store.Payload != pjs.PayloadJSON && c.Store.Payload != pjs.PayloadProtobuf:
		return fmt.Errorf("%w: rule config.payload: %q: want %q or %q", ErrInvalidConfig, c.Store.Payload, pjs.PayloadJSON, pjs.PayloadProtobuf)
	case c.ReadBatch < 1 || c.ReadBatch > 10_000:
		return fmt.Errorf("%w: rule config.read_batch: %d: want 1..10000", ErrInvalidConfig, c.ReadBatch)
	case c.Decoders < 1 || c.CatchUpRounds < 1 || c.MaxListed < 1:
		return fmt.Errorf("%w: rule config.positive: Decoders, CatchUpRounds and MaxListed must be positive", ErrInvalidConfig)
	case c.MaxInFlight < 1 || c.Window < c.MaxInFlight || c.Window < c.ReadBatch:
		return fmt.Errorf("%w: rule config.window: MaxInFlight %d, Window %d: want 1 ≤ MaxInFlight ≤ Window and ReadBatch ≤ Window", ErrInvalidConfig, c.MaxInFlight, c.Window)
	case c.CheckpointEvery < 0 || c.AckTimeout < 0 || c.RequestTimeout < 0 || c.ProgressEvery < 0:
		return fmt.Errorf("%w: rule config.durations: durations must not be negative", ErrInvalidConfig)
	}
	return nil
}

// backlinks is the number of backlinks written per event (0 when
// disabled), as persistence/jetstream counts them.
func (c *Config) backlinks() int {
	switch {
	case c.Store.Backlinks < 0:
		return 0
	case c.Store.Backlinks == 0:
		return 16 // persistence/jetstream's default
	}
	return c.Store.Backlinks
}
