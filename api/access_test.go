package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	"branchline/auth"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	"branchline/replication"
	"branchline/rpc"
)

// testGrants: "root" may do everything, "auditor" only read the audit
// log, anyone else nothing.
func testGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	switch p.User {
	case "root":
		return access.Superuser(p.User), nil
	case "auditor":
		return &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{access.AuditRead: access.ScopeAll}}, nil
	}
	return &access.Grant{User: p.User}, nil
}

func newAccessService(t *testing.T) (*AccessService, *memStoreAccess) {
	t.Helper()
	st := newMemStoreAccess(t)
	return &AccessService{App: &accessapp.Admin{Store: st, IDs: replication.NewIDs(), Node: "sh-pudong"}, Grants: testGrants,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, st
}

func as(user string) context.Context {
	return auth.WithRemoteAddr(auth.WithPrincipal(context.Background(), &auth.Principal{User: user}), "192.0.2.10")
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("error %v (code %v), want code %v", err, connect.CodeOf(err), code)
	}
}

// seed makes a department, a role and a user through the service.
type seeded struct {
	dept, role, user string
}

func seed(t *testing.T, s *AccessService) seeded {
	t.Helper()
	ctx := as("root")
	d, err := s.CreateDepartment(ctx, connect.NewRequest(&accessv1.CreateDepartmentRequest{Department: &accessv1.Department{DisplayName: "客服部"}}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: "坐席", Permissions: []*accessv1.Permission{{Permission: "customer.read", Scope: accessv1.Scope_SCOPE_DEPARTMENT}},
		Windows: []*accessv1.TimeWindow{{Days: []int32{1, 2, 3, 4, 5}, StartTime: "08:00", EndTime: "18:00"}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: "Agent.Wu", DisplayName: "吴坐席", Department: d.Msg.GetName(), Extension: "8001"}, Password: "correct horse",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return seeded{dept: d.Msg.GetName(), role: r.Msg.GetName(), user: u.Msg.GetName()}
}

// accessCalls calls every RPC of the service with plausible input.
func accessCalls(s *AccessService, sd seeded) map[string]func(ctx context.Context) error {
	two := func(_ any, err error) error { return err }
	return map[string]func(ctx context.Context) error{
		"ListUsers": func(ctx context.Context) error {
			return two(s.ListUsers(ctx, connect.NewRequest(&accessv1.ListUsersRequest{})))
		},
		"GetUser": func(ctx context.Context) error {
			return two(s.GetUser(ctx, connect.NewRequest(&accessv1.GetUserRequest{Name: sd.user})))
		},
		"CreateUser": func(ctx context.Context) error {
			return two(s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: "new.one", DisplayName: "n"}, Password: "correct horse"})))
		},
		"UpdateUser": func(ctx context.Context) error {
			return two(s.UpdateUser(ctx, connect.NewRequest(&accessv1.UpdateUserRequest{User: &accessv1.User{Name: sd.user, Phone: "021-1234567"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}}})))
		},
		"SetPassword": func(ctx context.Context) error {
			return two(s.SetPassword(ctx, connect.NewRequest(&accessv1.SetPasswordRequest{Name: sd.user, Password: "battery staple"})))
		},
		"DisableUser": func(ctx context.Context) error {
			return two(s.DisableUser(ctx, connect.NewRequest(&accessv1.DisableUserRequest{Name: sd.user})))
		},
		"EnableUser": func(ctx context.Context) error {
			return two(s.EnableUser(ctx, connect.NewRequest(&accessv1.EnableUserRequest{Name: sd.user})))
		},
		"ListUsernameConflicts": func(ctx context.Context) error {
			return two(s.ListUsernameConflicts(ctx, connect.NewRequest(&accessv1.ListUsernameConflictsRequest{})))
		},
		"ListDepartments": func(ctx context.Context) error {
			return two(s.ListDepartments(ctx, connect.NewRequest(&accessv1.ListDepartmentsRequest{})))
		},
		"CreateDepartment": func(ctx context.Context) error {
			return two(s.CreateDepartment(ctx, connect.NewRequest(&accessv1.CreateDepartmentRequest{Department: &accessv1.Department{DisplayName: "x"}})))
		},
		"UpdateDepartment": func(ctx context.Context) error {
			return two(s.UpdateDepartment(ctx, connect.NewRequest(&accessv1.UpdateDepartmentRequest{Department: &accessv1.Department{Name: sd.dept, DisplayName: "y"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})))
		},
		"MoveDepartment": func(ctx context.Context) error {
			return two(s.MoveDepartment(ctx, connect.NewRequest(&accessv1.MoveDepartmentRequest{Name: sd.dept})))
		},
		"ListRoles": func(ctx context.Context) error {
			return two(s.ListRoles(ctx, connect.NewRequest(&accessv1.ListRolesRequest{})))
		},
		"CreateRole": func(ctx context.Context) error {
			return two(s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "r"}})))
		},
		"UpdateRole": func(ctx context.Context) error {
			return two(s.UpdateRole(ctx, connect.NewRequest(&accessv1.UpdateRoleRequest{Role: &accessv1.Role{Name: sd.role, Description: "d"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})))
		},
		"AssignRole": func(ctx context.Context) error {
			return two(s.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: sd.user, Role: sd.role})))
		},
		"UnassignRole": func(ctx context.Context) error {
			return two(s.UnassignRole(ctx, connect.NewRequest(&accessv1.UnassignRoleRequest{User: sd.user, Role: sd.role})))
		},
		"ListPermissions": func(ctx context.Context) error {
			return two(s.ListPermissions(ctx, connect.NewRequest(&accessv1.ListPermissionsRequest{})))
		},
		"CreateAPIToken": func(ctx context.Context) error {
			return two(s.CreateAPIToken(ctx, connect.NewRequest(&accessv1.CreateAPITokenRequest{Token: &accessv1.APIToken{User: sd.user, DisplayName: "t"}})))
		},
		"ListAPITokens": func(ctx context.Context) error {
			return two(s.ListAPITokens(ctx, connect.NewRequest(&accessv1.ListAPITokensRequest{})))
		},
		"RevokeAPIToken": func(ctx context.Context) error {
			return two(s.RevokeAPIToken(ctx, connect.NewRequest(&accessv1.RevokeAPITokenRequest{Name: "tokens/" + replication.NewIDs().New(time.Now())})))
		},
		"ListAudit": func(ctx context.Context) error {
			return two(s.ListAudit(ctx, connect.NewRequest(&accessv1.ListAuditRequest{})))
		},
	}
}

