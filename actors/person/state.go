package person

import (
	"slices"
	"time"

	"github.com/cim/personrt/actors/person/attribute"
	"github.com/cim/personrt/messages/personv1"
)

// State is the folded state of one person. It is a value: [Apply] returns
// a new State and never changes one a caller holds. The zero value is a
// Draft person that does not exist yet.
//
// Messages returned by the accessors are shared with the State and with
// the events it was folded from: treat them as read-only (proto.Clone
// before changing one). Slices returned are fresh copies.
type State struct {
	id           string
	version      uint64
	lifecycle    personv1.LifecycleState
	name         *personv1.PersonName
	birthDate    *personv1.Date
	deathDate    *personv1.Date
	contacts     []*personv1.Contact
	attributes   seq[*personv1.Attribute]
	source       string
	statusReason string
	mergedInto   string
	mergeReason  personv1.MergeReason
	mergedFrom   []string
	flags        seq[*personv1.DataQualityFlag]
	createdAt    time.Time
	updatedAt    time.Time
}

// ID returns the person id ("" while Draft).
func (s State) ID() string { return s.id }

// Version returns the number of events folded into s: the per-person
// sequence of the last applied event, 0 for Draft.
func (s State) Version() uint64 { return s.version }

// Lifecycle returns the lifecycle state.
func (s State) Lifecycle() personv1.LifecycleState { return s.lifecycle }

// Exists reports whether the person was created (the state is not Draft).
func (s State) Exists() bool { return s.lifecycle != draft }

// Terminal reports whether the person is Archived, Deceased or MergedInto:
// no command is accepted any more.
func (s State) Terminal() bool { return lifecycle.Terminal(s.lifecycle) }

// Name returns the legal name (nil while Draft).
func (s State) Name() *personv1.PersonName { return s.name }

// BirthDate returns the birth date, or nil when unknown.
func (s State) BirthDate() *personv1.Date { return s.birthDate }

// DeathDate returns the date of death, or nil.
func (s State) DeathDate() *personv1.Date { return s.deathDate }

// Source returns the system or channel that created the person.
func (s State) Source() string { return s.source }

// StatusReason returns the reason of the last deactivation, reactivation
// or archival.
func (s State) StatusReason() string { return s.statusReason }

// MergedInto returns the person this one was merged into and why; "" when
// not merged.
func (s State) MergedInto() (string, personv1.MergeReason) { return s.mergedInto, s.mergeReason }

// MergedFrom returns the ids of the persons merged into this one, in order.
func (s State) MergedFrom() []string { return slices.Clone(s.mergedFrom) }

// Contacts returns the contacts in the order they were added.
func (s State) Contacts() []*personv1.Contact { return slices.Clone(s.contacts) }

// Contact returns the contact with id.
func (s State) Contact(id string) (*personv1.Contact, bool) {
	i := s.contactIndex(id)
	if i < 0 {
		return nil, false
	}
	return s.contacts[i], true
}

// PrimaryContact returns the primary contact of kind, if any.
func (s State) PrimaryContact(kind personv1.ContactKind) (*personv1.Contact, bool) {
	for _, c := range s.contacts {
		if c.GetKind() == kind && c.GetPrimary() {
			return c, true
		}
	}
	return nil, false
}

// Attributes returns every attribute, invalidated ones included, in the
// order they were recorded.
func (s State) Attributes() []*personv1.Attribute { return s.attributes.slice() }

// Attribute returns the attribute with id.
func (s State) Attribute(id string) (*personv1.Attribute, bool) {
	i := s.attributeIndex(id)
	if i < 0 {
		return nil, false
	}
	return s.attributes.at(i), true
}

// AttributesValidOn returns the attributes that held on date d (validity
// bounds inclusive; see [attribute.ValidOn]), optionally only those of
// type t (pass ATTRIBUTE_TYPE_UNSPECIFIED for all), in recording order.
func (s State) AttributesValidOn(d *personv1.Date, t personv1.AttributeType) []*personv1.Attribute {
	var out []*personv1.Attribute
	for a := range s.attributes.all {
		if (t == personv1.AttributeType_ATTRIBUTE_TYPE_UNSPECIFIED || a.GetType() == t) && attribute.ValidOn(a, d) {
			out = append(out, a)
		}
	}
	return out
}

// QualityFlags returns the data-quality flags in the order they were
// raised.
func (s State) QualityFlags() []*personv1.DataQualityFlag { return s.flags.slice() }

// CreatedAt returns occurred_at of the PersonCreated event.
func (s State) CreatedAt() time.Time { return s.createdAt }

// UpdatedAt returns occurred_at of the last applied event.
func (s State) UpdatedAt() time.Time { return s.updatedAt }

// contactIndex returns the index of the contact with id, or -1.
func (s State) contactIndex(id string) int {
	for i := len(s.contacts) - 1; i >= 0; i-- {
		if s.contacts[i].GetContactId() == id {
			return i
		}
	}
	return -1
}

// attributeIndex returns the index of the attribute with id, or -1. It
// searches from the newest: recent attributes are the ones updated most.
func (s State) attributeIndex(id string) int {
	return s.attributes.lastIndex(func(a *personv1.Attribute) bool { return a.GetAttributeId() == id })
}
