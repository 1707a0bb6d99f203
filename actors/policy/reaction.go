package policy

import (
	"crypto/sha256"
	"time"

	"github.com/google/uuid"

	"github.com/cim/personrt/actors/onboarding"
	"github.com/cim/personrt/messages/personv1"
)

// Grain kinds a reaction's command goes to, and event sources a policy
// reads. KindPerson equals runtime/client.PersonKind.
const (
	KindPerson     = "person"
	KindOnboarding = onboarding.KindName
)

// Reaction is one effect of a policy: exactly one of Command, Notification
// and Timer is set. The reactions of one event are carried out in order;
// the runtime stops at the first that fails and retries them all (each is
// idempotent).
//
// Messages in a Reaction may be shared with the policy's configuration and
// the triggering envelope: treat them as read-only.
type Reaction struct {
	// Policy is the name of the policy that produced it.
	Policy string
	// Target is the grain kind Command goes to ([KindPerson],
	// [KindOnboarding]); its identity is Command.PersonId.
	Target  string
	Command *personv1.Command
	// Notification is published to the notifications stream.
	Notification *Notification
	// Timer arms or cancels a durable timer.
	Timer *Timer
	// Accept lists rejections of Command that mean its effect is already
	// there; the runtime treats them as success.
	Accept []Accepted
}

// Accepted is a rejection that counts as success: a code and, when set, a
// rule that must match too.
type Accepted struct {
	Code personv1.ErrorCode
	Rule string
}

// Accepts reports whether err is a *personv1.Error that r accepts.
func (r Reaction) Accepts(err error) bool {
	e := personv1.AsError(err, "")
	for _, a := range r.Accept {
		if e.GetCode() == a.Code && (a.Rule == "" || e.GetRule() == a.Rule) {
			return true
		}
	}
	return false
}

// Notification is a message for a notification sender.
type Notification struct {
	// Subject is where it is published: "<NotificationSubject>.<personID>".
	Subject string
	// ID is its deterministic id (the Nats-Msg-Id).
	ID string
	// Once publishes it only when Subject holds no message yet (at most one
	// per person, ever); a rejection of that check counts as success.
	Once    bool
	Message *personv1.Notification
}

// Timer arms (or cancels) a durable timer. Arming a Key again replaces the
// earlier timer of that key.
type Timer struct {
	// Key names the timer: "<policy>.<aggregate id>".
	Key string
	// Cancel removes the timer of Key; the fields below are unset.
	Cancel bool
	// At is when it fires; a time in the past fires at once.
	At time.Time
	// Target and Command are sent when it fires.
	Target  string
	Command *personv1.Command
	// IfVersion, when not 0, makes the timer fire only if the last version
	// of the aggregate Target/Command.PersonId is still IfVersion: a newer
	// event has re-armed (or cancelled) it since.
	IfVersion uint64
	// Accept lists rejections of Command that count as success.
	Accept []Accepted
}

// DeriveID returns the deterministic id of the command (or notification)
// number part that policy issues for the event eventID: a UUIDv8 (RFC 9562)
// whose 122 free bits are the first bits of SHA-256(policy, 0, event, 0,
// part), where event is the 16 bytes of eventID when it is a UUID (so the
// input usually fits one SHA-256 block) and its text otherwise.
func DeriveID(policy, eventID, part string) string {
	var buf [192]byte
	b := append(buf[:0], policy...)
	b = append(b, 0)
	if u, err := uuid.Parse(eventID); err == nil && len(eventID) == 36 {
		b = append(b, u[:]...)
	} else {
		b = append(b, 0xff) // never the first byte of the text form of a UUID
		b = append(b, eventID...)
	}
	b = append(b, 0)
	b = append(b, part...)
	sum := sha256.Sum256(b)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}
