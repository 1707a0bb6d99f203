package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// lane handles the messages of the keys (persons, timer keys) that hash to
// it, one at a time, so a key's messages are handled in order; the lanes
// of a worker run in parallel. Its fields are touched only by its mailbox
// goroutine.
type lane struct {
	*spec
	idx int

	retrying  map[string]retryMark // key → the message waiting for redelivery
	firstFail map[uint64]time.Time // stream sequence → first failure
	parked    map[string]bool      // keys of this lane with DLQ entries of this worker
}

// Receive implements actor.Actor.
func (w *lane) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		w.retrying = make(map[string]retryMark)
		w.firstFail = make(map[uint64]time.Time)
		w.parked = make(map[string]bool)
		cctx, cancel := context.WithTimeout(w.r.lifetime(), w.r.cfg.CommandTimeout)
		defer cancel()
		parked, err := w.r.cfg.DLQ.Parked(cctx, w.name)
		if err != nil {
			panic(fmt.Errorf("policy %s: read parked entries: %w", w.name, err))
		}
		for k := range parked {
			if w.laneOf(k) == w.idx {
				w.parked[k] = true
			}
		}
	case *delivery:
		defer m.release() // also when handle panics
		w.handle(m.msg)
	case *replayRequest:
		m.reply <- w.replay(m.ctx, m.seq)
	}
}

// item is what one message carries, once read.
type item struct {
	key     string
	version uint64                  // event version (0 for timers)
	eventID string                  // event id (the fired timer's key for timers)
	env     *personv1.EventEnvelope // policy workers
	fired   *apolicy.Timer          // the timer worker
}

// failure is a handling error in its wire form.
type failure struct {
	err *personv1.Error
}

// handle processes one delivery and acks, naks or parks it.
func (w *lane) handle(msg jetstream.Msg) {
	start := time.Now()
	md, err := msg.Metadata()
	if err != nil {
		w.r.warn(w.name, "message without metadata: "+err.Error())
		_ = msg.Term() // not a JetStream delivery: nothing to redeliver
		return
	}
	seq, attempt := md.Sequence.Stream, int(md.NumDelivered)
	key := w.keyOf(msg.Subject())
	ctx, cancel := context.WithTimeout(w.r.lifetime(), w.r.cfg.CommandTimeout)
	defer cancel()

	// Keep the key's order: wait behind a retried message, park behind a
	// parked one. The retried message itself goes on: it is the oldest.
	mark, inRetry := w.retrying[key]
	if inRetry && time.Now().After(mark.due.Add(w.r.cfg.AckWait+w.r.cfg.MaxBackoff)) {
		delete(w.retrying, key) // its redelivery never came (deliveries ran out in the server)
		inRetry = false
	}
	switch {
	case inRetry && mark.seq != seq && attempt >= w.r.cfg.MaxDeliver:
		e := personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, RuleWaitedBehind, "deliveries ran out waiting behind stream sequence %d", mark.seq)
		w.park(ctx, msg, md, key, w.headerItem(msg, key), e, 0)
		return
	case inRetry && mark.seq != seq:
		// Come back after the retried message is due, with some spread.
		d := max(time.Until(mark.due), 0) + jitter(w.r.cfg.BaseBackoff)
		w.nak(msg, d)
		w.r.observe(Retried{Worker: w.name, Key: key, Sequence: seq, Attempt: attempt, Delay: d, Waiting: true})
		return
	case !inRetry && w.parked[key]:
		head, ok, err := w.r.cfg.DLQ.Head(ctx, w.name, key)
		switch {
		case err != nil:
			w.retry(msg, md, key, err)
			return
		case ok:
			e := personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleParkedBehind, "an earlier event of %s is parked (entry %d)", key, head.Sequence)
			w.park(ctx, msg, md, key, w.headerItem(msg, key), e, head.Sequence)
			return
		default:
			delete(w.parked, key) // replayed or discarded meanwhile
		}
	}

	var (
		it    item
		f     *failure
		n     int
		stale bool
	)
	if typ := msg.Headers().Get(hdrEventType); !w.timers() && typ != "" && !w.pol.Reacts(typ) {
		stale = true // an event type the policy never reacts to: not read
	} else {
		it, f = w.read(ctx, msg, key)
	}
	if f == nil && !stale {
		var rs []apolicy.Reaction
		rs, stale, f = w.reactions(ctx, it)
		if f == nil {
			n = len(rs)
			if err := w.r.exec.run(ctx, rs); err != nil {
				f = &failure{err: personv1.AsError(err, it.key)}
			}
		}
	}
	switch {
	case f == nil:
		if w.r.beforeAck != nil && !w.r.beforeAck(w.name, seq) {
			return // tests: a crash between the reactions and the ack
		}
		if err := msg.Ack(); err != nil {
			w.r.warn(w.name, "ack: "+err.Error()) // redelivered; the reactions are idempotent
		}
		if w.retrying[key].seq == seq {
			delete(w.retrying, key)
		}
		delete(w.firstFail, seq)
		w.r.observe(Handled{Worker: w.name, Key: key, Sequence: seq, Reactions: n, Attempt: attempt, Skipped: stale, Stored: md.Timestamp, Took: time.Since(start)})
	case !transient(f.err) || attempt >= w.r.cfg.MaxDeliver:
		if !transient(f.err) {
			w.r.reject(w.name, key, seq, f.err)
		}
		w.park(ctx, msg, md, key, it, f.err, 0)
	default:
		w.retry(msg, md, key, f.err)
	}
}

