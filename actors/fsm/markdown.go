package fsm

import (
	"fmt"
	"strings"
)

// Mermaid returns a Mermaid stateDiagram-v2 of the rows that change state
// (rows that stay are left out to keep the picture readable), the initial
// state and the terminal states.
func (m *Machine[S, K, In]) Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s\n", m.StateName(m.Initial()))
	for _, t := range m.spec.Transitions {
		if t.Stay {
			continue
		}
		for _, from := range t.From {
			if from == t.To {
				continue
			}
			fmt.Fprintf(&b, "    %s --> %s: %s\n", m.StateName(from), m.StateName(t.To), m.KindName(t.On))
		}
	}
	for _, s := range m.spec.States {
		if s.Terminal {
			fmt.Fprintf(&b, "    %s --> [*]\n", s.Name)
		}
	}
	return b.String()
}

// TransitionTable returns the rows as a Markdown table: from, command, to,
// guards.
func (m *Machine[S, K, In]) TransitionTable() string {
	var b strings.Builder
	b.WriteString("| from | command | to | guards |\n|---|---|---|---|\n")
	for _, t := range m.spec.Transitions {
		froms := make([]string, len(t.From))
		for i, f := range t.From {
			froms[i] = m.StateName(f)
		}
		to := m.StateName(t.To)
		if t.Stay {
			to = "(unchanged)"
		}
		guards := make([]string, len(t.Guards))
		for i, g := range t.Guards {
			guards[i] = "`" + g.Name + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", strings.Join(froms, ", "), m.KindName(t.On), to, strings.Join(guards, ", "))
	}
	return b.String()
}

// Matrix returns every (kind, state) cell as a Markdown table with one row
// per command kind and one column per state. cell renders a cell; nil
// renders the target state name, or "—" without a row.
func (m *Machine[S, K, In]) Matrix(cell func(from S, on K) string) string {
	if cell == nil {
		cell = func(from S, on K) string {
			to, ok := m.Target(from, on)
			if !ok {
				return "—"
			}
			return m.StateName(to)
		}
	}
	var b strings.Builder
	b.WriteString("| command |")
	for _, s := range m.spec.States {
		b.WriteString(" " + s.Name + " |")
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(m.spec.States)))
	b.WriteString("\n")
	for _, k := range m.spec.Kinds {
		b.WriteString("| " + k.Name + " |")
		for _, s := range m.spec.States {
			b.WriteString(" " + cell(s.Value, k.Value) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
