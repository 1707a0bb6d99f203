package person_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/messages/personv1"
)

// FuzzDecide decodes random bytes as a Command and runs Decide in every
// lifecycle state: it never panics, every rejection is a coded error with a
// rule, and every accepted command yields events that Apply folds without
// panicking.
func FuzzDecide(f *testing.F) {
	for _, k := range person.Kinds() {
		b, err := proto.Marshal(validCommand(k))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	states := make([]person.State, 0, 6)
	for _, s := range person.LifecycleMachine().States() {
		states = append(states, stateFixture(f, s.Value))
	}
	states = append(states, stateWithoutBirthDate(f, lcActive))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c personv1.Command
		if err := proto.Unmarshal(data, &c); err != nil {
			return
		}
		for _, s := range states {
			events, err := person.Decide(s, &c, now)
			if err != nil {
				var e *personv1.Error
				if !errors.As(err, &e) || e.GetRule() == "" {
					t.Fatalf("rejection without a rule: %v", err)
				}
				continue
			}
			next := s
			for _, e := range events {
				env := envelope(next.Version()+1, e)
				env.PersonId = c.GetPersonId()
				next = person.Apply(next, env)
			}
			if next.Version() != s.Version()+uint64(len(events)) || next.ID() != c.GetPersonId() {
				t.Fatalf("after %s: version %d id %q", c.TypeName(), next.Version(), next.ID())
			}
		}
	})
}
