package onboarding_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/onboarding"
	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/messages/personv1"
)

const pid = "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Short names of the states.
const (
	stStarted    = personv1.OnboardingState_ONBOARDING_STATE_STARTED
	stAwaiting   = personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION
	stCollecting = personv1.OnboardingState_ONBOARDING_STATE_COLLECTING_BASIC_INFO
	stSettingUp  = personv1.OnboardingState_ONBOARDING_STATE_SETTING_UP_COMPONENTS
	stAssigning  = personv1.OnboardingState_ONBOARDING_STATE_ASSIGNING_LOCATION
	stFinalizing = personv1.OnboardingState_ONBOARDING_STATE_FINALIZING
	stCompleted  = personv1.OnboardingState_ONBOARDING_STATE_COMPLETED
	stFailed     = personv1.OnboardingState_ONBOARDING_STATE_FAILED
)

var allStates = []personv1.OnboardingState{stStarted, stAwaiting, stCollecting, stSettingUp, stAssigning, stFinalizing, stCompleted, stFailed}

var seq int

// cmd returns a command with a fresh id for the workflow of pid.
func cmd(body any) *personv1.Command {
	seq++
	c := &personv1.Command{CommandId: fmt.Sprintf("cmd-%d", seq), PersonId: pid, CorrelationId: "corr"}
	switch b := body.(type) {
	case *personv1.StartOnboarding:
		c.Body = &personv1.Command_StartOnboarding{StartOnboarding: b}
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
	case *personv1.ExpireOnboardingStep:
		c.Body = &personv1.Command_ExpireOnboardingStep{ExpireOnboardingStep: b}
	case *personv1.CreatePerson:
		c.Body = &personv1.Command_CreatePerson{CreatePerson: b}
	case nil:
	default:
		panic(fmt.Sprintf("cmd: %T", body))
	}
	return c
}

func deadline(st personv1.OnboardingState, d time.Duration) *personv1.StepDeadline {
	return &personv1.StepDeadline{State: st, Timeout: durationpb.New(d)}
}

// valid returns a valid command of kind k for a workflow in state st.
func valid(k onboarding.Kind, st personv1.OnboardingState) *personv1.Command {
	switch k {
	case onboarding.KindStart:
		return cmd(&personv1.StartOnboarding{Deadlines: []*personv1.StepDeadline{deadline(stAwaiting, time.Hour)}})
	case onboarding.KindVerifyIdentity:
		return cmd(&personv1.VerifyIdentity{IdentityId: "id-1"})
	case onboarding.KindProvideBasicInfo:
		return cmd(&personv1.ProvideBasicInfo{Email: "ada@Example.com", Phone: "(650) 253-0000", DefaultRegion: "US"})
	case onboarding.KindAddComponents:
		return cmd(&personv1.AddComponents{Components: []*personv1.OnboardingComponent{{ComponentType: "badge", Data: `{"n":1}`}}})
	case onboarding.KindAssignLocation:
		return cmd(&personv1.AssignLocation{LocationId: "loc-1"})
	case onboarding.KindComplete:
		return cmd(&personv1.CompleteOnboarding{})
	case onboarding.KindFail:
		return cmd(&personv1.FailOnboarding{Reason: "  changed their mind "})
	case onboarding.KindExpireStep:
		return cmd(&personv1.ExpireOnboardingStep{State: st})
	}
	panic("unknown kind")
}

// step decides c on s and applies the events; it fails the test on a
// rejection.
func step(t *testing.T, s onboarding.State, c *personv1.Command, now time.Time) (onboarding.State, []*personv1.Event) {
	t.Helper()
	events, err := onboarding.Decide(s, c, now)
	if err != nil {
		t.Fatalf("%s in %s: %v", c.TypeName(), onboarding.StateName(s.State()), err)
	}
	for _, e := range events {
		s = onboarding.Apply(s, envelope(s, e, c, now))
	}
	return s, events
}

func envelope(s onboarding.State, e *personv1.Event, c *personv1.Command, now time.Time) *personv1.EventEnvelope {
	return &personv1.EventEnvelope{
		EventId: c.GetCommandId() + "-e", PersonId: pid, Version: s.Version() + 1, Type: e.TypeName(), SchemaVersion: 1,
		OccurredAt: timestamppb.New(now), CorrelationId: c.GetCorrelationId(), CausationId: c.GetCommandId(), Event: e,
	}
}

