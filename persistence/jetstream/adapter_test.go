package jetstream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
	"github.com/cim/personrt/runtime/natsserver"
)

// streamMsgs returns the number of messages in the event stream.
func streamMsgs(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), "PERSON_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func loadAll(t *testing.T, s persistence.EventStore, personID string, from uint64) ([]*personv1.EventEnvelope, error) {
	t.Helper()
	var got []*personv1.EventEnvelope
	err := s.Load(t.Context(), personID, from, func(e *personv1.EventEnvelope) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

func versionsOf(events []*personv1.EventEnvelope) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.GetVersion()
	}
	return out
}

// TestTwoStoresOneWins: two stores (two nodes, separate connections and
// caches) race on one person; exactly one wins every round.
func TestTwoStoresOneWins(t *testing.T) {
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	nc2, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	a, err := jetstream.Open(t.Context(), nc, jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := jetstream.Open(t.Context(), nc2, jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	stores := []*jetstream.Store{a, b}
	p := storetest.NewPersonID()
	var version uint64
	for round := range 30 {
		n := 1 + round%2
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for w, s := range stores {
			events := storetest.Events(p, version+1, n)
			wg.Go(func() {
				<-start
				_, errs[w] = s.Append(t.Context(), p, version, events)
			})
		}
		close(start)
		wg.Wait() // both appends end by the store's request timeout
		winners := 0
		for _, err := range errs {
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, persistence.ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners (%v), want 1", round, winners, errs)
		}
		version += uint64(n)
	}
	for _, s := range stores {
		got, err := loadAll(t, s, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(got)) != version {
			t.Fatalf("loaded versions %v, want 1..%d", versionsOf(got), version)
		}
	}
	if got := streamMsgs(t, nc); got != version {
		t.Fatalf("stream holds %d messages, want %d", got, version)
	}
}

// TestRetryAfterLostAck: a writer whose ack was lost retries the same
// events from a store that knows nothing (a restarted node): the append
// succeeds with the same version and nothing is written twice, whichever
// path detects it (the server's expectation check or the cache miss).
func TestRetryAfterLostAck(t *testing.T) {
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	first, err := jetstream.Open(t.Context(), nc, jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		before int // events stored before the retried append
		n      int // events in the retried append
	}{
		{"create (expected 0, single event)", 0, 1},
		{"create (expected 0, atomic batch)", 0, 3},
		{"single event", 2, 1},
		{"atomic batch", 2, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := storetest.NewPersonID()
			all := storetest.Events(p, 1, tc.before+tc.n)
			if tc.before > 0 {
				if _, err := first.Append(t.Context(), p, 0, all[:tc.before]); err != nil {
					t.Fatal(err)
				}
			}
			retried := all[tc.before:]
			if _, err := first.Append(t.Context(), p, uint64(tc.before), retried); err != nil {
				t.Fatal(err)
			}
			msgs := streamMsgs(t, nc)
			nc2, err := srv.Connect()
			if err != nil {
				t.Fatal(err)
			}
			defer nc2.Close()
			fresh, err := jetstream.Open(t.Context(), nc2, jetstream.Config{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := fresh.Append(t.Context(), p, uint64(tc.before), retried)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if want := uint64(len(all)); got != want {
				t.Fatalf("retry returned version %d, want %d", got, want)
			}
			if after := streamMsgs(t, nc); after != msgs {
				t.Fatalf("retry wrote %d messages", after-msgs)
			}
			loaded, err := loadAll(t, fresh, p, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded) != len(all) {
				t.Fatalf("loaded versions %v, want %d events", versionsOf(loaded), len(all))
			}
		})
	}
}

// rawGolden is a raw message of the original system (a messages/upcast
// golden file).
type rawGolden struct {
	Headers map[string][]string `json:"headers"`
	Data    json.RawMessage     `json:"data"`
	seq     int                 // the envelope's sequence
}

// legacyGoldens returns the raw NatsEventStore messages of the goldens'
// person in version order, skipping events without a counterpart.
func legacyGoldens(t *testing.T) []rawGolden {
	t.Helper()
	files, err := filepath.Glob("../../messages/upcast/testdata/legacy/nats-event-store/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []rawGolden
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") || strings.Contains(f, "Component") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m rawGolden
		var env struct {
			Sequence int `json:"sequence"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m.seq = env.Sequence
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	if len(out) != 9 || out[0].seq != 1 || out[8].seq != 9 {
		t.Fatalf("found %d legacy goldens, want versions 1..9", len(out))
	}
	return out
}

// TestLegacyStreamLoads: raw messages of the original system, published
// into the stream as it stored them (no headers), load as today's events,
// and new events append on top.
func TestLegacyStreamLoads(t *testing.T) {
	s, nc := open(t, jetstream.Config{}, natstest.WithSyncInterval())
	const p = "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6" // the goldens' person
	for _, m := range legacyGoldens(t) {
		if err := nc.PublishMsg(&nats.Msg{Subject: "person.events." + p, Header: m.Headers, Data: m.Data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, func() bool { return streamMsgs(t, nc) == 9 })
	got, err := loadAll(t, s, p, 0)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantTypes := []string{"PersonCreated", "NameUpdated", "NameUpdated", "NameUpdated", "BirthDateSet", "PersonDeactivated", "PersonReactivated", "DeathRecorded", "PersonMergedInto"}
	if len(got) != len(wantTypes) {
		t.Fatalf("loaded %d events, want %d", len(got), len(wantTypes))
	}
	for i, e := range got {
		if e.GetType() != wantTypes[i] || e.GetVersion() != uint64(i+1) || e.GetEvent().TypeName() != wantTypes[i] {
			t.Errorf("event %d: %s v%d (body %s), want %s v%d", i, e.GetType(), e.GetVersion(), e.GetEvent().TypeName(), wantTypes[i], i+1)
		}
	}
	if name := got[0].GetEvent().GetPersonCreated().GetName(); name.GetFamilyNames()[0] != "Lovelace" || name.GetPrefixes()[0] != "Countess" {
		t.Errorf("PersonCreated name = %v, want the flat legacy name upcast", name)
	}
	if v, err := s.LastVersion(t.Context(), p); err != nil || v != 9 {
		t.Fatalf("LastVersion = %d, %v; want 9", v, err)
	}
	next := storetest.Events(p, 10, 2)
	if _, err := s.Append(t.Context(), p, 9, next); err != nil {
		t.Fatalf("append on a legacy history: %v", err)
	}
	got, err = loadAll(t, s, p, 8)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{8, 9, 10, 11}; fmt.Sprint(versionsOf(got)) != fmt.Sprint(want) {
		t.Fatalf("loaded versions %v, want %v", versionsOf(got), want)
	}
}

// TestCrashLosesNothing kills a process that appends (SIGKILL, no Close, no
// server shutdown) and checks that a server restarted on its store keeps
// every acknowledged event.
func TestCrashLosesNothing(t *testing.T) {
	if dir := os.Getenv("PERSONRT_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashLosesNothing$")
	cmd.Env = append(os.Environ(), "PERSONRT_CRASH_CHILD="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{}
	lines := bufio.NewScanner(out)
	for n := 0; n < 300 && lines.Scan(); {
		f := strings.Fields(lines.Text())
		if len(f) != 3 || f[0] != "acked" {
			continue
		}
		v, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		acked[f[1]] = v
		n++
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed" is the expected outcome
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing")
	}
	s, _ := open(t, jetstream.Config{}, natstest.WithStoreDir(dir))
	for p, v := range acked {
		got, err := loadAll(t, s, p, 0)
		if err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
		if uint64(len(got)) < v {
			t.Errorf("%s: %d events after the crash, %d were acknowledged", p, len(got), v)
		}
	}
}

// crashChild appends to a few persons on a server in dir, printing every
// acknowledged version, until it is killed.
func crashChild(dir string) {
	srv, err := natsserver.Start(natsserver.Config{Name: "crash", StoreDir: dir, Port: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	nc, err := srv.Connect()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	s, err := jetstream.Open(ctx, nc, jetstream.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	persons := []string{storetest.NewPersonID(), storetest.NewPersonID(), storetest.NewPersonID()}
	versions := make([]uint64, len(persons))
	for i := 0; ; i++ {
		k := i % len(persons)
		n := 1 + i%3%2 // single events and 2-event atomic appends
		v, err := s.Append(ctx, persons[k], versions[k], storetest.Events(persons[k], versions[k]+1, n))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		versions[k] = v
		fmt.Printf("acked %s %d\n", persons[k], v)
	}
}

// TestNoConsumerLeak: loads create no consumers (the server allows 1000 per
// stream by default; a leaking store would fail after that many loads).
func TestNoConsumerLeak(t *testing.T) {
	s, nc := open(t, jetstream.Config{}, natstest.WithSyncInterval())
	persons := []string{storetest.NewPersonID(), storetest.NewPersonID(), storetest.NewPersonID()}
	for _, p := range persons {
		if _, err := s.Append(t.Context(), p, 0, storetest.Events(p, 1, 20)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1500 {
		if _, err := loadAll(t, s, persons[i%len(persons)], uint64(i%20)); err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
	}
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"PERSON_EVENTS", "KV_PERSON_SNAPSHOTS"} {
		st, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers != 0 {
			t.Errorf("stream %s has %d consumers after 1500 loads, want 0", name, info.State.Consumers)
		}
	}
}

// TestMalformedStoredEvent: a stored message that cannot be read makes Load
// fail with ErrInvalidEvent naming its stream sequence, never panic.
func TestMalformedStoredEvent(t *testing.T) {
	s, nc := open(t, jetstream.Config{}, natstest.WithSyncInterval())
	header := func(typ, schema, version string) nats.Header {
		return nats.Header{"Nats-Msg-Id": {storetest.NewPersonID()}, "Cim-Event-Type": {typ}, "Cim-Schema-Version": {schema}, "Cim-Person-Version": {version}}
	}
	tests := []struct {
		name     string
		header   nats.Header
		data     string
		wantText string
	}{
		{"body is not JSON", header("PersonDeactivated", "1", "2"), `{"reason":`, "PersonDeactivated"},
		{"unknown field", header("PersonDeactivated", "1", "2"), `{"reason":"r","colour":"blue"}`, "colour"},
		{"unknown type", header("PersonTeleported", "1", "2"), `{}`, "PersonTeleported"},
		{"future schema", header("NameUpdated", "9", "2"), `{}`, "schema version 9"},
		{"no version header", nats.Header{"Nats-Msg-Id": {"x"}, "Cim-Event-Type": {"PersonArchived"}, "Cim-Schema-Version": {"1"}}, `{}`, "Cim-Person-Version"},
		{"bad occurred-at", func() nats.Header {
			h := header("PersonArchived", "1", "2")
			h["Cim-Occurred-At"] = []string{"noon"}
			return h
		}(), `{}`, "Cim-Occurred-At"},
		{"version gap", header("PersonArchived", "1", "3"), `{}`, "version 3, want 2"},
		{"legacy garbage", nil, `[]`, "legacy"},
		{"other person's event", func() nats.Header {
			h := header("PersonArchived", "1", "2")
			h["Cim-Person-Id"] = []string{"someone-else"}
			return h
		}(), `{}`, "someone-else"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := storetest.NewPersonID()
			if _, err := s.Append(t.Context(), p, 0, storetest.Events(p, 1, 1)); err != nil {
				t.Fatal(err)
			}
			if tc.header != nil && tc.header["Cim-Person-Id"] == nil {
				tc.header["Cim-Person-Id"] = []string{p}
			}
			js, err := natsjs.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: "person.events." + p, Header: tc.header, Data: []byte(tc.data)})
			if err != nil {
				t.Fatal(err)
			}
			for _, from := range []uint64{0, 2} {
				_, err = loadAll(t, s, p, from)
				if !errors.Is(err, persistence.ErrInvalidEvent) {
					t.Fatalf("Load from %d = %v, want ErrInvalidEvent", from, err)
				}
				for _, w := range []string{tc.wantText, "stream sequence " + strconv.FormatUint(ack.Sequence, 10)} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Load from %d: error %q does not name %q", from, err, w)
					}
				}
			}
		})
	}
}

// checkFor polls cond until it holds or d has passed.
func checkFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}
