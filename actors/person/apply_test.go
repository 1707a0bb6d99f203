package person_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

func TestApplyPanicsOnBrokenInvariants(t *testing.T) {
	active := fold(t, rich()...)
	next := func(e *personv1.Event) *personv1.EventEnvelope { return envelope(active.Version()+1, e) }
	tests := []struct {
		name string
		s    person.State
		e    *personv1.EventEnvelope
	}{
		{"nil envelope", active, nil},
		{"version gap", active, envelope(active.Version()+2, ev(&personv1.PersonReactivated{}))},
		{"version repeated", active, envelope(active.Version(), ev(&personv1.PersonReactivated{}))},
		{"no body", active, next(&personv1.Event{})},
		{"no event", active, &personv1.EventEnvelope{PersonId: pid, Version: active.Version() + 1}},
		{"event before creation", person.State{}, envelope(1, ev(&personv1.NameUpdated{NewName: ada()}))},
		{"second creation", active, next(created())},
		{"creation without id", person.State{}, &personv1.EventEnvelope{Version: 1, Event: ev(&personv1.PersonCreated{Name: ada()})}},
		{"creation for another stream", person.State{}, &personv1.EventEnvelope{Version: 1, PersonId: otherPID, Event: created()}},
		{"event of another person", active, &personv1.EventEnvelope{Version: active.Version() + 1, PersonId: otherPID, Event: ev(&personv1.PersonReactivated{})}},
		{"unknown attribute", active, next(ev(&personv1.AttributeInvalidated{AttributeId: "nope"}))},
		{"update without new attribute", active, next(ev(&personv1.AttributeUpdated{AttributeId: "attr-height"}))},
		{"attribute twice", active, next(ev(&personv1.AttributeRecorded{Attribute: height("attr-height", 1.8, nil)}))},
		{"attribute missing", active, next(ev(&personv1.AttributeRecorded{}))},
		{"unknown contact", active, next(ev(&personv1.ContactVerified{ContactId: "nope"}))},
		{"contact twice", active, next(ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: "c-email"}}))},
		{"contact missing", active, next(ev(&personv1.ContactAdded{}))},
		{"flag missing", active, next(ev(&personv1.DataQualityFlagged{}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mustPanic(t, func() { person.Apply(tc.s, tc.e) })
			if !errors.Is(err, person.ErrBrokenInvariant) {
				t.Errorf("panic %v, want ErrBrokenInvariant", err)
			}
		})
	}
}

