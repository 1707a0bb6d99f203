package policy_test

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

// Every policy evaluates a stored PersonCreated: the reactions come out as
// data, with ids derived from the event, for the runtime to carry out.
func Example() {
	set, err := policy.New(policy.Config{ArchiveAfter: 30 * 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	created := &personv1.EventEnvelope{
		EventId: "0190f0d6-6666-7000-8000-000000000010", PersonId: "ada", Version: 1, Type: "PersonCreated",
		OccurredAt: timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), CorrelationId: "signup-7",
		Event: &personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{
			PersonId: "ada",
			Name:     &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}},
			Contacts: []*personv1.Contact{{ContactId: "c1", Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: "ada@example.com", Primary: true}},
		}}},
	}
	for _, r := range set.Evaluate(created, time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)) {
		switch {
		case r.Notification != nil:
			fmt.Println(r.Policy, "notify", r.Notification.Subject, r.Notification.Message.GetTemplate())
		case r.Timer != nil:
			fmt.Println(r.Policy, "timer", r.Timer.Key, r.Timer.At.Format(time.DateOnly), r.Timer.Command.TypeName())
		case r.Command != nil:
			fmt.Println(r.Policy, r.Target, r.Command.TypeName(), r.Command.GetCommandId(), r.Command.GetActor())
		}
	}
	// Output:
	// welcome-notification notify person.notifications.welcome.ada welcome_new_person
	// auto-archive timer auto-archive.ada 2026-03-31 ArchivePerson
	// onboarding onboarding StartOnboarding 856fe9a3-af1b-8810-8425-fb4966dd4d67 policy:onboarding
}
