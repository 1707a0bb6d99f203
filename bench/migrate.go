package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/migrate"
	"github.com/cim/personrt/runtime/natsserver"
)

func init() {
	register(Scenario{
		Name:  "migrate",
		About: "personctl migrate (dry run, copy with the switch, verify) of a 1M-event stream, 10 events per person interleaved, vs a raw async copy of the same stream; peak RSS. _legacy: the original system's JSON envelopes; _system: this system's stream at schema 1 and current",
		Run:   runMigrate,
	})
}

// Legacy messages of the original system's NatsEventStore (the shapes of
// messages/upcast/testdata/legacy/nats-event-store): externally tagged
// events, person ids as {"id":…}, the old flat name shape.
const (
	legacyCreated = `{"aggregate_id":{"id":"%[1]s"},"sequence":1,"event":{"PersonCreated":{"person_id":{"id":"%[1]s"},` +
		`"name":{"given_name":"Ada","family_name":"Lovelace","middle_names":["Augusta"],"preferred_name":"Ada","honorific":"Countess","suffix":null},` +
		`"source":"hr-import","created_at":"2025-08-07T10:11:12.123456789Z"}},"timestamp":"2025-08-07T12:00:01Z",` +
		`"correlation_id":"7d9c1c1e-2f0a-4b7e-9c6d-5a4b3c2d1e0f","causation_id":"8e0d2d2f-3a1b-4c8f-8d7e-6b5c4d3e2f1a"}`
	legacyRenamed = `{"aggregate_id":{"id":"%[1]s"},"sequence":%[2]d,"event":{"NameUpdated":{"person_id":{"id":"%[1]s"},` +
		`"old_name":{"given_name":"Ada","family_name":"King-%[3]d","middle_names":["Augusta"],"preferred_name":null,"honorific":"Countess","suffix":null},` +
		`"new_name":{"given_name":"Ada","family_name":"King-%[2]d","middle_names":["Augusta"],"preferred_name":null,"honorific":"Countess","suffix":null},` +
		`"reason":"marriage","updated_at":"2025-08-07T12:00:02Z"}},"timestamp":"2025-08-07T12:00:02Z",` +
		`"correlation_id":"7d9c1c1e-2f0a-4b7e-9c6d-5a4b3c2d1e0f","causation_id":"8e0d2d2f-3a1b-4c8f-8d7e-6b5c4d3e2f1a"}`
)

// migrateEventsPerPerson is the length of every person's history.
const migrateEventsPerPerson = 10

// migrateWindow is the writes in flight, for the migration and the raw copy.
const migrateWindow = 4096

// migrateSource is one kind of stream the scenario migrates.
type migrateSource struct {
	name   string // metric suffix
	stream string
	// fill creates the stream and publishes persons × 10 events, the
	// persons' histories interleaved; it returns the payload bytes.
	fill func(ctx context.Context, nc *nats.Conn, stream string, persons int) (int64, error)
}

func runMigrate(ctx context.Context, env *Env) error {
	events := 1_000_000
	if env.Quick {
		events = 50_000
	}
	for _, src := range []migrateSource{
		{name: "legacy", stream: "LEGACY", fill: fillLegacy},
		{name: "system", stream: "PERSON_EVENTS", fill: fillSystem},
	} {
		if err := migrateOne(ctx, env, src, events); err != nil {
			return fmt.Errorf("%s stream: %w", src.name, err)
		}
	}
	return nil
}

