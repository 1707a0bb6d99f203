package fsm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cim/personrt/actors/fsm"
)

type light uint8

const (
	off light = iota
	on
	broken
)

type press uint8

const (
	toggle press = iota
	smash
	poke
)

var errTooHard = errors.New("too hard")

func gentle(force int) error {
	if force > 10 {
		return errTooHard
	}
	return nil
}

func lampSpec() fsm.Spec[light, press, int] {
	return fsm.Spec[light, press, int]{
		Name: "lamp",
		States: []fsm.State[light]{
			{Value: off, Name: "Off"},
			{Value: on, Name: "On"},
			{Value: broken, Name: "Broken", Terminal: true},
		},
		Kinds: []fsm.Kind[press]{
			{Value: toggle, Name: "Toggle"},
			{Value: smash, Name: "Smash"},
			{Value: poke, Name: "Poke"},
		},
		Transitions: []fsm.Transition[light, press, int]{
			{From: []light{off}, On: toggle, To: on, Guards: []fsm.Guard[int]{{Name: "force.gentle", Check: gentle}}},
			{From: []light{on}, On: toggle, To: off},
			{From: []light{off, on}, On: smash, To: broken},
			{From: []light{off, on}, On: poke, Stay: true},
		},
	}
}

func TestStep(t *testing.T) {
	m, err := fsm.New(lampSpec())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		from    light
		on      press
		force   int
		want    light
		wantErr error
	}{
		{name: "off toggle", from: off, on: toggle, want: on},
		{name: "guard rejects", from: off, on: toggle, force: 11, want: off, wantErr: errTooHard},
		{name: "on toggle", from: on, on: toggle, want: off},
		{name: "smash", from: on, on: smash, want: broken},
		{name: "stay", from: on, on: poke, want: on},
		{name: "terminal", from: broken, on: toggle, want: broken, wantErr: fsm.ErrNoTransition},
		{name: "unknown state", from: light(9), on: toggle, want: light(9), wantErr: fsm.ErrNoTransition},
		{name: "unknown kind", from: off, on: press(9), want: off, wantErr: fsm.ErrNoTransition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Step(tc.from, tc.on, tc.force)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Step err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Step = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTransitionError(t *testing.T) {
	m := fsm.MustNew(lampSpec())
	_, err := m.Step(broken, toggle, 0)
	var te *fsm.TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("err = %T %v, want *TransitionError", err, err)
	}
	want := fsm.TransitionError{Machine: "lamp", From: "Broken", On: "Toggle", Terminal: true}
	if *te != want {
		t.Errorf("TransitionError = %+v, want %+v", *te, want)
	}
	if got := te.Error(); !strings.Contains(got, "Broken is terminal") {
		t.Errorf("Error() = %q, want the terminal state named", got)
	}
	_, err = m.Step(on, press(3), 0)
	if !errors.As(err, &te) || te.Terminal || te.On != "Kind(3)" {
		t.Errorf("unknown kind err = %+v", err)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*fsm.Spec[light, press, int])
	}{
		{name: "no name", mutate: func(s *fsm.Spec[light, press, int]) { s.Name = "" }},
		{name: "no states", mutate: func(s *fsm.Spec[light, press, int]) { s.States = nil }},
		{name: "state value out of order", mutate: func(s *fsm.Spec[light, press, int]) { s.States[1].Value = broken }},
		{name: "repeated state name", mutate: func(s *fsm.Spec[light, press, int]) { s.States[1].Name = "Off" }},
		{name: "empty kind name", mutate: func(s *fsm.Spec[light, press, int]) { s.Kinds[2].Name = "" }},
		{name: "kind value out of order", mutate: func(s *fsm.Spec[light, press, int]) { s.Kinds[0].Value = poke }},
		{name: "unknown kind", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[0].On = press(7) }},
		{name: "unknown target", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[0].To = light(7) }},
		{name: "unknown source", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[0].From = []light{7} }},
		{name: "no source", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[0].From = nil }},
		{name: "leaves terminal", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[1].From = []light{broken} }},
		{name: "duplicate cell", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[1].From = []light{off} }},
		{name: "guard without check", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[0].Guards[0].Check = nil }},
		{name: "guard without name", mutate: func(s *fsm.Spec[light, press, int]) { s.Transitions[0].Guards[0].Name = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := lampSpec()
			tc.mutate(&spec)
			if _, err := fsm.New(spec); !errors.Is(err, fsm.ErrInvalidSpec) {
				t.Fatalf("New err = %v, want ErrInvalidSpec", err)
			}
			defer func() {
				if recover() == nil {
					t.Error("MustNew did not panic")
				}
			}()
			fsm.MustNew(spec)
		})
	}
}

