package onboarding

// Rule names of the rejections [Decide] returns. Contact values are checked
// by actors/person/contact and carry its rules (contact.email_invalid, …).
// Each rule always comes with the code given after it.
const (
	RuleCommandID      = "command.id_required"        // INVALID_ARGUMENT: empty command_id
	RulePersonID       = "command.person_id_required" // INVALID_ARGUMENT: empty person_id
	RuleBody           = "command.body_required"      // INVALID_ARGUMENT: no body set
	RulePersonMatch    = "command.person_mismatch"    // INVALID_ARGUMENT: person_id is not this workflow's
	RuleNotOnboarding  = "command.not_onboarding"     // UNIMPLEMENTED: a body of another kind (a person command)
	RuleNotStarted     = "onboarding.not_started"     // FAILED_PRECONDITION: a step before StartOnboarding
	RuleAlreadyStarted = "onboarding.already_started" // ALREADY_EXISTS: a second StartOnboarding
	RuleTerminal       = "onboarding.terminal"        // FAILED_PRECONDITION: the workflow is Completed or Failed
	RuleOutOfOrder     = "onboarding.out_of_order"    // FAILED_PRECONDITION: the step does not follow the current state

	RuleDeadlineInvalid = "onboarding.deadline_invalid"  // INVALID_ARGUMENT: unknown or terminal state, repeated state, timeout not positive
	RuleIdentityID      = "onboarding.identity_required" // INVALID_ARGUMENT: blank or malformed identity id
	RuleComponent       = "onboarding.component_invalid" // INVALID_ARGUMENT: component without type, or data that is not JSON
	RuleLocationID      = "onboarding.location_required" // INVALID_ARGUMENT: blank or malformed location id
	RuleFailReason      = "onboarding.reason_required"   // INVALID_ARGUMENT: blank failure reason
	RuleTextInvalid     = "text.invalid"                 // INVALID_ARGUMENT: free text or id too long or with control characters
)