func TestAccessServiceRefusesCallersWithoutPermission(t *testing.T) {
	s, st := newAccessService(t)
	sd := seed(t, s)
	calls := accessCalls(s, sd)
	if len(calls) != accessv1.File_branchline_access_v1_access_proto.Services().Get(0).Methods().Len() {
		t.Fatalf("%d calls tested, the service has %d", len(calls), accessv1.File_branchline_access_v1_access_proto.Services().Get(0).Methods().Len())
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			digest, n := st.state()
			wantCode(t, call(context.Background()), connect.CodeUnauthenticated)
			wantCode(t, call(as("clerk")), connect.CodePermissionDenied)
			if name != "ListAudit" {
				// admin.audit does not allow administration.
				wantCode(t, call(as("auditor")), connect.CodePermissionDenied)
			} else if err := call(as("auditor")); err != nil {
				t.Fatalf("auditor: %v", err)
			}
			if d, m := st.state(); d != digest || m != n {
				t.Fatalf("a refused call changed the views (%d events before, %d after)", n, m)
			}
		})
	}
}

func TestAccessServiceRefusesBadInput(t *testing.T) {
	s, st := newAccessService(t)
	sd := seed(t, s)
	ctx := as("root")
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	two := func(_ any, err error) error { return err }
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"create user without user", func() error {
			return two(s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{Password: "correct horse"})))
		}, "user"},
		{"create user with a bad username", func() error {
			return two(s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: "李 四", DisplayName: "李四"}, Password: "correct horse"})))
		}, "username"},
		{"create user with a taken username", func() error {
			return two(s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: "agent.wu", DisplayName: "x"}, Password: "correct horse"})))
		}, "username"},
		{"create user with a short password", func() error {
			return two(s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: "li.si", DisplayName: "李四"}, Password: "short"})))
		}, "password"},
		{"create user in a bad department", func() error {
			return two(s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: "li.si", DisplayName: "李四", Department: "sales"}, Password: "correct horse"})))
		}, "department"},
		{"get user by a bad name", func() error {
			return two(s.GetUser(ctx, connect.NewRequest(&accessv1.GetUserRequest{Name: "users/alice"})))
		}, "name"},
		{"update user without mask", func() error {
			return two(s.UpdateUser(ctx, connect.NewRequest(&accessv1.UpdateUserRequest{User: &accessv1.User{Name: sd.user}})))
		}, "update_mask"},
		{"update user's roles by mask", func() error {
			return two(s.UpdateUser(ctx, connect.NewRequest(&accessv1.UpdateUserRequest{User: &accessv1.User{Name: sd.user}, UpdateMask: mask("roles")})))
		}, "roles"},
		{"update user with a bad extension", func() error {
			return two(s.UpdateUser(ctx, connect.NewRequest(&accessv1.UpdateUserRequest{User: &accessv1.User{Name: sd.user, Extension: "ext"}, UpdateMask: mask("extension")})))
		}, "extension"},
		{"set a short password", func() error {
			return two(s.SetPassword(ctx, connect.NewRequest(&accessv1.SetPasswordRequest{Name: sd.user, Password: "1234"})))
		}, "password"},
		{"move a department below itself", func() error {
			return two(s.MoveDepartment(ctx, connect.NewRequest(&accessv1.MoveDepartmentRequest{Name: sd.dept, Parent: sd.dept})))
		}, "parent"},
		{"update a department's parent by mask", func() error {
			return two(s.UpdateDepartment(ctx, connect.NewRequest(&accessv1.UpdateDepartmentRequest{Department: &accessv1.Department{Name: sd.dept}, UpdateMask: mask("parent")})))
		}, "parent"},
		{"create a role with an unknown permission", func() error {
			return two(s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "r", Permissions: []*accessv1.Permission{{Permission: "rocket.launch", Scope: accessv1.Scope_SCOPE_ALL}}}})))
		}, "permissions[0]"},
		{"create a role with a permission twice", func() error {
			return two(s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "r", Permissions: []*accessv1.Permission{
				{Permission: "customer.read", Scope: accessv1.Scope_SCOPE_ALL}, {Permission: "customer.read", Scope: accessv1.Scope_SCOPE_OWN}}}})))
		}, "permissions[1]"},
		{"create a role with day 8", func() error {
			return two(s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "r", Windows: []*accessv1.TimeWindow{{Days: []int32{8}, StartTime: "08:00", EndTime: "18:00"}}}})))
		}, "windows[0].days"},
		{"create a role with a bad time", func() error {
			return two(s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "r", Windows: []*accessv1.TimeWindow{{Days: []int32{1}, StartTime: "8am", EndTime: "18:00"}}}})))
		}, "windows[0].start_time"},
		{"create a role with a bad zone", func() error {
			return two(s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "r", TimeZone: "Beijing"}})))
		}, "time_zone"},
		{"assign an unknown role", func() error {
			return two(s.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: sd.user, Role: "roles/" + replication.NewIDs().New(time.Now())})))
		}, "role"},
		{"token that expired already", func() error {
			return two(s.CreateAPIToken(ctx, connect.NewRequest(&accessv1.CreateAPITokenRequest{Token: &accessv1.APIToken{User: sd.user, DisplayName: "t", ExpireTime: timestamppb.New(time.Now().Add(-time.Minute))}})))
		}, "token.expire_time"},
		{"token without name", func() error {
			return two(s.CreateAPIToken(ctx, connect.NewRequest(&accessv1.CreateAPITokenRequest{Token: &accessv1.APIToken{User: sd.user}})))
		}, "display_name"},
		{"audit with a forged page token", func() error {
			return two(s.ListAudit(ctx, connect.NewRequest(&accessv1.ListAuditRequest{PageToken: "zz"})))
		}, "page_token"},
		{"audit with the end before the start", func() error {
			return two(s.ListAudit(ctx, connect.NewRequest(&accessv1.ListAuditRequest{StartTime: timestamppb.Now(), EndTime: timestamppb.New(time.Now().Add(-time.Hour))})))
		}, "end_time"},
		{"users with a negative page size", func() error {
			return two(s.ListUsers(ctx, connect.NewRequest(&accessv1.ListUsersRequest{PageSize: -1})))
		}, "page_size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			digest, n := st.state()
			err := c.call()
			wantCode(t, err, connect.CodeInvalidArgument)
			inv, ok := fault.AsInvalid(err)
			if !ok || inv.Field != c.field {
				t.Fatalf("error %v names field %q, want %q", err, inv.Field, c.field)
			}
			if d, m := st.state(); d != digest || m != n {
				t.Fatal("a refused call changed the views")
			}
		})
	}
}

