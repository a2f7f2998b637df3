// Package fault defines the failures domain code reports, so that the
// adapters (Connect handlers, web pages, SIP) translate each kind to a
// status code and a user message in one place instead of matching strings.
// It depends on nothing.
package fault

import (
	"errors"
	"fmt"
)

// Invalid says a piece of input is wrong. Code is a stable message key the
// UI translates ("required", "too_long", "bad_phone", …); Detail is English
// text for logs and API clients.
type Invalid struct {
	Field  string
	Code   string
	Detail string
}

func (e *Invalid) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

// Invalidf returns an *Invalid for field with a formatted detail.
func Invalidf(field, code, format string, args ...any) error {
	return &Invalid{Field: field, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Sentinel failures. Wrap them with context: fmt.Errorf("customer %s: %w", id, fault.ErrNotFound).
var (
	// ErrNotFound: the thing asked for does not exist (or the caller may not know it does).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts the current state (already exists, already posted).
	ErrConflict = errors.New("conflict")
	// ErrDenied: the caller is known but not allowed to do this.
	ErrDenied = errors.New("permission denied")
	// ErrUnauthenticated: the caller did not prove who they are.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrExhausted: a resource the write needs is used up (the data
	// volume is full); retrying once it is freed succeeds.
	ErrExhausted = errors.New("resource exhausted")
	// ErrTooMany: the caller tried too often (guessing a password) and must
	// wait before trying again; the wrapping text says how long.
	ErrTooMany = errors.New("too many attempts")
	// ErrUnavailable: a part the request needs is not there right now (the
	// store is closing, the hub has no leader, the node runs without SIP);
	// retrying later, or elsewhere, may succeed.
	ErrUnavailable = errors.New("unavailable")
	// ErrPasswordChange: the caller must set a new password
	// (must_change_password) before doing anything else.
	ErrPasswordChange = errors.New("you must change your password before doing anything else")
)

// AsInvalid returns the *Invalid in err's chain, if any.
func AsInvalid(err error) (*Invalid, bool) {
	var inv *Invalid
	ok := errors.As(err, &inv)
	return inv, ok
}
