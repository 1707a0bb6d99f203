package fsm

import (
	"errors"
	"fmt"
)

// Enum is the constraint on state and command-kind types: a small integer
// enum whose values run from 0 to n-1.
type Enum interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32
}

// ErrNoTransition is matched (with errors.Is) by the error [Machine.Step]
// returns when the table has no row for the state and command kind.
var ErrNoTransition = errors.New("fsm: no transition")

// ErrInvalidSpec is returned, wrapped, by [New] for a malformed [Spec].
var ErrInvalidSpec = errors.New("fsm: invalid spec")

// TransitionError is the error [Machine.Step] returns when no row matches.
// It matches [ErrNoTransition] with errors.Is.
type TransitionError struct {
	Machine  string // name of the machine
	From     string // name of the current state
	On       string // name of the command kind
	Terminal bool   // From is a terminal state
}

// Error implements error.
func (e *TransitionError) Error() string {
	if e.Terminal {
		return fmt.Sprintf("%s: %s is terminal, %s not allowed", e.Machine, e.From, e.On)
	}
	return fmt.Sprintf("%s: no transition from %s on %s", e.Machine, e.From, e.On)
}

// Unwrap returns [ErrNoTransition].
func (e *TransitionError) Unwrap() error { return ErrNoTransition }

// Guard is a named precondition on the input of a transition. Check returns
// nil to allow the step or the error that rejects it; the error is returned
// by [Machine.Step] unchanged, so it can carry a domain code and rule name.
type Guard[In any] struct {
	Name  string // rule name, printed in the docs
	Check func(in In) error
}

// State describes one state.
type State[S Enum] struct {
	Value    S
	Name     string
	Terminal bool   // no transition may leave it
	Doc      string // one line, printed in the docs
}

// Kind describes one command kind.
type Kind[K Enum] struct {
	Value K
	Name  string
	Doc   string
}

// Transition is one row of the table: On moves each of From to To (or keeps
// it when Stay is set) when every guard passes, checked in order.
type Transition[S, K Enum, In any] struct {
	From   []S
	On     K
	To     S
	Stay   bool // each From state stays where it is; To is ignored
	Guards []Guard[In]
}

// Spec is the full description of a machine, given to [New].
type Spec[S, K Enum, In any] struct {
	Name        string // used in errors and docs, e.g. "lifecycle"
	States      []State[S]
	Kinds       []Kind[K]
	Transitions []Transition[S, K, In]
}

// cell is the compiled (state, kind) entry of the dense table.
type cell[S Enum, In any] struct {
	ok     bool
	to     S
	guards []Guard[In]
}

// Machine is a compiled, immutable state machine. Build it with [New].
type Machine[S, K Enum, In any] struct {
	spec  Spec[S, K, In]
	cells []cell[S, In] // index: int(state)*len(Kinds) + int(kind)
}

// New validates spec and compiles it. It returns an error wrapping
// [ErrInvalidSpec] when state or kind values are not 0..n-1 in order, names
// are empty or repeated, a row names an unknown state or kind, two rows
// cover the same (state, kind), a row leaves a terminal state, or a guard
// has no name or no Check.
func New[S, K Enum, In any](spec Spec[S, K, In]) (*Machine[S, K, In], error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("%w: empty machine name", ErrInvalidSpec)
	}
	if len(spec.States) == 0 || len(spec.Kinds) == 0 {
		return nil, fmt.Errorf("%w: %s: no states or no kinds", ErrInvalidSpec, spec.Name)
	}
	if err := checkNames(spec); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSpec, spec.Name, err)
	}
	nk := len(spec.Kinds)
	m := &Machine[S, K, In]{cells: make([]cell[S, In], len(spec.States)*nk)}
	for i, t := range spec.Transitions {
		if int(t.On) < 0 || int(t.On) >= nk {
			return nil, fmt.Errorf("%w: %s: row %d: unknown kind %d", ErrInvalidSpec, spec.Name, i, t.On)
		}
		if !t.Stay && !m.validState(spec, t.To) {
			return nil, fmt.Errorf("%w: %s: row %d: unknown target state %d", ErrInvalidSpec, spec.Name, i, t.To)
		}
		if len(t.From) == 0 {
			return nil, fmt.Errorf("%w: %s: row %d: no source state", ErrInvalidSpec, spec.Name, i)
		}
		for _, g := range t.Guards {
			if g.Name == "" || g.Check == nil {
				return nil, fmt.Errorf("%w: %s: row %d: guard without name or check", ErrInvalidSpec, spec.Name, i)
			}
		}
		for _, from := range t.From {
			if !m.validState(spec, from) {
				return nil, fmt.Errorf("%w: %s: row %d: unknown source state %d", ErrInvalidSpec, spec.Name, i, from)
			}
			if spec.States[from].Terminal {
				return nil, fmt.Errorf("%w: %s: row %d: leaves terminal state %s", ErrInvalidSpec, spec.Name, i, spec.States[from].Name)
			}
			c := &m.cells[int(from)*nk+int(t.On)]
			if c.ok {
				return nil, fmt.Errorf("%w: %s: row %d: second row for (%s, %s)", ErrInvalidSpec, spec.Name, i, spec.States[from].Name, spec.Kinds[t.On].Name)
			}
			to := t.To
			if t.Stay {
				to = from
			}
			*c = cell[S, In]{ok: true, to: to, guards: t.Guards}
		}
	}
	m.spec = spec
	return m, nil
}

