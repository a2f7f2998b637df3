package api

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// pickupGrants: each test user holds one role's permissions.
func pickupGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	g := &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{}}
	switch p.User {
	case "admin":
		return access.Superuser(p.User), nil
	case "agent":
		g.Scopes[access.PickupWrite] = access.ScopeAll
	case "disp":
		g.Scopes[access.PickupDispatch] = access.ScopeAll
	case "fin":
		g.Scopes[access.FinanceManage] = access.ScopeAll
	case "sup":
		g.Scopes[access.Supervise] = access.ScopeAll
	case "li", "wang":
		g.Scopes[access.PickupCourier] = access.ScopeOwn
	}
	return g, nil
}

// changes records what OnChange was told.
type changes struct {
	mu    sync.Mutex
	kinds []string
}

func (c *changes) record(_ context.Context, evs []*replication.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		c.kinds = append(c.kinds, ev.Kind)
	}
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.kinds
	c.kinds = nil
	return k
}

var shanghaiTZ = time.FixedZone("CST", 8*3600)

// newPickupService returns the service of node sh-pudong (the memStore's
// origin) with a zone "pudong", couriers li and wang on duty in it, and a
// customer, whose id it returns.
func newPickupService(t *testing.T) (*PickupService, *memStore, *changes, string) {
	t.Helper()
	st := newMemStore(t, crm.RegisterCustomers, pickup.Register)
	ch := &changes{}
	s := &PickupService{App: &pickupapp.Pickups{Store: st, IDs: replication.NewIDs(), Node: "sh-pudong", Location: shanghaiTZ,
		OnChange: ch.record}, Grants: pickupGrants, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := asUser("disp")
	if _, err := s.SetZone(ctx, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{
		Id: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"},
	}})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*pickupv1.Courier{
		{User: "li", Name: "李师傅", Extension: "8101", OnDuty: true, Zones: []string{"pudong"}},
		{User: "wang", Name: "王师傅", Extension: "8102", OnDuty: true, Zones: []string{"pudong"}},
	} {
		if _, err := s.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: c})); err != nil {
			t.Fatal(err)
		}
	}
	cust := s.App.IDs.New(time.Now())
	if _, err := st.Exec(context.Background(), "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return app.One(crm.CreateCustomer(v, cust, map[string]string{"display_name": "张三贸易"}))
	}); err != nil {
		t.Fatal(err)
	}
	ch.take()
	return s, st, ch, cust
}

func booking() *pickupv1.CreatePickupRequest {
	return &pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "张三", Phone: "13800000001", Address: "上海市浦东新区张杨路 500 号", Postcode: "200120"},
		Receiver:    &pickupv1.Party{Name: "王五", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号"},
		Destination: "北京", Goods: "文件", WeightGrams: 1200, Payment: "cash",
	}
}

