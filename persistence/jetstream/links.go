package jetstream

import (
	"strconv"
	"strings"
)

// Backlinks: every stored event carries the stream sequences of the
// person's previous events, so that a person's tail can be fetched by exact
// sequence, in one pipelined round, instead of scanning the subject (whose
// cost grows with the events of all other persons stored in between: see
// the package doc).
//
//	Cim-Prev-Seqs:   S1,d2,d3,…  S1 = stream sequence of the event just before
//	                 this append; S(k) = S(k-1) - d(k) for the ones before it
//	Cim-Batch-Index: i           this event is the i-th (from 0) of an atomic
//	                 append; events i-1 … 0 of the append are at this
//	                 sequence -1 … -i (an atomic batch is stored contiguously)
const (
	hdrPrevSeqs   = "Cim-Prev-Seqs"
	hdrBatchIndex = "Cim-Batch-Index"
)

// links is what a stored event says about where its person's events are.
type links struct {
	version    uint64   // this event's person version
	seq        uint64   // this event's stream sequence
	batchIndex uint64   // its index in its atomic append
	prev       []uint64 // sequences of the versions before its append, newest first
}

// tail returns the stream sequences of versions l.version, l.version-1, …
// as far as known, at most n of them.
func (l links) tail(n int) []uint64 {
	out := make([]uint64, 0, min(n, 1+int(l.batchIndex)+len(l.prev)))
	for j := uint64(0); j <= l.batchIndex && len(out) < n; j++ {
		out = append(out, l.seq-j)
	}
	for _, s := range l.prev {
		if len(out) == n {
			break
		}
		out = append(out, s)
	}
	return out
}

// formatPrevSeqs encodes seqs (newest first, strictly decreasing) as the
// Cim-Prev-Seqs header value.
func formatPrevSeqs(seqs []uint64) string {
	var b strings.Builder
	b.Grow(len(seqs) * 7)
	for i, s := range seqs {
		if i == 0 {
			b.WriteString(strconv.FormatUint(s, 10))
			continue
		}
		b.WriteByte(',')
		b.WriteString(strconv.FormatUint(seqs[i-1]-s, 10))
	}
	return b.String()
}

// parseLinks reads the backlinks of a stored event at stream sequence seq
// and person version version. A missing or malformed header yields no
// links (older events, or events of the original system): readers then
// scan the subject instead.
func parseLinks(seq, version uint64, prevHeader, batchHeader string) links {
	l := links{version: version, seq: seq}
	if batchHeader != "" {
		bi, err := strconv.ParseUint(batchHeader, 10, 64)
		if err != nil || bi >= seq || bi >= version {
			return l
		}
		l.batchIndex = bi
	}
	if prevHeader == "" {
		return l
	}
	parts := strings.Split(prevHeader, ",")
	prev := make([]uint64, 0, len(parts))
	below := seq - l.batchIndex // every earlier event is below the append's first
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return l
		}
		s := v
		if i > 0 {
			if v == 0 || v >= below {
				return l
			}
			s = below - v
		}
		if s == 0 || s >= below {
			return l
		}
		prev = append(prev, s)
		below = s
	}
	if uint64(len(prev)) > version-1-l.batchIndex {
		return l // more predecessors than versions: not ours to trust
	}
	l.prev = prev
	return l
}

// nextTail returns the tail after an append of n events stored up to
// sequence lastSeq on top of tail, at most max entries.
func nextTail(lastSeq uint64, n int, tail []uint64, max int) []uint64 {
	out := make([]uint64, 0, min(max, n+len(tail)))
	for j := range n {
		if len(out) == max {
			return out
		}
		out = append(out, lastSeq-uint64(j))
	}
	for _, s := range tail {
		if len(out) == max {
			break
		}
		out = append(out, s)
	}
	return out
}