// MustNew is [New] for tables fixed at compile time: it panics on an invalid
// spec. Use it for package-level machines whose spec is covered by a test.
func MustNew[S, K Enum, In any](spec Spec[S, K, In]) *Machine[S, K, In] {
	m, err := New(spec)
	if err != nil {
		panic(err)
	}
	return m
}

// checkNames verifies values 0..n-1 in order and unique non-empty names.
func checkNames[S, K Enum, In any](spec Spec[S, K, In]) error {
	seen := make(map[string]bool, len(spec.States))
	for i, s := range spec.States {
		if int(s.Value) != i {
			return fmt.Errorf("state %q has value %d, want %d", s.Name, s.Value, i)
		}
		if s.Name == "" || seen[s.Name] {
			return fmt.Errorf("state %d: empty or repeated name %q", i, s.Name)
		}
		seen[s.Name] = true
	}
	clear(seen)
	for i, k := range spec.Kinds {
		if int(k.Value) != i {
			return fmt.Errorf("kind %q has value %d, want %d", k.Name, k.Value, i)
		}
		if k.Name == "" || seen[k.Name] {
			return fmt.Errorf("kind %d: empty or repeated name %q", i, k.Name)
		}
		seen[k.Name] = true
	}
	return nil
}

func (m *Machine[S, K, In]) validState(spec Spec[S, K, In], s S) bool {
	return int(s) >= 0 && int(s) < len(spec.States)
}

// index returns the cell index of (from, on), or false when either is out of
// range.
func (m *Machine[S, K, In]) index(from S, on K) (int, bool) {
	nk := len(m.spec.Kinds)
	if int(from) < 0 || int(from) >= len(m.spec.States) || int(on) < 0 || int(on) >= nk {
		return 0, false
	}
	return int(from)*nk + int(on), true
}

// Step returns the state that command kind on moves from to, after running
// the guards of the row on in. With no row it returns from and a
// *[TransitionError] (matching [ErrNoTransition]); when a guard rejects it
// returns from and the guard's error. Step does not allocate on success.
func (m *Machine[S, K, In]) Step(from S, on K, in In) (S, error) {
	i, ok := m.index(from, on)
	if !ok || !m.cells[i].ok {
		return from, m.noTransition(from, on)
	}
	c := &m.cells[i]
	for j := range c.guards {
		if err := c.guards[j].Check(in); err != nil {
			return from, err
		}
	}
	return c.to, nil
}

func (m *Machine[S, K, In]) noTransition(from S, on K) error {
	return &TransitionError{Machine: m.spec.Name, From: m.StateName(from), On: m.KindName(on), Terminal: m.Terminal(from)}
}

// Target returns the state on moves from to, ignoring guards, and whether
// the table has a row for (from, on).
func (m *Machine[S, K, In]) Target(from S, on K) (S, bool) {
	i, ok := m.index(from, on)
	if !ok || !m.cells[i].ok {
		return from, false
	}
	return m.cells[i].to, true
}

// GuardNames returns the names of the guards of the (from, on) row, in the
// order they run; nil without a row.
func (m *Machine[S, K, In]) GuardNames(from S, on K) []string {
	i, ok := m.index(from, on)
	if !ok || !m.cells[i].ok {
		return nil
	}
	names := make([]string, len(m.cells[i].guards))
	for j, g := range m.cells[i].guards {
		names[j] = g.Name
	}
	return names
}

// Name returns the machine's name.
func (m *Machine[S, K, In]) Name() string { return m.spec.Name }

// Initial returns the initial state (the state with value 0).
func (m *Machine[S, K, In]) Initial() S { return m.spec.States[0].Value }

// Terminal reports whether s is a terminal state. An unknown state is not.
func (m *Machine[S, K, In]) Terminal(s S) bool {
	return int(s) >= 0 && int(s) < len(m.spec.States) && m.spec.States[s].Terminal
}

// StateName returns the name of s, or "State(n)" for an unknown value.
func (m *Machine[S, K, In]) StateName(s S) string {
	if int(s) < 0 || int(s) >= len(m.spec.States) {
		return fmt.Sprintf("State(%d)", s)
	}
	return m.spec.States[s].Name
}

// KindName returns the name of k, or "Kind(n)" for an unknown value.
func (m *Machine[S, K, In]) KindName(k K) string {
	if int(k) < 0 || int(k) >= len(m.spec.Kinds) {
		return fmt.Sprintf("Kind(%d)", k)
	}
	return m.spec.Kinds[k].Name
}

// States returns a copy of the state descriptions, in value order.
func (m *Machine[S, K, In]) States() []State[S] {
	return append([]State[S](nil), m.spec.States...)
}

// Kinds returns a copy of the command-kind descriptions, in value order.
func (m *Machine[S, K, In]) Kinds() []Kind[K] {
	return append([]Kind[K](nil), m.spec.Kinds...)
}

// Transitions returns a copy of the rows, in spec order.
func (m *Machine[S, K, In]) Transitions() []Transition[S, K, In] {
	out := make([]Transition[S, K, In], len(m.spec.Transitions))
	for i, t := range m.spec.Transitions {
		t.From = append([]S(nil), t.From...)
		t.Guards = append([]Guard[In](nil), t.Guards...)
		out[i] = t
	}
	return out
}