// migrateOne fills a stream on a fresh server, copies it raw, then dry
// runs, migrates (with the switch) and verifies it.
func migrateOne(ctx context.Context, env *Env, src migrateSource, events int) error {
	persons := events / migrateEventsPerPerson
	// Interval fsync: with an fsync per write both copies measure the disk.
	srv, err := env.StartServer(natsserver.SyncInterval)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := srv.Stop(sctx); err != nil {
			env.Logf("stop server: %v", err)
		}
	}()
	nc := srv.NC
	env.Logf("%s: filling %s: %d events of %d persons, interleaved", src.name, src.stream, events, persons)
	t0 := time.Now()
	bytesStored, err := src.fill(ctx, nc, src.stream, persons)
	if err != nil {
		return err
	}
	env.Logf("filled in %s (%.0f MB of payload)", time.Since(t0).Round(time.Millisecond), float64(bytesStored)/1e6)

	// Baseline: a raw async copy of the same stream, read the same way (an
	// ephemeral consumer), the same window, a Nats-Msg-Id per message as
	// the migration writes.
	resetPeakRSS()
	rawLive := newLivePeak()
	rawDur, err := rawCopy(ctx, nc, src.stream, "RAW_COPY", "raw.copy", events, rawLive.sample)
	if err != nil {
		return fmt.Errorf("raw copy: %w", err)
	}
	rawRSS := peakRSSMB()
	env.Logf("raw copy: %d events in %s (%.0f/s), peak RSS %.0f MB", events, rawDur.Round(time.Millisecond), float64(events)/rawDur.Seconds(), rawRSS)

	migLive := newLivePeak()
	logProgress := progressLogger(env)
	m, err := migrate.New(migrate.Config{
		Source: nc, SourceStream: src.stream, TargetStream: src.stream + "_V2",
		Store:         pjs.Config{},
		MaxInFlight:   migrateWindow,
		ProgressEvery: 100 * time.Millisecond,
		Progress: func(p migrate.Progress) {
			if p.Phase == "copy" {
				migLive.sample()
			}
			logProgress(p)
		},
	})
	if err != nil {
		return err
	}
	env.Logf("dry run")
	t0 = time.Now()
	report, err := m.DryRun(ctx)
	if err != nil {
		return err
	}
	dryDur := time.Since(t0)
	if !report.OK() || report.Events != uint64(events) {
		return fmt.Errorf("dry run: %d events, OK %t", report.Events, report.OK())
	}

	env.Logf("migrate")
	resetPeakRSS()
	res, err := m.Migrate(ctx, migrate.MigrateOptions{})
	if err != nil {
		return err
	}
	migRSS := peakRSSMB()
	if res.Written != uint64(events) || res.Status.Phase != migrate.PhaseSwitched {
		return fmt.Errorf("migrate: wrote %d of %d events, phase %s", res.Written, events, res.Status.Phase)
	}
	env.Logf("migrated: %d events (%d upcast) in %s (%.0f/s), peak RSS %.0f MB", res.Written, res.Report.Upcasts, res.Elapsed.Round(time.Millisecond), res.EventsPerSec(), migRSS)

	env.Logf("verify (sample of 1000 persons; every event decoded)")
	t0 = time.Now()
	v, err := m.Verify(ctx, migrate.VerifyOptions{Sample: 1000})
	if err != nil {
		return err
	}
	verifyDur := time.Since(t0)
	if !v.OK() {
		return fmt.Errorf("verify found %d differences: %+v", v.DifferenceCount, v.Differences)
	}

	sfx := "_" + src.name
	env.Compare("events_per_s"+sfx, res.EventsPerSec(), float64(events)/rawDur.Seconds(), Higher)
	env.Compare("seconds"+sfx, res.Elapsed.Seconds(), rawDur.Seconds(), Lower)
	env.Compare("peak_rss_mb"+sfx, migRSS, rawRSS, Lower)
	env.Compare("peak_live_heap_mb"+sfx, migLive.mb(), rawLive.mb(), Lower)
	env.Report("stream_mb"+sfx, float64(bytesStored)/1e6, Lower)
	env.Report("upcast_pct"+sfx, 100*float64(res.Report.Upcasts)/float64(events), Lower)
	env.Report("dry_run_events_per_s"+sfx, float64(events)/dryDur.Seconds(), Higher)
	env.Report("verify_events_per_s"+sfx, float64(v.SourceEvents+v.TargetEvents)/verifyDur.Seconds(), Higher)
	return nil
}

