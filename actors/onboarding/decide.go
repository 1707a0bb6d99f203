package onboarding

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/fsm"
	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/messages/personv1"
)

// Decide validates cmd against s and returns the events that record it, or
// a *personv1.Error naming the broken rule. It is pure: now stamps the step
// deadlines; nothing else is read. It changes neither s nor cmd, and the
// events share no message with cmd.
//
// Order of checks: the envelope (command_id, person_id, an onboarding body),
// then the workflow table with its guards. ExpireOnboardingStep for a state
// the workflow has left returns no events and no error.
func Decide(s State, cmd *personv1.Command, now time.Time) ([]*personv1.Event, error) {
	kind, err := checkEnvelope(&s, cmd)
	if err != nil {
		return nil, err
	}
	if kind == KindExpireStep && cmd.GetExpireOnboardingStep().GetState() != s.state {
		return nil, nil // the timer of a state the workflow has left
	}
	to, err := workflow.Step(s.state, kind, cmd)
	if err != nil {
		if errors.Is(err, fsm.ErrNoTransition) {
			return nil, reject(s.state, kind)
		}
		return nil, err
	}
	deadline := func() *timestamppb.Timestamp {
		if d := s.timeout(to); d > 0 {
			return timestamppb.New(now.Add(d))
		}
		return nil
	}
	var e personv1.Event
	switch b := cmd.GetBody().(type) {
	case *personv1.Command_StartOnboarding:
		ds := cloneDeadlines(b.StartOnboarding.GetDeadlines())
		s.deadlines = ds // the deadline of the state entered comes from the command
		e.Body = &personv1.Event_OnboardingStarted{OnboardingStarted: &personv1.OnboardingStarted{
			PersonId: cmd.GetPersonId(), Deadlines: ds, StepDeadline: deadline()}}
	case *personv1.Command_VerifyIdentity:
		e.Body = &personv1.Event_IdentityVerified{IdentityVerified: &personv1.IdentityVerified{
			IdentityId: b.VerifyIdentity.GetIdentityId(), StepDeadline: deadline()}}
	case *personv1.Command_ProvideBasicInfo:
		// The guards accepted both values.
		email, _ := contact.NormalizeEmail(b.ProvideBasicInfo.GetEmail())
		phone, _ := contact.NormalizePhone(b.ProvideBasicInfo.GetPhone(), b.ProvideBasicInfo.GetDefaultRegion())
		e.Body = &personv1.Event_BasicInfoProvided{BasicInfoProvided: &personv1.BasicInfoProvided{
			Email: email, Phone: phone, StepDeadline: deadline()}}
	case *personv1.Command_AddComponents:
		cs := make([]*personv1.OnboardingComponent, len(b.AddComponents.GetComponents()))
		for i, c := range b.AddComponents.GetComponents() {
			cs[i] = &personv1.OnboardingComponent{ComponentType: strings.TrimSpace(c.GetComponentType()), Data: c.GetData()}
		}
		e.Body = &personv1.Event_ComponentsAdded{ComponentsAdded: &personv1.ComponentsAdded{Components: cs, StepDeadline: deadline()}}
	case *personv1.Command_AssignLocation:
		e.Body = &personv1.Event_LocationAssigned{LocationAssigned: &personv1.LocationAssigned{
			LocationId: b.AssignLocation.GetLocationId(), StepDeadline: deadline()}}
	case *personv1.Command_CompleteOnboarding:
		e.Body = &personv1.Event_OnboardingCompleted{OnboardingCompleted: &personv1.OnboardingCompleted{Email: s.email, Phone: s.phone}}
	case *personv1.Command_FailOnboarding:
		reason, _ := checkText("reason", b.FailOnboarding.GetReason()) // the guard accepted it
		e.Body = &personv1.Event_OnboardingFailed{OnboardingFailed: &personv1.OnboardingFailed{Reason: reason, FailedIn: s.state}}
	case *personv1.Command_ExpireOnboardingStep:
		e.Body = &personv1.Event_OnboardingFailed{OnboardingFailed: &personv1.OnboardingFailed{
			Reason: "deadline exceeded in " + StateName(s.state), FailedIn: s.state}}
	}
	return []*personv1.Event{&e}, nil
}

// checkEnvelope validates the command envelope and returns its kind.
func checkEnvelope(s *State, cmd *personv1.Command) (Kind, error) {
	switch {
	case cmd.GetCommandId() == "":
		return 0, invalid(RuleCommandID, "the command has no command_id")
	case cmd.GetPersonId() == "":
		return 0, invalid(RulePersonID, "the command has no person_id")
	case cmd.GetBody() == nil:
		return 0, invalid(RuleBody, "the command has no body")
	}
	if err := checkID(RuleCommandID, "command_id", cmd.GetCommandId()); err != nil {
		return 0, err
	}
	if err := checkID(RulePersonID, "person_id", cmd.GetPersonId()); err != nil {
		return 0, err
	}
	kind, ok := KindOf(cmd)
	if !ok {
		return 0, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, RuleNotOnboarding,
			"%s is not an onboarding command (it belongs to another kind)", cmd.TypeName())
	}
	if s.id != "" && cmd.GetPersonId() != s.id {
		return 0, invalid(RulePersonMatch, "the command is for %s, this onboarding is %s's", cmd.GetPersonId(), s.id)
	}
	return kind, nil
}

func cloneDeadlines(ds []*personv1.StepDeadline) []*personv1.StepDeadline {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*personv1.StepDeadline, len(ds))
	for i, d := range ds {
		out[i] = proto.CloneOf(d)
	}
	return out
}
