package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/client"
)

// Errors of a Runner.
var (
	// ErrClosed is returned by Start after Shutdown or Close, and by a
	// second Start.
	ErrClosed = errors.New("policy runner: closed or already started")
	// ErrEscalated is wrapped by Err after a worker failed too often.
	ErrEscalated = errors.New("policy runner: worker escalated")
)

// Log attribute keys.
const (
	logPolicy = "policy"
	logKey    = "key"
	logSeq    = "stream_seq"
	logErr    = "err"
	logCode   = "code"
	logRule   = "rule"
	logMuted  = "suppressed"
)

// Runner runs the policies on the actor system of a cluster member. Build it
// with New, then Start it once; Shutdown or Close it. Safe for concurrent
// use.
type Runner struct {
	cfg  Config
	js   jetstream.JetStream
	exec *executor

	// beforeAck, in tests, runs after the reactions and before the ack of a
	// message; false skips the ack (a crash at the worst moment).
	beforeAck func(worker string, seq uint64) bool

	stats struct{ handled, retried, parked, replayed, restarted, escalated atomic.Uint64 }

	mu       sync.Mutex // guards the fields below
	life     context.Context
	cancel   context.CancelFunc
	started  bool
	closed   bool
	sup      *actor.PID
	pids     map[string]*actor.PID   // worker name → pid
	lanes    map[string][]*actor.PID // worker name → its lanes
	names    map[string]string       // pid id → worker name
	stops    []func() error          // replay subscriptions
	err      error                   // first escalation
	lastWarn map[string]time.Time    // worker → last rate-limited warning
	muted    map[string]int          // warnings suppressed since
}

// New validates cfg (filling defaults) and returns a Runner. It starts
// nothing.
func New(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("policy runner: %w", err)
	}
	clients := make(map[string]*client.Client, len(cfg.Sources))
	for kind := range cfg.Sources {
		c, err := client.New(cfg.Cluster, client.Config{Kind: kind, Timeout: cfg.CommandTimeout})
		if err != nil {
			return nil, fmt.Errorf("policy runner: client of %s: %w", kind, err)
		}
		clients[kind] = c
	}
	return &Runner{
		cfg:      cfg,
		js:       js,
		exec:     &executor{clients: clients, js: js, timers: cfg.Timers},
		pids:     make(map[string]*actor.PID),
		lanes:    make(map[string][]*actor.PID),
		names:    make(map[string]string),
		lastWarn: make(map[string]time.Time),
		muted:    make(map[string]int),
	}, nil
}

// Start creates the notification stream, spawns the supervisor and its
// workers on the cluster's actor system and serves the DLQ replay requests
// of the workers. ctx bounds the setup; the workers run until Shutdown or
// Close (ctx's values are kept).
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.started = true
	r.life, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.mu.Unlock()

	if _, err := r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        r.cfg.NotificationStream,
		Description: "notification requests for senders (mail, SMS)",
		Subjects:    r.cfg.NotificationSubjects,
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
	}); err != nil {
		return fmt.Errorf("policy runner: notification stream %s: %w", r.cfg.NotificationStream, err)
	}
	sys := r.cfg.Cluster.ActorSystem
	strategy := &restarter{r: r, base: r.cfg.RestartBackoff, maxDelay: r.cfg.MaxRestartBackoff, max: r.cfg.MaxRestarts, window: r.cfg.RestartWindow}
	props := actor.PropsFromProducer(func() actor.Actor { return &supervisor{r: r} }, actor.WithSupervisor(strategy))
	sup, err := sys.Root.SpawnNamed(props, r.cfg.Name)
	if err != nil {
		return fmt.Errorf("policy runner: spawn %s: %w", r.cfg.Name, err)
	}
	r.mu.Lock()
	r.sup = sup
	r.mu.Unlock()
	for _, name := range r.workers() {
		stop, err := r.cfg.DLQ.ServeReplay(r.life, name, func(ctx context.Context, seq uint64) error { return r.replay(ctx, name, seq) })
		if err != nil {
			return errors.Join(err, r.Close())
		}
		r.mu.Lock()
		r.stops = append(r.stops, stop)
		r.mu.Unlock()
	}
	return nil
}

// workers returns the names of the workers to run, in policy order, the
// timer worker last.
func (r *Runner) workers() []string {
	var out []string
	for _, p := range r.cfg.Policies {
		if r.cfg.runs(p.Name) {
			out = append(out, p.Name)
		}
	}
	if r.cfg.runs(TimerWorker) {
		out = append(out, TimerWorker)
	}
	return out
}

// newWorker returns a fresh worker actor called name.
func (r *Runner) newWorker(name string) *worker {
	sp := &spec{r: r, name: name, lanes: r.cfg.Lanes, prefix: strings.TrimSuffix(r.cfg.Timers.FiredSubjects(), ">")}
	for _, p := range r.cfg.Policies {
		if p.Name == name {
			sp.pol, sp.src = p, r.cfg.Sources[p.Source]
			sp.prefix = sp.src.SubjectPrefix + "."
		}
	}
	return &worker{spec: sp}
}

// setLanes records the lanes of worker name (after each (re)start).
func (r *Runner) setLanes(name string, lanes []*actor.PID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lanes[name] = lanes
	for i, pid := range lanes {
		r.names[pid.GetId()] = name + "/lane-" + strconv.Itoa(i)
	}
}

func (r *Runner) setPID(name string, pid *actor.PID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pids[name], r.names[pid.GetId()] = pid, name
}

