package migrate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/migrate"
)

// The golden person id and event id prefixes the fixtures use.
const (
	goldenPerson  = "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6"
	goldenEventID = "0190f0d3-2222"
	goldenEventV1 = "0190f0d2-1111"
)

// fixture is one person's history in testdata (see its README).
type fixture struct {
	About         string `json:"about"`
	SubjectPrefix string `json:"subject_prefix"`
	Messages      []struct {
		Subject string              `json:"subject"`
		Headers map[string][]string `json:"headers"`
		Data    json.RawMessage     `json:"data"`
	} `json:"messages"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	if !strings.Contains(name, "/") {
		name = "legacy/" + name
	}
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.SubjectPrefix == "" {
		f.SubjectPrefix = "person.events"
	}
	return f
}

// personID returns the id of the i-th person of a legacy stream.
func personID(i int) string { return fmt.Sprintf("0190f0d2-7a1b-7c3d-8e4f-%012x", i) }

// legacyStream creates a stream like the original system's PERSON_EVENTS
// (subjects person.events.> and person.commands.>, no direct get) and
// publishes persons histories into it (see publishFixtures). It returns
// the number of messages.
func legacyStream(t *testing.T, nc *nats.Conn, name string, persons int, fixtures ...string) int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: name, Subjects: []string{"person.events.>", "person.commands.>"},
		Storage: jetstream.FileStorage, Duplicates: 120 * time.Second,
	}); err != nil {
		t.Fatal(err)
	}
	return publishFixtures(t, nc, persons, fixtures...)
}

// publishFixtures publishes persons histories, person i following
// fixtures[i % len(fixtures)], interleaved: every person's first message,
// then every person's second, … It returns the number of messages.
func publishFixtures(t *testing.T, nc *nats.Conn, persons int, fixtures ...string) int {
	t.Helper()
	ctx := t.Context()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	fs := make([]fixture, len(fixtures))
	longest := 0
	for i, n := range fixtures {
		fs[i] = loadFixture(t, n)
		longest = max(longest, len(fs[i].Messages))
	}
	n := 0
	for k := range longest {
		for p := range persons {
			f := fs[p%len(fs)]
			if k >= len(f.Messages) {
				continue
			}
			m := f.Messages[k]
			id := personID(p)
			data := personalize(string(m.Data), p)
			subject := f.SubjectPrefix + "." + id
			if m.Subject != "" {
				subject += "." + m.Subject
			}
			msg := &nats.Msg{Subject: subject, Header: nats.Header{}, Data: []byte(data)}
			for k, v := range m.Headers {
				for _, s := range v {
					msg.Header.Add(k, personalize(s, p))
				}
			}
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}

// personalize replaces the golden ids of a fixture by person p's.
func personalize(s string, p int) string {
	s = strings.ReplaceAll(s, goldenPerson, personID(p))
	s = strings.ReplaceAll(s, goldenEventID, fmt.Sprintf("0190f0d3-%04x", p))
	return strings.ReplaceAll(s, goldenEventV1, fmt.Sprintf("0190f0d2-%04x", p))
}

// config returns a migrator config for the tests: small batches and
// windows so that every path (queued persons, MaxInFlight, checkpoints)
// runs with few events.
func config(nc *nats.Conn, source, target string) migrate.Config {
	return migrate.Config{
		Source: nc, SourceStream: source, TargetStream: target,
		ReadBatch: 7, Decoders: 2, MaxInFlight: 5, Window: 24,
		CheckpointEvery: 5 * time.Millisecond, ProgressEvery: time.Nanosecond,
		AckTimeout: 10 * time.Second, RequestTimeout: 10 * time.Second,
	}
}

func newMigrator(t *testing.T, cfg migrate.Config) *migrate.Migrator {
	t.Helper()
	m, err := migrate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// loadPerson reads a person's events from a stream through the event
// store the nodes use.
func loadPerson(t *testing.T, nc *nats.Conn, stream, prefix, personID string) []*personv1.EventEnvelope {
	t.Helper()
	st, err := pjs.Open(t.Context(), nc, pjs.Config{Stream: stream, SubjectPrefix: prefix, SnapshotBucket: stream + "_SNAPSHOTS"})
	if err != nil {
		t.Fatal(err)
	}
	var got []*personv1.EventEnvelope
	if err := st.Load(t.Context(), personID, 1, func(e *personv1.EventEnvelope) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// streamInfo returns a stream's info.
func streamInfo(t *testing.T, nc *nats.Conn, name string) *jetstream.StreamInfo {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo()
}

// consumers returns the consumer names of a stream.
func consumers(t *testing.T, nc *nats.Conn, name string) []string {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	l := st.ConsumerNames(t.Context())
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// runBounded runs f with a deadline: a test never hangs.
func runBounded(t *testing.T, d time.Duration, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return f(ctx)
}