func TestIntrospection(t *testing.T) {
	m := fsm.MustNew(lampSpec())
	if got, ok := m.Target(off, poke); !ok || got != off {
		t.Errorf("Target(off, poke) = %v, %v; want off, true", got, ok)
	}
	if _, ok := m.Target(broken, poke); ok {
		t.Error("Target(broken, poke) ok, want no row")
	}
	if got := m.GuardNames(off, toggle); len(got) != 1 || got[0] != "force.gentle" {
		t.Errorf("GuardNames = %v", got)
	}
	if got := m.GuardNames(broken, toggle); got != nil {
		t.Errorf("GuardNames(no row) = %v, want nil", got)
	}
	if !m.Terminal(broken) || m.Terminal(on) || m.Terminal(light(42)) {
		t.Error("Terminal wrong")
	}
	if m.Initial() != off || m.Name() != "lamp" {
		t.Error("Initial or Name wrong")
	}
	if got := m.StateName(light(42)); got != "State(42)" {
		t.Errorf("StateName(42) = %q", got)
	}
	// The copies must not alias the machine's table.
	rows := m.Transitions()
	rows[0].From[0] = broken
	if got, _ := m.Target(off, toggle); got != on {
		t.Error("mutating Transitions() changed the machine")
	}
	states := m.States()
	states[0].Name = "x"
	if m.StateName(off) != "Off" || len(m.Kinds()) != 3 {
		t.Error("mutating States() changed the machine")
	}
}

func TestMarkdown(t *testing.T) {
	m := fsm.MustNew(lampSpec())
	wantMermaid := `stateDiagram-v2
    [*] --> Off
    Off --> On: Toggle
    On --> Off: Toggle
    Off --> Broken: Smash
    On --> Broken: Smash
    Broken --> [*]
`
	if got := m.Mermaid(); got != wantMermaid {
		t.Errorf("Mermaid =\n%s\nwant\n%s", got, wantMermaid)
	}
	wantTable := "| from | command | to | guards |\n|---|---|---|---|\n" +
		"| Off | Toggle | On | `force.gentle` |\n" +
		"| On | Toggle | Off |  |\n" +
		"| Off, On | Smash | Broken |  |\n" +
		"| Off, On | Poke | (unchanged) |  |\n"
	if got := m.TransitionTable(); got != wantTable {
		t.Errorf("TransitionTable =\n%s\nwant\n%s", got, wantTable)
	}
	wantMatrix := "| command | Off | On | Broken |\n|---|---|---|---|\n" +
		"| Toggle | On | Off | — |\n" +
		"| Smash | Broken | Broken | — |\n" +
		"| Poke | Off | On | — |\n"
	if got := m.Matrix(nil); got != wantMatrix {
		t.Errorf("Matrix =\n%s\nwant\n%s", got, wantMatrix)
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	m := fsm.MustNew(lampSpec())
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Step(off, toggle, 1); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Step allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkStep(b *testing.B) {
	m := fsm.MustNew(lampSpec())
	b.ReportAllocs()
	s := off
	for b.Loop() {
		next, err := m.Step(s, toggle, 1)
		if err != nil {
			b.Fatal(err)
		}
		s = next
	}
}

func Example() {
	type door uint8
	const (
		closed door = iota
		open
	)
	type push uint8
	const pushIt push = 0
	m := fsm.MustNew(fsm.Spec[door, push, struct{}]{
		Name:        "door",
		States:      []fsm.State[door]{{Value: closed, Name: "Closed"}, {Value: open, Name: "Open"}},
		Kinds:       []fsm.Kind[push]{{Value: pushIt, Name: "Push"}},
		Transitions: []fsm.Transition[door, push, struct{}]{{From: []door{closed}, On: pushIt, To: open}},
	})
	s, err := m.Step(closed, pushIt, struct{}{})
	fmt.Println(m.StateName(s), err)
	_, err = m.Step(s, pushIt, struct{}{})
	fmt.Println(err)
	// Output:
	// Open <nil>
	// door: no transition from Open on Push
}
