package grain

// window is a grain's idempotency window: the last size commands that wrote
// events, each with the versions of the events it wrote. A retried command
// found here is answered with its first result, read back from the store.
//
// Entries are kept in the order their events were stored, so the window
// forgets the command whose events are the oldest. It is not safe for
// concurrent use: the grain's mailbox goroutine owns it, and the host's
// state cache while the grain is passive.
type window struct {
	size int
	// ring holds the entries, oldest first until it is full; then the
	// oldest is at head and the ring wraps.
	ring []written
	head int
	// index maps a command id to the position in ring of its newest entry.
	index map[string]int
}

// written is one entry of the window.
type written struct {
	id string
	span
}

// span is the version range of the events one command wrote.
type span struct{ first, last uint64 }

// newWindow returns an empty window of size commands with room for n
// without growing.
func newWindow(size, n int) *window {
	n = min(n, size)
	return &window{size: size, ring: make([]written, 0, n), index: make(map[string]int, n)}
}

// lookup returns the versions command id wrote, if the window holds it.
func (w *window) lookup(id string) (span, bool) {
	if w == nil {
		return span{}, false
	}
	i, ok := w.index[id]
	if !ok {
		return span{}, false
	}
	return w.ring[i].span, true
}

// record notes that command id wrote the event at version. Events are
// recorded in version order: an event that follows id's newest events
// extends their span; any other starts a new entry, which forgets the
// oldest one when the window is full.
func (w *window) record(id string, version uint64) {
	if id == "" {
		return
	}
	if i, ok := w.index[id]; ok {
		e := &w.ring[i]
		switch {
		case e.last+1 == version:
			e.last = version
			return
		case e.first <= version && version <= e.last:
			return // already known
		}
	}
	w.push(written{id: id, span: span{first: version, last: version}})
}

// push adds e as the newest entry, forgetting the oldest one when the
// window is full.
func (w *window) push(e written) {
	if len(w.ring) < w.size {
		w.ring = append(w.ring, e)
		w.index[e.id] = len(w.ring) - 1
		return
	}
	old := w.ring[w.head].id
	if w.index[old] == w.head {
		delete(w.index, old)
	}
	w.ring[w.head] = e
	w.index[e.id] = w.head
	w.head = (w.head + 1) % w.size
}

// entries calls fn for each command of the window, oldest first.
func (w *window) entries(fn func(written)) {
	if w == nil {
		return
	}
	for k := range w.ring {
		i := (w.head + k) % len(w.ring)
		if e := w.ring[i]; w.index[e.id] == i { // skip an entry superseded by a newer one of the same id
			fn(e)
		}
	}
}

// len returns how many commands the window holds.
func (w *window) len() int {
	if w == nil {
		return 0
	}
	return len(w.index)
}
