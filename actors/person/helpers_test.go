package person_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

const (
	pid      = "0190d3a4-7b1c-7def-8abc-000000000001"
	otherPID = "0190d3a4-7b1c-7def-8abc-000000000002"
	cmdID    = "0190d3a4-7b1c-7def-8abc-0000000000c1"

	lcDraft       = personv1.LifecycleState_LIFECYCLE_STATE_DRAFT
	lcActive      = personv1.LifecycleState_LIFECYCLE_STATE_ACTIVE
	lcDeactivated = personv1.LifecycleState_LIFECYCLE_STATE_DEACTIVATED
	lcArchived    = personv1.LifecycleState_LIFECYCLE_STATE_ARCHIVED
	lcDeceased    = personv1.LifecycleState_LIFECYCLE_STATE_DECEASED
	lcMerged      = personv1.LifecycleState_LIFECYCLE_STATE_MERGED_INTO

	email = personv1.ContactKind_CONTACT_KIND_EMAIL
	phone = personv1.ContactKind_CONTACT_KIND_PHONE
)

// now is the clock of every test: 2025-06-01 12:00 UTC.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ada() *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"},
		Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

func grace() *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{"Grace"}, FamilyNames: []string{"Hopper"},
		Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

// cmd returns a command for pid with the given body message
// (*personv1.UpdateName, …).
func cmd(body proto.Message) *personv1.Command {
	c := &personv1.Command{CommandId: cmdID, PersonId: pid, Actor: "test"}
	setBody(c, body)
	return c
}

// ev wraps an event body message into an Event.
func ev(body proto.Message) *personv1.Event {
	e := &personv1.Event{}
	setBody(e, body)
	return e
}

// setBody sets the case of m's "body" oneof whose type is body's.
func setBody(m, body proto.Message) {
	r := m.ProtoReflect()
	fields := r.Descriptor().Oneofs().ByName("body").Fields()
	for i := range fields.Len() {
		if fd := fields.Get(i); fd.Message().FullName() == body.ProtoReflect().Descriptor().FullName() {
			r.Set(fd, protoreflect.ValueOfMessage(body.ProtoReflect()))
			return
		}
	}
	panic("no body case for " + string(body.ProtoReflect().Descriptor().FullName()))
}

// fold applies event bodies from Draft with versions 1, 2, …
func fold(t testing.TB, events ...*personv1.Event) person.State {
	t.Helper()
	var s person.State
	for _, e := range events {
		s = person.Apply(s, envelope(s.Version()+1, e))
	}
	return s
}

// envelope wraps an event as the runtime stores it.
func envelope(version uint64, e *personv1.Event) *personv1.EventEnvelope {
	return &personv1.EventEnvelope{
		EventId: "e-" + strconv.FormatUint(version, 10), PersonId: pid, Version: version, Type: e.TypeName(), SchemaVersion: 1,
		OccurredAt: timestamppb.New(now.Add(time.Duration(version) * time.Second)), CausationId: cmdID, Event: e,
	}
}

// applyAll folds events produced by Decide into s.
func applyAll(s person.State, events []*personv1.Event) person.State {
	for _, e := range events {
		s = person.Apply(s, envelope(s.Version()+1, e))
	}
	return s
}

func created() *personv1.Event {
	return ev(&personv1.PersonCreated{PersonId: pid, Name: ada(), Source: "test"})
}

// rich are the events of an Active person with a birth date, a primary
// unverified email (c-email), a phone stored unnormalised by an older
// system (c-phone) and a height (attr-height) valid from 2020.
func rich() []*personv1.Event {
	return []*personv1.Event{
		ev(&personv1.PersonCreated{PersonId: pid, Name: ada(), Source: "test", Contacts: []*personv1.Contact{
			{ContactId: "c-email", Kind: email, Value: "ada@example.com", Primary: true},
			{ContactId: "c-phone", Kind: phone, Value: "650-253-0000"},
		}}),
		ev(&personv1.BirthDateSet{BirthDate: civil.Date(1990, 5, 17)}),
		ev(&personv1.AttributeRecorded{Attribute: height("attr-height", 1.70, civil.Date(2020, 1, 1))}),
	}
}

func height(id string, m float64, from *personv1.Date) *personv1.Attribute {
	return &personv1.Attribute{
		AttributeId: id, Type: personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT,
		Value:      &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: m}}},
		Validity:   &personv1.TemporalValidity{ValidFrom: from},
		Provenance: &personv1.Provenance{Source: personv1.ProvenanceSource_PROVENANCE_SOURCE_MEASURED},
		RecordedAt: timestamppb.New(now),
	}
}

// assertReject checks err's code (by errors.Is with a sentinel) and rule.
func assertReject(t testing.TB, err error, wantErr error, wantRule string) {
	t.Helper()
	var e *personv1.Error
	if !errors.Is(err, wantErr) || !errors.As(err, &e) {
		t.Fatalf("err = %v, want %v", err, wantErr)
	}
	if e.GetRule() != wantRule {
		t.Fatalf("err = %v, want rule %s", err, wantRule)
	}
}

// mustPanic runs f and returns the recovered error.
func mustPanic(t *testing.T, f func()) (err error) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic")
		}
		var ok bool
		if err, ok = r.(error); !ok {
			t.Fatalf("panic value %T %v is not an error", r, r)
		}
	}()
	f()
	return nil
}
