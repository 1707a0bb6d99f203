package upcast

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// ErrUnsupportedLegacy is wrapped (with persistence.ErrInvalidEvent) by
// DecodeLegacy for an event of the original system that has no counterpart
// in the current schema (component and attribute events, PersonEventV2
// Location/Employment/Identity/Updated/MetadataUpdated). A migration may
// choose to skip such events; a store cannot.
var ErrUnsupportedLegacy = errors.New("upcast: legacy event has no current counterpart")

// Header names a raw message may carry; they win over what the payload says.
const (
	headerEventID     = "Nats-Msg-Id"
	headerPersonID    = "Cim-Person-Id"
	headerVersion     = "Cim-Person-Version"
	headerOccurredAt  = "Cim-Occurred-At"
	headerCorrelation = "Cim-Correlation-Id"
	headerCausation   = "Cim-Causation-Id"
	headerActor       = "Cim-Actor"
)

// legacyNamespace derives event ids for legacy events stored without one
// (the original NatsEventStore set no Nats-Msg-Id): UUIDv5 of
// "<person id>/<version>", so that decoding is deterministic and a migration
// that appends them is idempotent.
var legacyNamespace = uuid.MustParse("6f1d3c52-6c1b-4e0e-9d0a-2b8b7d6c1e4f")

// DecodeLegacy decodes a raw message of the original system with the
// [Default] registry. See [Registry.DecodeLegacy].
func DecodeLegacy(data []byte, header map[string][]string) (*personv1.EventEnvelope, error) {
	return Default().DecodeLegacy(data, header)
}

// DecodeLegacy decodes a raw message of the original system (payload bytes
// and optional NATS headers) into a current event envelope. It reads every
// shape the original stored:
//
//   - NatsEventStore's EventEnvelope {aggregate_id, sequence, event:{"<Variant>":{…}},
//     timestamp, correlation_id, causation_id} with PersonEvent externally
//     tagged, person ids as {"id":"<uuid>"};
//   - the processor's StreamingEventEnvelope {event_id, aggregate_id, sequence,
//     event:{event_type, data}} with PersonEventV2 adjacently tagged;
//   - a bare PersonEvent {"<Variant>":{…}} or PersonEventV2 {event_type, data};
//   - a flat versioned event {"version":"1.0"|"2.0", …} (the original's
//     migrate_legacy_event output), its type told by its fields.
//
// The person version comes from the Cim-Person-Version header or the
// envelope's sequence; the person id from Cim-Person-Id, the envelope or the
// body; the event id from Nats-Msg-Id, the envelope, or is derived
// deterministically. Errors wrap persistence.ErrInvalidEvent (and
// [ErrUnsupportedLegacy] for events without a counterpart) and name what
// could not be read.
func (r *Registry) DecodeLegacy(data []byte, header map[string][]string) (*personv1.EventEnvelope, error) {
	env, err := r.decodeLegacy(data, header)
	if err != nil {
		return nil, fmt.Errorf("%w: legacy event: %w", persistence.ErrInvalidEvent, err)
	}
	return env, nil
}

// legacyEvent is a legacy event converted to a registry record's parts.
type legacyEvent struct {
	eventType string
	schema    uint32
	body      map[string]any
	meta      Meta
	personID  string // from the body, if it names one
}