// reach returns a workflow in state st, reached with valid commands.
func reach(t *testing.T, st personv1.OnboardingState) onboarding.State {
	t.Helper()
	var s onboarding.State
	if st == stStarted {
		return s
	}
	s, _ = step(t, s, valid(onboarding.KindStart, stStarted), t0)
	if st == stFailed {
		s, _ = step(t, s, valid(onboarding.KindFail, s.State()), t0)
		return s
	}
	path := []onboarding.Kind{onboarding.KindVerifyIdentity, onboarding.KindProvideBasicInfo, onboarding.KindAddComponents, onboarding.KindAssignLocation, onboarding.KindComplete}
	for _, k := range path {
		if s.State() == st {
			break
		}
		s, _ = step(t, s, valid(k, s.State()), t0)
	}
	if s.State() != st {
		t.Fatalf("reached %s, want %s", onboarding.StateName(s.State()), onboarding.StateName(st))
	}
	return s
}

// TestMatrix checks every command kind in every state against the workflow
// of the package doc, written out cell by cell.
func TestMatrix(t *testing.T) {
	// Cells: a target state name, or the code/rule of the rejection.
	const (
		ae  = "ALREADY_EXISTS onboarding.already_started"
		ns  = "FAILED_PRECONDITION onboarding.not_started"
		ooo = "FAILED_PRECONDITION onboarding.out_of_order"
		trm = "FAILED_PRECONDITION onboarding.terminal"
		fld = "Failed"
	)
	// Columns: Start, VerifyIdentity, ProvideBasicInfo, AddComponents,
	// AssignLocation, Complete, Fail, ExpireStep.
	want := map[personv1.OnboardingState][8]string{
		stStarted:    {"AwaitingIdentityVerification", ns, ns, ns, ns, ns, fld, fld},
		stAwaiting:   {ae, "CollectingBasicInfo", ooo, ooo, ooo, ooo, fld, fld},
		stCollecting: {ae, ooo, "SettingUpComponents", ooo, ooo, ooo, fld, fld},
		stSettingUp:  {ae, ooo, ooo, "AssigningLocation", ooo, ooo, fld, fld},
		stAssigning:  {ae, ooo, ooo, ooo, "Finalizing", ooo, fld, fld},
		stFinalizing: {ae, ooo, ooo, ooo, ooo, "Completed", fld, fld},
		stCompleted:  {ae, trm, trm, trm, trm, trm, trm, trm},
		stFailed:     {ae, trm, trm, trm, trm, trm, trm, trm},
	}
	for _, st := range allStates {
		for _, k := range onboarding.Kinds() {
			t.Run(onboarding.StateName(st)+"/"+k.String(), func(t *testing.T) {
				s := reach(t, st)
				before := onboarding.ToSnapshot(s)
				c := valid(k, st)
				events, err := onboarding.Decide(s, c, t0)
				var got string
				if err != nil {
					var pe *personv1.Error
					if !errors.As(err, &pe) {
						t.Fatalf("err = %v, not a *personv1.Error", err)
					}
					got = strings.TrimPrefix(pe.GetCode().String(), "ERROR_CODE_") + " " + pe.GetRule()
					if len(events) != 0 {
						t.Errorf("rejection with events %v", events)
					}
				} else {
					if len(events) != 1 {
						t.Fatalf("got %d events, want 1", len(events))
					}
					got = onboarding.StateName(onboarding.Apply(s, envelope(s, events[0], c, t0)).State())
				}
				if w := want[st][k]; got != w {
					t.Errorf("got %q, want %q", got, w)
				}
				if !proto.Equal(onboarding.ToSnapshot(s), before) {
					t.Error("Decide changed the state it was given")
				}
			})
		}
	}
}

