package personv1

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for errors.Is: an *Error matches the sentinel with the same code,
// whatever its message, rule or person.
var (
	ErrInvalidArgument    = &Error{Code: ErrorCode_ERROR_CODE_INVALID_ARGUMENT}
	ErrNotFound           = &Error{Code: ErrorCode_ERROR_CODE_NOT_FOUND}
	ErrAlreadyExists      = &Error{Code: ErrorCode_ERROR_CODE_ALREADY_EXISTS}
	ErrFailedPrecondition = &Error{Code: ErrorCode_ERROR_CODE_FAILED_PRECONDITION}
	ErrConflict           = &Error{Code: ErrorCode_ERROR_CODE_CONFLICT}
	ErrUnavailable        = &Error{Code: ErrorCode_ERROR_CODE_UNAVAILABLE}
	ErrInternal           = &Error{Code: ErrorCode_ERROR_CODE_INTERNAL}
	ErrDeadlineExceeded   = &Error{Code: ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED}
	ErrResourceExhausted  = &Error{Code: ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED}
	ErrUnimplemented      = &Error{Code: ErrorCode_ERROR_CODE_UNIMPLEMENTED}
)

// Reject returns an *Error with code, the name of the broken rule and a
// message. Domain code returns it from Decide.
func Reject(code ErrorCode, rule, format string, args ...any) *Error {
	return &Error{Code: code, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// Error implements error: "FAILED_PRECONDITION [lifecycle.terminal]: person is Deceased".
func (x *Error) Error() string {
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(x.GetCode().String(), "ERROR_CODE_"))
	if x.GetRule() != "" {
		b.WriteString(" [")
		b.WriteString(x.GetRule())
		b.WriteString("]")
	}
	if x.GetMessage() != "" {
		b.WriteString(": ")
		b.WriteString(x.GetMessage())
	}
	if x.GetPersonId() != "" {
		b.WriteString(" (person ")
		b.WriteString(x.GetPersonId())
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is an *Error with the same code.
func (x *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.GetCode() == x.GetCode()
}

// AsError converts any error to its wire form. An *Error anywhere in the
// chain is returned as is (with personID filled in when empty); anything else
// becomes INTERNAL with the error text.
func AsError(err error, personID string) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.GetPersonId() == "" && personID != "" {
			c := &Error{Code: e.Code, Message: e.Message, Rule: e.Rule, PersonId: personID}
			return c
		}
		return e
	}
	return &Error{Code: ErrorCode_ERROR_CODE_INTERNAL, Message: err.Error(), PersonId: personID}
}

// CodeOf returns the code of the first *Error in err's chain, or
// ERROR_CODE_UNSPECIFIED.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.GetCode()
	}
	return ErrorCode_ERROR_CODE_UNSPECIFIED
}
