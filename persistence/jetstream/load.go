package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// Load implements [persistence.EventStore].
//
// It reads the person's last event (a direct get by subject), takes the
// stream sequences of the events before it from its backlinks (hopping to
// older events' backlinks for a tail longer than Backlinks+1), and fetches
// the events from fromVersion on by exact sequence with pipelined direct
// gets, ReadBatch at a time: its cost follows the number of events read,
// not how many events of other persons lie between them. Without backlinks
// (events of the original system, or Backlinks -1) it scans the subject
// with batched direct gets from the newest known position. No consumer is
// created, so none can leak. Every event is upcast to the current schema;
// versions must be contiguous. A stored event that cannot be decoded stops
// the load with an error wrapping [persistence.ErrInvalidEvent] that names
// its stream sequence.
func (s *Store) Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	if err := s.check(ctx, personID); err != nil {
		return fmt.Errorf("load %s from %d: %w", personID, fromVersion, err)
	}
	fromVersion = max(fromVersion, 1)
	r, err := s.newReader(personID)
	if err != nil {
		return fmt.Errorf("load %s from %d: %w", personID, fromVersion, err)
	}
	defer r.close()
	err = r.load(ctx, fromVersion, fn)
	if ce, ok := errors.AsType[callbackError](err); ok {
		return ce.err
	}
	if err != nil {
		return fmt.Errorf("load %s from %d: %w", personID, fromVersion, err)
	}
	return nil
}

// callbackError carries the error of Load's callback, which Load returns
// unchanged.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// LastVersion implements [persistence.EventStore]: one direct get of the
// subject's last message.
func (s *Store) LastVersion(ctx context.Context, personID string) (uint64, error) {
	if err := s.check(ctx, personID); err != nil {
		return 0, fmt.Errorf("last version of %s: %w", personID, err)
	}
	last, _, err := s.last(ctx, personID)
	if err != nil {
		return 0, fmt.Errorf("last version of %s: %w", personID, err)
	}
	return last.version, nil
}

// reader reads one person's subject with direct gets on its own inbox.
type reader struct {
	s        *Store
	personID string
	subject  string
	inbox    string
	sub      *nats.Subscription
}

func (s *Store) newReader(personID string) (*reader, error) {
	r := &reader{s: s, personID: personID, subject: s.subject(personID)}
	if err := r.subscribe(); err != nil {
		return nil, err
	}
	return r, nil
}

// subscribe gives the reader a fresh inbox.
func (r *reader) subscribe() error {
	inbox := r.s.nc.NewRespInbox()
	sub, err := r.s.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("direct get: subscribe: %w", err)
	}
	r.inbox, r.sub = inbox, sub
	return nil
}

func (r *reader) close() {
	// Unsubscribe fails only on a closed connection, whose subscriptions
	// are gone anyway.
	_ = r.sub.Unsubscribe()
}

// Outcomes of following backlinks that make the reader scan the subject
// instead: errNoLinks for events stored without backlinks (by the original
// system, or with Backlinks -1), errBrokenLinks for backlinks that do not
// lead to the person's events (then nothing cached about the person is
// trusted either).
var (
	errNoLinks     = errors.New("no backlinks")
	errBrokenLinks = errors.New("backlinks do not lead to the expected events")
)

// load delivers the events from fromVersion on to fn.
func (r *reader) load(ctx context.Context, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	last, found, err := r.s.lastMsg(ctx, r.personID)
	if err != nil || !found {
		return err
	}
	ll, _, err := linksOf(last)
	if err != nil {
		return fmt.Errorf("stored event at stream sequence %d: %w", last.seq, err)
	}
	r.s.cache.setLast(r.personID, ll.version, ll.tail(r.s.cfg.backlinks()+1))
	if ll.version < fromVersion {
		return nil
	}
	seqs, err := r.collect(ctx, ll, fromVersion)
	if errors.Is(err, errNoLinks) || errors.Is(err, errBrokenLinks) {
		return r.fallback(ctx, fromVersion, err, fn)
	}
	if err != nil {
		return err
	}
	next := fromVersion // the version fn gets next
	deliver := func(m stored) error {
		e, err := decodeEvent(r.personID, m)
		if err != nil {
			return err
		}
		if e.GetVersion() != next {
			return fmt.Errorf("%w: event at stream sequence %d has version %d, want %d", errBrokenLinks, m.seq, e.GetVersion(), next)
		}
		next++
		if err := fn(e); err != nil {
			return callbackError{err}
		}
		return nil
	}
	for len(seqs) > 1 {
		n := min(len(seqs)-1, r.s.cfg.ReadBatch)
		err := r.get(ctx, seqs[:n], deliver)
		if errors.Is(err, errBrokenLinks) {
			return r.fallback(ctx, next, err, fn) // continue after the last event delivered
		}
		if err != nil {
			return err
		}
		seqs = seqs[n:]
	}
	return deliver(last)
}

