package personv1_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cim/personrt/messages/personv1"
)

func TestErrorMatchesByCode(t *testing.T) {
	err := fmt.Errorf("decide: %w", personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "person.not_found", "no %s", "p1"))
	tests := []struct {
		target error
		want   bool
	}{
		{personv1.ErrNotFound, true},
		{personv1.ErrInvalidArgument, false},
		{errors.New("NOT_FOUND"), false},
	}
	for _, tc := range tests {
		if got := errors.Is(err, tc.target); got != tc.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, tc.target, got, tc.want)
		}
	}
	if got := personv1.CodeOf(err); got != personv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Errorf("CodeOf = %s", got)
	}
	if got := personv1.CodeOf(errors.New("x")); got != personv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Errorf("CodeOf(plain) = %s", got)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *personv1.Error
		want string
	}{
		{&personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, Rule: "lifecycle.terminal", Message: "person is Deceased", PersonId: "p1"},
			"FAILED_PRECONDITION [lifecycle.terminal]: person is Deceased (person p1)"},
		{&personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_INTERNAL}, "INTERNAL"},
		{nil, "UNSPECIFIED"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestAsError(t *testing.T) {
	if personv1.AsError(nil, "p1") != nil {
		t.Error("AsError(nil) != nil")
	}
	rej := personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "name.required", "a name is required")
	got := personv1.AsError(fmt.Errorf("wrapped: %w", rej), "p1")
	if got.GetPersonId() != "p1" || got.GetRule() != "name.required" || got.GetCode() != personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Errorf("AsError(coded) = %v", got)
	}
	if rej.GetPersonId() != "" {
		t.Error("AsError changed the original error")
	}
	plain := personv1.AsError(errors.New("disk on fire"), "p1")
	if plain.GetCode() != personv1.ErrorCode_ERROR_CODE_INTERNAL || plain.GetMessage() != "disk on fire" {
		t.Errorf("AsError(plain) = %v", plain)
	}
}

func TestTypeName(t *testing.T) {
	if got := (&personv1.Command{Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{}}}).TypeName(); got != "UpdateName" {
		t.Errorf("Command.TypeName = %q", got)
	}
	if got := (&personv1.Event{Body: &personv1.Event_ContactNormalized{}}).TypeName(); got != "ContactNormalized" {
		t.Errorf("Event.TypeName = %q", got)
	}
	var nilCmd *personv1.Command
	var nilEv *personv1.Event
	if nilCmd.TypeName() != "" || nilEv.TypeName() != "" || (&personv1.Command{}).TypeName() != "" {
		t.Error("TypeName of nil or empty is not empty")
	}
}