// retry naks msg with the delay of its delivery and makes later messages of
// key wait behind it.
func (w *lane) retry(msg jetstream.Msg, md *jetstream.MsgMetadata, key string, cause error) {
	seq, attempt := md.Sequence.Stream, int(md.NumDelivered)
	if attempt >= w.r.cfg.MaxDeliver {
		ctx, cancel := context.WithTimeout(w.r.lifetime(), w.r.cfg.CommandTimeout)
		defer cancel()
		w.park(ctx, msg, md, key, w.headerItem(msg, key), personv1.AsError(cause, key), 0)
		return
	}
	if _, ok := w.firstFail[seq]; !ok {
		w.firstFail[seq] = time.Now()
	}
	d := jitter(delay(w.r.cfg.BaseBackoff, w.r.cfg.MaxBackoff, attempt))
	w.retrying[key] = retryMark{seq: seq, due: time.Now().Add(d)}
	w.nak(msg, d)
	w.r.observe(Retried{Worker: w.name, Key: key, Sequence: seq, Attempt: attempt, Delay: d, Err: cause})
}

func (w *lane) nak(msg jetstream.Msg, d time.Duration) {
	if err := msg.NakWithDelay(d); err != nil {
		w.r.warn(w.name, "nak: "+err.Error()) // redelivered after the ack wait instead
	}
}

