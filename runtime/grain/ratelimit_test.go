package grain

import (
	"testing"
	"time"
)

func TestWarnLimiter(t *testing.T) {
	var l warnLimiter
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at            time.Duration
		wantOK        bool
		wantSuppressd int
	}{
		{0, true, 0},
		{time.Millisecond, false, 0},
		{500 * time.Millisecond, false, 0},
		{warnEvery, true, 2},
		{warnEvery + 1, false, 0},
		{3 * warnEvery, true, 1},
	}
	for i, s := range steps {
		ok, n := l.allow(t0.Add(s.at))
		if ok != s.wantOK || n != s.wantSuppressd {
			t.Errorf("step %d: allow = %v, %d; want %v, %d", i, ok, n, s.wantOK, s.wantSuppressd)
		}
	}
}
