package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	telv1 "branchline/gen/branchline/telephony/v1"
	bt "branchline/internal/browsertest"
	"branchline/rpc"
)

// TestPickupOffline is a courier branch's core day with the WAN down: a
// customer calls and pops on the agent's desk, the agent books a pickup,
// the courier covering the address sees it on the phone page at once and
// the phone gets the dispatch message; the courier accepts and picks up.
// After healing, the hub's dashboard counts the pickup exactly once.
func TestPickupOffline(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	const (
		agentExt, agentPw     = "8001", "pw-agent-8001"
		courierExt, courierPw = "8101", "pw-courier-8101"
		did                   = "4000"
		caller                = "13800000001"
		courier, courierLogin = "kuaidi.li", "courier-pw-1"
	)
	ctx := context.Background()
	hubs := startCluster(t, 1)
	tok := addNode(t, "br-pk", hubs...)
	wan := newLink(t, hubs)
	n, sip := startSIPNode(t, "br-pk", wan.urls(), tok)
	admin := mustLogin(t, n.url)
	tel := telephonyClient(t, n.url)
	acc := accessv1connect.NewAccessServiceClient(hc, n.url, rpc.WithBearer(admin))
	pk := pickupv1connect.NewPickupServiceClient(hc, n.url, rpc.WithBearer(admin))
	cust := customers(n.url, admin)

	// Set-up while online: the courier's account, both phones, the queue,
	// the zone, the courier covering it, and the calling customer.
	role, err := acc.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: "快递员", Permissions: []*accessv1.Permission{{Permission: "pickup.courier", Scope: accessv1.Scope_SCOPE_OWN}},
	}}))
	must(t, "create the courier role", err)
	u, err := acc.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: courier, DisplayName: "李师傅", Extension: courierExt}, Password: courierLogin,
	}))
	must(t, "create the courier", err)
	_, err = acc.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()}))
	must(t, "assign the courier role", err)
	ag, err := tel.GetAgent(ctx, connect.NewRequest(&telv1.GetAgentRequest{}))
	must(t, "get agent", err)
	agent := ag.Msg.GetUser()
	for _, e := range []struct{ num, user, pw string }{{agentExt, agent, agentPw}, {courierExt, courier, courierPw}} {
		_, err := tel.SetExtension(ctx, connect.NewRequest(&telv1.SetExtensionRequest{
			Extension: &telv1.Extension{Number: e.num, User: e.user}, Password: e.pw,
		}))
		must(t, "set extension "+e.num, err)
	}
	_, err = tel.SetTrunk(ctx, connect.NewRequest(&telv1.SetTrunkRequest{
		Trunk: &telv1.Trunk{Name: "carrier", Sources: []string{"127.0.0.1"}, Dids: []string{did}},
	}))
	must(t, "set trunk", err)
	_, err = tel.SetQueue(ctx, connect.NewRequest(&telv1.SetQueueRequest{Queue: &telv1.Queue{Name: "pickup", Strategy: "top_down", Dids: []string{did}}}))
	must(t, "set queue", err)
	_, err = tel.AddQueueMember(ctx, connect.NewRequest(&telv1.AddQueueMemberRequest{Queue: "pickup", Member: &telv1.Member{User: agent, Priority: 1}}))
	must(t, "add queue member", err)
	_, err = pk.SetZone(ctx, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{
		Id: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"},
	}}))
	must(t, "set zone", err)
	_, err = pk.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{
		User: courier, Name: "李师傅", Extension: courierExt, OnDuty: true, Zones: []string{"pudong"},
	}}))
	must(t, "set courier", err)
	created, err := cust.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{
		DisplayName: "张三贸易", Mobile: caller, City: "上海", Address: "上海市浦东新区张杨路 500 号",
	}}))
	must(t, "create customer", err)
	custID := strings.TrimPrefix(created.Msg.GetName(), "customers/")
	converged(t, 30*time.Second, 0, hubs, n)

	// The WAN goes down; nothing below reaches the hub until it heals.
	wan.setCut(true)
	hubBefore := clusterStatus(t, hubs...).GetHeadPosition()

	// Browsers: the agent's desk on a desktop, the courier's page on a phone.
	desk := bt.New(t, 1366, 768, 3*time.Minute)
	bt.Login(t, desk, n.url, "/desk", "admin", adminPassword, "#agent-login")
	phone := bt.Tab(t, desk)
	bt.Run(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	bt.Login(t, phone, n.url, "/courier", courier, courierLogin, "#courier-pickups")

	// Phones register: the agent's answers calls, the courier's takes messages.
	agentPort, courierPort := freeUDPPort(t), freeUDPPort(t)
	agentPhone := runSipp(t, sip, "agent.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(agentPort), "-m", "1")
	for _, r := range []struct {
		ext, pw string
		port    int
	}{{agentExt, agentPw, agentPort}, {courierExt, courierPw, courierPort}} {
		runSipp(t, sip, "register.xml", map[string]string{"CODE": "200"}, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)),
			"-m", "1", "-s", r.ext, "-au", r.ext, "-ap", r.pw, "-key", "contact_port", strconv.Itoa(r.port), "-key", "expires", "3600").
			wait(t, 20*time.Second)
	}
	_, err = tel.AgentLogin(ctx, connect.NewRequest(&telv1.AgentLoginRequest{Extension: agentExt}))
	must(t, "agent login", err)
	_, err = tel.SetAgentState(ctx, connect.NewRequest(&telv1.SetAgentStateRequest{State: "ready"}))
	must(t, "agent ready", err)

	// The customer calls: the desk pops their card.
	call := runSipp(t, sip, "caller.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1",
		"-s", did, "-key", "caller", caller, "-d", "1500")
	var popName string
	bt.Run(t, desk, "screen pop",
		chromedp.WaitVisible(bt.CSS(`#pop .pop-name`)),
		bt.Into(&popName, chromedp.Text(bt.CSS(`#pop .pop-name`))),
		bt.Shot(t, "e2e-pickup-desk-pop"),
	)
	if !strings.Contains(popName, "张三贸易") {
		t.Fatalf("screen pop shows %q, want the caller 张三贸易", popName)
	}
	call.wait(t, 30*time.Second)
	agentPhone.wait(t, 10*time.Second)

	// The courier's phone waits for the dispatch message; the agent books.
	// The pickup number is not known before booking, so the phone checks
	// for the branch's pickup prefix and the number is checked below.
	msg := runSipp(t, sip, "courier_message.xml", map[string]string{"PICKUP": "P-br-pk-"},
		"-i", "127.0.0.1", "-p", strconv.Itoa(courierPort), "-m", "1")
	booked := time.Now()
	res, err := pk.CreatePickup(ctx, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Customer:    custID,
		Sender:      &pickupv1.Party{Name: "张三贸易", Phone: caller, Address: "上海市浦东新区张杨路 500 号", Postcode: "200120"},
		Receiver:    &pickupv1.Party{Name: "王五", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号", Postcode: "100022"},
		Destination: "北京", Goods: "文件", WeightGrams: 1200, Pieces: 1, Payment: "cash",
	}))
	must(t, "book the pickup", err)
	p := res.Msg.GetPickup()
	if p.GetCourier() != courier || p.GetZone() != "pudong" || p.GetPriceFen() <= 0 {
		t.Fatalf("booked pickup: courier %q zone %q price %d; want %s, pudong, a price", p.GetCourier(), p.GetZone(), p.GetPriceFen(), courier)
	}
	sel := fmt.Sprintf(`#courier-pickups [data-pickup=%q]`, p.GetNumber())
	wctx, cancel := context.WithTimeout(phone, 5*time.Second)
	err = chromedp.Do(wctx, chromedp.WaitVisible(bt.CSS(sel)))
	cancel()
	shown := time.Since(booked)
	if err != nil {
		t.Fatalf("the courier's page did not show %s: %v", p.GetNumber(), err)
	}
	t.Logf("courier page showed the pickup %v after booking", shown.Round(time.Millisecond))
	if shown > time.Second {
		t.Errorf("the courier's page showed the pickup %v after booking, want within a second", shown)
	}
	msg.wait(t, 10*time.Second)
	waitFor(t, 10*time.Second, "the dispatch message recorded as delivered", func() error {
		got, err := pk.GetPickup(ctx, connect.NewRequest(&pickupv1.GetPickupRequest{Id: p.GetId()}))
		if err != nil {
			return err
		}
		if got.Msg.GetMessageId() == "" {
			return fmt.Errorf("pickup %s has no dispatch message (status %s)", p.GetNumber(), got.Msg.GetStatus())
		}
		m, err := tel.GetMessage(ctx, connect.NewRequest(&telv1.GetMessageRequest{Id: got.Msg.GetMessageId()}))
		if err != nil {
			return err
		}
		if m.Msg.GetStatus() != "delivered" || !strings.Contains(m.Msg.GetText(), p.GetNumber()) {
			return fmt.Errorf("message %s: %s %q", m.Msg.GetId(), m.Msg.GetStatus(), m.Msg.GetText())
		}
		return nil
	})

	// The courier accepts, then picks up with the weighed parcel.
	bt.Run(t, phone, "accept",
		bt.Shot(t, "e2e-pickup-courier-new"),
		bt.ClickJS(sel+` button[data-action="accept"]`),
		chromedp.WaitVisible(bt.CSS(sel+`[data-status="accepted"]`)),
	)
	bt.Run(t, phone, "pick up",
		chromedp.SetValue(bt.CSS(sel+` input[name="weight_kg"]`), "1.5"),
		bt.ClickJS(sel+` button[data-action="pickup"]`),
		chromedp.WaitNotPresent(bt.CSS(sel)),
		bt.Shot(t, "e2e-pickup-courier-done"),
	)
	got, err := pk.GetPickup(ctx, connect.NewRequest(&pickupv1.GetPickupRequest{Id: p.GetId()}))
	must(t, "get the pickup", err)
	if got.Msg.GetStatus() != "picked_up" || got.Msg.GetPickedUpBy() != courier || got.Msg.GetActualWeightGrams() != 1500 {
		t.Fatalf("after pick-up: status %s by %q, %d g; want picked_up by %s, 1500 g",
			got.Msg.GetStatus(), got.Msg.GetPickedUpBy(), got.Msg.GetActualWeightGrams(), courier)
	}
	if head := clusterStatus(t, hubs...).GetHeadPosition(); head != hubBefore {
		t.Fatalf("the hub's log moved from %d to %d while the branch was cut off", hubBefore, head)
	}

	// Heal: the hub gets every event once, and its dashboard counts the
	// pickup once, as picked up.
	wan.setCut(false)
	total := converged(t, 60*time.Second, 0, hubs, n)
	if head := clusterStatus(t, hubs...).GetHeadPosition(); head != total {
		t.Fatalf("the hub's log holds %d events, the branch made %d: want exactly once", head, total)
	}
	hq := bt.Tab(t, desk)
	bt.Login(t, hq, hubs[0].url, "/pickups", "admin", adminPassword, "#by-branch")
	row := `#by-branch [data-branch="br-pk"]`
	var totalCell, pickedCell string
	bt.Run(t, hq, "the hub dashboard",
		bt.Into(&totalCell, chromedp.Text(bt.CSS(row+` [data-col="total"]`))),
		bt.Into(&pickedCell, chromedp.Text(bt.CSS(row+` [data-status="picked_up"]`))),
		bt.Shot(t, "e2e-pickup-hub-dashboard"),
	)
	if strings.TrimSpace(totalCell) != "1" || strings.TrimSpace(pickedCell) != "1" {
		t.Fatalf("hub dashboard for br-pk: total %q, picked up %q; want 1 and 1", totalCell, pickedCell)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
