package node_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/internal/rpctest"
	"branchline/node"
	"branchline/rpc"
)

// selfService are the procedures any signed-in user may call for
// themselves, whatever their roles, with the code an empty request gets
// (0: it succeeds).
var selfService = map[string]connect.Code{
	authv1connect.AuthServiceWhoAmIProcedure:         0,
	authv1connect.AuthServiceChangePasswordProcedure: connect.CodeInvalidArgument, // no current password
}

// roleless creates a user with no role and logs them in over the API.
func roleless(t *testing.T, n *node.Node, username string) string {
	t.Helper()
	ctx := context.Background()
	hc := rpc.NewHTTPClient()
	admin := accessv1connect.NewAccessServiceClient(hc, n.URL(), rpc.WithBearer(adminToken(t, n)))
	if _, err := admin.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: username, DisplayName: "无角色用户"}, Password: "roleless-password"})); err != nil {
		t.Fatal(err)
	}
	lr, err := authv1connect.NewAuthServiceClient(hc, n.URL()).Login(ctx,
		connect.NewRequest(&authv1.LoginRequest{Username: username, Password: "roleless-password"}))
	if err != nil {
		t.Fatal(err)
	}
	return lr.Msg.GetToken()
}

// TestNoRoleUserIsDeniedEveryCall walks every procedure of every service
// the node serves, as read from the generated service descriptors, and
// calls it as a signed-in user with no role: each answers
// permission_denied (but the few self-service ones), before looking at
// the request.
func TestNoRoleUserIsDeniedEveryCall(t *testing.T) {
	n := startTestNode(t)
	tok := roleless(t, n, "no.role")
	ctx := context.Background()
	hc := rpc.NewHTTPClient()
	public := map[string]bool{}
	for _, p := range rpc.PublicProcedures {
		public[p] = true
	}
	served := map[string]int{}
	for _, p := range rpctest.Procedures() {
		ok, err := rpctest.Served(ctx, hc, n.URL(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || public[p.Path()] {
			continue
		}
		served[p.Service]++
		t.Run(p.Service+"/"+p.Method, func(t *testing.T) {
			err := rpctest.Call(ctx, hc, n.URL(), tok, p)
			if want, ok := selfService[p.Path()]; ok {
				if want == 0 && err != nil || want != 0 && connect.CodeOf(err) != want {
					t.Fatalf("self-service call: %v, want code %v", err, want)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Fatalf("a user with no role got %v, want permission_denied", err)
			}
		})
	}
	// The walk reached what a node serves.
	for _, svc := range []string{"branchline.access.v1.AccessService", "branchline.admin.v1.AdminService", "branchline.auth.v1.AuthService",
		"branchline.crm.v1.BlacklistService", "branchline.crm.v1.CustomerService", "branchline.crm.v1.MemberService",
		"branchline.pickup.v1.PickupService", "branchline.telephony.v1.TelephonyService", "branchline.warehouse.v1.WarehouseService"} {
		if served[svc] == 0 {
			t.Errorf("no procedure of %s found served: %v", svc, served)
		}
	}
}
