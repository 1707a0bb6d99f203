package onboarding

import (
	"slices"
	"time"

	"github.com/cim/personrt/messages/personv1"
)

// State is the folded state of one workflow. It is a value: [Apply] returns
// a new State and never changes one a caller holds. The zero value is a
// workflow in Started with no events.
//
// Messages returned by the accessors are shared with the State and the
// events it was folded from: treat them as read-only. Slices are fresh
// copies.
type State struct {
	id            string
	version       uint64
	state         personv1.OnboardingState
	identityID    string
	email, phone  string
	components    []*personv1.OnboardingComponent
	locationID    string
	deadlines     []*personv1.StepDeadline
	failureReason string
	failedIn      personv1.OnboardingState
	stepDeadline  time.Time // zero: the current state has no deadline
	startedAt     time.Time
	updatedAt     time.Time
}

// ID returns the person id of the workflow ("" before StartOnboarding).
func (s State) ID() string { return s.id }

// Version returns the number of events folded into s.
func (s State) Version() uint64 { return s.version }

// State returns where the workflow is.
func (s State) State() personv1.OnboardingState { return s.state }

// Terminal reports whether the workflow is Completed or Failed.
func (s State) Terminal() bool { return workflow.Terminal(s.state) }

// IdentityID returns the verified identity, "" before VerifyIdentity.
func (s State) IdentityID() string { return s.identityID }

// Email and Phone return the normalised basic info, "" before
// ProvideBasicInfo.
func (s State) Email() string { return s.email }

// Phone returns the E.164 phone number, "" before ProvideBasicInfo.
func (s State) Phone() string { return s.phone }

// Components returns the components set up, in order.
func (s State) Components() []*personv1.OnboardingComponent { return slices.Clone(s.components) }

// LocationID returns the assigned location, "" before AssignLocation.
func (s State) LocationID() string { return s.locationID }

// Deadlines returns the per-state timeouts recorded at start.
func (s State) Deadlines() []*personv1.StepDeadline { return slices.Clone(s.deadlines) }

// Failure returns the reason and the state the workflow failed in; "" when
// it did not fail.
func (s State) Failure() (string, personv1.OnboardingState) { return s.failureReason, s.failedIn }

// StepDeadline returns when the current state expires; zero when it has no
// deadline.
func (s State) StepDeadline() time.Time { return s.stepDeadline }

// StartedAt returns occurred_at of OnboardingStarted.
func (s State) StartedAt() time.Time { return s.startedAt }

// UpdatedAt returns occurred_at of the last applied event.
func (s State) UpdatedAt() time.Time { return s.updatedAt }

// timeout returns the deadline configured for state st, 0 for none.
func (s State) timeout(st personv1.OnboardingState) time.Duration {
	for _, d := range s.deadlines {
		if d.GetState() == st {
			return d.GetTimeout().AsDuration()
		}
	}
	return 0
}
