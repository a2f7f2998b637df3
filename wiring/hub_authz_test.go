package wiring

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/auth"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/internal/rpctest"
	"branchline/rpc"
)

// TestNoRoleCallerIsDeniedEveryCall walks every procedure a hub member
// serves, as read from the generated service descriptors, and calls it
// with a valid token of a user with no role: each answers
// permission_denied but the public login and the caller's own who-am-I
// and password change.
func TestNoRoleCallerIsDeniedEveryCall(t *testing.T) {
	h := startTestMember(t)
	signer, err := h.Signer()
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := signer.Issue(auth.Principal{User: "no.role"}, time.Now(), time.Hour)
	ctx := context.Background()
	hc := rpc.NewHTTPClient()
	served := map[string]int{}
	for _, p := range rpctest.Procedures() {
		ok, err := rpctest.Served(ctx, hc, h.URL(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || p.Path() == authv1connect.AuthServiceLoginProcedure {
			continue
		}
		served[p.Service]++
		t.Run(p.Service+"/"+p.Method, func(t *testing.T) {
			err := rpctest.Call(ctx, hc, h.URL(), tok, p)
			switch p.Path() {
			case authv1connect.AuthServiceWhoAmIProcedure:
				if err != nil {
					t.Fatalf("who am I refused: %v", err)
				}
				return
			case authv1connect.AuthServiceChangePasswordProcedure:
				// The cluster admin is the hub's only account, with no
				// password to change over the API.
				if connect.CodeOf(err) != connect.CodeFailedPrecondition {
					t.Fatalf("change password: %v, want failed_precondition", err)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Fatalf("a caller with no role got %v, want permission_denied", err)
			}
		})
	}
	for _, svc := range []string{"branchline.admin.v1.AdminService", "branchline.admin.v1.ClusterService",
		"branchline.auth.v1.AuthService", "branchline.replication.v1.ReplicationService"} {
		if served[svc] == 0 {
			t.Errorf("no procedure of %s found served: %v", svc, served)
		}
	}
}