// Every change is recorded in the audit log in the same Exec; a call
// that changes nothing records nothing.
func TestAccessServiceAuditsChanges(t *testing.T) {
	s, st := newAccessService(t)
	sd := seed(t, s)
	ctx := as("root")
	if _, err := s.UpdateUser(ctx, connect.NewRequest(&accessv1.UpdateUserRequest{
		User: &accessv1.User{Name: sd.user, Phone: "021-62345678"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}},
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: sd.user, Role: sd.role})); err != nil {
		t.Fatal(err)
	}
	_, before := st.state()
	// No change: no event, no audit entry.
	if _, err := s.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: sd.user, Role: sd.role})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnableUser(ctx, connect.NewRequest(&accessv1.EnableUserRequest{Name: sd.user})); err != nil {
		t.Fatal(err)
	}
	if _, after := st.state(); after != before {
		t.Fatalf("calls that changed nothing made %d events", after-before)
	}
	if _, err := s.SetPassword(ctx, connect.NewRequest(&accessv1.SetPasswordRequest{Name: sd.user, Password: "battery staple", MustChangePassword: true})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableUser(ctx, connect.NewRequest(&accessv1.DisableUserRequest{Name: sd.user})); err != nil {
		t.Fatal(err)
	}

	kinds := st.kinds()
	// Each change with its audit entry, in one (compound) event.
	audited := func(kind string) string { return replication.CompoundKind(kind, access.KindAuditRecorded) }
	want := []string{
		audited(access.KindDepartmentCreated),
		audited(access.KindRoleCreated),
		audited(access.KindUserCreated),
		audited(access.KindUserFieldSet),
		audited(access.KindUserRoleAdded),
		audited(access.KindUserPasswordSet),
		audited(access.KindUserFieldSet),
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n%v\nwant\n%v", kinds, want)
	}

	resp, err := s.ListAudit(as("auditor"), connect.NewRequest(&accessv1.ListAuditRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range resp.Msg.GetEntries() {
		got = append(got, e.GetAction())
		if e.GetActor() != "root" || e.GetNode() != "sh-pudong" || e.GetRemote() != "192.0.2.10" || e.GetTime() == nil {
			t.Errorf("entry %v: actor, node, remote or time missing", e)
		}
		if strings.Contains(e.GetDetail(), "argon2") || strings.Contains(e.GetDetail(), "horse") || strings.Contains(e.GetDetail(), "staple") {
			t.Errorf("entry %v shows a password or hash", e)
		}
	}
	wantActions := []string{"user_disabled", "password_changed", "role_changed", "user_changed", "user_created", "permission_changed", "department_changed"}
	if strings.Join(got, " ") != strings.Join(wantActions, " ") {
		t.Fatalf("audit actions %v, want (newest first) %v", got, wantActions)
	}
	if e := resp.Msg.GetEntries()[3]; e.GetTarget() != sd.user || !strings.Contains(e.GetDetail(), "021-62345678") {
		t.Errorf("user_changed entry %v: want target %s and the new phone", e, sd.user)
	}
	// Filter by action.
	resp, err = s.ListAudit(as("auditor"), connect.NewRequest(&accessv1.ListAuditRequest{Action: "role_changed"}))
	if err != nil || len(resp.Msg.GetEntries()) != 1 {
		t.Fatalf("role_changed entries: %v, %v", resp.Msg.GetEntries(), err)
	}

	// Nothing the service returns holds a hash.
	u, err := s.GetUser(ctx, connect.NewRequest(&accessv1.GetUserRequest{Name: sd.user}))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := proto.Marshal(u.Msg); strings.Contains(string(b), "argon2") {
		t.Error("GetUser returns a password hash")
	}
	if !u.Msg.GetDisabled() || !u.Msg.GetMustChangePassword() || len(u.Msg.GetRoles()) != 1 || u.Msg.GetUsername() != "agent.wu" {
		t.Errorf("user %v", u.Msg)
	}
}

func TestStoreAuditorRecords(t *testing.T) {
	st := newMemStoreAccess(t)
	a := StoreAuditor{Store: st, Node: "sh-pudong"}
	if err := a.RecordAs(as("clerk"), "clerk", access.ActionExport, "customers", "42 rows"); err != nil {
		t.Fatal(err)
	}
	if err := (StoreAuditor{Store: st, Node: "sh-pudong"}).RecordAs(auth.WithRemoteAddr(context.Background(), "198.51.100.4"), "mallory", access.ActionLoginFailed, "mallory", ""); err != nil {
		t.Fatal(err)
	}
	var es []access.AuditEntry
	st.View(func(views replication.Tx) error {
		var err error
		es, _, err = access.ListAudit(views, access.AuditQuery{})
		return err
	})
	if len(es) != 2 || es[0].Actor != "mallory" || es[0].Action != "login_failed" || es[0].Remote != "198.51.100.4" ||
		es[1].Actor != "clerk" || es[1].Detail != "42 rows" || es[1].Node != "sh-pudong" || es[1].Remote != "192.0.2.10" {
		t.Fatalf("entries %+v", es)
	}
}

// A personal token works as a bearer token over the wire, stands for its
// user with the user's roles, and stops working when revoked.
func TestAPITokenLifecycle(t *testing.T) {
	s, st := newAccessService(t)
	sd := seed(t, s)
	ctx := as("root")
	// Give the user a role with admin.users, open at all times.
	admin, err := s.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: "管理员", Permissions: []*accessv1.Permission{{Permission: string(access.UserAdmin), Scope: accessv1.Scope_SCOPE_ALL}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: sd.user, Role: admin.Msg.GetName()})); err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateAPIToken(ctx, connect.NewRequest(&accessv1.CreateAPITokenRequest{Token: &accessv1.APIToken{
		User: sd.user, DisplayName: "ERP", ExpireTime: timestamppb.New(time.Now().Add(time.Hour)),
	}}))
	if err != nil {
		t.Fatal(err)
	}
	secret := created.Msg.GetSecret()
	if !strings.HasPrefix(secret, "blp_") || created.Msg.GetToken().GetUser() != sd.user {
		t.Fatalf("created %v", created.Msg)
	}
	list, err := s.ListAPITokens(ctx, connect.NewRequest(&accessv1.ListAPITokensRequest{User: sd.user}))
	if err != nil || len(list.Msg.GetTokens()) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if b, _ := proto.Marshal(list.Msg); strings.Contains(string(b), secret[4:]) {
		t.Fatal("ListAPITokens returns the secret")
	}
	var user string
	st.View(func(views replication.Tx) error {
		user, err = access.TokenUser(views, secret, time.Now())
		return err
	})
	if err != nil || user != "agent.wu" {
		t.Fatalf("TokenUser = %q, %v", user, err)
	}

	// Over the wire, with the node's interceptor and grants.
	signer, err := auth.NewSigner(auth.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	wire := &AccessService{App: &accessapp.Admin{Store: st, IDs: replication.NewIDs(), Node: "sh-pudong"}, Grants: app.AccessGrants(st, nil), Log: s.Log}
	mux := http.NewServeMux()
	mux.Handle(accessv1connect.NewAccessServiceHandler(wire,
		connect.WithInterceptors(rpc.RequireAuth(TokenVerifier{Store: st, Signed: signer}, rpc.PublicProcedures...))))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := accessv1connect.NewAccessServiceClient(srv.Client(), srv.URL, rpc.WithBearer(secret))
	perms, err := client.ListPermissions(context.Background(), connect.NewRequest(&accessv1.ListPermissionsRequest{}))
	if err != nil || len(perms.Msg.GetPermissions()) != len(access.AllPerms) {
		t.Fatalf("ListPermissions with a personal token: %v, %v", perms, err)
	}
	// The token's calls are audited under its user.
	if _, err := client.CreateDepartment(context.Background(), connect.NewRequest(&accessv1.CreateDepartmentRequest{Department: &accessv1.Department{DisplayName: "仓库"}})); err != nil {
		t.Fatal(err)
	}
	var es []access.AuditEntry
	st.View(func(views replication.Tx) error {
		es, _, err = access.ListAudit(views, access.AuditQuery{Limit: 1})
		return err
	})
	if len(es) != 1 || es[0].Actor != "agent.wu" || es[0].Remote == "" {
		t.Fatalf("latest audit entry %+v", es)
	}
	// A signed token still works through the same verifier.
	tok, _ := signer.Issue(auth.Principal{User: "agent.wu"}, time.Now(), time.Minute)
	signed := accessv1connect.NewAccessServiceClient(srv.Client(), srv.URL, rpc.WithBearer(tok))
	if _, err := signed.ListRoles(context.Background(), connect.NewRequest(&accessv1.ListRolesRequest{})); err != nil {
		t.Fatalf("signed token: %v", err)
	}

	if _, err := s.RevokeAPIToken(ctx, connect.NewRequest(&accessv1.RevokeAPITokenRequest{Name: created.Msg.GetToken().GetName()})); err != nil {
		t.Fatal(err)
	}
	_, err = client.ListPermissions(context.Background(), connect.NewRequest(&accessv1.ListPermissionsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated)
	st.View(func(views replication.Tx) error {
		_, err = access.TokenUser(views, secret, time.Now())
		return nil
	})
	if !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("revoked token: %v", err)
	}
	if list, err := s.ListAPITokens(ctx, connect.NewRequest(&accessv1.ListAPITokensRequest{})); err != nil || len(list.Msg.GetTokens()) != 0 {
		t.Fatalf("revoked token listed without show_revoked: %v, %v", list, err)
	}
	list, err = s.ListAPITokens(ctx, connect.NewRequest(&accessv1.ListAPITokensRequest{ShowRevoked: true}))
	if err != nil || len(list.Msg.GetTokens()) != 1 || !list.Msg.GetTokens()[0].GetRevoked() {
		t.Fatalf("revoked token listed as %v, %v", list, err)
	}
}

func TestAccessDirectoryAndGrants(t *testing.T) {
	s, st := newAccessService(t)
	sd := seed(t, s)
	local := localDir{}
	dir := AccessDirectory{Store: st, Local: local}
	ctx := context.Background()

	p, err := dir.Login(ctx, "AGENT.WU", "correct horse")
	if err != nil || p.User != "agent.wu" || len(p.Roles) != 0 {
		t.Fatalf("Login = %+v, %v", p, err)
	}
	for _, c := range []struct{ user, pw string }{{"agent.wu", "wrong password"}, {"nobody", "correct horse"}} {
		if _, err := dir.Login(ctx, c.user, c.pw); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("Login(%s) = %v, want ErrBadCredentials", c.user, err)
		}
	}
	if p, err := dir.Login(ctx, "admin", "local secret"); err != nil || !p.HasRole(auth.RoleAdmin) {
		t.Errorf("local admin: %+v, %v", p, err)
	}

	// Grants: the role's window is Mon–Fri 08:00–18:00, Asia/Shanghai.
	if _, err := s.AssignRole(as("root"), connect.NewRequest(&accessv1.AssignRoleRequest{User: sd.user, Role: sd.role})); err != nil {
		t.Fatal(err)
	}
	sha, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, sha) // a Monday
	g, err := app.AccessGrants(st, func() time.Time { return at })(ctx, &auth.Principal{User: "agent.wu"})
	if err != nil || g.Scope(access.CustomerRead) != access.ScopeDepartment || len(g.Departments) != 1 {
		t.Fatalf("grant on Monday: %+v, %v", g, err)
	}
	g, err = app.AccessGrants(st, func() time.Time { return at.Add(12 * time.Hour) })(ctx, &auth.Principal{User: "agent.wu"})
	if err != nil || g.Can(access.CustomerRead) {
		t.Fatalf("grant on Monday night: %+v, %v", g, err)
	}
	if g, err := app.AccessGrants(st, nil)(ctx, &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}); err != nil || !g.Can(access.UserAdmin) {
		t.Fatalf("local admin's grant: %+v, %v", g, err)
	}
	// A disabled user's signed token no longer passes Require.
	if _, err := s.DisableUser(as("root"), connect.NewRequest(&accessv1.DisableUserRequest{Name: sd.user})); err != nil {
		t.Fatal(err)
	}
	c, err := app.CallerOf(auth.WithPrincipal(ctx, &auth.Principal{User: "agent.wu"}), app.AccessGrants(st, nil))
	if err == nil {
		err = c.Require(access.CustomerRead)
	}
	wantCode(t, rpc.Error(s.Log, err), connect.CodePermissionDenied)
	if _, err := dir.Login(ctx, "agent.wu", "correct horse"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("disabled user logs in: %v", err)
	}
}

