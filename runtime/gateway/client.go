package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
)

// ClientConfig configures a Client; the zero value means the defaults.
type ClientConfig struct {
	// Prefix is the gateway's subject prefix. Default DefaultPrefix.
	Prefix string
	// JSON sends and receives protojson instead of protobuf.
	JSON bool
	// Timeout bounds a call whose ctx has no deadline. Default
	// DefaultTimeout.
	Timeout time.Duration
}

// Client calls the gateway of any node over NATS. Safe for concurrent use.
// Its errors are *personv1.Error values that match the personv1.Err*
// sentinels with errors.Is: the node's replies keep their codes and rules;
// no node listening is UNAVAILABLE (rule gateway.no_responders); no reply
// in time is DEADLINE_EXCEEDED (rule call.deadline; the outcome of a
// command is then unknown: retry with the same command id).
type Client struct {
	nc  *nats.Conn
	cfg ClientConfig
	enc encoding
}

// NewClient returns a client over nc, which the caller owns.
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: rule client.conn: a NATS connection is required", ErrInvalidConfig)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case !validPrefix(cfg.Prefix):
		return nil, fmt.Errorf("%w: rule client.prefix: %q must be literal subject tokens", ErrInvalidConfig, cfg.Prefix)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: rule client.timeout: %v is negative", ErrInvalidConfig, cfg.Timeout)
	}
	enc := encProtobuf
	if cfg.JSON {
		enc = encJSON
	}
	return &Client{nc: nc, cfg: cfg, enc: enc}, nil
}

// Execute sends cmd to the gateway of cmd.PersonId and returns its result.
// An empty cmd.CommandId is set to a new UUIDv7 first (Execute modifies
// cmd).
func (c *Client) Execute(ctx context.Context, cmd *personv1.Command) (*personv1.CommandResult, error) {
	id := cmd.GetPersonId()
	if id == "" {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.person_id", "a command needs a person id")
	}
	if cmd.GetCommandId() == "" {
		cid, err := uuid.NewV7()
		if err != nil {
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "command.command_id", "new command id: %v", err)
		}
		cmd.CommandId = cid.String()
	}
	var reply personv1.CommandReply
	if err := c.request(ctx, Subject(c.cfg.Prefix, commands.token, id), cmd, &reply); err != nil {
		return nil, err
	}
	if e := reply.GetError(); e != nil {
		return nil, e
	}
	if reply.GetResult() == nil {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.type", "empty command reply for %q", id)
	}
	return reply.GetResult(), nil
}

// Get returns the current state of a person; NOT_FOUND for a person that
// was never created.
func (c *Client) Get(ctx context.Context, personID string) (*personv1.PersonSnapshot, error) {
	if personID == "" {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "query.person_id", "a query needs a person id")
	}
	var reply personv1.PersonReply
	if err := c.request(ctx, Subject(c.cfg.Prefix, queries.token, personID), &personv1.GetPerson{PersonId: personID}, &reply); err != nil {
		return nil, err
	}
	if e := reply.GetError(); e != nil {
		return nil, e
	}
	if reply.GetPerson() == nil {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.type", "empty person reply for %q", personID)
	}
	return reply.GetPerson(), nil
}

// Load calls fn for each stored event of personID with version >=
// fromVersion, in order, reading the gateway's history in pages of up to
// limit events (0: the node's default), and returns fn's first error.
// Each page has its own deadline (ctx's, or Timeout).
func (c *Client) Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	return c.LoadPages(ctx, personID, fromVersion, 0, fn)
}

// LoadPages is Load with an explicit page size.
func (c *Client) LoadPages(ctx context.Context, personID string, fromVersion uint64, limit int, fn func(*personv1.EventEnvelope) error) error {
	if personID == "" {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "query.person_id", "a history needs a person id")
	}
	next := max(fromVersion, 1)
	for next > 0 {
		var err error
		if next, err = c.page(ctx, personID, next, limit, fn); err != nil {
			return err
		}
	}
	return nil
}

// page reads one history reply and returns the version to continue from,
// 0 at the end.
func (c *Client) page(ctx context.Context, personID string, from uint64, limit int, fn func(*personv1.EventEnvelope) error) (uint64, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, c.transport(ctx, personID, err)
	}
	defer func() { _ = sub.Unsubscribe() }() // fails only on a closed connection
	req := c.newMsg(Subject(c.cfg.Prefix, history.token, personID), nil)
	req.Reply = inbox
	req.Header.Set(HeaderFromVersion, strconv.FormatUint(from, 10))
	if limit > 0 {
		req.Header.Set(HeaderLimit, strconv.Itoa(limit))
	}
	if err := c.nc.PublishMsg(req); err != nil {
		return 0, c.transport(ctx, personID, err)
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, c.transport(ctx, personID, err)
		}
		if m.Header.Get("Status") == "503" {
			return 0, c.transport(ctx, personID, nats.ErrNoResponders)
		}
		switch t := m.Header.Get(HeaderType); t {
		case TypeEnd:
			n := m.Header.Get(HeaderNextVersion)
			if n == "" {
				return 0, nil
			}
			v, err := strconv.ParseUint(n, 10, 64)
			if err != nil || v <= from {
				return 0, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.next_version", "bad %s %q", HeaderNextVersion, n)
			}
			return v, nil
		case typeName(&personv1.EventEnvelope{}):
			var e personv1.EventEnvelope
			if err := c.decodeReply(m, &e); err != nil {
				return 0, err
			}
			if err := fn(&e); err != nil {
				return 0, err
			}
		case typeName(&personv1.Error{}):
			var e personv1.Error
			if err := c.decodeReply(m, &e); err != nil {
				return 0, err
			}
			return 0, &e
		default:
			return 0, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.type", "unexpected history message %q", t)
		}
	}
}

func typeName(m proto.Message) string { return string(m.ProtoReflect().Descriptor().FullName()) }

// request sends req to subject and decodes the reply into reply.
func (c *Client) request(ctx context.Context, subject string, req, reply proto.Message) error {
	body, err := c.enc.marshal(req)
	if err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "client.encode", "encode request: %v", err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	m, err := c.nc.RequestMsgWithContext(ctx, c.newMsg(subject, body))
	if err != nil {
		return c.transport(ctx, "", err)
	}
	return c.decodeReply(m, reply)
}

func (c *Client) newMsg(subject string, body []byte) *nats.Msg {
	return &nats.Msg{Subject: subject, Data: body, Header: nats.Header{HeaderContentType: {c.enc.contentType()}}}
}

// decodeReply decodes a reply in the encoding its Content-Type names.
func (c *Client) decodeReply(m *nats.Msg, into proto.Message) error {
	enc, _ := encodingOf(m.Header)
	var err error
	if enc == encProtobuf {
		err = proto.Unmarshal(m.Data, into)
	} else {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(m.Data, into)
	}
	if err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.decode", "decode %s: %v", typeName(into), err)
	}
	return nil
}

// bound applies Timeout to a ctx without a deadline.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// transport converts a NATS failure into a coded error.
func (c *Client) transport(ctx context.Context, personID string, err error) error {
	var e *personv1.Error
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "gateway.no_responders", "no node serves %s.*: is persond running?", c.cfg.Prefix)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), ctx.Err() != nil:
		e = &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, Rule: "call.deadline", Message: "no reply before the deadline; the outcome is unknown"}
	default:
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "gateway.transport", "%v", err)
	}
	e.PersonId = personID
	return fmt.Errorf("%w: %w", e, err)
}
