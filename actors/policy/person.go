package policy

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/messages/personv1"
)

// Templates of the welcome notifications.
const (
	TemplateWelcomeNewPerson = "welcome_new_person"
	TemplateWelcomeEmail     = "welcome_email_added"
)

// Rejections that mean a reaction's effect is already there (or moot).
var (
	acceptFlagged      = []Accepted{{personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, person.RuleQualityFlagID}, {personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, person.RuleTerminal}}
	acceptNormalized   = []Accepted{{personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, person.RuleContactNormalized}, {personv1.ErrorCode_ERROR_CODE_NOT_FOUND, person.RuleContactNotFound}, {personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, person.RuleTerminal}}
	acceptArchived     = []Accepted{{personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, person.RuleTerminal}}
	acceptMergeBooked  = []Accepted{{personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, person.RuleMergeReceived}}
	acceptStarted      = []Accepted{{personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "onboarding.already_started"}}
	acceptContactAdded = []Accepted{{personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, person.RuleContactIDInUse}, {personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, person.RuleContactDuplicate}}
	acceptVerified     = []Accepted{{personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, person.RuleContactVerified}, {personv1.ErrorCode_ERROR_CODE_NOT_FOUND, person.RuleContactNotFound}}
)

// welcome: PersonCreated with an email, or a ContactAdded email → a welcome
// notification, stored at most once per person.
func (s *Set) welcome(out []Reaction, ev *event) []Reaction {
	env := ev.env
	var recipient, template string
	switch b := env.GetEvent().GetBody().(type) {
	case *personv1.Event_PersonCreated:
		for _, c := range b.PersonCreated.GetContacts() {
			if c.GetKind() == personv1.ContactKind_CONTACT_KIND_EMAIL && (recipient == "" || c.GetPrimary()) {
				recipient = c.GetValue()
				if c.GetPrimary() {
					break
				}
			}
		}
		template = TemplateWelcomeNewPerson
	case *personv1.Event_ContactAdded:
		if c := b.ContactAdded.GetContact(); c.GetKind() == personv1.ContactKind_CONTACT_KIND_EMAIL {
			recipient = c.GetValue()
		}
		template = TemplateWelcomeEmail
	}
	if recipient == "" || env.GetPersonId() == "" {
		return out
	}
	x := new(struct {
		n Notification
		m personv1.Notification
	})
	x.m.Template, x.m.Recipient, x.m.PersonId = template, recipient, env.GetPersonId()
	x.m.CorrelationId, x.m.EventId, x.m.Policy = ev.correlation, env.GetEventId(), WelcomeNotification
	x.n = Notification{
		Subject: s.cfg.NotificationSubject + "." + env.GetPersonId(),
		ID:      DeriveID(WelcomeNotification, env.GetEventId(), "welcome"),
		Once:    true,
		Message: &x.m,
	}
	return append(out, Reaction{Policy: WelcomeNotification, Notification: &x.n})
}

// dataQuality flags invalid emails and phones and too short name parts, and
// normalises contacts stored unnormalised.
func (s *Set) dataQuality(out []Reaction, ev *event) []Reaction {
	env := ev.env
	switch b := env.GetEvent().GetBody().(type) {
	case *personv1.Event_PersonCreated:
		out = s.checkName(out, ev, b.PersonCreated.GetName())
		for _, c := range b.PersonCreated.GetContacts() {
			out = s.checkContact(out, ev, c)
		}
	case *personv1.Event_NameUpdated:
		out = s.checkName(out, ev, b.NameUpdated.GetNewName())
	case *personv1.Event_ContactAdded:
		out = s.checkContact(out, ev, b.ContactAdded.GetContact())
	}
	return out
}

func (s *Set) flag(out []Reaction, ev *event, field, issue string, sev personv1.DataQualitySeverity) []Reaction {
	x := new(box[personv1.Command_FlagDataQuality, personv1.FlagDataQuality])
	c := ev.command(&x.c, DataQuality, "flag:"+field, ev.env.GetPersonId())
	x.b.Field, x.b.Issue, x.b.Severity = field, issue, sev
	x.w.FlagDataQuality, c.Body = &x.b, &x.w
	return append(out, Reaction{Policy: DataQuality, Target: KindPerson, Command: c, Accept: acceptFlagged})
}

