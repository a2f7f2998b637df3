package api

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"branchline/access"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

func newBlacklistService(t *testing.T, now time.Time) (*BlacklistService, *memStoreMembers) {
	st := newMemStoreMembers(t)
	return &BlacklistService{App: &crmapp.Blacklist{Store: st, Now: func() time.Time { return now }}, Grants: memberGrants, Log: memberLog()}, st
}

func flagAs(t *testing.T, s *BlacklistService, user, number string) *crmv1.BlacklistEntry {
	t.Helper()
	resp, err := s.Flag(asMemberUser(user), connect.NewRequest(&crmv1.FlagNumberRequest{Number: number, Reason: "骚扰"}))
	if err != nil {
		t.Fatalf("flag by %s: %v", user, err)
	}
	return resp.Msg
}

func TestBlacklistServiceFlags(t *testing.T) {
	s, st := newBlacklistService(t, memberNow)
	// Agents are distinct users with the agent grant.
	s.Grants = func(ctx context.Context, p *auth.Principal) (*access.Grant, error) {
		if strings.HasPrefix(p.User, "agent") {
			g, err := memberGrants(ctx, &auth.Principal{User: "agent"})
			g.User = p.User
			return g, err
		}
		return memberGrants(ctx, p)
	}
	e := flagAs(t, s, "agent1", "138 0013 8000")
	if e.GetListed() || e.GetFlags() != 1 || e.GetNumber() != "138****8000" || !e.GetNumberMasked() || e.GetThreshold() != 3 {
		t.Fatalf("after one flag: %v", e)
	}
	if e := flagAs(t, s, "agent1", "13800138000"); e.GetFlags() != 1 {
		t.Fatalf("a second flag of one agent counted: %v", e)
	}
	flagAs(t, s, "agent2", "13800138000")
	e = flagAs(t, s, "agent3", "+8613800138000")
	if !e.GetListed() || e.GetFlags() != 3 || e.GetPolicy() != crmv1.BlacklistPolicy_BLACKLIST_POLICY_WARN || e.GetRejects() || !e.GetActive() {
		t.Fatalf("after three flags: %v", e)
	}

	// Users with the phone permission see the number.
	got, err := s.GetStatus(asMemberUser("viewer"), connect.NewRequest(&crmv1.GetBlacklistStatusRequest{Name: e.GetName()}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetNumber() != "+8613800138000" || got.Msg.GetNumberMasked() || len(got.Msg.GetHistory()) != 3 || got.Msg.GetHistory()[0].GetActor() != "agent3" {
		t.Fatalf("status for a viewer: %v", got.Msg)
	}

	// The threshold and default policy are parameters.
	p, err := s.SetParams(asMemberUser("admin"), connect.NewRequest(&crmv1.SetBlacklistParamsRequest{Threshold: 4, DefaultPolicy: crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT}))
	if err != nil || p.Msg.GetThreshold() != 4 || p.Msg.GetDefaultPolicy() != crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT {
		t.Fatalf("SetParams: %v %v", p, err)
	}
	if got, err := s.GetParams(asMemberUser("agent"), connect.NewRequest(&crmv1.GetBlacklistParamsRequest{})); err != nil || !proto.Equal(got.Msg, p.Msg) {
		t.Fatalf("GetParams: %v %v", got, err)
	}
	if e := flagAs(t, s, "agent4", "13800138000"); !e.GetListed() || !e.GetRejects() {
		t.Fatalf("four flags, reject by default: %v", e)
	}

	// Un-blacklisting by name, with a reason, restarts the count.
	before := st.dump()
	_, err = s.Unblacklist(asMemberUser("agent1"), connect.NewRequest(&crmv1.UnblacklistNumberRequest{Name: e.GetName(), Reason: "x"}))
	wantMemberCode(t, err, connect.CodePermissionDenied)
	if !maps.Equal(before, st.dump()) {
		t.Fatal("a refused un-blacklisting changed the store")
	}
	un, err := s.Unblacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.UnblacklistNumberRequest{Name: e.GetName(), Reason: "误报"}))
	if err != nil {
		t.Fatal(err)
	}
	if un.Msg.GetListed() || un.Msg.GetFlags() != 0 || un.Msg.GetUnlistedBy() != "admin" || un.Msg.GetUnlistReason() != "误报" || un.Msg.GetUnlistTime() == nil {
		t.Fatalf("after un-blacklisting: %v", un.Msg)
	}
}

