package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/auth"
	"branchline/crm/crmapp"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	accessv1 "branchline/gen/branchline/access/v1"
	adminv1 "branchline/gen/branchline/admin/v1"
	crmv1 "branchline/gen/branchline/crm/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/node"
	"branchline/replication"
	"branchline/web"
	"branchline/web/adminui"
	"branchline/web/crmui"
	"branchline/web/hubui"
	"branchline/web/pickupui"
	"branchline/wiring"
)

// pickupSite is a node's store served by a web UI with the pickup pages,
// so that a test holds the pickup pages and tells them of pickup changes
// itself (Changed), as the node does after each pickup command.
// The services are the real ones over the node's real store; users are
// replicated users with roles, as at a branch.
type pickupSite struct {
	n       *wiring.Node
	ui      *web.Server
	pages   *pickupui.Pages
	base    string
	pickups *api.PickupService
	cust    *api.CustomerService
	access  *api.AccessService
	admin   context.Context // the node's administrator, for setting up
}

func startPickupSite(t *testing.T) *pickupSite {
	t.Helper()
	n := startNode(t)
	st := n.Store()
	ids := replication.NewIDs()
	grants := app.AccessGrants(st, nil)
	s := &pickupSite{n: n,
		pickups: &api.PickupService{App: &pickupapp.Pickups{Store: st, IDs: ids, Node: "br-web"}, Grants: grants},
		cust:    &api.CustomerService{App: &crmapp.Customers{Store: st, IDs: ids, Node: "br-web"}, Grants: grants},
		access:  &api.AccessService{App: &accessapp.Admin{Store: st, IDs: ids, Node: "br-web"}, Grants: grants},
		admin:   auth.WithPrincipal(context.Background(), &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}),
	}
	s.pages = pickupui.New(pickupui.Config{Pickups: s.pickups.App, Customers: s.cust.App})
	ui, err := web.New(web.Config{Site: "br-web", Home: "/customers", Login: api.AccessDirectory{Store: st}.Login, Sessions: web.NewMemorySessions(),
		Grants: grants, Passwords: s.access.App, Pages: []web.Pages{
			crmui.New(crmui.Config{Customers: s.cust.App}), adminui.New(adminui.Config{Access: s.access.App, Customers: s.cust.App}), s.pages},
		Branches: func() (map[string]string, error) { return app.Read(st, access.BranchNames) }})
	if err != nil {
		t.Fatal(err)
	}
	s.ui = ui
	srv := httptest.NewServer(ui)
	t.Cleanup(srv.Close)
	s.base = srv.URL
	return s
}

// user creates a user with a role of perms.
func (s *pickupSite) user(t *testing.T, username, display string, perms ...string) {
	t.Helper()
	var ps []*accessv1.Permission
	for _, p := range perms {
		ps = append(ps, &accessv1.Permission{Permission: p, Scope: accessv1.Scope_SCOPE_ALL})
	}
	role, err := s.access.CreateRole(s.admin, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: display, Permissions: ps}}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.access.CreateUser(s.admin, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: username, DisplayName: display}, Password: webPassword}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.access.AssignRole(s.admin, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()})); err != nil {
		t.Fatal(err)
	}
}

// Users of the pickup tests.
const (
	agentUser   = "wang.agent"
	courierUser = "li.courier"
	otherUser   = "zhao.courier"
)

// setUp creates the agent, two couriers, a zone each covers and a
// customer, and returns the customer's id.
func (s *pickupSite) setUp(t *testing.T) string {
	t.Helper()
	s.user(t, agentUser, "王客服", "customer.read", "customer.write", "customer.phone", "pickup.write", "pickup.dispatch", "finance.manage")
	s.user(t, courierUser, "李师傅", "pickup.courier")
	s.user(t, otherUser, "赵师傅", "pickup.courier")
	for _, z := range []*pickupv1.Zone{
		{Id: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"}},
		{Id: "xuhui", Name: "徐汇", Districts: []string{"徐汇区"}},
	} {
		if _, err := s.pickups.SetZone(s.admin, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: z})); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*pickupv1.Courier{
		{User: courierUser, Name: "李师傅", Extension: "8101", OnDuty: true, Zones: []string{"pudong"}},
		{User: otherUser, Name: "赵师傅", Extension: "8102", OnDuty: true, Zones: []string{"xuhui"}},
	} {
		if _, err := s.pickups.SetCourier(s.admin, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: c})); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.cust.CreateCustomer(s.admin, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{
		DisplayName: "上海浦东叫件测试贸易有限公司", Mobile: "13800138000", Address: "上海市浦东新区世纪大道 100 号", Postcode: "200120",
	}, AllowDuplicate: true}))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(c.Msg.GetName(), "customers/")
}