func (s *Set) checkName(out []Reaction, ev *event, n *personv1.PersonName) []Reaction {
	for i, p := range n.GetGivenNames() {
		if shortPart(p) {
			out = s.flag(out, ev, "name.given_names["+strconv.Itoa(i)+"]", fmt.Sprintf("name part %q is shorter than 2 characters", p), personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING)
		}
	}
	for i, p := range n.GetFamilyNames() {
		if shortPart(p) {
			out = s.flag(out, ev, "name.family_names["+strconv.Itoa(i)+"]", fmt.Sprintf("name part %q is shorter than 2 characters", p), personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING)
		}
	}
	return out
}

// shortPart reports whether a name part has fewer than 2 characters; a
// single Han, Hangul or kana character is a whole name and not short.
func shortPart(p string) bool {
	r, size := utf8.DecodeRuneInString(p)
	switch {
	case size == len(p) && size > 0:
		return !unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana)
	case len(p) == 0:
		return false // an empty part is a validation error of the person, not a quality issue
	}
	return false
}

func (s *Set) checkContact(out []Reaction, ev *event, c *personv1.Contact) []Reaction {
	env := ev.env
	v, id := c.GetValue(), c.GetContactId()
	var (
		norm   string
		err    error
		region string
	)
	switch c.GetKind() {
	case personv1.ContactKind_CONTACT_KIND_EMAIL:
		if normalEmail(v) {
			return out
		}
		norm, err = contact.NormalizeEmail(v)
		if err != nil {
			return s.flag(out, ev, "contacts/"+id, "invalid email: "+personv1.AsError(err, "").GetRule(), personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_ERROR)
		}
	case personv1.ContactKind_CONTACT_KIND_PHONE:
		if e164(v) {
			return out
		}
		region = s.cfg.DefaultRegion
		norm, err = contact.NormalizePhone(v, region)
		if err != nil {
			return s.flag(out, ev, "contacts/"+id, "phone cannot be normalised to E.164: "+personv1.AsError(err, "").GetRule(), personv1.DataQualitySeverity_DATA_QUALITY_SEVERITY_WARNING)
		}
	default:
		return out
	}
	if norm == v || id == "" {
		return out
	}
	x := new(box[personv1.Command_NormalizeContact, personv1.NormalizeContact])
	cmd := ev.command(&x.c, DataQuality, "normalize:"+id, env.GetPersonId())
	x.b.ContactId, x.b.DefaultRegion = id, region
	x.w.NormalizeContact, cmd.Body = &x.b, &x.w
	return append(out, Reaction{Policy: DataQuality, Target: KindPerson, Command: cmd, Accept: acceptNormalized})
}

