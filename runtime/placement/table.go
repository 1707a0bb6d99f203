package placement

import (
	"cmp"
	"slices"

	"github.com/asynkron/protoactor-go/cluster"
)

// Table is an immutable ownership view over one cluster topology: for each
// grain it names the member that hosts it, by rendezvous (highest random
// weight) hashing of the grain's identity against each member's address.
//
// A Table is a pure value: the same members give the same owners in every
// process, so every node that sees the same topology agrees on placement
// without talking to the others. Adding a member moves only the grains the
// new member wins (about 1/n of them); removing one moves only its own.
// A Table is safe for concurrent use.
type Table struct {
	// members is sorted by address, so ties and iteration are deterministic.
	members []tableMember
	// byKind lists, per grain kind, the indexes in members that host it.
	byKind map[string][]int
}

type tableMember struct {
	address string
	seed    uint64
}

// NewTable builds the ownership view for members. Each member's Address()
// ("host:port") is its placement key and its Kinds are the grain kinds it
// may host. Members with the same address count once (the first wins).
func NewTable(members []*cluster.Member) *Table {
	t := &Table{byKind: make(map[string][]int)}
	sorted := slices.Clone(members)
	slices.SortStableFunc(sorted, func(a, b *cluster.Member) int {
		return cmp.Compare(a.Address(), b.Address())
	})
	seen := make(map[string]bool, len(sorted))
	for _, m := range sorted {
		addr := m.Address()
		if seen[addr] {
			continue
		}
		seen[addr] = true
		i := len(t.members)
		t.members = append(t.members, tableMember{address: addr, seed: memberSeed(addr)})
		for _, k := range m.Kinds {
			if !slices.Contains(t.byKind[k], i) {
				t.byKind[k] = append(t.byKind[k], i)
			}
		}
	}
	return t
}

// Owner returns the address of the member that owns identity for kind, or
// "" when no member hosts kind. Only the identity is hashed, not the kind,
// so the grains of different kinds with one identity live together when
// their members host both kinds.
func (t *Table) Owner(kind, identity string) string {
	candidates := t.byKind[kind]
	switch len(candidates) {
	case 0:
		return ""
	case 1:
		return t.members[candidates[0]].address
	}
	h := identityHash(identity)
	best := -1
	var bestScore uint64
	for _, i := range candidates {
		// candidates ascend by address, so on a tie (probability 2^-64)
		// the lowest address keeps the grain.
		if s := score(h, t.members[i].seed); best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return t.members[best].address
}

// Addresses returns the members' addresses in ascending order.
func (t *Table) Addresses() []string {
	out := make([]string, len(t.members))
	for i, m := range t.members {
		out[i] = m.address
	}
	return out
}
