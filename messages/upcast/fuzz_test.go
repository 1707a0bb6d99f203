package upcast_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
)

// FuzzDecode: Decode never panics on JSON or binary bodies; an event it
// accepts is a valid current envelope whose body survives an encode/decode
// round trip; a rejection wraps persistence.ErrInvalidEvent.
func FuzzDecode(f *testing.F) {
	for _, path := range goldenFiles(f, "schema") {
		var s storedRecord
		readJSON(f, path, &s)
		f.Add(s.Type, s.SchemaVersion, []byte(s.Body), false)
	}
	for _, ev := range currentExamples() {
		b, err := upcast.EncodeBodyBinary(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ev.TypeName(), upcast.CurrentVersion(ev.TypeName()), b, true)
	}
	f.Fuzz(func(t *testing.T, typ string, version uint32, body []byte, binary bool) {
		rec := upcast.Record{EventID: "e1", PersonID: "p1", Version: 1, Type: typ, SchemaVersion: version, Body: body, Binary: binary}
		got, err := upcast.Decode(rec)
		if err != nil {
			if !errors.Is(err, persistence.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		checkCurrent(t, got)
		again, err := upcast.EncodeBody(got.GetEvent())
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		rec.Body, rec.SchemaVersion, rec.Binary = again, got.GetSchemaVersion(), false
		back, err := upcast.Decode(rec)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", again, err)
		}
		if !proto.Equal(back.GetEvent(), got.GetEvent()) {
			t.Fatalf("round trip changed the body:\n got %v\nwant %v", back.GetEvent(), got.GetEvent())
		}
	})
}

// FuzzDecodeLegacy: DecodeLegacy never panics; what it accepts is a valid
// current envelope; what it rejects wraps persistence.ErrInvalidEvent.
func FuzzDecodeLegacy(f *testing.F) {
	for _, d := range legacyData(f) {
		f.Add([]byte(d), "1")
	}
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		got, err := upcast.DecodeLegacy(data, map[string][]string{"Cim-Person-Version": {version}})
		if err != nil {
			if !errors.Is(err, persistence.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		checkCurrent(t, got)
	})
}

// fuzzUpcaster checks one upcaster: no panic, input unchanged, output JSON.
func fuzzUpcaster(f *testing.F, up upcast.Upcaster, seed string) {
	f.Add(seedBytes(f, seed))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var body map[string]any
		if dec.Decode(&body) != nil || body == nil {
			return
		}
		before, err := json.Marshal(body)
		if err != nil {
			return
		}
		out, err := up(upcast.Doc{Body: body})
		if after, _ := json.Marshal(body); !bytes.Equal(before, after) {
			t.Fatalf("upcaster changed its input:\nbefore %s\n after %s", before, after)
		}
		if err != nil {
			return
		}
		if out.Body == nil {
			t.Fatal("upcaster returned no body and no error")
		}
		if _, err := json.Marshal(out.Body); err != nil {
			t.Fatalf("output does not marshal: %v", err)
		}
	})
}

func FuzzUpcastPersonCreatedV1ToV2(f *testing.F) {
	fuzzUpcaster(f, upcast.PersonCreatedV1ToV2, "testdata/schema/PersonCreated.v1.json")
}

func FuzzUpcastPersonCreatedV2ToV3(f *testing.F) {
	fuzzUpcaster(f, upcast.PersonCreatedV2ToV3, "testdata/schema/PersonCreated.v2.json")
}

func FuzzUpcastNameUpdatedV1ToV2(f *testing.F) {
	fuzzUpcaster(f, upcast.NameUpdatedV1ToV2, "testdata/schema/NameUpdated.v1.json")
}
