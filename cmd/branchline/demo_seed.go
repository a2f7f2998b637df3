package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
)

// demoSeed is what a demo branch starts with besides customers: a zone
// with a courier (a user who can sign in to the courier page), an agent
// (with the default agent role: numbers masked), a tariff,
// a few pickups, and — at the first branch — a warehouse whose stock both
// branches may sell.
type demoSeed struct {
	zone     *pickupv1.Zone
	courier  string // user name; password: the admin's
	agent    string // user name; password: the admin's
	pickups  []*pickupv1.CreatePickupRequest
	stock    bool
	sellers  []string
	products []*whv1.Product
}

var demoSeeds = map[string]demoSeed{
	"sh-pudong": {
		zone:    &pickupv1.Zone{Id: "pudong", Name: "浦东片区", Districts: []string{"浦东新区"}, Postcodes: []string{"2012", "2001"}, Keywords: []string{"张江", "陆家嘴"}},
		courier: "courier.sh",
		agent:   "agent.sh",
		pickups: []*pickupv1.CreatePickupRequest{
			{Sender: &pickupv1.Party{Name: "上海浦东速递有限公司", Phone: "13812345678", Address: "上海市浦东新区张江路 88 号", Postcode: "201203"},
				Receiver:    &pickupv1.Party{Name: "王芳", Phone: "13700001234", Address: "北京市朝阳区建国路 99 号", Postcode: "100022"},
				Destination: "北京", Goods: "合同文件", WeightGrams: 800, Pieces: 1, Payment: "cash"},
			{Sender: &pickupv1.Party{Name: "陈静", Phone: "13911112222", Address: "上海市浦东新区陆家嘴环路 1000 号"},
				Receiver:    &pickupv1.Party{Name: "刘洋", Phone: "13522223333", Address: "广州市天河区体育西路 1 号"},
				Destination: "广州", Goods: "服装", WeightGrams: 2600, Pieces: 2, Payment: "collect"},
		},
		stock:   true,
		sellers: []string{"sh-pudong", "bj-chaoyang"},
		products: []*whv1.Product{
			{Id: "RC-100", Name: "电饭煲 3L", Category: "家电", Class: "sale", RetailPrice: 29900, CostPrice: 18000, Barcode: "6901234567892"},
			{Id: "TEA-250", Name: "龙井茶 250g", Category: "食品", Class: "sale", RetailPrice: 12800, CostPrice: 7000, Barcode: "6909876543217", BatchTracked: true, Fefo: true, ExpiryDays: 365},
		},
	},
	"bj-chaoyang": {
		zone:    &pickupv1.Zone{Id: "chaoyang", Name: "朝阳片区", Districts: []string{"朝阳区"}, Postcodes: []string{"1000", "1001"}, Keywords: []string{"建国路", "三里屯"}},
		courier: "courier.bj",
		agent:   "agent.bj",
	},
}

// seedDemo creates a fresh demo branch's pickups and stock through the
// node's API as its admin.
func seedDemo(ctx context.Context, hc *http.Client, base, id, pw string, auth connect.ClientOption) error {
	s, ok := demoSeeds[id]
	if !ok {
		return nil
	}
	acc := accessv1connect.NewAccessServiceClient(hc, base, auth)
	pk := pickupv1connect.NewPickupServiceClient(hc, base, auth)
	// The node made the default roles on its first start (node.Config.DefaultRoles).
	for _, u := range []struct{ name, display, role string }{
		{s.courier, "快递员 " + s.zone.GetName(), "courier"},
		{s.agent, "客服 " + s.zone.GetName(), "agent"},
	} {
		if err := demoUser(ctx, acc, u.name, u.display, pw, u.role); err != nil {
			return err
		}
	}
	if _, err := pk.SetZone(ctx, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: s.zone})); err != nil {
		return fmt.Errorf("zone: %w", err)
	}
	if _, err := pk.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{
		User: s.courier, Name: "快递员 " + s.zone.GetName(), OnDuty: true, Zones: []string{s.zone.GetId()},
	}})); err != nil {
		return fmt.Errorf("courier: %w", err)
	}
	for _, p := range s.pickups {
		if _, err := pk.CreatePickup(ctx, connect.NewRequest(p)); err != nil {
			return fmt.Errorf("sample pickup: %w", err)
		}
	}
	if !s.stock {
		return nil
	}
	wh := warehousev1connect.NewWarehouseServiceClient(hc, base, auth)
	const w = "WH-SH"
	if _, err := wh.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{
		Id: w, Name: "上海仓", Owner: id, Address: "上海市浦东新区川沙路 1 号", ExpiryWarnDays: 30,
	}})); err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	for _, b := range []*whv1.Bin{{Id: "A-01", Name: "良品区 A-01", Kind: "good"}, {Id: "A-02", Name: "良品区 A-02", Kind: "good"}, {Id: "X-01", Name: "次品区", Kind: "defective"}} {
		if _, err := wh.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: w, Bin: b})); err != nil {
			return fmt.Errorf("bin %s: %w", b.GetId(), err)
		}
	}
	for _, seller := range s.sellers {
		if _, err := wh.AddSeller(ctx, connect.NewRequest(&whv1.AddSellerRequest{Warehouse: w, Node: seller})); err != nil {
			return fmt.Errorf("seller %s: %w", seller, err)
		}
	}
	now := time.Now()
	for _, p := range s.products {
		if _, err := wh.SetProduct(ctx, connect.NewRequest(&whv1.SetProductRequest{Product: p})); err != nil {
			return fmt.Errorf("product %s: %w", p.GetId(), err)
		}
		line := &whv1.MoveLine{Product: p.GetId(), Bin: "A-01", Qty: 120}
		if p.GetBatchTracked() {
			line.Batch = now.Format("20060102") + "-1"
		}
		if _, err := wh.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: w, Type: "purchase", Lines: []*whv1.MoveLine{line}, Ref: "PO-DEMO-1"})); err != nil {
			return fmt.Errorf("receipt of %s: %w", p.GetId(), err)
		}
	}
	return nil
}

// demoUser creates a user with the password pw and the default role key.
func demoUser(ctx context.Context, acc accessv1connect.AccessServiceClient, name, display, pw, key string) error {
	i := slices.IndexFunc(access.DefaultRoles(), func(r access.DefaultRole) bool { return r.Key == key })
	if i < 0 {
		return fmt.Errorf("user %s: no default role %q", name, key)
	}
	u, err := acc.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: name, DisplayName: display}, Password: pw}))
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	if _, err := acc.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: "roles/" + access.DefaultRoles()[i].ID})); err != nil {
		return fmt.Errorf("user %s, role %s: %w", name, key, err)
	}
	return nil
}
