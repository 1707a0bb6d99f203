package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/natsserver"
)

func init() {
	register(Scenario{
		Name:  "append",
		About: "1 writer, 1 event per append (and 3-event atomic appends) vs raw js.Publish with the same headers; fsync always and interval",
		Run:   func(ctx context.Context, env *Env) error { return runAppend(ctx, env, 1) },
	})
	register(Scenario{
		Name:  "append-concurrent",
		About: "64 persons appended in parallel vs raw concurrent OCC publish; fsync always and interval",
		Run:   func(ctx context.Context, env *Env) error { return runAppend(ctx, env, 64) },
	})
}

// appendBench holds one server with the adapter's stream and a raw stream
// of the same configuration.
type appendBench struct {
	store       *pjs.Store
	js          jetstream.JetStream
	nc          *nats.Conn
	payload     []byte // the raw baseline's pre-encoded body
	contentType string

	persons    []string // adapter persons, one slice per worker region
	versions   []uint64
	rawPersons []string
	rawSeqs    []uint64 // last stream sequence per raw person (from the acks)
}

func newAppendBench(ctx context.Context, env *Env, sync, payload string, persons int) (*appendBench, error) {
	srv, err := env.StartServer(sync)
	if err != nil {
		return nil, err
	}
	nc := srv.NC
	store, err := pjs.Open(ctx, nc, pjs.Config{Payload: payload})
	if err != nil {
		return nil, err
	}
	env.Defer(func() { _ = store.Close() }) // Close always returns nil
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	// The raw stream: the adapter's stream configuration, under another name.
	raw, err := pjs.Open(ctx, nc, pjs.Config{Stream: "RAW_EVENTS", SubjectPrefix: "raw.events", SnapshotBucket: "RAW_SNAPSHOTS"})
	if err != nil {
		return nil, err
	}
	env.Defer(func() { _ = raw.Close() }) // Close always returns nil
	body, contentType := mustEncode(nameUpdated(1_000_000), payload)
	return &appendBench{
		store: store, js: js, nc: nc,
		payload: body, contentType: contentType,
		persons:    newPersonIDs(persons),
		versions:   make([]uint64, persons),
		rawPersons: newPersonIDs(persons),
		rawSeqs:    make([]uint64, persons),
	}, nil
}

// person picks the i-th person of worker w among workers; each worker owns
// its persons, so at most one append per person is in flight.
func person(w, i, workers, persons int) int {
	per := persons / workers
	return w*per + i%per
}

// adapterOp appends n events to the adapter.
func (b *appendBench) adapterOp(workers, n int) op {
	return func(ctx context.Context, w, i int) (time.Duration, error) {
		p := person(w, i, workers, len(b.persons))
		id, v := b.persons[p], b.versions[p]
		events := make([]*personv1.EventEnvelope, n)
		for k := range events {
			events[k] = newEvent(id, v+uint64(k)+1, nameUpdated(v+uint64(k)))
		}
		t0 := time.Now()
		nv, err := b.store.Append(ctx, id, v, events)
		d := time.Since(t0)
		b.versions[p] = nv
		return d, err
	}
}

// rawOp publishes n events with the same headers as the adapter: one
// js.PublishMsg, or one raw atomic batch for n > 1.
func (b *appendBench) rawOp(workers, n int) op {
	return func(ctx context.Context, w, i int) (time.Duration, error) {
		p := person(w, i, workers, len(b.rawPersons))
		id := b.rawPersons[p]
		subject := "raw.events." + id
		events := make([]*personv1.EventEnvelope, n)
		for k := range events {
			events[k] = newEvent(id, uint64(i*n+k+1), nameUpdated(uint64(i)))
		}
		// Timed like Append: building the messages (headers; the payload
		// is encoded once, so the adapter's encoding counts against it) and
		// publishing.
		t0 := time.Now()
		msgs := make([]*nats.Msg, n)
		for k, e := range events {
			msgs[k] = rawMsg(subject, e, b.payload, b.contentType, b.rawSeqs[p])
		}
		var seq uint64
		var err error
		if n == 1 {
			var ack *jetstream.PubAck
			if ack, err = b.js.PublishMsg(ctx, msgs[0]); err == nil {
				seq = ack.Sequence
			}
		} else {
			seq, err = rawBatch(ctx, b.nc, msgs)
		}
		d := time.Since(t0)
		b.rawSeqs[p] = seq
		return d, err
	}
}