func TestBlacklistServiceDirectAndList(t *testing.T) {
	// 23:30 in Shanghai: inside a 22:00-08:00 window.
	s, _ := newBlacklistService(t, time.Date(2026, 11, 23, 15, 30, 0, 0, time.UTC))
	admin := asMemberUser("admin")
	e, err := s.Blacklist(admin, connect.NewRequest(&crmv1.BlacklistNumberRequest{
		Number: "021 6234 5678", Reason: "深夜骚扰", Policy: crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT,
		Windows: &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "22:00", End: "08:00"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Msg.GetDirect() || !e.Msg.GetActive() || !e.Msg.GetRejects() || e.Msg.GetNumber() != "+862162345678" {
		t.Fatalf("listed: %v", e.Msg)
	}
	for _, n := range []string{"13800138000", "13900139000", "13700137000"} {
		if _, err := s.Blacklist(admin, connect.NewRequest(&crmv1.BlacklistNumberRequest{Number: n, Reason: "spam"})); err != nil {
			t.Fatal(err)
		}
	}
	flagAs(t, s, "agent", "13600136000") // flagged once: not listed
	seen := map[string]bool{}
	token := ""
	for range 10 {
		resp, err := s.List(asMemberUser("agent"), connect.NewRequest(&crmv1.ListBlacklistRequest{PageSize: 3, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Msg.GetEntries() {
			if !e.GetNumberMasked() || strings.Contains(e.GetNumber(), "0013") || !e.GetListed() || seen[e.GetName()] {
				t.Fatalf("entry: %v", e)
			}
			seen[e.GetName()] = true
		}
		if token = resp.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != 4 {
		t.Fatalf("listed %d numbers, want 4", len(seen))
	}
	all, err := s.List(asMemberUser("viewer"), connect.NewRequest(&crmv1.ListBlacklistRequest{IncludeFlagged: true}))
	if err != nil || len(all.Msg.GetEntries()) != 5 {
		t.Fatalf("with flagged: %v %v", all, err)
	}
}

func TestBlacklistServiceRefusals(t *testing.T) {
	s, st := newBlacklistService(t, memberNow)
	if _, err := s.Blacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.BlacklistNumberRequest{Number: "13800138000", Reason: "spam"})); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("长", crm.MaxReason+1)
	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
	}{
		{"no caller", func() error {
			_, err := s.Flag(context.Background(), connect.NewRequest(&crmv1.FlagNumberRequest{Number: "13800138000"}))
			return err
		}, connect.CodeUnauthenticated},
		{"viewer flags", func() error {
			_, err := s.Flag(asMemberUser("viewer"), connect.NewRequest(&crmv1.FlagNumberRequest{Number: "13800138000"}))
			return err
		}, connect.CodePermissionDenied},
		{"agent blacklists", func() error {
			_, err := s.Blacklist(asMemberUser("agent"), connect.NewRequest(&crmv1.BlacklistNumberRequest{Number: "13900139000", Reason: "x"}))
			return err
		}, connect.CodePermissionDenied},
		{"agent sets the threshold", func() error {
			_, err := s.SetParams(asMemberUser("agent"), connect.NewRequest(&crmv1.SetBlacklistParamsRequest{Threshold: 1}))
			return err
		}, connect.CodePermissionDenied},
		{"nobody reads", func() error {
			_, err := s.GetStatus(asMemberUser("nobody"), connect.NewRequest(&crmv1.GetBlacklistStatusRequest{Number: "13800138000"}))
			return err
		}, connect.CodePermissionDenied},
		{"nobody lists", func() error {
			_, err := s.List(asMemberUser("nobody"), connect.NewRequest(&crmv1.ListBlacklistRequest{}))
			return err
		}, connect.CodePermissionDenied},
		{"bad number", func() error {
			_, err := s.Flag(asMemberUser("agent"), connect.NewRequest(&crmv1.FlagNumberRequest{Number: "call me"}))
			return err
		}, connect.CodeInvalidArgument},
		{"oversize reason", func() error {
			_, err := s.Flag(asMemberUser("agent"), connect.NewRequest(&crmv1.FlagNumberRequest{Number: "13900139000", Reason: long}))
			return err
		}, connect.CodeInvalidArgument},
		{"blacklist without reason", func() error {
			_, err := s.Blacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.BlacklistNumberRequest{Number: "13900139000"}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad window", func() error {
			_, err := s.Blacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.BlacklistNumberRequest{Number: "13900139000", Reason: "x",
				Windows: &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "25:00", End: "08:00"}}}}))
			return err
		}, connect.CodeInvalidArgument},
		{"unblacklist a clean number", func() error {
			_, err := s.Unblacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.UnblacklistNumberRequest{Number: "13900139000", Reason: "x"}))
			return err
		}, connect.CodeInvalidArgument},
		{"unblacklist without reason", func() error {
			_, err := s.Unblacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.UnblacklistNumberRequest{Number: "13800138000"}))
			return err
		}, connect.CodeInvalidArgument},
		{"unblacklist by number and name", func() error {
			_, err := s.Unblacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.UnblacklistNumberRequest{Number: "13800138000",
				Name: "blacklist/" + crm.BlacklistKey("+8613800138000"), Reason: "x"}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown name", func() error {
			_, err := s.GetStatus(asMemberUser("agent"), connect.NewRequest(&crmv1.GetBlacklistStatusRequest{Name: "blacklist/" + crm.BlacklistKey("+8613900139000")}))
			return err
		}, connect.CodeNotFound},
		{"bad name", func() error {
			_, err := s.GetStatus(asMemberUser("agent"), connect.NewRequest(&crmv1.GetBlacklistStatusRequest{Name: "numbers/1"}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad threshold", func() error {
			_, err := s.SetParams(asMemberUser("admin"), connect.NewRequest(&crmv1.SetBlacklistParamsRequest{Threshold: crm.MaxBlacklistThreshold + 1}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad page token", func() error {
			_, err := s.List(asMemberUser("agent"), connect.NewRequest(&crmv1.ListBlacklistRequest{PageToken: "+8613800138000"}))
			return err
		}, connect.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := st.dump()
			wantMemberCode(t, tc.call(), tc.code)
			if !maps.Equal(before, st.dump()) {
				t.Fatal("a refused call changed the store")
			}
		})
	}
}

// TestBlacklistCustomerStatus: a reader who may not see phone numbers
// still gets the blacklist warnings of a customer's numbers, masked.
func TestBlacklistCustomerStatus(t *testing.T) {
	s, st := newBlacklistService(t, memberNow)
	id := replication.NewIDs().New(memberNow)
	if _, err := st.Exec(context.Background(), "admin", func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(views, id, map[string]string{"display_name": "来电客户", "mobile": "13800138000", "phone": "021-62345678"})
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blacklist(asMemberUser("admin"), connect.NewRequest(&crmv1.BlacklistNumberRequest{Number: "13800138000", Reason: "骚扰", Policy: crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT})); err != nil {
		t.Fatal(err)
	}
	resp, err := s.GetCustomerStatus(asMemberUser("agent"), connect.NewRequest(&crmv1.GetCustomerBlacklistStatusRequest{Customer: "customers/" + id}))
	if err != nil {
		t.Fatal(err)
	}
	es := resp.Msg.GetEntries()
	if len(es) != 1 || !es[0].GetListed() || !es[0].GetRejects() || es[0].GetNumber() != "138****8000" || !es[0].GetNumberMasked() {
		t.Fatalf("agent sees %v; want the mobile listed (reject), masked, and not the clean landline", es)
	}
	if _, err := s.GetCustomerStatus(asMemberUser("nobody"), connect.NewRequest(&crmv1.GetCustomerBlacklistStatusRequest{Customer: "customers/" + id})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a caller without customer.read: %v", err)
	}
	if _, err := s.GetCustomerStatus(asMemberUser("agent"), connect.NewRequest(&crmv1.GetCustomerBlacklistStatusRequest{Customer: "customers/nope"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("a bad customer name: %v", err)
	}
}
