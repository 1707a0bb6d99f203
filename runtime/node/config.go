package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
)

// ErrInvalidConfig is returned by New for a Config that breaks a rule; the
// wrapped message names the rule.
var ErrInvalidConfig = errors.New("node: invalid config")

// Defaults applied by New to zero Config fields.
const (
	DefaultClusterName    = "personrt"
	DefaultHost           = "127.0.0.1"
	DefaultRequestTimeout = 5 * time.Second
	// DefaultDialAttempts makes a connection to a member that cannot be
	// reached fail after one dial and protoactor-go's fixed 2s pause,
	// instead of its default five (10s).
	DefaultDialAttempts = 1
)

// Kind is a grain kind this node hosts; *grain.Host[S] implements it.
type Kind interface {
	// Name is the cluster kind name.
	Name() string
	// ClusterKind returns the kind to register with the cluster.
	ClusterKind() *cluster.Kind
	// Start is called before the member joins; ctx is the node's lifetime.
	Start(ctx context.Context) error
	// Shutdown is called after the member stopped its grains.
	Shutdown(ctx context.Context) error
}

// Config configures a Node. The zero value starts a standalone member on a
// random loopback port that hosts nothing (a client).
type Config struct {
	// ClusterName: members with different names never see each other.
	// Default DefaultClusterName.
	ClusterName string
	// Host and Port are the remote (gRPC) listener. Defaults DefaultHost and
	// 0, a random free port.
	Host string
	Port int
	// AdvertisedHost is the "host:port" other members dial, when it differs
	// from the listener (NAT, containers).
	AdvertisedHost string

	// Kinds are the grain kinds this node hosts. Without kinds the node joins
	// as a client: it can call grains but hosts none.
	Kinds []Kind

	// Provider is the cluster membership provider. Nil means standalone:
	// this node is the only member.
	Provider cluster.ClusterProvider
	// IdentityLookup places grains on members. Nil means disthash.
	IdentityLookup cluster.IdentityLookup

	// RequestTimeout is protoactor's default timeout for cluster requests
	// that do not set one. Default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// DialAttempts is how many times protoactor-go's remote dials a member
	// before it fails the messages queued for it; it pauses 2s after each
	// failed dial, and a node's Shutdown waits for a dial in progress (a
	// member that stops with others that stopped just before). Default
	// DefaultDialAttempts.
	DialAttempts int

	// Logger receives the node's log and, filtered by ActorLogLevel, the log
	// of protoactor-go. Nil discards both.
	Logger *slog.Logger
	// ActorLogLevel is the lowest level of protoactor-go's own records that
	// reach Logger. Nil means slog.LevelWarn: protoactor logs routine work
	// (activations, gossip, every retried request) at Info and Error.
	ActorLogLevel slog.Leveler
}

func (c *Config) validate() error {
	if c.ClusterName == "" {
		c.ClusterName = DefaultClusterName
	}
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("%w: rule config.port: %d is not a port", ErrInvalidConfig, c.Port)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DialAttempts == 0 {
		c.DialAttempts = DefaultDialAttempts
	}
	if c.DialAttempts < 0 {
		return fmt.Errorf("%w: rule config.dial_attempts: %d is negative", ErrInvalidConfig, c.DialAttempts)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("%w: rule config.request_timeout: %v is negative", ErrInvalidConfig, c.RequestTimeout)
	}
	seen := make(map[string]bool, len(c.Kinds))
	for i, k := range c.Kinds {
		if k == nil {
			return fmt.Errorf("%w: rule config.kinds: kind %d is nil", ErrInvalidConfig, i)
		}
		if seen[k.Name()] {
			return fmt.Errorf("%w: rule config.kinds: kind %q appears twice", ErrInvalidConfig, k.Name())
		}
		seen[k.Name()] = true
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ActorLogLevel == nil {
		c.ActorLogLevel = slog.LevelWarn
	}
	return nil
}
