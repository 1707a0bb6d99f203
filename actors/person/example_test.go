package person_test

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/name"
	"github.com/cim/personrt/messages/personv1"
)

// The runtime's loop in miniature: Decide a command against the state,
// wrap each event in an envelope (the runtime assigns ids, version and
// occurred_at and stores it), Apply it.
func Example() {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var s person.State // Draft: the person does not exist yet
	commands := []*personv1.Command{
		{CommandId: "cmd-1", PersonId: "p-1", Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{
			Name: &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}},
			Contacts: []*personv1.ContactInput{{Kind: personv1.ContactKind_CONTACT_KIND_PHONE, Value: "(650) 253-0000",
				DefaultRegion: "US", Primary: true}},
		}}},
		{CommandId: "cmd-2", PersonId: "p-1", Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{
			Name: &personv1.PersonName{GivenNames: []string{"Augusta", "Ada"}, FamilyNames: []string{"King"}}, Reason: "marriage",
		}}},
		{CommandId: "cmd-3", PersonId: "p-1", Body: &personv1.Command_ReactivatePerson{ReactivatePerson: &personv1.ReactivatePerson{}}},
	}
	for _, c := range commands {
		events, err := person.Decide(s, c, at)
		if err != nil {
			fmt.Println(c.TypeName(), "rejected:", err)
			continue
		}
		for _, e := range events {
			s = person.Apply(s, &personv1.EventEnvelope{
				EventId: c.GetCommandId() + "-e", PersonId: c.GetPersonId(), Version: s.Version() + 1,
				Type: e.TypeName(), OccurredAt: timestamppb.New(at), CausationId: c.GetCommandId(), Event: e,
			})
			fmt.Println(c.TypeName(), "→", e.TypeName())
		}
	}
	fmt.Println(s.Lifecycle(), "version", s.Version(), "|", name.Format(s.Name(), name.Legal), "|", s.Contacts()[0].GetValue())
	// Output:
	// CreatePerson → PersonCreated
	// UpdateName → NameUpdated
	// ReactivatePerson rejected: FAILED_PRECONDITION [lifecycle.not_allowed]: ReactivatePerson is not allowed while the person is Active
	// LIFECYCLE_STATE_ACTIVE version 2 | King, Augusta Ada | +16502530000
}

func ExampleDecide_terminal() {
	var s person.State
	for i, e := range []*personv1.Event{
		{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: "p-1",
			Name: &personv1.PersonName{GivenNames: []string{"Ada"}}}}},
		{Body: &personv1.Event_DeathRecorded{DeathRecorded: &personv1.DeathRecorded{DateOfDeath: &personv1.Date{Year: 1852, Month: 11, Day: 27}}}},
	} {
		s = person.Apply(s, &personv1.EventEnvelope{PersonId: "p-1", Version: uint64(i + 1), Event: e})
	}
	_, err := person.Decide(s, &personv1.Command{CommandId: "cmd-9", PersonId: "p-1",
		Body: &personv1.Command_SetBirthDate{SetBirthDate: &personv1.SetBirthDate{BirthDate: &personv1.Date{Year: 1815, Month: 12, Day: 10}}}},
		time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(err)
	// Output:
	// FAILED_PRECONDITION [lifecycle.terminal]: person is Deceased: SetBirthDate is not allowed
}

func ExampleApply() {
	s := person.Apply(person.State{}, &personv1.EventEnvelope{PersonId: "p-1", Version: 1, Event: &personv1.Event{
		Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{
			Name: &personv1.PersonName{GivenNames: []string{"Grace"}, FamilyNames: []string{"Hopper"}}}}}})
	next := person.Apply(s, &personv1.EventEnvelope{PersonId: "p-1", Version: 2, Event: &personv1.Event{
		Body: &personv1.Event_PersonDeactivated{PersonDeactivated: &personv1.PersonDeactivated{Reason: "retired"}}}})
	fmt.Println(s.ID(), s.Lifecycle(), s.Version()) // the old state is unchanged
	fmt.Println(next.Lifecycle(), next.Version(), next.StatusReason())
	// Output:
	// p-1 LIFECYCLE_STATE_ACTIVE 1
	// LIFECYCLE_STATE_DEACTIVATED 2 retired
}
