package node_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/xuri/excelize/v2"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/internal/rpctest"
	"branchline/node"
	"branchline/rpc"
	"branchline/wiring"
)

// The node's API as an outsider meets it: a real node on a real listener.

const adminPW = "security-test-pw"

func startTestNode(t *testing.T) *node.Node {
	t.Helper()
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "sh-sec", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminPassword: adminPW, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n.Node
}

// adminToken logs the node's local administrator in over the API.
func adminToken(t *testing.T, n *node.Node) string {
	t.Helper()
	lr, err := authv1connect.NewAuthServiceClient(rpc.NewHTTPClient(), n.URL()).Login(context.Background(),
		connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: adminPW}))
	if err != nil {
		t.Fatal(err)
	}
	return lr.Msg.GetToken()
}

// TestAPIAnswersAreNotSniffed: every API answer, refused or not, and the
// health and metrics endpoints say nosniff, so that no browser reads an
// error text echoing input as HTML or script.
func TestAPIAnswersAreNotSniffed(t *testing.T) {
	n := startTestNode(t)
	tok := adminToken(t, n)
	hc := rpc.NewHTTPClient()
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"login refused", http.MethodPost, "/branchline.auth.v1.AuthService/Login", "", `{"username":"<b>x</b>","password":"wrong-password"}`, http.StatusUnauthorized},
		{"no token", http.MethodPost, "/branchline.auth.v1.AuthService/WhoAmI", "", `{}`, http.StatusUnauthorized},
		{"who am I", http.MethodPost, "/branchline.auth.v1.AuthService/WhoAmI", tok, `{}`, http.StatusOK},
		{"bad JSON", http.MethodPost, "/branchline.auth.v1.AuthService/WhoAmI", tok, `{<script>`, http.StatusBadRequest},
		{"unknown procedure", http.MethodPost, "/branchline.auth.v1.AuthService/Nope", tok, `{}`, http.StatusNotFound},
		{"health", http.MethodGet, "/healthz", "", "", http.StatusOK},
		{"metrics", http.MethodGet, "/metrics", "", "", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, n.URL()+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Fatalf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

// TestLoginLockoutSparesTheSharedAddress: a branch shares one address. 20
// failed API logins of made-up names from it leave the administrator's
// correct password working; failures of the administrator's own name from
// it lock that name out there; every failure is in the audit log.
func TestLoginLockoutSparesTheSharedAddress(t *testing.T) {
	n := startTestNode(t)
	ctx := context.Background()
	authc := authv1connect.NewAuthServiceClient(rpc.NewHTTPClient(), n.URL())
	login := func(user, pw string) (string, error) {
		lr, err := authc.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: user, Password: pw}))
		if err != nil {
			return "", err
		}
		return lr.Msg.GetToken(), nil
	}
	for i := range 20 {
		if _, err := login(fmt.Sprintf("made.up%d", i), "not-a-password"); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("made-up user %d: %v, want unauthenticated", i, err)
		}
	}
	tok, err := login("admin", adminPW)
	if err != nil {
		t.Fatalf("the administrator after 20 failures of made-up names from the same address: %v", err)
	}

	// The administrator's own name, failed from this address: locked out
	// with the right password too, for a while.
	for i := range 5 {
		if _, err := login("admin", "not-the-password"); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	_, err = login("admin", adminPW)
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "try again in") {
		t.Fatalf("the right password after 5 failures of the same name from the same address: %v, want resource_exhausted", err)
	}

	// Every failure is in the audit log.
	audit := accessv1connect.NewAccessServiceClient(rpc.NewHTTPClient(), n.URL(), rpc.WithBearer(tok))
	resp, err := audit.ListAudit(ctx, connect.NewRequest(&accessv1.ListAuditRequest{Action: "login_failed", PageSize: 100}))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]int{}
	for _, e := range resp.Msg.GetEntries() {
		failed[e.GetActor()]++
	}
	if len(failed) != 21 || failed["made.up0"] != 1 || failed["made.up19"] != 1 || failed["admin"] != 5 {
		t.Fatalf("failed logins audited: %v, want each of the 20 made-up names once and admin 5 times", failed)
	}
}

