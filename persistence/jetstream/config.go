package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ErrInvalidConfig is returned by [Open] for a Config that breaks a rule.
var ErrInvalidConfig = errors.New("jetstream store: invalid config")

// Payload encodings for Config.Payload.
const (
	PayloadJSON     = "json"
	PayloadProtobuf = "protobuf"
)

// Config configures a [Store]. The zero value means the defaults below,
// which suit a single-node Person store; validate fills them in.
type Config struct {
	// Stream is the name of the event stream. Default "PERSON_EVENTS".
	Stream string
	// SubjectPrefix is the subject prefix of the stream: a person's events go
	// to "<SubjectPrefix>.<personID>", the stream binds "<SubjectPrefix>.>".
	// Default "person.events". Another event-sourced kind uses its own
	// stream and prefix (e.g. "ONBOARDING_EVENTS", "onboarding.events").
	SubjectPrefix string
	// SnapshotBucket is the KV bucket holding snapshots. Default
	// "PERSON_SNAPSHOTS".
	SnapshotBucket string
	// Replicas of the stream and the bucket: 1 on a single node (default), 3
	// in a cluster.
	Replicas int
	// Duplicates is the stream's duplicate window: an append retried within
	// it with the same event ids is recognised by the server. Every id in the
	// window costs server memory (about 160 B). Default 2m.
	Duplicates time.Duration
	// MemoryStorage keeps the stream and bucket in memory instead of files
	// (tests only: a memory stream scans linearly on reads and loses
	// everything on restart).
	MemoryStorage bool
	// Payload is how event bodies are stored: PayloadJSON (default: the
	// protojson of the body, readable with `nats stream view`) or
	// PayloadProtobuf (the binary protobuf, Content-Type
	// application/protobuf: smaller and cheaper to encode and decode;
	// bench/README.md has the figures). Readers handle both, whatever this
	// store writes.
	Payload string
	// CacheSize bounds the number of persons whose last known stream
	// position is cached (about 200 B each). Default 100000.
	CacheSize int
	// Backlinks is how many stream sequences of a person's previous events
	// every stored event carries (header Cim-Prev-Seqs), so that Load can
	// fetch a tail of up to Backlinks+1 events by exact sequence in one
	// round instead of scanning the subject; a longer tail takes one more
	// round per Backlinks events. Snapshot at least every Backlinks+1 events
	// to hydrate in a constant number of rounds. Default 16; -1
	// disables backlinks (Load then scans the subject).
	Backlinks int
	// ReadBatch is the number of events one direct-get request returns while
	// loading; it bounds the memory of a Load. Default 256.
	ReadBatch int
	// RequestTimeout bounds a server request when ctx has no deadline.
	// Default 5s.
	RequestTimeout time.Duration
	// APIPrefix is the JetStream API prefix. Default "$JS.API".
	APIPrefix string
	// Logger receives warnings (rare: rejected stored events). Nil discards.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Stream == "" {
		c.Stream = "PERSON_EVENTS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "person.events"
	}
	if c.SnapshotBucket == "" {
		c.SnapshotBucket = "PERSON_SNAPSHOTS"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates == 0 {
		c.Duplicates = 2 * time.Minute
	}
	if c.Payload == "" {
		c.Payload = PayloadJSON
	}
	if c.CacheSize == 0 {
		c.CacheSize = 100_000
	}
	if c.Backlinks == 0 {
		c.Backlinks = 16
	}
	if c.ReadBatch == 0 {
		c.ReadBatch = 256
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.APIPrefix == "" {
		c.APIPrefix = "$JS.API"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case strings.ContainsAny(c.Stream, " .*>/\\\t"):
		return fmt.Errorf("%w: Stream %q must not contain spaces, '.', '*', '>' or slashes", ErrInvalidConfig, c.Stream)
	case strings.ContainsAny(c.SnapshotBucket, " .*>/\\\t"):
		return fmt.Errorf("%w: SnapshotBucket %q must not contain spaces, '.', '*', '>' or slashes", ErrInvalidConfig, c.SnapshotBucket)
	case strings.ContainsAny(c.SubjectPrefix, " *>\t") || strings.HasPrefix(c.SubjectPrefix, ".") || strings.HasSuffix(c.SubjectPrefix, ".") || strings.Contains(c.SubjectPrefix, ".."):
		return fmt.Errorf("%w: SubjectPrefix %q must be literal subject tokens", ErrInvalidConfig, c.SubjectPrefix)
	case c.Payload != PayloadJSON && c.Payload != PayloadProtobuf:
		return fmt.Errorf("%w: Payload %q: want %q or %q", ErrInvalidConfig, c.Payload, PayloadJSON, PayloadProtobuf)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("%w: Replicas %d: want 1..5", ErrInvalidConfig, c.Replicas)
	case c.Duplicates < time.Second:
		return fmt.Errorf("%w: Duplicates %s: want at least 1s", ErrInvalidConfig, c.Duplicates)
	case c.CacheSize < 1:
		return fmt.Errorf("%w: CacheSize %d: want at least 1", ErrInvalidConfig, c.CacheSize)
	case c.Backlinks < -1 || c.Backlinks > 1000:
		return fmt.Errorf("%w: Backlinks %d: want -1 (none) or 1..1000", ErrInvalidConfig, c.Backlinks)
	case c.ReadBatch < 1 || c.ReadBatch > 10_000:
		return fmt.Errorf("%w: ReadBatch %d: want 1..10000", ErrInvalidConfig, c.ReadBatch)
	case c.RequestTimeout < 0:
		return fmt.Errorf("%w: RequestTimeout %s is negative", ErrInvalidConfig, c.RequestTimeout)
	}
	return nil
}

// backlinks is the number of backlinks written per event (0 when disabled).
func (c *Config) backlinks() int { return max(c.Backlinks, 0) }
