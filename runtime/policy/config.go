package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/nats-io/nats.go"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/runtime/dlq"
	"github.com/cim/personrt/runtime/timer"
)

// ErrInvalidConfig is returned by New for a Config that breaks a rule.
var ErrInvalidConfig = errors.New("policy runner: invalid config")

// TimerWorker is the name of the worker that carries out fired timers (its
// consumer and DLQ entries use it like a policy name).
const TimerWorker = "timers"

// Defaults applied by New to zero Config fields.
const (
	DefaultAckWait        = 30 * time.Second
	DefaultMaxDeliver     = 5
	DefaultBaseBackoff    = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultFetchBatch     = 64
	DefaultLanes          = 4
	DefaultCommandTimeout = 10 * time.Second
	DefaultRestartBackoff = 100 * time.Millisecond
	DefaultMaxRestart     = 30 * time.Second
	DefaultMaxRestarts    = 5
	DefaultRestartWindow  = time.Minute
)

// Source is an event stream the policies read.
type Source struct {
	// Stream and SubjectPrefix locate the events: "<SubjectPrefix>.<id>".
	Stream        string
	SubjectPrefix string
	// Events reads them (Load) and tells aggregate versions (LastVersion,
	// for timers armed with IfVersion). Required.
	Events persistence.EventStore
}

// Config configures a Runner. Zero fields mean their defaults.
type Config struct {
	// Policies are the rules to run, usually actors/policy Set.Policies().
	// Names must be unique subject tokens. Required.
	Policies []apolicy.Policy
	// Only names the policies to run (and TimerWorker); nil runs all of
	// them and the timer worker.
	Only []string
	// Cluster is the cluster the commands go through (runtime/client).
	// Required.
	Cluster *cluster.Cluster
	// Conn is the NATS connection of the consumers and publishers. Required.
	Conn *nats.Conn
	// Sources are the event streams by kind (actors/policy KindPerson,
	// KindOnboarding). The stream and prefix default to PERSON_EVENTS /
	// person.events and ONBOARDING_EVENTS / onboarding.events; Events is
	// required for every kind a policy reads or a timer targets.
	Sources map[string]Source
	// DLQ parks what cannot be handled. Required.
	DLQ *dlq.DLQ
	// Timers arms timers and is the source of the timer worker. Required.
	Timers *timer.Timers
	// NotificationStream holds the notifications, with subjects
	// NotificationSubjects. Defaults "NOTIFICATIONS" and
	// ["person.notifications.>"].
	NotificationStream   string
	NotificationSubjects []string
	// Name is the supervisor's actor name. Default "policies".
	Name string
	// ConsumerPrefix prefixes the durable consumer names. Default "policy-".
	ConsumerPrefix string

	// AckWait is how long a delivery may stay unacked before the server
	// delivers it again. Default DefaultAckWait.
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of one message; then it is parked.
	// Default DefaultMaxDeliver.
	MaxDeliver int
	// BaseBackoff and MaxBackoff bound the retry delays: BaseBackoff
	// doubled per delivery, at most MaxBackoff, with jitter. Defaults
	// DefaultBaseBackoff and DefaultMaxBackoff.
	BaseBackoff, MaxBackoff time.Duration
	// FetchBatch is how many messages a consumer buffers, and how many a
	// worker's lanes hold at once. Default DefaultFetchBatch.
	FetchBatch int
	// Lanes is how many child actors of each worker handle its messages in
	// parallel; a key (person) always goes to the same lane, so its
	// messages are handled in order. Default DefaultLanes.
	Lanes int
	// CommandTimeout bounds handling one message. Default
	// DefaultCommandTimeout.
	CommandTimeout time.Duration

	// RestartBackoff and MaxRestartBackoff bound the supervisor's delay
	// before restarting a failed worker (doubling per failure, jitter).
	// Defaults DefaultRestartBackoff and DefaultMaxRestart.
	RestartBackoff, MaxRestartBackoff time.Duration
	// MaxRestarts failures within RestartWindow are restarted; one more
	// escalates. Defaults DefaultMaxRestarts and DefaultRestartWindow.
	MaxRestarts   int
	RestartWindow time.Duration

	// Now is the clock passed to the policies. Default time.Now.
	Now func() time.Time
	// Logger receives warnings and errors; nil discards.
	Logger *slog.Logger
	// Observer receives every lifecycle event, synchronously on the
	// worker's goroutine. It must not block and must be safe for concurrent
	// use.
	Observer func(Event)
}

