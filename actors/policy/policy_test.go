package policy_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

const (
	pid     = "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6"
	target  = "0190f0d2-7a1b-7c3d-8e4f-000000000002"
	eventID = "0190f0d6-6666-7000-8000-000000000010"
)

var (
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(time.Minute)
)

func env(version uint64, body any) *personv1.EventEnvelope {
	e := &personv1.Event{}
	switch b := body.(type) {
	case *personv1.PersonCreated:
		e.Body = &personv1.Event_PersonCreated{PersonCreated: b}
	case *personv1.NameUpdated:
		e.Body = &personv1.Event_NameUpdated{NameUpdated: b}
	case *personv1.ContactAdded:
		e.Body = &personv1.Event_ContactAdded{ContactAdded: b}
	case *personv1.PersonArchived:
		e.Body = &personv1.Event_PersonArchived{PersonArchived: b}
	case *personv1.PersonMergedInto:
		e.Body = &personv1.Event_PersonMergedInto{PersonMergedInto: b}
	case *personv1.PersonDeactivated:
		e.Body = &personv1.Event_PersonDeactivated{PersonDeactivated: b}
	case *personv1.OnboardingStarted:
		e.Body = &personv1.Event_OnboardingStarted{OnboardingStarted: b}
	case *personv1.IdentityVerified:
		e.Body = &personv1.Event_IdentityVerified{IdentityVerified: b}
	case *personv1.LocationAssigned:
		e.Body = &personv1.Event_LocationAssigned{LocationAssigned: b}
	case *personv1.OnboardingCompleted:
		e.Body = &personv1.Event_OnboardingCompleted{OnboardingCompleted: b}
	case *personv1.OnboardingFailed:
		e.Body = &personv1.Event_OnboardingFailed{OnboardingFailed: b}
	case nil:
	default:
		panic("env: unknown body")
	}
	return &personv1.EventEnvelope{
		EventId: eventID, PersonId: pid, Version: version, Type: e.TypeName(), SchemaVersion: 1,
		OccurredAt: timestamppb.New(t0), CorrelationId: "corr-1", CausationId: "cmd-1", Actor: "user:test", Event: e,
	}
}

