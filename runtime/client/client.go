package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
)

// PersonKind is the cluster kind name of person grains.
const PersonKind = "person"

// ErrInvalidConfig is returned by New for a Config that breaks a rule.
var ErrInvalidConfig = errors.New("client: invalid config")

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxAttempts = 5
	DefaultBaseBackoff = 5 * time.Millisecond
	DefaultMaxBackoff  = 500 * time.Millisecond
)

// Config configures a Client; the zero value means the defaults.
type Config struct {
	// Kind is the cluster kind of the grains Execute and Get address.
	// Default PersonKind.
	Kind string
	// Timeout bounds a call whose ctx has no deadline. Default DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one call that keeps failing with
	// UNAVAILABLE (no activation reachable, grain stopped under the call,
	// store unavailable). Commands carry a command id, so a retry never
	// applies one twice. Default DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int
	// BaseBackoff is the pause before the second attempt; it doubles per
	// attempt up to MaxBackoff, with jitter. Defaults DefaultBaseBackoff and
	// DefaultMaxBackoff. (protoactor-go's own retry pauses 50ns, 200ns and
	// 450ns; the client asks it for a single attempt and backs off itself.)
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

func (c *Config) validate() error {
	if c.Kind == "" {
		c.Kind = PersonKind
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	switch {
	case c.Timeout < 0:
		return fmt.Errorf("%w: rule config.timeout: %v is negative", ErrInvalidConfig, c.Timeout)
	case c.MaxAttempts < 0:
		return fmt.Errorf("%w: rule config.max_attempts: %d is negative", ErrInvalidConfig, c.MaxAttempts)
	case c.BaseBackoff < 0 || c.MaxBackoff < c.BaseBackoff:
		return fmt.Errorf("%w: rule config.backoff: base %v, max %v", ErrInvalidConfig, c.BaseBackoff, c.MaxBackoff)
	}
	return nil
}

// Client calls grains through a protoactor-go cluster (a member or a
// client-only member). Safe for concurrent use.
//
// Replies from a grain on the same node are shared with it, not copied:
// callers must not modify returned messages.
type Client struct {
	cl  *cluster.Cluster
	cfg Config
}

// New returns a client of c. It starts nothing.
func New(c *cluster.Cluster, cfg Config) (*Client, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: rule client.cluster: cluster is nil", ErrInvalidConfig)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{cl: c, cfg: cfg}, nil
}

// Execute sends cmd to the grain of cmd.PersonId and returns its result. An
// empty cmd.CommandId is set to a new UUIDv7 first (Execute modifies cmd),
// so that retries, the client's and the caller's, are idempotent.
//
// Errors are *personv1.Error values that match the personv1.Err* sentinels
// with errors.Is: the grain's rejection, CONFLICT, INTERNAL,
// DEADLINE_EXCEEDED when ctx or the timeout ended first (the outcome is
// unknown: retry with the same command id; the error also matches ctx's
// error), UNAVAILABLE after MaxAttempts.
func (c *Client) Execute(ctx context.Context, cmd *personv1.Command) (*personv1.CommandResult, error) {
	if cmd.GetPersonId() == "" {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.person_id", "a command needs a person id")
	}
	if cmd.GetCommandId() == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "command.command_id", "new command id: %v", err)
		}
		cmd.CommandId = id.String()
	}
	var res *personv1.CommandResult
	err := c.do(ctx, c.cfg.Kind, cmd.GetPersonId(), cmd, func(reply any) error {
		switch r := reply.(type) {
		case *personv1.CommandReply:
			if e := r.GetError(); e != nil {
				return e
			}
			if res = r.GetResult(); res == nil {
				return unexpected(reply, cmd.GetPersonId())
			}
			return nil
		case *personv1.Error:
			return r
		default:
			return unexpected(reply, cmd.GetPersonId())
		}
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Get returns the current state of a person. Errors as for Execute;
// NOT_FOUND for a person that was never created.
func (c *Client) Get(ctx context.Context, personID string) (*personv1.PersonSnapshot, error) {
	if personID == "" {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "query.person_id", "a query needs a person id")
	}
	var snap *personv1.PersonSnapshot
	err := c.do(ctx, c.cfg.Kind, personID, &personv1.GetPerson{PersonId: personID}, func(reply any) error {
		switch r := reply.(type) {
		case *personv1.PersonReply:
			if e := r.GetError(); e != nil {
				return e
			}
			if snap = r.GetPerson(); snap == nil {
				return unexpected(reply, personID)
			}
			return nil
		case *personv1.Error:
			return r
		default:
			return unexpected(reply, personID)
		}
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// Ask sends any message to the grain (kind, identity) and returns its reply:
// the building block of Execute and Get for other kinds and queries. A bare
// *personv1.Error reply is returned as the error. Only UNAVAILABLE failures
// of the transport are retried: q must be idempotent.
func (c *Client) Ask(ctx context.Context, kind, identity string, q proto.Message) (proto.Message, error) {
	var out proto.Message
	err := c.do(ctx, kind, identity, q, func(reply any) error {
		switch r := reply.(type) {
		case *personv1.Error:
			return r
		case proto.Message:
			out = r
			return nil
		default:
			return unexpected(reply, identity)
		}
	})
	return out, err
}

// do sends msg until parse accepts the reply or fails with anything but
// UNAVAILABLE, MaxAttempts are used, or ctx ends.
func (c *Client) do(ctx context.Context, kind, id string, msg proto.Message, parse func(any) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		reply, err := c.once(ctx, kind, id, msg)
		if err == nil {
			err = parse(reply)
		}
		if err == nil || !errors.Is(err, personv1.ErrUnavailable) || attempt >= c.cfg.MaxAttempts {
			return err
		}
		if !c.pause(ctx, attempt) {
			return deadline(ctx, id, err)
		}
	}
}

// once sends msg once, bounded by ctx's deadline, and waits for the reply or
// for ctx to end.
func (c *Client) once(ctx context.Context, kind, id string, msg proto.Message) (any, error) {
	dl, _ := ctx.Deadline()
	timeout := time.Until(dl)
	if ctx.Err() != nil || timeout <= 0 {
		return nil, deadline(ctx, id, nil)
	}
	// One attempt: a failure here means no member hosts kind or the
	// activation failed; do backs off and retries.
	f, err := c.cl.RequestFuture(id, kind, msg, cluster.WithTimeout(timeout), cluster.WithRetryCount(1))
	if err != nil {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.activation", "no activation of %s %q: %v", kind, id, err)
	}
	// Cancelling ctx completes the future (with no result) so that Result
	// returns at once.
	stop := context.AfterFunc(ctx, func() { c.cl.ActorSystem.Root.Stop(f.PID()) })
	reply, err := f.Result()
	stop()
	if ctx.Err() != nil {
		return nil, deadline(ctx, id, nil)
	}
	switch {
	case err == nil:
		return reply, nil
	case errors.Is(err, actor.ErrDeadLetter):
		// The grain stopped (passivated, moved) before it got msg, so msg
		// was not handled: forget the stale activation and try again.
		c.cl.PidCache.Remove(id, kind)
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.activation", "%s %q stopped before it got the message", kind, id)
	case errors.Is(err, actor.ErrTimeout):
		return nil, deadline(ctx, id, nil)
	default:
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.request", "%s %q: %v", kind, id, err)
	}
}

// pause waits before attempt+1 and reports false when ctx ended first.
func (c *Client) pause(ctx context.Context, attempt int) bool {
	d := c.cfg.BaseBackoff << min(attempt-1, 20)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	if d > 1 {
		d = d/2 + rand.N(d/2) // jitter: spread retries of many callers
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// deadline is the DEADLINE_EXCEEDED error of a call that ran out of time; it
// also matches ctx's error and, if set, the last failure.
func deadline(ctx context.Context, id string, last error) error {
	e := &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, Rule: "call.deadline", Message: "no reply before the deadline; the outcome is unknown", PersonId: id}
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	if last != nil {
		return fmt.Errorf("%w: %w (last failure: %v)", e, cause, last)
	}
	return fmt.Errorf("%w: %w", e, cause)
}

func unexpected(reply any, id string) *personv1.Error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.type", "unexpected reply %T from %q", reply, id)
}
