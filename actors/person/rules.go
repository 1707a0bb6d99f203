package person

// Rule names of the rejections Decide returns itself. Rejections from value
// checks carry the rules of the sub-packages: [name], [contact] and
// [attribute] (for example name.RuleGivenOrFamily, contact.RuleEmailNotBare,
// attribute.RuleValueType).
//
// Each rule always comes with the same code, given after it.
const (
	RuleCommandID     = "command.id_required"        // INVALID_ARGUMENT: empty command_id
	RulePersonID      = "command.person_id_required" // INVALID_ARGUMENT: empty person_id
	RuleBody          = "command.body_required"      // INVALID_ARGUMENT: no body set
	RulePersonMatch   = "command.person_mismatch"    // INVALID_ARGUMENT: person_id is not this person's
	RuleIDInvalid     = "id.invalid"                 // INVALID_ARGUMENT: an id over 128 bytes or with spaces or control characters
	RuleTextInvalid   = "text.invalid"               // INVALID_ARGUMENT: free text too long or with control characters
	RuleNotFound      = "person.not_found"           // NOT_FOUND: any command but CreatePerson on a Draft person
	RuleAlreadyExists = "person.already_exists"      // ALREADY_EXISTS: CreatePerson on an existing person
	RuleTerminal      = "lifecycle.terminal"         // FAILED_PRECONDITION: the person is Deceased, MergedInto or Archived
	RuleNotAllowed    = "lifecycle.not_allowed"      // FAILED_PRECONDITION: the command does not apply in this state

	RuleNotPersonCommand = "command.not_person" // UNIMPLEMENTED: a body of another kind (e.g. StartOnboarding)

	RuleDeactivateReason = "deactivate.reason_required" // INVALID_ARGUMENT: blank reason
	RuleArchiveReason    = "archive.reason_required"    // INVALID_ARGUMENT: blank reason
	RuleMergeTarget      = "merge.target_required"      // INVALID_ARGUMENT: blank target_person_id
	RuleMergeSelf        = "merge.target_is_self"       // INVALID_ARGUMENT: target is the person itself
	RuleMergeReason      = "merge.reason_required"      // INVALID_ARGUMENT: reason unspecified or unknown
	RuleMergeSource      = "merge.source_required"      // INVALID_ARGUMENT: blank source_person_id
	RuleMergeSourceSelf  = "merge.source_is_self"       // INVALID_ARGUMENT: source is the person itself
	RuleMergeReceived    = "merge.already_received"     // ALREADY_EXISTS: that source was merged in before

	RuleBirthDateRequired  = "birth_date.required"     // INVALID_ARGUMENT
	RuleBirthDateInvalid   = "birth_date.invalid"      // INVALID_ARGUMENT: not a calendar date
	RuleBirthDateFuture    = "birth_date.in_future"    // INVALID_ARGUMENT: after today (UTC)
	RuleBirthDateImmutable = "birth_date.immutable"    // FAILED_PRECONDITION: already set
	RuleDeathDateRequired  = "death_date.required"     // INVALID_ARGUMENT
	RuleDeathDateInvalid   = "death_date.invalid"      // INVALID_ARGUMENT: not a calendar date
	RuleDeathDateFuture    = "death_date.in_future"    // INVALID_ARGUMENT: after today (UTC)
	RuleDeathBeforeBirth   = "death_date.before_birth" // INVALID_ARGUMENT: before the birth date

	RuleAttributeDuplicate   = "attribute.duplicate_id"           // ALREADY_EXISTS: attribute id in use
	RuleAttributeNotFound    = "attribute.not_found"              // NOT_FOUND: no attribute with that id
	RuleAttributeInvalidated = "attribute.invalidated"            // FAILED_PRECONDITION: already invalidated
	RuleAttributePreset      = "attribute.invalidation_on_record" // INVALID_ARGUMENT: RecordAttribute with invalidation fields set
	RuleAttributeExtends     = "attribute.invalidation_extends"   // INVALID_ARGUMENT: valid_until later than the current one

	RuleContactRequired   = "contact.required"           // INVALID_ARGUMENT: no contact given
	RuleContactDuplicate  = "contact.duplicate"          // ALREADY_EXISTS: same kind and value present
	RuleContactIDInUse    = "contact.duplicate_id"       // ALREADY_EXISTS: contact id in use
	RuleContactNotFound   = "contact.not_found"          // NOT_FOUND: no contact with that id
	RuleContactVerified   = "contact.already_verified"   // FAILED_PRECONDITION
	RuleContactNormalized = "contact.already_normalized" // FAILED_PRECONDITION: normalising would not change the value
	RuleContactPrimaries  = "contact.primary_conflict"   // INVALID_ARGUMENT: two primaries of one kind in CreatePerson

	RuleQualityField    = "quality.field_required"    // INVALID_ARGUMENT
	RuleQualityIssue    = "quality.issue_required"    // INVALID_ARGUMENT
	RuleQualitySeverity = "quality.severity_required" // INVALID_ARGUMENT: unspecified or unknown
	RuleQualityFlagID   = "quality.duplicate_flag"    // ALREADY_EXISTS: a flag with the command id exists
)
