package policy

import (
	"github.com/cim/personrt/actors/onboarding"
	"github.com/cim/personrt/messages/personv1"
)

// onboardingDeadlines arms the timer of the state an onboarding event
// enters, or cancels the timer when that state has no deadline or ends the
// workflow.
func (s *Set) onboardingDeadlines(out []Reaction, ev *event) []Reaction {
	env := ev.env
	st, deadline, ok := onboarding.Entered(env.GetEvent())
	id := env.GetPersonId()
	if !ok || id == "" {
		return out
	}
	key := OnboardingDeadlines + "." + id
	if deadline == nil {
		if env.GetVersion() <= 1 {
			return nil // nothing was armed before the first event
		}
		return append(out, Reaction{Policy: OnboardingDeadlines, Timer: &Timer{Key: key, Cancel: true}})
	}
	x := new(box[personv1.Command_ExpireOnboardingStep, personv1.ExpireOnboardingStep])
	cmd := ev.command(&x.c, OnboardingDeadlines, "expire", id)
	x.b.State = st
	x.w.ExpireOnboardingStep, cmd.Body = &x.b, &x.w
	return append(out, Reaction{Policy: OnboardingDeadlines, Timer: &Timer{
		Key: key, At: deadline.AsTime(), Target: KindOnboarding, Command: cmd, IfVersion: env.GetVersion(),
	}})
}

// onboardingCompletion sends the person the verified contacts of a
// completed onboarding: AddContact then VerifyContact of the new contact,
// for the email and for the phone. The contact id is the AddContact command
// id. A value the person already has is not added again and that existing
// contact is left as it is (Accept).
func (s *Set) onboardingCompletion(out []Reaction, ev *event) []Reaction {
	env := ev.env
	done := env.GetEvent().GetOnboardingCompleted()
	id := env.GetPersonId()
	if done == nil || id == "" {
		return out
	}
	for _, c := range [...]struct {
		part, value string
		kind        personv1.ContactKind
	}{
		{"email", done.GetEmail(), personv1.ContactKind_CONTACT_KIND_EMAIL},
		{"phone", done.GetPhone(), personv1.ContactKind_CONTACT_KIND_PHONE},
	} {
		if c.value == "" {
			continue
		}
		a := new(box[personv1.Command_AddContact, personv1.AddContact])
		add := ev.command(&a.c, OnboardingCompletion, "add-"+c.part, id)
		a.b.Contact = &personv1.ContactInput{Kind: c.kind, Value: c.value, Label: "onboarding"}
		a.w.AddContact, add.Body = &a.b, &a.w
		v := new(box[personv1.Command_VerifyContact, personv1.VerifyContact])
		verify := ev.command(&v.c, OnboardingCompletion, "verify-"+c.part, id)
		v.b.ContactId = add.GetCommandId()
		v.w.VerifyContact, verify.Body = &v.b, &v.w
		out = append(out,
			Reaction{Policy: OnboardingCompletion, Target: KindPerson, Command: add, Accept: acceptContactAdded},
			Reaction{Policy: OnboardingCompletion, Target: KindPerson, Command: verify, Accept: acceptVerified})
	}
	return out
}
