package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is an ECI API error: the code and HTTP status ECI answers with, and a
// message that names the offending parameter by its wire path
// (Container.2.EnvironmentVar.1.Key) so that the caller can find it.
type Error struct {
	// Code is the ECI error code, e.g. "InvalidParameter.DuplicatedName".
	Code string
	// Status is the HTTP status the API answers with.
	Status int
	// Field is the wire path of the parameter at fault, empty when the error
	// is about the request as a whole.
	Field string
	// Message says what is wrong, without the field path.
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": " + e.Field + ": " + e.Message
}

// Text is the message as the API returns it: the field path, then what is wrong.
func (e *Error) Text() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is reports whether target is an *Error of the same code family: any
// "InvalidParameter.X" error is an ErrInvalidParameter, so callers test classes
// of errors with errors.Is and never compare strings.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return e.Code == t.Code || strings.HasPrefix(e.Code, t.Code+".")
}

// The ECI error code families leci answers with. Use them as errors.Is targets.
var (
	ErrInvalidParameter = &Error{Code: "InvalidParameter", Status: http.StatusBadRequest}
	ErrMissingParameter = &Error{Code: "MissingParameter", Status: http.StatusBadRequest}
	ErrDryRunOperation  = &Error{Code: "DryRunOperation", Status: http.StatusBadRequest,
		Message: "Request validation has been passed with DryRun flag set."}
	ErrIncorrectStatus = &Error{Code: "IncorrectStatus", Status: http.StatusBadRequest}
	// ErrNotSupported is the family of errors for valid requests that leci
	// cannot honour on a local host (DiskVolume.NotSupport and the like).
	ErrNotSupported = &Error{Code: "NotSupport", Status: http.StatusBadRequest}
)

// Codes of the validation errors, as the ECI reference names them.
const (
	CodeInvalidParameter     = "InvalidParameter"
	CodeMissingParameter     = "MissingParameter"
	CodeDuplicatedName       = "InvalidParameter.DuplicatedName"
	CodeDuplicatedVolumeName = "InvalidParameter.DuplicatedVolumeName"
)

func invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParameter, Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

func missing(field string) *Error {
	return &Error{Code: CodeMissingParameter, Status: http.StatusBadRequest, Field: field, Message: "is required"}
}

// Errors is every problem found in one request: a request with several
// mistakes has all of them reported at once.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "; ")
}

// Unwrap lets errors.Is and errors.As see each error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// errOrNil returns nil for no errors, so that a nil Errors never becomes a
// non-nil error interface.
func (es Errors) errOrNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// AsErrors flattens err into the API errors it holds, in order. An error that
// is not an API error becomes an InternalError.
func AsErrors(err error) Errors {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	return Errors{{Code: "InternalError", Status: http.StatusInternalServerError, Message: err.Error()}}
}
