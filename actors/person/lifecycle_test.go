package person_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

// stateFixture returns a person in lifecycle state lc whose data lets every
// command kind pass its own rules (see validCommand).
func stateFixture(t testing.TB, lc personv1.LifecycleState) person.State {
	t.Helper()
	return fixture(t, lc, true)
}

// stateWithoutBirthDate is stateFixture without a birth date, for
// SetBirthDate.
func stateWithoutBirthDate(t testing.TB, lc personv1.LifecycleState) person.State {
	t.Helper()
	return fixture(t, lc, false)
}

func fixture(t testing.TB, lc personv1.LifecycleState, birthDate bool) person.State {
	t.Helper()
	if lc == lcDraft {
		return person.State{}
	}
	events := rich()
	if !birthDate {
		events = []*personv1.Event{events[0], events[2]}
	}
	switch lc {
	case lcDeactivated:
		events = append(events, ev(&personv1.PersonDeactivated{Reason: "on leave"}))
	case lcArchived:
		events = append(events, ev(&personv1.PersonArchived{Reason: "retired"}))
	case lcDeceased:
		events = append(events, ev(&personv1.DeathRecorded{DateOfDeath: civil.Date(2024, 1, 1)}))
	case lcMerged:
		events = append(events, ev(&personv1.PersonMergedInto{TargetPersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}))
	}
	s := fold(t, events...)
	if s.Lifecycle() != lc {
		t.Fatalf("fixture is %s, want %s", s.Lifecycle(), lc)
	}
	return s
}

// validCommand returns a command of kind k that breaks none of its own
// rules when run on a stateFixture (SetBirthDate: on stateWithoutBirthDate).
func validCommand(k person.Kind) *personv1.Command {
	switch k {
	case person.KindCreatePerson:
		return cmd(&personv1.CreatePerson{Name: ada(), Source: "test"})
	case person.KindUpdateName:
		return cmd(&personv1.UpdateName{Name: grace(), Reason: "marriage"})
	case person.KindSetBirthDate:
		return cmd(&personv1.SetBirthDate{BirthDate: civil.Date(1990, 5, 17)})
	case person.KindRecordDeath:
		return cmd(&personv1.RecordDeath{DateOfDeath: civil.Date(2024, 1, 1)})
	case person.KindDeactivatePerson:
		return cmd(&personv1.DeactivatePerson{Reason: "on leave"})
	case person.KindReactivatePerson:
		return cmd(&personv1.ReactivatePerson{Reason: "back"})
	case person.KindMergePersons:
		return cmd(&personv1.MergePersons{TargetPersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY})
	case person.KindArchivePerson:
		return cmd(&personv1.ArchivePerson{Reason: "retired"})
	case person.KindRecordAttribute:
		return cmd(&personv1.RecordAttribute{Attribute: &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT,
			Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Mass{Mass: &personv1.Mass{Kilograms: 60}}}}})
	case person.KindUpdateAttribute:
		return cmd(&personv1.UpdateAttribute{AttributeId: "attr-height",
			Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: 1.72}}}})
	case person.KindInvalidateAttribute:
		return cmd(&personv1.InvalidateAttribute{AttributeId: "attr-height", Reason: "remeasured"})
	case person.KindAddContact:
		return cmd(&personv1.AddContact{Contact: &personv1.ContactInput{Kind: email, Value: "ada@work.example"}})
	case person.KindRemoveContact:
		return cmd(&personv1.RemoveContact{ContactId: "c-email", Reason: "bounced"})
	case person.KindVerifyContact:
		return cmd(&personv1.VerifyContact{ContactId: "c-email"})
	case person.KindRecordMergeReceived:
		return cmd(&personv1.RecordMergeReceived{SourcePersonId: otherPID, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY})
	case person.KindNormalizeContact:
		return cmd(&personv1.NormalizeContact{ContactId: "c-phone", DefaultRegion: "US"})
	case person.KindFlagDataQuality:
		return cmd(&personv1.FlagDataQuality{Field: "name", Issue: "too short", Severity: personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING})
	}
	panic("no valid command for " + k.String())
}

// Outcomes in the expected matrix.
const (
	stay   = "="       // accepted, lifecycle unchanged
	toAct  = "→Active" // accepted
	toDea  = "→Deactivated"
	toArc  = "→Archived"
	toDec  = "→Deceased"
	toMrg  = "→MergedInto"
	nf     = "NOT_FOUND"   // [person.not_found]
	exists = "EXISTS"      // ALREADY_EXISTS [person.already_exists]
	term   = "TERMINAL"    // FAILED_PRECONDITION [lifecycle.terminal]
	na     = "NOT_ALLOWED" // FAILED_PRECONDITION [lifecycle.not_allowed]
)

// wantMatrix is the intended lifecycle, written out by hand (issue 2): one
// row per command kind, columns Draft, Active, Deactivated, Archived,
// Deceased, MergedInto.
var wantMatrix = map[person.Kind][6]string{
	person.KindCreatePerson:        {toAct, exists, exists, exists, exists, exists},
	person.KindUpdateName:          {nf, stay, na, term, term, term},
	person.KindSetBirthDate:        {nf, stay, stay, term, term, term},
	person.KindRecordDeath:         {nf, toDec, toDec, term, term, term},
	person.KindDeactivatePerson:    {nf, toDea, na, term, term, term},
	person.KindReactivatePerson:    {nf, na, toAct, term, term, term},
	person.KindMergePersons:        {nf, toMrg, na, term, term, term},
	person.KindArchivePerson:       {nf, toArc, toArc, term, term, term},
	person.KindRecordAttribute:     {nf, stay, na, term, term, term},
	person.KindUpdateAttribute:     {nf, stay, na, term, term, term},
	person.KindInvalidateAttribute: {nf, stay, na, term, term, term},
	person.KindAddContact:          {nf, stay, na, term, term, term},
	person.KindRemoveContact:       {nf, stay, na, term, term, term},
	person.KindVerifyContact:       {nf, stay, na, term, term, term},
	person.KindRecordMergeReceived: {nf, stay, na, term, term, term},
	person.KindNormalizeContact:    {nf, stay, stay, term, term, term},
	person.KindFlagDataQuality:     {nf, stay, stay, term, term, term},
}

