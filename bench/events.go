package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	pjs "github.com/cim/personrt/persistence/jetstream"
)

// newPersonIDs returns n fresh person ids.
func newPersonIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	return ids
}

// nameUpdated is the typical command result: a rename.
func nameUpdated(i uint64) *personv1.Event {
	return &personv1.Event{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{
		OldName:      &personv1.PersonName{GivenNames: []string{"Ada", "Augusta"}, FamilyNames: []string{"Byron"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN},
		NewName:      &personv1.PersonName{GivenNames: []string{"Ada", "Augusta"}, FamilyNames: []string{"King"}, Prefixes: []string{"Countess"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN},
		ChangeReason: "marriage #" + strconv.FormatUint(i, 10),
	}}}
}

// newEvent returns the envelope a grain would append as version of personID.
func newEvent(personID string, version uint64, body *personv1.Event) *personv1.EventEnvelope {
	typ := body.TypeName()
	return &personv1.EventEnvelope{
		EventId:       uuid.Must(uuid.NewV7()).String(),
		PersonId:      personID,
		Version:       version,
		Type:          typ,
		SchemaVersion: upcast.CurrentVersion(typ),
		OccurredAt:    timestamppb.New(time.Now()),
		CorrelationId: "corr-" + personID,
		CausationId:   "cmd-" + strconv.FormatUint(version, 10) + "-" + personID,
		Actor:         "user:bench",
		Event:         body,
	}
}

// rawMsg builds the message the raw baseline publishes: the same headers
// and payload the adapter stores (persistence/jetstream package doc), with
// the optimistic-concurrency expectation.
func rawMsg(subject string, e *personv1.EventEnvelope, payload []byte, contentType string, expectedSeq uint64) *nats.Msg {
	h := nats.Header{
		"Nats-Msg-Id":                         {e.EventId},
		"Cim-Event-Type":                      {e.Type},
		"Cim-Schema-Version":                  {strconv.FormatUint(uint64(e.SchemaVersion), 10)},
		"Cim-Person-Id":                       {e.PersonId},
		"Cim-Person-Version":                  {strconv.FormatUint(e.Version, 10)},
		"Content-Type":                        {contentType},
		"Cim-Occurred-At":                     {e.OccurredAt.AsTime().Format(time.RFC3339Nano)},
		"Cim-Correlation-Id":                  {e.CorrelationId},
		"Cim-Causation-Id":                    {e.CausationId},
		"Cim-Actor":                           {e.Actor},
		"Nats-Expected-Last-Subject-Sequence": {strconv.FormatUint(expectedSeq, 10)},
	}
	return &nats.Msg{Subject: subject, Header: h, Data: payload}
}

// mustEncode encodes a body as the store does with payload
// (pjs.PayloadJSON or PayloadProtobuf) and returns it with its content
// type; the bench's bodies always encode.
func mustEncode(ev *personv1.Event, payload string) ([]byte, string) {
	encode, contentType := upcast.EncodeBody, "application/json"
	if payload == pjs.PayloadProtobuf {
		encode, contentType = upcast.EncodeBodyBinary, "application/protobuf"
	}
	b, err := encode(ev)
	if err != nil {
		panic(fmt.Sprintf("encode bench body: %v", err))
	}
	return b, contentType
}
