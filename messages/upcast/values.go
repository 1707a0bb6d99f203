package upcast

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Decoders of the value shapes of the original system (cim-domain-person,
// Rust/serde). Each returns the JSON value of the current protobuf shape
// (proto field names), or an error naming what it could not read.

// personID reads a person id: a string, or cim-domain's EntityId
// serialisation {"id":"<uuid>"}.
func personID(v any) (string, error) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "", errors.New("person id is empty")
		}
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			return "", fmt.Errorf("person id object has %d fields, want only \"id\"", len(x))
		}
		return personID(x["id"])
	}
	return "", fmt.Errorf("person id is %s, want a string or {\"id\":…}", kind(v))
}

// kind names the JSON kind of v for error messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// conventions maps the original NamingConvention names to the proto enum.
var conventions = map[string]string{
	"Western":    "NAMING_CONVENTION_WESTERN",
	"Spanish":    "NAMING_CONVENTION_SPANISH",
	"EastAsian":  "NAMING_CONVENTION_EAST_ASIAN",
	"Patronymic": "NAMING_CONVENTION_PATRONYMIC",
	"Mononymic":  "NAMING_CONVENTION_MONONYMIC",
	"Other":      "NAMING_CONVENTION_UNSPECIFIED",
}

// personName reads a name in any shape the original system stored:
//
//   - [A] flat: {given_name, family_name, middle_names[], preferred_name?, honorific?, suffix?}
//   - test fixtures: {first_name, middle_name?, last_name}
//   - [H] structured: {components:{given_names[], family_names[], patronymic?,
//     matronymic?, prefixes[], suffixes[]}, preferred_form?, naming_convention}
//   - the current shape (proto names or JSON names), passed through
//
// Middle names become further given names; honorifics prefixes. Empty
// strings are dropped.
func personName(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("name is %s, want an object", kind(v))
	}
	out := map[string]any{}
	var err error
	switch {
	case has(m, "components"):
		err = structuredName(m, out)
	case has(m, "given_name") || has(m, "family_name"):
		err = flatName(m, out)
	case has(m, "first_name") || has(m, "last_name"):
		err = fixtureName(m, out)
	default:
		return currentName(m)
	}
	if err != nil {
		return nil, err
	}
	if len(out["given_names"].([]any))+len(out["family_names"].([]any)) == 0 && out["patronymic"] == nil {
		return nil, errors.New("name has no given, family or patronymic name")
	}
	return out, nil
}

func has(m map[string]any, key string) bool { _, ok := m[key]; return ok }

// structuredName reads the [H] PersonName.
func structuredName(m map[string]any, out map[string]any) error {
	if err := onlyKeys(m, "name", "components", "preferred_form", "naming_convention"); err != nil {
		return err
	}
	c, ok := m["components"].(map[string]any)
	if !ok {
		return fmt.Errorf("name components is %s, want an object", kind(m["components"]))
	}
	if err := onlyKeys(c, "name components", "given_names", "family_names", "patronymic", "matronymic", "prefixes", "suffixes"); err != nil {
		return err
	}
	for _, f := range []string{"given_names", "family_names", "prefixes", "suffixes"} {
		list, err := stringList(c[f], f)
		if err != nil {
			return err
		}
		out[f] = list
	}
	for _, f := range []string{"patronymic", "matronymic"} {
		if err := optString(c, f, out, f); err != nil {
			return err
		}
	}
	if err := optString(m, "preferred_form", out, "preferred_form"); err != nil {
		return err
	}
	if cv, ok := m["naming_convention"]; ok && cv != nil {
		s, ok := cv.(string)
		enum, known := conventions[s]
		if !ok || !known {
			return fmt.Errorf("unknown naming_convention %v", cv)
		}
		out["convention"] = enum
	}
	return nil
}

// flatName reads the [A] PersonName.
func flatName(m map[string]any, out map[string]any) error {
	if err := onlyKeys(m, "name", "given_name", "family_name", "middle_names", "preferred_name", "honorific", "suffix"); err != nil {
		return err
	}
	given, err := stringList(m["given_name"], "given_name")
	if err != nil {
		return err
	}
	middle, err := stringList(m["middle_names"], "middle_names")
	if err != nil {
		return err
	}
	out["given_names"] = append(given, middle...)
	if out["family_names"], err = stringList(m["family_name"], "family_name"); err != nil {
		return err
	}
	if out["prefixes"], err = stringList(m["honorific"], "honorific"); err != nil {
		return err
	}
	if out["suffixes"], err = stringList(m["suffix"], "suffix"); err != nil {
		return err
	}
	if err := optString(m, "preferred_name", out, "preferred_form"); err != nil {
		return err
	}
	out["convention"] = "NAMING_CONVENTION_WESTERN"
	return nil
}

