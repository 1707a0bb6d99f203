package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
)

// Errors returned by this package.
var (
	// ErrInvalidConfig is returned by Open for a Config that breaks a rule.
	ErrInvalidConfig = errors.New("dlq: invalid config")
	// ErrNotFound is returned by Get, Remove and Replay for a sequence
	// without an entry.
	ErrNotFound = errors.New("dlq: no such entry")
	// ErrInvalidEntry is returned by Park for a letter without policy or
	// person, or with ids that are not subject tokens, and by reads of an
	// entry that does not decode.
	ErrInvalidEntry = errors.New("dlq: invalid entry")
)

// Rules of the errors replay answers with.
const (
	RuleNotHead  = "dlq.not_head"  // FAILED_PRECONDITION: an older entry of the same policy and person is parked
	RuleNoRunner = "dlq.no_runner" // UNAVAILABLE: no node runs the policy
	RuleNotEntry = "dlq.not_found" // NOT_FOUND: no entry with that sequence
)

// Config configures the dead-letter stream. The zero value means the
// defaults.
type Config struct {
	// Stream is the stream name. Default "PERSON_DLQ".
	Stream string
	// SubjectPrefix: entries are "<prefix>.<policy>.<personID>". Default
	// "person.dlq".
	SubjectPrefix string
	// ReplaySubject is the prefix of the replay requests the policy runners
	// serve: "<ReplaySubject>.<policy>". Default "personrt.dlq.replay".
	ReplaySubject string
	// Replicas of the stream: 1 (default) or 3 in a cluster.
	Replicas int
	// MemoryStorage keeps the stream in memory (tests only).
	MemoryStorage bool
	// ReplayTimeout bounds a replay request when ctx has no deadline.
	// Default 30s.
	ReplayTimeout time.Duration
}

func (c *Config) validate() error {
	if c.Stream == "" {
		c.Stream = "PERSON_DLQ"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "person.dlq"
	}
	if c.ReplaySubject == "" {
		c.ReplaySubject = "personrt.dlq.replay"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.ReplayTimeout == 0 {
		c.ReplayTimeout = 30 * time.Second
	}
	switch {
	case strings.ContainsAny(c.Stream, " .*>/\\\t"):
		return fmt.Errorf("%w: rule config.stream: %q", ErrInvalidConfig, c.Stream)
	case !literal(c.SubjectPrefix):
		return fmt.Errorf("%w: rule config.subject_prefix: %q is not a literal subject", ErrInvalidConfig, c.SubjectPrefix)
	case !literal(c.ReplaySubject) || strings.HasPrefix(c.ReplaySubject+".", c.SubjectPrefix+"."):
		return fmt.Errorf("%w: rule config.replay_subject: %q must be a literal subject outside %s", ErrInvalidConfig, c.ReplaySubject, c.SubjectPrefix)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("%w: rule config.replicas: %d", ErrInvalidConfig, c.Replicas)
	case c.ReplayTimeout < 0:
		return fmt.Errorf("%w: rule config.replay_timeout: %v", ErrInvalidConfig, c.ReplayTimeout)
	}
	return nil
}

// literal reports whether s is dot-separated non-empty tokens without
// wildcards or white space.
func literal(s string) bool {
	if s == "" || strings.ContainsAny(s, " *>\t\r\n") {
		return false
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}

// DLQ is the dead-letter stream. Safe for concurrent use.
type DLQ struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Open creates or updates the dead-letter stream. The caller owns nc. Open
// starts nothing.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*DLQ, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	storage := jetstream.FileStorage
	if cfg.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "events the policies could not handle: " + cfg.SubjectPrefix + ".<policy>.<personID>",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("dlq: create stream %s: %w", cfg.Stream, err)
	}
	return &DLQ{cfg: cfg, nc: nc, js: js, stream: st}, nil
}

// Config returns the configuration after defaults.
func (d *DLQ) Config() Config { return d.cfg }

// Entry is one parked event: its DLQ sequence (its id) and the letter.
type Entry struct {
	Sequence uint64
	Letter   *personv1.DeadLetter
}

func (d *DLQ) subject(policy, personID string) string {
	return d.cfg.SubjectPrefix + "." + policy + "." + personID
}

// Park stores l and returns its sequence.
func (d *DLQ) Park(ctx context.Context, l *personv1.DeadLetter) (uint64, error) {
	if l.GetPolicy() == "" || l.GetPersonId() == "" || !literal(l.GetPolicy()) || strings.Contains(l.GetPolicy(), ".") || !literal(l.GetPersonId()) {
		return 0, fmt.Errorf("%w: rule letter.ids: policy %q and person %q must be subject tokens", ErrInvalidEntry, l.GetPolicy(), l.GetPersonId())
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("dlq: park: %w", err)
	}
	ack, err := d.js.Publish(ctx, d.subject(l.GetPolicy(), l.GetPersonId()), b)
	if err != nil {
		return 0, fmt.Errorf("dlq: park %s of %s: %w", l.GetEventId(), l.GetPolicy(), err)
	}
	return ack.Sequence, nil
}

// decode turns a stored message into an Entry.
func decode(m *jetstream.RawStreamMsg) (Entry, error) {
	var l personv1.DeadLetter
	if err := protojson.Unmarshal(m.Data, &l); err != nil {
		return Entry{}, fmt.Errorf("%w: sequence %d: %v", ErrInvalidEntry, m.Sequence, err)
	}
	return Entry{Sequence: m.Sequence, Letter: &l}, nil
}