func name(given, family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{given}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

func email(id, v string, primary bool) *personv1.Contact {
	return &personv1.Contact{ContactId: id, Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: v, Primary: primary}
}

func phone(id, v string) *personv1.Contact {
	return &personv1.Contact{ContactId: id, Kind: personv1.ContactKind_CONTACT_KIND_PHONE, Value: v}
}

func newSet(t *testing.T, cfg policy.Config) *policy.Set {
	t.Helper()
	s, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// describe renders a reaction compactly for comparison.
func describe(r policy.Reaction) string {
	switch {
	case r.Command != nil:
		return r.Target + " " + r.Command.TypeName() + " " + bodyText(r.Command)
	case r.Notification != nil:
		m := r.Notification.Message
		return "notify " + r.Notification.Subject + " " + m.GetTemplate() + " " + m.GetRecipient()
	case r.Timer != nil && r.Timer.Cancel:
		return "cancel " + r.Timer.Key
	case r.Timer != nil:
		return "timer " + r.Timer.Key + " @" + r.Timer.At.Format(time.RFC3339) + " " + r.Timer.Target + " " + r.Timer.Command.TypeName() + " " + bodyText(r.Timer.Command)
	}
	return "?"
}

func bodyText(c *personv1.Command) string {
	switch b := c.GetBody().(type) {
	case *personv1.Command_FlagDataQuality:
		return b.FlagDataQuality.GetField() + ": " + b.FlagDataQuality.GetIssue()
	case *personv1.Command_NormalizeContact:
		return b.NormalizeContact.GetContactId() + " " + b.NormalizeContact.GetDefaultRegion()
	case *personv1.Command_ArchivePerson:
		return b.ArchivePerson.GetReason()
	case *personv1.Command_RecordMergeReceived:
		return c.GetPersonId() + "<-" + b.RecordMergeReceived.GetSourcePersonId()
	case *personv1.Command_ExpireOnboardingStep:
		return b.ExpireOnboardingStep.GetState().String()
	case *personv1.Command_AddContact:
		return b.AddContact.GetContact().GetValue()
	case *personv1.Command_VerifyContact:
		return b.VerifyContact.GetContactId()
	case *personv1.Command_StartOnboarding:
		return c.GetPersonId()
	}
	return ""
}

func TestPolicies(t *testing.T) {
	set := newSet(t, policy.Config{ArchiveAfter: 30 * 24 * time.Hour, DefaultRegion: "US"})
	archiveAt := t0.Add(30 * 24 * time.Hour).Format(time.RFC3339)
	dl := timestamppb.New(t0.Add(time.Hour))
	tests := []struct {
		policy string
		name   string
		env    *personv1.EventEnvelope
		want   []string
	}{
		{policy.WelcomeNotification, "created with primary email", env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace"), Contacts: []*personv1.Contact{email("c1", "a@example.com", false), email("c2", "ada@example.com", true)}}),
			[]string{"notify person.notifications.welcome." + pid + " welcome_new_person ada@example.com"}},
		{policy.WelcomeNotification, "created without email", env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace"), Contacts: []*personv1.Contact{phone("c1", "+16502530000")}}), nil},
		{policy.WelcomeNotification, "email added", env(3, &personv1.ContactAdded{Contact: email("c3", "ada@example.com", false)}),
			[]string{"notify person.notifications.welcome." + pid + " welcome_email_added ada@example.com"}},
		{policy.WelcomeNotification, "phone added", env(3, &personv1.ContactAdded{Contact: phone("c3", "+16502530000")}), nil},
		{policy.WelcomeNotification, "name updated", env(2, &personv1.NameUpdated{NewName: name("Ada", "King")}), nil},

		{policy.DataQuality, "clean person", env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace"), Contacts: []*personv1.Contact{email("c1", "ada@example.com", true), phone("c2", "+16502530000")}}), nil},
		{policy.DataQuality, "short name parts", env(1, &personv1.PersonCreated{PersonId: pid, Name: &personv1.PersonName{GivenNames: []string{"J", "Ada"}, FamilyNames: []string{"X"}}}),
			[]string{`person FlagDataQuality name.given_names[0]: name part "J" is shorter than 2 characters`, `person FlagDataQuality name.family_names[0]: name part "X" is shorter than 2 characters`}},
		{policy.DataQuality, "single ideograph is a name", env(2, &personv1.NameUpdated{NewName: &personv1.PersonName{GivenNames: []string{"小"}, FamilyNames: []string{"李"}}}), nil},
		{policy.DataQuality, "renamed short", env(2, &personv1.NameUpdated{NewName: name("Al", "B")}),
			[]string{`person FlagDataQuality name.family_names[0]: name part "B" is shorter than 2 characters`}},
		{policy.DataQuality, "legacy invalid email", env(3, &personv1.ContactAdded{Contact: email("c3", "not an email", false)}),
			[]string{"person FlagDataQuality contacts/c3: invalid email: " + contact.RuleEmailInvalid}},
		{policy.DataQuality, "legacy email upper domain", env(3, &personv1.ContactAdded{Contact: email("c3", "ada@EXAMPLE.com", false)}),
			[]string{"person NormalizeContact c3 "}},
		{policy.DataQuality, "legacy phone", env(3, &personv1.ContactAdded{Contact: phone("c4", "(650) 253-0000")}),
			[]string{"person NormalizeContact c4 US"}},
		{policy.DataQuality, "legacy phone unusable", env(3, &personv1.ContactAdded{Contact: phone("c4", "12")}),
			[]string{"person FlagDataQuality contacts/c4: phone cannot be normalised to E.164: " + contact.RulePhoneInvalid}},

		{policy.AutoArchive, "created", env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace")}),
			[]string{"timer auto-archive." + pid + " @" + archiveAt + " person ArchivePerson auto-archived after 30 days of inactivity"}},
		{policy.AutoArchive, "deactivated", env(4, &personv1.PersonDeactivated{Reason: "x"}),
			[]string{"timer auto-archive." + pid + " @" + archiveAt + " person ArchivePerson auto-archived after 30 days of inactivity"}},
		{policy.AutoArchive, "archived", env(5, &personv1.PersonArchived{Reason: "x"}), []string{"cancel auto-archive." + pid}},
		{policy.AutoArchive, "merged", env(5, &personv1.PersonMergedInto{TargetPersonId: target}), []string{"cancel auto-archive." + pid}},
		{policy.AutoArchive, "onboarding event", env(1, &personv1.OnboardingStarted{PersonId: pid}), nil},
		{policy.AutoArchive, "no body", env(1, nil), nil},

		{policy.Onboarding, "created", env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace")}), []string{"onboarding StartOnboarding " + pid}},
		{policy.Onboarding, "renamed", env(2, &personv1.NameUpdated{NewName: name("Ada", "King")}), nil},

		{policy.MergeBookkeeping, "merged", env(5, &personv1.PersonMergedInto{TargetPersonId: target, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY}), []string{"person RecordMergeReceived " + target + "<-" + pid}},
		{policy.MergeBookkeeping, "archived", env(5, &personv1.PersonArchived{Reason: "x"}), nil},

		{policy.OnboardingDeadlines, "started with deadline", env(1, &personv1.OnboardingStarted{PersonId: pid, StepDeadline: dl}),
			[]string{"timer onboarding-deadlines." + pid + " @" + dl.AsTime().Format(time.RFC3339) + " onboarding ExpireOnboardingStep ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION"}},
		{policy.OnboardingDeadlines, "started without deadline", env(1, &personv1.OnboardingStarted{PersonId: pid}), nil},
		{policy.OnboardingDeadlines, "state without deadline", env(2, &personv1.IdentityVerified{IdentityId: "i"}), []string{"cancel onboarding-deadlines." + pid}},
		{policy.OnboardingDeadlines, "next state", env(5, &personv1.LocationAssigned{LocationId: "l", StepDeadline: dl}),
			[]string{"timer onboarding-deadlines." + pid + " @" + dl.AsTime().Format(time.RFC3339) + " onboarding ExpireOnboardingStep ONBOARDING_STATE_FINALIZING"}},
		{policy.OnboardingDeadlines, "completed", env(6, &personv1.OnboardingCompleted{}), []string{"cancel onboarding-deadlines." + pid}},
		{policy.OnboardingDeadlines, "failed", env(3, &personv1.OnboardingFailed{Reason: "x"}), []string{"cancel onboarding-deadlines." + pid}},
		{policy.OnboardingDeadlines, "person event", env(2, &personv1.NameUpdated{}), nil},

		{policy.OnboardingCompletion, "completed", env(6, &personv1.OnboardingCompleted{Email: "ada@example.com", Phone: "+16502530000"}), []string{
			"person AddContact ada@example.com", "person VerifyContact " + policy.DeriveID(policy.OnboardingCompletion, eventID, "add-email"),
			"person AddContact +16502530000", "person VerifyContact " + policy.DeriveID(policy.OnboardingCompletion, eventID, "add-phone"),
		}},
		{policy.OnboardingCompletion, "failed", env(3, &personv1.OnboardingFailed{Reason: "x"}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.policy+"/"+tc.name, func(t *testing.T) {
			p, ok := set.Policy(tc.policy)
			if !ok {
				t.Fatalf("no policy %s", tc.policy)
			}
			got := p.Evaluate(tc.env, now)
			if len(got) > 0 && !p.Reacts(tc.env.GetType()) {
				t.Errorf("%s reacts to %s, which is not in its Types %v", tc.policy, tc.env.GetType(), p.Types)
			}
			var gotS []string
			for _, r := range got {
				gotS = append(gotS, describe(r))
				if r.Policy != tc.policy {
					t.Errorf("reaction of %s says policy %s", tc.policy, r.Policy)
				}
				checkCommand(t, tc.policy, tc.env, r)
			}
			if strings.Join(gotS, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(gotS, "\n  "), strings.Join(tc.want, "\n  "))
			}
			// Evaluating again (a redelivery) gives the same ids.
			again := p.Evaluate(tc.env, now.Add(time.Hour))
			for i := range got {
				if a, b := idOf(got[i]), idOf(again[i]); a != b {
					t.Errorf("reaction %d: id %s, then %s", i, a, b)
				}
			}
		})
	}
}

var uuidV8 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkCommand checks the envelope of a reaction's command.
func checkCommand(t *testing.T, name string, e *personv1.EventEnvelope, r policy.Reaction) {
	t.Helper()
	c := r.Command
	if r.Timer != nil {
		c = r.Timer.Command
	}
	if c == nil {
		return
	}
	if !uuidV8.MatchString(c.GetCommandId()) || c.GetCausationId() != e.GetEventId() || c.GetCorrelationId() != e.GetCorrelationId() ||
		c.GetActor() != "policy:"+name || !c.GetIssuedAt().AsTime().Equal(now) {
		t.Errorf("command envelope %v", c)
	}
}

func idOf(r policy.Reaction) string {
	switch {
	case r.Command != nil:
		return r.Command.GetCommandId()
	case r.Notification != nil:
		return r.Notification.ID
	case r.Timer != nil && r.Timer.Command != nil:
		return r.Timer.Command.GetCommandId() + r.Timer.At.String()
	}
	return ""
}

func TestDeriveID(t *testing.T) {
	a := policy.DeriveID("p", "e", "x")
	tests := []struct {
		name           string
		p, e, part     string
		wantSameAsBase bool
	}{
		{"same inputs", "p", "e", "x", true},
		{"other policy", "q", "e", "x", false},
		{"other event", "p", "f", "x", false},
		{"other part", "p", "e", "y", false},
		{"no ambiguity across fields", "p\x00e", "", "x", false},
	}
	for _, tc := range tests {
		got := policy.DeriveID(tc.p, tc.e, tc.part)
		if (got == a) != tc.wantSameAsBase || !uuidV8.MatchString(got) {
			t.Errorf("%s: DeriveID = %s (base %s)", tc.name, got, a)
		}
	}
	long := strings.Repeat("x", 500)
	if got := policy.DeriveID(long, long, long); !uuidV8.MatchString(got) {
		t.Errorf("long inputs: %s", got)
	}
}

func TestAccepts(t *testing.T) {
	r := policy.Reaction{Accept: []policy.Accepted{{Code: personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, Rule: "merge.already_received"}, {Code: personv1.ErrorCode_ERROR_CODE_NOT_FOUND}}}
	tests := []struct {
		err  error
		want bool
	}{
		{personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "merge.already_received", "x"), true},
		{personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "contact.duplicate", "x"), false},
		{personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "anything", "x"), true},
		{errors.New("plain"), false},
	}
	for _, tc := range tests {
		if got := r.Accepts(tc.err); got != tc.want {
			t.Errorf("Accepts(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     policy.Config
		wantErr error
	}{
		{"defaults", policy.Config{}, nil},
		{"archive too short", policy.Config{ArchiveAfter: time.Millisecond}, policy.ErrInvalidConfig},
		{"subject wildcard", policy.Config{NotificationSubject: "a.*"}, policy.ErrInvalidConfig},
		{"deadline of terminal", policy.Config{OnboardingDeadlines: map[personv1.OnboardingState]time.Duration{personv1.OnboardingState_ONBOARDING_STATE_COMPLETED: time.Hour}}, policy.ErrInvalidConfig},
		{"negative deadline", policy.Config{OnboardingDeadlines: map[personv1.OnboardingState]time.Duration{personv1.OnboardingState_ONBOARDING_STATE_FINALIZING: -time.Hour}}, policy.ErrInvalidConfig},
	}
	for _, tc := range tests {
		_, err := policy.New(tc.cfg)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	s := newSet(t, policy.Config{})
	if got := s.Config().ArchiveAfter; got != 365*24*time.Hour {
		t.Errorf("default archive after = %v", got)
	}
	start := s.Evaluate(env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace")}), now)
	var deadlines int
	for _, r := range start {
		if r.Command.GetStartOnboarding() != nil {
			deadlines = len(r.Command.GetStartOnboarding().GetDeadlines())
		}
	}
	if deadlines != 5 {
		t.Errorf("default StartOnboarding carries %d deadlines, want 5", deadlines)
	}
}

// normalEmail (the fast path of DataQuality) accepts only addresses that
// contact.NormalizeEmail accepts unchanged.
func FuzzFastEmailIsNormal(f *testing.F) {
	for _, s := range []string{"ada@example.com", "a.b+c@x-y.example.org", "A@b.co", "a@B.co", "a..b@x.com", ".a@x.com", "a@-x.com", "a@x-.com", "a@x", "@x.com", "a@x.com.", "\"q\"@x.com", "a@@x.com", "ü@x.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !policy.NormalEmail(s) {
			return
		}
		got, err := contact.NormalizeEmail(s)
		if err != nil || got != s {
			t.Errorf("fast path accepted %q; NormalizeEmail = %q, %v", s, got, err)
		}
	})
}
