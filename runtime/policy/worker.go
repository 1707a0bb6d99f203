package policy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go/jetstream"

	apolicy "github.com/cim/personrt/actors/policy"
)

// Rules of the failures the runner itself records.
const (
	RuleMalformed    = "event.malformed"      // INVALID_ARGUMENT: the message cannot be read
	RuleWaitedBehind = "policy.waited_behind" // UNAVAILABLE: deliveries ran out waiting behind a retried event
	RuleParkedBehind = "policy.parked_behind" // FAILED_PRECONDITION: parked behind an earlier entry
	RuleNotHead      = "dlq.not_head"         // FAILED_PRECONDITION: replay of an entry that is not its sequence's head
	RuleWrongWorker  = "dlq.wrong_policy"     // INVALID_ARGUMENT: replay request for another policy's entry
	RulePanic        = "policy.panic"         // INTERNAL: the policy panicked on the event (retried, then parked)
)

// Headers of a stored event the worker reads (persistence/jetstream).
const (
	hdrPersonVersion = "Cim-Person-Version"
	hdrEventType     = "Cim-Event-Type"
	hdrMsgID         = "Nats-Msg-Id"
)

// Messages of a worker's mailbox.
type (
	// delivery is a message from the consumer; release frees its slot in
	// the pull loop.
	delivery struct {
		msg     jetstream.Msg
		release func()
	}
	// replayRequest asks the worker to replay a DLQ entry.
	replayRequest struct {
		ctx   context.Context
		seq   uint64
		reply chan error
	}
	// pullFailed reports that the consumer's iterator failed for good.
	pullFailed struct{ err error }
)

// retryMark is a message nak'ed for a retry: its stream sequence and when
// it is due again.
type retryMark struct {
	seq uint64
	due time.Time
}

// spec is what a worker and its lanes share: immutable after newWorker.
type spec struct {
	r      *Runner
	name   string
	pol    apolicy.Policy // zero for the timer worker
	src    Source         // the policy's source; zero for the timer worker
	prefix string         // subject prefix of the keys: "<SubjectPrefix>."
	lanes  int
}

func (s *spec) timers() bool { return s.name == TimerWorker }

// keyOf returns the key of a message: the person id of an event, the key
// of a fired timer; "_" when the subject has none.
func (s *spec) keyOf(subject string) string {
	key := strings.TrimPrefix(subject, s.prefix)
	if key == "" || key == subject || strings.ContainsAny(key, " *>") {
		return "_"
	}
	return key
}

// laneOf returns the lane of key (FNV-1a).
func (s *spec) laneOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(s.lanes))
}

// worker is the actor of one policy (or of the fired timers): it owns the
// durable consumer and the lanes (child actors) that handle the messages;
// the pull loop hands each message to the lane of its key, with at most
// Config.FetchBatch messages in the lanes at once. A lane's failure
// escalates to the worker, which the supervisor restarts with its lanes.
// Its fields are touched only by its mailbox goroutine, except the pull
// loop's, which the pull loop owns between start and stopPull.
type worker struct {
	*spec

	stop chan struct{}  // closed to stop the pull loop
	wg   sync.WaitGroup // the pull loop
	iter jetstream.MessagesContext
}

// Receive implements actor.Actor.
func (w *worker) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		w.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		w.stopPull()
	case *pullFailed:
		panic(fmt.Errorf("policy %s: consumer failed: %w", w.name, m.err))
	}
}

// start creates the consumer, spawns the lanes and starts the pull loop. A
// failure panics: the supervisor restarts the worker.
func (w *worker) start(ctx actor.Context) {
	cctx, cancel := context.WithTimeout(w.r.lifetime(), w.r.cfg.CommandTimeout)
	defer cancel()
	cons, err := w.r.js.CreateOrUpdateConsumer(cctx, w.streamName(), w.consumerConfig())
	if err != nil {
		panic(fmt.Errorf("policy %s: create consumer: %w", w.name, err))
	}
	lanes := make([]*actor.PID, w.lanes)
	for i := range lanes {
		pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &lane{spec: w.spec, idx: i} }), "lane-"+strconv.Itoa(i))
		if err != nil {
			panic(fmt.Errorf("policy %s: spawn lane %d: %w", w.name, i, err))
		}
		lanes[i] = pid
	}
	w.r.setLanes(w.name, lanes)
	it, err := cons.Messages(jetstream.PullMaxMessages(w.r.cfg.FetchBatch))
	if err != nil {
		panic(fmt.Errorf("policy %s: consume: %w", w.name, err))
	}
	w.iter, w.stop = it, make(chan struct{})
	self, root := ctx.Self(), ctx.ActorSystem().Root
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.pull(it, self, lanes, root)
	}()
}

// pull hands the consumer's messages to the lanes, at most FetchBatch at
// a time.
func (w *worker) pull(it jetstream.MessagesContext, self *actor.PID, lanes []*actor.PID, root *actor.RootContext) {
	slots := make(chan struct{}, w.r.cfg.FetchBatch)
	for {
		select {
		case slots <- struct{}{}:
		case <-w.stop:
			return
		}
		msg, err := it.Next()
		if err != nil {
			<-slots
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			select {
			case <-w.stop:
				return
			default:
			}
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				root.Send(self, &pullFailed{err: err})
				return
			}
			w.r.warn(w.name, "consumer: "+err.Error())
			continue
		}
		var once sync.Once
		release := func() { once.Do(func() { <-slots }) }
		root.Send(lanes[w.laneOf(w.keyOf(msg.Subject()))], &delivery{msg: msg, release: release})
	}
}

// stopPull stops the pull loop and waits for it. Unacked messages are
// delivered again after AckWait.
func (w *worker) stopPull() {
	if w.stop == nil {
		return
	}
	close(w.stop)
	w.iter.Stop()
	w.wg.Wait()
	w.stop, w.iter = nil, nil
}

func (w *worker) streamName() string {
	if w.timers() {
		return w.r.cfg.Timers.Stream()
	}
	return w.src.Stream
}

func (w *worker) consumerConfig() jetstream.ConsumerConfig {
	c := w.r.cfg
	filter := w.prefix + ">"
	if w.timers() {
		filter = c.Timers.FiredSubjects()
	}
	// The server redelivers an unacked message after BackOff[n] (the first
	// is the ack wait); never sooner than AckWait, as handling takes up to
	// CommandTimeout.
	n := min(c.MaxDeliver, 10)
	backoff := make([]time.Duration, 0, n)
	for i := range n {
		backoff = append(backoff, max(c.AckWait, delay(c.BaseBackoff, c.MaxBackoff, i+1)))
	}
	return jetstream.ConsumerConfig{
		Durable:       c.ConsumerPrefix + w.name,
		Description:   "policy " + w.name,
		FilterSubject: filter,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       backoff[0],
		BackOff:       backoff,
		MaxDeliver:    c.MaxDeliver,
		MaxAckPending: 10 * c.FetchBatch,
		HeadersOnly:   !w.timers(),
	}
}

// delay is base doubled attempt-1 times, at most max.
func delay(base, max time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 30)
	if d > max || d <= 0 {
		d = max
	}
	return d
}

// jitter returns d/2 plus a random part of d/2.
func jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}
