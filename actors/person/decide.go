package person

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/fsm"
	"github.com/cim/personrt/actors/person/attribute"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/actors/person/name"
	"github.com/cim/personrt/messages/personv1"
)

// Limits on free text and client-chosen ids.
const (
	MaxIDLen   = 128  // bytes of command, person, contact and attribute ids
	MaxTextLen = 1000 // bytes of reasons, sources, data-quality fields and issues
)

// Decide validates cmd against s and returns the events that record it, or
// a *personv1.Error naming the broken rule. It is pure: it reads no clock
// (now is used for "not in the future" checks and for recorded_at and
// flagged_at), uses no randomness (ids default to the command id) and
// changes neither s nor cmd. The events share no message with cmd.
//
// Order of checks: the envelope (command_id, person_id, a body), then the
// lifecycle table ([LifecycleMachine], including its guards), then the
// command's own rules.
func Decide(s State, cmd *personv1.Command, now time.Time) ([]*personv1.Event, error) {
	kind, err := checkEnvelope(&s, cmd)
	if err != nil {
		return nil, err
	}
	if _, err := lifecycle.Step(s.lifecycle, kind, cmd); err != nil {
		if errors.Is(err, fsm.ErrNoTransition) {
			return nil, lifecycleReject(s.lifecycle, kind)
		}
		return nil, err
	}
	d := decider{s: &s, cmd: cmd, now: now}
	var ev *personv1.Event
	switch b := cmd.GetBody().(type) {
	case *personv1.Command_CreatePerson:
		ev, err = d.createPerson(b.CreatePerson)
	case *personv1.Command_UpdateName:
		ev, err = d.updateName(b.UpdateName)
	case *personv1.Command_SetBirthDate:
		ev, err = d.setBirthDate(b.SetBirthDate)
	case *personv1.Command_RecordDeath:
		ev, err = d.recordDeath(b.RecordDeath)
	case *personv1.Command_DeactivatePerson:
		ev, err = d.deactivate(b.DeactivatePerson)
	case *personv1.Command_ReactivatePerson:
		ev, err = d.reactivate(b.ReactivatePerson)
	case *personv1.Command_MergePersons:
		ev, err = d.merge(b.MergePersons)
	case *personv1.Command_RecordMergeReceived:
		ev, err = d.mergeReceived(b.RecordMergeReceived)
	case *personv1.Command_ArchivePerson:
		ev, err = d.archive(b.ArchivePerson)
	case *personv1.Command_RecordAttribute:
		ev, err = d.recordAttribute(b.RecordAttribute)
	case *personv1.Command_UpdateAttribute:
		ev, err = d.updateAttribute(b.UpdateAttribute)
	case *personv1.Command_InvalidateAttribute:
		ev, err = d.invalidateAttribute(b.InvalidateAttribute)
	case *personv1.Command_AddContact:
		ev, err = d.addContact(b.AddContact)
	case *personv1.Command_RemoveContact:
		ev, err = d.removeContact(b.RemoveContact)
	case *personv1.Command_VerifyContact:
		ev, err = d.verifyContact(b.VerifyContact)
	case *personv1.Command_NormalizeContact:
		ev, err = d.normalizeContact(b.NormalizeContact)
	case *personv1.Command_FlagDataQuality:
		ev, err = d.flagDataQuality(b.FlagDataQuality)
	}
	if err != nil {
		return nil, err
	}
	return []*personv1.Event{ev}, nil
}

// checkEnvelope validates the command envelope and returns its kind.
func checkEnvelope(s *State, cmd *personv1.Command) (Kind, error) {
	if cmd.GetCommandId() == "" {
		return 0, invalid(RuleCommandID, "the command has no command_id")
	}
	if err := checkID("command_id", cmd.GetCommandId()); err != nil {
		return 0, err
	}
	if cmd.GetPersonId() == "" {
		return 0, invalid(RulePersonID, "the command has no person_id")
	}
	if err := checkID("person_id", cmd.GetPersonId()); err != nil {
		return 0, err
	}
	kind, ok := KindOf(cmd)
	switch {
	case !ok && cmd.GetBody() == nil:
		return 0, invalid(RuleBody, "the command has no body")
	case !ok:
		return 0, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, RuleNotPersonCommand,
			"%s is not a person command (it belongs to another kind)", cmd.TypeName())
	}
	if s.Exists() && cmd.GetPersonId() != s.id {
		return 0, invalid(RulePersonMatch, "the command is for person %s, this is %s", cmd.GetPersonId(), s.id)
	}
	return kind, nil
}