// TestExportsCarryNoFormulas: customer fields that a spreadsheet program
// would run as formulas (=, +, -, @, tab, CR first) are exported as text —
// an apostrophe before them in CSV, text cells in XLSX — and a foreign
// phone number stays readable.
func TestExportsCarryNoFormulas(t *testing.T) {
	n := startTestNode(t)
	ctx := context.Background()
	crmc := crmv1connect.NewCustomerServiceClient(rpc.NewHTTPClient(), n.URL(), rpc.WithBearer(adminToken(t, n)))
	if _, err := crmc.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{AllowDuplicate: true, Customer: &crmv1.Customer{
		DisplayName: "-2+3", Note: "+1+2", Address: "@SUM(1+1)", Industry: "=HYPERLINK(\"http://evil.example\")",
		City: "\t=1+1", Website: "\r=1+1", Mobile: "+44 7911 123456",
	}})); err != nil {
		t.Fatal(err)
	}
	const phone = "+44 7911 123456"
	live := func(c string) bool { return c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) }

	for _, format := range []crmv1.FileFormat{crmv1.FileFormat_FILE_FORMAT_CSV, crmv1.FileFormat_FILE_FORMAT_XLSX} {
		resp, err := crmc.ExportCustomers(ctx, connect.NewRequest(&crmv1.ExportCustomersRequest{Format: format}))
		if err != nil {
			t.Fatal(err)
		}
		var cells []string
		var phoneCell string
		if format == crmv1.FileFormat_FILE_FORMAT_CSV {
			rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(resp.Msg.GetContent(), []byte("\ufeff")))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				for _, c := range r {
					if live(c) {
						t.Errorf("CSV cell %q starts with a formula character", c)
					}
					if strings.HasSuffix(c, phone) {
						phoneCell = c
					}
					cells = append(cells, c)
				}
			}
			if phoneCell != "'"+phone {
				t.Errorf("CSV phone cell %q, want %q", phoneCell, "'"+phone)
			}
		} else {
			x, err := excelize.OpenReader(bytes.NewReader(resp.Msg.GetContent()))
			if err != nil {
				t.Fatal(err)
			}
			rows, err := x.GetRows("Sheet1")
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rows {
				for j, c := range r {
					cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
					typ, _ := x.GetCellType("Sheet1", cell)
					f, _ := x.GetCellFormula("Sheet1", cell)
					id, _ := x.GetCellStyle("Sheet1", cell)
					st, err := x.GetStyle(id)
					if err != nil || f != "" || typ != excelize.CellTypeInlineString || st.NumFmt != 49 {
						t.Errorf("XLSX cell %s %q: formula %q, type %v, format %+v (%v); want a text cell", cell, c, f, typ, st, err)
					}
					if c == phone {
						phoneCell = c
					}
					cells = append(cells, c)
				}
			}
			x.Close()
			if phoneCell != phone {
				t.Errorf("the XLSX lacks the phone number as written, %q", phone)
			}
		}
		if !strings.Contains(strings.Join(cells, "|"), "+1+2") {
			t.Fatalf("%v export lacks the customer: %q", format, cells)
		}
	}
}

// userWithRole creates a user holding one role of perms (scope all) and
// returns the user's resource name.
func userWithRole(t *testing.T, n *node.Node, username, password string, mustChange bool, perms ...string) string {
	t.Helper()
	ctx := context.Background()
	acc := accessv1connect.NewAccessServiceClient(rpc.NewHTTPClient(), n.URL(), rpc.WithBearer(adminToken(t, n)))
	var ps []*accessv1.Permission
	for _, p := range perms {
		ps = append(ps, &accessv1.Permission{Permission: p, Scope: accessv1.Scope_SCOPE_ALL})
	}
	role, err := acc.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: username + " 的角色", Permissions: ps}}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := acc.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: username, DisplayName: username, MustChangePassword: mustChange}, Password: password}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()})); err != nil {
		t.Fatal(err)
	}
	return u.Msg.GetName()
}

