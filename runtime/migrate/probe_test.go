package migrate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// referenceProbe is probeLegacy by a full decode.
func referenceProbe(data []byte) (probe, bool) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil || m == nil || len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return probe{}, false
	}
	var p probe
	for key, bit := range map[string]int{"version": keyVersion, "sequence": keySequence, "event": keyEvent, "event_type": keyEventType, "event_id": keyEventID} {
		if v, ok := m[key]; ok && string(v) != "null" {
			p.keys |= bit
		}
	}
	if v, ok := m["version"]; ok && p.has(keyVersion) {
		p.version = string(v)
	}
	return p, true
}

func TestProbeLegacy(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    probe
		wantOK  bool
		comment string
	}{
		{"envelope", `{"aggregate_id":{"id":"x"},"sequence":1,"event":{"PersonCreated":{"version":"9"}}}`, probe{keys: keySequence | keyEvent}, true, "nested keys do not count"},
		{"streaming", `{"event_id":"e","sequence":null,"event":{"event_type":"Created"}}`, probe{keys: keyEventID | keyEvent}, true, "null is absent"},
		{"flat", ` { "version" : "1.0", "person_id":"p" } `, probe{keys: keyVersion, version: `"1.0"`}, true, ""},
		{"escapes", `{"a\"b":"}\"","version":"2.0"}`, probe{keys: keyVersion, version: `"2.0"`}, true, ""},
		{"empty", `{}`, probe{}, true, ""},
		{"array", `[1]`, probe{}, false, ""},
		{"truncated", `{"version":"1.0"`, probe{}, false, ""},
		{"trailing", `{"version":"1.0"} x`, probe{}, false, ""},
		{"missing colon", `{"version" "1.0"}`, probe{}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := probeLegacy([]byte(tc.in))
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("probeLegacy(%s) = %+v, %t; want %+v, %t %s", tc.in, got, ok, tc.want, tc.wantOK, tc.comment)
			}
		})
	}
}

// FuzzProbeLegacy checks the scanner against a full decode on every valid
// JSON object; on anything else it must not panic.
func FuzzProbeLegacy(f *testing.F) {
	for _, dir := range []string{"testdata/legacy", "testdata/system"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			var fx struct {
				Messages []struct {
					Data json.RawMessage `json:"data"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(b, &fx); err != nil {
				f.Fatal(err)
			}
			for _, m := range fx.Messages {
				f.Add([]byte(m.Data))
			}
		}
	}
	f.Add([]byte(`{"version":1.0,"sequence":[{"}":"]"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := probeLegacy(data)
		want, wantOK := referenceProbe(data)
		if !wantOK {
			return // not a valid object: the scanner may accept what it does not check
		}
		// The reference keeps the raw version value; compare keys and, for a
		// string, its text after decoding.
		if !ok || got.keys != want.keys || (want.has(keyVersion) && !sameJSON(got.version, want.version)) {
			t.Fatalf("probeLegacy(%q) = %+v, %t; full decode says %+v", data, got, ok, want)
		}
	})
}

func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && bytes.Equal(mustJSON(x), mustJSON(y))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzDecodeSource: any message decodes to an event, an invalid or a
// skipped message, never a panic; an event has a person and a version.
func FuzzDecodeSource(f *testing.F) {
	f.Add([]byte(`{"aggregate_id":{"id":"p"},"sequence":1,"event":{"PersonCreated":{"person_id":{"id":"p"},"name":{"given_name":"A","family_name":"B"},"source":"s","created_at":"2025-08-07T10:11:12Z"}}}`), "", "", "", "person.events.p.created")
	f.Add([]byte(`{"person_id":"p","name":{"given_names":["A"]},"source":"s"}`), "PersonCreated", "3", "1", "person.events.p")
	f.Add([]byte(`{"version":"1.0","person_id":"p","reason":"r","deactivated_at":"2025-08-07T10:06:00Z"}`), "", "", "", "person.events.p.deactivated")
	f.Add([]byte(`{}`), "", "", "", "person.commands.p")
	f.Fuzz(func(t *testing.T, data []byte, typ, schema, version, subject string) {
		h := map[string][]string{}
		for k, v := range map[string]string{hdrEventType: typ, hdrSchemaVersion: schema, hdrPersonVersion: version} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		d := decodeSource(sourceMsg{seq: 1, subject: subject, header: h, data: data}, "person.events")
		switch d.kind {
		case kindEvent:
			if d.env == nil || d.env.GetPersonId() == "" || d.env.GetVersion() == 0 || d.err != nil {
				t.Fatalf("event without person or version: %+v", d)
			}
		case kindInvalid:
			if d.err == nil || d.env != nil {
				t.Fatalf("invalid without an error: %+v", d)
			}
		case kindSkipped:
			if d.skip == "" && subject != "" {
				t.Fatalf("skipped without a subject root: %+v", d)
			}
		}
	})
}
