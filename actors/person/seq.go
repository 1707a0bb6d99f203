package person

import (
	"slices"
	"sync/atomic"
)

// tailMax is the most elements a [seq] keeps in its tail before folding
// the tail into the head.
const tailMax = 16

// seq is an append-mostly, copy-on-write list that States derived from one
// another share, so that Apply never changes what an older State sees and
// yet does not copy the whole list on every event.
//
// Elements live in head (older, never written after it is built; it may
// alias a snapshot message) and tail (the newest, at most tailMax). Changing
// an element copies only the part that holds it, and recent elements, the
// ones changed most, are in the small tail. Appending writes the slot after
// the tail in place when this seq wins the compare-and-swap of end from its
// own tail length: end records how far any seq has claimed the tail's
// backing array, so a sibling State derived from the same parent loses the
// race and copies instead. This stays correct when several goroutines apply
// events to one State.
type seq[T any] struct {
	head []T
	tail []T
	end  *atomic.Int64 // claim on tail's backing array; nil: copy before writing
}

// seqOf wraps items that may alias a message; they are never written.
func seqOf[T any](items []T) seq[T] { return seq[T]{head: items} }

// len returns the number of elements.
func (v seq[T]) len() int { return len(v.head) + len(v.tail) }

// at returns element i.
func (v seq[T]) at(i int) T {
	if i < len(v.head) {
		return v.head[i]
	}
	return v.tail[i-len(v.head)]
}

// slice returns the elements in a fresh slice (nil when empty).
func (v seq[T]) slice() []T {
	if v.len() == 0 {
		return nil
	}
	out := make([]T, 0, v.len())
	return append(append(out, v.head...), v.tail...)
}

// with returns v plus x.
func (v seq[T]) with(x T) seq[T] {
	if len(v.tail) == tailMax {
		v = seq[T]{head: v.slice()}
	}
	n := len(v.tail)
	if v.end != nil && n < cap(v.tail) && v.end.CompareAndSwap(int64(n), int64(n+1)) {
		tail := v.tail[:n+1]
		tail[n] = x
		return seq[T]{head: v.head, tail: tail, end: v.end}
	}
	tail, end := newTail[T](n + 1)
	copy(tail, v.tail)
	tail[n] = x
	return seq[T]{head: v.head, tail: tail, end: end}
}

// set returns v with element i replaced by x, copying only the part that
// holds it.
func (v seq[T]) set(i int, x T) seq[T] {
	if i < len(v.head) {
		head := slices.Clone(v.head)
		head[i] = x
		return seq[T]{head: head, tail: v.tail, end: v.end}
	}
	tail, end := newTail[T](len(v.tail))
	copy(tail, v.tail)
	tail[i-len(v.head)] = x
	return seq[T]{head: v.head, tail: tail, end: end}
}

// all yields the elements in order, for range-over-func.
func (v seq[T]) all(yield func(T) bool) {
	for _, x := range v.head {
		if !yield(x) {
			return
		}
	}
	for _, x := range v.tail {
		if !yield(x) {
			return
		}
	}
}

// lastIndex returns the index of the last element for which f is true, or
// -1, searching from the newest.
func (v seq[T]) lastIndex(f func(T) bool) int {
	for i := len(v.tail) - 1; i >= 0; i-- {
		if f(v.tail[i]) {
			return len(v.head) + i
		}
	}
	for i := len(v.head) - 1; i >= 0; i-- {
		if f(v.head[i]) {
			return i
		}
	}
	return -1
}

// tailBuf is a tail's backing array and its claim, allocated together.
type tailBuf[T any] struct {
	end   atomic.Int64
	items [tailMax]T
}

// newTail returns a fresh tail of length n (capacity tailMax) whose claim
// is n.
func newTail[T any](n int) ([]T, *atomic.Int64) {
	b := new(tailBuf[T])
	b.end.Store(int64(n))
	return b.items[:n], &b.end
}
