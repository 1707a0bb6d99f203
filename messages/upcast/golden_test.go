package upcast_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
)

// Golden files (testdata/, never edited once created):
//
//	schema/<Type>.v<N>.json   an event as stored in our stream at schema N:
//	                          the envelope fields and its JSON body
//	legacy/<form>/<name>.json a raw message of the original system:
//	                          {"headers":{…}, "data":<payload>}
//
// Next to each, <name>.want.json holds the expected current envelope
// (protojson) or <name>.want.err the expected error; -update rewrites them.
var (
	update       = flag.Bool("update", false, "rewrite the .want files of the golden tests")
	createGolden = flag.Bool("create-golden", false, "write missing current-schema golden inputs and missing .want files")
)

// storedRecord is the JSON form of a schema golden.
type storedRecord struct {
	EventID       string          `json:"event_id"`
	PersonID      string          `json:"person_id"`
	Version       uint64          `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion uint32          `json:"schema_version"`
	OccurredAt    *time.Time      `json:"occurred_at,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	Actor         string          `json:"actor,omitempty"`
	Body          json.RawMessage `json:"body"`
}

func (s storedRecord) record() upcast.Record {
	r := upcast.Record{
		EventID: s.EventID, PersonID: s.PersonID, Version: s.Version, Type: s.Type, SchemaVersion: s.SchemaVersion,
		Meta: upcast.Meta{CorrelationID: s.CorrelationID, CausationID: s.CausationID, Actor: s.Actor},
		Body: s.Body,
	}
	if s.OccurredAt != nil {
		r.Meta.OccurredAt = *s.OccurredAt
	}
	return r
}

// rawMessage is the JSON form of a legacy golden.
type rawMessage struct {
	Headers map[string][]string `json:"headers"`
	Data    json.RawMessage     `json:"data"`
}

// goldenFiles lists the golden inputs under dir.
func goldenFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join("testdata", dir), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".want.json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden files under testdata/%s", dir)
	}
	return files
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// decodeGolden decodes one golden input.
func decodeGolden(t testing.TB, path string) (*personv1.EventEnvelope, error) {
	t.Helper()
	if strings.Contains(path, string(filepath.Separator)+"schema"+string(filepath.Separator)) {
		var s storedRecord
		readJSON(t, path, &s)
		return upcast.Decode(s.record())
	}
	var m rawMessage
	readJSON(t, path, &m)
	return upcast.DecodeLegacy(m.Data, m.Headers)
}

// checkWant compares the outcome of decoding a golden with its .want file.
func checkWant(t *testing.T, path string, got *personv1.EventEnvelope, err error) {
	t.Helper()
	base := strings.TrimSuffix(path, ".json")
	_, errJSON := os.Stat(base + ".want.json")
	_, errErr := os.Stat(base + ".want.err")
	if *update || *createGolden && errJSON != nil && errErr != nil {
		_ = os.Remove(base + ".want.json") // absent is fine
		_ = os.Remove(base + ".want.err")
		var werr error
		if err != nil {
			werr = os.WriteFile(base+".want.err", []byte(err.Error()+"\n"), 0o644)
		} else {
			werr = os.WriteFile(base+".want.json", append([]byte(protojson.MarshalOptions{Multiline: true}.Format(got)), '\n'), 0o644)
		}
		if werr != nil {
			t.Fatal(werr)
		}
	}
	if wantErr, rerr := os.ReadFile(base + ".want.err"); rerr == nil {
		if err == nil {
			t.Fatalf("decoded to %v, want error %s", got, wantErr)
		}
		if !errors.Is(err, persistence.ErrInvalidEvent) {
			t.Errorf("error %v does not wrap persistence.ErrInvalidEvent", err)
		}
		if g, w := err.Error(), strings.TrimSpace(string(wantErr)); g != w {
			t.Errorf("error:\n got %s\nwant %s", g, w)
		}
		return
	}
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	wantJSON, rerr := os.ReadFile(base + ".want.json")
	if rerr != nil {
		t.Fatalf("no %s.want.json or .want.err (run with -update once and review): %v", base, rerr)
	}
	want := &personv1.EventEnvelope{}
	if err := protojson.Unmarshal(wantJSON, want); err != nil {
		t.Fatalf("%s.want.json: %v", base, err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("decoded:\n got %v\nwant %v", got, want)
	}
	checkCurrent(t, got)
}

// checkCurrent checks what every decoded envelope must satisfy.
func checkCurrent(t testing.TB, e *personv1.EventEnvelope) {
	t.Helper()
	typ := e.GetEvent().TypeName()
	switch {
	case typ == "" || typ != e.GetType():
		t.Errorf("type %q, body %q", e.GetType(), typ)
	case e.GetSchemaVersion() != upcast.CurrentVersion(typ):
		t.Errorf("schema version %d, current is %d", e.GetSchemaVersion(), upcast.CurrentVersion(typ))
	case e.GetEventId() == "" || e.GetPersonId() == "" || e.GetVersion() == 0:
		t.Errorf("envelope without id, person or version: %v", e)
	}
}

func TestGoldenSchema(t *testing.T) {
	if *createGolden {
		createCurrentGoldens(t)
	}
	for _, path := range goldenFiles(t, "schema") {
		t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
			got, err := decodeGolden(t, path)
			checkWant(t, path, got, err)
		})
	}
}

