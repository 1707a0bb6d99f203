package person

import (
	"strings"

	"github.com/cim/personrt/actors/fsm"
	"github.com/cim/personrt/messages/personv1"
)

// Machine is the type of the person lifecycle machine: lifecycle states,
// command kinds, and the command as guard input.
type Machine = fsm.Machine[personv1.LifecycleState, Kind, *personv1.Command]

// Lifecycle states, shortened.
const (
	draft       = personv1.LifecycleState_LIFECYCLE_STATE_DRAFT
	active      = personv1.LifecycleState_LIFECYCLE_STATE_ACTIVE
	deactivated = personv1.LifecycleState_LIFECYCLE_STATE_DEACTIVATED
	archived    = personv1.LifecycleState_LIFECYCLE_STATE_ARCHIVED
	deceased    = personv1.LifecycleState_LIFECYCLE_STATE_DECEASED
	mergedInto  = personv1.LifecycleState_LIFECYCLE_STATE_MERGED_INTO
)

var lifecycle = fsm.MustNew(lifecycleSpec())

// LifecycleMachine returns the lifecycle table that [Decide] runs. It is
// immutable; tests and docs walk it.
func LifecycleMachine() *Machine { return lifecycle }

func invalid(rule, format string, args ...any) *personv1.Error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, rule, format, args...)
}

// Guards of the lifecycle rows. Each returns INVALID_ARGUMENT with its own
// name as the rule.
var (
	guardDeactivateReason = fsm.Guard[*personv1.Command]{Name: RuleDeactivateReason, Check: func(c *personv1.Command) error {
		if blank(c.GetDeactivatePerson().GetReason()) {
			return invalid(RuleDeactivateReason, "a deactivation needs a reason")
		}
		return nil
	}}
	guardArchiveReason = fsm.Guard[*personv1.Command]{Name: RuleArchiveReason, Check: func(c *personv1.Command) error {
		if blank(c.GetArchivePerson().GetReason()) {
			return invalid(RuleArchiveReason, "archiving needs a reason")
		}
		return nil
	}}
	guardMergeTarget = fsm.Guard[*personv1.Command]{Name: RuleMergeTarget, Check: func(c *personv1.Command) error {
		if blank(c.GetMergePersons().GetTargetPersonId()) {
			return invalid(RuleMergeTarget, "a merge needs a target person")
		}
		return nil
	}}
	guardMergeSelf = fsm.Guard[*personv1.Command]{Name: RuleMergeSelf, Check: func(c *personv1.Command) error {
		if c.GetMergePersons().GetTargetPersonId() == c.GetPersonId() {
			return invalid(RuleMergeSelf, "a person cannot be merged into itself")
		}
		return nil
	}}
	guardMergeReason = fsm.Guard[*personv1.Command]{Name: RuleMergeReason, Check: func(c *personv1.Command) error {
		return checkMergeReason(c.GetMergePersons().GetReason())
	}}
	guardMergeSource = fsm.Guard[*personv1.Command]{Name: RuleMergeSource, Check: func(c *personv1.Command) error {
		if blank(c.GetRecordMergeReceived().GetSourcePersonId()) {
			return invalid(RuleMergeSource, "a received merge needs the source person")
		}
		return nil
	}}
	guardMergeSourceSelf = fsm.Guard[*personv1.Command]{Name: RuleMergeSourceSelf, Check: func(c *personv1.Command) error {
		if c.GetRecordMergeReceived().GetSourcePersonId() == c.GetPersonId() {
			return invalid(RuleMergeSourceSelf, "a person cannot receive a merge from itself")
		}
		return nil
	}}
	guardMergeReceivedReason = fsm.Guard[*personv1.Command]{Name: RuleMergeReason, Check: func(c *personv1.Command) error {
		return checkMergeReason(c.GetRecordMergeReceived().GetReason())
	}}
)

