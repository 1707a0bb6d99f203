package timer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

// Errors returned by this package.
var (
	// ErrInvalidConfig is returned by Open for a Config that breaks a rule.
	ErrInvalidConfig = errors.New("timer: invalid config")
	// ErrInvalidTimer is returned by Arm for a timer without key, command or
	// target, or with a key that is not a subject token sequence; and by
	// Decode for a fired message it cannot read.
	ErrInvalidTimer = errors.New("timer: invalid timer")
)

// Headers of a schedule and of the fired message.
const (
	hdrSchedule       = "Nats-Schedule"
	hdrScheduleTarget = "Nats-Schedule-Target"
	hdrTarget         = "Cim-Timer-Target"
	hdrIfVersion      = "Cim-Timer-If-Version"
	hdrAccept         = "Cim-Timer-Accept"
	hdrAt             = "Cim-Timer-At"
)

// Config configures the timer stream. The zero value means the defaults.
type Config struct {
	// Stream is the stream name. Default "PERSON_TIMERS".
	Stream string
	// SubjectPrefix: schedules are "<prefix>.schedule.<key>", fired timers
	// "<prefix>.fired.<key>". Default "timers".
	SubjectPrefix string
	// Replicas of the stream: 1 (default) or 3 in a cluster.
	Replicas int
	// MemoryStorage keeps the stream in memory (tests only: timers are then
	// lost with the server).
	MemoryStorage bool
}

func (c *Config) validate() error {
	if c.Stream == "" {
		c.Stream = "PERSON_TIMERS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "timers"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	switch {
	case strings.ContainsAny(c.Stream, " .*>/\\\t"):
		return fmt.Errorf("%w: rule config.stream: %q", ErrInvalidConfig, c.Stream)
	case !literalSubject(c.SubjectPrefix):
		return fmt.Errorf("%w: rule config.subject_prefix: %q is not a literal subject", ErrInvalidConfig, c.SubjectPrefix)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("%w: rule config.replicas: %d", ErrInvalidConfig, c.Replicas)
	}
	return nil
}

// literalSubject reports whether s is dot-separated non-empty tokens without
// wildcards or white space.
func literalSubject(s string) bool {
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

// Timers arms, cancels and delivers durable timers. Safe for concurrent
// use.
type Timers struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Open creates or updates the timer stream and returns the timers on it.
// The caller owns nc. Open starts nothing.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Timers, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	storage := jetstream.FileStorage
	if cfg.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              cfg.Stream,
		Description:       "durable timers: schedules on " + cfg.SubjectPrefix + ".schedule.<key>, fired on " + cfg.SubjectPrefix + ".fired.<key>",
		Subjects:          []string{cfg.SubjectPrefix + ".>"},
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           storage,
		Replicas:          cfg.Replicas,
		Discard:           jetstream.DiscardOld,
		AllowMsgSchedules: true,
		AllowRollup:       true,
		AllowDirect:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("timer: create stream %s: %w", cfg.Stream, err)
	}
	return &Timers{cfg: cfg, nc: nc, js: js, stream: st}, nil
}

// Stream returns the stream name.
func (t *Timers) Stream() string { return t.cfg.Stream }

// FiredSubjects is the filter of the fired timers ("<prefix>.fired.>").
func (t *Timers) FiredSubjects() string { return t.cfg.SubjectPrefix + ".fired.>" }

func (t *Timers) scheduleSubject(key string) string { return t.cfg.SubjectPrefix + ".schedule." + key }
func (t *Timers) firedSubject(key string) string    { return t.cfg.SubjectPrefix + ".fired." + key }