func TestApplyFolds(t *testing.T) {
	s := fold(t, with(rich(),
		ev(&personv1.NameUpdated{OldName: ada(), NewName: grace()}),
		ev(&personv1.ContactVerified{ContactId: "c-email"}),
		ev(&personv1.ContactNormalized{ContactId: "c-phone", OldValue: "650-253-0000", NewValue: "+16502530000"}),
		ev(&personv1.AttributeUpdated{AttributeId: "attr-height", NewAttribute: height("attr-height", 1.75, civil.Date(2020, 1, 1))}),
		ev(&personv1.AttributeInvalidated{AttributeId: "attr-height", Reason: "wrong", ValidUntil: civil.Date(2024, 12, 31)}),
		ev(&personv1.PersonMergeReceived{SourcePersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_USER_REQUESTED}),
		ev(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{FlagId: "f1"}}),
		ev(&personv1.ContactRemoved{ContactId: "c-email"}),
		ev(&personv1.PersonDeactivated{Reason: "on leave"}),
		ev(&personv1.PersonReactivated{Reason: "back"}),
		ev(&personv1.PersonArchived{Reason: "retired"}),
	)...)
	if got, want := s.Version(), uint64(14); got != want {
		t.Errorf("Version = %d, want %d", got, want)
	}
	if s.ID() != pid || s.Lifecycle() != lcArchived || !s.Terminal() || s.StatusReason() != "retired" {
		t.Errorf("id %s lifecycle %s reason %q", s.ID(), s.Lifecycle(), s.StatusReason())
	}
	if !proto.Equal(s.Name(), grace()) || civil.Compare(s.BirthDate(), civil.Date(1990, 5, 17)) != 0 || s.Source() != "test" {
		t.Errorf("name %v birth %s source %q", s.Name(), civil.String(s.BirthDate()), s.Source())
	}
	if cs := s.Contacts(); len(cs) != 1 || cs[0].GetContactId() != "c-phone" || cs[0].GetValue() != "+16502530000" {
		t.Errorf("contacts = %v", cs)
	}
	a, ok := s.Attribute("attr-height")
	if !ok || !a.GetInvalidated() || a.GetInvalidationReason() != "wrong" || a.GetValue().GetLength().GetMeters() != 1.75 ||
		civil.Compare(a.GetValidity().GetValidUntil(), civil.Date(2024, 12, 31)) != 0 || civil.Compare(a.GetValidity().GetValidFrom(), civil.Date(2020, 1, 1)) != 0 {
		t.Errorf("attribute = %v", a)
	}
	if from := s.MergedFrom(); len(from) != 1 || from[0] != otherPID {
		t.Errorf("MergedFrom = %v", from)
	}
	if fl := s.QualityFlags(); len(fl) != 1 || fl[0].GetFlagId() != "f1" {
		t.Errorf("QualityFlags = %v", fl)
	}
	if !s.CreatedAt().Equal(now.Add(time.Second)) || !s.UpdatedAt().Equal(now.Add(14*time.Second)) {
		t.Errorf("created %v updated %v", s.CreatedAt(), s.UpdatedAt())
	}
	merged := fold(t, with(rich(), ev(&personv1.PersonMergedInto{TargetPersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}))...)
	if target, reason := merged.MergedInto(); target != otherPID || reason != personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY || merged.Lifecycle() != lcMerged {
		t.Errorf("MergedInto = %s %s, lifecycle %s", target, reason, merged.Lifecycle())
	}
	dead := fold(t, with(rich(), ev(&personv1.DeathRecorded{DateOfDeath: civil.Date(2024, 1, 1)}))...)
	if dead.Lifecycle() != lcDeceased || civil.Compare(dead.DeathDate(), civil.Date(2024, 1, 1)) != 0 {
		t.Errorf("death: %s %s", dead.Lifecycle(), civil.String(dead.DeathDate()))
	}
}

// TestApplyDoesNotChangeOldStates: two states derived from one parent do
// not see each other's changes, and the parent sees neither.
func TestApplyDoesNotChangeOldStates(t *testing.T) {
	parent := fold(t, rich()...)
	before := person.ToSnapshot(parent)
	add := func(id string) *personv1.Event {
		return ev(&personv1.ContactAdded{Contact: &personv1.Contact{ContactId: id, Kind: email, Value: id + "@example.com", Primary: true}})
	}
	a := person.Apply(parent, envelope(parent.Version()+1, add("a")))
	b := person.Apply(parent, envelope(parent.Version()+1, add("b")))
	a = person.Apply(a, envelope(a.Version()+1, ev(&personv1.ContactVerified{ContactId: "c-phone"})))
	b = person.Apply(b, envelope(b.Version()+1, ev(&personv1.AttributeInvalidated{AttributeId: "attr-height", ValidUntil: civil.Date(2024, 1, 1)})))
	b = person.Apply(b, envelope(b.Version()+1, ev(&personv1.ContactRemoved{ContactId: "c-phone"})))
	if !proto.Equal(person.ToSnapshot(parent), before) {
		t.Fatal("Apply changed the parent state")
	}
	ids := func(s person.State) (out []string) {
		for _, c := range s.Contacts() {
			out = append(out, c.GetContactId())
		}
		return out
	}
	if got := ids(a); len(got) != 3 || got[2] != "a" {
		t.Errorf("a contacts = %v", got)
	}
	if got := ids(b); len(got) != 2 || got[1] != "b" {
		t.Errorf("b contacts = %v", got)
	}
	if c, _ := a.Contact("c-phone"); !c.GetVerified() {
		t.Error("a lost its verification")
	}
	if at, _ := a.Attribute("attr-height"); at.GetInvalidated() {
		t.Error("b's invalidation leaked into a")
	}
	// Siblings appending attributes and flags to one parent.
	rec := func(s person.State, id string) person.State {
		s = person.Apply(s, envelope(s.Version()+1, ev(&personv1.AttributeRecorded{Attribute: height(id, 1.8, nil)})))
		return person.Apply(s, envelope(s.Version()+1, ev(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{FlagId: id}})))
	}
	x, y := rec(parent, "x"), rec(parent, "y")
	if _, ok := x.Attribute("y"); ok {
		t.Error("y's attribute leaked into x")
	}
	if _, ok := y.Attribute("x"); ok {
		t.Error("x's attribute leaked into y")
	}
	if fx, fy := x.QualityFlags(), y.QualityFlags(); len(fx) != 1 || fx[0].GetFlagId() != "x" || len(fy) != 1 || fy[0].GetFlagId() != "y" {
		t.Errorf("flags x %v y %v", fx, fy)
	}
	if !proto.Equal(person.ToSnapshot(parent), before) {
		t.Fatal("sibling appends changed the parent state")
	}
	// Accessor slices are copies.
	cs := a.Contacts()
	cs[0] = nil
	if c, ok := a.Contact("c-email"); !ok || c == nil {
		t.Error("changing Contacts() changed the state")
	}
}