// fillLegacy creates a stream like the original system's PERSON_EVENTS
// (no direct get, subjects person.events.> and person.commands.>) and
// publishes persons × 10 legacy events, the persons' histories
// interleaved: round k publishes every person's k-th event in a random
// order. It returns the payload bytes stored.
func fillLegacy(ctx context.Context, nc *nats.Conn, name string, persons int) (int64, error) {
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(migrateWindow),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return 0, err
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{"person.events.>", "person.commands.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	}); err != nil {
		return 0, err
	}
	var total int64
	err = interleave(persons, func(id string, k int) error {
		var data []byte
		subject := "person.events." + id
		if k == 1 {
			data, subject = fmt.Appendf(nil, legacyCreated, id), subject+".created"
		} else {
			data, subject = fmt.Appendf(nil, legacyRenamed, id, k, k-1), subject+".name_updated"
		}
		total += int64(len(data))
		_, err := js.PublishAsync(subject, data, jetstream.WithStallWait(time.Minute))
		return err
	})
	if err != nil {
		return 0, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%d publishes failed", n)
	}
	return total, nil
}

// interleave calls publish for every person's k-th event (k from 1 to
// migrateEventsPerPerson), round k visiting the persons in a random order.
func interleave(persons int, publish func(id string, k int) error) error {
	ids := make([]string, persons)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(persons)
	for k := 1; k <= migrateEventsPerPerson; k++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, p := range order {
			if err := publish(ids[p], k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bodies of this system's events at schema 1, as an early version of the
// event store wrote them (messages/upcast/testdata/schema).
const (
	systemCreatedV1 = `{"person_id":"%[1]s","name":{"first_name":"John","middle_name":"Q","last_name":"Public"},` +
		`"source":"csv-import","created_at":"2025-08-07T10:11:12.123456789Z"}`
	systemRenamedV1 = `{"person_id":{"id":"%[1]s"},"old_name":{"given_name":"Ada","family_name":"King-%[3]d","middle_names":["Augusta"],"preferred_name":null,"honorific":"Countess","suffix":null},` +
		`"new_name":{"given_name":"Ada","family_name":"King-%[2]d","middle_names":["Augusta"],"preferred_name":null,"honorific":"Countess","suffix":null},` +
		`"reason":"marriage","updated_at":"2025-08-07T11:00:00Z"}`
)

// fillSystem creates this system's event stream (the event store's
// config) and publishes persons × 10 events as the event store stores
// them (Cim-* headers, one subject per person): PersonCreated at schema 1,
// then renames alternately at schema 1 (upcast by the migration) and at
// the current schema (copied as they are).
func fillSystem(ctx context.Context, nc *nats.Conn, name string, persons int) (int64, error) {
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(migrateWindow),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return 0, err
	}
	if _, err := js.CreateStream(ctx, pjs.StreamConfig(pjs.Config{Stream: name})); err != nil {
		return 0, err
	}
	var total int64
	err = interleave(persons, func(id string, k int) error {
		typ, schema := "NameUpdated", "1"
		var data []byte
		switch {
		case k == 1:
			typ, data = "PersonCreated", fmt.Appendf(nil, systemCreatedV1, id)
		case k%2 == 0:
			data = fmt.Appendf(nil, systemRenamedV1, id, k, k-1)
		default:
			schema = "2"
			data, _ = mustEncode(nameUpdated(uint64(k)), pjs.PayloadJSON)
		}
		total += int64(len(data))
		msg := &nats.Msg{Subject: "person.events." + id, Data: data, Header: nats.Header{
			"Nats-Msg-Id":        {uuid.NewString()},
			"Cim-Event-Type":     {typ},
			"Cim-Schema-Version": {schema},
			"Cim-Person-Id":      {id},
			"Cim-Person-Version": {strconv.Itoa(k)},
			"Cim-Occurred-At":    {"2025-08-07T11:00:00Z"},
			"Content-Type":       {"application/json"},
		}}
		_, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
		return err
	})
	if err != nil {
		return 0, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%d publishes failed", n)
	}
	return total, nil
}

// rawCopy copies every message of src to a new stream dst (the event
// store's stream config on prefix) with async publishes, migrateWindow in
// flight, reading with an ephemeral consumer fetching 256 at a time in its
// own goroutine, as the migration reads a stream without direct get.
func rawCopy(ctx context.Context, nc *nats.Conn, src, dst, prefix string, want int, sample func()) (time.Duration, error) {
	var pubErrs atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(migrateWindow),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { pubErrs.Add(1) }))
	if err != nil {
		return 0, err
	}
	if _, err := js.CreateStream(ctx, pjs.StreamConfig(pjs.Config{Stream: dst, SubjectPrefix: prefix})); err != nil {
		return 0, err
	}
	start := time.Now()
	cons, err := js.CreateConsumer(ctx, src, jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		// The consumer expires by itself too.
		_ = js.DeleteConsumer(context.WithoutCancel(ctx), src, cons.CachedInfo().Name)
	}()
	batches := make(chan []jetstream.Msg, 4)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		for {
			b, err := cons.FetchNoWait(256)
			if err != nil {
				readErr <- err
				return
			}
			var msgs []jetstream.Msg
			end := true
			for m := range b.Messages() {
				msgs = append(msgs, m)
				md, err := m.Metadata()
				end = err != nil || md.NumPending == 0
			}
			if err := b.Error(); err != nil {
				readErr <- err
				return
			}
			select {
			case batches <- msgs:
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
			if end {
				readErr <- nil
				return
			}
		}
	}()
	n := 0
	for msgs := range batches {
		if n%25_000 < len(msgs) {
			sample()
		}
		for _, m := range msgs {
			md, err := m.Metadata()
			if err != nil {
				return 0, err
			}
			h := nats.Header{}
			for k, v := range m.Headers() {
				h[k] = v
			}
			h[jetstream.MsgIDHeader] = []string{src + ":" + strconv.FormatUint(md.Sequence.Stream, 10)}
			subject := prefix + strings.TrimPrefix(m.Subject(), "person.events")
			if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Header: h, Data: m.Data()}, jetstream.WithStallWait(time.Minute)); err != nil {
				return 0, err
			}
			n++
		}
	}
	if err := <-readErr; err != nil {
		return 0, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	d := time.Since(start)
	switch {
	case pubErrs.Load() > 0:
		return 0, fmt.Errorf("%d publishes failed", pubErrs.Load())
	case n != want:
		return 0, fmt.Errorf("copied %d of %d messages", n, want)
	}
	return d, nil
}