// The table in the docs is the table the code runs: every allowed cell of
// TestMatrix is a row of the machine.
func TestMachineTable(t *testing.T) {
	m := onboarding.WorkflowMachine()
	for _, st := range allStates {
		if got, want := m.Terminal(st), st == stCompleted || st == stFailed; got != want {
			t.Errorf("Terminal(%s) = %v, want %v", onboarding.StateName(st), got, want)
		}
		_, okFail := m.Target(st, onboarding.KindFail)
		if okFail == m.Terminal(st) {
			t.Errorf("%s: Fail allowed = %v", onboarding.StateName(st), okFail)
		}
	}
}

func TestGuards(t *testing.T) {
	tests := []struct {
		name     string
		in       personv1.OnboardingState
		body     any
		wantErr  error
		wantRule string
	}{
		{"identity blank", stAwaiting, &personv1.VerifyIdentity{}, personv1.ErrInvalidArgument, onboarding.RuleIdentityID},
		{"identity with space", stAwaiting, &personv1.VerifyIdentity{IdentityId: "a b"}, personv1.ErrInvalidArgument, onboarding.RuleIdentityID},
		{"email blank", stCollecting, &personv1.ProvideBasicInfo{Phone: "+16502530000"}, personv1.ErrInvalidArgument, contact.RuleValueRequired},
		{"email display name", stCollecting, &personv1.ProvideBasicInfo{Email: "Ada <ada@example.com>", Phone: "+16502530000"}, personv1.ErrInvalidArgument, contact.RuleEmailNotBare},
		{"email no domain dot", stCollecting, &personv1.ProvideBasicInfo{Email: "ada@localhost", Phone: "+16502530000"}, personv1.ErrInvalidArgument, contact.RuleEmailDomain},
		{"phone blank", stCollecting, &personv1.ProvideBasicInfo{Email: "ada@example.com"}, personv1.ErrInvalidArgument, contact.RuleValueRequired},
		{"phone invalid", stCollecting, &personv1.ProvideBasicInfo{Email: "ada@example.com", Phone: "+1 000"}, personv1.ErrInvalidArgument, contact.RulePhoneInvalid},
		{"phone without region", stCollecting, &personv1.ProvideBasicInfo{Email: "ada@example.com", Phone: "650 253 0000"}, personv1.ErrInvalidArgument, contact.RulePhoneRegion},
		{"component without type", stSettingUp, &personv1.AddComponents{Components: []*personv1.OnboardingComponent{{Data: "{}"}}}, personv1.ErrInvalidArgument, onboarding.RuleComponent},
		{"component bad json", stSettingUp, &personv1.AddComponents{Components: []*personv1.OnboardingComponent{{ComponentType: "x", Data: "{"}}}, personv1.ErrInvalidArgument, onboarding.RuleComponent},
		{"location blank", stAssigning, &personv1.AssignLocation{}, personv1.ErrInvalidArgument, onboarding.RuleLocationID},
		{"fail without reason", stCollecting, &personv1.FailOnboarding{Reason: "  "}, personv1.ErrInvalidArgument, onboarding.RuleFailReason},
		{"fail reason control", stCollecting, &personv1.FailOnboarding{Reason: "a\x00b"}, personv1.ErrInvalidArgument, onboarding.RuleTextInvalid},
		{"deadline terminal state", stStarted, &personv1.StartOnboarding{Deadlines: []*personv1.StepDeadline{deadline(stCompleted, time.Hour)}}, personv1.ErrInvalidArgument, onboarding.RuleDeadlineInvalid},
		{"deadline twice", stStarted, &personv1.StartOnboarding{Deadlines: []*personv1.StepDeadline{deadline(stAwaiting, time.Hour), deadline(stAwaiting, time.Hour)}}, personv1.ErrInvalidArgument, onboarding.RuleDeadlineInvalid},
		{"deadline zero", stStarted, &personv1.StartOnboarding{Deadlines: []*personv1.StepDeadline{deadline(stAwaiting, 0)}}, personv1.ErrInvalidArgument, onboarding.RuleDeadlineInvalid},
		{"deadline unknown state", stStarted, &personv1.StartOnboarding{Deadlines: []*personv1.StepDeadline{deadline(42, time.Hour)}}, personv1.ErrInvalidArgument, onboarding.RuleDeadlineInvalid},
		{"person command", stAwaiting, &personv1.CreatePerson{}, personv1.ErrUnimplemented, onboarding.RuleNotOnboarding},
		{"no body", stAwaiting, nil, personv1.ErrInvalidArgument, onboarding.RuleBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := reach(t, tc.in)
			events, err := onboarding.Decide(s, cmd(tc.body), t0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := personv1.AsError(err, "").GetRule(); got != tc.wantRule {
				t.Errorf("rule = %q, want %q", got, tc.wantRule)
			}
			if events != nil {
				t.Errorf("events = %v on a rejection", events)
			}
		})
	}
}

