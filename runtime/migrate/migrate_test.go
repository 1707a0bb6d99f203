package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence/streamswitch"
	"github.com/cim/personrt/runtime/migrate"
)

func TestDryRun(t *testing.T) {
	tests := []struct {
		name        string
		fixtures    []string
		persons     int
		wantShapes  map[string]uint64 // "Type/from" → events
		wantSkipped uint64
		wantDerived uint64
		wantInvalid uint64
		wantGaps    uint64
		wantReason  string // in the first invalid event's reason
	}{
		{
			name: "clean legacy stream", fixtures: []string{"envelope", "flat", "streaming", "command"}, persons: 8,
			wantShapes: map[string]uint64{
				"PersonCreated/legacy envelope": 2, "NameUpdated/legacy envelope": 2, "BirthDateSet/legacy envelope": 2,
				"PersonDeactivated/legacy envelope": 2, "PersonReactivated/legacy envelope": 2,
				"PersonCreated/legacy flat 1.0": 2, "NameUpdated/legacy flat 1.0": 2, "PersonDeactivated/legacy flat 1.0": 2,
				"PersonCreated/legacy streaming envelope": 2, "NameUpdated/legacy streaming envelope": 2, "BirthDateSet/legacy streaming envelope": 2,
			},
			wantSkipped: 2, wantDerived: 6,
		},
		{
			name: "unsupported event", fixtures: []string{"envelope", "unsupported"}, persons: 4,
			wantShapes: map[string]uint64{
				"PersonCreated/legacy envelope": 4, "NameUpdated/legacy envelope": 2, "BirthDateSet/legacy envelope": 2,
				"PersonDeactivated/legacy envelope": 2, "PersonReactivated/legacy envelope": 2,
			},
			wantInvalid: 2, wantReason: "ComponentRegistered",
		},
		{
			name: "version gap", fixtures: []string{"gap"}, persons: 3,
			wantShapes: map[string]uint64{"PersonCreated/legacy envelope": 3, "NameUpdated/legacy envelope": 3},
			wantGaps:   3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, nc := natstest.Connect(t, natstest.WithSyncInterval())
			n := legacyStream(t, nc, "LEGACY", tc.persons, tc.fixtures...)
			var progress []migrate.Progress
			cfg := config(nc, "LEGACY", "")
			cfg.Progress = func(p migrate.Progress) { progress = append(progress, p) }
			r, err := newMigrator(t, cfg).DryRun(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if r.Messages != uint64(n) {
				t.Errorf("messages = %d, want %d", r.Messages, n)
			}
			got := map[string]uint64{}
			for _, s := range r.Shapes {
				got[s.Type+"/"+s.From] = s.Events
				if !s.Changed || s.To != upcast.CurrentVersion(s.Type) {
					t.Errorf("shape %+v: want an upcast to schema %d", s, upcast.CurrentVersion(s.Type))
				}
			}
			if !equalMaps(got, tc.wantShapes) {
				t.Errorf("shapes = %v, want %v", got, tc.wantShapes)
			}
			if r.Skipped["person.commands"] != tc.wantSkipped {
				t.Errorf("skipped = %v, want %d on person.commands", r.Skipped, tc.wantSkipped)
			}
			if r.DerivedVersions != tc.wantDerived || r.InvalidCount != tc.wantInvalid || r.GapCount != tc.wantGaps {
				t.Errorf("derived/invalid/gaps = %d/%d/%d, want %d/%d/%d", r.DerivedVersions, r.InvalidCount, r.GapCount, tc.wantDerived, tc.wantInvalid, tc.wantGaps)
			}
			if wantOK := tc.wantInvalid == 0 && tc.wantGaps == 0; r.OK() != wantOK {
				t.Errorf("OK() = %t, want %t", r.OK(), wantOK)
			}
			if tc.wantReason != "" && (len(r.Invalid) == 0 || !strings.Contains(r.Invalid[0].Reason, tc.wantReason) || r.Invalid[0].Seq == 0) {
				t.Errorf("invalid = %+v, want a stream sequence and a reason naming %s", r.Invalid, tc.wantReason)
			}
			if len(consumers(t, nc, "LEGACY")) != 0 {
				t.Errorf("the dry run left consumers: %v", consumers(t, nc, "LEGACY"))
			}
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			for _, bucket := range []string{streamswitch.DefaultBucket, migrate.DefaultStateBucket} {
				if _, err := js.KeyValue(t.Context(), bucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
					t.Errorf("bucket %s after a dry run: %v, want none (a dry run writes nothing)", bucket, err)
				}
			}
			if len(progress) == 0 || !progress[len(progress)-1].Final || progress[len(progress)-1].Done != uint64(n) {
				t.Errorf("last progress %+v, want a final report of %d", progress, n)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "legacy envelope") {
				t.Errorf("report text lacks the shapes:\n%s", text.String())
			}
		})
	}
}

