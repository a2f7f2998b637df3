package accessapp

import (
	"time"

	"context"
	"errors"
	"fmt"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/fault"
	"branchline/replication"
)

// ChangeOwnPassword sets the caller's own password and clears their
// must_change_password: the one use case behind the API's
// AuthService.ChangePassword and the password page. The current password
// must be right — a wrong one counts against the throttle, as a failed
// login does — and the new one must differ from it; the change is
// audited. The node's local accounts are not replicated users and keep
// their password.
func (s *Admin) ChangeOwnPassword(ctx context.Context, c app.Caller, current, next string) error {
	if c.Grant == nil {
		return fault.ErrUnauthenticated
	}
	if access.Reserved(c.User) {
		return fmt.Errorf("%w: %s is a local account of this node, not a company user", fault.ErrDenied, c.User)
	}
	switch {
	case current == "":
		return fault.Invalidf("current_password", "required", "is required")
	case next == "":
		return fault.Invalidf("new_password", "required", "is required")
	case next == current:
		return fault.Invalidf("new_password", "same_password", "the new password must differ from the current one")
	}
	now := s.Now.Time()
	if s.Throttle != nil {
		if wait := s.Throttle.Allow(c.User, c.Remote, now); wait > 0 {
			return fmt.Errorf("%w: try again in %s", fault.ErrTooMany, wait.Round(time.Second))
		}
	}
	u, err := app.Read(s.Store, func(views replication.Tx) (*access.User, error) {
		return access.Authenticate(views, c.User, current)
	})
	wrong := errors.Is(err, auth.ErrBadCredentials)
	if s.Throttle != nil && (err == nil || wrong) {
		s.Throttle.Result(c.User, c.Remote, err == nil, now)
	}
	if wrong {
		return fault.Invalidf("current_password", "wrong_password", "the current password is wrong")
	}
	if err != nil {
		return err
	}
	hash, err := access.HashPassword(next)
	if inv, ok := fault.AsInvalid(err); ok {
		return &fault.Invalid{Field: "new_password", Code: inv.Code, Detail: inv.Detail}
	}
	if err != nil {
		return err
	}
	return s.change(ctx, c, access.ActionPasswordChanged, userRes+u.ID, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, err := access.SetPassword(views, u.ID, hash, false)
		return []replication.Draft{d}, access.AuditNote{Detail: "password changed by the user"}, err
	})
}