// e164 reports whether v has the shape of an E.164 number ("+" and 2 to 15
// digits, the first not 0), the form contact.NormalizePhone stores.
func e164(v string) bool {
	if len(v) < 3 || len(v) > 16 || v[0] != '+' || v[1] < '1' || v[1] > '9' {
		return false
	}
	for i := 2; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// normalEmail is a fast path for the common address: it reports true only
// for addresses contact.NormalizeEmail accepts and returns unchanged (a
// dot-atom of ASCII atext before the @, lower-case LDH labels with at least
// one dot after it). Anything else goes to contact.NormalizeEmail.
func normalEmail(v string) bool {
	if len(v) > contact.MaxValueLen {
		return false
	}
	at := -1
	for i := 0; i < len(v); i++ {
		if v[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at <= 0 || at == len(v)-1 {
		return false
	}
	return dotAtom(v[:at], isAtext) && dotAtom(v[at+1:], isLDH) && hasDot(v[at+1:]) && ldhLabels(v[at+1:])
}

// dotAtom reports whether s is non-empty runs of ok bytes separated by
// single dots.
func dotAtom(s string, ok func(byte) bool) bool {
	prevDot := true // no leading dot
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		if !ok(s[i]) {
			return false
		}
		prevDot = false
	}
	return !prevDot
}

func hasDot(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// ldhLabels reports whether no label of s starts or ends with '-'.
func ldhLabels(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && (i == 0 || i == len(s)-1 || s[i-1] == '.' || s[i+1] == '.') {
			return false
		}
	}
	return true
}

func isLDH(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' }

func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~':
		return true
	}
	return false
}

// autoArchive re-arms the person's inactivity timer on every event and
// cancels it when the person reaches a terminal state.
func (s *Set) autoArchive(out []Reaction, ev *event) []Reaction {
	env := ev.env
	id := env.GetPersonId()
	if id == "" || env.GetEvent().GetBody() == nil {
		return out
	}
	key := AutoArchive + "." + id
	switch env.GetEvent().GetBody().(type) {
	case *personv1.Event_PersonArchived, *personv1.Event_DeathRecorded, *personv1.Event_PersonMergedInto:
		return append(out, Reaction{Policy: AutoArchive, Timer: &Timer{Key: key, Cancel: true}})
	case *personv1.Event_PersonCreated, *personv1.Event_NameUpdated, *personv1.Event_BirthDateSet,
		*personv1.Event_PersonDeactivated, *personv1.Event_PersonReactivated, *personv1.Event_PersonMergeReceived,
		*personv1.Event_AttributeRecorded, *personv1.Event_AttributeUpdated, *personv1.Event_AttributeInvalidated,
		*personv1.Event_ContactAdded, *personv1.Event_ContactRemoved, *personv1.Event_ContactVerified,
		*personv1.Event_ContactNormalized, *personv1.Event_DataQualityFlagged:
	default:
		return nil // not a person event
	}
	x := new(struct {
		t Timer
		box[personv1.Command_ArchivePerson, personv1.ArchivePerson]
	})
	cmd := ev.command(&x.c, AutoArchive, "archive", id)
	x.b.Reason = s.archive
	x.w.ArchivePerson, cmd.Body = &x.b, &x.w
	x.t = Timer{
		Key: key, At: env.GetOccurredAt().AsTime().Add(s.cfg.ArchiveAfter),
		Target: KindPerson, Command: cmd, IfVersion: env.GetVersion(), Accept: acceptArchived,
	}
	return append(out, Reaction{Policy: AutoArchive, Timer: &x.t})
}

// onboarding starts the onboarding workflow of a created person.
func (s *Set) onboarding(out []Reaction, ev *event) []Reaction {
	env := ev.env
	if env.GetEvent().GetPersonCreated() == nil || env.GetPersonId() == "" {
		return out
	}
	x := new(box[personv1.Command_StartOnboarding, personv1.StartOnboarding])
	cmd := ev.command(&x.c, Onboarding, "start", env.GetPersonId())
	x.b.Deadlines = s.steps
	x.w.StartOnboarding, cmd.Body = &x.b, &x.w
	return append(out, Reaction{Policy: Onboarding, Target: KindOnboarding, Command: cmd, Accept: acceptStarted})
}

// mergeBookkeeping records on the target of a merge where it came from.
func (s *Set) mergeBookkeeping(out []Reaction, ev *event) []Reaction {
	env := ev.env
	m := env.GetEvent().GetPersonMergedInto()
	if m == nil || m.GetTargetPersonId() == "" || env.GetPersonId() == "" {
		return out
	}
	x := new(box[personv1.Command_RecordMergeReceived, personv1.RecordMergeReceived])
	cmd := ev.command(&x.c, MergeBookkeeping, "merge-received", m.GetTargetPersonId())
	x.b.SourcePersonId, x.b.Reason = env.GetPersonId(), m.GetReason()
	x.w.RecordMergeReceived, cmd.Body = &x.b, &x.w
	return append(out, Reaction{Policy: MergeBookkeeping, Target: KindPerson, Command: cmd, Accept: acceptMergeBooked})
}
