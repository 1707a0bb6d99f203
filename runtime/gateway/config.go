package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
)

// ErrInvalidConfig is returned by New and NewClient for a configuration
// that breaks a rule; the wrapped message names the rule.
var ErrInvalidConfig = errors.New("gateway: invalid config")

// Defaults applied to zero Config fields.
const (
	DefaultPrefix       = "person"
	DefaultQueue        = "persond"
	DefaultMaxInFlight  = 256
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 5 * time.Second
	DefaultHistoryLimit = 1000
	// MaxHistoryLimit is the largest Config.HistoryLimit.
	MaxHistoryLimit = 10_000
)

// Persons executes commands and answers queries; *client.Client (through
// the cluster) and *Client (through another gateway) implement it.
type Persons interface {
	// Execute runs cmd on its person and returns the result; errors are
	// *personv1.Error values.
	Execute(ctx context.Context, cmd *personv1.Command) (*personv1.CommandResult, error)
	// Get returns the current state of a person.
	Get(ctx context.Context, personID string) (*personv1.PersonSnapshot, error)
}

// Executor executes commands of one grain kind; *client.Client implements it.
type Executor interface {
	// Execute runs cmd on its grain and returns the result; errors are
	// *personv1.Error values.
	Execute(ctx context.Context, cmd *personv1.Command) (*personv1.CommandResult, error)
}

// History reads stored events; a persistence.EventStore implements it.
type History interface {
	// Load calls fn for each event of personID with version >=
	// fromVersion, in order, and stops at fn's first error.
	Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error
}

// Config configures a Gateway. Conn and Persons are required; every other
// zero field means its default.
type Config struct {
	// Conn is the NATS connection the gateway subscribes on. The caller
	// owns it and closes it after Shutdown.
	Conn *nats.Conn
	// Persons executes commands and answers queries. Required.
	Persons Persons
	// History serves person.history requests; nil answers them
	// UNIMPLEMENTED.
	History History
	// Onboarding executes the onboarding workflow's commands (those
	// actors/onboarding.KindOf recognises) sent on person.commands.<id>;
	// nil sends them to Persons, which rejects them UNIMPLEMENTED.
	Onboarding Executor

	// Prefix is the first subject token. Default DefaultPrefix.
	Prefix string
	// Queue is the queue group every node joins. Default DefaultQueue.
	Queue string
	// MaxInFlight bounds the requests handled at once. Default
	// DefaultMaxInFlight.
	MaxInFlight int
	// MaxBodyBytes bounds a request body; a larger one is answered
	// RESOURCE_EXHAUSTED. Default DefaultMaxBodyBytes.
	MaxBodyBytes int
	// Timeout bounds the handling of one request. Default DefaultTimeout.
	Timeout time.Duration
	// HistoryLimit is the default and largest number of events in one
	// history reply. Default DefaultHistoryLimit, at most MaxHistoryLimit.
	HistoryLimit int

	// Logger receives rejections at Debug and failures at Warn and Error;
	// nil discards.
	Logger *slog.Logger
	// Observer, when set, receives every handled request synchronously on
	// its handler goroutine. It must not block and must be safe for
	// concurrent use.
	Observer func(Handled)
}

// Handled reports one request the gateway answered.
type Handled struct {
	// Kind is "command", "query" or "history": the subject family.
	Kind     string
	PersonID string
	// CommandType is the command's body name ("UpdateName"), for commands
	// that decoded.
	CommandType string
	// Code is ERROR_CODE_UNSPECIFIED on success.
	Code personv1.ErrorCode
	// Rule is the broken rule of a failure.
	Rule string
	Took time.Duration
}

func (c *Config) validate() error {
	if c.Conn == nil {
		return fmt.Errorf("%w: rule gateway.conn: a NATS connection is required", ErrInvalidConfig)
	}
	if c.Persons == nil {
		return fmt.Errorf("%w: rule gateway.persons: Persons is required", ErrInvalidConfig)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HistoryLimit == 0 {
		c.HistoryLimit = DefaultHistoryLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case !validPrefix(c.Prefix):
		return fmt.Errorf("%w: rule gateway.prefix: %q must be literal subject tokens", ErrInvalidConfig, c.Prefix)
	case strings.ContainsAny(c.Queue, " \t.*>"):
		return fmt.Errorf("%w: rule gateway.queue: %q must be one subject token", ErrInvalidConfig, c.Queue)
	case c.MaxInFlight < 1:
		return fmt.Errorf("%w: rule gateway.max_in_flight: %d is below 1", ErrInvalidConfig, c.MaxInFlight)
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("%w: rule gateway.max_body_bytes: %d is below 1", ErrInvalidConfig, c.MaxBodyBytes)
	case c.Timeout < 0:
		return fmt.Errorf("%w: rule gateway.timeout: %v is negative", ErrInvalidConfig, c.Timeout)
	case c.HistoryLimit < 1 || c.HistoryLimit > MaxHistoryLimit:
		return fmt.Errorf("%w: rule gateway.history_limit: %d is not in 1..%d", ErrInvalidConfig, c.HistoryLimit, MaxHistoryLimit)
	}
	return nil
}

// validPrefix reports whether p is one or more literal subject tokens.
func validPrefix(p string) bool {
	if p == "" || strings.ContainsAny(p, " \t\r\n*>") {
		return false
	}
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}
