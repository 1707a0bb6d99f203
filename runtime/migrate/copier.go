package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/upcast"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/streamswitch"
)

// Errors of a copy.
var (
	// ErrNotMigratable is returned when the source holds an event that
	// cannot be migrated (undecodable, or a version gap); run the dry run
	// for the full list.
	ErrNotMigratable = errors.New("migrate: source event cannot be migrated")
	// ErrTargetChanged is returned when the new stream holds events that
	// this migration did not write (another writer, or a stream that was
	// not fresh).
	ErrTargetChanged = errors.New("migrate: new stream written by someone else")
	// ErrNoAck is returned when writes stay unacknowledged for AckTimeout.
	ErrNoAck = errors.New("migrate: writes not acknowledged")
)

// personState is what the copier knows of one person in the new stream.
type personState struct {
	id      string
	version uint64   // version of the person's last event in the new stream
	seq     uint64   // its stream sequence there (the next write's expectation), 0 if none
	srcSeq  uint64   // its sequence in the source
	tail    []uint64 // sequences of the last events there, newest first (backlinks)
	known   bool     // the fields above are known (else: look them up first)
	busy    bool     // a write or a lookup is in flight
	waiting bool     // in the ready queue
	qhead   int64    // first queued slot position, -1 if none
	qtail   int64
}

// slot is an event read from the source and not yet done, in source order.
type slot struct {
	pos     uint64 // position in the run (ring index = pos % len(ring))
	d       decoded
	p       *personState
	version uint64 // the version written
	next    int64  // next queued slot of the same person, -1 if none
	done    bool
}

// Reply tokens (the last token of a reply subject): a write's ack, the
// lookup of a person's last event, and the lookup after a refused write.
const (
	tokenAck    = 'a'
	tokenLookup = 'l'
	tokenVerify = 'v'
)

// copier writes decoded source events to the new stream: one write in
// flight per person with its expected last subject sequence (per-person
// optimistic concurrency), many persons in flight, acknowledgements read
// from one reply subscription. It is single-threaded: only the goroutine
// running copy touches it.
type copier struct {
	cfg       *Config
	nc        *nats.Conn
	target    streamswitch.Route
	prefix    string // target subject prefix + "."
	directGet string
	backlinks int
	resume    bool // persons not met yet may have events in the new stream

	inbox   string
	replies chan *nats.Msg
	sub     *nats.Subscription

	persons  map[string]*personState
	ring     []slot
	head     uint64 // slots [head, tail) are in use
	tail     uint64
	ready    []*personState // persons with a queued event, waiting for MaxInFlight
	inflight int            // writes and lookups
	fatal    error

	checkpoint uint64 // every source message up to it is done
	copied     uint64 // events written
	existing   uint64 // events found already copied (resume)
	tally      *tally
	lastReply  time.Time
}

func newCopier(cfg *Config, target streamswitch.Route, resume bool, t *tally) (*copier, error) {
	c := &copier{
		cfg: cfg, nc: cfg.Target, target: target, prefix: target.SubjectPrefix + ".",
		directGet: strings.TrimSuffix(cfg.Store.APIPrefix, ".") + ".DIRECT.GET." + target.Stream,
		backlinks: cfg.backlinks(), resume: resume,
		inbox:   cfg.Target.NewRespInbox(),
		replies: make(chan *nats.Msg, cfg.MaxInFlight+1),
		persons: map[string]*personState{},
		ring:    make([]slot, cfg.Window),
		tally:   t,
	}
	sub, err := c.nc.ChanSubscribe(c.inbox+".*", c.replies)
	if err != nil {
		return nil, fmt.Errorf("migrate: subscribe for acknowledgements: %w", err)
	}
	c.sub = sub
	return c, nil
}

// close ends the reply subscription.
func (c *copier) close() {
	// Unsubscribe fails only on a closed connection, whose subscriptions
	// are gone anyway.
	_ = c.sub.Unsubscribe()
}

