package person

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
)

// ErrBrokenInvariant is the error [Apply] panics with (wrapped, as the
// panic value) when a stored event cannot follow the state: a version gap,
// an event without a body, an event for another person, an event before
// PersonCreated or a second PersonCreated, or a reference to a contact or
// attribute that does not exist. A stored event cannot be wrong, so this is
// a bug (or a corrupt stream); the runtime's recover turns it into
// INTERNAL.
var ErrBrokenInvariant = errors.New("person: broken invariant")

// Apply folds one stored event into s and returns the new state; its
// version is e.Version. Apply is pure and never changes s or anything s
// shares (slices are copied before they change; changed messages are new
// copies). The new state keeps references to messages inside e: do not
// change e afterwards.
//
// Apply does not re-check the lifecycle table or the command rules: Decide
// did when the event was made, and events upcast from older schemas must
// stay readable. It panics with [ErrBrokenInvariant] when the event cannot
// follow s at all.
func Apply(s State, e *personv1.EventEnvelope) State {
	if e == nil {
		panic(fmt.Errorf("%w: nil event", ErrBrokenInvariant))
	}
	if e.GetVersion() != s.version+1 {
		broken(e, "version %d does not follow %d", e.GetVersion(), s.version)
	}
	if _, ok := e.GetEvent().GetBody().(*personv1.Event_PersonCreated); !ok {
		if !s.Exists() {
			broken(e, "the person was not created")
		}
		if e.GetPersonId() != "" && e.GetPersonId() != s.id {
			broken(e, "the event is for person %s", s.id)
		}
	}
	switch b := e.GetEvent().GetBody().(type) {
	case *personv1.Event_PersonCreated:
		s = applyCreated(s, e, b.PersonCreated)
	case *personv1.Event_NameUpdated:
		s.name = b.NameUpdated.GetNewName()
	case *personv1.Event_BirthDateSet:
		s.birthDate = b.BirthDateSet.GetBirthDate()
	case *personv1.Event_DeathRecorded:
		s.deathDate = b.DeathRecorded.GetDateOfDeath()
		s.lifecycle = deceased
	case *personv1.Event_PersonDeactivated:
		s.lifecycle, s.statusReason = deactivated, b.PersonDeactivated.GetReason()
	case *personv1.Event_PersonReactivated:
		s.lifecycle, s.statusReason = active, b.PersonReactivated.GetReason()
	case *personv1.Event_PersonArchived:
		s.lifecycle, s.statusReason = archived, b.PersonArchived.GetReason()
	case *personv1.Event_PersonMergedInto:
		s.lifecycle = mergedInto
		s.mergedInto, s.mergeReason = b.PersonMergedInto.GetTargetPersonId(), b.PersonMergedInto.GetReason()
	case *personv1.Event_PersonMergeReceived:
		s.mergedFrom = appended(s.mergedFrom, b.PersonMergeReceived.GetSourcePersonId())
	case *personv1.Event_AttributeRecorded:
		a := b.AttributeRecorded.GetAttribute()
		if a == nil || s.attributeIndex(a.GetAttributeId()) >= 0 {
			broken(e, "attribute %q is missing or already exists", a.GetAttributeId())
		}
		s.attributes = s.attributes.with(a)
	case *personv1.Event_AttributeUpdated:
		i := mustIndex(e, "attribute", b.AttributeUpdated.GetAttributeId(), s.attributeIndex)
		if b.AttributeUpdated.GetNewAttribute() == nil {
			broken(e, "attribute update without the new attribute")
		}
		s.attributes = s.attributes.set(i, b.AttributeUpdated.GetNewAttribute())
	case *personv1.Event_AttributeInvalidated:
		ev := b.AttributeInvalidated
		i := mustIndex(e, "attribute", ev.GetAttributeId(), s.attributeIndex)
		s.attributes = s.attributes.set(i, invalidatedAttribute(s.attributes.at(i), ev))
	case *personv1.Event_ContactAdded:
		s.contacts = withContact(e, s.contacts, b.ContactAdded.GetContact())
	case *personv1.Event_ContactRemoved:
		i := mustIndex(e, "contact", b.ContactRemoved.GetContactId(), s.contactIndex)
		s.contacts = slices.Delete(slices.Clone(s.contacts), i, i+1)
	case *personv1.Event_ContactVerified:
		i := mustIndex(e, "contact", b.ContactVerified.GetContactId(), s.contactIndex)
		c := copyContact(s.contacts[i])
		c.Verified = true
		s.contacts = replaced(s.contacts, i, c)
	case *personv1.Event_ContactNormalized:
		i := mustIndex(e, "contact", b.ContactNormalized.GetContactId(), s.contactIndex)
		c := copyContact(s.contacts[i])
		c.Value = b.ContactNormalized.GetNewValue()
		s.contacts = replaced(s.contacts, i, c)
	case *personv1.Event_DataQualityFlagged:
		if b.DataQualityFlagged.GetFlag() == nil {
			broken(e, "data-quality event without a flag")
		}
		s.flags = s.flags.with(b.DataQualityFlagged.GetFlag())
	default:
		broken(e, "no or unknown event body")
	}
	s.version = e.GetVersion()
	if e.GetOccurredAt() != nil {
		s.updatedAt = e.GetOccurredAt().AsTime()
	}
	return s
}

