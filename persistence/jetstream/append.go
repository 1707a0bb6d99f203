package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
)

// errBatchDuplicate is the server code for an atomic batch holding a
// message id that is already in the duplicate window: the batch may have
// been committed before (a retry after a lost ack).
const errBatchDuplicate jetstream.ErrorCode = 10201

// Append implements [persistence.EventStore].
//
// The expected version is turned into the expected last stream sequence of
// the person's subject (known from the cache, else read from the last
// stored event), which the server checks. One event is a plain publish;
// several are one atomic batch. When the server rejects the expectation, or
// reports the ids as duplicates, the last stored event decides: if it is
// our last event, the append had been stored (a retry after a lost ack) and
// succeeds; otherwise it is [persistence.ErrConflict].
func (s *Store) Append(ctx context.Context, personID string, expectedVersion uint64, events []*personv1.EventEnvelope) (uint64, error) {
	if err := s.check(ctx, personID); err != nil {
		return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, err)
	}
	if err := persistence.CheckAppend(personID, expectedVersion, events, upcast.CurrentVersion); err != nil {
		return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, err)
	}
	want := expectedVersion + uint64(len(events))
	lastID := events[len(events)-1].GetEventId()
	tail, stored, err := s.expectedTail(ctx, personID, expectedVersion, want, lastID)
	if err != nil {
		return 0, err
	}
	if stored {
		return want, nil
	}
	var expectedSeq uint64
	if len(tail) > 0 {
		expectedSeq = tail[0]
	}
	prev := tail[:min(len(tail), s.cfg.backlinks())]
	subject := s.subject(personID)
	msgs := make([]*nats.Msg, len(events))
	for i, e := range events {
		if msgs[i], err = encodeEvent(subject, e, prev, i, s.cfg.Payload == PayloadProtobuf); err != nil {
			return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, err)
		}
	}
	ack, err := s.publish(ctx, msgs, expectedSeq)
	if err == nil && !ack.Duplicate {
		s.cache.setLast(personID, want, nextTail(ack.Sequence, len(msgs), tail, s.cfg.backlinks()+1))
		return want, nil
	}
	if err != nil && !isWrongLastSequence(err) && !isAPIError(err, errBatchDuplicate) {
		// Unknown outcome: the events may be stored. The caller retries
		// with the same events; forget the position meanwhile.
		s.cache.forget(personID)
		return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, err)
	}
	// The person moved on, or the server has seen these ids: its last event
	// decides (a retry after a lost ack finds its own last event there).
	last, lastStoredID, err := s.last(ctx, personID)
	if err != nil {
		s.cache.forget(personID)
		return 0, fmt.Errorf("append %s@%d: read last event: %w", personID, expectedVersion, err)
	}
	if last.version == want && lastStoredID == lastID {
		return want, nil
	}
	return 0, fmt.Errorf("append %s@%d: last version is %d: %w", personID, expectedVersion, last.version, persistence.ErrConflict)
}