// decode is the pipeline's decoding function: it decodes a source
// message and prepares its message in the new stream.
func (c *copier) decode(prefix string) func(sourceMsg) decoded {
	payload := c.cfg.Store.Payload
	return func(m sourceMsg) decoded {
		d := decodeSource(m, prefix)
		if d.kind != kindEvent {
			return d
		}
		body, contentType := m.data, contentTypeJSON
		if first(m.header, hdrContentType) == contentTypeProtobuf {
			contentType = contentTypeProtobuf
		}
		// A body stored at the current schema in the payload encoding is
		// copied as it is (decoding it proved it valid); others are
		// encoded anew.
		if d.schema != upcast.CurrentVersion(d.env.GetType()) || (contentType == contentTypeProtobuf) != (payload == pjs.PayloadProtobuf) {
			var err error
			if body, contentType, err = encodeBody(d.env, payload); err != nil {
				d.kind, d.err, d.env = kindInvalid, err, nil
				return d
			}
		}
		d.msg = targetMsg(c.prefix+d.person, d.env, body, contentType, d.seq)
		// Keep what the window needs only: the message (and the source
		// message of a derived version, decoded again at its version).
		d.env = nil
		if !d.needsVersion {
			d.raw = sourceMsg{}
		}
		return d
	}
}

// copyRange copies source sequences from…to. It returns when every event
// of the range is acknowledged, with the checkpoint at to, or at the first
// error (the checkpoint then says what is certainly copied). save is
// called with the checkpoint every CheckpointEvery and at the end;
// progress with the messages done.
func (c *copier) copyRange(ctx context.Context, src *stream, sourcePrefix string, from, to uint64, save func(context.Context, uint64) error, progress func(done uint64, final bool)) error {
	if from > to {
		progress(0, true)
		return nil
	}
	c.checkpoint = from - 1
	c.lastReply = time.Now()
	p := startPipeline(ctx, src, from, to, c.cfg.Decoders, c.decode(sourcePrefix))
	in := p.out
	tick := time.NewTicker(min(c.cfg.ProgressEvery, c.cfg.CheckpointEvery))
	defer tick.Stop()
	lastSave := time.Now()
	saved := c.checkpoint
	finish := func(err error) error {
		perr := p.stop()
		if c.checkpoint > saved {
			// Save what is copied even when interrupted, with a context of
			// its own (ctx may be the reason to stop).
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RequestTimeout)
			if serr := save(sctx, c.checkpoint); serr != nil && err == nil {
				err = serr
			}
			cancel()
		}
		progress(c.checkpoint-from+1, true)
		if err == nil {
			err = perr
		}
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return finish(err)
		}
		if c.fatal != nil {
			return finish(c.fatal)
		}
		if in == nil && c.head == c.tail {
			if c.checkpoint < to {
				// The read ended early: fine if the rest was deleted, which a
				// stream denying deletes cannot have.
				info, err := src.info(ctx)
				if err != nil {
					return finish(err)
				}
				if info.config.DenyDelete || info.config.Sealed {
					return finish(fmt.Errorf("migrate: the read of %s ended at sequence %d, before %d (resume to continue)", src.name, c.checkpoint, to))
				}
			}
			c.checkpoint = max(c.checkpoint, to)
			return finish(nil)
		}
		var recv <-chan []decoded
		if in != nil && int(c.tail-c.head)+c.cfg.ReadBatch <= len(c.ring) {
			recv = in
		}
		select {
		case batch, ok := <-recv:
			if !ok {
				in = nil
				if err := p.stop(); err != nil {
					return finish(err)
				}
				continue
			}
			for i := range batch {
				c.ingest(&batch[i])
			}
			c.advance()
			progress(c.checkpoint-from+1, false)
		case m := <-c.replies:
			c.lastReply = time.Now()
			c.onReply(m)
			c.advance()
			progress(c.checkpoint-from+1, false)
		case now := <-tick.C:
			if c.inflight > 0 && now.Sub(c.lastReply) > c.cfg.AckTimeout {
				c.fail(fmt.Errorf("%w: %d in flight, none acknowledged for %s", ErrNoAck, c.inflight, c.cfg.AckTimeout))
				continue
			}
			if now.Sub(lastSave) >= c.cfg.CheckpointEvery && c.checkpoint > saved {
				if err := save(ctx, c.checkpoint); err != nil {
					return finish(err)
				}
				lastSave, saved = now, c.checkpoint
			}
			progress(c.checkpoint-from+1, false)
		case <-ctx.Done():
			return finish(ctx.Err())
		}
	}
}

