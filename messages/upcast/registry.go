package upcast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// Record is a stored event: its metadata and its body as JSON in the shape
// of Type at SchemaVersion. At the current schema version the body is the
// protojson form of the body message (e.g. a person.v1.NameUpdated), or,
// with Binary, its protobuf wire form.
type Record struct {
	EventID       string
	PersonID      string
	Version       uint64
	Type          string
	SchemaVersion uint32
	Meta          Meta
	Body          []byte
	// Binary marks a Body in protobuf wire form ([EncodeBodyBinary]); only
	// the current schema version is stored that way.
	Binary bool
}

// Meta is the metadata of an event that older schemas kept in the body.
type Meta struct {
	OccurredAt    time.Time // zero when unknown
	CorrelationID string
	CausationID   string
	Actor         string
}

// fill sets the fields of m that are empty from o.
func (m *Meta) fill(o Meta) {
	if m.OccurredAt.IsZero() {
		m.OccurredAt = o.OccurredAt
	}
	if m.CorrelationID == "" {
		m.CorrelationID = o.CorrelationID
	}
	if m.CausationID == "" {
		m.CausationID = o.CausationID
	}
	if m.Actor == "" {
		m.Actor = o.Actor
	}
}

// Doc is what an upcaster lifts: a body as decoded JSON, and metadata it
// found in the body. The record's own metadata wins over Meta; Meta only
// fills what the record lacks.
type Doc struct {
	Body map[string]any
	Meta Meta
}

// Upcaster lifts the body of one event type from one schema version to the
// next. It must be pure: no I/O, no clock, no randomness, and it must not
// modify in.Body's nested values in place (build new ones).
type Upcaster func(in Doc) (Doc, error)

// step is a registered upcaster key.
type step struct {
	eventType string
	from      uint32
}

// Registry holds the upcasters of every event type. Register before first
// use; after that a Registry is read-only and safe for concurrent use.
type Registry struct {
	steps map[step]Upcaster
}

// NewRegistry returns a registry without upcasters: it decodes only events
// at their current schema version.
func NewRegistry() *Registry { return &Registry{steps: make(map[step]Upcaster)} }

// Register adds the upcaster that lifts eventType from schema version from
// to from+1. It returns an error for an unknown type, a step that does not
// end at or below the current version, or a step registered twice.
func (r *Registry) Register(eventType string, from uint32, up Upcaster) error {
	cur := CurrentVersion(eventType)
	switch {
	case cur == 0:
		return fmt.Errorf("upcast: register %s %d→%d: unknown event type", eventType, from, from+1)
	case from == 0 || from >= cur:
		return fmt.Errorf("upcast: register %s %d→%d: current version is %d", eventType, from, from+1, cur)
	}
	k := step{eventType, from}
	if _, dup := r.steps[k]; dup {
		return fmt.Errorf("upcast: register %s %d→%d: registered twice", eventType, from, from+1)
	}
	r.steps[k] = up
	return nil
}

// Default returns the registry with the upcasters of every legacy schema of
// the original system (see the package doc). It is built once and shared;
// it is read-only.
func Default() *Registry { return defaultRegistry() }

var defaultRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	for _, s := range legacySteps {
		if err := r.Register(s.eventType, s.from, s.up); err != nil {
			panic(err) // a bad table entry is a bug
		}
	}
	return r
})

// Decode decodes rec with the [Default] registry.
func Decode(rec Record) (*personv1.EventEnvelope, error) { return Default().Decode(rec) }

// Decode lifts rec to the current schema of its type and returns the event
// envelope. The error wraps [persistence.ErrInvalidEvent] and names the event
// type and schema version for an unknown type or version, a missing
// upcaster, or a body that does not decode.
func (r *Registry) Decode(rec Record) (*personv1.EventEnvelope, error) {
	fd, ok := bodies()[rec.Type]
	if !ok {
		return nil, fmt.Errorf("%w: event %s: unknown event type %q (schema version %d)", persistence.ErrInvalidEvent, rec.EventID, rec.Type, rec.SchemaVersion)
	}
	cur := CurrentVersion(rec.Type)
	if rec.SchemaVersion == 0 || rec.SchemaVersion > cur {
		return nil, fmt.Errorf("%w: event %s: unknown schema version %d of %s (current is %d)", persistence.ErrInvalidEvent, rec.EventID, rec.SchemaVersion, rec.Type, cur)
	}
	meta, body := rec.Meta, rec.Body
	if rec.Binary && rec.SchemaVersion != cur {
		return nil, fmt.Errorf("%w: event %s: binary body of %s at schema %d (only the current schema %d is binary)", persistence.ErrInvalidEvent, rec.EventID, rec.Type, rec.SchemaVersion, cur)
	}
	if rec.SchemaVersion < cur {
		doc, err := r.lift(rec)
		if err != nil {
			return nil, err
		}
		meta.fill(doc.Meta)
		if body, err = json.Marshal(doc.Body); err != nil {
			return nil, fmt.Errorf("%w: event %s: %s lifted from schema %d: %v", persistence.ErrInvalidEvent, rec.EventID, rec.Type, rec.SchemaVersion, err)
		}
	}
	ev := &personv1.Event{}
	msg := ev.ProtoReflect().NewField(fd).Message()
	unmarshal := unmarshalBody
	if rec.Binary {
		unmarshal = unmarshalBinary
	}
	if err := unmarshal(body, msg.Interface()); err != nil {
		return nil, fmt.Errorf("%w: event %s: body of %s schema %d: %v", persistence.ErrInvalidEvent, rec.EventID, rec.Type, rec.SchemaVersion, err)
	}
	ev.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(msg))
	env := &personv1.EventEnvelope{
		EventId:       rec.EventID,
		PersonId:      rec.PersonID,
		Version:       rec.Version,
		Type:          rec.Type,
		SchemaVersion: cur,
		CorrelationId: meta.CorrelationID,
		CausationId:   meta.CausationID,
		Actor:         meta.Actor,
		Event:         ev,
	}
	if !meta.OccurredAt.IsZero() {
		env.OccurredAt = timestamppb.New(meta.OccurredAt)
	}
	return env, nil
}

