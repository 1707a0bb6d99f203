package person_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/attribute"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/actors/person/name"
	"github.com/cim/personrt/messages/personv1"
)

// scenario is one given (stored events) / when (command) / then (events or
// a rejection) case.
type scenario struct {
	name     string
	given    []*personv1.Event
	when     *personv1.Command
	then     []*personv1.Event
	wantErr  error
	wantRule string
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := fold(t, sc.given...)
			before := proto.Clone(sc.when)
			got, err := person.Decide(s, sc.when, now)
			if !proto.Equal(before, sc.when) {
				t.Error("Decide changed the command")
			}
			if sc.wantErr != nil {
				assertReject(t, err, sc.wantErr, sc.wantRule)
				if got != nil {
					t.Errorf("rejection came with events %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide = %v, want events", err)
			}
			if len(got) != len(sc.then) {
				t.Fatalf("Decide returned %d events, want %d: %v", len(got), len(sc.then), got)
			}
			for i := range got {
				if !proto.Equal(got[i], sc.then[i]) {
					t.Errorf("event %d =\n %v\nwant\n %v", i, got[i], sc.then[i])
				}
			}
			next := applyAll(s, got) // must not panic: Decide only makes events Apply accepts
			if next.Version() != s.Version()+uint64(len(got)) {
				t.Errorf("version %d after %d events from %d", next.Version(), len(got), s.Version())
			}
		})
	}
}

func with(events []*personv1.Event, more ...*personv1.Event) []*personv1.Event {
	return append(append([]*personv1.Event(nil), events...), more...)
}

func TestDecideEnvelope(t *testing.T) {
	noID := validCommand(person.KindUpdateName)
	noID.CommandId = ""
	noPerson := validCommand(person.KindUpdateName)
	noPerson.PersonId = ""
	spaced := validCommand(person.KindUpdateName)
	spaced.CommandId = "a b"
	long := validCommand(person.KindUpdateName)
	long.PersonId = strings.Repeat("p", person.MaxIDLen+1)
	other := validCommand(person.KindUpdateName)
	other.PersonId = otherPID
	unicodeSpace := validCommand(person.KindUpdateName)
	unicodeSpace.CommandId = "cmd\u2028x"
	unicodeID := validCommand(person.KindUpdateName)
	unicodeID.CommandId = "cmd-ü"
	nel := validCommand(person.KindUpdateName)
	nel.GetUpdateName().Reason = "née\u0085x"
	runScenarios(t, []scenario{
		{name: "no command id", given: rich(), when: noID, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleCommandID},
		{name: "no person id", given: rich(), when: noPerson, wantErr: personv1.ErrInvalidArgument, wantRule: person.RulePersonID},
		{name: "no body", given: rich(), when: &personv1.Command{CommandId: cmdID, PersonId: pid}, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleBody},
		{name: "nil command", when: nil, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleCommandID},
		{name: "command id with a space", given: rich(), when: spaced, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleIDInvalid},
		{name: "person id too long", given: rich(), when: long, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleIDInvalid},
		{name: "command id with a unicode line separator", given: rich(), when: unicodeSpace, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleIDInvalid},
		{name: "command id with a non-ASCII letter", given: rich(), when: unicodeID,
			then: []*personv1.Event{ev(&personv1.NameUpdated{OldName: ada(), NewName: grace(), ChangeReason: "marriage"})}},
		{name: "reason with a non-ASCII control character", given: rich(), when: nel, wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleTextInvalid},
		{name: "another person's command", given: rich(), when: other, wantErr: personv1.ErrInvalidArgument, wantRule: person.RulePersonMatch},
	})
}