// Arm stores timer tm (tm.Cancel must be false), replacing an armed timer
// of the same key. The server fires it at tm.At (at once when that is past).
func (t *Timers) Arm(ctx context.Context, tm *policy.Timer) error {
	switch {
	case tm == nil || tm.Cancel || tm.Command == nil || tm.Target == "":
		return fmt.Errorf("%w: rule timer.command: arming needs a command and its target", ErrInvalidTimer)
	case !literalSubject(tm.Key):
		return fmt.Errorf("%w: rule timer.key: %q is not a literal subject", ErrInvalidTimer, tm.Key)
	}
	data, err := proto.Marshal(tm.Command)
	if err != nil {
		return fmt.Errorf("timer %s: marshal command: %w", tm.Key, err)
	}
	at := tm.At.UTC().Format(time.RFC3339Nano)
	m := &nats.Msg{Subject: t.scheduleSubject(tm.Key), Data: data, Header: nats.Header{}}
	m.Header.Set(hdrSchedule, "@at "+at)
	m.Header.Set(hdrScheduleTarget, t.firedSubject(tm.Key))
	m.Header.Set(hdrTarget, tm.Target)
	m.Header.Set(hdrAt, at)
	if tm.IfVersion > 0 {
		m.Header.Set(hdrIfVersion, strconv.FormatUint(tm.IfVersion, 10))
	}
	if len(tm.Accept) > 0 {
		m.Header.Set(hdrAccept, formatAccept(tm.Accept))
	}
	if _, err := t.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("timer %s: arm: %w", tm.Key, err)
	}
	return nil
}

// Cancel removes the armed timer of key, if any.
func (t *Timers) Cancel(ctx context.Context, key string) error {
	if !literalSubject(key) {
		return fmt.Errorf("%w: rule timer.key: %q is not a literal subject", ErrInvalidTimer, key)
	}
	if err := t.stream.Purge(ctx, jetstream.WithPurgeSubject(t.scheduleSubject(key))); err != nil {
		return fmt.Errorf("timer %s: cancel: %w", key, err)
	}
	return nil
}

// Pending reports whether a timer of key is armed and not yet fired.
func (t *Timers) Pending(ctx context.Context, key string) (bool, error) {
	_, err := t.stream.GetLastMsgForSubject(ctx, t.scheduleSubject(key))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("timer %s: %w", key, err)
	}
	return true, nil
}

// Decode reads a fired timer message (subject, headers, payload) back into
// the timer as armed (Key, At, Target, Command, IfVersion, Accept). The
// error wraps ErrInvalidTimer.
func (t *Timers) Decode(subject string, h nats.Header, data []byte) (*policy.Timer, error) {
	prefix := t.cfg.SubjectPrefix + ".fired."
	key, ok := strings.CutPrefix(subject, prefix)
	if !ok || key == "" {
		return nil, fmt.Errorf("%w: rule timer.subject: %q is not under %s", ErrInvalidTimer, subject, prefix)
	}
	f := &policy.Timer{Key: key, Target: h.Get(hdrTarget), Accept: parseAccept(h.Get(hdrAccept))}
	if at, err := time.Parse(time.RFC3339Nano, h.Get(hdrAt)); err == nil {
		f.At = at
	}
	if v := h.Get(hdrIfVersion); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: rule timer.if_version: %q: %v", ErrInvalidTimer, v, err)
		}
		f.IfVersion = n
	}
	var c personv1.Command
	if err := proto.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: rule timer.command: %v", ErrInvalidTimer, err)
	}
	if f.Target == "" || c.GetPersonId() == "" || c.GetCommandId() == "" {
		return nil, fmt.Errorf("%w: rule timer.command: fired timer %s without target or command", ErrInvalidTimer, key)
	}
	f.Command = &c
	return f, nil
}

// formatAccept writes "CODE/rule,CODE,…" (codes without ERROR_CODE_).
func formatAccept(as []policy.Accepted) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.TrimPrefix(a.Code.String(), "ERROR_CODE_"))
		if a.Rule != "" {
			b.WriteByte('/')
			b.WriteString(a.Rule)
		}
	}
	return b.String()
}

// parseAccept reads "CODE/rule,CODE,…".
func parseAccept(s string) []policy.Accepted {
	var out []policy.Accepted
	for item := range strings.SplitSeq(s, ",") {
		code, rule, _ := strings.Cut(strings.TrimSpace(item), "/")
		if v, ok := personv1.ErrorCode_value["ERROR_CODE_"+code]; ok {
			out = append(out, policy.Accepted{Code: personv1.ErrorCode(v), Rule: rule})
		}
	}
	return out
}