// lift runs the upcaster chain of rec.Type from rec.SchemaVersion to the
// current version.
func (r *Registry) lift(rec Record) (Doc, error) {
	body, err := decodeJSONObject(rec.Body)
	if err != nil {
		return Doc{}, fmt.Errorf("%w: event %s: body of %s schema %d: %v", persistence.ErrInvalidEvent, rec.EventID, rec.Type, rec.SchemaVersion, err)
	}
	doc := Doc{Body: body}
	for v := rec.SchemaVersion; v < CurrentVersion(rec.Type); v++ {
		up, ok := r.steps[step{rec.Type, v}]
		if !ok {
			return Doc{}, fmt.Errorf("%w: event %s: no upcaster for %s schema %d→%d", persistence.ErrInvalidEvent, rec.EventID, rec.Type, v, v+1)
		}
		prev := doc.Meta
		if doc, err = up(doc); err != nil {
			return Doc{}, fmt.Errorf("%w: event %s: upcast %s schema %d→%d: %w", persistence.ErrInvalidEvent, rec.EventID, rec.Type, v, v+1, err)
		}
		if doc.Body == nil {
			return Doc{}, fmt.Errorf("%w: event %s: upcast %s schema %d→%d returned no body", persistence.ErrInvalidEvent, rec.EventID, rec.Type, v, v+1)
		}
		doc.Meta.fill(prev)
	}
	return doc, nil
}

// errNotObject is returned for a JSON body that is not an object.
var errNotObject = errors.New("body is not a JSON object")

// decodeJSONObject decodes a JSON object, keeping numbers exact.
func decodeJSONObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON body")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	return m, nil
}

// unmarshalOptions reject unknown fields: a body the current schema does not
// describe is corrupt or written by a newer schema, and loading it would be
// silently wrong.
var unmarshalOptions = protojson.UnmarshalOptions{}

func unmarshalBody(b []byte, m proto.Message) error { return unmarshalOptions.Unmarshal(b, m) }

// unmarshalBinary rejects unknown fields like unmarshalBody does.
func unmarshalBinary(b []byte, m proto.Message) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return err
	}
	if unknownFields(m.ProtoReflect()) {
		return errors.New("fields unknown to the current schema")
	}
	return nil
}

// unknownFields reports whether m or a message in it has unknown fields.
func unknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					found = unknownFields(mv.Message())
					return !found
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					if found = unknownFields(v.List().Get(i).Message()); found {
						break
					}
				}
			}
		case fd.Message() != nil:
			found = unknownFields(v.Message())
		}
		return !found
	})
	return found
}

// EncodeBody returns the stored form of an event body at its current schema
// version: the protojson of the body message, with proto field names.
func EncodeBody(ev *personv1.Event) ([]byte, error) {
	m := ev.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if fd == nil {
		return nil, fmt.Errorf("%w: event has no body", persistence.ErrInvalidEvent)
	}
	b, err := marshalOptions.Marshal(m.Get(fd).Message().Interface())
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", persistence.ErrInvalidEvent, fd.Message().Name(), err)
	}
	return b, nil
}

var marshalOptions = protojson.MarshalOptions{UseProtoNames: true}

// EncodeBodyBinary returns the body message of ev in protobuf wire form
// (deterministic), for stores that trade readability for speed.
func EncodeBodyBinary(ev *personv1.Event) ([]byte, error) {
	m := ev.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if fd == nil {
		return nil, fmt.Errorf("%w: event has no body", persistence.ErrInvalidEvent)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Get(fd).Message().Interface())
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", persistence.ErrInvalidEvent, fd.Message().Name(), err)
	}
	return b, nil
}