// park stores msg in the DLQ with e and acks it; when the DLQ cannot be
// written the message is nak'ed and tried again.
func (w *lane) park(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, key string, it item, e *personv1.Error, blockedBy uint64) {
	seq, attempt := md.Sequence.Stream, int(md.NumDelivered)
	if it.version == 0 && it.fired == nil {
		h := w.headerItem(msg, key) // the event could not be read: name it from its headers
		it.version, it.fired = h.version, h.fired
		if it.eventID == "" {
			it.eventID = h.eventID
		}
	}
	now := time.Now()
	first, ok := w.firstFail[seq]
	if !ok {
		first = now
	}
	l := &personv1.DeadLetter{
		Policy: w.name, PersonId: key, EventId: it.eventID, Stream: md.Stream, StreamSequence: seq, Subject: msg.Subject(),
		Code: e.GetCode(), Rule: e.GetRule(), Message: e.GetMessage(), Attempts: uint32(attempt),
		FirstFailure: timestamppb.New(first), LastFailure: timestamppb.New(now), BlockedBy: blockedBy, Version: it.version,
	}
	if blockedBy != 0 {
		l.Attempts = 0
	}
	if it.fired != nil {
		l.Target, l.Command = it.fired.Target, it.fired.Command
	}
	if l.EventId == "" {
		l.EventId = msg.Headers().Get(hdrMsgID)
	}
	dseq, err := w.r.cfg.DLQ.Park(ctx, l)
	if err != nil {
		w.r.cfg.Logger.Error("cannot park a failed event", slog.String(logPolicy, w.name), slog.String(logKey, key), slog.Uint64(logSeq, seq), slog.Any(logErr, err))
		w.nak(msg, jitter(delay(w.r.cfg.BaseBackoff, w.r.cfg.MaxBackoff, attempt)))
		return
	}
	if err := msg.Ack(); err != nil {
		w.r.warn(w.name, "ack after park: "+err.Error())
	}
	w.parked[key] = true
	if w.retrying[key].seq == seq {
		delete(w.retrying, key)
	}
	delete(w.firstFail, seq)
	w.r.observe(Parked{Worker: w.name, Key: key, Sequence: seq, DLQSequence: dseq, Code: e.GetCode(), Rule: e.GetRule(), Attempts: attempt, BlockedBy: blockedBy})
}

// headerItem is what the headers tell about a message without reading the
// event: enough to name it in a DLQ entry and to replay it.
func (w *lane) headerItem(msg jetstream.Msg, key string) item {
	it := item{key: key, eventID: msg.Headers().Get(hdrMsgID)}
	if w.timers() {
		if tm, err := w.r.cfg.Timers.Decode(msg.Subject(), msg.Headers(), msg.Data()); err == nil {
			it.fired, it.eventID = tm, tm.Key
		}
		return it
	}
	it.version, _ = strconv.ParseUint(msg.Headers().Get(hdrPersonVersion), 10, 64) // 0 when absent: the entry cannot be replayed
	return it
}

// errStop ends a Load after the wanted event.
var errStop = errors.New("stop")

// read turns a delivery into an item: the event (loaded through the
// source's store) or the fired timer.
func (w *lane) read(ctx context.Context, msg jetstream.Msg, key string) (item, *failure) {
	it := item{key: key}
	if w.timers() {
		tm, err := w.r.cfg.Timers.Decode(msg.Subject(), msg.Headers(), msg.Data())
		if err != nil {
			return it, malformed(err)
		}
		it.fired, it.eventID = tm, tm.Key
		return it, nil
	}
	h := msg.Headers()
	it.eventID = h.Get(hdrMsgID)
	v, err := strconv.ParseUint(h.Get(hdrPersonVersion), 10, 64)
	if err != nil || v == 0 || key == "_" {
		return it, malformed(fmt.Errorf("no person id or version on %s: %q", msg.Subject(), h.Get(hdrPersonVersion)))
	}
	it.version = v
	env, f := w.load(ctx, key, v)
	if f != nil {
		return it, f
	}
	it.env, it.eventID = env, env.GetEventId()
	return it, nil
}

// load reads version v of key from the source's store.
func (w *lane) load(ctx context.Context, key string, v uint64) (*personv1.EventEnvelope, *failure) {
	var env *personv1.EventEnvelope
	err := w.src.Events.Load(ctx, key, v, func(e *personv1.EventEnvelope) error {
		if e.GetVersion() == v {
			env = e
		}
		return errStop
	})
	switch {
	case errors.Is(err, persistence.ErrInvalidEvent):
		return nil, malformed(err)
	case err != nil && !errors.Is(err, errStop):
		return nil, &failure{err: personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "event.load", "load %s@%d: %v", key, v, err)}
	case env == nil:
		return nil, malformed(fmt.Errorf("event %s@%d is not in the store", key, v))
	}
	return env, nil
}