func TestDecideCreatePerson(t *testing.T) {
	full := &personv1.CreatePerson{
		Name:      &personv1.PersonName{GivenNames: []string{" Ada "}, FamilyNames: []string{"Lovelace"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN},
		BirthDate: civil.Date(1815, 12, 10),
		Contacts: []*personv1.ContactInput{
			{Kind: phone, Value: "(650) 253-0000", DefaultRegion: "US", Primary: true},
			{Kind: email, Value: " Ada@Example.COM ", Label: " work "},
			{Kind: email, Value: "ada@home.example", ContactId: "home"},
		},
		Source: " import ",
	}
	dupValue := &personv1.CreatePerson{Name: ada(), Contacts: []*personv1.ContactInput{
		{Kind: email, Value: "ada@example.com"}, {Kind: email, Value: "ADA@example.com"}}}
	dupID := &personv1.CreatePerson{Name: ada(), Contacts: []*personv1.ContactInput{
		{Kind: email, Value: "a@example.com", ContactId: "x"}, {Kind: email, Value: "b@example.com", ContactId: "x"}}}
	twoPrimaries := &personv1.CreatePerson{Name: ada(), Contacts: []*personv1.ContactInput{
		{Kind: email, Value: "a@example.com", Primary: true}, {Kind: phone, Value: "+16502530000", Primary: true},
		{Kind: email, Value: "b@example.com", Primary: true}}}
	runScenarios(t, []scenario{
		{
			name: "minimal",
			when: cmd(&personv1.CreatePerson{Name: ada()}),
			then: []*personv1.Event{ev(&personv1.PersonCreated{PersonId: pid, Name: ada()})},
		},
		{
			name: "full, normalised, ids from the command id",
			when: cmd(full),
			then: []*personv1.Event{ev(&personv1.PersonCreated{
				PersonId: pid, Name: ada(), BirthDate: civil.Date(1815, 12, 10), Source: "import",
				Contacts: []*personv1.Contact{
					{ContactId: cmdID + "#0", Kind: phone, Value: "+16502530000", Primary: true},
					{ContactId: cmdID + "#1", Kind: email, Value: "Ada@example.com", Label: "work"},
					{ContactId: "home", Kind: email, Value: "ada@home.example"},
				},
			})},
		},
		{name: "no name", when: cmd(&personv1.CreatePerson{}), wantErr: personv1.ErrInvalidArgument, wantRule: name.RuleRequired},
		{name: "blank given name", when: cmd(&personv1.CreatePerson{Name: &personv1.PersonName{GivenNames: []string{" "}, FamilyNames: []string{"X"}}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: name.RuleBlankPart},
		{name: "only a patronymic", when: cmd(&personv1.CreatePerson{Name: &personv1.PersonName{Patronymic: "Petrovich"}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: name.RuleGivenOrFamily},
		{name: "born tomorrow", when: cmd(&personv1.CreatePerson{Name: ada(), BirthDate: civil.Date(2025, 6, 2)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleBirthDateFuture},
		{name: "born today", when: cmd(&personv1.CreatePerson{Name: ada(), BirthDate: civil.Date(2025, 6, 1)}),
			then: []*personv1.Event{ev(&personv1.PersonCreated{PersonId: pid, Name: ada(), BirthDate: civil.Date(2025, 6, 1)})}},
		{name: "born on February 30", when: cmd(&personv1.CreatePerson{Name: ada(), BirthDate: civil.Date(2000, 2, 30)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleBirthDateInvalid},
		{name: "duplicate email ignoring case", when: cmd(dupValue), wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleContactDuplicate},
		{name: "duplicate contact id", when: cmd(dupID), wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleContactIDInUse},
		{name: "two primary emails", when: cmd(twoPrimaries), wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleContactPrimaries},
		{name: "nil contact", when: cmd(&personv1.CreatePerson{Name: ada(), Contacts: []*personv1.ContactInput{nil}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleContactRequired},
		{name: "display-name email", when: cmd(&personv1.CreatePerson{Name: ada(), Contacts: []*personv1.ContactInput{{Kind: email, Value: "Ada <ada@example.com>"}}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: contact.RuleEmailNotBare},
		{name: "source with a newline", when: cmd(&personv1.CreatePerson{Name: ada(), Source: "a\nb"}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleTextInvalid},
		{name: "source too long", when: cmd(&personv1.CreatePerson{Name: ada(), Source: strings.Repeat("s", person.MaxTextLen+1)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleTextInvalid},
		{name: "twice", given: []*personv1.Event{created()}, when: cmd(&personv1.CreatePerson{Name: ada()}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleAlreadyExists},
	})
}

func TestDecideNamesAndDates(t *testing.T) {
	deceased := with(rich(), ev(&personv1.DeathRecorded{DateOfDeath: civil.Date(2024, 1, 1)}))
	runScenarios(t, []scenario{
		{name: "update name", given: rich(), when: cmd(&personv1.UpdateName{Name: grace(), Reason: " marriage "}),
			then: []*personv1.Event{ev(&personv1.NameUpdated{OldName: ada(), NewName: grace(), ChangeReason: "marriage"})}},
		{name: "update to the same name", given: rich(), when: cmd(&personv1.UpdateName{Name: ada()}),
			then: []*personv1.Event{ev(&personv1.NameUpdated{OldName: ada(), NewName: ada()})}},
		{name: "update to an invalid name", given: rich(), when: cmd(&personv1.UpdateName{Name: &personv1.PersonName{}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: name.RuleGivenOrFamily},
		{name: "update name when deceased", given: deceased, when: cmd(&personv1.UpdateName{Name: grace()}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleTerminal},
		{name: "set birth date", given: []*personv1.Event{created()}, when: cmd(&personv1.SetBirthDate{BirthDate: civil.Date(1990, 5, 17)}),
			then: []*personv1.Event{ev(&personv1.BirthDateSet{BirthDate: civil.Date(1990, 5, 17)})}},
		{name: "set birth date while deactivated", given: []*personv1.Event{created(), ev(&personv1.PersonDeactivated{Reason: "x"})},
			when: cmd(&personv1.SetBirthDate{BirthDate: civil.Date(1990, 5, 17)}),
			then: []*personv1.Event{ev(&personv1.BirthDateSet{BirthDate: civil.Date(1990, 5, 17)})}},
		{name: "birth date twice", given: rich(), when: cmd(&personv1.SetBirthDate{BirthDate: civil.Date(1991, 1, 1)}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleBirthDateImmutable},
		{name: "birth date in the future", given: []*personv1.Event{created()}, when: cmd(&personv1.SetBirthDate{BirthDate: civil.Date(2030, 1, 1)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleBirthDateFuture},
		{name: "birth date missing", given: []*personv1.Event{created()}, when: cmd(&personv1.SetBirthDate{}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleBirthDateRequired},
		{name: "birth date not a date", given: []*personv1.Event{created()}, when: cmd(&personv1.SetBirthDate{BirthDate: civil.Date(1990, 13, 1)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleBirthDateInvalid},
		{name: "record death", given: rich(), when: cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(2024, 1, 1)}),
			then: []*personv1.Event{ev(&personv1.DeathRecorded{DateOfDeath: civil.Date(2024, 1, 1)})}},
		{name: "death on the birth day", given: rich(), when: cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(1990, 5, 17)}),
			then: []*personv1.Event{ev(&personv1.DeathRecorded{DateOfDeath: civil.Date(1990, 5, 17)})}},
		{name: "death before birth", given: rich(), when: cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(1990, 5, 16)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleDeathBeforeBirth},
		{name: "death in the future", given: rich(), when: cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(2025, 6, 2)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleDeathDateFuture},
		{name: "death without a date", given: rich(), when: cmd(&personv1.RecordDeath{}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleDeathDateRequired},
		{name: "death not a date", given: rich(), when: cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(2023, 2, 29)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleDeathDateInvalid},
		{name: "death twice", given: deceased, when: cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(2024, 1, 1)}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleTerminal},
	})
}

func TestDecideLifecycleCommands(t *testing.T) {
	deactivated := with(rich(), ev(&personv1.PersonDeactivated{Reason: "on leave"}))
	merged := with(rich(), ev(&personv1.PersonMergedInto{TargetPersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}))
	dup := personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY
	runScenarios(t, []scenario{
		{name: "deactivate", given: rich(), when: cmd(&personv1.DeactivatePerson{Reason: " GDPR Right to be Forgotten "}),
			then: []*personv1.Event{ev(&personv1.PersonDeactivated{Reason: "GDPR Right to be Forgotten"})}},
		{name: "deactivate without reason", given: rich(), when: cmd(&personv1.DeactivatePerson{}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleDeactivateReason},
		{name: "deactivate with a blank reason", given: rich(), when: cmd(&personv1.DeactivatePerson{Reason: " \t"}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleDeactivateReason},
		{name: "deactivate twice", given: deactivated, when: cmd(&personv1.DeactivatePerson{Reason: "again"}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleNotAllowed},
		{name: "reactivate", given: deactivated, when: cmd(&personv1.ReactivatePerson{Reason: "User logged in"}),
			then: []*personv1.Event{ev(&personv1.PersonReactivated{Reason: "User logged in"})}},
		{name: "reactivate an active person", given: rich(), when: cmd(&personv1.ReactivatePerson{}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleNotAllowed},
		{name: "merge", given: rich(), when: cmd(&personv1.MergePersons{TargetPersonId: otherPID, Reason: dup}),
			then: []*personv1.Event{ev(&personv1.PersonMergedInto{TargetPersonId: otherPID, Reason: dup})}},
		{name: "merge into itself", given: rich(), when: cmd(&personv1.MergePersons{TargetPersonId: pid, Reason: dup}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeSelf},
		{name: "merge without target", given: rich(), when: cmd(&personv1.MergePersons{Reason: dup}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeTarget},
		{name: "merge with a bad target id", given: rich(), when: cmd(&personv1.MergePersons{TargetPersonId: "a b", Reason: dup}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleIDInvalid},
		{name: "merge without reason", given: rich(), when: cmd(&personv1.MergePersons{TargetPersonId: otherPID}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeReason},
		{name: "merge with an unknown reason", given: rich(), when: cmd(&personv1.MergePersons{TargetPersonId: otherPID, Reason: 99}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeReason},
		{name: "merge a deactivated person", given: deactivated, when: cmd(&personv1.MergePersons{TargetPersonId: otherPID, Reason: dup}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleNotAllowed},
		{name: "update a merged person", given: merged, when: cmd(&personv1.UpdateName{Name: grace()}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleTerminal},
		{name: "merge received", given: rich(), when: cmd(&personv1.RecordMergeReceived{SourcePersonId: otherPID, Reason: dup}),
			then: []*personv1.Event{ev(&personv1.PersonMergeReceived{SourcePersonId: otherPID, Reason: dup})}},
		{name: "merge received twice", given: with(rich(), ev(&personv1.PersonMergeReceived{SourcePersonId: otherPID, Reason: dup})),
			when: cmd(&personv1.RecordMergeReceived{SourcePersonId: otherPID, Reason: dup}), wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleMergeReceived},
		{name: "merge received from itself", given: rich(), when: cmd(&personv1.RecordMergeReceived{SourcePersonId: pid, Reason: dup}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeSourceSelf},
		{name: "merge received without source", given: rich(), when: cmd(&personv1.RecordMergeReceived{Reason: dup}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeSource},
		{name: "merge received without reason", given: rich(), when: cmd(&personv1.RecordMergeReceived{SourcePersonId: otherPID}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleMergeReason},
		{name: "archive", given: deactivated, when: cmd(&personv1.ArchivePerson{Reason: "Auto-archived due to 365 days of inactivity"}),
			then: []*personv1.Event{ev(&personv1.PersonArchived{Reason: "Auto-archived due to 365 days of inactivity"})}},
		{name: "archive without reason", given: rich(), when: cmd(&personv1.ArchivePerson{}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleArchiveReason},
		{name: "archive a draft", when: cmd(&personv1.ArchivePerson{Reason: "x"}),
			wantErr: personv1.ErrNotFound, wantRule: person.RuleNotFound},
	})
}

func weight(kg float64) *personv1.AttributeValue {
	return &personv1.AttributeValue{Value: &personv1.AttributeValue_Mass{Mass: &personv1.Mass{Kilograms: kg}}}
}

func lengthValue(m float64) *personv1.AttributeValue {
	return &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: m}}}
}

func TestDecideAttributes(t *testing.T) {
	nowTS := timestamppb.New(now)
	recorded := &personv1.Attribute{AttributeId: cmdID, Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60), RecordedAt: nowTS}
	updated := height("attr-height", 1.75, civil.Date(2020, 1, 1))
	invalidated := with(rich(), ev(&personv1.AttributeInvalidated{AttributeId: "attr-height", ValidUntil: civil.Date(2024, 1, 1)}))
	bounded := with(rich(), ev(&personv1.AttributeRecorded{Attribute: &personv1.Attribute{
		AttributeId: "attr-bounded", Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(70),
		Validity: &personv1.TemporalValidity{ValidFrom: civil.Date(2021, 1, 1), ValidUntil: civil.Date(2021, 12, 31)}}}))
	runScenarios(t, []scenario{
		{name: "record with the command id", given: rich(),
			when: cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60)}}),
			then: []*personv1.Event{ev(&personv1.AttributeRecorded{Attribute: recorded})}},
		{name: "record with its own id", given: rich(),
			when: cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{AttributeId: "w1", Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60)}}),
			then: []*personv1.Event{ev(&personv1.AttributeRecorded{Attribute: &personv1.Attribute{AttributeId: "w1",
				Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60), RecordedAt: nowTS}})}},
		{name: "record a taken id", given: rich(),
			when:    cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{AttributeId: "attr-height", Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60)}}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleAttributeDuplicate},
		{name: "record a height as text", given: rich(),
			when: cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT,
				Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Text{Text: "tall"}}}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValueType},
		{name: "record a blood type as text", given: rich(),
			when: cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_BLOOD_TYPE,
				Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Text{Text: "O-"}}}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValueType},
		{name: "record nothing", given: rich(), when: cmd(&personv1.RecordAttribute{}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleRequired},
		{name: "record already invalidated", given: rich(),
			when:    cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60), Invalidated: true}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleAttributePreset},
		{name: "record with validity backwards", given: rich(),
			when: cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60),
				Validity: &personv1.TemporalValidity{ValidFrom: civil.Date(2022, 1, 1), ValidUntil: civil.Date(2021, 1, 1)}}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValidityOrder},
		{name: "update keeps validity and provenance", given: rich(),
			when: cmd(&personv1.UpdateAttribute{AttributeId: "attr-height", Value: lengthValue(1.75)}),
			then: []*personv1.Event{ev(&personv1.AttributeUpdated{AttributeId: "attr-height",
				OldAttribute: height("attr-height", 1.70, civil.Date(2020, 1, 1)), NewAttribute: updated})}},
		{name: "update an unknown attribute", given: rich(), when: cmd(&personv1.UpdateAttribute{AttributeId: "nope", Value: lengthValue(1.75)}),
			wantErr: personv1.ErrNotFound, wantRule: person.RuleAttributeNotFound},
		{name: "update an invalidated attribute", given: invalidated, when: cmd(&personv1.UpdateAttribute{AttributeId: "attr-height", Value: lengthValue(1.75)}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleAttributeInvalidated},
		{name: "update a height to a mass", given: rich(), when: cmd(&personv1.UpdateAttribute{AttributeId: "attr-height", Value: weight(1)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValueType},
		{name: "update without value", given: rich(), when: cmd(&personv1.UpdateAttribute{AttributeId: "attr-height"}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValueRequired},
		{name: "invalidate today", given: rich(), when: cmd(&personv1.InvalidateAttribute{AttributeId: "attr-height", Reason: "remeasured"}),
			then: []*personv1.Event{ev(&personv1.AttributeInvalidated{AttributeId: "attr-height", Reason: "remeasured", ValidUntil: civil.Date(2025, 6, 1)})}},
		{name: "invalidate on a date", given: rich(), when: cmd(&personv1.InvalidateAttribute{AttributeId: "attr-height", ValidUntil: civil.Date(2020, 1, 1)}),
			then: []*personv1.Event{ev(&personv1.AttributeInvalidated{AttributeId: "attr-height", ValidUntil: civil.Date(2020, 1, 1)})}},
		{name: "invalidate before it held", given: rich(), when: cmd(&personv1.InvalidateAttribute{AttributeId: "attr-height", ValidUntil: civil.Date(2019, 12, 31)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValidityOrder},
		{name: "invalidate past its end", given: bounded, when: cmd(&personv1.InvalidateAttribute{AttributeId: "attr-bounded", ValidUntil: civil.Date(2022, 1, 1)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleAttributeExtends},
		{name: "invalidate with a bad date", given: rich(), when: cmd(&personv1.InvalidateAttribute{AttributeId: "attr-height", ValidUntil: civil.Date(2021, 2, 29)}),
			wantErr: personv1.ErrInvalidArgument, wantRule: attribute.RuleValidityDate},
		{name: "invalidate twice", given: invalidated, when: cmd(&personv1.InvalidateAttribute{AttributeId: "attr-height"}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleAttributeInvalidated},
		{name: "invalidate an unknown attribute", given: rich(), when: cmd(&personv1.InvalidateAttribute{AttributeId: "nope"}),
			wantErr: personv1.ErrNotFound, wantRule: person.RuleAttributeNotFound},
		{name: "record while deactivated", given: with(rich(), ev(&personv1.PersonDeactivated{Reason: "x"})),
			when:    cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60)}}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleNotAllowed},
	})
}

func TestDecideContacts(t *testing.T) {
	verified := with(rich(), ev(&personv1.ContactVerified{ContactId: "c-email"}))
	withOther := with(rich(), ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: "c-new", Kind: phone, Value: "+16502530000"}}))
	garbage := with(rich(), ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: "c-junk", Kind: phone, Value: "call me"}}))
	runScenarios(t, []scenario{
		{name: "add with the command id", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Kind: phone, Value: "+44 20 7946 0018", Primary: true}}),
			then: []*personv1.Event{ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: cmdID, Kind: phone, Value: "+442079460018", Primary: true}})}},
		{name: "add with its own id", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{ContactId: "work", Kind: email, Value: "ada@work.example", Label: "work"}}),
			then: []*personv1.Event{ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: "work", Kind: email, Value: "ada@work.example", Label: "work"}})}},
		{name: "add the same email in capitals", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Kind: email, Value: "ADA@example.com"}}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleContactDuplicate},
		{name: "add a taken id", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{ContactId: "c-email", Kind: email, Value: "x@example.com"}}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleContactIDInUse},
		{name: "add the same number written differently", given: withOther, when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Kind: phone, Value: "(650) 253-0000", DefaultRegion: "US"}}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleContactDuplicate},
		{name: "add an invalid phone", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Kind: phone, Value: "12", DefaultRegion: "US"}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: contact.RulePhoneInvalid},
		{name: "add without kind", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Value: "x@example.com"}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: contact.RuleKind},
		{name: "add nothing", given: rich(), when: cmd(&personv1.AddContact{}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleContactRequired},
		{name: "add with a control character in the label", given: rich(), when: cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Kind: email, Value: "x@example.com", Label: "a\x01"}}),
			wantErr: personv1.ErrInvalidArgument, wantRule: contact.RuleLabelInvalid},
		{name: "remove", given: rich(), when: cmd(&personv1.RemoveContact{ContactId: "c-phone", Reason: "disconnected"}),
			then: []*personv1.Event{ev(&personv1.ContactRemoved{ContactId: "c-phone", Reason: "disconnected"})}},
		{name: "remove unknown", given: rich(), when: cmd(&personv1.RemoveContact{ContactId: "nope"}),
			wantErr: personv1.ErrNotFound, wantRule: person.RuleContactNotFound},
		{name: "verify", given: rich(), when: cmd(&personv1.VerifyContact{ContactId: "c-email"}),
			then: []*personv1.Event{ev(&personv1.ContactVerified{ContactId: "c-email"})}},
		{name: "verify twice", given: verified, when: cmd(&personv1.VerifyContact{ContactId: "c-email"}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleContactVerified},
		{name: "verify unknown", given: rich(), when: cmd(&personv1.VerifyContact{ContactId: "nope"}),
			wantErr: personv1.ErrNotFound, wantRule: person.RuleContactNotFound},
		{name: "normalise a legacy phone", given: rich(), when: cmd(&personv1.NormalizeContact{ContactId: "c-phone", DefaultRegion: "US"}),
			then: []*personv1.Event{ev(&personv1.ContactNormalized{ContactId: "c-phone", OldValue: "650-253-0000", NewValue: "+16502530000"})}},
		{name: "normalise a normalised email", given: rich(), when: cmd(&personv1.NormalizeContact{ContactId: "c-email"}),
			wantErr: personv1.ErrFailedPrecondition, wantRule: person.RuleContactNormalized},
		{name: "normalise without region", given: rich(), when: cmd(&personv1.NormalizeContact{ContactId: "c-phone"}),
			wantErr: personv1.ErrInvalidArgument, wantRule: contact.RulePhoneRegion},
		{name: "normalise garbage", given: garbage, when: cmd(&personv1.NormalizeContact{ContactId: "c-junk", DefaultRegion: "US"}),
			wantErr: personv1.ErrInvalidArgument, wantRule: contact.RulePhoneInvalid},
		{name: "normalise into a duplicate", given: withOther, when: cmd(&personv1.NormalizeContact{ContactId: "c-phone", DefaultRegion: "US"}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleContactDuplicate},
		{name: "normalise unknown", given: rich(), when: cmd(&personv1.NormalizeContact{ContactId: "nope"}),
			wantErr: personv1.ErrNotFound, wantRule: person.RuleContactNotFound},
		{name: "normalise while deactivated", given: with(rich(), ev(&personv1.PersonDeactivated{Reason: "x"})),
			when: cmd(&personv1.NormalizeContact{ContactId: "c-phone", DefaultRegion: "US"}),
			then: []*personv1.Event{ev(&personv1.ContactNormalized{ContactId: "c-phone", OldValue: "650-253-0000", NewValue: "+16502530000"})}},
	})
}

