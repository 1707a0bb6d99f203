package upcast_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
)

func TestCurrentVersion(t *testing.T) {
	tests := []struct {
		eventType string
		want      uint32
	}{
		{"PersonCreated", 3},
		{"NameUpdated", 2},
		{"BirthDateSet", 1},
		{"DataQualityFlagged", 1},
		{"PersonNameUpdated", 0},
		{"", 0},
		{"Event", 0},
	}
	for _, tc := range tests {
		if got := upcast.CurrentVersion(tc.eventType); got != tc.want {
			t.Errorf("CurrentVersion(%q) = %d, want %d", tc.eventType, got, tc.want)
		}
	}
	types := upcast.Types()
	if len(types) < 17 || types[0] != "PersonCreated" || types[16] != "DataQualityFlagged" {
		t.Errorf("Types() = %v, want the person.v1.Event body cases in order", types)
	}
	for _, typ := range types {
		if upcast.CurrentVersion(typ) == 0 {
			t.Errorf("CurrentVersion(%q) = 0 for a known type", typ)
		}
	}
}

func TestRoundTripCurrent(t *testing.T) {
	for i, ev := range currentExamples() {
		body, err := upcast.EncodeBody(ev)
		if err != nil {
			t.Fatal(err)
		}
		typ := ev.TypeName()
		got, err := upcast.Decode(upcast.Record{EventID: "e", PersonID: "p", Version: uint64(i + 1), Type: typ, SchemaVersion: upcast.CurrentVersion(typ), Body: body})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !proto.Equal(got.GetEvent(), ev) {
			t.Errorf("%s: decoded %v, want %v", typ, got.GetEvent(), ev)
		}
	}
}

func TestRoundTripBinary(t *testing.T) {
	for i, ev := range currentExamples() {
		body, err := upcast.EncodeBodyBinary(ev)
		if err != nil {
			t.Fatal(err)
		}
		typ := ev.TypeName()
		rec := upcast.Record{EventID: "e", PersonID: "p", Version: uint64(i + 1), Type: typ, SchemaVersion: upcast.CurrentVersion(typ), Body: body, Binary: true}
		got, err := upcast.Decode(rec)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !proto.Equal(got.GetEvent(), ev) {
			t.Errorf("%s: decoded %v, want %v", typ, got.GetEvent(), ev)
		}
	}
}