// TestLifecycleMatrix runs a valid command of every kind in every state of
// the lifecycle table and checks the outcome against wantMatrix, and the
// table (which the docs print) against the behaviour.
func TestLifecycleMatrix(t *testing.T) {
	m := person.LifecycleMachine()
	if got, want := len(m.Kinds()), len(person.Kinds()); got != want {
		t.Fatalf("table has %d kinds, package %d", got, want)
	}
	for _, st := range m.States() {
		for _, k := range m.Kinds() {
			t.Run(st.Name+"/"+k.Name, func(t *testing.T) {
				row, ok := wantMatrix[k.Value]
				if !ok {
					t.Fatalf("wantMatrix has no row for %s", k.Name)
				}
				want := row[st.Value]
				s := stateFixture(t, st.Value)
				if k.Value == person.KindSetBirthDate && s.Exists() {
					// the fixture has a birth date; SetBirthDate needs none
					s = stateWithoutBirthDate(t, st.Value)
				}
				events, err := person.Decide(s, validCommand(k.Value), now)
				to, inTable := m.Target(st.Value, k.Value)
				switch want {
				case nf:
					assertReject(t, err, personv1.ErrNotFound, person.RuleNotFound)
				case exists:
					assertReject(t, err, personv1.ErrAlreadyExists, person.RuleAlreadyExists)
				case term:
					assertReject(t, err, personv1.ErrFailedPrecondition, person.RuleTerminal)
					if !strings.Contains(err.Error(), st.Name) {
						t.Errorf("terminal rejection %q does not name the state %s", err, st.Name)
					}
				case na:
					assertReject(t, err, personv1.ErrFailedPrecondition, person.RuleNotAllowed)
				default:
					if err != nil {
						t.Fatalf("Decide = %v, want accepted", err)
					}
					if len(events) != 1 {
						t.Fatalf("Decide returned %d events, want 1", len(events))
					}
					next := applyAll(s, events)
					wantState := st.Value
					if want != stay {
						wantState = stateByName(t, strings.TrimPrefix(want, "→"))
					}
					if next.Lifecycle() != wantState || next.Version() != s.Version()+1 {
						t.Errorf("after %s: %s v%d, want %s v%d", k.Name, next.Lifecycle(), next.Version(), wantState, s.Version()+1)
					}
					if !inTable || to != wantState {
						t.Errorf("table says %v (row %v), behaviour %s", to, inTable, wantState)
					}
					return
				}
				if inTable {
					t.Errorf("rejected, but the table has a row to %s", m.StateName(to))
				}
				if events != nil {
					t.Errorf("rejection came with events %v", events)
				}
			})
		}
	}
}

func stateByName(t *testing.T, name string) personv1.LifecycleState {
	t.Helper()
	for _, s := range person.LifecycleMachine().States() {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no state %q", name)
	return 0
}

func TestLifecycleTableShape(t *testing.T) {
	m := person.LifecycleMachine()
	for _, s := range m.States() {
		wantTerminal := s.Value == lcArchived || s.Value == lcDeceased || s.Value == lcMerged
		if s.Terminal != wantTerminal {
			t.Errorf("%s terminal = %v, want %v", s.Name, s.Terminal, wantTerminal)
		}
	}
	if got := m.GuardNames(lcActive, person.KindDeactivatePerson); len(got) != 1 || got[0] != person.RuleDeactivateReason {
		t.Errorf("Deactivate guards = %v", got)
	}
	if m.Initial() != lcDraft {
		t.Errorf("initial state %s, want Draft", m.Initial())
	}
}

// TestLifecycleDocIsFresh fails when docs/LIFECYCLE.md differs from what
// the table prints: run `go generate ./actors/person`.
func TestLifecycleDocIsFresh(t *testing.T) {
	var buf bytes.Buffer
	if err := person.WriteLifecycleDoc(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/LIFECYCLE.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatal("docs/LIFECYCLE.md is stale: run `go generate ./actors/person`")
	}
}

func TestKinds(t *testing.T) {
	for _, k := range person.Kinds() {
		c := validCommand(k)
		got, ok := person.KindOf(c)
		if !ok || got != k {
			t.Errorf("KindOf(%s) = %v, %v", k, got, ok)
		}
		if c.TypeName() != k.String() {
			t.Errorf("Kind %s named %q, the message %q", k, k.String(), c.TypeName())
		}
	}
	if _, ok := person.KindOf(&personv1.Command{}); ok {
		t.Error("KindOf(no body) ok")
	}
	if got := person.Kind(200).String(); got != "Kind(200)" {
		t.Errorf("Kind(200).String() = %q", got)
	}
}

func BenchmarkLifecycleTransition(b *testing.B) {
	m := person.LifecycleMachine()
	deactivate := validCommand(person.KindDeactivatePerson)
	reactivate := validCommand(person.KindReactivatePerson)
	b.ReportAllocs()
	s := lcActive
	for b.Loop() {
		var err error
		if s == lcActive {
			s, err = m.Step(s, person.KindDeactivatePerson, deactivate)
		} else {
			s, err = m.Step(s, person.KindReactivatePerson, reactivate)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
