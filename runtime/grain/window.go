package grain

import (
	"hash/maphash"
	"iter"
	"math"
)

// window is a grain's idempotency window: the last commands that wrote
// events (at most the host's Config.IdempotencyWindow, K), each with the
// versions of the events it wrote. A retried command found here is answered
// with its first result, read back from the store.
//
// The zero value is an empty window that allocates nothing: most grains
// hold a handful of commands, so the ring starts at one entry and doubles
// up to K. There is no index: a lookup scans the entries' 32-bit id hashes
// (K = 64 is 2 KB of entries), which costs less than hashing into a map
// and keeps a command at 32 bytes plus its id.
//
// Command ids are unique in the window, and the entries are kept in the
// order of the versions they wrote: oldest first until the ring is full,
// then rotated, the oldest overwritten by the newest. So the window forgets
// the command whose events are the oldest. It is not safe for concurrent
// use: the grain's mailbox goroutine owns it, and the host's state cache
// while the grain is passive.
type window struct {
	ring []written
}

// written is one entry of the window: a command id and the versions
// first..first+n-1 of the events it wrote.
type written struct {
	id    string
	first uint64
	n     uint32 // a command writes one atomic batch: far fewer than 2^32 events
	hash  uint32 // idHash(id)
}

// span is the version range of the events one command wrote.
type span struct{ first, last uint64 }

func (e written) span() span { return span{first: e.first, last: e.first + uint64(e.n) - 1} }

// idSeed seeds the window's id hashes. It is fixed for the process and
// never leaves it: windows are persisted with their ids, not the hashes.
var idSeed = maphash.MakeSeed()

func idHash(id string) uint32 { return uint32(maphash.String(idSeed, id)) }

// lookup returns the versions command id wrote, if the window holds it.
func (w *window) lookup(id string) (span, bool) {
	if i := w.find(id); i >= 0 {
		return w.ring[i].span(), true
	}
	return span{}, false
}

// find returns the position of command id in the ring, or -1.
func (w *window) find(id string) int {
	if len(w.ring) == 0 {
		return -1
	}
	h := idHash(id)
	for i := range w.ring {
		if e := &w.ring[i]; e.hash == h && e.id == id {
			return i
		}
	}
	return -1
}

// record notes that command id wrote the event at version, keeping at most
// size commands. Events are recorded in version order: the next event of
// the newest command extends its span; an event of another command makes
// that command the newest with this event (forgetting the oldest when the
// window is full, or the command's earlier span if another writer reused
// its id). An event at or before the newest one recorded is known or
// older than every command held: it changes nothing.
func (w *window) record(id string, version uint64, size int) {
	if id == "" {
		return
	}
	if len(w.ring) > 0 {
		j := w.newest()
		newest := &w.ring[j]
		last := newest.span().last
		switch {
		case version <= last:
			return
		case newest.id == id && last+1 == version && newest.n < math.MaxUint32:
			newest.n++
			return
		}
		if i := w.find(id); i >= 0 {
			w.remove(i)
		}
	}
	w.push(written{id: id, first: version, n: 1, hash: idHash(id)}, size)
}

// add notes that command id, which the window does not hold, wrote the
// events first..last, after every event the window knows, keeping at most
// size commands.
func (w *window) add(id string, first, last uint64, size int) {
	switch {
	case id == "" || last < first || last-first >= math.MaxUint32:
		return
	case len(w.ring) > 0 && first <= w.ring[w.newest()].span().last:
		return // out of order: see record
	}
	w.push(written{id: id, first: first, n: uint32(last - first + 1), hash: idHash(id)}, size)
}

// push adds e as the newest entry, overwriting the oldest one when the
// window holds size commands.
func (w *window) push(e written, size int) {
	n := len(w.ring)
	if n < size {
		if n > 0 && w.oldest() != 0 {
			w.linearise(n + 1)
		}
		if n == cap(w.ring) {
			grown := make([]written, n, min(max(2*n, 1), size))
			copy(grown, w.ring)
			w.ring = grown
		}
		w.ring = append(w.ring, e)
		return
	}
	w.ring[w.oldest()] = e
}

// remove drops the entry at i, keeping the others in order.
func (w *window) remove(i int) {
	w.ring[i].id = ""
	kept := make([]written, 0, cap(w.ring))
	for e := range w.all() {
		if e.id != "" {
			kept = append(kept, e)
		}
	}
	w.ring = kept
}

// linearise rewrites a rotated ring oldest first, with room for c entries.
func (w *window) linearise(c int) {
	lin := make([]written, 0, max(c, cap(w.ring)))
	for e := range w.all() {
		lin = append(lin, e)
	}
	w.ring = lin
}

// oldest returns the position of the oldest entry of a non-empty ring:
// the entries are sorted by first version, rotated, so it is where the
// rotation starts (a binary search).
func (w *window) oldest() int {
	lo, hi := 0, len(w.ring)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if w.ring[mid].first > w.ring[hi].first {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// newest returns the position of the newest entry of a non-empty ring.
func (w *window) newest() int {
	return (w.oldest() + len(w.ring) - 1) % len(w.ring)
}

// all yields the commands of the window, oldest first.
func (w *window) all() iter.Seq[written] {
	return func(yield func(written) bool) {
		n := len(w.ring)
		if n == 0 {
			return
		}
		start := w.oldest()
		for k := range n {
			if !yield(w.ring[(start+k)%n]) {
				return
			}
		}
	}
}

// len returns how many commands the window holds.
func (w *window) len() int { return len(w.ring) }