// checkID accepts 1..MaxIDLen bytes without white space or control
// characters.
func checkID(field, id string) error {
	ok := id != "" && len(id) <= MaxIDLen
	for i := 0; ok && i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == 0x7f {
			ok = false
		} else if c >= utf8.RuneSelf {
			ok = strings.IndexFunc(id[i:], func(r rune) bool {
				return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
			}) < 0
			break
		}
	}
	if !ok {
		return invalid(RuleIDInvalid, "%s %q must be 1 to %d bytes without spaces or control characters", field, id, MaxIDLen)
	}
	return nil
}

// checkText trims s and accepts at most MaxTextLen bytes without control
// characters; it returns the trimmed text.
func checkText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxTextLen {
		return "", invalid(RuleTextInvalid, "%s has %d bytes, at most %d allowed", field, len(s), MaxTextLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return "", invalid(RuleTextInvalid, "%s contains control characters", field)
		} else if c >= utf8.RuneSelf {
			if strings.IndexFunc(s[i:], func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
				return "", invalid(RuleTextInvalid, "%s contains control characters", field)
			}
			break
		}
	}
	return s, nil
}

// decider carries the inputs of one Decide call.
type decider struct {
	s   *State
	cmd *personv1.Command
	now time.Time
}

// event wraps an event body in an Event.
func event(body proto.Message) *personv1.Event {
	var e personv1.Event
	switch b := body.(type) {
	case *personv1.PersonCreated:
		e.Body = &personv1.Event_PersonCreated{PersonCreated: b}
	case *personv1.NameUpdated:
		e.Body = &personv1.Event_NameUpdated{NameUpdated: b}
	case *personv1.BirthDateSet:
		e.Body = &personv1.Event_BirthDateSet{BirthDateSet: b}
	case *personv1.DeathRecorded:
		e.Body = &personv1.Event_DeathRecorded{DeathRecorded: b}
	case *personv1.PersonDeactivated:
		e.Body = &personv1.Event_PersonDeactivated{PersonDeactivated: b}
	case *personv1.PersonReactivated:
		e.Body = &personv1.Event_PersonReactivated{PersonReactivated: b}
	case *personv1.PersonMergedInto:
		e.Body = &personv1.Event_PersonMergedInto{PersonMergedInto: b}
	case *personv1.PersonMergeReceived:
		e.Body = &personv1.Event_PersonMergeReceived{PersonMergeReceived: b}
	case *personv1.PersonArchived:
		e.Body = &personv1.Event_PersonArchived{PersonArchived: b}
	case *personv1.AttributeRecorded:
		e.Body = &personv1.Event_AttributeRecorded{AttributeRecorded: b}
	case *personv1.AttributeUpdated:
		e.Body = &personv1.Event_AttributeUpdated{AttributeUpdated: b}
	case *personv1.AttributeInvalidated:
		e.Body = &personv1.Event_AttributeInvalidated{AttributeInvalidated: b}
	case *personv1.ContactAdded:
		e.Body = &personv1.Event_ContactAdded{ContactAdded: b}
	case *personv1.ContactRemoved:
		e.Body = &personv1.Event_ContactRemoved{ContactRemoved: b}
	case *personv1.ContactVerified:
		e.Body = &personv1.Event_ContactVerified{ContactVerified: b}
	case *personv1.ContactNormalized:
		e.Body = &personv1.Event_ContactNormalized{ContactNormalized: b}
	case *personv1.DataQualityFlagged:
		e.Body = &personv1.Event_DataQualityFlagged{DataQualityFlagged: b}
	default:
		panic("person: event of unknown body type")
	}
	return &e
}

// validName normalises and validates a name from a command.
func validName(n *personv1.PersonName) (*personv1.PersonName, error) {
	n = name.Normalize(n)
	if err := name.Validate(n); err != nil {
		return nil, err
	}
	return n, nil
}

// pastDate checks a birth or death date: set, a calendar date, not after
// today.
func (d *decider) pastDate(dt *personv1.Date, required, invalidRule, futureRule, what string) (*personv1.Date, error) {
	switch {
	case dt == nil:
		return nil, invalid(required, "the %s is required", what)
	case !civil.Valid(dt):
		return nil, invalid(invalidRule, "the %s %s is not a calendar date", what, civil.String(dt))
	case civil.After(dt, d.now):
		return nil, invalid(futureRule, "the %s %s is in the future", what, civil.String(dt))
	}
	return civil.Clone(dt), nil
}