func malformed(err error) *failure {
	return &failure{err: personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, RuleMalformed, "%v", err)}
}

// reactions evaluates the policy, or checks a fired timer: a timer armed
// with IfVersion is stale (no reaction) when its aggregate moved on.
func (w *lane) reactions(ctx context.Context, it item) ([]apolicy.Reaction, bool, *failure) {
	if !w.timers() {
		rs, f := w.evaluate(it.env)
		return rs, false, f
	}
	tm := it.fired
	if tm.IfVersion > 0 {
		src, ok := w.r.cfg.Sources[tm.Target]
		if !ok || src.Events == nil {
			return nil, false, &failure{err: personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "reaction.target", "no event store for kind %q", tm.Target)}
		}
		v, err := src.Events.LastVersion(ctx, tm.Command.GetPersonId())
		if err != nil {
			return nil, false, &failure{err: personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "event.load", "last version of %s: %v", tm.Command.GetPersonId(), err)}
		}
		if v != tm.IfVersion {
			return nil, true, nil
		}
	}
	policyName, _, _ := strings.Cut(tm.Key, ".")
	return []apolicy.Reaction{{Policy: policyName, Target: tm.Target, Command: tm.Command, Accept: tm.Accept}}, false, nil
}

// evaluate runs the policy; a panic (a bug meeting unexpected data) is an
// INTERNAL failure [policy.panic], retried and then parked like any other,
// so that one event cannot stop the policy.
func (w *lane) evaluate(env *personv1.EventEnvelope) (rs []apolicy.Reaction, f *failure) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("policy %s panicked on event %s: %v", w.name, env.GetEventId(), p)
			f = &failure{err: personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, RulePanic, "%v", err)}
		}
	}()
	return w.pol.Evaluate(env, w.r.cfg.Now()), nil
}

// replay runs the policy again on the event of DLQ entry seq, which must be
// the head of its key, and removes the entry on success.
func (w *lane) replay(ctx context.Context, seq uint64) (err error) {
	defer func() { w.r.observe(Replayed{Worker: w.name, DLQSequence: seq, Err: err}) }()
	d := w.r.cfg.DLQ
	e, err := d.Get(ctx, seq)
	if err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "dlq.not_found", "entry %d: %v", seq, err)
	}
	l := e.Letter
	if l.GetPolicy() != w.name {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, RuleWrongWorker, "entry %d belongs to %s, not %s", seq, l.GetPolicy(), w.name)
	}
	head, ok, err := d.Head(ctx, w.name, l.GetPersonId())
	if err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "dlq.read", "%v", err)
	}
	if ok && head.Sequence != seq {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleNotHead, "entry %d is parked behind entry %d of %s: replay that first", seq, head.Sequence, l.GetPersonId())
	}
	it := item{key: l.GetPersonId(), version: l.GetVersion(), eventID: l.GetEventId()}
	if w.timers() {
		if l.GetCommand() == nil {
			return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, RuleMalformed, "entry %d has no timer command", seq)
		}
		it.fired = &apolicy.Timer{Key: l.GetPersonId(), Target: l.GetTarget(), Command: l.GetCommand()}
	} else {
		env, f := w.load(ctx, it.key, it.version)
		if f != nil {
			return f.err
		}
		it.env = env
	}
	rs, _, f := w.reactions(ctx, it)
	if f != nil {
		return f.err
	}
	if err := w.r.exec.run(ctx, rs); err != nil {
		return personv1.AsError(err, it.key)
	}
	if err := d.Remove(ctx, seq); err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "dlq.remove", "replayed entry %d but could not remove it: %v", seq, err)
	}
	if _, more, err := d.Head(ctx, w.name, it.key); err == nil && !more {
		delete(w.parked, it.key)
	}
	return nil
}
