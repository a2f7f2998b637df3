package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access/accessapp"
	"branchline/app"
	"branchline/auth"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/rpc"
)

// Directory checks users' passwords.
type Directory interface {
	// Login returns the principal of username if password is right, and
	// auth.ErrBadCredentials otherwise.
	Login(ctx context.Context, username, password string) (*auth.Principal, error)
}

// TokenTTL is how long a login token is valid.
const TokenTTL = 12 * time.Hour

// AuthService implements branchline.auth.v1.AuthService.
type AuthService struct {
	Dir Directory
	// Signer returns the key tokens are signed with; a hub member learns
	// its cluster's key only once it has caught up.
	Signer func() (*auth.Signer, error)
	// Throttle, when set, slows down password guessing.
	Throttle app.Throttle
	// Audit, when set, records logins and failed logins.
	Audit func(ctx context.Context, user, action, detail string)
	// Passwords changes callers' own passwords; nil: this server's
	// accounts do not change theirs over the API (a hub's cluster admin).
	Passwords *accessapp.Admin
	// Grants resolves what callers may do (for Passwords).
	Grants app.Grants
	Log    *slog.Logger
}

func (s *AuthService) audit(ctx context.Context, user, action, detail string) {
	if s.Audit != nil {
		s.Audit(ctx, user, action, detail)
	}
}

var _ authv1connect.AuthServiceHandler = (*AuthService)(nil)

// Login implements AuthService.Login.
func (s *AuthService) Login(ctx context.Context, req *connect.Request[authv1.LoginRequest]) (*connect.Response[authv1.LoginResponse], error) {
	u, pw := req.Msg.GetUsername(), req.Msg.GetPassword()
	if u == "" || pw == "" || len(u) > 128 || len(pw) > 1024 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("username and password are required"))
	}
	remote, now := auth.RemoteHost(req.Peer().Addr), time.Now()
	ctx = auth.WithRemoteAddr(ctx, remote)
	if s.Throttle != nil {
		if wait := s.Throttle.Allow(u, remote, now); wait > 0 {
			return nil, connect.NewError(connect.CodeResourceExhausted,
				fmt.Errorf("too many failed logins: try again in %s", wait.Round(time.Second)))
		}
	}
	p, err := s.Dir.Login(ctx, u, pw)
	if s.Throttle != nil && (err == nil || errors.Is(err, auth.ErrBadCredentials)) {
		s.Throttle.Result(u, remote, err == nil, now)
	}
	if errors.Is(err, auth.ErrBadCredentials) {
		s.Log.Warn("failed login", "user", u, "peer", req.Peer().Addr)
		s.audit(ctx, u, "login_failed", "api")
		return nil, connect.NewError(connect.CodeUnauthenticated, auth.ErrBadCredentials)
	}
	if err != nil {
		return nil, rpc.Error(s.Log, err)
	}
	signer, err := s.Signer()
	if err != nil {
		return nil, rpc.Error(s.Log, err)
	}
	tok, exp := signer.Issue(*p, time.Now(), TokenTTL)
	s.Log.Info("login", "user", u, "peer", req.Peer().Addr)
	s.audit(ctx, p.User, "login", "api")
	return connect.NewResponse(&authv1.LoginResponse{Token: tok, ExpireTime: timestamppb.New(exp)}), nil
}

// WhoAmI implements AuthService.WhoAmI.
func (s *AuthService) WhoAmI(ctx context.Context, _ *connect.Request[authv1.WhoAmIRequest]) (*connect.Response[authv1.WhoAmIResponse], error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, rpc.ErrNoToken)
	}
	return connect.NewResponse(&authv1.WhoAmIResponse{Username: p.User, Roles: p.Roles}), nil
}

// ChangePassword implements AuthService.ChangePassword.
func (s *AuthService) ChangePassword(ctx context.Context, req *connect.Request[authv1.ChangePasswordRequest]) (*connect.Response[authv1.ChangePasswordResponse], error) {
	if _, ok := auth.PrincipalFrom(ctx); !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, rpc.ErrNoToken)
	}
	if s.Passwords == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the accounts of this server do not change their password over the API"))
	}
	ctx = auth.WithRemoteAddr(ctx, auth.RemoteHost(req.Peer().Addr))
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *authv1.ChangePasswordRequest) (*authv1.ChangePasswordResponse, error) {
		return &authv1.ChangePasswordResponse{}, s.Passwords.ChangeOwnPassword(ctx, c, m.GetCurrentPassword(), m.GetNewPassword())
	})
}
