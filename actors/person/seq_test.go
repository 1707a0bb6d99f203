package person

import (
	"slices"
	"sync"
	"testing"
)

func seqInts(v seq[int]) []int { return v.slice() }

func buildSeq(n int) seq[int] {
	var v seq[int]
	for i := range n {
		v = v.with(i)
	}
	return v
}

func TestSeqAppendAndFold(t *testing.T) {
	for _, n := range []int{0, 1, tailMax - 1, tailMax, tailMax + 1, 3*tailMax + 5} {
		v := buildSeq(n)
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		if got := seqInts(v); !slices.Equal(got, want) || v.len() != n {
			t.Errorf("n=%d: %v (len %d)", n, got, v.len())
		}
		for i := range n {
			if v.at(i) != i {
				t.Fatalf("n=%d: at(%d) = %d", n, i, v.at(i))
			}
		}
	}
}

// TestSeqSiblings: two seqs appended to from one parent do not see each
// other's elements, nor does the parent, wherever the parent's tail stands.
func TestSeqSiblings(t *testing.T) {
	for _, n := range []int{0, 5, tailMax - 1, tailMax, 2 * tailMax} {
		parent := buildSeq(n)
		want := seqInts(parent)
		a := parent.with(100)
		b := parent.with(200)
		a2 := a.with(101)
		b2 := b.with(201)
		if got := seqInts(parent); !slices.Equal(got, want) {
			t.Errorf("n=%d: parent changed to %v", n, got)
		}
		if got := seqInts(a2); !slices.Equal(got, append(slices.Clone(want), 100, 101)) {
			t.Errorf("n=%d: a2 = %v", n, got)
		}
		if got := seqInts(b2); !slices.Equal(got, append(slices.Clone(want), 200, 201)) {
			t.Errorf("n=%d: b2 = %v", n, got)
		}
	}
}

func TestSeqSet(t *testing.T) {
	v := buildSeq(2*tailMax + 3) // head and tail both populated
	inHead, inTail := 3, v.len()-2
	h := v.set(inHead, -1)
	tl := v.set(inTail, -2)
	if v.at(inHead) != inHead || v.at(inTail) != inTail {
		t.Fatal("set changed the original")
	}
	if h.at(inHead) != -1 || tl.at(inTail) != -2 || h.at(inTail) != inTail || tl.at(inHead) != inHead {
		t.Fatal("set did not replace exactly one element")
	}
	// Appends after a set in the head share the tail claim with v: only one
	// of them may write in place.
	h2, v2 := h.with(1000), v.with(2000)
	if h2.at(h2.len()-1) != 1000 || v2.at(v2.len()-1) != 2000 || h2.at(inHead) != -1 || v2.at(inHead) != inHead {
		t.Fatalf("appends after set interfere: %v %v", seqInts(h2), seqInts(v2))
	}
	if got := v.lastIndex(func(x int) bool { return x == inHead }); got != inHead {
		t.Errorf("lastIndex in head = %d", got)
	}
	if got := v.lastIndex(func(x int) bool { return x == inTail }); got != inTail {
		t.Errorf("lastIndex in tail = %d", got)
	}
	if got := v.lastIndex(func(x int) bool { return x < 0 }); got != -1 {
		t.Errorf("lastIndex of none = %d", got)
	}
	n := 0
	for range v.all {
		n++
		if n == 5 {
			break
		}
	}
	if n != 5 {
		t.Errorf("all did not stop at break: %d", n)
	}
}

func TestSeqOfNeverWritesItsInput(t *testing.T) {
	in := make([]int, 3, 10)
	v := seqOf(in).with(7).set(0, 9)
	if !slices.Equal(in[:cap(in)], make([]int, 10)) {
		t.Errorf("input array written: %v", in[:cap(in)])
	}
	if got := seqInts(v); !slices.Equal(got, []int{9, 0, 0, 7}) {
		t.Errorf("seq = %v", got)
	}
}

// TestSeqConcurrentAppends: goroutines appending to one parent each get
// their own element (run with -race).
func TestSeqConcurrentAppends(t *testing.T) {
	parent := buildSeq(5)
	const workers = 8
	results := make([]seq[int], workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { results[w] = parent.with(100 + w).with(200 + w) })
	}
	wg.Wait()
	for w, r := range results {
		if r.len() != 7 || r.at(5) != 100+w || r.at(6) != 200+w {
			t.Errorf("worker %d: %v", w, seqInts(r))
		}
	}
}