func (d *decider) createPerson(b *personv1.CreatePerson) (*personv1.Event, error) {
	n, err := validName(b.GetName())
	if err != nil {
		return nil, err
	}
	var birth *personv1.Date
	if b.GetBirthDate() != nil {
		if birth, err = d.pastDate(b.GetBirthDate(), RuleBirthDateRequired, RuleBirthDateInvalid, RuleBirthDateFuture, "birth date"); err != nil {
			return nil, err
		}
	}
	contacts := make([]*personv1.Contact, 0, len(b.GetContacts()))
	for i, in := range b.GetContacts() {
		c, err := newContact(in, d.cmd.GetCommandId()+"#"+strconv.Itoa(i), contacts)
		if err != nil {
			return nil, err
		}
		if c.GetPrimary() && slices.ContainsFunc(contacts, func(o *personv1.Contact) bool { return o.GetPrimary() && o.GetKind() == c.GetKind() }) {
			return nil, invalid(RuleContactPrimaries, "contacts[%d] is a second primary %s", i, c.GetKind())
		}
		contacts = append(contacts, c)
	}
	source, err := checkText("source", b.GetSource())
	if err != nil {
		return nil, err
	}
	if len(contacts) == 0 {
		contacts = nil
	}
	return event(&personv1.PersonCreated{PersonId: d.cmd.GetPersonId(), Name: n, BirthDate: birth, Contacts: contacts, Source: source}), nil
}

func (d *decider) updateName(b *personv1.UpdateName) (*personv1.Event, error) {
	n, err := validName(b.GetName())
	if err != nil {
		return nil, err
	}
	reason, err := checkText("reason", b.GetReason())
	if err != nil {
		return nil, err
	}
	return event(&personv1.NameUpdated{OldName: d.s.name, NewName: n, ChangeReason: reason}), nil
}

func (d *decider) setBirthDate(b *personv1.SetBirthDate) (*personv1.Event, error) {
	if d.s.birthDate != nil {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleBirthDateImmutable,
			"birth date is immutable once set (it is %s)", civil.String(d.s.birthDate))
	}
	dt, err := d.pastDate(b.GetBirthDate(), RuleBirthDateRequired, RuleBirthDateInvalid, RuleBirthDateFuture, "birth date")
	if err != nil {
		return nil, err
	}
	return event(&personv1.BirthDateSet{BirthDate: dt}), nil
}

func (d *decider) recordDeath(b *personv1.RecordDeath) (*personv1.Event, error) {
	dt, err := d.pastDate(b.GetDateOfDeath(), RuleDeathDateRequired, RuleDeathDateInvalid, RuleDeathDateFuture, "date of death")
	if err != nil {
		return nil, err
	}
	if d.s.birthDate != nil && civil.Compare(dt, d.s.birthDate) < 0 {
		return nil, invalid(RuleDeathBeforeBirth, "the date of death %s is before the birth date %s", civil.String(dt), civil.String(d.s.birthDate))
	}
	return event(&personv1.DeathRecorded{DateOfDeath: dt}), nil
}

func (d *decider) deactivate(b *personv1.DeactivatePerson) (*personv1.Event, error) {
	reason, err := checkText("reason", b.GetReason())
	if err != nil {
		return nil, err
	}
	return event(&personv1.PersonDeactivated{Reason: reason}), nil
}

func (d *decider) reactivate(b *personv1.ReactivatePerson) (*personv1.Event, error) {
	reason, err := checkText("reason", b.GetReason())
	if err != nil {
		return nil, err
	}
	return event(&personv1.PersonReactivated{Reason: reason}), nil
}

func (d *decider) merge(b *personv1.MergePersons) (*personv1.Event, error) {
	target := strings.TrimSpace(b.GetTargetPersonId())
	if err := checkID("target_person_id", target); err != nil {
		return nil, err
	}
	if target == d.s.id {
		return nil, invalid(RuleMergeSelf, "a person cannot be merged into itself")
	}
	return event(&personv1.PersonMergedInto{TargetPersonId: target, Reason: b.GetReason()}), nil
}

func (d *decider) mergeReceived(b *personv1.RecordMergeReceived) (*personv1.Event, error) {
	source := strings.TrimSpace(b.GetSourcePersonId())
	if err := checkID("source_person_id", source); err != nil {
		return nil, err
	}
	if source == d.s.id {
		return nil, invalid(RuleMergeSourceSelf, "a person cannot receive a merge from itself")
	}
	if slices.Contains(d.s.mergedFrom, source) {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleMergeReceived, "person %s was already merged into this one", source)
	}
	return event(&personv1.PersonMergeReceived{SourcePersonId: source, Reason: b.GetReason()}), nil
}