// fallback scans the subject from fromVersion on after following the
// backlinks failed with cause.
func (r *reader) fallback(ctx context.Context, fromVersion uint64, cause error, fn func(*personv1.EventEnvelope) error) error {
	if errors.Is(cause, errBrokenLinks) {
		r.s.cfg.Logger.Warn("backlinks broken, scanning the subject", slog.String("person_id", r.personID), slog.Any("error", cause))
		r.s.cache.forget(r.personID)
		// Replies of the interrupted round may still arrive: read on a
		// fresh inbox.
		r.close()
		if err := r.subscribe(); err != nil {
			return err
		}
	}
	return r.scan(ctx, fromVersion, fn)
}

// collect returns the stream sequences of versions fromVersion … last.version
// in version order, from the backlinks of last and, for a longer tail, of
// older events (one round trip per Backlinks+1 events).
func (r *reader) collect(ctx context.Context, last links, fromVersion uint64) ([]uint64, error) {
	n := last.version - fromVersion + 1
	newestFirst := make([]uint64, 0, n)
	cur := last
	for {
		remaining := int(n) - len(newestFirst)
		var t []uint64
		if len(newestFirst) == 0 {
			t = cur.tail(remaining)
		} else {
			t = cur.tail(remaining + 1)[1:] // cur itself is already in
		}
		newestFirst = append(newestFirst, t...)
		if uint64(len(newestFirst)) == n {
			break
		}
		oldest := newestFirst[len(newestFirst)-1]
		if oldest == cur.seq {
			return nil, errNoLinks // cur links to nothing older
		}
		want := last.version - uint64(len(newestFirst)) + 1
		var next links
		err := r.get(ctx, []uint64{oldest}, func(m stored) error {
			l, _, err := linksOf(m)
			if err != nil {
				return err
			}
			if l.version != want {
				return fmt.Errorf("%w: event at stream sequence %d has version %d, want %d", errBrokenLinks, m.seq, l.version, want)
			}
			next = l
			return nil
		})
		if err != nil {
			return nil, err
		}
		cur = next
	}
	seqs := make([]uint64, n)
	for i, seq := range newestFirst {
		seqs[n-1-uint64(i)] = seq
	}
	return seqs, nil
}

// get fetches the messages at seqs (all of this reader's subject) with
// pipelined direct gets and hands them to each in the order of seqs. A
// message that is missing or on another subject is errBrokenLinks.
func (r *reader) get(ctx context.Context, seqs []uint64, each func(stored) error) error {
	ctx, cancel := r.s.withTimeout(ctx)
	defer cancel()
	req := make([]byte, 0, 32)
	for _, seq := range seqs {
		req = append(strconv.AppendUint(append(req[:0], `{"seq":`...), seq, 10), '}')
		if err := r.s.nc.PublishRequest(r.s.directGet, r.inbox, req); err != nil {
			return fmt.Errorf("direct get %d: %w", seq, err)
		}
	}
	got := make([]stored, len(seqs))
	for range seqs {
		msg, err := r.sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("direct get of %s: %w", r.subject, err)
		}
		switch status := first(msg.Header, hdrStatus); status {
		case "":
		case "404":
			return fmt.Errorf("%w: a linked message of %s is missing", errBrokenLinks, r.subject)
		case "503":
			return fmt.Errorf("direct get of %s: %w", r.subject, nats.ErrNoResponders)
		default:
			return fmt.Errorf("direct get of %s: status %s %s", r.subject, status, first(msg.Header, "Description"))
		}
		seq, err := strconv.ParseUint(first(msg.Header, hdrSequence), 10, 64)
		if err != nil {
			return fmt.Errorf("direct get of %s: reply without a valid %s header: %w", r.subject, hdrSequence, err)
		}
		if subj := first(msg.Header, hdrSubject); subj != r.subject {
			return fmt.Errorf("%w: stream sequence %d is on %q, not %q", errBrokenLinks, seq, subj, r.subject)
		}
		i := indexOf(seqs, seq)
		if i < 0 || got[i].seq != 0 {
			return fmt.Errorf("direct get of %s: unexpected reply for stream sequence %d", r.subject, seq)
		}
		got[i] = stored{seq: seq, header: msg.Header, data: msg.Data}
	}
	for _, m := range got {
		if err := each(m); err != nil {
			return err
		}
	}
	return nil
}

