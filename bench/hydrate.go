package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/natsserver"
)

func init() {
	register(Scenario{
		Name:  "hydrate",
		About: "hydrate persons with 10/100/1000 events interleaved in a 1M-event stream (100k persons), with snapshots and without, vs raw direct get",
		Run:   runHydrate,
	})
}

// snapshotEvery is the snapshot interval the hydrate scenario assumes (the
// recommendation in bench/README.md): a hydrated person has a snapshot at
// a version L-t with t uniform in [0, snapshotEvery).
const snapshotEvery = 16

// hydrateClass is a group of persons with the same history length.
type hydrateClass struct {
	length  int // events per person
	persons int // persons in the stream
	samples int // hydrations measured per mode
}

// hydratePerson is a person under measurement.
type hydratePerson struct {
	id      string
	length  int
	snapVer uint64 // 0: no snapshot
	snapSeq uint64 // stream sequence of the snapshot's event (raw baseline)
}

func runHydrate(ctx context.Context, env *Env) error {
	classes := []hydrateClass{{1000, 10, 100}, {100, 200, 200}, {10, 97_000, 1000}}
	if env.Quick {
		classes = []hydrateClass{{1000, 5, 40}, {100, 60, 60}, {10, 9_000, 300}}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	srv, err := env.StartServer(natsserver.SyncInterval)
	if err != nil {
		return err
	}
	nc := srv.NC
	fill, err := pjs.Open(ctx, nc, pjs.Config{})
	if err != nil {
		return err
	}
	env.Defer(func() { _ = fill.Close() }) // Close always returns nil
	byClass, total, err := fillInterleaved(ctx, env, nc, classes, rng)
	if err != nil {
		return err
	}

	// Persons to measure: per class a sample for the main figures, and for
	// the tail curve (100-event persons not in the main sample).
	main := make([][]*hydratePerson, len(classes))
	var curve []*hydratePerson
	for c, cl := range classes {
		ids := byClass[c]
		n := min(len(ids), cl.samples)
		if cl.length == 100 {
			n = len(ids) / 2
			for _, id := range ids[n:] {
				curve = append(curve, &hydratePerson{id: id, length: cl.length})
			}
		}
		for _, id := range ids[:n] {
			p := &hydratePerson{id: id, length: cl.length}
			if t := rng.IntN(snapshotEvery); cl.length-t >= 1 {
				p.snapVer = uint64(cl.length - t)
			}
			main[c] = append(main[c], p)
		}
	}
	env.Logf("saving snapshots")
	for _, ps := range main {
		if err := saveSnapshots(ctx, fill, nc, ps); err != nil {
			return err
		}
	}

	env.Logf("stream holds %d events over %d persons; measuring", total, countPersons(byClass))
	var h *hydrator
	for c, cl := range classes {
		ps := main[c]
		reps := max(1, cl.samples/len(ps))
		// Cold: right after a server restart no block is cached (a node
		// restart, the worst case); each person is hydrated once.
		if srv, h, err = restart(ctx, env, srv); err != nil {
			return err
		}
		s, r, err := h.measure(ctx, ps, 1, true, false)
		if err != nil {
			return fmt.Errorf("hydrate %d-event persons cold: %w", cl.length, err)
		}
		m := "cold_snap_p%s_us_len" + strconv.Itoa(cl.length)
		env.Compare(fmt.Sprintf(m, "50"), s.Micros(0.5), r.Micros(0.5), Lower)
		env.Compare(fmt.Sprintf(m, "99"), s.Micros(0.99), r.Micros(0.99), Lower)
		// Warm: the steady state of a running node, whose traffic keeps the
		// stream's blocks cached.
		for _, snap := range []bool{false, true} {
			s, r, err := h.measure(ctx, ps, reps, snap, true)
			if err != nil {
				return fmt.Errorf("hydrate %d-event persons: %w", cl.length, err)
			}
			prefix := "nosnap_"
			if snap {
				prefix = "snap_"
			}
			m := prefix + "p%s_us_len" + strconv.Itoa(cl.length)
			env.Compare(fmt.Sprintf(m, "50"), s.Micros(0.5), r.Micros(0.5), Lower)
			env.Compare(fmt.Sprintf(m, "99"), s.Micros(0.99), r.Micros(0.99), Lower)
		}
	}
	nc = srv.NC

	// Tail curve: hydration cost against the number of events after the
	// snapshot, on 100-event persons (snapshots saved newest-last, since a
	// store never replaces a newer snapshot).
	for _, tail := range []int{64, 32, 16, 8, 4, 0} {
		for _, p := range curve {
			p.snapVer = uint64(p.length - tail)
		}
		if err := saveSnapshots(ctx, h.store, nc, curve); err != nil {
			return err
		}
		s, _, err := h.measure(ctx, curve, 2, true, true)
		if err != nil {
			return fmt.Errorf("tail %d: %w", tail, err)
		}
		env.Report(fmt.Sprintf("tail%d_p50_us", tail), s.Micros(0.5), Lower)
		env.Report(fmt.Sprintf("tail%d_p99_us", tail), s.Micros(0.99), Lower)
	}
	return nil
}

// restart stops srv and starts a server on its store directory, and a
// hydrator on it.
func restart(ctx context.Context, env *Env, srv *Server) (*Server, *hydrator, error) {
	if err := srv.Stop(ctx); err != nil {
		return nil, nil, err
	}
	srv, err := env.StartServerAt(srv.Dir, natsserver.SyncInterval)
	if err != nil {
		return nil, nil, err
	}
	h, err := newHydrator(ctx, srv.NC)
	if err != nil {
		return nil, nil, err
	}
	env.Defer(func() { _ = h.store.Close() }) // Close always returns nil
	return srv, h, nil
}

func countPersons(byClass [][]string) int {
	n := 0
	for _, ids := range byClass {
		n += len(ids)
	}
	return n
}

// fillInterleaved publishes every class's events in one random order, each
// person's events in version order, with exactly the adapter's headers and
// payload encoding (pipelined async publish: the fill is not measured).
func fillInterleaved(ctx context.Context, env *Env, nc *nats.Conn, classes []hydrateClass, rng *rand.Rand) ([][]string, int, error) {
	byClass := make([][]string, len(classes))
	var order []int32 // person index per event
	var ids []string
	for c, cl := range classes {
		byClass[c] = newPersonIDs(cl.persons)
		for _, id := range byClass[c] {
			for range cl.length {
				order = append(order, int32(len(ids)))
			}
			ids = append(ids, id)
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return nil, 0, err
	}
	payloads := make([][]byte, 16)
	for i := range payloads {
		payloads[i], _ = mustEncode(nameUpdated(uint64(i)), pjs.PayloadJSON)
	}
	body := nameUpdated(0)
	versions := make([]uint64, len(ids))
	// One publisher on a fresh stream: the i-th message gets stream sequence
	// i+1, so the fill writes the adapter's backlinks (Cim-Prev-Seqs, 16 deep)
	// exactly as Append would; the hydrating store checks every link.
	tails := make([][]uint64, len(ids))
	start := time.Now()
	env.Logf("filling %d events over %d persons", len(order), len(ids))
	for i, p := range order {
		versions[p]++
		id := ids[p]
		e := newEvent(id, versions[p], body)
		m := rawMsg("person.events."+id, e, payloads[i%len(payloads)], "application/json", 0)
		delete(m.Header, "Nats-Expected-Last-Subject-Sequence")
		if t := tails[p]; len(t) > 0 {
			m.Header["Cim-Prev-Seqs"] = []string{prevSeqs(t)}
		}
		tails[p] = append([]uint64{uint64(i) + 1}, tails[p][:min(len(tails[p]), 15)]...)
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			return nil, 0, fmt.Errorf("fill event %d: %w", i, err)
		}
		if i%200_000 == 0 && i > 0 {
			env.Logf("filled %d events (%.0f/s)", i, float64(i)/time.Since(start).Seconds())
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	if n := failed.Load(); n > 0 {
		return nil, 0, fmt.Errorf("fill: %d publishes failed", n)
	}
	env.Logf("filled %d events in %s", len(order), time.Since(start).Round(time.Millisecond))
	return byClass, len(order), nil
}

// prevSeqs formats the Cim-Prev-Seqs header (persistence/jetstream package
// doc): the newest sequence, then the difference to each older one.
func prevSeqs(seqs []uint64) string {
	b := strconv.AppendUint(nil, seqs[0], 10)
	for i := 1; i < len(seqs); i++ {
		b = append(b, ',')
		b = strconv.AppendUint(b, seqs[i-1]-seqs[i], 10)
	}
	return string(b)
}

// saveSnapshots saves each person's snapshot (when it has one) through the
// store, and records the stream sequence of its event for the raw baseline.
func saveSnapshots(ctx context.Context, store *pjs.Store, nc *nats.Conn, ps []*hydratePerson) error {
	state, err := proto.Marshal(&personv1.PersonSnapshot{
		SchemaVersion: 1, Lifecycle: personv1.LifecycleState_LIFECYCLE_STATE_ACTIVE,
		Name:   nameUpdated(0).GetNameUpdated().GetNewName(),
		Source: "bench", StatusReason: "a state of realistic size",
	})
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.snapVer == 0 {
			continue
		}
		s := persistence.Snapshot{PersonID: p.id, Version: p.snapVer, SchemaVersion: 1, State: state}
		if err := store.SaveSnapshot(ctx, s); err != nil {
			return err
		}
		_, err := rawRead(ctx, nc, "person.events."+p.id, 0, func(m *nats.Msg, seq uint64) bool {
			if m.Header.Get("Cim-Person-Version") == strconv.FormatUint(p.snapVer, 10) {
				p.snapSeq = seq
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// warnCounter is a slog handler that counts warnings: the hydrating store
// warns only when backlinks are broken, which would mean the fill does not
// match the adapter's format and the figures would be wrong.
type warnCounter struct{ n *atomic.Int64 }

func (h warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h warnCounter) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h warnCounter) WithGroup(string) slog.Handler                { return h }

// hydrator hydrates persons the way a grain activation does, through a
// store whose position cache holds one person only (so every hydration
// starts cold), and the raw baseline through plain direct gets.
type hydrator struct {
	store  *pjs.Store
	nc     *nats.Conn
	kv     jetstream.KeyValue
	warned atomic.Int64 // warnings of store
}

func newHydrator(ctx context.Context, nc *nats.Conn) (*hydrator, error) {
	h := &hydrator{nc: nc}
	store, err := pjs.Open(ctx, nc, pjs.Config{CacheSize: 1, Logger: slog.New(warnCounter{&h.warned})})
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if h.kv, err = js.KeyValue(ctx, "PERSON_SNAPSHOTS"); err != nil {
		return nil, err
	}
	h.store = store
	return h, nil
}

// hydrateFunc hydrates one person and records the latency.
type hydrateFunc func(ctx context.Context, p *hydratePerson, withSnapshots bool, lat *Latencies) error

// measure hydrates every person reps times, round-robin (consecutive
// hydrations are of different persons), first through the adapter, then
// raw, each after an unmeasured warm-up pass when warm is set. The two run
// apart because the raw scan makes the server load and drop whole blocks,
// which would slow the adapter's samples next to it. Cold (no warm-up),
// the adapter takes the even persons and raw the odd ones, so that neither
// reads blocks the other has just loaded. It returns (adapter, raw).
func (h *hydrator) measure(ctx context.Context, ps []*hydratePerson, reps int, withSnapshots, warm bool) (*Latencies, *Latencies, error) {
	var lats [2]Latencies
	for k, f := range []hydrateFunc{h.adapter, h.raw} {
		persons := ps
		if !warm {
			persons = nil
			for i := k; i < len(ps); i += 2 {
				persons = append(persons, ps[i])
			}
		}
		if warm {
			var discard Latencies
			for _, p := range persons {
				if err := f(ctx, p, withSnapshots, &discard); err != nil {
					return nil, nil, err
				}
			}
		}
		for range reps {
			for _, p := range persons {
				if err := f(ctx, p, withSnapshots, &lats[k]); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if n := h.warned.Load(); n > 0 {
		return nil, nil, fmt.Errorf("the store found %d broken backlinks: the fill does not match the adapter", n)
	}
	return &lats[0], &lats[1], nil
}

// adapter hydrates p through the store: snapshot, then the events after it.
func (h *hydrator) adapter(ctx context.Context, p *hydratePerson, withSnapshots bool, s *Latencies) error {
	t0 := time.Now()
	from := uint64(1)
	if withSnapshots {
		snap, err := h.store.LoadSnapshot(ctx, p.id)
		switch {
		case err == nil:
			var st personv1.PersonSnapshot
			if err := proto.Unmarshal(snap.State, &st); err != nil {
				return err
			}
			from = snap.Version + 1
		case !errors.Is(err, persistence.ErrNotFound):
			return err
		}
	}
	n := uint64(0)
	err := h.store.Load(ctx, p.id, from, func(*personv1.EventEnvelope) error { n++; return nil })
	s.Add(time.Since(t0))
	if err != nil {
		return err
	}
	if want := uint64(p.length) - from + 1; n != want {
		return fmt.Errorf("hydrated %d events of %s from %d, want %d", n, p.id, from, want)
	}
	return nil
}

// raw reads the same bytes with plain JetStream calls: the KV entry, then a
// batched direct get from the snapshot's stream sequence on, no decoding.
func (h *hydrator) raw(ctx context.Context, p *hydratePerson, withSnapshots bool, r *Latencies) error {
	t0 := time.Now()
	var start uint64
	if withSnapshots {
		_, err := h.kv.Get(ctx, p.id)
		switch {
		case err == nil:
			start = p.snapSeq + 1
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
	}
	_, err := rawRead(ctx, h.nc, "person.events."+p.id, start, func(*nats.Msg, uint64) bool { return true })
	r.Add(time.Since(t0))
	return err
}

// rawRead reads subject from stream sequence start with batched direct gets
// of 256, calling each until it returns false. It returns the count read.
func rawRead(ctx context.Context, nc *nats.Conn, subject string, start uint64, each func(*nats.Msg, uint64) bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, err
	}
	defer func() { _ = sub.Unsubscribe() }() // fails only on a closed connection
	n := 0
	for {
		req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":256}`, start, subject)
		if err := nc.PublishRequest("$JS.API.DIRECT.GET.PERSON_EVENTS", inbox, req); err != nil {
			return n, err
		}
	batch:
		for {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				return n, err
			}
			switch m.Header.Get("Status") {
			case "":
				seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
				if err != nil {
					return n, err
				}
				n++
				start = seq + 1
				if !each(m, seq) {
					return n, nil
				}
			case "404":
				return n, nil
			case "204":
				if m.Header.Get("Nats-Num-Pending") == "0" {
					return n, nil
				}
				break batch
			default:
				return n, fmt.Errorf("direct get: status %s", m.Header.Get("Status"))
			}
		}
	}
}
