package onboarding

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cim/personrt/actors/fsm"
	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/messages/personv1"
)

// Workflow states, shortened.
const (
	started     = personv1.OnboardingState_ONBOARDING_STATE_STARTED
	awaitingID  = personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION
	collecting  = personv1.OnboardingState_ONBOARDING_STATE_COLLECTING_BASIC_INFO
	settingUp   = personv1.OnboardingState_ONBOARDING_STATE_SETTING_UP_COMPONENTS
	assigning   = personv1.OnboardingState_ONBOARDING_STATE_ASSIGNING_LOCATION
	finalizing  = personv1.OnboardingState_ONBOARDING_STATE_FINALIZING
	completed   = personv1.OnboardingState_ONBOARDING_STATE_COMPLETED
	failed      = personv1.OnboardingState_ONBOARDING_STATE_FAILED
	numStates   = 8
	maxIDLen    = 128  // bytes of identity, location and command ids
	maxTextLen  = 1000 // bytes of a failure reason
	maxDataLen  = 64 << 10
	maxComps    = 100
	maxDeadline = 10 * 365 * 24 // hours
)

// Machine is the type of the workflow table: onboarding states, command
// kinds, and the command as guard input.
type Machine = fsm.Machine[personv1.OnboardingState, Kind, *personv1.Command]

var workflow = fsm.MustNew(workflowSpec())

// WorkflowMachine returns the workflow table [Decide] runs. It is immutable;
// tests and docs walk it.
func WorkflowMachine() *Machine { return workflow }

// stateNames are the names of the workflow states, in value order.
var stateNames = [numStates]string{
	"Started", "AwaitingIdentityVerification", "CollectingBasicInfo", "SettingUpComponents",
	"AssigningLocation", "Finalizing", "Completed", "Failed",
}

// StateName returns the name of a workflow state ("CollectingBasicInfo"),
// or "State(n)" for an unknown value.
func StateName(s personv1.OnboardingState) string {
	if s >= 0 && s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// isTerminal reports whether s is Completed or Failed.
func isTerminal(s personv1.OnboardingState) bool { return s == completed || s == failed }

func invalid(rule, format string, args ...any) *personv1.Error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, rule, format, args...)
}

// Guards of the workflow rows.
var (
	guardDeadlines = fsm.Guard[*personv1.Command]{Name: RuleDeadlineInvalid, Check: func(c *personv1.Command) error {
		return checkDeadlines(c.GetStartOnboarding().GetDeadlines())
	}}
	guardIdentity = fsm.Guard[*personv1.Command]{Name: RuleIdentityID, Check: func(c *personv1.Command) error {
		return checkID(RuleIdentityID, "identity_id", c.GetVerifyIdentity().GetIdentityId())
	}}
	guardEmail = fsm.Guard[*personv1.Command]{Name: contact.RuleEmailInvalid, Check: func(c *personv1.Command) error {
		_, err := contact.NormalizeEmail(c.GetProvideBasicInfo().GetEmail())
		return err
	}}
	guardPhone = fsm.Guard[*personv1.Command]{Name: contact.RulePhoneInvalid, Check: func(c *personv1.Command) error {
		b := c.GetProvideBasicInfo()
		_, err := contact.NormalizePhone(b.GetPhone(), b.GetDefaultRegion())
		return err
	}}
	guardComponents = fsm.Guard[*personv1.Command]{Name: RuleComponent, Check: func(c *personv1.Command) error {
		return checkComponents(c.GetAddComponents().GetComponents())
	}}
	guardLocation = fsm.Guard[*personv1.Command]{Name: RuleLocationID, Check: func(c *personv1.Command) error {
		return checkID(RuleLocationID, "location_id", c.GetAssignLocation().GetLocationId())
	}}
	guardReason = fsm.Guard[*personv1.Command]{Name: RuleFailReason, Check: func(c *personv1.Command) error {
		r, err := checkText("reason", c.GetFailOnboarding().GetReason())
		if err != nil {
			return err
		}
		if r == "" {
			return invalid(RuleFailReason, "failing an onboarding needs a reason")
		}
		return nil
	}}
)

// checkID accepts 1..maxIDLen bytes without white space or control
// characters; rule names the missing or malformed id.
func checkID(rule, field, id string) error {
	if id == "" {
		return invalid(rule, "%s is required", field)
	}
	bad := len(id) > maxIDLen || strings.IndexFunc(id, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}) >= 0
	if bad {
		return invalid(rule, "%s %q must be 1 to %d bytes without spaces or control characters", field, id, maxIDLen)
	}
	return nil
}

// checkText trims s and accepts at most maxTextLen bytes without control
// characters.
func checkText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxTextLen {
		return "", invalid(RuleTextInvalid, "%s has %d bytes, at most %d allowed", field, len(s), maxTextLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		return "", invalid(RuleTextInvalid, "%s contains control characters", field)
	}
	return s, nil
}