type localDir struct{}

func (localDir) Login(_ context.Context, user, password string) (*auth.Principal, error) {
	if user == "admin" && password == "local secret" {
		return &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}, nil
	}
	return nil, auth.ErrBadCredentials
}

func TestListUsersPagesAndFilters(t *testing.T) {
	s, _ := newAccessService(t)
	sd := seed(t, s)
	ctx := as("root")
	sub, err := s.CreateDepartment(ctx, connect.NewRequest(&accessv1.CreateDepartmentRequest{Department: &accessv1.Department{DisplayName: "一组", Parent: sd.dept}}))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateDepartment(ctx, connect.NewRequest(&accessv1.CreateDepartmentRequest{Department: &accessv1.Department{DisplayName: "财务"}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		dept := sub.Msg.GetName()
		if i%2 == 1 {
			dept = other.Msg.GetName()
		}
		u, err := s.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
			User: &accessv1.User{Username: fmt.Sprintf("u%d", i), DisplayName: "u", Department: dept}, Password: "correct horse"}))
		if err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if _, err := s.DisableUser(ctx, connect.NewRequest(&accessv1.DisableUserRequest{Name: u.Msg.GetName()})); err != nil {
				t.Fatal(err)
			}
		}
	}
	var names []string
	req := &accessv1.ListUsersRequest{PageSize: 2}
	for {
		resp, err := s.ListUsers(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range resp.Msg.GetUsers() {
			names = append(names, u.GetUsername())
		}
		if req.PageToken = resp.Msg.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if got := strings.Join(names, ","); got != "agent.wu,u0,u1,u2,u3" {
		t.Errorf("users %s, want the enabled ones in creation order", got)
	}
	resp, err := s.ListUsers(ctx, connect.NewRequest(&accessv1.ListUsersRequest{Department: sd.dept, ShowDisabled: true}))
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, u := range resp.Msg.GetUsers() {
		names = append(names, u.GetUsername())
	}
	if got := strings.Join(names, ","); got != "agent.wu,u0,u2,u4" {
		t.Errorf("users of 客服部 and below: %s", got)
	}
}