// indexOf returns the index of seq in seqs (replies normally arrive in
// request order, so the guess is checked first), -1 if absent.
func indexOf(seqs []uint64, seq uint64) int {
	for i, s := range seqs {
		if s == seq {
			return i
		}
	}
	return -1
}

// scan delivers the events from fromVersion on by scanning the subject
// from the newest known position before fromVersion.
func (r *reader) scan(ctx context.Context, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	r.s.scans.Add(1)
	start, next := uint64(0), uint64(1) // stream sequence to read from, version expected there
	if p, ok := r.s.cache.get(r.personID).before(fromVersion); ok {
		start, next = p.seq+1, p.version+1
	}
	return r.read(ctx, start, func(m stored) error {
		e, err := decodeEvent(r.personID, m)
		if err != nil {
			return err
		}
		if e.GetVersion() != next {
			return fmt.Errorf("%w: rule stored.version: stored event %s of %s at stream sequence %d has version %d, want %d", persistence.ErrInvalidEvent, e.GetEventId(), r.personID, m.seq, e.GetVersion(), next)
		}
		next++
		if e.GetVersion() < fromVersion {
			return nil
		}
		if err := fn(e); err != nil {
			return callbackError{err}
		}
		return nil
	})
}

// errStopRead ends a read early without error.
var errStopRead = errors.New("stop read")

// read calls each for the messages of the subject from stream sequence
// start on, in order, using batched direct gets ($JS.API.DIRECT.GET.<stream>
// with next_by_subj and batch). At most ReadBatch messages are buffered. It
// returns each's first error, except errStopRead which ends the read with
// nil.
func (r *reader) read(ctx context.Context, start uint64, each func(stored) error) error {
	for {
		more, err := r.readBatch(ctx, &start, each)
		if errors.Is(err, errStopRead) {
			return nil
		}
		if err != nil || !more {
			return err
		}
	}
}

// readBatch requests one batch from *start on and hands its messages to
// each, advancing *start. more reports that the server has more messages.
func (r *reader) readBatch(ctx context.Context, start *uint64, each func(stored) error) (more bool, err error) {
	ctx, cancel := r.s.withTimeout(ctx)
	defer cancel()
	req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":%d}`, *start, r.subject, r.s.cfg.ReadBatch)
	if err := r.s.nc.PublishRequest(r.s.directGet, r.inbox, req); err != nil {
		return false, fmt.Errorf("direct get %s from %d: %w", r.subject, *start, err)
	}
	for {
		msg, err := r.sub.NextMsgWithContext(ctx)
		if err != nil {
			return false, fmt.Errorf("direct get %s from %d: %w", r.subject, *start, err)
		}
		switch status := first(msg.Header, hdrStatus); status {
		case "":
			seq, err := strconv.ParseUint(first(msg.Header, hdrSequence), 10, 64)
			if err != nil {
				return false, fmt.Errorf("direct get %s: reply without a valid %s header: %w", r.subject, hdrSequence, err)
			}
			*start = seq + 1
			if err := each(stored{seq: seq, header: msg.Header, data: msg.Data}); err != nil {
				return false, err
			}
		case "404": // nothing (more) on the subject
			return false, nil
		case "204": // end of batch
			pending, err := strconv.ParseUint(first(msg.Header, hdrNumPending), 10, 64)
			if err != nil {
				return false, fmt.Errorf("direct get %s: end of batch without a valid %s header: %w", r.subject, hdrNumPending, err)
			}
			return pending > 0, nil
		case "503":
			return false, fmt.Errorf("direct get %s: %w", r.subject, nats.ErrNoResponders)
		default:
			return false, fmt.Errorf("direct get %s from %d: status %s %s", r.subject, *start, status, first(msg.Header, "Description"))
		}
	}
}