func book(t *testing.T, s *PickupService, req *pickupv1.CreatePickupRequest) *pickupv1.CreatePickupResponse {
	t.Helper()
	res, err := s.CreatePickup(asUser("agent"), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg
}

func TestPickupServiceWorkflow(t *testing.T) {
	s, _, ch, _ := newPickupService(t)
	res := book(t, s, booking())
	p := res.GetPickup()
	day := time.Now().In(shanghaiTZ).Format("060102")
	if p.GetNumber() != "P-sh-pudong-"+day+"-0001" || p.GetWaybill() != "sh-pudong-"+day+"-0001" ||
		p.GetStatus() != "assigned" || p.GetCourier() != "li" || p.GetZone() != "pudong" || p.GetPriceFen() != 1700 ||
		p.GetBranch() != "sh-pudong" || p.GetEnteredBy() != "agent" || res.GetQuote().GetFinalFen() != 1700 || res.GetWarning() != nil {
		t.Fatalf("booked %v", res)
	}
	if got := strings.Join(ch.take(), " "); got != "crm.pickup.created crm.pickup.assigned" {
		t.Fatalf("OnChange got %s", got)
	}
	// Only the courier it is assigned to sees it, among couriers.
	if g, err := s.GetPickup(asUser("li"), connect.NewRequest(&pickupv1.GetPickupRequest{Id: p.GetWaybill()})); err != nil || g.Msg.GetId() != p.GetId() {
		t.Fatalf("li gets %v, %v", g, err)
	}
	_, err := s.GetPickup(asUser("wang"), connect.NewRequest(&pickupv1.GetPickupRequest{Id: p.GetId()}))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = s.GetPickup(asUser("nobody"), connect.NewRequest(&pickupv1.GetPickupRequest{Id: p.GetId()}))
	wantCode(t, err, connect.CodePermissionDenied)
	other := book(t, s, booking()).GetPickup() // wang's
	ch.take()
	l, err := s.ListPickups(asUser("li"), connect.NewRequest(&pickupv1.ListPickupsRequest{}))
	if err != nil || len(l.Msg.GetPickups()) != 1 || l.Msg.GetPickups()[0].GetId() != p.GetId() {
		t.Fatalf("li lists %v, %v", l, err)
	}
	_, err = s.ListPickups(asUser("li"), connect.NewRequest(&pickupv1.ListPickupsRequest{Courier: "wang"}))
	wantCode(t, err, connect.CodePermissionDenied)
	l, err = s.ListPickups(asUser("agent"), connect.NewRequest(&pickupv1.ListPickupsRequest{PageSize: 1}))
	if err != nil || len(l.Msg.GetPickups()) != 1 || l.Msg.GetPickups()[0].GetId() != other.GetId() || l.Msg.GetNextPageToken() == "" {
		t.Fatalf("agent's first page %v, %v", l, err)
	}
	l, err = s.ListPickups(asUser("sup"), connect.NewRequest(&pickupv1.ListPickupsRequest{PageSize: 1, PageToken: l.Msg.GetNextPageToken()}))
	if err != nil || len(l.Msg.GetPickups()) != 1 || l.Msg.GetPickups()[0].GetId() != p.GetId() || l.Msg.GetNextPageToken() != "" {
		t.Fatalf("second page %v, %v", l, err)
	}

	li := asUser("li")
	if _, err := s.AcceptPickup(li, connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: p.GetNumber()})); err != nil {
		t.Fatal(err)
	}
	got, err := s.PickUp(li, connect.NewRequest(&pickupv1.PickUpRequest{Id: p.GetId(), WeightGrams: 2500}))
	if err != nil || got.Msg.GetStatus() != "picked_up" || got.Msg.GetActualPriceFen() != 2200 || got.Msg.GetPickedUpBy() != "li" {
		t.Fatalf("picked up %v, %v", got, err)
	}
	if got := strings.Join(ch.take(), " "); got != "crm.pickup.accepted crm.pickup.picked_up" {
		t.Fatalf("OnChange got %s", got)
	}
	got, err = s.CheckPickup(asUser("agent"), connect.NewRequest(&pickupv1.CheckPickupRequest{Id: p.GetId(), Note: "核对无误"}))
	if err != nil || got.Msg.GetStatus() != "checked" || len(got.Msg.GetHistory()) != 5 {
		t.Fatalf("checked %v, %v", got, err)
	}
	tr, err := s.Track(asUser("agent"), connect.NewRequest(&pickupv1.TrackRequest{Waybill: p.GetWaybill()}))
	if err != nil || tr.Msg.GetStatus() != "checked" || len(tr.Msg.GetHistory()) != 5 || tr.Msg.GetHistory()[0].GetStatus() != "new" {
		t.Fatalf("track %v, %v", tr, err)
	}

	// wang fails his, the dispatcher retries with li, the agent edits and
	// then cancels it.
	if _, err := s.FailPickup(asUser("wang"), connect.NewRequest(&pickupv1.FailPickupRequest{Id: other.GetId(), Reason: "无人"})); err != nil {
		t.Fatal(err)
	}
	got, err = s.ReassignPickup(asUser("disp"), connect.NewRequest(&pickupv1.ReassignPickupRequest{Id: other.GetId(), Courier: "li"}))
	if err != nil || got.Msg.GetStatus() != "assigned" || got.Msg.GetCourier() != "li" || got.Msg.GetAssignedBy() != "disp" {
		t.Fatalf("reassigned %v, %v", got, err)
	}
	got, err = s.UpdatePickup(asUser("agent"), connect.NewRequest(&pickupv1.UpdatePickupRequest{Id: other.GetId(),
		Fields: map[string]string{"note": "下午三点后", "sender_phone": "13800000002"}}))
	if err != nil || got.Msg.GetNote() != "下午三点后" {
		t.Fatalf("updated %v, %v", got, err)
	}
	// The agent (no phone.view) sees the numbers masked; whoever may see
	// them, and the courier the pickup is assigned to, see them whole.
	if ph := got.Msg.GetSender().GetPhone(); !strings.Contains(ph, "*") || strings.Contains(ph, "13800000002") {
		t.Fatalf("the agent sees the sender's phone %q, want it masked", ph)
	}
	for _, who := range []string{"admin", "li"} {
		g, err := s.GetPickup(asUser(who), connect.NewRequest(&pickupv1.GetPickupRequest{Id: other.GetId()}))
		if err != nil || g.Msg.GetSender().GetPhone() != "+8613800000002" || g.Msg.GetReceiver().GetPhone() != "+8613900000009" {
			t.Fatalf("%s gets phones %q, %q, %v; want them whole", who, g.Msg.GetSender().GetPhone(), g.Msg.GetReceiver().GetPhone(), err)
		}
	}
	if l, err := s.ListPickups(asUser("agent"), connect.NewRequest(&pickupv1.ListPickupsRequest{})); err != nil || len(l.Msg.GetPickups()) == 0 ||
		!strings.Contains(l.Msg.GetPickups()[0].GetReceiver().GetPhone(), "*") {
		t.Fatalf("the agent's list: %v, %v; want masked phones", l, err)
	}
	got, err = s.CancelPickup(asUser("agent"), connect.NewRequest(&pickupv1.CancelPickupRequest{Id: other.GetWaybill(), Reason: "客户取消"}))
	if err != nil || got.Msg.GetStatus() != "cancelled" || got.Msg.GetCancelledBy() != "agent" {
		t.Fatalf("cancelled %v, %v", got, err)
	}
	if cs, err := s.ListConflicts(asUser("agent"), connect.NewRequest(&pickupv1.ListConflictsRequest{})); err != nil || len(cs.Msg.GetConflicts()) != 0 {
		t.Fatalf("conflicts %v, %v", cs, err)
	}

	// Reports.
	cd, err := s.CourierDay(asUser("sup"), connect.NewRequest(&pickupv1.CourierDayRequest{}))
	// wang's failure was retried with li: both pickups are li's now.
	if err != nil || len(cd.Msg.GetCouriers()) != 1 {
		t.Fatalf("courier day %v, %v", cd, err)
	}
	if c := cd.Msg.GetCouriers()[0]; c.GetCourier() != "li" || c.GetName() != "李师傅" || c.GetPickedUp() != 1 || c.GetRevenueFen() != 2200 || c.GetAssigned() != 2 {
		t.Fatalf("li's day %v", c)
	}
	sum, err := s.GetSummary(asUser("sup"), connect.NewRequest(&pickupv1.GetSummaryRequest{}))
	if err != nil || len(sum.Msg.GetByBranch()) != 1 || sum.Msg.GetByBranch()[0].GetPickups() != 2 || sum.Msg.GetByBranch()[0].GetRevenueFen() != 2200 {
		t.Fatalf("summary %v, %v", sum, err)
	}
	cs, err := s.ListCouriers(asUser("agent"), connect.NewRequest(&pickupv1.ListCouriersRequest{Zone: "pudong"}))
	if err != nil || len(cs.Msg.GetCouriers()) != 2 || cs.Msg.GetCouriers()[0].GetOpen() != 0 {
		t.Fatalf("couriers %v, %v", cs, err)
	}
	zs, err := s.ListZones(asUser("agent"), connect.NewRequest(&pickupv1.ListZonesRequest{}))
	if err != nil || len(zs.Msg.GetZones()) != 1 || zs.Msg.GetZones()[0].GetPostcodes()[0] != "2001" {
		t.Fatalf("zones %v, %v", zs, err)
	}
}