// book books a pickup in Pudong through the service, as the agent's API
// client would.
func (s *pickupSite) book(t *testing.T, goods string) *pickupv1.Pickup {
	t.Helper()
	resp, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "陈先生", Phone: "139 1234 5678", Address: "上海市浦东新区张江路 88 号", Company: "张江小店"},
		Receiver:    &pickupv1.Party{Name: "刘女士", Phone: "010 8888 6666", Address: "北京市朝阳区建国路 1 号"},
		Destination: "北京", Goods: goods, WeightGrams: 1500, Payment: "cash",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Msg.GetPickup()
}

// count counts the pickups booked in the last day.
func (s *pickupSite) count(t *testing.T) int {
	t.Helper()
	resp, err := s.pickups.ListPickups(s.admin, connect.NewRequest(&pickupv1.ListPickupsRequest{
		From: timestamppb.New(time.Now().Add(-24 * time.Hour)), PageSize: 500}))
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Msg.GetPickups())
}

// get reads a pickup.
func (s *pickupSite) get(t *testing.T, id string) *pickupv1.Pickup {
	t.Helper()
	resp, err := s.pickups.GetPickup(s.admin, connect.NewRequest(&pickupv1.GetPickupRequest{Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Msg
}

// pickedUpElsewhere applies a pick-up of pickup id by courier made at
// another node (origin) just now, as if pulled from the hub after an
// outage: when the branch has cancelled meanwhile, the pick-up stands and
// the cancel becomes a conflict record.
func (s *pickupSite) pickedUpElsewhere(t *testing.T, id, courier, origin string) {
	t.Helper()
	body, err := proto.Marshal(&pickupv1.PickupPickedUp{Courier: courier, WeightGrams: 1600, PriceFen: 1800})
	if err != nil {
		t.Fatal(err)
	}
	ev := &replication.Event{Origin: origin, Seq: 1, HLC: replication.MakeHLC(time.Now().UnixMilli(), 0),
		Kind: pickup.KindPickedUp, Entity: pickup.Entity(id), Actor: courier, Body: body}
	if err := s.n.Store().ApplyRemote(context.Background(), []*replication.Event{ev}, 1, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
}

// storeCluster is the hub's view for the dashboard handler: the views of
// a node's store (which hold every pickup event the node has, as a hub
// member's do) and a fixed list of registered branches.
type storeCluster struct {
	st    *node.Store
	nodes []string
}

func (c storeCluster) View(fn func(views replication.Tx) error) error { return c.st.View(fn) }

func (c storeCluster) ClusterStatus(context.Context) (*adminv1.ClusterStatusResponse, error) {
	out := &adminv1.ClusterStatusResponse{LeaderId: "hub1"}
	for _, id := range c.nodes {
		out.Nodes = append(out.Nodes, &adminv1.NodeInfo{Id: id, LastContact: timestamppb.Now()})
	}
	return out, nil
}

// startHubDashboard serves the hub's pages over st's views, with an
// administrator who logs in with webPassword.
func startHubDashboard(t *testing.T, st *node.Store, nodes ...string) string {
	t.Helper()
	login := func(_ context.Context, user, pw string) (*auth.Principal, error) {
		if user == "admin" && pw == webPassword {
			return &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}, nil
		}
		return nil, auth.ErrBadCredentials
	}
	ui, err := web.New(web.Config{Site: "hub1", Hub: true, Home: "/branches", Login: login, Sessions: web.NewMemorySessions(), Grants: app.AdminGrants,
		Pages:    []web.Pages{hubui.New(storeCluster{st: st, nodes: nodes}, &accessapp.Admin{Store: st, IDs: replication.NewIDs(), Node: "hub1"})},
		Branches: func() (map[string]string, error) { return app.Read(st, access.BranchNames) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	t.Cleanup(srv.Close)
	return srv.URL
}