func TestEnvelope(t *testing.T) {
	s := reach(t, stAwaiting)
	tests := []struct {
		name     string
		mutate   func(*personv1.Command)
		wantRule string
	}{
		{"no command id", func(c *personv1.Command) { c.CommandId = "" }, onboarding.RuleCommandID},
		{"no person id", func(c *personv1.Command) { c.PersonId = "" }, onboarding.RulePersonID},
		{"other person", func(c *personv1.Command) { c.PersonId = "someone-else" }, onboarding.RulePersonMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid(onboarding.KindVerifyIdentity, stAwaiting)
			tc.mutate(c)
			_, err := onboarding.Decide(s, c, t0)
			if !errors.Is(err, personv1.ErrInvalidArgument) || personv1.AsError(err, "").GetRule() != tc.wantRule {
				t.Errorf("err = %v, want INVALID_ARGUMENT [%s]", err, tc.wantRule)
			}
		})
	}
}

// A person grain rejects onboarding commands with UNIMPLEMENTED, naming the
// rule, rather than "no body".
func TestPersonRejectsOnboardingCommands(t *testing.T) {
	for _, k := range onboarding.Kinds() {
		c := valid(k, stStarted)
		_, err := person.Decide(person.State{}, c, t0)
		if !errors.Is(err, personv1.ErrUnimplemented) || personv1.AsError(err, "").GetRule() != person.RuleNotPersonCommand {
			t.Errorf("%s: err = %v, want UNIMPLEMENTED [%s]", k, err, person.RuleNotPersonCommand)
		}
	}
}

// Deadlines: each event stamps the deadline of the state it enters; an
// expiry of the current state fails the workflow with the state's name, an
// expiry of a state it left is ignored.
func TestDeadlines(t *testing.T) {
	var s onboarding.State
	start := cmd(&personv1.StartOnboarding{Deadlines: []*personv1.StepDeadline{deadline(stAwaiting, time.Hour), deadline(stCollecting, 2*time.Hour)}})
	s, events := step(t, s, start, t0)
	if got, want := events[0].GetOnboardingStarted().GetStepDeadline().AsTime(), t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("started step deadline = %v, want %v", got, want)
	}
	t1 := t0.Add(30 * time.Minute)
	s, events = step(t, s, valid(onboarding.KindVerifyIdentity, s.State()), t1)
	if got, want := events[0].GetIdentityVerified().GetStepDeadline().AsTime(), t1.Add(2*time.Hour); !got.Equal(want) || !s.StepDeadline().Equal(want) {
		t.Errorf("verified step deadline = %v (state %v), want %v", got, s.StepDeadline(), want)
	}
	// The timer armed for AwaitingIdentityVerification fires late: ignored.
	if ev, err := onboarding.Decide(s, cmd(&personv1.ExpireOnboardingStep{State: stAwaiting}), t1.Add(time.Hour)); err != nil || ev != nil {
		t.Errorf("stale expiry = %v, %v; want nothing", ev, err)
	}
	s, events = step(t, s, cmd(&personv1.ExpireOnboardingStep{State: stCollecting}), t1.Add(2*time.Hour))
	f := events[0].GetOnboardingFailed()
	if f.GetReason() != "deadline exceeded in CollectingBasicInfo" || f.GetFailedIn() != stCollecting {
		t.Errorf("expiry event = %v", f)
	}
	if reason, in := s.Failure(); s.State() != stFailed || reason != f.GetReason() || in != stCollecting {
		t.Errorf("state %s failure %q in %s", onboarding.StateName(s.State()), reason, onboarding.StateName(in))
	}
	if !s.StepDeadline().IsZero() {
		t.Errorf("a failed workflow has a step deadline %v", s.StepDeadline())
	}
}