// TestPrimaryContactDemotion: adding a primary demotes the old primary of
// the same kind, and only of that kind.
func TestPrimaryContactDemotion(t *testing.T) {
	s := fold(t, rich()...)
	events, err := person.Decide(s, cmd(&personv1.AddContact{Contact: &personv1.ContactInput{ContactId: "new", Kind: email, Value: "new@example.com", Primary: true}}), now)
	if err != nil {
		t.Fatal(err)
	}
	s2 := applyAll(s, events)
	if p, ok := s2.PrimaryContact(email); !ok || p.GetContactId() != "new" {
		t.Errorf("primary email = %v", p)
	}
	if old, _ := s2.Contact("c-email"); old.GetPrimary() {
		t.Error("the old primary email is still primary")
	}
	if p, ok := s.PrimaryContact(email); !ok || p.GetContactId() != "c-email" {
		t.Error("the old state lost its primary")
	}
	if _, ok := s2.PrimaryContact(phone); ok {
		t.Error("a phone became primary")
	}
}

// TestAttributesValidOn is the upstream "observe person at historical date"
// scenario: heights recorded over time, each valid for a period.
func TestAttributesValidOn(t *testing.T) {
	s := fold(t,
		created(),
		ev(&personv1.AttributeRecorded{Attribute: height("h2020", 1.70, civil.Date(2020, 1, 1))}),
		ev(&personv1.AttributeInvalidated{AttributeId: "h2020", ValidUntil: civil.Date(2023, 12, 31)}),
		ev(&personv1.AttributeRecorded{Attribute: height("h2024", 1.72, civil.Date(2024, 1, 1))}),
		ev(&personv1.AttributeRecorded{Attribute: &personv1.Attribute{AttributeId: "w", Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, Value: weight(60)}}),
	)
	heightT := personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT
	tests := []struct {
		d    *personv1.Date
		t    personv1.AttributeType
		want []string
	}{
		{civil.Date(2019, 6, 1), heightT, nil},
		{civil.Date(2020, 6, 1), heightT, []string{"h2020"}},
		{civil.Date(2023, 12, 31), heightT, []string{"h2020"}}, // inclusive end
		{civil.Date(2024, 1, 1), heightT, []string{"h2024"}},
		{civil.Date(2024, 1, 1), personv1.AttributeType_ATTRIBUTE_TYPE_UNSPECIFIED, []string{"h2024", "w"}},
	}
	for _, tc := range tests {
		var got []string
		for _, a := range s.AttributesValidOn(tc.d, tc.t) {
			got = append(got, a.GetAttributeId())
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || (len(got) > 1 && got[1] != tc.want[1]) {
			t.Errorf("AttributesValidOn(%s, %s) = %v, want %v", civil.String(tc.d), tc.t, got, tc.want)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := fold(t, with(rich(),
		ev(&personv1.PersonMergeReceived{SourcePersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_USER_REQUESTED}),
		ev(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{FlagId: "f1", Field: "x", Issue: "y"}}),
		ev(&personv1.PersonDeactivated{Reason: "on leave"}))...)
	snap := person.ToSnapshot(s)
	if snap.GetSchemaVersion() != person.SnapshotSchemaVersion || snap.GetVersion() != s.Version() || snap.GetLifecycle() != lcDeactivated {
		t.Fatalf("snapshot header = %d v%d %s", snap.GetSchemaVersion(), snap.GetVersion(), snap.GetLifecycle())
	}
	back, err := person.FromSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(person.ToSnapshot(back), snap) {
		t.Fatalf("round trip differs:\n%v\n%v", person.ToSnapshot(back), snap)
	}
	// Both decide alike and fold alike.
	c := cmd(&personv1.ReactivatePerson{Reason: "back"})
	e1, err1 := person.Decide(s, c, now)
	e2, err2 := person.Decide(back, c, now)
	if err1 != nil || err2 != nil || !proto.Equal(e1[0], e2[0]) {
		t.Fatalf("Decide differs after the round trip: %v %v", err1, err2)
	}
	if !proto.Equal(person.ToSnapshot(applyAll(s, e1)), person.ToSnapshot(applyAll(back, e2))) {
		t.Fatal("Apply differs after the round trip")
	}
	// The snapshot is a copy in both directions.
	snap.Contacts[0].Value = "changed"
	snap.Name.GivenNames[0] = "changed"
	if c, _ := back.Contact("c-email"); c.GetValue() != "ada@example.com" || back.Name().GetGivenNames()[0] != "Ada" {
		t.Error("FromSnapshot shares messages with its input")
	}
	if c, _ := s.Contact("c-email"); c.GetValue() != "ada@example.com" {
		t.Error("ToSnapshot shares messages with the state")
	}
	draft, err := person.FromSnapshot(person.ToSnapshot(person.State{}))
	if err != nil || draft.Exists() || draft.Version() != 0 {
		t.Errorf("Draft round trip = %v, %v", draft, err)
	}
}

func TestFromSnapshotRejects(t *testing.T) {
	good := func() *personv1.PersonSnapshot { return person.ToSnapshot(fold(t, rich()...)) }
	tests := []struct {
		name    string
		p       func() *personv1.PersonSnapshot
		wantErr error
	}{
		{"nil", func() *personv1.PersonSnapshot { return nil }, person.ErrInvalidSnapshot},
		{"older schema", func() *personv1.PersonSnapshot { p := good(); p.SchemaVersion = 0; return p }, person.ErrSnapshotSchema},
		{"newer schema", func() *personv1.PersonSnapshot { p := good(); p.SchemaVersion = 2; return p }, person.ErrSnapshotSchema},
		{"unknown lifecycle", func() *personv1.PersonSnapshot { p := good(); p.Lifecycle = 42; return p }, person.ErrInvalidSnapshot},
		{"draft with a version", func() *personv1.PersonSnapshot { p := good(); p.Lifecycle = lcDraft; return p }, person.ErrInvalidSnapshot},
		{"active at version 0", func() *personv1.PersonSnapshot { p := good(); p.Version = 0; return p }, person.ErrInvalidSnapshot},
		{"active without id", func() *personv1.PersonSnapshot { p := good(); p.PersonId = ""; return p }, person.ErrInvalidSnapshot},
		{"active without name", func() *personv1.PersonSnapshot { p := good(); p.Name = nil; return p }, person.ErrInvalidSnapshot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := person.FromSnapshot(tc.p()); !errors.Is(err, tc.wantErr) {
				t.Errorf("FromSnapshot err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}