func TestPickupServiceFinance(t *testing.T) {
	s, _, _, cust := newPickupService(t)
	fin := asUser("fin")
	if rp, err := s.GetRatePlans(asUser("agent"), connect.NewRequest(&pickupv1.GetRatePlansRequest{})); err != nil ||
		len(rp.Msg.GetPlans()) != 1 || rp.Msg.GetPlans()[0].GetRows()[0].GetArea() != "*" {
		t.Fatalf("default plans %v, %v", rp, err)
	}
	_, err := s.SetRatePlan(asUser("agent"), connect.NewRequest(&pickupv1.SetRatePlanRequest{Plan: &pickupv1.RatePlan{Id: "standard"}}))
	wantCode(t, err, connect.CodePermissionDenied)
	if _, err := s.SetRatePlan(fin, connect.NewRequest(&pickupv1.SetRatePlanRequest{Plan: &pickupv1.RatePlan{Id: "standard", Rows: []*pickupv1.RateRow{
		{Area: "*", FirstGrams: 1000, FirstFen: 1000, StepGrams: 1000, StepFen: 400},
		{Area: "北京", FirstGrams: 1000, FirstFen: 1500, StepGrams: 1000, StepFen: 500},
	}}})); err != nil {
		t.Fatal(err)
	}
	plan, err := s.SetRatePlan(fin, connect.NewRequest(&pickupv1.SetRatePlanRequest{Plan: &pickupv1.RatePlan{Id: cust, Percent: 80}}))
	if err != nil || plan.Msg.GetId() != cust || plan.Msg.GetPercent() != 80 {
		t.Fatalf("customer plan %v, %v", plan, err)
	}
	tiers, err := s.SetDiscountTiers(fin, connect.NewRequest(&pickupv1.SetDiscountTiersRequest{Tiers: []*pickupv1.DiscountTier{{MinCount: 2, Percent: 50}}}))
	if err != nil || len(tiers.Msg.GetTiers()) != 1 {
		t.Fatalf("tiers %v, %v", tiers, err)
	}
	q, err := s.Quote(asUser("agent"), connect.NewRequest(&pickupv1.QuoteRequest{Customer: cust, Destination: "北京", WeightGrams: 2000}))
	if err != nil || q.Msg.GetBaseFen() != 2000 || q.Msg.GetPlannedFen() != 1600 || q.Msg.GetFinalFen() != 1600 || q.Msg.GetVolume() != 1 {
		t.Fatalf("quote %v, %v", q, err)
	}
	acct, err := s.RecordPayment(fin, connect.NewRequest(&pickupv1.RecordPaymentRequest{Customer: cust, Kind: "deposit", AmountFen: 2000}))
	if err != nil || acct.Msg.GetDepositFen() != 2000 {
		t.Fatalf("deposit %v, %v", acct, err)
	}
	req := booking()
	req.Customer, req.Payment, req.Destination, req.WeightGrams = cust, "monthly", "北京", 2000
	if res := book(t, s, req); res.GetWarning() != nil || res.GetPickup().GetPriceFen() != 1600 {
		t.Fatalf("first monthly booking %v", res)
	}
	// The second of the month gets the 50% tier and passes the deposit:
	// 1600 + 800 > 2000.
	res := book(t, s, req)
	if w := res.GetWarning(); w == nil || w.GetUnsettledFen() != 1600 || w.GetPriceFen() != 800 || w.GetDepositFen() != 2000 {
		t.Fatalf("second monthly booking %v", res)
	}
	acct, err = s.RecordPayment(fin, connect.NewRequest(&pickupv1.RecordPaymentRequest{Customer: cust, Kind: "payment", AmountFen: 1000, Note: "转账"}))
	if err != nil || acct.Msg.GetUnsettledFen() != 1400 {
		t.Fatalf("after payment %v, %v", acct, err)
	}
	_, err = s.GetAccount(asUser("agent"), connect.NewRequest(&pickupv1.GetAccountRequest{Customer: cust}))
	wantCode(t, err, connect.CodePermissionDenied)
	stm, err := s.GetStatement(fin, connect.NewRequest(&pickupv1.GetStatementRequest{Customer: cust}))
	if err != nil || stm.Msg.GetChargesFen() != 2400 || stm.Msg.GetPaymentsFen() != 1000 || stm.Msg.GetClosingFen() != 1400 ||
		len(stm.Msg.GetLines()) != 2 || len(stm.Msg.GetEntries()) != 2 || stm.Msg.GetDepositFen() != 2000 {
		t.Fatalf("statement %v, %v", stm, err)
	}
	vol, err := s.CustomerVolume(asUser("fin"), connect.NewRequest(&pickupv1.CustomerVolumeRequest{}))
	if err != nil || len(vol.Msg.GetCustomers()) != 1 || vol.Msg.GetCustomers()[0].GetPickups() != 2 {
		t.Fatalf("volume %v, %v", vol, err)
	}
}