func TestDecideDataQuality(t *testing.T) {
	warn := personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING
	flagged := with(rich(), ev(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{FlagId: cmdID, Field: "f", Issue: "i", Severity: warn}}))
	runScenarios(t, []scenario{
		{name: "flag", given: rich(), when: cmd(&personv1.FlagDataQuality{Field: "name.given_names[0]", Issue: "Name too short", Severity: warn}),
			then: []*personv1.Event{ev(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{
				FlagId: cmdID, Field: "name.given_names[0]", Issue: "Name too short", Severity: warn, FlaggedAt: timestamppb.New(now)}})}},
		{name: "flag without field", given: rich(), when: cmd(&personv1.FlagDataQuality{Issue: "x", Severity: warn}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleQualityField},
		{name: "flag without issue", given: rich(), when: cmd(&personv1.FlagDataQuality{Field: "x", Issue: " ", Severity: warn}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleQualityIssue},
		{name: "flag without severity", given: rich(), when: cmd(&personv1.FlagDataQuality{Field: "x", Issue: "y"}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleQualitySeverity},
		{name: "flag with an unknown severity", given: rich(), when: cmd(&personv1.FlagDataQuality{Field: "x", Issue: "y", Severity: 7}),
			wantErr: personv1.ErrInvalidArgument, wantRule: person.RuleQualitySeverity},
		{name: "same flag id twice", given: flagged, when: cmd(&personv1.FlagDataQuality{Field: "x", Issue: "y", Severity: warn}),
			wantErr: personv1.ErrAlreadyExists, wantRule: person.RuleQualityFlagID},
	})
}
