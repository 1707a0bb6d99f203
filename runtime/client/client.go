package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
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
	DefaultTimeout = 5 * time.Second
	// DefaultMaxAttempts with the default back-off keeps retrying for
	// about 4-6 s: longer than the NATS membership takes to drop a
	// crashed member (runtime/membership DefaultTTL), so that a call to a
	// grain of a crashed node succeeds on its new owner within the default
	// Timeout.
	DefaultMaxAttempts = 20
	DefaultBaseBackoff = 5 * time.Millisecond
	DefaultMaxBackoff  = 500 * time.Millisecond
	// DefaultAttemptTimeout is far above a command's latency (milliseconds)
	// and below DefaultTimeout, so that a dropped message costs one retry.
	DefaultAttemptTimeout = 2 * time.Second
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
	// AttemptTimeout bounds one attempt of a call: without an answer by
	// then it is retried (commands with the same id) while the deadline
	// allows. protoactor-go drops, without an answer, a message that
	// reaches a grain after the grain was told to stop (moved to another
	// member, or passivated) but before it stopped; the client cuts such
	// a call at once when the member's placement announces the stop
	// (cluster.ActivationTerminated, broadcast to members only) and
	// otherwise after this timeout. Default DefaultAttemptTimeout;
	// negative disables it (an attempt then lasts until the deadline).
	AttemptTimeout time.Duration
	// Owner, when set, names the address ("host:port") of the member that
	// hosts a grain in this process's view of the cluster, or "" when it
	// cannot tell; node.Node.Owner provides it for the runtime/placement
	// lookup. With it, a call to a grain whose owner's connection was lost
	// fails over at once instead of waiting for the lookup's activation
	// timeout (see the package doc, Failover).
	Owner func(kind, identity string) string
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
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
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
	cl   *cluster.Cluster
	cfg  Config
	self string // this actor system's address: local PIDs have it
	sub  *eventstream.Subscription

	// lookups counts the lookup goroutines; Shutdown waits for them.
	lookups sync.WaitGroup

	mu     sync.Mutex // guards the fields below; never held while calling protoactor
	closed bool
	// down holds the members whose connection was lost and that the
	// membership still lists (see reachability.go).
	down map[string]*downMark
	// calls are the attempts in flight per member address, cut when that
	// member is lost or their grain stops.
	calls map[string]map[*attempt]struct{}
	// inflight are the identity lookups running, by kind and identity.
	inflight map[lookupKey]*lookupCall
}

// New returns a client of c, which must be started (its actor system must
// have its address). It starts no goroutine; it subscribes to c's event
// stream to learn of lost members until Shutdown.
func New(c *cluster.Cluster, cfg Config) (*Client, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: rule client.cluster: cluster is nil", ErrInvalidConfig)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cl := &Client{
		cl: c, cfg: cfg, self: c.ActorSystem.Address(),
		down:     make(map[string]*downMark),
		calls:    make(map[string]map[*attempt]struct{}),
		inflight: make(map[lookupKey]*lookupCall),
	}
	cl.sub = c.ActorSystem.EventStream.SubscribeWithPredicate(cl.onEvent, func(ev any) bool {
		switch ev.(type) {
		case *remote.EndpointTerminatedEvent, *remote.EndpointConnectedEvent, *cluster.ClusterTopology, *cluster.ActivationTerminated:
			return true
		}
		return false
	})
	return cl, nil
}

// Shutdown stops watching the cluster and waits, within ctx, for the
// identity lookups in flight (each ends within the lookup's own activation
// timeout). Calls after Shutdown fail UNAVAILABLE. Later calls return nil.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cl.ActorSystem.EventStream.Unsubscribe(c.sub)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.lookups.Wait()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("client: shutdown: lookups still running: %w", ctx.Err())
	}
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
			return deadline(ctx, id, "", err)
		}
	}
}

// once sends msg once: it resolves the grain's activation, sends, and
// waits for the reply until the attempt's limit (ctx's deadline, or
// Config.AttemptTimeout), for ctx to end, for the grain to stop, or for its
// member to be lost.
func (c *Client) once(ctx context.Context, kind, id string, msg proto.Message) (any, error) {
	dl, _ := ctx.Deadline()
	if ctx.Err() != nil || time.Until(dl) <= 0 {
		return nil, deadline(ctx, id, "", nil)
	}
	limit := dl
	if t := c.cfg.AttemptTimeout; t > 0 {
		limit = earlier(limit, time.Now().Add(t))
	}
	pid, err := c.resolve(ctx, limit, kind, id)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, limit, kind, id, pid, msg)
}