// timeOf converts a timestamp, nil to the zero time.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func broken(e *personv1.EventEnvelope, format string, args ...any) {
	panic(fmt.Errorf("%w: person %s event %s v%d (%s): %s", ErrBrokenInvariant,
		e.GetPersonId(), e.GetEventId(), e.GetVersion(), e.GetEvent().TypeName(), fmt.Sprintf(format, args...)))
}

func mustIndex(e *personv1.EventEnvelope, what, id string, index func(string) int) int {
	i := index(id)
	if i < 0 {
		broken(e, "no %s %q", what, id)
	}
	return i
}

func applyCreated(s State, e *personv1.EventEnvelope, b *personv1.PersonCreated) State {
	if s.Exists() {
		broken(e, "the person already exists")
	}
	id := b.GetPersonId()
	switch {
	case id == "":
		id = e.GetPersonId()
	case e.GetPersonId() != "" && e.GetPersonId() != id:
		broken(e, "PersonCreated for %s in the stream of %s", id, e.GetPersonId())
	}
	if id == "" {
		broken(e, "PersonCreated without a person id")
	}
	var contacts []*personv1.Contact
	for _, c := range b.GetContacts() {
		contacts = withContact(e, contacts, c)
	}
	return State{
		id:        id,
		lifecycle: active,
		name:      b.GetName(),
		birthDate: b.GetBirthDate(),
		contacts:  contacts,
		source:    b.GetSource(),
		createdAt: timeOf(e.GetOccurredAt()),
	}
}

// withContact returns contacts plus c; a primary c demotes the previous
// primary of its kind (a copy is stored, the old message is untouched).
func withContact(e *personv1.EventEnvelope, contacts []*personv1.Contact, c *personv1.Contact) []*personv1.Contact {
	if c == nil || slices.ContainsFunc(contacts, func(o *personv1.Contact) bool { return o.GetContactId() == c.GetContactId() }) {
		broken(e, "contact %q is missing or already exists", c.GetContactId())
	}
	out := make([]*personv1.Contact, len(contacts), len(contacts)+1)
	copy(out, contacts)
	if c.GetPrimary() {
		for i, o := range out {
			if o.GetPrimary() && o.GetKind() == c.GetKind() {
				demoted := copyContact(o)
				demoted.Primary = false
				out[i] = demoted
			}
		}
	}
	return append(out, c)
}

func copyContact(c *personv1.Contact) *personv1.Contact {
	return &personv1.Contact{
		ContactId: c.GetContactId(), Kind: c.GetKind(), Value: c.GetValue(),
		Primary: c.GetPrimary(), Verified: c.GetVerified(), Label: c.GetLabel(),
	}
}

// invalidatedAttribute returns a copy of a marked invalidated, valid until
// ev's date (or its own end when the event has none).
func invalidatedAttribute(a *personv1.Attribute, ev *personv1.AttributeInvalidated) *personv1.Attribute {
	until := ev.GetValidUntil()
	if until == nil {
		until = a.GetValidity().GetValidUntil()
	}
	// One allocation for both messages.
	m := &struct {
		a personv1.Attribute
		v personv1.TemporalValidity
	}{}
	m.v.ValidFrom, m.v.ValidUntil = a.GetValidity().GetValidFrom(), until
	m.a.AttributeId, m.a.Type, m.a.Custom, m.a.Value = a.GetAttributeId(), a.GetType(), a.GetCustom(), a.GetValue()
	m.a.Validity, m.a.Provenance, m.a.RecordedAt = &m.v, a.GetProvenance(), a.GetRecordedAt()
	m.a.Invalidated, m.a.InvalidationReason = true, ev.GetReason()
	return &m.a
}

// appended returns a new slice holding s and v; s is not changed, and no
// other State shares the result's backing array.
func appended[T any](s []T, v T) []T {
	out := make([]T, len(s)+1)
	copy(out, s)
	out[len(s)] = v
	return out
}

// replaced returns a copy of s with s[i] = v.
func replaced[T any](s []T, i int, v T) []T {
	out := slices.Clone(s)
	out[i] = v
	return out
}