// The happy path keeps what each step provided, normalised, and the
// completion event carries the contacts the person receives.
func TestHappyPath(t *testing.T) {
	s := reach(t, stFinalizing)
	s, events := step(t, s, valid(onboarding.KindComplete, s.State()), t0)
	done := events[0].GetOnboardingCompleted()
	if done.GetEmail() != "ada@example.com" || done.GetPhone() != "+16502530000" {
		t.Errorf("completed = %v, want normalised email and phone", done)
	}
	if s.IdentityID() != "id-1" || s.LocationID() != "loc-1" || len(s.Components()) != 1 || !s.Terminal() || s.Version() != 6 || s.ID() != pid {
		t.Errorf("state = %v", onboarding.ToSnapshot(s))
	}
	// Fail keeps its trimmed reason.
	f := reach(t, stSettingUp)
	f, _ = step(t, f, valid(onboarding.KindFail, f.State()), t0)
	if reason, in := f.Failure(); reason != "changed their mind" || in != stSettingUp {
		t.Errorf("failure = %q in %s", reason, onboarding.StateName(in))
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, st := range allStates {
		s := reach(t, st)
		got, err := onboarding.FromSnapshot(onboarding.ToSnapshot(s))
		if err != nil {
			t.Fatalf("%s: %v", onboarding.StateName(st), err)
		}
		if !proto.Equal(onboarding.ToSnapshot(got), onboarding.ToSnapshot(s)) {
			t.Errorf("%s: round trip changed the state", onboarding.StateName(st))
		}
	}
	bad := []struct {
		name    string
		snap    *personv1.OnboardingSnapshot
		wantErr error
	}{
		{"nil", nil, onboarding.ErrInvalidSnapshot},
		{"schema", &personv1.OnboardingSnapshot{SchemaVersion: 9}, onboarding.ErrSnapshotSchema},
		{"state", &personv1.OnboardingSnapshot{SchemaVersion: 1, State: 42}, onboarding.ErrInvalidSnapshot},
		{"no id", &personv1.OnboardingSnapshot{SchemaVersion: 1, Version: 2, State: stCollecting}, onboarding.ErrInvalidSnapshot},
		{"state without events", &personv1.OnboardingSnapshot{SchemaVersion: 1, State: stCollecting}, onboarding.ErrInvalidSnapshot},
	}
	for _, tc := range bad {
		if _, err := onboarding.FromSnapshot(tc.snap); !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
	}
}

func TestApplyPanicsOnBrokenInvariant(t *testing.T) {
	s := reach(t, stAwaiting)
	tests := []struct {
		name string
		s    onboarding.State
		e    *personv1.EventEnvelope
	}{
		{"nil", s, nil},
		{"version gap", s, &personv1.EventEnvelope{Version: 5, Event: &personv1.Event{Body: &personv1.Event_LocationAssigned{LocationAssigned: &personv1.LocationAssigned{}}}}},
		{"before start", onboarding.State{}, &personv1.EventEnvelope{Version: 1, Event: &personv1.Event{Body: &personv1.Event_IdentityVerified{IdentityVerified: &personv1.IdentityVerified{}}}}},
		{"person event", s, &personv1.EventEnvelope{Version: 2, Type: "PersonArchived", Event: &personv1.Event{Body: &personv1.Event_PersonArchived{PersonArchived: &personv1.PersonArchived{}}}}},
		{"other person", s, &personv1.EventEnvelope{Version: 2, PersonId: "x", Event: &personv1.Event{Body: &personv1.Event_IdentityVerified{IdentityVerified: &personv1.IdentityVerified{}}}}},
		{"second start", s, &personv1.EventEnvelope{Version: 2, Event: &personv1.Event{Body: &personv1.Event_OnboardingStarted{OnboardingStarted: &personv1.OnboardingStarted{}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				if !ok || !errors.Is(err, onboarding.ErrBrokenInvariant) {
					t.Errorf("recovered %v, want ErrBrokenInvariant", r)
				}
			}()
			onboarding.Apply(tc.s, tc.e)
		})
	}
}
