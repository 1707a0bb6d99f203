package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// stream reads one JetStream stream from sequence to sequence, in order,
// in batches, with an ephemeral consumer deleted at the end. (Batched
// direct gets read about five times slower on nats-server 2.15: the server
// looks every message up on its own.) Memory is bounded by the batches the
// caller buffers.
type stream struct {
	js      jetstream.JetStream
	name    string
	batch   int
	timeout time.Duration // per request when ctx has no deadline
	log     *slog.Logger
}

// streamInfo is what a migration needs to know of a stream.
type streamInfo struct {
	firstSeq, lastSeq, msgs uint64
	sealed                  bool
	subjects                []string
	config                  jetstream.StreamConfig
}

// info returns the stream's state; jetstream.ErrStreamNotFound when it
// does not exist.
func (s *stream) info(ctx context.Context) (streamInfo, error) {
	st, err := s.js.Stream(ctx, s.name)
	if err != nil {
		return streamInfo{}, fmt.Errorf("stream %s: %w", s.name, err)
	}
	i := st.CachedInfo()
	return streamInfo{
		firstSeq: i.State.FirstSeq, lastSeq: i.State.LastSeq, msgs: i.State.Msgs,
		sealed: i.Config.Sealed, subjects: i.Config.Subjects, config: i.Config,
	}, nil
}

// serverHeader returns the last value of a header the server adds to a
// direct get reply: it appends its own after the stored message's, which
// may hold stale copies (a message copied from another stream).
func serverHeader(h nats.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// bound limits ctx by the request timeout when it has no deadline.
func (s *stream) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// read calls each with the messages of sequences from…to (inclusive) in
// order, at most s.batch at a time, on the caller's goroutine, and returns
// how many it delivered. It reads with an ephemeral pull consumer without
// acknowledgements (direct access is not needed: the original system's
// streams lack it), deleted at the end; its inactivity threshold removes
// it on the server should this process die. Every fetch asks for no more
// messages than the range has left, so the server answers at once; the
// read ends at to, or when the consumer has nothing pending (the rest of
// the range was deleted).
func (s *stream) read(ctx context.Context, from, to uint64, each func([]sourceMsg) error) (uint64, error) {
	from = max(from, 1)
	if from > to {
		return 0, nil
	}
	name := "migrate-" + uuid.NewString()
	c, err := s.js.CreateConsumer(ctx, s.name, jetstream.ConsumerConfig{
		Name:              name,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Description:       "personctl migrate: reads the stream once",
	})
	if err != nil {
		return 0, fmt.Errorf("read %s: create a consumer: %w", s.name, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		if err := s.js.DeleteConsumer(dctx, s.name, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			s.log.Warn("migrate: delete the reading consumer (its inactivity threshold removes it)", slog.String("stream", s.name), slog.String("consumer", name), slog.Any("err", err))
		}
	}()
	var n uint64
	last := from - 1
	for last < to {
		want := int(min(uint64(s.batch), to-last))
		batch, err := c.Fetch(want, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return n, fmt.Errorf("read %s: %w", s.name, err)
		}
		msgs := make([]sourceMsg, 0, want)
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return n, fmt.Errorf("read %s: %w", s.name, err)
			}
			if seq := md.Sequence.Stream; seq > last && seq <= to {
				msgs = append(msgs, sourceMsg{seq: seq, subject: m.Subject(), header: m.Headers(), data: m.Data()})
				last = seq
			}
		}
		if err := batch.Error(); err != nil {
			return n, fmt.Errorf("read %s: %w", s.name, err)
		}
		if len(msgs) > 0 {
			n += uint64(len(msgs))
			if err := each(msgs); err != nil {
				return n, err
			}
			continue
		}
		// Nothing came: done if the consumer has nothing pending.
		info, err := c.Info(ctx)
		if err != nil {
			return n, fmt.Errorf("read %s: %w", s.name, err)
		}
		if info.NumPending == 0 {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// fetchWait bounds a fetch that finds fewer messages than the range has
// sequences left (deleted messages).
const fetchWait = time.Second