// fail records the first fatal error; the copy stops at its next turn.
func (c *copier) fail(err error) {
	if c.fatal == nil {
		c.fatal = err
	}
}

func (c *copier) slot(pos uint64) *slot { return &c.ring[pos%uint64(len(c.ring))] }

// ingest takes the next source message in order.
func (c *copier) ingest(d *decoded) {
	c.tally.message(d)
	pos := c.tail
	c.tail++
	s := c.slot(pos)
	*s = slot{pos: pos, d: *d, next: -1}
	switch d.kind {
	case kindSkipped:
		s.done = true
		return
	case kindInvalid:
		s.done = true
		c.fail(fmt.Errorf("%w: stream sequence %d (%s): %v", ErrNotMigratable, d.seq, d.subject, d.err))
		return
	}
	id := d.person
	p := c.persons[id]
	if p == nil {
		p = &personState{id: id, known: !c.resume, qhead: -1, qtail: -1}
		c.persons[id] = p
	}
	s.p = p
	if p.qtail < 0 {
		p.qhead = int64(pos)
	} else {
		c.slot(uint64(p.qtail)).next = int64(pos)
	}
	p.qtail = int64(pos)
	c.dispatch(p)
}

// dispatch writes the person's first queued event if nothing of the
// person is in flight: after looking the person up in the new stream when
// its state there is not known, skipping events already copied.
func (c *copier) dispatch(p *personState) {
	for !p.busy && p.qhead >= 0 && c.fatal == nil {
		if c.inflight >= c.cfg.MaxInFlight {
			if !p.waiting {
				p.waiting = true
				c.ready = append(c.ready, p)
			}
			return
		}
		pos := uint64(p.qhead)
		s := c.slot(pos)
		if !p.known {
			c.request(tokenLookup, pos, p)
			return
		}
		if s.d.seq <= p.srcSeq {
			c.existing++
			c.dequeue(p, s)
			continue
		}
		v, ok := nextVersion(p.version, &s.d)
		if !ok {
			c.tally.gap(Gap{PersonID: p.id, Seq: s.d.seq, Want: p.version + 1, Got: v})
			c.fail(fmt.Errorf("%w: rule source.versions: person %s at stream sequence %d has version %d, want %d", ErrNotMigratable, p.id, s.d.seq, v, p.version+1))
			return
		}
		msg := s.d.msg
		if s.d.needsVersion && v != 1 {
			env, err := decodeAt(s.d.raw, v)
			if err != nil {
				c.fail(fmt.Errorf("%w: stream sequence %d at derived version %d: %v", ErrNotMigratable, s.d.seq, v, err))
				return
			}
			msg = targetMsg(msg.Subject, env, msg.Data, first(msg.Header, hdrContentType), s.d.seq)
			s.d.setEnv(env)
			s.d.env = nil
		}
		msg.Header[hdrExpectedLastSubjSeq] = []string{strconv.FormatUint(p.seq, 10)}
		if n := min(len(p.tail), c.backlinks); n > 0 {
			msg.Header[hdrPrevSeqs] = []string{formatPrevSeqs(p.tail[:n])}
		}
		msg.Reply = c.reply(tokenAck, pos)
		if err := c.nc.PublishMsg(msg); err != nil {
			c.fail(fmt.Errorf("migrate: write stream sequence %d: %w", s.d.seq, err))
			return
		}
		s.version = v
		p.busy = true
		c.sent()
		return
	}
}

// reply returns the reply subject for a token and slot position.
func (c *copier) reply(token byte, pos uint64) string {
	b := make([]byte, 0, len(c.inbox)+22)
	b = append(append(append(b, c.inbox...), '.', token), strconv.FormatUint(pos, 10)...)
	return string(b)
}