// Get returns the entry with sequence seq, or ErrNotFound.
func (d *DLQ) Get(ctx context.Context, seq uint64) (Entry, error) {
	m, err := d.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Entry{}, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("dlq: get %d: %w", seq, err)
	}
	return decode(m)
}

// Head returns the entry of policy and personID whose event came first in
// its stream (the smallest stream sequence): the one to replay first,
// whatever order the entries were parked in. false when there is none.
func (d *DLQ) Head(ctx context.Context, policy, personID string) (Entry, bool, error) {
	entries, err := d.List(ctx, Filter{Policy: policy, PersonID: personID})
	if err != nil || len(entries) == 0 {
		return Entry{}, false, err
	}
	head := entries[0]
	for _, e := range entries[1:] {
		if e.Letter.GetStreamSequence() < head.Letter.GetStreamSequence() {
			head = e
		}
	}
	return head, true, nil
}

// Filter selects entries for List; empty fields match everything.
type Filter struct {
	Policy   string
	PersonID string
	// Limit bounds the entries returned; 0 means 1000.
	Limit int
}

// List returns the entries that match f, oldest first.
func (d *DLQ) List(ctx context.Context, f Filter) ([]Entry, error) {
	subject := d.cfg.SubjectPrefix + ".>"
	switch {
	case f.Policy != "" && f.PersonID != "":
		subject = d.subject(f.Policy, f.PersonID)
	case f.Policy != "":
		subject = d.cfg.SubjectPrefix + "." + f.Policy + ".>"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	var out []Entry
	for seq := uint64(1); len(out) < limit; {
		m, err := d.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("dlq: list from %d: %w", seq, err)
		}
		seq = m.Sequence + 1
		e, err := decode(m)
		if err != nil {
			return out, err
		}
		if f.PersonID == "" || e.Letter.GetPersonId() == f.PersonID {
			out = append(out, e)
		}
	}
	return out, nil
}

// Parked returns, for policy, the persons with entries and how many each.
func (d *DLQ) Parked(ctx context.Context, policy string) (map[string]uint64, error) {
	prefix := d.cfg.SubjectPrefix + "." + policy + "."
	info, err := d.stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("dlq: parked of %s: %w", policy, err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, prefix)] = n
	}
	return out, nil
}

// Remove deletes the entry with sequence seq (discard, or after a
// successful replay).
func (d *DLQ) Remove(ctx context.Context, seq uint64) error {
	err := d.stream.DeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err != nil {
		return fmt.Errorf("dlq: remove %d: %w", seq, err)
	}
	return nil
}

// Replay asks the node running the entry's policy to run the policy again
// on the entry's event; on success that node removes the entry. The error
// is a *personv1.Error: NOT_FOUND [dlq.not_found], FAILED_PRECONDITION
// [dlq.not_head], UNAVAILABLE [dlq.no_runner] when no node runs the policy,
// or the failure of the policy's reaction.
func (d *DLQ) Replay(ctx context.Context, seq uint64) error {
	e, err := d.Get(ctx, seq)
	if errors.Is(err, ErrNotFound) {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, RuleNotEntry, "no dead letter %d", seq)
	}
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.cfg.ReplayTimeout)
		defer cancel()
	}
	req, err := proto.Marshal(&personv1.ReplayDeadLetter{Sequence: seq})
	if err != nil {
		return fmt.Errorf("dlq: replay %d: %w", seq, err)
	}
	msg, err := d.nc.RequestWithContext(ctx, d.replaySubject(e.Letter.GetPolicy()), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, RuleNoRunner, "no node runs policy %s", e.Letter.GetPolicy())
	}
	if err != nil {
		return fmt.Errorf("dlq: replay %d: %w", seq, err)
	}
	var reply personv1.ReplayReply
	if err := proto.Unmarshal(msg.Data, &reply); err != nil {
		return fmt.Errorf("dlq: replay %d: bad reply: %w", seq, err)
	}
	if reply.GetError() != nil {
		return reply.GetError()
	}
	return nil
}

func (d *DLQ) replaySubject(policy string) string { return d.cfg.ReplaySubject + "." + policy }

// ServeReplay answers the replay requests of policy with handle, on a queue
// group so that one node serves each request; handle's error (converted
// with personv1.AsError) is the reply. Each request gets a context derived
// from ctx and bounded by Config.ReplayTimeout. It returns the
// subscription's stop function. handle runs on the connection's callback
// goroutine, one request at a time.
func (d *DLQ) ServeReplay(ctx context.Context, policy string, handle func(ctx context.Context, seq uint64) error) (stop func() error, err error) {
	sub, err := d.nc.QueueSubscribe(d.replaySubject(policy), "dlq-replay-"+policy, func(m *nats.Msg) {
		var req personv1.ReplayDeadLetter
		var reply personv1.ReplayReply
		if err := proto.Unmarshal(m.Data, &req); err != nil {
			reply.Error = personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "dlq.request", "bad replay request: %v", err)
		} else {
			rctx, cancel := context.WithTimeout(ctx, d.cfg.ReplayTimeout)
			if err := handle(rctx, req.GetSequence()); err != nil {
				reply.Error = personv1.AsError(err, "")
			}
			cancel()
		}
		b, err := proto.Marshal(&reply)
		if err == nil {
			// A lost reply times the requester out; nothing else to do.
			_ = m.Respond(b)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dlq: serve replay of %s: %w", policy, err)
	}
	return sub.Unsubscribe, nil
}
