package onboarding

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
)

// ErrBrokenInvariant is the error [Apply] panics with (wrapped) when a
// stored event cannot follow the state: a version gap, an event without an
// onboarding body, an event before OnboardingStarted, or an event for
// another person. A stored event cannot be wrong, so this is a bug or a
// corrupt stream; the runtime's recover turns it into INTERNAL.
var ErrBrokenInvariant = errors.New("onboarding: broken invariant")

// Apply folds one stored event into s and returns the new state. It is pure
// and does not re-check the workflow table: Decide did when the event was
// made. The new state keeps references to messages inside e.
func Apply(s State, e *personv1.EventEnvelope) State {
	if e == nil {
		panic(fmt.Errorf("%w: nil event", ErrBrokenInvariant))
	}
	if e.GetVersion() != s.version+1 {
		broken(e, "version %d does not follow %d", e.GetVersion(), s.version)
	}
	_, isStart := e.GetEvent().GetBody().(*personv1.Event_OnboardingStarted)
	_, isFail := e.GetEvent().GetBody().(*personv1.Event_OnboardingFailed)
	if s.version == 0 && !isStart && !isFail {
		broken(e, "the onboarding was not started")
	}
	if s.id != "" && e.GetPersonId() != "" && e.GetPersonId() != s.id {
		broken(e, "the event is for %s, this onboarding is %s's", e.GetPersonId(), s.id)
	}
	at := e.GetOccurredAt().AsTime()
	if s.id == "" {
		s.id = e.GetPersonId()
	}
	if st, deadline, ok := Entered(e.GetEvent()); ok {
		s.state = st
		s.stepDeadline = time.Time{}
		if deadline != nil {
			s.stepDeadline = deadline.AsTime()
		}
	}
	switch b := e.GetEvent().GetBody().(type) {
	case *personv1.Event_OnboardingStarted:
		if s.version != 0 {
			broken(e, "a second OnboardingStarted")
		}
		s.deadlines = b.OnboardingStarted.GetDeadlines()
		s.startedAt = at
	case *personv1.Event_IdentityVerified:
		s.identityID = b.IdentityVerified.GetIdentityId()
	case *personv1.Event_BasicInfoProvided:
		s.email, s.phone = b.BasicInfoProvided.GetEmail(), b.BasicInfoProvided.GetPhone()
	case *personv1.Event_ComponentsAdded:
		s.components = b.ComponentsAdded.GetComponents()
	case *personv1.Event_LocationAssigned:
		s.locationID = b.LocationAssigned.GetLocationId()
	case *personv1.Event_OnboardingCompleted:
	case *personv1.Event_OnboardingFailed:
		s.failureReason, s.failedIn = b.OnboardingFailed.GetReason(), b.OnboardingFailed.GetFailedIn()
	default:
		broken(e, "%q is not an onboarding event", e.GetType())
	}
	s.version = e.GetVersion()
	s.updatedAt = at
	return s
}

// Entered returns the state an onboarding event moves its workflow into and
// the deadline of that state (nil: none); ok is false for any other event.
func Entered(e *personv1.Event) (state personv1.OnboardingState, deadline *timestamppb.Timestamp, ok bool) {
	switch b := e.GetBody().(type) {
	case *personv1.Event_OnboardingStarted:
		return awaitingID, b.OnboardingStarted.GetStepDeadline(), true
	case *personv1.Event_IdentityVerified:
		return collecting, b.IdentityVerified.GetStepDeadline(), true
	case *personv1.Event_BasicInfoProvided:
		return settingUp, b.BasicInfoProvided.GetStepDeadline(), true
	case *personv1.Event_ComponentsAdded:
		return assigning, b.ComponentsAdded.GetStepDeadline(), true
	case *personv1.Event_LocationAssigned:
		return finalizing, b.LocationAssigned.GetStepDeadline(), true
	case *personv1.Event_OnboardingCompleted:
		return completed, nil, true
	case *personv1.Event_OnboardingFailed:
		return failed, nil, true
	}
	return 0, nil, false
}

func broken(e *personv1.EventEnvelope, format string, args ...any) {
	panic(fmt.Errorf("%w: event %s (version %d, %s): %s", ErrBrokenInvariant, e.GetEventId(), e.GetVersion(), e.GetType(), fmt.Sprintf(format, args...)))
}