func checkMergeReason(r personv1.MergeReason) error {
	if _, ok := personv1.MergeReason_name[int32(r)]; !ok || r == personv1.MergeReason_MERGE_REASON_UNSPECIFIED {
		return invalid(RuleMergeReason, "merge reason %d is not one of DuplicateIdentity, DataQualityIssue, UserRequested, PolicyDetermined", r)
	}
	return nil
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func lifecycleSpec() fsm.Spec[personv1.LifecycleState, Kind, *personv1.Command] {
	type row = fsm.Transition[personv1.LifecycleState, Kind, *personv1.Command]
	type guards = []fsm.Guard[*personv1.Command]
	from := func(s ...personv1.LifecycleState) []personv1.LifecycleState { return s }
	kinds := make([]fsm.Kind[Kind], numKinds)
	for k := range numKinds {
		kinds[k] = fsm.Kind[Kind]{Value: k, Name: k.String()}
	}
	return fsm.Spec[personv1.LifecycleState, Kind, *personv1.Command]{
		Name: "lifecycle",
		States: []fsm.State[personv1.LifecycleState]{
			{Value: draft, Name: "Draft", Doc: "the person does not exist (yet); the zero State"},
			{Value: active, Name: "Active", Doc: "exists and accepts every change"},
			{Value: deactivated, Name: "Deactivated", Doc: "suspended; can be reactivated, archived or recorded deceased"},
			{Value: archived, Name: "Archived", Terminal: true, Doc: "retired from use"},
			{Value: deceased, Name: "Deceased", Terminal: true, Doc: "a date of death is recorded"},
			{Value: mergedInto, Name: "MergedInto", Terminal: true, Doc: "merged into another person, which carries on"},
		},
		Kinds: kinds,
		Transitions: []row{
			{From: from(draft), On: KindCreatePerson, To: active},
			{From: from(active), On: KindUpdateName, Stay: true},
			{From: from(active, deactivated), On: KindSetBirthDate, Stay: true},
			{From: from(active, deactivated), On: KindRecordDeath, To: deceased},
			{From: from(active), On: KindDeactivatePerson, To: deactivated, Guards: guards{guardDeactivateReason}},
			{From: from(deactivated), On: KindReactivatePerson, To: active},
			{From: from(active), On: KindMergePersons, To: mergedInto, Guards: guards{guardMergeTarget, guardMergeSelf, guardMergeReason}},
			{From: from(active, deactivated), On: KindArchivePerson, To: archived, Guards: guards{guardArchiveReason}},
			{From: from(active), On: KindRecordAttribute, Stay: true},
			{From: from(active), On: KindUpdateAttribute, Stay: true},
			{From: from(active), On: KindInvalidateAttribute, Stay: true},
			{From: from(active), On: KindAddContact, Stay: true},
			{From: from(active), On: KindRemoveContact, Stay: true},
			{From: from(active), On: KindVerifyContact, Stay: true},
			{From: from(active), On: KindRecordMergeReceived, Stay: true, Guards: guards{guardMergeSource, guardMergeSourceSelf, guardMergeReceivedReason}},
			{From: from(active, deactivated), On: KindNormalizeContact, Stay: true},
			{From: from(active, deactivated), On: KindFlagDataQuality, Stay: true},
		},
	}
}

// lifecycleReject is the rejection of a command kind the table has no row
// for in state from:
//   - Draft: NOT_FOUND [person.not_found] (the person does not exist);
//   - CreatePerson on any existing person: ALREADY_EXISTS [person.already_exists];
//   - a terminal state: FAILED_PRECONDITION [lifecycle.terminal], naming it;
//   - otherwise: FAILED_PRECONDITION [lifecycle.not_allowed].
func lifecycleReject(from personv1.LifecycleState, k Kind) *personv1.Error {
	name := lifecycle.StateName(from)
	switch {
	case from == draft:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, RuleNotFound, "%s: the person does not exist", k)
	case k == KindCreatePerson:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleAlreadyExists, "the person already exists (%s)", name)
	case lifecycle.Terminal(from):
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleTerminal, "person is %s: %s is not allowed", name, k)
	default:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleNotAllowed, "%s is not allowed while the person is %s", k, name)
	}
}
