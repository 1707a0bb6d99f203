package policy

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// supervisor is the parent actor of the workers: it spawns them on start;
// its strategy (restarter) handles their failures.
type supervisor struct {
	r *Runner
}

// Receive implements actor.Actor.
func (s *supervisor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		// A lane's failure is its worker's: the worker (and so every lane of
		// it) is restarted by the restarter.
		escalate := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.EscalateDirective })
		for _, w := range s.r.workers() {
			props := actor.PropsFromProducer(func() actor.Actor { return s.r.newWorker(w) }, actor.WithSupervisor(escalate))
			pid, err := ctx.SpawnNamed(props, w)
			if err != nil {
				panic(err) // names are unique per runner; a clash is a bug
			}
			s.r.setPID(w, pid)
		}
	}
}

// restarter is the supervisor's strategy: it restarts a failed worker
// after an exponential delay with jitter and escalates (stops it and
// reports) after more than max failures within window.
type restarter struct {
	r              *Runner
	base, maxDelay time.Duration
	max            int
	window         time.Duration
}

// HandleFailure implements actor.SupervisorStrategy.
func (s *restarter) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, _ any) {
	rs.Fail()
	n := rs.NumberOfFailures(s.window)
	name := s.r.workerName(child)
	if n > s.max {
		rs.Reset()
		sup.StopChildren(child)
		s.r.escalate(name, n, reason)
		return
	}
	d := jitter(delay(s.base, s.maxDelay, n))
	s.r.restarting(name, n, d, reason)
	// The child's mailbox stays suspended until the restart.
	time.AfterFunc(d, func() { sup.RestartChildren(child) })
}