// request looks up the person's last event in the new stream.
func (c *copier) request(token byte, pos uint64, p *personState) {
	req, err := json.Marshal(struct {
		LastBySubj string `json:"last_by_subj"`
	}{c.prefix + p.id})
	if err == nil {
		err = c.nc.PublishRequest(c.directGet, c.reply(token, pos), req)
	}
	if err != nil {
		c.fail(fmt.Errorf("migrate: look up %s in %s: %w", p.id, c.target.Stream, err))
		return
	}
	p.busy = true
	c.sent()
}

// sent counts a write or lookup in flight; the acknowledgement timeout
// runs from the first one after none was in flight.
func (c *copier) sent() {
	if c.inflight == 0 {
		c.lastReply = time.Now()
	}
	c.inflight++
}

// dequeue marks the person's first queued slot s done.
func (c *copier) dequeue(p *personState, s *slot) {
	p.qhead = s.next
	if p.qhead < 0 {
		p.qtail = -1
	}
	s.done = true
}

// advance moves the checkpoint over the done slots at the head.
func (c *copier) advance() {
	for c.head < c.tail {
		s := c.slot(c.head)
		if !s.done {
			return
		}
		c.checkpoint = s.d.seq
		*s = slot{} // release the event
		c.head++
	}
}

// onReply handles an acknowledgement or a lookup.
func (c *copier) onReply(m *nats.Msg) {
	token := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if len(token) < 2 {
		return
	}
	pos, err := strconv.ParseUint(token[1:], 10, 64)
	if err != nil || pos < c.head || pos >= c.tail {
		return // not ours, or late: ignore
	}
	s := c.slot(pos)
	p := s.p
	if p == nil || !p.busy || p.qhead != int64(pos) {
		return
	}
	c.inflight--
	p.busy = false
	switch token[0] {
	case tokenAck:
		seq, err := parseAck(m)
		switch {
		case err == nil:
			c.written(p, s, seq)
		case isWrongLastSequence(err):
			// The person moved on in the new stream: if by this very event
			// (a write whose ack was lost), it is written.
			c.request(tokenVerify, pos, p)
		default:
			c.fail(fmt.Errorf("migrate: write stream sequence %d (%s v%d): %w", s.d.seq, p.id, s.version, err))
		}
	case tokenLookup, tokenVerify:
		last, err := parseLast(m)
		if err != nil {
			c.fail(fmt.Errorf("migrate: look up %s in %s: %w", p.id, c.target.Stream, err))
			return
		}
		if token[0] == tokenVerify {
			if !last.found || last.eventID != s.d.eventID {
				c.fail(fmt.Errorf("%w: rule target.single_writer: writing %s v%d (source sequence %d), the stream's last event of the person is %q", ErrTargetChanged, p.id, s.version, s.d.seq, last.eventID))
				return
			}
			c.written(p, s, last.seq)
			return
		}
		if last.found && !last.migrated {
			c.fail(fmt.Errorf("%w: rule target.migrated_only: the last event of %s in %s (sequence %d) was not written by a migration", ErrTargetChanged, p.id, c.target.Stream, last.seq))
			return
		}
		p.known = true
		if last.found {
			p.version, p.seq, p.srcSeq = last.version, last.seq, last.srcSeq
			p.tail = append([]uint64{last.seq}, last.prev...)[:min(1+len(last.prev), c.backlinks)]
		}
	}
	c.dispatch(p)
	c.dispatchReady()
}

// written records that s, the person's first queued event, is stored at
// sequence seq of the new stream.
func (c *copier) written(p *personState, s *slot, seq uint64) {
	p.version, p.seq, p.srcSeq = s.version, seq, s.d.seq
	if c.backlinks > 0 {
		if p.tail == nil {
			p.tail = make([]uint64, 0, c.backlinks)
		}
		if len(p.tail) < c.backlinks {
			p.tail = append(p.tail, 0)
		}
		copy(p.tail[1:], p.tail)
		p.tail[0] = seq
	}
	c.copied++
	c.dequeue(p, s)
}