func TestBinaryErrors(t *testing.T) {
	created := currentExamples()[0]
	good, err := upcast.EncodeBodyBinary(created)
	if err != nil {
		t.Fatal(err)
	}
	// Field 99 of the nested PersonName: unknown to the current schema.
	nestedUnknown := append([]byte{}, good...)
	nestedUnknown = append(nestedUnknown, 0x12, 0x03, 0x98, 0x06, 0x01) // name (field 2) {field 99: 1}
	tests := []struct {
		name string
		rec  upcast.Record
	}{
		{"older schema", upcast.Record{EventID: "e", Type: "PersonCreated", SchemaVersion: 2, Body: good, Binary: true}},
		{"garbage", upcast.Record{EventID: "e", Type: "PersonCreated", SchemaVersion: 3, Body: []byte{0xff, 0xff}, Binary: true}},
		{"unknown top-level field", upcast.Record{EventID: "e", Type: "PersonCreated", SchemaVersion: 3, Body: append(append([]byte{}, good...), 0x98, 0x06, 0x01), Binary: true}},
		{"unknown nested field", upcast.Record{EventID: "e", Type: "PersonCreated", SchemaVersion: 3, Body: nestedUnknown, Binary: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := upcast.Decode(tc.rec); !errors.Is(err, persistence.ErrInvalidEvent) {
				t.Fatalf("Decode = %v, %v; want ErrInvalidEvent", got, err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	rec := func(typ string, v uint32, body string) upcast.Record {
		return upcast.Record{EventID: "e1", PersonID: "p1", Version: 1, Type: typ, SchemaVersion: v, Body: []byte(body)}
	}
	tests := []struct {
		name     string
		registry *upcast.Registry
		rec      upcast.Record
		wantText []string // the error names these
	}{
		{"unknown type", upcast.Default(), rec("PersonRenamed", 1, `{}`), []string{"PersonRenamed", "schema version 1"}},
		{"schema version 0", upcast.Default(), rec("NameUpdated", 0, `{}`), []string{"schema version 0", "NameUpdated"}},
		{"future schema version", upcast.Default(), rec("NameUpdated", 3, `{}`), []string{"schema version 3", "NameUpdated"}},
		{"no upcaster", upcast.NewRegistry(), rec("PersonCreated", 1, `{}`), []string{"no upcaster", "PersonCreated", "1→2"}},
		{"body is not JSON", upcast.Default(), rec("BirthDateSet", 1, `{`), []string{"BirthDateSet", "schema 1"}},
		{"unknown field", upcast.Default(), rec("BirthDateSet", 1, `{"birth_date":{"year":1},"shoe_size":44}`), []string{"BirthDateSet", "shoe_size"}},
		{"legacy body not an object", upcast.Default(), rec("PersonCreated", 1, `[1]`), []string{"PersonCreated", "schema 1"}},
		{"upcaster rejects", upcast.Default(), rec("PersonCreated", 2, `{"person_id":7,"name":{"given_name":"A"}}`), []string{"PersonCreated", "2→3", "person id"}},
		{"bad legacy name", upcast.Default(), rec("NameUpdated", 1, `{"new_name":{"given_name":3}}`), []string{"NameUpdated", "1→2", "given_name"}},
		{"empty name", upcast.Default(), rec("NameUpdated", 1, `{"new_name":{"given_name":" ","family_name":""}}`), []string{"NameUpdated", "no given"}},
		{"conflicting reasons", upcast.Default(), rec("NameUpdated", 1, `{"new_name":{"first_name":"A"},"reason":"x","change_reason":"y"}`), []string{"reason", "change_reason"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.registry.Decode(tc.rec)
			if !errors.Is(err, persistence.ErrInvalidEvent) {
				t.Fatalf("Decode = %v, %v; want an error wrapping ErrInvalidEvent", got, err)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestRegister(t *testing.T) {
	nop := func(d upcast.Doc) (upcast.Doc, error) { return d, nil }
	tests := []struct {
		name      string
		eventType string
		from      uint32
		wantErr   bool
	}{
		{"first step", "PersonCreated", 1, false},
		{"unknown type", "PersonRenamed", 1, true},
		{"from 0", "PersonCreated", 0, true},
		{"from current", "PersonCreated", 3, true},
		{"type at schema 1", "BirthDateSet", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := upcast.NewRegistry().Register(tc.eventType, tc.from, nop)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Register(%s, %d) = %v, want error %v", tc.eventType, tc.from, err, tc.wantErr)
			}
		})
	}
	r := upcast.NewRegistry()
	if err := r.Register("NameUpdated", 1, nop); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("NameUpdated", 1, nop); err == nil {
		t.Fatal("registering a step twice succeeded")
	}
}

func TestDecodeLegacyErrors(t *testing.T) {
	tests := []struct {
		name        string
		data        string
		header      map[string][]string
		wantText    string
		unsupported bool
	}{
		{"not JSON", `{`, nil, "unexpected EOF", false},
		{"no version", `{"PersonDeactivated":{"person_id":"p1","reason":"r"}}`, nil, "no version", false},
		{"no person", `{"PersonDeactivated":{"reason":"r"}}`, map[string][]string{"Cim-Person-Version": {"1"}}, "no person id", false},
		{"bad version", `{"aggregate_id":"p1","sequence":-1,"event":{"PersonDeactivated":{"reason":"r"}}}`, nil, "not a positive integer", false},
		{"unknown shape", `{"hello":"world"}`, nil, "unrecognised", false},
		{"unknown V2 type", `{"event_type":"Teleported","data":{}}`, nil, "Teleported", false},
		{"component event", `{"aggregate_id":"p1","sequence":1,"event":{"ComponentUnregistered":{}}}`, nil, "ComponentUnregistered", true},
		{"attribute event", `{"aggregate_id":"p1","sequence":1,"event":{"AttributeRecorded":{}}}`, nil, "AttributeRecorded", true},
		{"bad date", `{"aggregate_id":"p1","sequence":1,"event":{"BirthDateSet":{"birth_date":"10/12/1815"}}}`, nil, "birth_date", false},
		{"bad merge reason", `{"aggregate_id":"p1","sequence":1,"event":{"PersonMergedInto":{"source_person_id":"p1","merged_into_id":"p2","merge_reason":"Boredom"}}}`, nil, "merge_reason", false},
		{"unknown envelope field", `{"aggregate_id":"p1","sequence":1,"event":{},"shard":3}`, nil, "shard", false},
		{"bad header time", `{"PersonDeactivated":{"person_id":"p1","reason":"r"}}`, map[string][]string{"Cim-Person-Version": {"1"}, "Cim-Occurred-At": {"yesterday"}}, "Cim-Occurred-At", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := upcast.DecodeLegacy([]byte(tc.data), tc.header)
			if !errors.Is(err, persistence.ErrInvalidEvent) {
				t.Fatalf("DecodeLegacy = %v, %v; want an error wrapping ErrInvalidEvent", got, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not name %q", err, tc.wantText)
			}
			if got := errors.Is(err, upcast.ErrUnsupportedLegacy); got != tc.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupportedLegacy) = %v, want %v", got, tc.unsupported)
			}
		})
	}
}

// TestLegacyEventIDDeterministic: an event stored without id gets the same
// derived id every time, so a migration that appends it is idempotent.
func TestLegacyEventIDDeterministic(t *testing.T) {
	data := []byte(`{"aggregate_id":{"id":"p1"},"sequence":4,"event":{"PersonReactivated":{"person_id":{"id":"p1"},"reason":"r"}}}`)
	a, err := upcast.DecodeLegacy(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := upcast.DecodeLegacy(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.GetEventId() == "" || a.GetEventId() != b.GetEventId() {
		t.Fatalf("derived ids %q and %q, want equal and set", a.GetEventId(), b.GetEventId())
	}
	other, err := upcast.DecodeLegacy([]byte(strings.Replace(string(data), `"sequence":4`, `"sequence":5`, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.GetEventId() == a.GetEventId() {
		t.Fatal("two versions derived the same id")
	}
}

// upcasters lists every registered step, for the purity test and fuzzing.
var upcasters = []struct {
	name string
	up   upcast.Upcaster
	seed string // golden input of the step's source version
}{
	{"PersonCreatedV1ToV2", upcast.PersonCreatedV1ToV2, "testdata/schema/PersonCreated.v1.json"},
	{"PersonCreatedV2ToV3", upcast.PersonCreatedV2ToV3, "testdata/schema/PersonCreated.v2.json"},
	{"NameUpdatedV1ToV2", upcast.NameUpdatedV1ToV2, "testdata/schema/NameUpdated.v1.json"},
}

// TestUpcastersPure: an upcaster returns the same output for the same input
// and leaves its input unchanged.
func TestUpcastersPure(t *testing.T) {
	for _, u := range upcasters {
		t.Run(u.name, func(t *testing.T) {
			body := seedBody(t, u.seed)
			before, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			first, err := u.up(upcast.Doc{Body: body})
			if err != nil {
				t.Fatal(err)
			}
			second, err := u.up(upcast.Doc{Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first, second) {
				t.Errorf("two calls differ:\n%v\n%v", first, second)
			}
			after, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if string(before) != string(after) {
				t.Errorf("input changed:\nbefore %s\n after %s", before, after)
			}
		})
	}
}

// seedBody returns the decoded body of a schema golden.
func seedBody(t testing.TB, path string) map[string]any {
	t.Helper()
	var s storedRecord
	readJSON(t, path, &s)
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(s.Body)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body
}

// seedBytes returns the raw body of a schema golden.
func seedBytes(t testing.TB, path string) []byte {
	t.Helper()
	var s storedRecord
	readJSON(t, path, &s)
	return s.Body
}

// legacyData returns the payload of every legacy golden.
func legacyData(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, path := range goldenFiles(t, "legacy") {
		var m rawMessage
		readJSON(t, path, &m)
		out = append(out, m.Data)
	}
	return out
}