// rawBatch publishes msgs as one atomic batch (the protocol the adapter
// uses; see persistence/jetstream).
func rawBatch(ctx context.Context, nc *nats.Conn, msgs []*nats.Msg) (uint64, error) {
	id := uuid.NewString()
	for i, m := range msgs {
		m.Header["Nats-Batch-Id"] = []string{id}
		m.Header["Nats-Batch-Sequence"] = []string{strconv.Itoa(i + 1)}
		if i > 0 {
			delete(m.Header, "Nats-Expected-Last-Subject-Sequence")
		}
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(m); err != nil {
				return 0, err
			}
		}
	}
	last := msgs[len(msgs)-1]
	last.Header["Nats-Batch-Commit"] = []string{"1"}
	resp, err := nc.RequestMsgWithContext(ctx, last)
	if err != nil {
		return 0, err
	}
	var ack struct {
		Error *jetstream.APIError `json:"error"`
		Seq   uint64              `json:"seq"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, err
	}
	if ack.Error != nil {
		return 0, ack.Error
	}
	return ack.Seq, nil
}

// runAppend measures single-event appends with workers writers, with JSON
// (the default) and binary payloads, and for one writer 3-event atomic
// appends, in both fsync modes.
func runAppend(ctx context.Context, env *Env, workers int) error {
	rounds, window := 6, 1500*time.Millisecond
	if env.Quick {
		rounds, window = 2, 400*time.Millisecond
	}
	persons := 1000
	if workers > 1 {
		persons = workers // one person per writer
	}
	payloads := []string{pjs.PayloadJSON, pjs.PayloadProtobuf}
	for _, sync := range []string{natsserver.SyncAlways, natsserver.SyncInterval} {
		for _, payload := range payloads {
			b, err := newAppendBench(ctx, env, sync, payload, persons)
			if err != nil {
				return err
			}
			suffix := ""
			if sync == natsserver.SyncInterval {
				suffix = "_sync_interval"
			}
			if payload == pjs.PayloadProtobuf {
				suffix += "_protobuf"
			}
			// Warm up both paths (connections, caches, block files).
			if _, _, err := alternate(ctx, 1, workers, window/4, b.adapterOp(workers, 1), b.rawOp(workers, 1)); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			env.Logf("fsync %s, payload %s: %d writers, %d rounds of %s", sync, payload, workers, rounds, window)
			s, r, err := alternate(ctx, rounds, workers, window, b.adapterOp(workers, 1), b.rawOp(workers, 1))
			if err != nil {
				return err
			}
			env.Compare("p50_us"+suffix, s.lat.Micros(0.5), r.lat.Micros(0.5), Lower)
			env.Compare("p99_us"+suffix, s.lat.Micros(0.99), r.lat.Micros(0.99), Lower)
			env.Compare("ops_per_s"+suffix, s.opsPerSec(), r.opsPerSec(), Higher)
			if workers > 1 || payload != pjs.PayloadJSON {
				continue
			}
			env.Logf("fsync %s: 3-event atomic appends", sync)
			s, r, err = alternate(ctx, max(2, rounds/2), workers, window/2, b.adapterOp(workers, 3), b.rawOp(workers, 3))
			if err != nil {
				return fmt.Errorf("3-event appends: %w", err)
			}
			env.Compare("batch3_p50_us"+suffix, s.lat.Micros(0.5), r.lat.Micros(0.5), Lower)
			env.Compare("batch3_p99_us"+suffix, s.lat.Micros(0.99), r.lat.Micros(0.99), Lower)
			env.Compare("batch3_ops_per_s"+suffix, s.opsPerSec(), r.opsPerSec(), Higher)
		}
	}
	return nil
}
