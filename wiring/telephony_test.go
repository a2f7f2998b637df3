package wiring

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
	"branchline/telephony/pbx"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

// TestTelephonyHooks runs the switch's hooks on a real node store: the
// screen pop carries the caller's customer card to the agent's SSE topic,
// with the number masked for an agent without the phone permission; an
// unknown number pops with no customer, and the blacklist hook reads the
// CRM's policy.
func TestTelephonyHooks(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nd := openNode(t, "sh-pudong", log)
	store := nd.Store()
	n := switchHooks{store: store, log: log, broker: web.NewBroker()}
	ctx := context.Background()
	id := replication.NewIDs().New(time.Now())
	if _, err := store.Exec(ctx, "admin", func(v replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(v, id, map[string]string{"display_name": "上海申通", "phone": "13800138000", "level": "VIP"})
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Exec(ctx, "admin", func(v replication.Tx) ([]replication.Draft, error) {
		d, err := crm.BlacklistNumber(v, "13900000666", "nuisance", crm.PolicyReject, nil)
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}

	// Two agents: zhang may not see phone numbers, wang may.
	ids := replication.NewIDs()
	accessSvc := &api.AccessService{App: &accessapp.Admin{Store: store, IDs: ids, Node: "sh-pudong"}, Grants: app.AdminGrants, Log: log}
	admin := auth.WithPrincipal(ctx, &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}})
	for user, perms := range map[string][]string{"zhang": {"call.agent", "customer.read"}, "wang": {"call.agent", "customer.read", "customer.phone"}} {
		var ps []*accessv1.Permission
		for _, p := range perms {
			ps = append(ps, &accessv1.Permission{Permission: p, Scope: accessv1.Scope_SCOPE_ALL})
		}
		role, err := accessSvc.CreateRole(admin, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: user, Permissions: ps}}))
		if err != nil {
			t.Fatal(err)
		}
		u, err := accessSvc.CreateUser(admin, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: user, DisplayName: user}, Password: "agent-password"}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := accessSvc.AssignRole(admin, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()})); err != nil {
			t.Fatal(err)
		}
	}
	tel, grants := &telephonyapp.Telephony{Store: store}, app.AccessGrants(store, nil)

	for i, want := range []struct {
		agent, call, caller, shown, customer string
	}{
		{"zhang", "c1", "13800138000", "138****8000", id},
		{"zhang", "c2", "anonymous", "", ""},
		{"wang", "c3", "13800138000", "13800138000", id},
	} {
		events, done := n.broker.Subscribe("user:" + want.agent)
		n.screenPop(tel, grants, want.agent, pbx.CallInfo{ID: want.call, Direction: "inbound", Caller: want.caller, DID: "4000", Queue: "sales"})
		select {
		case ev := <-events:
			var pop struct {
				Call      string `json:"call"`
				Caller    string `json:"caller"`
				Customers []struct {
					ID, Name, Level string
				} `json:"customers"`
			}
			if ev.Name != "call.ring" || json.Unmarshal([]byte(ev.Data), &pop) != nil || pop.Call != want.call {
				t.Fatalf("pop %d = %+v", i, ev)
			}
			if want.shown != "" && pop.Caller != want.shown || strings.Contains(ev.Data, "13800138000") != (want.shown == want.caller) {
				t.Fatalf("pop %d for %s shows the caller as %q: %s", i, want.agent, pop.Caller, ev.Data)
			}
			if want.customer == "" && len(pop.Customers) != 0 ||
				want.customer != "" && (len(pop.Customers) != 1 || pop.Customers[0].ID != want.customer || pop.Customers[0].Name != "上海申通") {
				t.Fatalf("pop %d customers = %+v", i, pop.Customers)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no screen pop %d", i)
		}
		done()
	}
	if reject, _ := n.blacklisted("13900000666"); !reject {
		t.Fatal("a listed number with the reject policy is not rejected")
	}
	if reject, warn := n.blacklisted("13800138000"); reject || warn {
		t.Fatal("a clean number is blacklisted")
	}
	if reject, warn := n.blacklisted("not a number"); reject || warn {
		t.Fatal("an unparsable number is blacklisted")
	}

	// With SIP: the switch listens, the service is wired to it, and it
	// closes cleanly.
	parts, err := startTelephony(nd, TelephonyConfig{SIPAddr: "127.0.0.1:0", Location: time.UTC}, app.AdminGrants, n.broker)
	if err != nil {
		t.Fatal(err)
	}
	if parts.sip == nil || parts.app.Switch == nil || !strings.HasPrefix(parts.sip.UDPAddr(), "127.0.0.1:") {
		t.Fatalf("parts = %+v", parts)
	}
	if err := parts.close(); err != nil {
		t.Fatal(err)
	}
	// Without SIP the service still serves configuration and records.
	parts, err = startTelephony(nd, TelephonyConfig{}, app.AdminGrants, n.broker)
	if err != nil || parts.sip != nil || parts.close() != nil {
		t.Fatalf("without SIP: %+v %v", parts, err)
	}
}