// TestPickupServiceBadInput: bad input and forbidden actions get a clear
// code and write nothing.
func TestPickupServiceBadInput(t *testing.T) {
	s, st, ch, cust := newPickupService(t)
	p := book(t, s, booking()).GetPickup() // li's
	picked := book(t, s, booking()).GetPickup()
	if _, err := s.PickUp(asUser("wang"), connect.NewRequest(&pickupv1.PickUpRequest{Id: picked.GetId(), WeightGrams: 1000})); err != nil {
		t.Fatal(err)
	}
	// The same store as seen from another branch's node.
	elsewhere, elsewhereApp := *s, *s.App
	elsewhereApp.Node = "bj-haidian"
	elsewhere.App = &elsewhereApp
	ch.take()
	withReq := func(edit func(r *pickupv1.CreatePickupRequest)) *connect.Request[pickupv1.CreatePickupRequest] {
		r := booking()
		edit(r)
		return connect.NewRequest(r)
	}
	cases := []struct {
		name string
		call func() error
		code connect.Code
	}{
		{"unknown zone", func() error {
			_, err := s.CreatePickup(asUser("agent"), withReq(func(r *pickupv1.CreatePickupRequest) { r.Zone = "nowhere" }))
			return err
		}, connect.CodeInvalidArgument},
		{"no zone for the address", func() error {
			_, err := s.CreatePickup(asUser("agent"), withReq(func(r *pickupv1.CreatePickupRequest) {
				r.Sender.Address, r.Sender.Postcode = "北京市海淀区", ""
			}))
			return err
		}, connect.CodeInvalidArgument},
		{"negative weight", func() error {
			_, err := s.CreatePickup(asUser("agent"), withReq(func(r *pickupv1.CreatePickupRequest) { r.WeightGrams = -1200 }))
			return err
		}, connect.CodeInvalidArgument},
		{"zero weight", func() error {
			_, err := s.CreatePickup(asUser("agent"), withReq(func(r *pickupv1.CreatePickupRequest) { r.WeightGrams = 0 }))
			return err
		}, connect.CodeInvalidArgument},
		{"monthly without customer", func() error {
			_, err := s.CreatePickup(asUser("agent"), withReq(func(r *pickupv1.CreatePickupRequest) { r.Payment = "monthly" }))
			return err
		}, connect.CodeInvalidArgument},
		{"a courier books", func() error {
			_, err := s.CreatePickup(asUser("li"), withReq(func(*pickupv1.CreatePickupRequest) {}))
			return err
		}, connect.CodePermissionDenied},
		{"courier accepts another courier's pickup", func() error {
			_, err := s.AcceptPickup(asUser("wang"), connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: p.GetId()}))
			return err
		}, connect.CodePermissionDenied},
		{"courier picks up another courier's pickup", func() error {
			_, err := s.PickUp(asUser("wang"), connect.NewRequest(&pickupv1.PickUpRequest{Id: p.GetId(), WeightGrams: 1000}))
			return err
		}, connect.CodePermissionDenied},
		{"courier picks up with a negative weight", func() error {
			_, err := s.PickUp(asUser("li"), connect.NewRequest(&pickupv1.PickUpRequest{Id: p.GetId(), WeightGrams: -1}))
			return err
		}, connect.CodeInvalidArgument},
		{"an agent accepts", func() error {
			_, err := s.AcceptPickup(asUser("agent"), connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: p.GetId()}))
			return err
		}, connect.CodePermissionDenied},
		{"agent of another branch cancels", func() error {
			_, err := elsewhere.CancelPickup(asUser("agent"), connect.NewRequest(&pickupv1.CancelPickupRequest{Id: p.GetId(), Reason: "x"}))
			return err
		}, connect.CodePermissionDenied},
		{"dispatcher of another branch reassigns", func() error {
			_, err := elsewhere.ReassignPickup(asUser("disp"), connect.NewRequest(&pickupv1.ReassignPickupRequest{Id: p.GetId(), Courier: "wang"}))
			return err
		}, connect.CodePermissionDenied},
		{"cancel a picked-up pickup", func() error {
			_, err := s.CancelPickup(asUser("agent"), connect.NewRequest(&pickupv1.CancelPickupRequest{Id: picked.GetId(), Reason: "x"}))
			return err
		}, connect.CodeAlreadyExists},
		{"cancel without a reason", func() error {
			_, err := s.CancelPickup(asUser("agent"), connect.NewRequest(&pickupv1.CancelPickupRequest{Id: p.GetId()}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown pickup", func() error {
			_, err := s.GetPickup(asUser("agent"), connect.NewRequest(&pickupv1.GetPickupRequest{Id: "P-sh-pudong-000101-0001"}))
			return err
		}, connect.CodeNotFound},
		{"reassign to an unknown courier", func() error {
			_, err := s.ReassignPickup(asUser("disp"), connect.NewRequest(&pickupv1.ReassignPickupRequest{Id: p.GetId(), Courier: "zhou"}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad status filter", func() error {
			_, err := s.ListPickups(asUser("agent"), connect.NewRequest(&pickupv1.ListPickupsRequest{Status: "lost"}))
			return err
		}, connect.CodeInvalidArgument},
		{"negative page size", func() error {
			_, err := s.ListPickups(asUser("agent"), connect.NewRequest(&pickupv1.ListPickupsRequest{PageSize: -1}))
			return err
		}, connect.CodeInvalidArgument},
		{"quote a negative weight", func() error {
			_, err := s.Quote(asUser("agent"), connect.NewRequest(&pickupv1.QuoteRequest{Destination: "北京", WeightGrams: -1}))
			return err
		}, connect.CodeInvalidArgument},
		{"zone with a bad id", func() error {
			_, err := s.SetZone(asUser("disp"), connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{Id: "浦东", Name: "x"}}))
			return err
		}, connect.CodeInvalidArgument},
		{"courier covering an unknown zone", func() error {
			_, err := s.SetCourier(asUser("disp"), connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{User: "li", Name: "李", Zones: []string{"nowhere"}}}))
			return err
		}, connect.CodeInvalidArgument},
		{"an agent sets a zone", func() error {
			_, err := s.SetZone(asUser("agent"), connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{Id: "x", Name: "x"}}))
			return err
		}, connect.CodePermissionDenied},
		{"payment of nothing", func() error {
			_, err := s.RecordPayment(asUser("fin"), connect.NewRequest(&pickupv1.RecordPaymentRequest{Customer: cust, Kind: "payment"}))
			return err
		}, connect.CodeInvalidArgument},
		{"payment of an unknown kind", func() error {
			_, err := s.RecordPayment(asUser("fin"), connect.NewRequest(&pickupv1.RecordPaymentRequest{Customer: cust, Kind: "gift", AmountFen: 100}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad report day", func() error {
			_, err := s.CourierDay(asUser("agent"), connect.NewRequest(&pickupv1.CourierDayRequest{Day: "23/11/2026"}))
			return err
		}, connect.CodeInvalidArgument},
		{"rate row without weight", func() error {
			_, err := s.SetRatePlan(asUser("fin"), connect.NewRequest(&pickupv1.SetRatePlanRequest{Plan: &pickupv1.RatePlan{Id: "standard",
				Rows: []*pickupv1.RateRow{{Area: "*", FirstFen: 100}}}}))
			return err
		}, connect.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, n := st.state()
			wantCode(t, tc.call(), tc.code)
			if d2, n2 := st.state(); d2 != d || n2 != n {
				t.Fatal("a refused call wrote")
			}
			if k := ch.take(); len(k) != 0 {
				t.Fatalf("OnChange called for a refused call: %v", k)
			}
		})
	}
}