func (d *decider) archive(b *personv1.ArchivePerson) (*personv1.Event, error) {
	reason, err := checkText("reason", b.GetReason())
	if err != nil {
		return nil, err
	}
	return event(&personv1.PersonArchived{Reason: reason}), nil
}

// idOr returns the trimmed client id, or def when it is blank, checked.
func idOr(field, id, def string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		id = def
	}
	return id, checkID(field, id)
}

func (d *decider) recordAttribute(b *personv1.RecordAttribute) (*personv1.Event, error) {
	if b.GetAttribute() == nil {
		return nil, attribute.Validate(nil)
	}
	a := proto.CloneOf(b.GetAttribute())
	id, err := idOr("attribute_id", a.GetAttributeId(), d.cmd.GetCommandId())
	if err != nil {
		return nil, err
	}
	if d.s.attributeIndex(id) >= 0 {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleAttributeDuplicate, "attribute %s already exists", id)
	}
	if a.GetInvalidated() || a.GetInvalidationReason() != "" {
		return nil, invalid(RuleAttributePreset, "a new attribute cannot be invalidated; use InvalidateAttribute")
	}
	if err := attribute.Validate(a); err != nil {
		return nil, err
	}
	a.AttributeId = id
	a.RecordedAt = timestamppb.New(d.now)
	return event(&personv1.AttributeRecorded{Attribute: a}), nil
}

// liveAttribute returns the attribute with id, which must exist and not be
// invalidated.
func (d *decider) liveAttribute(id string) (*personv1.Attribute, error) {
	i := d.s.attributeIndex(id)
	if i < 0 {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, RuleAttributeNotFound, "no attribute %q", id)
	}
	a := d.s.attributes.at(i)
	if a.GetInvalidated() {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleAttributeInvalidated, "attribute %s is invalidated", id)
	}
	return a, nil
}

func (d *decider) updateAttribute(b *personv1.UpdateAttribute) (*personv1.Event, error) {
	old, err := d.liveAttribute(b.GetAttributeId())
	if err != nil {
		return nil, err
	}
	a := proto.CloneOf(old)
	a.Value = proto.CloneOf(b.GetValue())
	if b.GetValidity() != nil {
		a.Validity = proto.CloneOf(b.GetValidity())
	}
	if b.GetProvenance() != nil {
		a.Provenance = proto.CloneOf(b.GetProvenance())
	}
	if err := attribute.Validate(a); err != nil {
		return nil, err
	}
	a.RecordedAt = timestamppb.New(d.now)
	return event(&personv1.AttributeUpdated{AttributeId: old.GetAttributeId(), OldAttribute: old, NewAttribute: a}), nil
}

func (d *decider) invalidateAttribute(b *personv1.InvalidateAttribute) (*personv1.Event, error) {
	old, err := d.liveAttribute(b.GetAttributeId())
	if err != nil {
		return nil, err
	}
	until := civil.Clone(b.GetValidUntil())
	if until == nil {
		until = civil.Of(d.now)
	}
	v := old.GetValidity()
	if err := attribute.ValidateValidity(&personv1.TemporalValidity{ValidFrom: v.GetValidFrom(), ValidUntil: until}); err != nil {
		return nil, err
	}
	if v.GetValidUntil() != nil && civil.Compare(until, v.GetValidUntil()) > 0 {
		return nil, invalid(RuleAttributeExtends, "invalidating on %s would extend the validity that ends %s",
			civil.String(until), civil.String(v.GetValidUntil()))
	}
	reason, err := checkText("reason", b.GetReason())
	if err != nil {
		return nil, err
	}
	return event(&personv1.AttributeInvalidated{AttributeId: old.GetAttributeId(), Reason: reason, ValidUntil: until}), nil
}

