package personv1_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
)

// Decoder fuzzing: every message that arrives from outside (a Command from
// a client, an EventEnvelope and a PersonSnapshot from the store, a
// CommandReply from a grain) must decode without panicking, in binary and
// in JSON, and whatever decodes must encode again and decode to the same
// message.

var at = &timestamppb.Timestamp{Seconds: 1748779200, Nanos: 5}

func fullName() *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{"Ada", "Augusta"}, FamilyNames: []string{"King"}, Patronymic: "p",
		Matronymic: "m", Prefixes: []string{"Lady"}, Suffixes: []string{"II"}, PreferredForm: "Ada",
		Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

func fullAttribute() *personv1.Attribute {
	return &personv1.Attribute{
		AttributeId: "a1", Type: personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM,
		Custom:   &personv1.CustomAttributeType{Organization: "acme", Name: "n", Category: personv1.AttributeCategory_ATTRIBUTE_CATEGORY_CUSTOM},
		Value:    &personv1.AttributeValue{Value: &personv1.AttributeValue_Json{Json: `{"a":[1,2]}`}},
		Validity: &personv1.TemporalValidity{ValidFrom: &personv1.Date{Year: 2020, Month: 1, Day: 1}, ValidUntil: &personv1.Date{Year: 2021, Month: 2, Day: 3}},
		Provenance: &personv1.Provenance{Source: personv1.ProvenanceSource_PROVENANCE_SOURCE_IMPORTED, ImportedSystem: "ehr",
			Confidence: personv1.Confidence_CONFIDENCE_LIKELY, RecordedBy: "me",
			Trace: []*personv1.TransformationTrace{{Transformation: "lb→kg", AppliedAt: at, AppliedBy: "etl"}}},
		RecordedAt: at, Invalidated: true, InvalidationReason: "wrong",
	}
}

func seedCommands() []*personv1.Command {
	base := func(b func(*personv1.Command)) *personv1.Command {
		c := &personv1.Command{CommandId: "c1", PersonId: "p1", CorrelationId: "k", CausationId: "e0", Actor: "a", IssuedAt: at}
		b(c)
		return c
	}
	return []*personv1.Command{
		base(func(c *personv1.Command) {
			c.Body = &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: fullName(),
				BirthDate: &personv1.Date{Year: 1815, Month: 12, Day: 10}, Source: "s",
				Contacts: []*personv1.ContactInput{{Kind: personv1.ContactKind_CONTACT_KIND_PHONE, Value: "650", Primary: true,
					Label: "l", DefaultRegion: "US", ContactId: "x"}}}}
		}),
		base(func(c *personv1.Command) {
			c.Body = &personv1.Command_RecordAttribute{RecordAttribute: &personv1.RecordAttribute{Attribute: fullAttribute()}}
		}),
		base(func(c *personv1.Command) {
			c.Body = &personv1.Command_UpdateAttribute{UpdateAttribute: &personv1.UpdateAttribute{AttributeId: "a1",
				Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: 1.8}}}}}
		}),
		base(func(c *personv1.Command) {
			c.Body = &personv1.Command_MergePersons{MergePersons: &personv1.MergePersons{TargetPersonId: "p2",
				Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}}
		}),
		base(func(c *personv1.Command) {
			c.Body = &personv1.Command_FlagDataQuality{FlagDataQuality: &personv1.FlagDataQuality{Field: "f", Issue: "i",
				Severity: personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_ERROR}}
		}),
		{},
	}
}

func seedEnvelopes() []*personv1.EventEnvelope {
	env := func(e *personv1.Event) *personv1.EventEnvelope {
		return &personv1.EventEnvelope{EventId: "e1", PersonId: "p1", Version: 7, Type: e.TypeName(), SchemaVersion: 3,
			OccurredAt: at, CorrelationId: "k", CausationId: "c1", Actor: "a", Event: e}
	}
	return []*personv1.EventEnvelope{
		env(&personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: "p1", Name: fullName(),
			Contacts: []*personv1.Contact{{ContactId: "c", Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: "a@b.c", Verified: true}}}}}),
		env(&personv1.Event{Body: &personv1.Event_AttributeUpdated{AttributeUpdated: &personv1.AttributeUpdated{AttributeId: "a1",
			OldAttribute: fullAttribute(), NewAttribute: fullAttribute()}}}),
		env(&personv1.Event{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{OldName: fullName(), NewName: fullName(), ChangeReason: "r"}}}),
		env(&personv1.Event{Body: &personv1.Event_DataQualityFlagged{DataQualityFlagged: &personv1.DataQualityFlagged{
			Flag: &personv1.DataQualityFlag{FlagId: "f", FlaggedAt: at}}}}),
		{},
	}
}