func (r *Registry) decodeLegacy(data []byte, header map[string][]string) (*personv1.EventEnvelope, error) {
	doc, err := decodeJSONObject(data)
	if err != nil {
		return nil, err
	}
	rec := Record{EventID: headerValue(header, headerEventID), PersonID: headerValue(header, headerPersonID)}
	var seq string // the envelope's sequence
	event := doc
	if _, ok := doc["event"]; ok && (has(doc, "aggregate_id") || has(doc, "sequence")) {
		if err := onlyKeys(doc, "legacy envelope", "aggregate_id", "sequence", "event", "timestamp", "correlation_id", "causation_id", "event_id", "stream_position"); err != nil {
			return nil, err
		}
		if rec.PersonID == "" && doc["aggregate_id"] != nil {
			if rec.PersonID, err = personID(doc["aggregate_id"]); err != nil {
				return nil, fmt.Errorf("aggregate_id: %w", err)
			}
		}
		if n, ok := doc["sequence"].(json.Number); ok {
			seq = n.String()
		} else if doc["sequence"] != nil {
			return nil, fmt.Errorf("sequence is %s, want a number", kind(doc["sequence"]))
		}
		if rec.EventID == "" {
			if rec.EventID, err = optionalString(doc, "event_id"); err != nil {
				return nil, err
			}
		}
		if rec.Meta, err = envelopeMeta(doc); err != nil {
			return nil, err
		}
		inner, ok := doc["event"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("event is %s, want an object", kind(doc["event"]))
		}
		event = inner
	}
	le, err := legacyBody(event)
	if err != nil {
		return nil, err
	}
	if rec.PersonID == "" {
		rec.PersonID = le.personID
	}
	if rec.PersonID == "" {
		return nil, fmt.Errorf("%s has no person id (no %s header, aggregate_id or person_id)", le.eventType, headerPersonID)
	}
	if v := headerValue(header, headerVersion); v != "" {
		seq = v
	}
	if seq == "" {
		return nil, fmt.Errorf("%s of %s has no version (no %s header or envelope sequence)", le.eventType, rec.PersonID, headerVersion)
	}
	if rec.Version, err = strconv.ParseUint(seq, 10, 64); err != nil || rec.Version == 0 {
		return nil, fmt.Errorf("%s of %s: version %q is not a positive integer", le.eventType, rec.PersonID, seq)
	}
	if rec.EventID == "" {
		rec.EventID = uuid.NewSHA1(legacyNamespace, []byte(rec.PersonID+"/"+strconv.FormatUint(rec.Version, 10))).String()
	}
	hm, err := headerMeta(header)
	if err != nil {
		return nil, err
	}
	// Headers win, then what the event body says (its own time), then the
	// original envelope (its publish time) for what is still unknown.
	envelope := rec.Meta
	hm.fill(le.meta)
	rec.Meta = hm
	rec.Type, rec.SchemaVersion = le.eventType, le.schema
	if rec.Body, err = json.Marshal(le.body); err != nil {
		return nil, err
	}
	env, err := r.Decode(rec)
	if err != nil {
		return nil, err
	}
	if env.OccurredAt == nil && !envelope.OccurredAt.IsZero() {
		env.OccurredAt = timestamppb.New(envelope.OccurredAt)
	}
	if env.CorrelationId == "" {
		env.CorrelationId = envelope.CorrelationID
	}
	if env.CausationId == "" {
		env.CausationId = envelope.CausationID
	}
	return env, nil
}

// headerValue returns the first value of key, "" if absent.
func headerValue(h map[string][]string, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// headerMeta reads the metadata headers.
func headerMeta(h map[string][]string) (Meta, error) {
	m := Meta{CorrelationID: headerValue(h, headerCorrelation), CausationID: headerValue(h, headerCausation), Actor: headerValue(h, headerActor)}
	if at := headerValue(h, headerOccurredAt); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return Meta{}, fmt.Errorf("header %s %q is not an RFC 3339 timestamp", headerOccurredAt, at)
		}
		m.OccurredAt = t
	}
	return m, nil
}