// expectedTail returns the stream sequences of personID's events at
// expectedVersion, expectedVersion-1, … (nil for version 0): its first is
// the expected last sequence of the append, the rest become backlinks.
// stored reports that the person's last event is already the append's last
// event (id lastID at version newVersion): a retry of a stored append.
func (s *Store) expectedTail(ctx context.Context, personID string, expectedVersion, newVersion uint64, lastID string) (tail []uint64, stored bool, err error) {
	if e := s.cache.get(personID); e.version == expectedVersion && len(e.tail) > 0 {
		return e.tail, false, nil
	}
	if expectedVersion == 0 {
		return nil, false, nil // the server checks that the subject is empty
	}
	last, lastStoredID, err := s.last(ctx, personID)
	if err != nil {
		return nil, false, fmt.Errorf("append %s@%d: read last event: %w", personID, expectedVersion, err)
	}
	switch {
	case last.version == expectedVersion:
		return last.tail(s.cfg.backlinks() + 1), false, nil
	case last.version == newVersion && lastStoredID == lastID:
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("append %s@%d: last version is %d: %w", personID, expectedVersion, last.version, persistence.ErrConflict)
}

// last returns the backlinks and event id of personID's last stored event
// (zero links when there is none) and records them in the cache.
func (s *Store) last(ctx context.Context, personID string) (links, string, error) {
	m, found, err := s.lastMsg(ctx, personID)
	if err != nil || !found {
		return links{}, "", err
	}
	l, id, err := linksOf(m)
	if err != nil {
		return links{}, "", fmt.Errorf("last event of %s: %w", personID, err)
	}
	s.cache.setLast(personID, l.version, l.tail(s.cfg.backlinks()+1))
	return l, id, nil
}

// lastMsg returns personID's last stored message, if any.
func (s *Store) lastMsg(ctx context.Context, personID string) (stored, bool, error) {
	msg, err := s.stream.GetLastMsgForSubject(ctx, s.subject(personID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, false, nil
	}
	if err != nil {
		return stored{}, false, err
	}
	return stored{seq: msg.Sequence, header: msg.Header, data: msg.Data}, true, nil
}

// publish stores msgs if the subject's last stream sequence is
// expectedSeq: one message as a plain publish, several as one atomic batch.
func (s *Store) publish(ctx context.Context, msgs []*nats.Msg, expectedSeq uint64) (*jetstream.PubAck, error) {
	msgs[0].Header[hdrExpectedLastSubjSeq] = []string{strconv.FormatUint(expectedSeq, 10)}
	if len(msgs) == 1 {
		return s.js.PublishMsg(ctx, msgs[0])
	}
	return s.publishBatch(ctx, msgs)
}

// batchAck is the server's reply to the commit of an atomic batch.
type batchAck struct {
	Error    *jetstream.APIError `json:"error,omitempty"`
	Stream   string              `json:"stream"`
	Sequence uint64              `json:"seq"`
	Count    int                 `json:"count"`
}

// publishBatch publishes msgs as one atomic batch: the server stores all or
// none (nats.go has no API for it; the protocol is headers: Nats-Batch-Id,
// Nats-Batch-Sequence, and Nats-Batch-Commit on the last message, which is
// the only one acknowledged).
func (s *Store) publishBatch(ctx context.Context, msgs []*nats.Msg) (*jetstream.PubAck, error) {
	id := uuid.NewString()
	for i, m := range msgs {
		m.Header[hdrBatchID] = []string{id}
		m.Header[hdrBatchSeq] = []string{strconv.Itoa(i + 1)}
		if i == len(msgs)-1 {
			break
		}
		if err := s.nc.PublishMsg(m); err != nil {
			return nil, fmt.Errorf("atomic batch message %d: %w", i+1, err)
		}
	}
	commit := msgs[len(msgs)-1]
	commit.Header[hdrBatchCommit] = []string{"1"}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.nc.RequestMsgWithContext(ctx, commit)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("atomic batch commit: %w", jetstream.ErrNoStreamResponse)
	}
	if err != nil {
		return nil, fmt.Errorf("atomic batch commit: %w", err)
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, fmt.Errorf("atomic batch commit: %w: %q", jetstream.ErrInvalidJSAck, resp.Data)
	}
	if ack.Error != nil {
		return nil, fmt.Errorf("atomic batch commit: %w", ack.Error)
	}
	if ack.Count != len(msgs) || ack.Sequence == 0 {
		return nil, fmt.Errorf("atomic batch commit: %w: stored %d of %d", jetstream.ErrInvalidJSAck, ack.Count, len(msgs))
	}
	return &jetstream.PubAck{Stream: ack.Stream, Sequence: ack.Sequence}, nil
}

// withTimeout bounds ctx by the configured request timeout when it has no
// deadline.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

// isAPIError reports whether err is a JetStream API error with code.
func isAPIError(err error, code jetstream.ErrorCode) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && ae.ErrorCode == code
}
