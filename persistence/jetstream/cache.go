package jetstream

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// position says that a person's event at version is stored at stream
// sequence seq. Streams never rewrite messages, so a position, once seen,
// stays true: a cached position may be old, never wrong.
type position struct {
	version, seq uint64
}

// recentPositions is how many positions besides the tail a cache entry
// remembers (snapshot positions, for the scanning fallback).
const recentPositions = 4

// entry is what the cache knows about one person. Its slices are never
// modified in place: an update stores a new slice.
type entry struct {
	version uint64   // the newest version seen, 0 if unknown
	tail    []uint64 // stream sequences of version, version-1, … (newest first)
	recent  [recentPositions]position
	next    int // the ring slot written next
}

// at returns the stream sequence of version, if known.
func (e entry) at(version uint64) (uint64, bool) {
	if version == 0 {
		return 0, false
	}
	if version <= e.version && e.version-version < uint64(len(e.tail)) {
		return e.tail[e.version-version], true
	}
	for _, r := range e.recent {
		if r.version == version {
			return r.seq, true
		}
	}
	return 0, false
}

// before returns the newest known position with a version below v, if any.
func (e entry) before(v uint64) (position, bool) {
	var best position
	for i, seq := range e.tail {
		if pv := e.version - uint64(i); pv < v {
			best = position{pv, seq}
			break
		}
	}
	for _, r := range e.recent {
		if r.version < v && r.version > best.version {
			best = r
		}
	}
	return best, best.version != 0
}

// positions is a bounded, concurrency-safe map from person id to what is
// known about the stream sequences of its events. It is a hint: every
// append built from it is checked by the server (the expected-sequence
// header), and every event read through it is checked against its subject
// and version.
type positions struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, entry] // guarded by mu
}

func newPositions(size int) (*positions, error) {
	l, err := simplelru.NewLRU[string, entry](size, nil)
	if err != nil {
		return nil, err
	}
	return &positions{lru: l}, nil
}

// get returns the entry of personID (zero if unknown).
func (c *positions) get(personID string) entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, _ := c.lru.Get(personID)
	return e
}

// setLast records that personID's last known version is version, its
// tail the stream sequences of version, version-1, …. An older version
// than the known one is ignored.
func (c *positions) setLast(personID string, version uint64, tail []uint64) {
	if version == 0 || len(tail) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, _ := c.lru.Get(personID)
	if version < e.version {
		return
	}
	e.version, e.tail = version, tail
	c.lru.Add(personID, e)
}

// addPosition records one position (of a snapshot).
func (c *positions) addPosition(personID string, p position) {
	if p.version == 0 || p.seq == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, _ := c.lru.Get(personID)
	if _, ok := e.at(p.version); !ok {
		e.recent[e.next] = p
		e.next = (e.next + 1) % recentPositions
	}
	c.lru.Add(personID, e)
}

// forget drops what is known about personID.
func (c *positions) forget(personID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(personID)
}