func (r *Runner) workerName(pid *actor.PID) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.names[pid.GetId()]; ok {
		return n
	}
	return pid.GetId()
}

// lifetime is the context of the workers' I/O, cancelled by Close.
func (r *Runner) lifetime() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.life
}

// replay hands a replay request to the mailbox of the lane of the entry's
// key, so that it never runs concurrently with that key's live messages,
// and waits for it.
func (r *Runner) replay(ctx context.Context, name string, seq uint64) error {
	e, err := r.cfg.DLQ.Get(ctx, seq)
	if err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "dlq.not_found", "entry %d: %v", seq, err)
	}
	r.mu.Lock()
	lanes := r.lanes[name]
	r.mu.Unlock()
	if len(lanes) == 0 {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "dlq.no_runner", "policy %s is not running here", name)
	}
	sp := spec{lanes: len(lanes)}
	req := &replayRequest{ctx: ctx, seq: seq, reply: make(chan error, 1)}
	r.cfg.Cluster.ActorSystem.Root.Send(lanes[sp.laneOf(e.Letter.GetPersonId())], req)
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "dlq.replay_timeout", "policy %s did not replay entry %d in time", name, seq)
	}
}

// Shutdown stops serving replays, lets every worker finish the message it
// is handling and stops them (unacked messages are delivered again later),
// and waits until they stopped or ctx ends.
func (r *Runner) Shutdown(ctx context.Context) error {
	return r.stop(ctx, true)
}

// Close stops the workers without waiting for in-flight I/O: their calls
// are cancelled, so the message being handled is delivered again after
// AckWait. It waits at most 10s for the actors to stop.
func (r *Runner) Close() error {
	r.mu.Lock()
	life := r.life
	if life == nil { // never started
		r.closed = true
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(life), 10*time.Second)
	defer cancel()
	return r.stop(ctx, false)
}

func (r *Runner) stop(ctx context.Context, graceful bool) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	sup, stops, cancel, started := r.sup, r.stops, r.cancel, r.started
	r.mu.Unlock()
	if !started {
		return nil
	}
	var errs []error
	for _, stop := range stops {
		if err := stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if !graceful && cancel != nil {
		cancel()
	}
	if sup != nil {
		f := r.cfg.Cluster.ActorSystem.Root.StopFuture(sup)
		done := make(chan error, 1)
		go func() { done <- f.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("policy runner: stop: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("policy runner: stop: %w", ctx.Err()))
		}
	}
	if cancel != nil {
		cancel()
	}
	return errors.Join(errs...)
}

// Err returns an error wrapping ErrEscalated after a worker escalated, nil
// otherwise. A node reports it in its health check.
func (r *Runner) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Stats returns the counts of the lifecycle events so far.
func (r *Runner) Stats() Stats {
	return Stats{
		Handled: r.stats.handled.Load(), Retried: r.stats.retried.Load(), Parked: r.stats.parked.Load(),
		Replayed: r.stats.replayed.Load(), Restarted: r.stats.restarted.Load(), Escalated: r.stats.escalated.Load(),
	}
}

func (r *Runner) observe(e Event) {
	switch e.(type) {
	case Handled:
		r.stats.handled.Add(1)
	case Retried:
		r.stats.retried.Add(1)
	case Parked:
		r.stats.parked.Add(1)
	case Replayed:
		r.stats.replayed.Add(1)
	case Restarted:
		r.stats.restarted.Add(1)
	case Escalated:
		r.stats.escalated.Add(1)
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer(e)
	}
}

func (r *Runner) restarting(name string, n int, d time.Duration, reason any) {
	r.cfg.Logger.Warn("policy worker failed; restarting", slog.String(logPolicy, name), slog.Int("failures", n), slog.Duration("delay", d), slog.Any("reason", reason))
	r.observe(Restarted{Worker: name, Failures: n, Delay: d, Reason: reason})
}

func (r *Runner) escalate(name string, n int, reason any) {
	r.cfg.Logger.Error("policy worker failed too often; stopped", slog.String(logPolicy, name), slog.Int("failures", n), slog.Any("reason", reason))
	r.mu.Lock()
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s failed %d times within %v: %v", ErrEscalated, name, n, r.cfg.RestartWindow, reason)
	}
	r.mu.Unlock()
	r.observe(Escalated{Worker: name, Failures: n, Reason: reason})
}

// reject logs a final rejection, at most once per second per worker.
func (r *Runner) reject(name, key string, seq uint64, e *personv1.Error) {
	if ok, muted := r.allow(name); ok {
		r.cfg.Logger.Warn("policy reaction rejected; parking the event", slog.String(logPolicy, name), slog.String(logKey, key),
			slog.Uint64(logSeq, seq), slog.String(logCode, strings.TrimPrefix(e.GetCode().String(), "ERROR_CODE_")), slog.String(logRule, e.GetRule()),
			slog.String(logErr, e.GetMessage()), slog.Int(logMuted, muted))
	}
}

// warn logs a worker warning, at most once per second per worker.
func (r *Runner) warn(name, msg string) {
	if ok, muted := r.allow(name); ok {
		r.cfg.Logger.Warn("policy worker: "+msg, slog.String(logPolicy, name), slog.Int(logMuted, muted))
	}
}

// allow rate-limits the warnings of one worker to one per second; muted is
// how many were suppressed before an allowed one.
func (r *Runner) allow(name string) (ok bool, muted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastWarn[name]) < time.Second {
		r.muted[name]++
		return false, 0
	}
	muted = r.muted[name]
	r.lastWarn[name], r.muted[name] = now, 0
	return true, muted
}
