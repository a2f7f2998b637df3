package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	whv1 "branchline/gen/branchline/warehouse/v1"
	bt "branchline/internal/browsertest"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/warehouse"
)

// TestBranchScopes: two branches, each taking only what it needs.
//   - A courier serving both branches sees both branches' pickups
//     assigned to them on the phone page at branch A.
//   - Branch A's quote tier and deposit warning count the pickups booked
//     and picked up at branch B (company-wide account facts).
//   - A warehouse whose owner becomes branch B reaches B with its history;
//     B's digest of its scopes equals the hub's.
//   - Scanning the stores: a branch holds no pickup of the other branch
//     except those assigned to a courier it serves, and no stock move of
//     a warehouse it does not own.
func TestBranchScopes(t *testing.T) {
	ctx := context.Background()
	hubs := startCluster(t, 1)
	a := startNode(t, "br-a", hubURLs(hubs), addNode(t, "br-a", hubs...))
	b := startNode(t, "br-b", hubURLs(hubs), addNode(t, "br-b", hubs...))
	admA := mustLogin(t, a.url)
	pkA := pickupv1connect.NewPickupServiceClient(hc, a.url, rpc.WithBearer(admA))
	pkB := pickupv1connect.NewPickupServiceClient(hc, b.url, rpc.WithBearer(mustLogin(t, b.url)))
	acc := accessv1connect.NewAccessServiceClient(hc, a.url, rpc.WithBearer(admA))

	// Company-wide set-up at A: two couriers (K serves both branches, L
	// branch B only), the zone, a volume tier, a customer with a deposit.
	const k, l, courierPw = "kuaidi.k", "kuaidi.l", "courier-pw-1"
	role, err := acc.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: "快递员", Permissions: []*accessv1.Permission{{Permission: "pickup.courier", Scope: accessv1.Scope_SCOPE_OWN}},
	}}))
	must(t, "create the courier role", err)
	for _, u := range []string{k, l} {
		cu, err := acc.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: u, DisplayName: u}, Password: courierPw}))
		must(t, "create courier "+u, err)
		_, err = acc.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: cu.Msg.GetName(), Role: role.Msg.GetName()}))
		must(t, "assign the courier role", err)
	}
	_, err = pkA.SetZone(ctx, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{
		Id: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"},
	}}))
	must(t, "set zone", err)
	for _, c := range []*pickupv1.Courier{
		{User: k, Name: "K 师傅", OnDuty: true, Zones: []string{"pudong"}, Branches: []string{"br-a", "br-b"}},
		{User: l, Name: "L 师傅", OnDuty: true, Zones: []string{"pudong"}, Branches: []string{"br-b"}},
	} {
		_, err := pkA.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: c}))
		must(t, "set courier "+c.GetUser(), err)
	}
	_, err = pkA.SetDiscountTiers(ctx, connect.NewRequest(&pickupv1.SetDiscountTiersRequest{Tiers: []*pickupv1.DiscountTier{{MinCount: 2, Percent: 90}}}))
	must(t, "set tiers", err)
	created, err := customers(a.url, admA).CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{
		DisplayName: "张三贸易", Mobile: "13800000001", City: "上海", Address: "上海市浦东新区张杨路 500 号",
	}}))
	must(t, "create customer", err)
	cust := strings.TrimPrefix(created.Msg.GetName(), "customers/")
	_, err = pkA.RecordPayment(ctx, connect.NewRequest(&pickupv1.RecordPaymentRequest{Customer: cust, Kind: "deposit", AmountFen: 100}))
	must(t, "record deposit", err)
	// The hub serves each node the couriers whose branches name it (it
	// looks again every few seconds).
	for _, c := range []struct {
		n    *branch
		want []string
	}{{a, []string{"c:" + k}}, {b, []string{"c:" + k, "c:" + l}}} {
		waitFor(t, 30*time.Second, c.n.id+" to serve its couriers", func() error {
			st, err := statusOf(c.n.url)
			if err != nil {
				return err
			}
			for _, w := range c.want {
				if !slices.Contains(st.GetScopes(), w) {
					return fmt.Errorf("holds %v", st.GetScopes())
				}
			}
			return nil
		})
	}
	converged(t, 60*time.Second, 0, hubs, a, b)

	book := func(pk pickupv1connect.PickupServiceClient, customer, payment, courier string) *pickupv1.CreatePickupResponse {
		t.Helper()
		res, err := pk.CreatePickup(ctx, connect.NewRequest(&pickupv1.CreatePickupRequest{
			Customer:    customer,
			Sender:      &pickupv1.Party{Name: "张三", Phone: "13800000001", Address: "上海市浦东新区张杨路 500 号", Postcode: "200120"},
			Receiver:    &pickupv1.Party{Name: "王五", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号", Postcode: "100022"},
			Destination: "北京", Goods: "文件", WeightGrams: 1200, Pieces: 1, Payment: payment,
		}))
		must(t, "book a pickup", err)
		if courier != "" && res.Msg.GetPickup().GetCourier() != courier {
			_, err := pk.ReassignPickup(ctx, connect.NewRequest(&pickupv1.ReassignPickupRequest{Id: res.Msg.GetPickup().GetId(), Courier: courier}))
			must(t, "assign to "+courier, err)
		}
		return res.Msg
	}
	b1 := book(pkB, cust, "monthly", k).GetPickup() // B's, K's: followed by A
	b2 := book(pkB, "", "cash", l).GetPickup()      // B's, L's: not for A
	b3 := book(pkB, "", "cash", k).GetPickup()      // B's, K's, still open
	a1 := book(pkA, "", "cash", k).GetPickup()

	// K picks b1 up at branch B: the charge goes to the customer's account.
	kB := pickupv1connect.NewPickupServiceClient(hc, b.url, rpc.WithBearer(mustLoginAs(t, b.url, k, courierPw)))
	_, err = kB.AcceptPickup(ctx, connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: b1.GetId()}))
	must(t, "accept b1", err)
	_, err = kB.PickUp(ctx, connect.NewRequest(&pickupv1.PickUpRequest{Id: b1.GetId(), WeightGrams: 2000}))
	must(t, "pick b1 up", err)
	acctB, err := pkB.GetAccount(ctx, connect.NewRequest(&pickupv1.GetAccountRequest{Customer: cust}))
	must(t, "account at B", err)
	charge := acctB.Msg.GetUnsettledFen()
	if charge <= 0 {
		t.Fatalf("B's account of the customer after the pickup: unsettled %d", charge)
	}
	converged(t, 60*time.Second, 0, hubs, a, b)

	// Branch A decides from B's pickups too.
	q, err := pkA.Quote(ctx, connect.NewRequest(&pickupv1.QuoteRequest{Customer: cust, Destination: "北京", WeightGrams: 1200}))
	must(t, "quote at A", err)
	if q.Msg.GetVolume() != 2 || q.Msg.GetDiscountPercent() != 90 {
		t.Fatalf("A quotes volume %d at %d%%; want 2 (B's pickup and this one) at the 90%% tier", q.Msg.GetVolume(), q.Msg.GetDiscountPercent())
	}
	acctA, err := pkA.GetAccount(ctx, connect.NewRequest(&pickupv1.GetAccountRequest{Customer: cust}))
	must(t, "account at A", err)
	if acctA.Msg.GetUnsettledFen() != charge || acctA.Msg.GetDepositFen() != 100 {
		t.Fatalf("A's account of the customer: unsettled %d, deposit %d; want B's charge %d, 100", acctA.Msg.GetUnsettledFen(), acctA.Msg.GetDepositFen(), charge)
	}
	warned := book(pkA, cust, "monthly", "")
	if w := warned.GetWarning(); w == nil || w.GetUnsettledFen() != charge || w.GetDepositFen() != 100 {
		t.Fatalf("A's booking warns %v; want unsettled %d (B's charge) over deposit 100", w, charge)
	}

	// K's phone page at A lists both branches' pickups assigned to K.
	phone := bt.New(t, 390, 844, 2*time.Minute)
	bt.Run(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	bt.Login(t, phone, a.url, "/courier", k, courierPw, "#courier-pickups")
	for _, p := range []*pickupv1.Pickup{a1, b3} {
		wctx, cancel := context.WithTimeout(phone, 10*time.Second)
		err := chromedp.Do(wctx, chromedp.WaitVisible(bt.CSS(fmt.Sprintf(`#courier-pickups [data-pickup=%q]`, p.GetNumber()))))
		cancel()
		if err != nil {
			t.Fatalf("K's page at A does not show %s (booked at %s): %v", p.GetNumber(), p.GetBranch(), err)
		}
	}

	// A warehouse recorded at A, then given to B: B takes its history.
	sa, sb := stockClient(t, a.url), stockClient(t, b.url)
	_, err = sa.SetProduct(ctx, connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{
		Id: "A100", Name: "电饭煲", Category: "家电", Class: "sale", RetailPrice: 29900, CostPrice: 18000, Barcode: "6901234567892",
	}}))
	must(t, "set product", err)
	_, err = sa.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{Id: "WH-1", Name: "一号仓", Owner: "br-a"}}))
	must(t, "set warehouse", err)
	_, err = sa.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: "WH-1", Bin: &whv1.Bin{Id: "A1", Name: "良品", Kind: "good"}}))
	must(t, "set bin", err)
	for _, qty := range []int64{30, 12} {
		_, err = sa.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: "WH-1", Type: "purchase", Lines: []*whv1.MoveLine{{Product: "A100", Bin: "A1", Qty: qty}}}))
		must(t, "receive", err)
	}
	converged(t, 60*time.Second, 0, hubs, a, b)
	if n := onHand(t, sb, "WH-1", "A100"); n != 0 {
		t.Fatalf("B holds %d of A's warehouse before owning it", n)
	}
	_, err = sa.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{Id: "WH-1", Name: "一号仓", Owner: "br-b"}}))
	must(t, "give the warehouse to B", err)
	waitFor(t, 60*time.Second, "B to hold the warehouse", func() error {
		st, err := statusOf(b.url)
		if err != nil {
			return err
		}
		if !slices.Contains(st.GetScopes(), replication.WarehouseScope("WH-1")) {
			return fmt.Errorf("B holds %v (gaining %v)", st.GetScopes(), st.GetGaining())
		}
		return nil
	})
	converged(t, 60*time.Second, 0, hubs, a, b)
	if n := onHand(t, sb, "WH-1", "A100"); n != 42 {
		t.Fatalf("B sees %d on hand in the warehouse it gained, want 42", n)
	}

	// Scan the stores.
	all := []*pickupv1.Pickup{a1, b1, b2, b3, warned.GetPickup()}
	for i, p := range all { // as they are now: assigned since booked
		pk := pkA
		if p.GetBranch() == "br-b" {
			pk = pkB
		}
		got, err := pk.GetPickup(ctx, connect.NewRequest(&pickupv1.GetPickupRequest{Id: p.GetId()}))
		must(t, "get pickup", err)
		all[i] = got.Msg
	}
	a.proc.stop()
	b.proc.stop()
	for _, c := range []struct {
		n          *branch
		couriers   []string // the couriers it serves
		warehouses []string // whose moves it may hold
	}{
		{a, []string{k}, []string{"WH-1"}}, // A owned WH-1 when its moves were made
		{b, []string{k, l}, []string{"WH-1"}},
	} {
		got, moves := scanStore(t, c.n)
		slices.Sort(got)
		var want []string // its branch's, and those assigned to couriers it serves
		for _, p := range all {
			if p.GetBranch() == c.n.id || slices.Contains(c.couriers, p.GetCourier()) {
				want = append(want, p.GetId())
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s holds pickups %v, want %v", c.n.id, got, want)
		}
		for _, wh := range moves {
			if !slices.Contains(c.warehouses, wh) {
				t.Errorf("%s holds a stock move of warehouse %s", c.n.id, wh)
			}
		}
	}
}

