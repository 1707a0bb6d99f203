package storetest

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
)

// NewPersonID returns a fresh person id (a UUIDv7 string).
func NewPersonID() string { return uuid.Must(uuid.NewV7()).String() }

// NewEvent returns a valid envelope for version of personID with a fresh
// event id, the body's type and current schema version, and every metadata
// field set (occurred_at with nanoseconds, so stores must keep them).
func NewEvent(personID string, version uint64, body *personv1.Event) *personv1.EventEnvelope {
	id := uuid.Must(uuid.NewV7()).String()
	typ := body.TypeName()
	return &personv1.EventEnvelope{
		EventId:       id,
		PersonId:      personID,
		Version:       version,
		Type:          typ,
		SchemaVersion: upcast.CurrentVersion(typ),
		OccurredAt:    timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, int(version)*1000+7, time.UTC)),
		CorrelationId: "corr-" + personID,
		CausationId:   fmt.Sprintf("cmd-%s-%d", personID, version),
		Actor:         "user:storetest",
		Event:         body,
	}
}

// Body returns an event body that varies with i, cycling through several
// event types, for tests that need many different events.
func Body(personID string, i uint64) *personv1.Event {
	switch i % 4 {
	case 0:
		return &personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{
			PersonId: personID,
			Name:     &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN},
			Source:   "storetest",
		}}}
	case 1:
		return &personv1.Event{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{
			OldName:      &personv1.PersonName{GivenNames: []string{"Ada"}},
			NewName:      &personv1.PersonName{GivenNames: []string{"Ada", fmt.Sprint(i)}, FamilyNames: []string{"King"}},
			ChangeReason: "marriage",
		}}}
	case 2:
		return &personv1.Event{Body: &personv1.Event_BirthDateSet{BirthDateSet: &personv1.BirthDateSet{
			BirthDate: &personv1.Date{Year: 1815, Month: 12, Day: int32(1 + i%28)},
		}}}
	default:
		return &personv1.Event{Body: &personv1.Event_PersonDeactivated{PersonDeactivated: &personv1.PersonDeactivated{
			Reason: fmt.Sprintf("reason %d ✓", i),
		}}}
	}
}

// Events returns n valid events of personID from version from on, with
// bodies from [Body].
func Events(personID string, from uint64, n int) []*personv1.EventEnvelope {
	out := make([]*personv1.EventEnvelope, n)
	for i := range out {
		v := from + uint64(i)
		out[i] = NewEvent(personID, v, Body(personID, v))
	}
	return out
}
