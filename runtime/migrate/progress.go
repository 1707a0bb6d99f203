package migrate

import "time"

// Progress reports how far a long operation is. Done and Total count the
// stream sequences of the range being read (deleted sequences included).
type Progress struct {
	// Phase is what runs: "dry-run", "copy", "tail", "verify source",
	// "verify target".
	Phase   string
	Done    uint64
	Total   uint64
	Elapsed time.Duration
	// Final marks the last report of the phase.
	Final bool
}

// Rate returns the sequences per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA returns the estimated time left at the current rate, 0 when
// unknown.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}

// progressFunc returns a reporter for phase over total sequences that
// calls Config.Progress at most every ProgressEvery (and always for the
// final report).
func (m *Migrator) progressFunc(phase string, total uint64) func(done uint64, final bool) {
	start := time.Now()
	var last time.Time
	return func(done uint64, final bool) {
		if m.cfg.Progress == nil {
			return
		}
		now := time.Now()
		if !final && now.Sub(last) < m.cfg.ProgressEvery {
			return
		}
		last = now
		m.cfg.Progress(Progress{Phase: phase, Done: min(done, total), Total: total, Elapsed: now.Sub(start), Final: final})
	}
}