func checkDeadlines(ds []*personv1.StepDeadline) error {
	var seen [numStates]bool
	for i, d := range ds {
		st := d.GetState()
		if st < started || st >= numStates || isTerminal(st) {
			return invalid(RuleDeadlineInvalid, "deadlines[%d]: %s is not a non-terminal state", i, st)
		}
		if seen[st] {
			return invalid(RuleDeadlineInvalid, "deadlines[%d]: a second deadline for %s", i, StateName(st))
		}
		seen[st] = true
		t := d.GetTimeout()
		if err := t.CheckValid(); err != nil || t.AsDuration() <= 0 || t.AsDuration().Hours() > maxDeadline {
			return invalid(RuleDeadlineInvalid, "deadlines[%d]: the timeout of %s must be positive and at most 10 years", i, StateName(st))
		}
	}
	return nil
}

func checkComponents(cs []*personv1.OnboardingComponent) error {
	if len(cs) > maxComps {
		return invalid(RuleComponent, "%d components, at most %d allowed", len(cs), maxComps)
	}
	for i, c := range cs {
		typ, err := checkText("component_type", c.GetComponentType())
		if err != nil {
			return err
		}
		if typ == "" {
			return invalid(RuleComponent, "components[%d] has no type", i)
		}
		if d := c.GetData(); d != "" && (len(d) > maxDataLen || !json.Valid([]byte(d))) {
			return invalid(RuleComponent, "components[%d] (%s): data is not a JSON document of at most %d bytes", i, typ, maxDataLen)
		}
	}
	return nil
}

func workflowSpec() fsm.Spec[personv1.OnboardingState, Kind, *personv1.Command] {
	type row = fsm.Transition[personv1.OnboardingState, Kind, *personv1.Command]
	type guards = []fsm.Guard[*personv1.Command]
	from := func(s ...personv1.OnboardingState) []personv1.OnboardingState { return s }
	kinds := make([]fsm.Kind[Kind], numKinds)
	for k := range numKinds {
		kinds[k] = fsm.Kind[Kind]{Value: k, Name: k.String()}
	}
	live := from(started, awaitingID, collecting, settingUp, assigning, finalizing)
	return fsm.Spec[personv1.OnboardingState, Kind, *personv1.Command]{
		Name: "onboarding",
		States: []fsm.State[personv1.OnboardingState]{
			{Value: started, Name: stateNames[started], Doc: "no events yet; StartOnboarding begins the workflow"},
			{Value: awaitingID, Name: stateNames[awaitingID], Doc: "waits for the verified identity"},
			{Value: collecting, Name: stateNames[collecting], Doc: "waits for a valid email and phone"},
			{Value: settingUp, Name: stateNames[settingUp], Doc: "waits for the components"},
			{Value: assigning, Name: stateNames[assigning], Doc: "waits for the primary location"},
			{Value: finalizing, Name: stateNames[finalizing], Doc: "waits for completion"},
			{Value: completed, Name: stateNames[completed], Terminal: true, Doc: "done; the person got its verified contacts"},
			{Value: failed, Name: stateNames[failed], Terminal: true, Doc: "failed with a reason (explicitly or a step deadline)"},
		},
		Kinds: kinds,
		Transitions: []row{
			{From: from(started), On: KindStart, To: awaitingID, Guards: guards{guardDeadlines}},
			{From: from(awaitingID), On: KindVerifyIdentity, To: collecting, Guards: guards{guardIdentity}},
			{From: from(collecting), On: KindProvideBasicInfo, To: settingUp, Guards: guards{guardEmail, guardPhone}},
			{From: from(settingUp), On: KindAddComponents, To: assigning, Guards: guards{guardComponents}},
			{From: from(assigning), On: KindAssignLocation, To: finalizing, Guards: guards{guardLocation}},
			{From: from(finalizing), On: KindComplete, To: completed},
			{From: live, On: KindFail, To: failed, Guards: guards{guardReason}},
			{From: live, On: KindExpireStep, To: failed},
		},
	}
}

// reject is the rejection of a command kind the table has no row for in
// state from (see the package doc).
func reject(from personv1.OnboardingState, k Kind) *personv1.Error {
	name := StateName(from)
	switch {
	case k == KindStart:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleAlreadyStarted, "the onboarding was already started (it is %s)", name)
	case workflow.Terminal(from):
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleTerminal, "the onboarding is %s: %s is not allowed", name, k)
	case from == started:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleNotStarted, "%s: the onboarding was not started", k)
	default:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleOutOfOrder, "%s is not allowed while the onboarding is %s", k, name)
	}
}