// scanStore opens a stopped node's store and lists the pickups it holds
// and the warehouses of the stock moves it holds.
func scanStore(t *testing.T, n *branch) (pickups, moveWarehouses []string) {
	t.Helper()
	s, err := node.OpenStore(node.StoreConfig{Dir: n.data, ID: n.id, Registry: kinds.Registry(), Log: slog.New(slog.DiscardHandler), MinFreeBytes: -1})
	if err != nil {
		t.Fatalf("open %s's store: %v", n.id, err)
	}
	defer s.Close()
	err = s.View(func(v replication.Tx) error {
		created := replication.Prefix("pk", "c") // a pickup's booking
		err := v.Scan(created, nil, func(k, _ []byte) (bool, error) {
			pickups = append(pickups, string(k[len(created):]))
			return true, nil
		})
		if err != nil {
			return err
		}
		ms, _, err := warehouse.ListMoves(v, warehouse.MoveFilter{}, "", 0)
		for _, m := range ms {
			moveWarehouses = append(moveWarehouses, m.Warehouse)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pickups, moveWarehouses
}

// mustLoginAs logs user in at url.
func mustLoginAs(t *testing.T, url, user, pw string) string {
	t.Helper()
	var tok string
	waitFor(t, 30*time.Second, user+" to log in at "+url, func() error {
		resp, err := authv1connect.NewAuthServiceClient(hc, url).Login(context.Background(), connect.NewRequest(&authv1.LoginRequest{Username: user, Password: pw}))
		if err == nil {
			tok = resp.Msg.GetToken()
		}
		return err
	})
	return tok
}