// TestPickupWaitsForACourier: pickups booked while nobody of the zone is on
// duty stay new; when couriers come on duty they are shared out by load,
// and OnChange hears of the assignments (the node then notifies).
func TestPickupWaitsForACourier(t *testing.T) {
	s, _, ch, _ := newPickupService(t)
	ctx := asUser("disp")
	for _, u := range []string{"li", "wang"} {
		if _, err := s.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{
			User: u, Name: u, OnDuty: false, Zones: []string{"pudong"},
		}})); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for range 4 {
		p := book(t, s, booking()).GetPickup()
		if p.GetStatus() != pickup.StatusNew || p.GetCourier() != "" {
			t.Fatalf("booked with nobody on duty: %s to %q", p.GetStatus(), p.GetCourier())
		}
		ids = append(ids, p.GetId())
	}
	ch.take()
	if _, err := s.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{
		User: "li", Name: "li", OnDuty: true, Zones: []string{"pudong"},
	}})); err != nil {
		t.Fatal(err)
	}
	assigned := 0
	for _, k := range ch.take() {
		if k == pickup.KindAssigned {
			assigned++
		}
	}
	if assigned != 4 {
		t.Fatalf("OnChange heard %d assignments, want 4", assigned)
	}
	for _, id := range ids {
		p, err := s.GetPickup(ctx, connect.NewRequest(&pickupv1.GetPickupRequest{Id: id}))
		if err != nil || p.Msg.GetCourier() != "li" || !p.Msg.GetAutoAssigned() {
			t.Fatalf("pickup %s: courier %q auto %v, %v; want li", id, p.Msg.GetCourier(), p.Msg.GetAutoAssigned(), err)
		}
	}
	// Wang comes on duty too: nothing is waiting any more, so nothing moves;
	// the next booking goes to the one with less load.
	if _, err := s.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{
		User: "wang", Name: "wang", OnDuty: true, Zones: []string{"pudong"},
	}})); err != nil {
		t.Fatal(err)
	}
	if k := ch.take(); slices.Contains(k, pickup.KindAssigned) {
		t.Fatalf("a courier on duty with nothing waiting moved pickups: %v", k)
	}
	if p := book(t, s, booking()).GetPickup(); p.GetCourier() != "wang" {
		t.Fatalf("next booking went to %q, want wang (less load)", p.GetCourier())
	}
}
