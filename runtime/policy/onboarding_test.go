package policy

import (
	"errors"
	"testing"
	"time"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

// onboardingEnv runs every policy with a 1.5s deadline on
// SettingUpComponents and long ones elsewhere.
func onboardingEnv(t *testing.T) *env {
	e := newEnv(t, "")
	e.start(e.config(policies(t, apolicy.Config{OnboardingDeadlines: map[personv1.OnboardingState]time.Duration{
		personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION: time.Hour,
		personv1.OnboardingState_ONBOARDING_STATE_COLLECTING_BASIC_INFO:          time.Hour,
		personv1.OnboardingState_ONBOARDING_STATE_SETTING_UP_COMPONENTS:          1500 * time.Millisecond,
	}})))
	return e
}

// step sends an onboarding command to the workflow of id.
func (e *env) step(id string, body any) error {
	c := &personv1.Command{PersonId: id}
	switch b := body.(type) {
	case *personv1.VerifyIdentity:
		c.Body = &personv1.Command_VerifyIdentity{VerifyIdentity: b}
	case *personv1.ProvideBasicInfo:
		c.Body = &personv1.Command_ProvideBasicInfo{ProvideBasicInfo: b}
	case *personv1.AddComponents:
		c.Body = &personv1.Command_AddComponents{AddComponents: b}
	case *personv1.AssignLocation:
		c.Body = &personv1.Command_AssignLocation{AssignLocation: b}
	case *personv1.CompleteOnboarding:
		c.Body = &personv1.Command_CompleteOnboarding{CompleteOnboarding: b}
	case *personv1.FailOnboarding:
		c.Body = &personv1.Command_FailOnboarding{FailOnboarding: b}
	}
	_, err := e.flows.Execute(e.t.Context(), c)
	return err
}

func (e *env) mustStep(id string, body any) {
	e.t.Helper()
	if err := e.step(id, body); err != nil {
		e.t.Fatalf("%T: %v", body, err)
	}
}

// started creates a person and waits for the Onboarding policy to start
// its workflow.
func (e *env) started(n *personv1.PersonName) string {
	e.t.Helper()
	id := newID()
	e.create(id, n)
	eventually(e.t, 10*time.Second, "onboarding started", func() bool { return e.onboardingOf(id) != nil })
	return id
}

var basicInfo = &personv1.ProvideBasicInfo{Email: "grace@example.com", Phone: "(650) 253-0000", DefaultRegion: "US"}

func TestOnboardingHappyPath(t *testing.T) {
	e := onboardingEnv(t)
	id := e.started(name("Grace", "Hopper"))
	e.mustStep(id, &personv1.VerifyIdentity{IdentityId: "passport-1"})
	e.mustStep(id, basicInfo)
	e.mustStep(id, &personv1.AddComponents{Components: []*personv1.OnboardingComponent{{ComponentType: "badge", Data: `{"floor":3}`}}})
	e.mustStep(id, &personv1.AssignLocation{LocationId: "hq"})
	e.mustStep(id, &personv1.CompleteOnboarding{})
	o := e.onboardingOf(id)
	if o.GetState() != personv1.OnboardingState_ONBOARDING_STATE_COMPLETED || o.GetEmail() != "grace@example.com" || o.GetPhone() != "+16502530000" || o.GetLocationId() != "hq" {
		t.Fatalf("onboarding = %v", o)
	}
	// Completion sends the person its verified contacts.
	eventually(t, 10*time.Second, "the person has the verified contacts", func() bool {
		cs := e.person(id).GetContacts()
		verified := 0
		for _, c := range cs {
			if c.GetVerified() && (c.GetValue() == "grace@example.com" || c.GetValue() == "+16502530000") {
				verified++
			}
		}
		return verified == 2
	})
	eventually(t, 5*time.Second, "the deadline timer cancelled", func() bool {
		ok, err := e.timers.Pending(t.Context(), apolicy.OnboardingDeadlines+"."+id)
		return err == nil && !ok
	})
	// The SettingUpComponents deadline passed long ago for this workflow;
	// it was cancelled, so nothing failed.
	if got := e.onboardingOf(id).GetState(); got != personv1.OnboardingState_ONBOARDING_STATE_COMPLETED {
		t.Errorf("state = %v", got)
	}
}

func TestOnboardingFailurePaths(t *testing.T) {
	e := onboardingEnv(t)
	ctx := t.Context()

	t.Run("explicit failure keeps its reason", func(t *testing.T) {
		id := e.started(name("Alan", "Turing"))
		e.mustStep(id, &personv1.FailOnboarding{Reason: "identity documents expired"})
		o := e.onboardingOf(id)
		if o.GetState() != personv1.OnboardingState_ONBOARDING_STATE_FAILED || o.GetFailureReason() != "identity documents expired" ||
			o.GetFailedIn() != personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION {
			t.Errorf("onboarding = %v", o)
		}
		eventually(t, 5*time.Second, "the deadline timer cancelled", func() bool {
			ok, err := e.timers.Pending(ctx, apolicy.OnboardingDeadlines+"."+id)
			return err == nil && !ok
		})
		if err := e.step(id, &personv1.VerifyIdentity{IdentityId: "x"}); !errors.Is(err, personv1.ErrFailedPrecondition) {
			t.Errorf("step after failure: err = %v, want FAILED_PRECONDITION", err)
		}
	})

	t.Run("deadline exceeded", func(t *testing.T) {
		id := e.started(name("Edsger", "Dijkstra"))
		e.mustStep(id, &personv1.VerifyIdentity{IdentityId: "id-2"})
		e.mustStep(id, basicInfo)
		eventually(t, 10*time.Second, "the SettingUpComponents deadline fails the workflow", func() bool {
			return e.onboardingOf(id).GetState() == personv1.OnboardingState_ONBOARDING_STATE_FAILED
		})
		o := e.onboardingOf(id)
		if o.GetFailureReason() != "deadline exceeded in SettingUpComponents" || o.GetFailedIn() != personv1.OnboardingState_ONBOARDING_STATE_SETTING_UP_COMPONENTS {
			t.Errorf("onboarding = %v", o)
		}
	})

	t.Run("guards and order", func(t *testing.T) {
		id := e.started(name("Barbara", "Liskov"))
		tests := []struct {
			name    string
			body    any
			wantErr error
		}{
			{"out of order", &personv1.AssignLocation{LocationId: "hq"}, personv1.ErrFailedPrecondition},
			{"no identity", &personv1.VerifyIdentity{}, personv1.ErrInvalidArgument},
		}
		for _, tc := range tests {
			if err := e.step(id, tc.body); !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
			}
		}
		e.mustStep(id, &personv1.VerifyIdentity{IdentityId: "id-3"})
		for _, bad := range []*personv1.ProvideBasicInfo{
			{Email: "not an email", Phone: "+16502530000"},
			{Email: "barbara@example.com", Phone: "12"},
		} {
			if err := e.step(id, bad); !errors.Is(err, personv1.ErrInvalidArgument) {
				t.Errorf("basic info %v: err = %v, want INVALID_ARGUMENT", bad, err)
			}
		}
		if got := e.onboardingOf(id).GetState(); got != personv1.OnboardingState_ONBOARDING_STATE_COLLECTING_BASIC_INFO {
			t.Errorf("after rejections the state is %v", got)
		}
	})

	t.Run("completion rejected by the person is parked", func(t *testing.T) {
		id := e.started(name("Donald", "Knuth"))
		for _, b := range []any{&personv1.VerifyIdentity{IdentityId: "id-4"}, basicInfo,
			&personv1.AddComponents{}, &personv1.AssignLocation{LocationId: "hq"}} {
			e.mustStep(id, b)
		}
		if _, err := e.people.Execute(ctx, &personv1.Command{PersonId: id, Body: &personv1.Command_ArchivePerson{ArchivePerson: &personv1.ArchivePerson{Reason: "left"}}}); err != nil {
			t.Fatal(err)
		}
		e.mustStep(id, &personv1.CompleteOnboarding{})
		eventually(t, 10*time.Second, "the completion reaction parked", func() bool {
			entries, err := e.dlq.List(ctx, dlqFilter(apolicy.OnboardingCompletion, id))
			return err == nil && len(entries) == 1
		})
		entries, _ := e.dlq.List(ctx, dlqFilter(apolicy.OnboardingCompletion, id))
		l := entries[0].Letter
		if l.GetCode() != personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION || l.GetRule() != "lifecycle.terminal" || l.GetAttempts() != 1 || l.GetStream() != "ONBOARDING_EVENTS" {
			t.Errorf("dead letter = %v", l)
		}
	})
}
