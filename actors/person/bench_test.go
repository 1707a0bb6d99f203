package person_test

import (
	"testing"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

// BenchmarkDecideApply: one UpdateName on an active person, decided and
// applied, as the grain does per command.
func BenchmarkDecideApply(b *testing.B) {
	s := fold(b, rich()...)
	names := []*personv1.Command{
		cmd(&personv1.UpdateName{Name: grace(), Reason: "marriage"}),
		cmd(&personv1.UpdateName{Name: ada(), Reason: "divorce"}),
	}
	env := &personv1.EventEnvelope{PersonId: pid}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		events, err := person.Decide(s, names[i&1], now)
		if err != nil {
			b.Fatal(err)
		}
		env.Version, env.Event = s.Version()+1, events[0]
		s = person.Apply(s, env)
		i++
	}
}

// replayEvents returns n stored events of one person: a creation, then a
// realistic mix of renames, attributes, contacts, flags and status changes.
func replayEvents(n int) []*personv1.EventEnvelope {
	out := make([]*personv1.EventEnvelope, 0, n)
	add := func(e *personv1.Event) { out = append(out, envelope(uint64(len(out)+1), e)) }
	add(created())
	for i := 0; len(out) < n; i++ {
		id := "x" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		steps := []*personv1.Event{
			ev(&personv1.NameUpdated{OldName: ada(), NewName: grace(), ChangeReason: "r"}),
			ev(&personv1.AttributeRecorded{Attribute: height(id, 1.7, civil.Date(2020, 1, 1))}),
			ev(&personv1.AttributeUpdated{AttributeId: id, NewAttribute: height(id, 1.71, civil.Date(2020, 1, 1))}),
			ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: id, Kind: email, Value: id + "@example.com", Primary: true}}),
			ev(&personv1.ContactVerified{ContactId: id}),
			ev(&personv1.ContactRemoved{ContactId: id}),
			ev(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{FlagId: id, Field: "name", Issue: "short"}}),
			ev(&personv1.PersonDeactivated{Reason: "on leave"}),
			ev(&personv1.PersonReactivated{Reason: "back"}),
			ev(&personv1.AttributeInvalidated{AttributeId: id, ValidUntil: civil.Date(2024, 1, 1)}),
		}
		for _, e := range steps {
			if len(out) < n {
				add(e)
			}
		}
	}
	return out
}

// BenchmarkApplyReplay1000 folds 1000 stored events from Draft, as a grain
// does when it hydrates without a snapshot.
func BenchmarkApplyReplay1000(b *testing.B) {
	events := replayEvents(1000)
	b.ReportAllocs()
	for b.Loop() {
		var s person.State
		for _, e := range events {
			s = person.Apply(s, e)
		}
		if s.Version() != 1000 {
			b.Fatalf("version %d", s.Version())
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}
