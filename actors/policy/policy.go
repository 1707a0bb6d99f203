package policy

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
)

// Names of the policies; each is also the name of its durable consumer and
// its dead-letter subjects.
const (
	WelcomeNotification  = "welcome-notification"
	DataQuality          = "data-quality"
	AutoArchive          = "auto-archive"
	Onboarding           = "onboarding"
	MergeBookkeeping     = "merge-bookkeeping"
	OnboardingDeadlines  = "onboarding-deadlines"
	OnboardingCompletion = "onboarding-completion"
)

// Policy is one business rule. Evaluate is pure and safe for concurrent
// use; it returns nil when the event does not concern the policy.
type Policy struct {
	// Name is one of the policy names above.
	Name string
	// Source is the kind whose event stream the policy reads: [KindPerson]
	// or [KindOnboarding].
	Source string
	// Types are the event types Evaluate can react to; nil means every
	// type. The runtime skips other events without reading them.
	Types []string
	// Evaluate returns the reactions to env at now (now stamps issued_at;
	// timers are computed from the event's occurred_at, so a redelivery
	// arms the same timer).
	Evaluate func(env *personv1.EventEnvelope, now time.Time) []Reaction
}

// Set is the configured policies. It is immutable after [New].
type Set struct {
	cfg      Config
	policies []Policy
	archive  string                   // ArchivePerson reason
	steps    []*personv1.StepDeadline // shared, read-only

	evaluators []evaluator // in policy order
}

// evaluator appends the reactions of one policy to ev to out.
type evaluator func(out []Reaction, ev *event) []Reaction

// event is what the evaluators share for one envelope: the values every
// command of the envelope carries are computed once.
type event struct {
	env         *personv1.EventEnvelope
	now         time.Time
	issued      *timestamppb.Timestamp // shared by the commands: read-only
	correlation string
}

func newEvent(env *personv1.EventEnvelope, now time.Time) event {
	correlation := env.GetCorrelationId()
	if correlation == "" {
		correlation = env.GetEventId()
	}
	return event{env: env, now: now, issued: timestamppb.New(now), correlation: correlation}
}

// New validates cfg (filling defaults) and returns the policies.
func New(cfg Config) (*Set, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Set{cfg: cfg, steps: cfg.stepDeadlines()}
	idle := cfg.ArchiveAfter.String()
	if day := 24 * time.Hour; cfg.ArchiveAfter%day == 0 {
		idle = fmt.Sprintf("%d days", cfg.ArchiveAfter/day)
	}
	s.archive = "auto-archived after " + idle + " of inactivity"
	wrap := func(f evaluator) func(*personv1.EventEnvelope, time.Time) []Reaction {
		return func(env *personv1.EventEnvelope, now time.Time) []Reaction {
			ev := newEvent(env, now)
			return f(nil, &ev)
		}
	}
	s.evaluators = []evaluator{s.welcome, s.dataQuality, s.autoArchive, s.onboarding, s.mergeBookkeeping, s.onboardingDeadlines, s.onboardingCompletion}
	s.policies = []Policy{
		{Name: WelcomeNotification, Source: KindPerson, Types: []string{"PersonCreated", "ContactAdded"}},
		{Name: DataQuality, Source: KindPerson, Types: []string{"PersonCreated", "NameUpdated", "ContactAdded"}},
		{Name: AutoArchive, Source: KindPerson},
		{Name: Onboarding, Source: KindPerson, Types: []string{"PersonCreated"}},
		{Name: MergeBookkeeping, Source: KindPerson, Types: []string{"PersonMergedInto"}},
		{Name: OnboardingDeadlines, Source: KindOnboarding},
		{Name: OnboardingCompletion, Source: KindOnboarding, Types: []string{"OnboardingCompleted"}},
	}
	for i := range s.policies {
		s.policies[i].Evaluate = wrap(s.evaluators[i])
	}
	return s, nil
}

// Config returns the configuration after defaults.
func (s *Set) Config() Config { return s.cfg }

// Policies returns every policy.
func (s *Set) Policies() []Policy { return append([]Policy(nil), s.policies...) }

// Reacts reports whether p can react to events of type eventType.
func (p Policy) Reacts(eventType string) bool {
	if p.Types == nil {
		return true
	}
	for _, t := range p.Types {
		if t == eventType {
			return true
		}
	}
	return false
}

// Policy returns the policy called name.
func (s *Set) Policy(name string) (Policy, bool) {
	for _, p := range s.policies {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// Evaluate runs every policy on env and returns their reactions, in policy
// order. Policies of another source return nothing for env. Commands of
// one call share their issued_at message.
func (s *Set) Evaluate(env *personv1.EventEnvelope, now time.Time) []Reaction {
	ev := newEvent(env, now)
	out := make([]Reaction, 0, 4)
	for _, f := range s.evaluators {
		out = f(out, &ev)
	}
	return out
}

// actors are the Command.actor of each policy: "policy:<name>".
var actors = map[string]string{
	WelcomeNotification: "policy:" + WelcomeNotification, DataQuality: "policy:" + DataQuality,
	AutoArchive: "policy:" + AutoArchive, Onboarding: "policy:" + Onboarding, MergeBookkeeping: "policy:" + MergeBookkeeping,
	OnboardingDeadlines: "policy:" + OnboardingDeadlines, OnboardingCompletion: "policy:" + OnboardingCompletion,
}

// box holds a command, its body wrapper (the oneof case) and its body in
// one allocation.
type box[W, B any] struct {
	c personv1.Command
	w W
	b B
}

// command fills c as the command number part of policy for ev, addressed
// to personID, with the event as its causation, and returns it.
func (ev *event) command(c *personv1.Command, policy, part, personID string) *personv1.Command {
	c.CommandId = DeriveID(policy, ev.env.GetEventId(), part)
	c.PersonId = personID
	c.CorrelationId = ev.correlation
	c.CausationId = ev.env.GetEventId()
	c.Actor = actors[policy]
	c.IssuedAt = ev.issued
	return c
}
