package grain

import (
	"sync"
	"time"
)

// warnEvery is the minimum interval between two warnings of one kind of
// failure; the ones in between are counted and reported with the next.
const warnEvery = time.Second

// warnLimiter rate-limits a repeated warning (a store outage fails every
// activation). Safe for concurrent use.
type warnLimiter struct {
	mu         sync.Mutex // guards next and suppressed
	next       time.Time
	suppressed int
}

// allow reports whether to log now and how many warnings were dropped
// since the last one logged.
func (l *warnLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(warnEvery)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
