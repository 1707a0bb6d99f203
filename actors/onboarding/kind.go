package onboarding

import (
	"strconv"

	"github.com/cim/personrt/messages/personv1"
)

// KindName is the cluster kind name of onboarding grains (the grain
// identity is the person id).
const KindName = "onboarding"

// Kind is the kind of an onboarding command: which case of the Command body
// is set. Kinds index the workflow table ([Machine]).
type Kind uint8

// The command kinds, one per onboarding case of [personv1.Command] body.
const (
	KindStart Kind = iota
	KindVerifyIdentity
	KindProvideBasicInfo
	KindAddComponents
	KindAssignLocation
	KindComplete
	KindFail
	KindExpireStep
	numKinds
)

var kindNames = [numKinds]string{
	"StartOnboarding", "VerifyIdentity", "ProvideBasicInfo", "AddComponents",
	"AssignLocation", "CompleteOnboarding", "FailOnboarding", "ExpireOnboardingStep",
}

// String returns the message name of the command body ("VerifyIdentity").
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds returns every command kind in value order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// KindOf returns the kind of cmd's body; false when no body is set or the
// body is not an onboarding command.
func KindOf(cmd *personv1.Command) (Kind, bool) {
	switch cmd.GetBody().(type) {
	case *personv1.Command_StartOnboarding:
		return KindStart, true
	case *personv1.Command_VerifyIdentity:
		return KindVerifyIdentity, true
	case *personv1.Command_ProvideBasicInfo:
		return KindProvideBasicInfo, true
	case *personv1.Command_AddComponents:
		return KindAddComponents, true
	case *personv1.Command_AssignLocation:
		return KindAssignLocation, true
	case *personv1.Command_CompleteOnboarding:
		return KindComplete, true
	case *personv1.Command_FailOnboarding:
		return KindFail, true
	case *personv1.Command_ExpireOnboardingStep:
		return KindExpireStep, true
	default:
		return 0, false
	}
}