func TestGoldenLegacy(t *testing.T) {
	for _, path := range goldenFiles(t, "legacy") {
		t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
			got, err := decodeGolden(t, path)
			checkWant(t, path, got, err)
		})
	}
}

// TestGoldenCoverage: every event type has a golden at every schema
// version from 1 to the current one.
func TestGoldenCoverage(t *testing.T) {
	for _, typ := range upcast.Types() {
		for v := uint32(1); v <= upcast.CurrentVersion(typ); v++ {
			path := filepath.Join("testdata", "schema", typ+".v"+itoa(v)+".json")
			if _, err := os.Stat(path); err != nil {
				t.Errorf("no golden for %s schema %d: %v", typ, v, err)
			}
		}
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// createCurrentGoldens writes a golden of every type at its current schema
// from examples, never overwriting an existing file.
func createCurrentGoldens(t *testing.T) {
	for i, ev := range currentExamples() {
		typ := ev.TypeName()
		path := filepath.Join("testdata", "schema", typ+".v"+itoa(upcast.CurrentVersion(typ))+".json")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		body, err := upcast.EncodeBody(ev)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		s := storedRecord{
			EventID: "0190f0d6-6666-7000-8000-0000000000" + itoa(uint32(10+i)), PersonID: "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6",
			Version: uint64(1 + i), Type: typ, SchemaVersion: upcast.CurrentVersion(typ), OccurredAt: &at,
			CorrelationID: "corr-1", CausationID: "cmd-" + itoa(uint32(1+i)), Actor: "user:golden",
			Body: json.RawMessage(body),
		}
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// currentExamples returns one example body of every event type.
func currentExamples() []*personv1.Event {
	name := &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}, Prefixes: []string{"Countess"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
	date := &personv1.Date{Year: 1815, Month: 12, Day: 10}
	contact := &personv1.Contact{ContactId: "c1", Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: "ada@example.com", Primary: true, Label: "work"}
	attr := &personv1.Attribute{
		AttributeId: "a1", Type: personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT,
		Value:      &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: 1.65}}},
		Validity:   &personv1.TemporalValidity{ValidFrom: date},
		Provenance: &personv1.Provenance{Source: personv1.ProvenanceSource_PROVENANCE_SOURCE_MEASURED, Confidence: personv1.Confidence_CONFIDENCE_CERTAIN, RecordedBy: "nurse"},
		RecordedAt: timestamppb.New(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)),
	}
	deadline := timestamppb.New(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC))
	return []*personv1.Event{
		{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6", Name: name, BirthDate: date, Contacts: []*personv1.Contact{contact}, Source: "golden"}}},
		{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{OldName: name, NewName: &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"King"}}, ChangeReason: "marriage"}}},
		{Body: &personv1.Event_BirthDateSet{BirthDateSet: &personv1.BirthDateSet{BirthDate: date}}},
		{Body: &personv1.Event_DeathRecorded{DeathRecorded: &personv1.DeathRecorded{DateOfDeath: &personv1.Date{Year: 1852, Month: 11, Day: 27}}}},
		{Body: &personv1.Event_PersonDeactivated{PersonDeactivated: &personv1.PersonDeactivated{Reason: "left"}}},
		{Body: &personv1.Event_PersonReactivated{PersonReactivated: &personv1.PersonReactivated{Reason: "back"}}},
		{Body: &personv1.Event_PersonMergedInto{PersonMergedInto: &personv1.PersonMergedInto{TargetPersonId: "0190f0d2-7a1b-7c3d-8e4f-0f0e0d0c0b0a", Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}}},
		{Body: &personv1.Event_PersonMergeReceived{PersonMergeReceived: &personv1.PersonMergeReceived{SourcePersonId: "0190f0d2-7a1b-7c3d-8e4f-0f0e0d0c0b0a", Reason: personv1.MergeReason_MERGE_REASON_USER_REQUESTED}}},
		{Body: &personv1.Event_PersonArchived{PersonArchived: &personv1.PersonArchived{Reason: "inactive"}}},
		{Body: &personv1.Event_AttributeRecorded{AttributeRecorded: &personv1.AttributeRecorded{Attribute: attr}}},
		{Body: &personv1.Event_AttributeUpdated{AttributeUpdated: &personv1.AttributeUpdated{AttributeId: "a1", OldAttribute: attr, NewAttribute: attr}}},
		{Body: &personv1.Event_AttributeInvalidated{AttributeInvalidated: &personv1.AttributeInvalidated{AttributeId: "a1", Reason: "wrong", ValidUntil: date}}},
		{Body: &personv1.Event_ContactAdded{ContactAdded: &personv1.ContactAdded{Contact: contact}}},
		{Body: &personv1.Event_ContactRemoved{ContactRemoved: &personv1.ContactRemoved{ContactId: "c1", Reason: "bounced"}}},
		{Body: &personv1.Event_ContactVerified{ContactVerified: &personv1.ContactVerified{ContactId: "c1"}}},
		{Body: &personv1.Event_ContactNormalized{ContactNormalized: &personv1.ContactNormalized{ContactId: "c1", OldValue: "Ada@Example.com", NewValue: "ada@example.com"}}},
		{Body: &personv1.Event_OnboardingStarted{OnboardingStarted: &personv1.OnboardingStarted{
			PersonId: "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6", StepDeadline: deadline,
			Deadlines: []*personv1.StepDeadline{{State: personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION, Timeout: durationpb.New(24 * time.Hour)}},
		}}},
		{Body: &personv1.Event_IdentityVerified{IdentityVerified: &personv1.IdentityVerified{IdentityId: "idp-1", StepDeadline: deadline}}},
		{Body: &personv1.Event_BasicInfoProvided{BasicInfoProvided: &personv1.BasicInfoProvided{Email: "ada@example.com", Phone: "+442071234567", StepDeadline: deadline}}},
		{Body: &personv1.Event_ComponentsAdded{ComponentsAdded: &personv1.ComponentsAdded{
			Components: []*personv1.OnboardingComponent{{ComponentType: "Skill", Data: `{"name":"mathematics"}`}}, StepDeadline: deadline,
		}}},
		{Body: &personv1.Event_LocationAssigned{LocationAssigned: &personv1.LocationAssigned{LocationId: "loc-london", StepDeadline: deadline}}},
		{Body: &personv1.Event_OnboardingCompleted{OnboardingCompleted: &personv1.OnboardingCompleted{Email: "ada@example.com", Phone: "+442071234567"}}},
		{Body: &personv1.Event_OnboardingFailed{OnboardingFailed: &personv1.OnboardingFailed{Reason: "identity not verified", FailedIn: personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION}}},
		{Body: &personv1.Event_DataQualityFlagged{DataQualityFlagged: &personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{
			FlagId: "f1", Field: "name.given_names[0]", Issue: "Name too short", Severity: personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING,
			FlaggedAt: timestamppb.New(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)),
		}}}},
	}
}
