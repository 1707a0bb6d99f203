package policy

import (
	"time"

	"github.com/cim/personrt/messages/personv1"
)

// Event is a lifecycle event of the runner: [Handled], [Retried], [Parked],
// [Replayed], [Restarted] or [Escalated].
type Event interface{ policyEvent() }

// Handled reports a message handled: its reactions were carried out (or
// there were none), and it was acked.
type Handled struct {
	Worker   string // policy name or TimerWorker
	Key      string // person id (timer key for timers)
	Sequence uint64 // stream sequence of the message
	// Reactions counts the reactions carried out.
	Reactions int
	// Attempt is the delivery that succeeded (1 = first).
	Attempt int
	// Skipped is true for a fired timer that was dropped because its
	// aggregate moved on (IfVersion), and for an event of a type the
	// policy never reacts to (not read).
	Skipped bool
	// Stored is when the message was stored in its stream.
	Stored time.Time
	Took   time.Duration
}

// Retried reports a transient failure: the message was nak'ed with Delay.
type Retried struct {
	Worker, Key string
	Sequence    uint64
	Attempt     int
	Delay       time.Duration
	// Waiting is true when the message was not tried because an earlier
	// message of the same key waits for its retry.
	Waiting bool
	Err     error
}

// Parked reports a message parked in the DLQ (and acked).
type Parked struct {
	Worker, Key string
	Sequence    uint64
	DLQSequence uint64
	Code        personv1.ErrorCode
	Rule        string
	Attempts    int
	// BlockedBy is the DLQ sequence of the entry it was parked behind, 0
	// when it failed itself.
	BlockedBy uint64
}

// Replayed reports a replay of a DLQ entry; Err is nil on success (the
// entry was removed).
type Replayed struct {
	Worker      string
	DLQSequence uint64
	Err         error
}

// Restarted reports a worker failure that the supervisor restarts after
// Delay.
type Restarted struct {
	Worker   string
	Failures int
	Delay    time.Duration
	Reason   any
}

// Escalated reports a worker that failed more than MaxRestarts times within
// RestartWindow: it was stopped.
type Escalated struct {
	Worker   string
	Failures int
	Reason   any
}

func (Handled) policyEvent()   {}
func (Retried) policyEvent()   {}
func (Parked) policyEvent()    {}
func (Replayed) policyEvent()  {}
func (Restarted) policyEvent() {}
func (Escalated) policyEvent() {}

// Stats counts the lifecycle events of a Runner.
type Stats struct {
	Handled, Retried, Parked, Replayed, Restarted, Escalated uint64
}
