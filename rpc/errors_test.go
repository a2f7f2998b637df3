package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"branchline/auth"
	"branchline/fault"
)

func TestErrorMapsToCodes(t *testing.T) {
	inv := fault.Invalidf("phone", "bad_phone", "%q is not a valid phone number", "123")
	passthrough := connect.NewError(connect.CodeResourceExhausted, errors.New("slow down"))
	cases := []struct {
		name string
		err  error
		code connect.Code
		msg  string // the message must contain it
	}{
		{"invalid input", inv, connect.CodeInvalidArgument, `phone: "123" is not a valid phone number`},
		{"wrapped invalid input", fmt.Errorf("create customer: %w", inv), connect.CodeInvalidArgument, "create customer: phone:"},
		{"not found", fmt.Errorf("customer 01J: %w", fault.ErrNotFound), connect.CodeNotFound, "customer 01J: not found"},
		{"conflict", fmt.Errorf("customer 01J: %w", fault.ErrConflict), connect.CodeAlreadyExists, "conflict"},
		{"denied", fault.ErrDenied, connect.CodePermissionDenied, "permission denied"},
		{"unauthenticated", fault.ErrUnauthenticated, connect.CodeUnauthenticated, "unauthenticated"},
		{"bad token", fmt.Errorf("verify: %w", auth.ErrBadToken), connect.CodeUnauthenticated, "invalid or expired token"},
		{"canceled", fmt.Errorf("exec: %w", context.Canceled), connect.CodeCanceled, "canceled"},
		{"deadline", context.DeadlineExceeded, connect.CodeDeadlineExceeded, "deadline"},
		{"unavailable", fmt.Errorf("%w: no leader", ErrUnavailable), connect.CodeUnavailable, "no leader"},
		{"connect error passes through", fmt.Errorf("push: %w", passthrough), connect.CodeResourceExhausted, "slow down"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			got := Error(slog.New(slog.NewTextHandler(&logged, nil)), c.err)
			var ce *connect.Error
			if !errors.As(got, &ce) {
				t.Fatalf("Error(%v) = %T, want *connect.Error", c.err, got)
			}
			if ce.Code() != c.code {
				t.Fatalf("code %v, want %v", ce.Code(), c.code)
			}
			if !strings.Contains(ce.Message(), c.msg) {
				t.Errorf("message %q, want it to contain %q", ce.Message(), c.msg)
			}
			if logged.Len() != 0 {
				t.Errorf("an expected failure was logged as an error: %s", logged.String())
			}
		})
	}
}

// Unexpected errors reach the client as "internal error" and nothing
// else; the details go to the log.
func TestErrorHidesInternalDetails(t *testing.T) {
	secret := errors.New("pebble: corrupt sstable /var/lib/branchline/state/000042.sst")
	cases := []struct {
		name string
		err  error
	}{
		{"plain", secret},
		{"wrapped", fmt.Errorf("apply sh-pudong/7: %w", secret)},
		{"storage not-found is not the domain's", fmt.Errorf("read: %w", errors.New("not found in index"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			got := Error(slog.New(slog.NewTextHandler(&logged, nil)), c.err)
			var ce *connect.Error
			if !errors.As(got, &ce) || ce.Code() != connect.CodeInternal {
				t.Fatalf("Error(%v) = %v, want CodeInternal", c.err, got)
			}
			if ce.Message() != "internal error" {
				t.Errorf("message %q leaks details", ce.Message())
			}
			if errors.Is(got, secret) || strings.Contains(got.Error(), "sstable") {
				t.Errorf("returned error %q still carries the cause", got)
			}
			if !strings.Contains(logged.String(), c.err.Error()) {
				t.Errorf("log %q lacks the cause %q", logged.String(), c.err)
			}
		})
	}
	if Error(slog.New(slog.DiscardHandler), nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