// envelopeMeta reads the metadata of the original EventEnvelope.
func envelopeMeta(doc map[string]any) (Meta, error) {
	var m Meta
	var err error
	if doc["timestamp"] != nil {
		if m.OccurredAt, err = timestamp(doc["timestamp"], "timestamp"); err != nil {
			return Meta{}, err
		}
	}
	if m.CorrelationID, err = optionalString(doc, "correlation_id"); err != nil {
		return Meta{}, err
	}
	if m.CausationID, err = optionalString(doc, "causation_id"); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// optionalString reads m[key] as a string, "" if absent or null.
func optionalString(m map[string]any, key string) (string, error) {
	switch x := m[key].(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	default:
		return "", fmt.Errorf("%s is %s, want a string", key, kind(x))
	}
}

// legacyBody converts a PersonEvent, a PersonEventV2 or a flat versioned
// event.
func legacyBody(doc map[string]any) (legacyEvent, error) {
	if len(doc) == 1 {
		for variant, v := range doc {
			if conv, ok := taggedVariants[variant]; ok {
				body, ok := v.(map[string]any)
				if !ok {
					return legacyEvent{}, fmt.Errorf("%s is %s, want an object", variant, kind(v))
				}
				return conv(body)
			}
			if unsupportedVariants[variant] {
				return legacyEvent{}, fmt.Errorf("%s: %w", variant, ErrUnsupportedLegacy)
			}
		}
	}
	if t, ok := doc["event_type"]; ok {
		if err := onlyKeys(doc, "PersonEventV2", "event_type", "data"); err != nil {
			return legacyEvent{}, err
		}
		name, _ := t.(string)
		body, ok := doc["data"].(map[string]any)
		if !ok {
			return legacyEvent{}, fmt.Errorf("PersonEventV2 %v: data is %s, want an object", t, kind(doc["data"]))
		}
		conv, known := v2Variants[name]
		switch {
		case known:
			return conv(body)
		case unsupportedV2[name]:
			return legacyEvent{}, fmt.Errorf("PersonEventV2 %s: %w", name, ErrUnsupportedLegacy)
		}
		return legacyEvent{}, fmt.Errorf("unknown PersonEventV2 event_type %v", t)
	}
	return flatBody(doc)
}

// flatBody converts a flat event, its type told by its fields (the
// original's migrate_legacy_event output and its 2.0 shapes).
func flatBody(doc map[string]any) (legacyEvent, error) {
	body := maps.Clone(doc)
	delete(body, "version")
	switch {
	case has(body, "old_name") || has(body, "new_name"):
		return nameUpdated(body)
	case has(body, "name") && has(body, "updated_at"):
		return personUpdated(body)
	case has(body, "name") && has(body, "created_at"):
		return personCreated(body)
	case has(body, "name") && (has(body, "metadata") || has(body, "source")):
		return personCreatedV2(body)
	case has(body, "birth_date"):
		return birthDateSet(body)
	case has(body, "date_of_death"):
		return deathRecorded(body)
	case has(body, "deactivated_at"):
		return reasonEvent("PersonDeactivated", "deactivated_at")(body)
	case has(body, "reactivated_at"):
		return reasonEvent("PersonReactivated", "reactivated_at")(body)
	case has(body, "merged_into_id"):
		return mergedInto(body)
	case has(body, "component_type") || has(body, "attribute") || has(body, "attribute_type"):
		return legacyEvent{}, fmt.Errorf("component or attribute event: %w", ErrUnsupportedLegacy)
	}
	return legacyEvent{}, errors.New("unrecognised legacy event shape")
}

type converter func(body map[string]any) (legacyEvent, error)

// taggedVariants are the PersonEvent variants ([A] to [H]) with a current
// counterpart.
var taggedVariants = map[string]converter{
	"PersonCreated":     personCreated,
	"PersonUpdated":     personUpdated,
	"NameUpdated":       nameUpdated,
	"BirthDateSet":      birthDateSet,
	"DeathRecorded":     deathRecorded,
	"PersonDeactivated": reasonEvent("PersonDeactivated", "deactivated_at"),
	"PersonReactivated": reasonEvent("PersonReactivated", "reactivated_at"),
	"PersonMergedInto":  mergedInto,
}

var unsupportedVariants = map[string]bool{
	"ComponentRegistered": true, "ComponentUnregistered": true, "ComponentDataUpdated": true,
	"AttributeRecorded": true, "AttributeUpdated": true, "AttributeInvalidated": true,
}

// v2Variants are the PersonEventV2 variants with a current counterpart;
// each carries a metadata object.
var v2Variants = map[string]converter{
	"Created":       personCreatedV2,
	"NameUpdated":   nameUpdated,
	"Activated":     v2Reason("PersonReactivated"),
	"Suspended":     v2Reason("PersonDeactivated"),
	"Archived":      v2Reason("PersonArchived"),
	"BirthDateSet":  birthDateSet,
	"DeathRecorded": deathRecorded,
	"PersonMerged":  mergedInto,
}

var unsupportedV2 = map[string]bool{
	"ComponentAdded": true, "ComponentUpdated": true, "ComponentRemoved": true, "LocationAssigned": true,
	"EmploymentAdded": true, "IdentityLinked": true, "Updated": true, "MetadataUpdated": true,
}

// bodyPersonID reads body[key] as a person id when present.
func bodyPersonID(body map[string]any, key string) (string, error) {
	if body[key] == nil {
		return "", nil
	}
	id, err := personID(body[key])
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return id, nil
}

// personCreated keeps the body: PersonCreated schema 1 is the legacy shape.
func personCreated(body map[string]any) (legacyEvent, error) {
	id, err := bodyPersonID(body, "person_id")
	return legacyEvent{eventType: "PersonCreated", schema: 1, body: body, personID: id}, err
}

// personCreatedV2 keeps the body: PersonCreated schema 2 is the 2.0 shape.
func personCreatedV2(body map[string]any) (legacyEvent, error) {
	id, err := bodyPersonID(body, "person_id")
	return legacyEvent{eventType: "PersonCreated", schema: 2, body: body, personID: id}, err
}

// nameUpdated keeps the body: NameUpdated schema 1 is the legacy shape.
func nameUpdated(body map[string]any) (legacyEvent, error) {
	id, err := bodyPersonID(body, "person_id")
	return legacyEvent{eventType: "NameUpdated", schema: 1, body: body, personID: id}, err
}

// personUpdated {person_id, name, updated_at} set the name without an old
// one: a NameUpdated.
func personUpdated(body map[string]any) (legacyEvent, error) {
	if err := onlyKeys(body, "PersonUpdated", "person_id", "name", "updated_at"); err != nil {
		return legacyEvent{}, err
	}
	id, err := bodyPersonID(body, "person_id")
	out := map[string]any{"person_id": body["person_id"], "new_name": body["name"], "updated_at": body["updated_at"]}
	return legacyEvent{eventType: "NameUpdated", schema: 1, body: out, personID: id}, err
}

// current converts a body to a current-schema event of eventType: it keeps
// the fields in copy (from → to, converted), reads the person id from
// idKey, and the occurred time from atKey or a metadata object.
func current(eventType string, body map[string]any, idKey, atKey string, fields map[string]func(any) (string, any, error)) (legacyEvent, error) {
	allowed := []string{idKey, atKey, "metadata"}
	for k := range fields {
		allowed = append(allowed, k)
	}
	if err := onlyKeys(body, eventType, allowed...); err != nil {
		return legacyEvent{}, err
	}
	le := legacyEvent{eventType: eventType, schema: CurrentVersion(eventType), body: map[string]any{}}
	var err error
	if le.personID, err = bodyPersonID(body, idKey); err != nil {
		return legacyEvent{}, err
	}
	if body["metadata"] != nil {
		if le.meta, err = metadata(body["metadata"]); err != nil {
			return legacyEvent{}, err
		}
	}
	if body[atKey] != nil {
		if le.meta.OccurredAt, err = timestamp(body[atKey], atKey); err != nil {
			return legacyEvent{}, err
		}
	}
	for from, conv := range fields {
		if body[from] == nil {
			continue
		}
		to, v, err := conv(body[from])
		if err != nil {
			return legacyEvent{}, fmt.Errorf("%s: %w", eventType, err)
		}
		le.body[to] = v
	}
	return le, nil
}

func birthDateSet(body map[string]any) (legacyEvent, error) {
	return current("BirthDateSet", body, "person_id", "set_at", map[string]func(any) (string, any, error){
		"birth_date": func(v any) (string, any, error) { d, err := date(v, "birth_date"); return "birth_date", d, err },
	})
}

func deathRecorded(body map[string]any) (legacyEvent, error) {
	return current("DeathRecorded", body, "person_id", "recorded_at", map[string]func(any) (string, any, error){
		"date_of_death": func(v any) (string, any, error) { d, err := date(v, "date_of_death"); return "date_of_death", d, err },
	})
}

// reasonString converts a free-text reason.
func reasonString(v any) (string, any, error) {
	s, ok := v.(string)
	if !ok {
		return "", nil, fmt.Errorf("reason is %s, want a string", kind(v))
	}
	return "reason", s, nil
}

// reasonEvent converts PersonDeactivated / PersonReactivated
// {person_id, reason, <atKey>}.
func reasonEvent(eventType, atKey string) converter {
	return func(body map[string]any) (legacyEvent, error) {
		return current(eventType, body, "person_id", atKey, map[string]func(any) (string, any, error){"reason": reasonString})
	}
}

// v2Reason converts PersonEventV2 Activated/Suspended/Archived
// {person_id, reason, metadata}.
func v2Reason(eventType string) converter {
	return func(body map[string]any) (legacyEvent, error) {
		return current(eventType, body, "person_id", "", map[string]func(any) (string, any, error){"reason": reasonString})
	}
}

// mergedInto converts PersonMergedInto {source_person_id, merged_into_id,
// merge_reason, merged_at} and PersonEventV2 PersonMerged
// {source_person_id, target_person_id, merge_reason, metadata}.
func mergedInto(body map[string]any) (legacyEvent, error) {
	target := func(v any) (string, any, error) {
		id, err := personID(v)
		return "target_person_id", id, err
	}
	return current("PersonMergedInto", body, "source_person_id", "merged_at", map[string]func(any) (string, any, error){
		"merged_into_id":   target,
		"target_person_id": target,
		"merge_reason": func(v any) (string, any, error) {
			r, err := mergeReason(v)
			return "reason", r, err
		},
	})
}