// TestMustChangePasswordComesFirst: a user whose administrator set
// must_change_password signs in, but every other call of the API is
// refused with a clear failed_precondition until they have changed their
// password; bad changes are refused and change nothing; the change is
// audited and clears the flag.
func TestMustChangePasswordComesFirst(t *testing.T) {
	n := startTestNode(t)
	ctx := context.Background()
	hc := rpc.NewHTTPClient()
	const oldPW, newPW = "first-password", "second-password"
	userWithRole(t, n, "li.lei", oldPW, true, "customer.read")
	authc := authv1connect.NewAuthServiceClient(hc, n.URL())
	lr, err := authc.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: "li.lei", Password: oldPW}))
	if err != nil {
		t.Fatal(err)
	}
	tok := lr.Msg.GetToken()

	for _, p := range rpctest.Procedures() {
		if served, err := rpctest.Served(ctx, hc, n.URL(), p); err != nil || !served ||
			p.Path() == authv1connect.AuthServiceLoginProcedure || p.Path() == authv1connect.AuthServiceChangePasswordProcedure {
			continue
		}
		err := rpctest.Call(ctx, hc, n.URL(), tok, p)
		if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "change your password") {
			t.Errorf("%s before the password change: %v, want failed_precondition saying to change the password", p, err)
		}
	}

	mine := authv1connect.NewAuthServiceClient(hc, n.URL(), rpc.WithBearer(tok))
	change := func(current, next string) error {
		_, err := mine.ChangePassword(ctx, connect.NewRequest(&authv1.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}))
		return err
	}
	for _, c := range []struct{ name, current, next, field string }{
		{"wrong current password", "not-the-password", newPW, "current_password"},
		{"the same password", oldPW, oldPW, "new_password"},
		{"too short", oldPW, "short", "new_password"},
		{"no current password", "", newPW, "current_password"},
	} {
		err := change(c.current, c.next)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.field) {
			t.Fatalf("%s: %v, want invalid_argument on %s", c.name, err, c.field)
		}
	}
	crmc := crmv1connect.NewCustomerServiceClient(hc, n.URL(), rpc.WithBearer(tok))
	if _, err := crmc.ListCustomers(ctx, connect.NewRequest(&crmv1.ListCustomersRequest{})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("after refused changes: %v, want still failed_precondition", err)
	}
	if err := change(oldPW, newPW); err != nil {
		t.Fatal(err)
	}
	if _, err := crmc.ListCustomers(ctx, connect.NewRequest(&crmv1.ListCustomersRequest{})); err != nil {
		t.Fatalf("after the change, the same token: %v", err)
	}
	if _, err := authc.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: "li.lei", Password: oldPW})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("the old password still logs in: %v", err)
	}
	if _, err := authc.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: "li.lei", Password: newPW})); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	audit := accessv1connect.NewAccessServiceClient(hc, n.URL(), rpc.WithBearer(adminToken(t, n)))
	resp, err := audit.ListAudit(ctx, connect.NewRequest(&accessv1.ListAuditRequest{Action: "password_changed", Actor: "li.lei"}))
	if err != nil || len(resp.Msg.GetEntries()) != 1 || !strings.Contains(resp.Msg.GetEntries()[0].GetDetail(), "by the user") {
		t.Fatalf("audit of the change: %v, %v", resp, err)
	}

	// Guessing the current password through the change is throttled like
	// logins.
	userWithRole(t, n, "han.meimei", oldPW, false, "customer.read")
	lr, err = authc.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: "han.meimei", Password: oldPW}))
	if err != nil {
		t.Fatal(err)
	}
	mine = authv1connect.NewAuthServiceClient(hc, n.URL(), rpc.WithBearer(lr.Msg.GetToken()))
	for range 5 {
		if err := change("a-wrong-guess", newPW); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatal(err)
		}
	}
	if err := change(oldPW, newPW); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("the right password after 5 wrong guesses: %v, want resource_exhausted", err)
	}
}