func seedSnapshots() []*personv1.PersonSnapshot {
	return []*personv1.PersonSnapshot{
		{SchemaVersion: 1, PersonId: "p1", Version: 9, Lifecycle: personv1.LifecycleState_LIFECYCLE_STATE_MERGED_INTO,
			Name: fullName(), BirthDate: &personv1.Date{Year: 1, Month: 1, Day: 1}, DeathDate: &personv1.Date{Year: 9999, Month: 12, Day: 31},
			Contacts: []*personv1.Contact{{ContactId: "c", Value: "+1"}}, Attributes: []*personv1.Attribute{fullAttribute()},
			Source: "s", StatusReason: "r", MergedIntoPersonId: "p2", MergeReason: personv1.MergeReason_MERGE_REASON_POLICY_DETERMINED,
			MergedFromPersonIds: []string{"p3"}, QualityFlags: []*personv1.DataQualityFlag{{FlagId: "f"}}, CreatedAt: at, UpdatedAt: at},
		{},
	}
}

func seedReplies() []*personv1.CommandReply {
	return []*personv1.CommandReply{
		{Reply: &personv1.CommandReply_Result{Result: &personv1.CommandResult{PersonId: "p1", Version: 2, Events: seedEnvelopes()[:2], Duplicate: true}}},
		{Reply: &personv1.CommandReply_Error{Error: personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "lifecycle.terminal", "person is %s", "Deceased")}},
		{},
	}
}

// fuzzDecode seeds f with seeds in binary and JSON and checks the decode
// properties on every input; inspect looks at a decoded message (calls the
// hand-written methods on it).
func fuzzDecode[M proto.Message](f *testing.F, newMsg func() M, seeds []M, inspect func(M)) {
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		j, err := protojson.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m := newMsg(); proto.Unmarshal(data, m) == nil {
			inspect(m)
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("decoded binary does not encode: %v", err)
			}
			again := newMsg()
			if err := proto.Unmarshal(b, again); err != nil || !proto.Equal(m, again) {
				t.Fatalf("binary round trip: %v\n%v\n%v", err, m, again)
			}
		}
		if m := newMsg(); protojson.Unmarshal(data, m) == nil {
			inspect(m)
			j, err := protojson.Marshal(m)
			if err != nil {
				t.Fatalf("decoded JSON does not encode: %v", err)
			}
			again := newMsg()
			if err := protojson.Unmarshal(j, again); err != nil || !proto.Equal(m, again) {
				t.Fatalf("JSON round trip: %v\n%s", err, j)
			}
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	fuzzDecode(f, func() *personv1.Command { return new(personv1.Command) }, seedCommands(), func(c *personv1.Command) {
		_ = c.TypeName() // must not panic; any name is fine
	})
}

func FuzzDecodeEventEnvelope(f *testing.F) {
	fuzzDecode(f, func() *personv1.EventEnvelope { return new(personv1.EventEnvelope) }, seedEnvelopes(), func(e *personv1.EventEnvelope) {
		_ = e.GetEvent().TypeName() // must not panic; any name is fine
	})
}

func FuzzDecodePersonSnapshot(f *testing.F) {
	fuzzDecode(f, func() *personv1.PersonSnapshot { return new(personv1.PersonSnapshot) }, seedSnapshots(), func(*personv1.PersonSnapshot) {})
}

func FuzzDecodeCommandReply(f *testing.F) {
	fuzzDecode(f, func() *personv1.CommandReply { return new(personv1.CommandReply) }, seedReplies(), func(r *personv1.CommandReply) {
		if e := r.GetError(); e != nil {
			_ = e.Error() // must not panic; any text is fine
		}
	})
}