func equalMaps(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A legacy stream goes through dry run → migrate (with the switch) →
// verify → finalize; the new stream holds every event, decoded as the
// upcaster decodes the original message, readable by the nodes' store.
func TestMigrateLegacyStream(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	const persons = 9
	n := legacyStream(t, nc, "LEGACY", persons, "envelope", "flat", "streaming", "command")
	m := newMigrator(t, config(nc, "LEGACY", "PERSON_EVENTS_V2"))
	ctx := t.Context()

	r, err := m.DryRun(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("dry run: %v, %+v", err, r)
	}
	if r.Persons != persons-2 { // two follow the command fixture: no events
		t.Errorf("dry run: %d persons, want %d", r.Persons, persons-2)
	}
	res, err := m.Migrate(ctx, migrate.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status.Phase != migrate.PhaseSwitched || res.Written != r.Events || res.Status.Checkpoint != uint64(n) {
		t.Fatalf("result: phase %s, written %d (want %d), checkpoint %d (want %d)", res.Status.Phase, res.Written, r.Events, res.Status.Checkpoint, n)
	}
	target := res.Status.Target
	if target.SubjectPrefix != "person_events_v2" {
		t.Errorf("target prefix %q: the source binds person.events.>, want the target's name", target.SubjectPrefix)
	}
	if info := streamInfo(t, nc, "LEGACY"); !info.Config.Sealed {
		t.Error("the source is not sealed after the switch")
	}
	routes, err := streamswitch.OpenRoutes(ctx, nc, streamswitch.RoutesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec, _, found, err := routes.Get(ctx, "PERSON_EVENTS")
	if err != nil || !found || rec.Active != target || rec.Fence != nil {
		t.Fatalf("route record %+v (found %t, %v), want %s active without a fence", rec, found, err, target)
	}

	// Person 0 follows the envelope fixture: its events are the upcaster's
	// decoding of the original messages.
	f := loadFixture(t, "envelope")
	got := loadPerson(t, nc, target.Stream, target.SubjectPrefix, personID(0))
	if len(got) != len(f.Messages) {
		t.Fatalf("person 0 has %d events in the new stream, want %d", len(got), len(f.Messages))
	}
	for i, msg := range f.Messages {
		want, err := upcast.DecodeLegacy([]byte(strings.ReplaceAll(string(msg.Data), goldenPerson, personID(0))), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got[i], want) {
			t.Errorf("event %d:\n got %v\nwant %v", i, got[i], want)
		}
	}
	// Person 1 follows the flat fixture: versions derived 1, 2, 3.
	if got := loadPerson(t, nc, target.Stream, target.SubjectPrefix, personID(1)); len(got) != 3 || got[2].GetVersion() != 3 || got[2].GetType() != "PersonDeactivated" {
		t.Errorf("person 1 (derived versions): %v", got)
	}

	v, err := m.Verify(ctx, migrate.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Persons != r.Persons || v.SourceEvents != r.Events || v.TargetEvents != r.Events {
		t.Fatalf("verify: %+v", v)
	}
	if _, err := m.Migrate(ctx, migrate.MigrateOptions{}); !errors.Is(err, migrate.ErrMigrationExists) {
		t.Errorf("migrating again: %v, want ErrMigrationExists", err)
	}
	if _, err := m.Finalize(ctx); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, "LEGACY"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("source after finalize: %v, want it deleted", err)
	}
	if st, err := m.Status(ctx); err != nil || st.Phase != migrate.PhaseFinalized {
		t.Errorf("status after finalize: %+v, %v", st, err)
	}
}

// The dry run's problems stop a migration at the first of them.
func TestMigrateRefusesWhatCannotBeMigrated(t *testing.T) {
	tests := []struct {
		name     string
		fixtures []string
		wantErr  error
	}{
		{"unsupported event", []string{"unsupported"}, migrate.ErrNotMigratable},
		{"version gap", []string{"gap"}, migrate.ErrNotMigratable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, nc := natstest.Connect(t, natstest.WithSyncInterval())
			legacyStream(t, nc, "LEGACY", 3, tc.fixtures...)
			res, err := newMigrator(t, config(nc, "LEGACY", "NEW")).Migrate(t.Context(), migrate.MigrateOptions{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if res == nil || res.Status.Phase != migrate.PhaseCopying {
				t.Fatalf("result %+v: want the migration left copying", res)
			}
			if info := streamInfo(t, nc, "LEGACY"); info.Config.Sealed {
				t.Error("the source was sealed by a failed migration")
			}
		})
	}
}

// A migration killed midway (its context cancelled after some events)
// resumes and verifies; so does one whose checkpoint is older than what it
// wrote (a crash between writes and the checkpoint): no event is written
// twice.
func TestMigrateResumes(t *testing.T) {
	tests := []struct {
		name           string
		lostCheckpoint bool
	}{
		{"interrupted", false},
		{"checkpoint lost", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, nc := natstest.Connect(t, natstest.WithSyncInterval())
			n := uint64(legacyStream(t, nc, "LEGACY", 20, "envelope", "flat", "streaming"))
			cfg := config(nc, "LEGACY", "NEW")
			killAt := uint64(40)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cfg.Progress = func(p migrate.Progress) {
				if p.Phase == "copy" && p.Done >= killAt {
					cancel()
				}
			}
			_, err := newMigrator(t, cfg).Migrate(ctx, migrate.MigrateOptions{NoSwitch: true})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("killed migration: %v, want context.Canceled", err)
			}
			cfg.Progress = nil
			m := newMigrator(t, cfg)
			st, err := m.Status(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			written := streamInfo(t, nc, "NEW").State.Msgs
			if st.Phase != migrate.PhaseCopying || written == 0 || written >= n {
				t.Fatalf("after the kill: phase %s, %d written: want a partial copy", st.Phase, written)
			}
			if tc.lostCheckpoint {
				resetCheckpoint(t, nc, "NEW")
			}
			res, err := m.Migrate(t.Context(), migrate.MigrateOptions{Resume: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status.Phase != migrate.PhaseCopied || res.Written != n-written {
				t.Fatalf("resumed: phase %s, written %d (want %d), existing %d", res.Status.Phase, res.Written, n-written, res.Existing)
			}
			if tc.lostCheckpoint && res.Existing != written {
				t.Errorf("resumed from checkpoint 0: %d events found copied, want %d", res.Existing, written)
			}
			if got := streamInfo(t, nc, "NEW").State.Msgs; got != n {
				t.Fatalf("new stream holds %d events, want %d (each once)", got, n)
			}
			v, err := m.Verify(t.Context(), migrate.VerifyOptions{})
			if err != nil || !v.OK() {
				t.Fatalf("verify after resume: %v\n%+v", err, v)
			}
		})
	}
}

// resetCheckpoint rewrites the migration record's checkpoint to 0.
func resetCheckpoint(t *testing.T, nc *nats.Conn, target string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), migrate.DefaultStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Replace(e.Value(), []byte(`"checkpoint":`), []byte(`"checkpoint":0,"old_checkpoint":`), 1)
	if _, err := kv.Update(t.Context(), target, b, e.Revision()); err != nil {
		t.Fatal(err)
	}
}

// copyStream copies every message of src to a new stream dst on subjects
// "<prefix>.…" through mutate, which may change or drop (nil) a message.
func copyStream(t *testing.T, nc *nats.Conn, src, srcPrefix, dst, dstPrefix string, mutate func(i int, m *nats.Msg) *nats.Msg) {
	t.Helper()
	ctx := t.Context()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: dst, Subjects: []string{dstPrefix + ".>"}, AllowDirect: true}); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	last := st.CachedInfo().State.LastSeq
	for seq := uint64(1); seq <= last; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: dstPrefix + strings.TrimPrefix(raw.Subject, srcPrefix), Header: raw.Header, Data: raw.Data}
		for _, h := range []string{"Nats-Expected-Last-Subject-Sequence", "Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp"} {
			delete(m.Header, h) // the server's, from reading NEW
		}
		if m = mutate(int(seq-1), m); m == nil {
			continue
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// Verify catches a corrupted copy: a missing event, an altered payload, an
// event left at an old schema.
func TestVerifyCatchesCorruption(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	legacyStream(t, nc, "LEGACY", 6, "envelope", "streaming")
	res, err := newMigrator(t, config(nc, "LEGACY", "NEW")).Migrate(t.Context(), migrate.MigrateOptions{NoSwitch: true})
	if err != nil {
		t.Fatal(err)
	}
	prefix := res.Status.Target.SubjectPrefix
	victim := personID(0)
	tests := []struct {
		name      string
		mutate    func(i int, m *nats.Msg) *nats.Msg
		wantCheck []string
	}{
		{"intact copy", func(_ int, m *nats.Msg) *nats.Msg { return m }, nil},
		{"missing event", func(_ int, m *nats.Msg) *nats.Msg {
			if m.Header.Get("Cim-Person-Id") == victim && m.Header.Get("Cim-Person-Version") == "3" {
				return nil
			}
			return m
		}, []string{migrate.CheckContiguous, migrate.CheckCounts, migrate.CheckIDs, migrate.CheckState}},
		{"altered payload", func(_ int, m *nats.Msg) *nats.Msg {
			if m.Header.Get("Cim-Person-Id") == victim && m.Header.Get("Cim-Event-Type") == "NameUpdated" {
				m.Data = bytes.ReplaceAll(m.Data, []byte("King"), []byte("Kong"))
			}
			return m
		}, []string{migrate.CheckState}},
		{"old schema", func(_ int, m *nats.Msg) *nats.Msg {
			if m.Header.Get("Cim-Person-Id") == victim && m.Header.Get("Cim-Event-Type") == "NameUpdated" {
				// The NameUpdated 1 shape: reason instead of change_reason.
				m.Header.Set("Cim-Schema-Version", "1")
				m.Data = bytes.ReplaceAll(m.Data, []byte(`"change_reason"`), []byte(`"reason"`))
			}
			return m
		}, []string{migrate.CheckDecodes}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "CORRUPT" + string(rune('A'+i))
			corruptPrefix := strings.ToLower(name)
			copyStream(t, nc, "NEW", prefix, name, corruptPrefix, tc.mutate)
			cfg := config(nc, "LEGACY", name)
			v, err := newMigrator(t, cfg).Verify(t.Context(), migrate.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range v.Checks {
				if c.Failed > 0 {
					got = append(got, c.Name)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.wantCheck, "|") {
				var text bytes.Buffer
				_ = v.WriteText(&text) // for the failure message only
				t.Fatalf("failed checks %q, want %q\n%s", got, tc.wantCheck, text.String())
			}
			for _, d := range v.Differences {
				if d.PersonID != "" && d.PersonID != victim {
					t.Errorf("difference %+v names another person than %s", d, victim)
				}
			}
			if v.OK() != (len(tc.wantCheck) == 0) {
				t.Errorf("OK() = %t", v.OK())
			}
		})
	}
}

// Sampling compares the requested number of persons.
func TestVerifySample(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	legacyStream(t, nc, "LEGACY", 30, "envelope", "flat")
	m := newMigrator(t, config(nc, "LEGACY", "NEW"))
	if _, err := m.Migrate(t.Context(), migrate.MigrateOptions{NoSwitch: true}); err != nil {
		t.Fatal(err)
	}
	for _, sample := range []int{0, 1, 7, 100} {
		v, err := m.Verify(t.Context(), migrate.VerifyOptions{Sample: sample})
		if err != nil {
			t.Fatal(err)
		}
		want := 30
		if sample > 0 {
			want = min(sample, 30)
		}
		if !v.OK() || v.Persons != want || v.SourceEvents != 120 {
			t.Errorf("sample %d: OK %t, %d persons (want %d), %d source events", sample, v.OK(), v.Persons, want, v.SourceEvents)
		}
	}
}

// Finalize refuses to delete anything when verify finds a difference.
func TestFinalizeKeepsSourceOnDifference(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	legacyStream(t, nc, "LEGACY", 3, "envelope")
	m := newMigrator(t, config(nc, "LEGACY", "NEW"))
	if _, err := m.Migrate(t.Context(), migrate.MigrateOptions{NoSwitch: true}); err != nil {
		t.Fatal(err)
	}
	// A late event in the source, after the copy.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	f := loadFixture(t, "gap")
	late := strings.ReplaceAll(string(f.Messages[1].Data), goldenPerson, personID(0))
	late = strings.Replace(late, `"sequence": 3`, `"sequence": 6`, 1)
	if _, err := js.Publish(t.Context(), "person.events."+personID(0)+".name_updated", []byte(late)); err != nil {
		t.Fatal(err)
	}
	v, err := m.Finalize(t.Context())
	if !errors.Is(err, migrate.ErrVerifyFailed) || v == nil || v.OK() {
		t.Fatalf("finalize: %v, %+v; want ErrVerifyFailed", err, v)
	}
	if _, err := js.Stream(t.Context(), "LEGACY"); err != nil {
		t.Fatalf("the source was touched: %v", err)
	}
}
