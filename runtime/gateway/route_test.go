package gateway_test

import (
	"context"
	"testing"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/gateway"
)

// onboardingExec records the onboarding commands the gateway routes to it.
type onboardingExec struct{ got chan *personv1.Command }

func (o *onboardingExec) Execute(_ context.Context, cmd *personv1.Command) (*personv1.CommandResult, error) {
	o.got <- cmd
	return &personv1.CommandResult{PersonId: cmd.GetPersonId(), Version: 1}, nil
}

func TestOnboardingCommandsGoToTheOnboardingKind(t *testing.T) {
	nc := connect(t)
	tests := []struct {
		name           string
		withOnboarding bool
		wantRouted     bool
		wantCode       personv1.ErrorCode
	}{
		{"routed to onboarding", true, true, personv1.ErrorCode_ERROR_CODE_UNSPECIFIED},
		{"no onboarding kind: the person grain rejects it", false, false, personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exec := &onboardingExec{got: make(chan *personv1.Command, 1)}
			_, prefix := startGateway(t, fx.persons, func(c *gateway.Config) {
				if tc.withOnboarding {
					c.Onboarding = exec
				}
			})
			id := newID()
			cmd := &personv1.Command{CommandId: newID(), PersonId: id,
				Body: &personv1.Command_StartOnboarding{StartOnboarding: &personv1.StartOnboarding{}}}
			reply := commandReply(t, request(t, nc, prefix+".commands."+id, "", mustJSON(t, cmd)))
			if got := reply.GetError().GetCode(); got != tc.wantCode {
				t.Fatalf("reply code = %v, want %v (reply %v)", got, tc.wantCode, reply)
			}
			select {
			case got := <-exec.got:
				if !tc.wantRouted {
					t.Fatalf("onboarding executor got %v, want nothing", got)
				}
				if got.GetPersonId() != id {
					t.Fatalf("routed person = %q, want %q", got.GetPersonId(), id)
				}
			default:
				if tc.wantRouted {
					t.Fatal("onboarding executor got nothing")
				}
			}
			// Person commands still go to the person kind.
			create := &personv1.Command{CommandId: newID(), PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{
				Name: &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}}}}}
			if r := commandReply(t, request(t, nc, prefix+".commands."+id, "", mustJSON(t, create))); r.GetResult().GetVersion() != 1 {
				t.Fatalf("create reply = %v, want version 1", r)
			}
		})
	}
}