// earlier returns the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// expired is the error of an attempt that reached its limit while it was
// doing what: DEADLINE_EXCEEDED when that is ctx's deadline, else
// UNAVAILABLE (the attempt timeout; retried).
func (c *Client) expired(ctx context.Context, limit time.Time, kind, id, what string) error {
	if dl, _ := ctx.Deadline(); ctx.Err() != nil || !limit.Before(dl) {
		return deadline(ctx, id, what, nil)
	}
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.attempt_timeout",
		"%s %q: no answer within the attempt timeout (%s); the outcome is unknown", kind, id, what)
}

// resolve returns the PID of the activation of (kind, id): from the PID
// cache, or from the identity lookup, which runs on its own goroutine (one
// per grain and owner, shared by concurrent callers) because protoactor-go's
// lookup takes no ctx and waits up to its activation timeout for an owner
// that does not answer.
func (c *Client) resolve(ctx context.Context, limit time.Time, kind, id string) (*actor.PID, error) {
	if pid, ok := c.cl.PidCache.Get(id, kind); ok {
		return pid, nil
	}
	owner, what := "", "waiting for the identity lookup"
	if c.cfg.Owner != nil {
		owner = c.cfg.Owner(kind, id)
	}
	if owner != "" {
		what += " at " + owner
	}
	if owner == "" || owner == c.self {
		return c.lookup(ctx, limit, kind, id, owner, what, nil)
	}
	// The lookup asks the owner: it fails at once when the owner is known
	// to be unreachable, and is cut when its connection is lost.
	a, err := c.begin(owner, "", kind, id)
	if err != nil {
		return nil, err
	}
	if a.probe {
		limit = earlier(limit, time.Now().Add(probeTimeout))
	}
	pid, err := c.lookup(ctx, limit, kind, id, owner, what, a)
	c.end(a, pid != nil)
	return pid, err
}

// send sends msg to pid and waits for the reply until limit, for ctx to
// end, for pid to stop, or for pid's member to be lost.
func (c *Client) send(ctx context.Context, limit time.Time, kind, id string, pid *actor.PID, msg proto.Message) (any, error) {
	a, err := c.begin(pid.GetAddress(), pid.GetId(), kind, id)
	if err != nil {
		// The activation lives on a member known to be unreachable: look
		// it up again after the back-off (it moves once the membership
		// drops the member).
		c.cl.PidCache.RemoveByValue(id, kind, pid)
		return nil, err
	}
	if a.probe {
		limit = earlier(limit, time.Now().Add(probeTimeout))
	}
	root := c.cl.ActorSystem.Root
	f := root.RequestFuture(pid, msg, time.Until(limit))
	c.attach(a, f)
	// Cancelling ctx completes the future (with no result) so that Result
	// returns at once.
	stop := context.AfterFunc(ctx, func() { root.Stop(f.PID()) })
	reply, err := f.Result()
	stop()
	answered := err == nil && reply != nil
	cut := c.end(a, answered || errors.Is(err, actor.ErrDeadLetter))
	switch {
	case answered:
		return reply, nil
	case errors.Is(err, actor.ErrDeadLetter):
		// The grain stopped (passivated, moved) before it got msg, so msg
		// was not handled: forget the stale activation and try again.
		c.cl.PidCache.RemoveByValue(id, kind, pid)
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.activation", "%s %q stopped before it got the message", kind, id)
	case cut != nil:
		c.cl.PidCache.RemoveByValue(id, kind, pid)
		return nil, lost(cut, kind, id, pid.GetAddress())
	case ctx.Err() != nil:
		return nil, deadline(ctx, id, "waiting for the reply of "+pid.String(), nil)
	case errors.Is(err, actor.ErrTimeout):
		// Maybe dropped by a stopping grain: look it up again.
		c.cl.PidCache.RemoveByValue(id, kind, pid)
		return nil, c.expired(ctx, limit, kind, id, "waiting for the reply of "+pid.String())
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

// deadline is the DEADLINE_EXCEEDED error of a call that ran out of time
// while it was doing what (empty: between attempts); it also matches ctx's
// error and, if set, the last failure.
func deadline(ctx context.Context, id, what string, last error) error {
	msg := "no reply before the deadline; the outcome is unknown"
	if what != "" {
		msg = "no reply before the deadline (" + what + "); the outcome is unknown"
	}
	e := &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, Rule: "call.deadline", Message: msg, PersonId: id}
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