// dispatchReady dispatches the persons that waited for MaxInFlight.
func (c *copier) dispatchReady() {
	for len(c.ready) > 0 && c.inflight < c.cfg.MaxInFlight && c.fatal == nil {
		p := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		p.waiting = false
		c.dispatch(p)
	}
}

// pubAck is the server's reply to a publish.
type pubAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Seq       uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
}

// parseAck returns the stream sequence of an acknowledged write (a
// duplicate's is the first write's) or the server's error.
func parseAck(m *nats.Msg) (uint64, error) {
	if status := first(m.Header, "Status"); status != "" {
		if status == "503" {
			return 0, nats.ErrNoResponders
		}
		return 0, fmt.Errorf("status %s %s", status, first(m.Header, "Description"))
	}
	// Fast path for the common {"stream":"X","seq":N} (possibly with
	// "domain" or "duplicate" fields).
	if !bytes.Contains(m.Data, []byte(`"error"`)) {
		if i := bytes.Index(m.Data, []byte(`"seq":`)); i >= 0 {
			rest := m.Data[i+6:]
			j := 0
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			if seq, err := strconv.ParseUint(string(rest[:j]), 10, 64); err == nil && seq > 0 {
				return seq, nil
			}
		}
	}
	var a pubAck
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return 0, fmt.Errorf("%w: %q", jetstream.ErrInvalidJSAck, m.Data)
	}
	if a.Error != nil {
		return 0, a.Error
	}
	if a.Seq == 0 {
		return 0, fmt.Errorf("%w: %q", jetstream.ErrInvalidJSAck, m.Data)
	}
	return a.Seq, nil
}

// isWrongLastSequence reports the server's optimistic concurrency
// rejection (10071, or 10164 on replicated streams).
func isWrongLastSequence(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// lastEvent is a person's last event in the new stream, from a direct get.
type lastEvent struct {
	found    bool
	seq      uint64
	version  uint64
	eventID  string
	migrated bool // written by a migration (has Cim-Source-Seq)
	srcSeq   uint64
	prev     []uint64 // its backlinks, newest first
}

// parseLast reads the reply of a last-by-subject direct get.
func parseLast(m *nats.Msg) (lastEvent, error) {
	switch status := first(m.Header, "Status"); status {
	case "":
	case "404":
		return lastEvent{}, nil
	case "503":
		return lastEvent{}, nats.ErrNoResponders
	default:
		return lastEvent{}, fmt.Errorf("status %s %s", status, first(m.Header, "Description"))
	}
	var l lastEvent
	var err error
	l.found = true
	if l.seq, err = strconv.ParseUint(serverHeader(m.Header, jetstream.SequenceHeader), 10, 64); err != nil {
		return lastEvent{}, fmt.Errorf("reply without a valid %s header: %w", jetstream.SequenceHeader, err)
	}
	if l.version, err = strconv.ParseUint(first(m.Header, hdrPersonVersion), 10, 64); err != nil {
		return lastEvent{}, fmt.Errorf("%w: event at sequence %d has no valid %s header", ErrTargetChanged, l.seq, hdrPersonVersion)
	}
	l.eventID = first(m.Header, hdrMsgID)
	if src := first(m.Header, hdrSourceSeq); src != "" {
		if l.srcSeq, err = strconv.ParseUint(src, 10, 64); err != nil {
			return lastEvent{}, fmt.Errorf("%w: event at sequence %d: header %s %q", ErrTargetChanged, l.seq, hdrSourceSeq, src)
		}
		l.migrated = true
	}
	l.prev = parsePrevSeqs(l.seq, first(m.Header, hdrPrevSeqs))
	return l, nil
}

// parsePrevSeqs decodes Cim-Prev-Seqs of the event at seq; a malformed
// value yields none (backlinks are a hint: readers scan without them).
func parsePrevSeqs(seq uint64, v string) []uint64 {
	if v == "" {
		return nil
	}
	var out []uint64
	below := seq
	for i, part := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return nil
		}
		s := n
		if i > 0 {
			if n == 0 || n >= below {
				return nil
			}
			s = below - n
		}
		if s == 0 || s >= below {
			return nil
		}
		out = append(out, s)
		below = s
	}
	return out
}