func (c *Config) validate() error {
	switch {
	case len(c.Policies) == 0:
		return fmt.Errorf("%w: rule config.policies: required", ErrInvalidConfig)
	case c.Cluster == nil:
		return fmt.Errorf("%w: rule config.cluster: required", ErrInvalidConfig)
	case c.Conn == nil:
		return fmt.Errorf("%w: rule config.conn: required", ErrInvalidConfig)
	case c.DLQ == nil:
		return fmt.Errorf("%w: rule config.dlq: required", ErrInvalidConfig)
	case c.Timers == nil:
		return fmt.Errorf("%w: rule config.timers: required", ErrInvalidConfig)
	}
	sources := map[string]Source{
		apolicy.KindPerson:     {Stream: "PERSON_EVENTS", SubjectPrefix: "person.events"},
		apolicy.KindOnboarding: {Stream: "ONBOARDING_EVENTS", SubjectPrefix: "onboarding.events"},
	}
	for k, s := range c.Sources {
		d := sources[k]
		if s.Stream == "" {
			s.Stream = d.Stream
		}
		if s.SubjectPrefix == "" {
			s.SubjectPrefix = d.SubjectPrefix
		}
		sources[k] = s
	}
	c.Sources = sources
	seen := make(map[string]bool, len(c.Policies))
	for _, p := range c.Policies {
		if p.Name == "" || p.Name == TimerWorker || seen[p.Name] || strings.ContainsAny(p.Name, " .*>\t") || p.Evaluate == nil {
			return fmt.Errorf("%w: rule config.policies: policy %q: names must be unique tokens other than %q, with Evaluate", ErrInvalidConfig, p.Name, TimerWorker)
		}
		seen[p.Name] = true
		if !c.runs(p.Name) {
			continue
		}
		if s := c.Sources[p.Source]; s.Events == nil || s.Stream == "" || s.SubjectPrefix == "" {
			return fmt.Errorf("%w: rule config.sources: policy %s reads %s events: no event store", ErrInvalidConfig, p.Name, p.Source)
		}
	}
	for _, name := range c.Only {
		if !seen[name] && name != TimerWorker {
			return fmt.Errorf("%w: rule config.only: no policy %q", ErrInvalidConfig, name)
		}
	}
	if c.NotificationStream == "" {
		c.NotificationStream = "NOTIFICATIONS"
	}
	if len(c.NotificationSubjects) == 0 {
		c.NotificationSubjects = []string{"person.notifications.>"}
	}
	if c.Name == "" {
		c.Name = "policies"
	}
	if c.ConsumerPrefix == "" {
		c.ConsumerPrefix = "policy-"
	}
	setDefault(&c.AckWait, DefaultAckWait)
	setDefault(&c.BaseBackoff, DefaultBaseBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.CommandTimeout, DefaultCommandTimeout)
	setDefault(&c.RestartBackoff, DefaultRestartBackoff)
	setDefault(&c.MaxRestartBackoff, DefaultMaxRestart)
	setDefault(&c.RestartWindow, DefaultRestartWindow)
	setDefault(&c.MaxDeliver, DefaultMaxDeliver)
	setDefault(&c.FetchBatch, DefaultFetchBatch)
	setDefault(&c.Lanes, DefaultLanes)
	setDefault(&c.MaxRestarts, DefaultMaxRestarts)
	switch {
	case c.AckWait < time.Millisecond || c.BaseBackoff <= 0 || c.MaxBackoff < c.BaseBackoff:
		return fmt.Errorf("%w: rule config.backoff: ack wait %v, base %v, max %v", ErrInvalidConfig, c.AckWait, c.BaseBackoff, c.MaxBackoff)
	case c.MaxDeliver < 1:
		return fmt.Errorf("%w: rule config.max_deliver: %d", ErrInvalidConfig, c.MaxDeliver)
	case c.FetchBatch < 1 || c.Lanes < 1 || c.Lanes > 1024:
		return fmt.Errorf("%w: rule config.fetch_batch: batch %d, lanes %d", ErrInvalidConfig, c.FetchBatch, c.Lanes)
	case c.CommandTimeout <= 0 || c.RestartBackoff <= 0 || c.MaxRestartBackoff < c.RestartBackoff || c.RestartWindow <= 0 || c.MaxRestarts < 0:
		return fmt.Errorf("%w: rule config.supervision: negative durations or counts", ErrInvalidConfig)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// runs reports whether the worker called name runs.
func (c *Config) runs(name string) bool { return c.Only == nil || slices.Contains(c.Only, name) }

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
