package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrInvalidOption is returned by New for an option value that breaks a
// rule, and by StartMember and StartClient for a cluster name or member id
// that cannot be a key token; the wrapped message names the rule.
var ErrInvalidOption = errors.New("membership: invalid option")

// Defaults.
const (
	// DefaultBucket is the KV bucket that holds the member keys.
	DefaultBucket = "cluster_members"
	// DefaultTTL is how long a member's key lives without a heartbeat.
	DefaultTTL = 3 * time.Second
	// MinTTL is the smallest TTL accepted: the heartbeat runs every TTL/3.
	MinTTL = 500 * time.Millisecond
	// DefaultStartTimeout bounds StartMember and StartClient.
	DefaultStartTimeout = 10 * time.Second
)

var (
	bucketName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	// keyToken is a KV key character set without '.', so that
	// "<cluster>.<member>" has exactly two tokens.
	keyToken = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+$`)
)

// Option configures a Provider.
type Option func(*options) error

type options struct {
	bucket       string
	ttl          time.Duration
	replicas     int
	storage      jetstream.StorageType
	clusterName  string // "" = the cluster's Config.Name
	logger       *slog.Logger
	startTimeout time.Duration
}

func defaultOptions() options {
	return options{
		bucket:       DefaultBucket,
		ttl:          DefaultTTL,
		replicas:     1,
		storage:      jetstream.MemoryStorage,
		startTimeout: DefaultStartTimeout,
	}
}

// heartbeat is the interval between a member's Puts: three per TTL, so that
// two lost heartbeats in a row do not expire a live member.
func (o *options) heartbeat() time.Duration { return o.ttl / 3 }

// markerTTL is how long the delete marker of an expired member stays: long
// enough for a watcher restarting after an outage to see it.
func (o *options) markerTTL() time.Duration { return max(time.Minute, 10*o.ttl) }

// WithBucket sets the KV bucket name (default [DefaultBucket]). Several
// clusters may share a bucket: keys are prefixed with the cluster name.
func WithBucket(name string) Option {
	return func(o *options) error {
		if !bucketName.MatchString(name) {
			return fmt.Errorf("%w: bucket %q: must match %s", ErrInvalidOption, name, bucketName)
		}
		o.bucket = name
		return nil
	}
}

// WithTTL sets how long a member stays listed after its last heartbeat
// (default [DefaultTTL], at least [MinTTL]); heartbeats run every TTL/3. A
// crashed member disappears about one TTL after its crash. Every
// member of a bucket must use the same TTL: the last one to start sets it.
func WithTTL(d time.Duration) Option {
	return func(o *options) error {
		if d < MinTTL {
			return fmt.Errorf("%w: TTL %s: must be at least %s", ErrInvalidOption, d, MinTTL)
		}
		o.ttl = d
		return nil
	}
}

// WithReplicas sets the bucket's replica count, 1 (default) to 5; use 3 on
// a three-node NATS cluster so that membership survives a NATS node loss.
func WithReplicas(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 5 {
			return fmt.Errorf("%w: replicas %d: must be 1 to 5", ErrInvalidOption, n)
		}
		o.replicas = n
		return nil
	}
}

// WithStorage sets the bucket's storage (default jetstream.MemoryStorage:
// member keys are worth nothing after a restart of every NATS server).
func WithStorage(s jetstream.StorageType) Option {
	return func(o *options) error {
		if s != jetstream.MemoryStorage && s != jetstream.FileStorage {
			return fmt.Errorf("%w: storage %v: must be memory or file", ErrInvalidOption, s)
		}
		o.storage = s
		return nil
	}
}

// WithClusterName sets the key prefix instead of the cluster's
// Config.Name. It must be a single NATS subject token of letters, digits
// and -/_=.
func WithClusterName(name string) Option {
	return func(o *options) error {
		if !keyToken.MatchString(name) {
			return fmt.Errorf("%w: cluster name %q: must match %s", ErrInvalidOption, name, keyToken)
		}
		o.clusterName = name
		return nil
	}
}

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// WithStartTimeout bounds StartMember and StartClient: creating the
// bucket, the first heartbeat and reading the current members (default
// [DefaultStartTimeout]).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: start timeout %s: must be positive", ErrInvalidOption, d)
		}
		o.startTimeout = d
		return nil
	}
}