// progressLogger logs the migration's progress every 5s and at the end
// of each phase.
func progressLogger(env *Env) func(migrate.Progress) {
	var last time.Time
	return func(p migrate.Progress) {
		if !p.Final && time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		env.Logf("%s: %d/%d (%.0f/s)", p.Phase, p.Done, p.Total, p.Rate())
	}
}

// livePeak tracks the peak of the live heap (as of the last GC: the
// memory the process holds, server included, without the garbage a GC
// would free), sampled during a run.
type livePeak struct {
	s    []metrics.Sample
	peak uint64
}

func newLivePeak() *livePeak {
	return &livePeak{s: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
}

func (l *livePeak) sample() {
	metrics.Read(l.s)
	if l.s[0].Value.Kind() == metrics.KindUint64 {
		l.peak = max(l.peak, l.s[0].Value.Uint64())
	}
}

func (l *livePeak) mb() float64 { return float64(l.peak) / (1 << 20) }

// resetPeakRSS returns freed memory to the OS and resets the process's
// peak RSS (VmHWM) where Linux allows it; peakRSSMB then reports the peak
// since.
func resetPeakRSS() {
	debug.FreeOSMemory()
	// Not every kernel allows it; the peak then covers the whole run.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB returns VmHWM from /proc/self/status in MB, or the Go
// runtime's Sys where /proc is missing.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := bytes.CutPrefix(s.Bytes(), []byte("VmHWM:")); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.Sys) / (1 << 20)
}