// newContact validates a client contact against the existing ones and
// returns the contact to store.
func newContact(in *personv1.ContactInput, defaultID string, existing []*personv1.Contact) (*personv1.Contact, error) {
	if in == nil {
		return nil, invalid(RuleContactRequired, "a contact is required")
	}
	id, err := idOr("contact_id", in.GetContactId(), defaultID)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(existing, func(c *personv1.Contact) bool { return c.GetContactId() == id }) {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleContactIDInUse, "contact %s already exists", id)
	}
	value, err := contact.Normalize(in.GetKind(), in.GetValue(), in.GetDefaultRegion())
	if err != nil {
		return nil, err
	}
	label := strings.TrimSpace(in.GetLabel())
	if err := contact.ValidateLabel(label); err != nil {
		return nil, err
	}
	if err := checkDuplicate(existing, "", in.GetKind(), value); err != nil {
		return nil, err
	}
	return &personv1.Contact{ContactId: id, Kind: in.GetKind(), Value: value, Primary: in.GetPrimary(), Label: label}, nil
}

// checkDuplicate rejects value when a contact other than skipID has the
// same kind and value.
func checkDuplicate(existing []*personv1.Contact, skipID string, kind personv1.ContactKind, value string) error {
	for _, c := range existing {
		if c.GetContactId() != skipID && c.GetKind() == kind && contact.SameValue(kind, c.GetValue(), value) {
			return personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleContactDuplicate, "%s %s is already contact %s", kind, value, c.GetContactId())
		}
	}
	return nil
}

func (d *decider) addContact(b *personv1.AddContact) (*personv1.Event, error) {
	c, err := newContact(b.GetContact(), d.cmd.GetCommandId(), d.s.contacts)
	if err != nil {
		return nil, err
	}
	return event(&personv1.ContactAdded{Contact: c}), nil
}

// existingContact returns the contact with id or a NOT_FOUND rejection.
func (d *decider) existingContact(id string) (*personv1.Contact, error) {
	i := d.s.contactIndex(id)
	if i < 0 {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, RuleContactNotFound, "no contact %q", id)
	}
	return d.s.contacts[i], nil
}

func (d *decider) removeContact(b *personv1.RemoveContact) (*personv1.Event, error) {
	c, err := d.existingContact(b.GetContactId())
	if err != nil {
		return nil, err
	}
	reason, err := checkText("reason", b.GetReason())
	if err != nil {
		return nil, err
	}
	return event(&personv1.ContactRemoved{ContactId: c.GetContactId(), Reason: reason}), nil
}

func (d *decider) verifyContact(b *personv1.VerifyContact) (*personv1.Event, error) {
	c, err := d.existingContact(b.GetContactId())
	if err != nil {
		return nil, err
	}
	if c.GetVerified() {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleContactVerified, "contact %s is already verified", c.GetContactId())
	}
	return event(&personv1.ContactVerified{ContactId: c.GetContactId()}), nil
}

func (d *decider) normalizeContact(b *personv1.NormalizeContact) (*personv1.Event, error) {
	c, err := d.existingContact(b.GetContactId())
	if err != nil {
		return nil, err
	}
	value, err := contact.Normalize(c.GetKind(), c.GetValue(), b.GetDefaultRegion())
	if err != nil {
		return nil, err
	}
	if value == c.GetValue() {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, RuleContactNormalized, "contact %s is already normalised", c.GetContactId())
	}
	if err := checkDuplicate(d.s.contacts, c.GetContactId(), c.GetKind(), value); err != nil {
		return nil, err
	}
	return event(&personv1.ContactNormalized{ContactId: c.GetContactId(), OldValue: c.GetValue(), NewValue: value}), nil
}

func (d *decider) flagDataQuality(b *personv1.FlagDataQuality) (*personv1.Event, error) {
	field, err := checkText("field", b.GetField())
	if err != nil {
		return nil, err
	}
	if field == "" {
		return nil, invalid(RuleQualityField, "a data-quality flag needs the field it is about")
	}
	issue, err := checkText("issue", b.GetIssue())
	if err != nil {
		return nil, err
	}
	if issue == "" {
		return nil, invalid(RuleQualityIssue, "a data-quality flag needs an issue")
	}
	sev := b.GetSeverity()
	if _, ok := personv1.DataQualitySeverity_name[int32(sev)]; !ok || sev == personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_UNSPECIFIED {
		return nil, invalid(RuleQualitySeverity, "severity %d is not INFO, WARNING or ERROR", sev)
	}
	id := d.cmd.GetCommandId()
	if d.s.flags.lastIndex(func(f *personv1.DataQualityFlag) bool { return f.GetFlagId() == id }) >= 0 {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, RuleQualityFlagID, "flag %s already exists", id)
	}
	return event(&personv1.DataQualityFlagged{Flag: &personv1.DataQualityFlag{
		FlagId: id, Field: field, Issue: issue, Severity: sev, FlaggedAt: timestamppb.New(d.now),
	}}), nil
}