// fixtureName reads the {first_name, middle_name, last_name} shape.
func fixtureName(m map[string]any, out map[string]any) error {
	if err := onlyKeys(m, "name", "first_name", "middle_name", "last_name"); err != nil {
		return err
	}
	given, err := stringList(m["first_name"], "first_name")
	if err != nil {
		return err
	}
	middle, err := stringList(m["middle_name"], "middle_name")
	if err != nil {
		return err
	}
	out["given_names"] = append(given, middle...)
	if out["family_names"], err = stringList(m["last_name"], "last_name"); err != nil {
		return err
	}
	out["convention"] = "NAMING_CONVENTION_WESTERN"
	return nil
}

// currentName passes the current shape through, checking its keys; the
// protobuf decoder checks the values.
func currentName(m map[string]any) (map[string]any, error) {
	known := map[string]bool{}
	for _, k := range []string{"given_names", "family_names", "patronymic", "matronymic", "prefixes", "suffixes", "preferred_form", "convention",
		"givenNames", "familyNames", "preferredForm"} {
		known[k] = true
	}
	if len(m) == 0 {
		return nil, errors.New("name is an empty object")
	}
	for k := range m {
		if !known[k] {
			return nil, fmt.Errorf("name has unknown field %q", k)
		}
	}
	return m, nil
}

// onlyKeys fails for a key of m not in keys.
func onlyKeys(m map[string]any, what string, keys ...string) error {
	for k := range m {
		found := false
		for _, want := range keys {
			if k == want {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s has unknown field %q", what, k)
		}
	}
	return nil
}

// stringList reads null, a string or an array of strings as a list of the
// non-blank strings.
func stringList(v any, field string) ([]any, error) {
	out := []any{}
	switch x := v.(type) {
	case nil:
	case string:
		if strings.TrimSpace(x) != "" {
			out = append(out, x)
		}
	case []any:
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d] is %s, want a string", field, i, kind(e))
			}
			if strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
		}
	default:
		return nil, fmt.Errorf("%s is %s, want a string or a list of strings", field, kind(v))
	}
	return out, nil
}

// optString copies the string m[from] to out[to] if set and not blank.
func optString(m map[string]any, from string, out map[string]any, to string) error {
	switch x := m[from].(type) {
	case nil:
		return nil
	case string:
		if strings.TrimSpace(x) != "" {
			out[to] = x
		}
		return nil
	default:
		return fmt.Errorf("%s is %s, want a string", from, kind(x))
	}
}

// date reads a chrono NaiveDate ("2001-02-03") as a person.v1.Date.
func date(v any, field string) (map[string]any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want a date string", field, kind(v))
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a date (YYYY-MM-DD)", field, s)
	}
	return map[string]any{"year": t.Year(), "month": int(t.Month()), "day": t.Day()}, nil
}

// timestamp reads a chrono DateTime<Utc> (RFC 3339).
func timestamp(v any, field string) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is %s, want an RFC 3339 timestamp", field, kind(v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 timestamp", field, s)
	}
	return t, nil
}

// mergeReasons maps the original MergeReason names to the proto enum.
var mergeReasons = map[string]string{
	"DuplicateIdentity": "MERGE_REASON_DUPLICATE_IDENTITY",
	"DataQualityIssue":  "MERGE_REASON_DATA_QUALITY_ISSUE",
	"UserRequested":     "MERGE_REASON_USER_REQUESTED",
	"PolicyDetermined":  "MERGE_REASON_POLICY_DETERMINED",
}

func mergeReason(v any) (string, error) {
	s, ok := v.(string)
	if r, known := mergeReasons[s]; ok && known {
		return r, nil
	}
	return "", fmt.Errorf("unknown merge_reason %v", v)
}

// metadata reads the original EventMetadata object {version,
// correlation_id, causation_id, timestamp, actor, context}.
func metadata(v any) (Meta, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Meta{}, fmt.Errorf("metadata is %s, want an object", kind(v))
	}
	if err := onlyKeys(m, "metadata", "version", "correlation_id", "causation_id", "timestamp", "actor", "context"); err != nil {
		return Meta{}, err
	}
	var meta Meta
	var err error
	if m["timestamp"] != nil {
		if meta.OccurredAt, err = timestamp(m["timestamp"], "metadata.timestamp"); err != nil {
			return Meta{}, err
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"correlation_id", &meta.CorrelationID}, {"causation_id", &meta.CausationID}, {"actor", &meta.Actor}} {
		switch x := m[f.key].(type) {
		case nil:
		case string:
			*f.dst = x
		default:
			return Meta{}, fmt.Errorf("metadata.%s is %s, want a string", f.key, kind(x))
		}
	}
	return meta, nil
}
