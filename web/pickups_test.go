package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// The pickup pages over plain HTTP, as a browser without script uses
// them: the quote button and the JSON quote, refused input, permissions
// (403 pages, a courier limited to their own pickups), and which users'
// event streams carry pickup changes.

// cookie returns the value of the cookie name the client holds for base.
func (c *adminClient) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, k := range c.hc.Jar.Cookies(u) {
		if k.Name == name {
			v, _ := url.QueryUnescape(k.Value)
			return v
		}
	}
	return ""
}

// bookingForm is a valid pickup form.
func bookingForm() url.Values {
	return url.Values{
		"sender_name": {"陈先生"}, "sender_phone": {"139 1234 5678"}, "sender_address": {"上海市浦东新区张江路 88 号"},
		"destination": {"北京"}, "goods": {"文件"}, "weight_kg": {"2"}, "pieces": {"1"}, "payment": {"cash"}, "op": {"book"},
	}
}

func TestPickupPagesHTTP(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	s.user(t, "plain.user", "只读客服", "customer.read")
	agent := newAdminClient(t, s.base, agentUser, webPassword)
	courier := newAdminClient(t, s.base, courierUser, webPassword)
	plain := newAdminClient(t, s.base, "plain.user", webPassword)

	// The script's quote.
	q, err := s.pickups.Quote(s.admin, connect.NewRequest(&pickupv1.QuoteRequest{Destination: "北京", WeightGrams: 2000}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, query, final, errText string
	}{
		{"priced", "destination=北京&weight_kg=2", yuanOf(q.Msg.GetFinalFen()), ""},
		{"negative weight", "destination=北京&weight_kg=-1", "", "重量必须大于 0"},
		{"not a number", "destination=北京&weight_kg=两公斤", "", "不是有效的数字"},
		{"incomplete", "destination=北京", "", "填写目的地和重量后显示报价"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := agent.get("/pickups/quote?" + c.query)
			var v struct{ Final, Error string }
			if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
				t.Fatalf("quote: %d %s", code, body)
			}
			if v.Final != c.final || !strings.Contains(v.Error, c.errText) {
				t.Fatalf("quote %s: %+v, want %q / %q", c.query, v, c.final, c.errText)
			}
		})
	}

	// Without script: the quote button shows the price, books nothing.
	f := bookingForm()
	f.Set("op", "quote")
	code, body := agent.post("/pickups", f)
	agent.expect("quote button", code, http.StatusOK, body, `data-state="ok"`, yuanOf(q.Msg.GetFinalFen()))
	// Refused input books nothing and names the field.
	f = bookingForm()
	f.Del("sender_name")
	code, body = agent.post("/pickups", f)
	agent.expect("no sender name", code, http.StatusUnprocessableEntity, body, "必填")
	f = bookingForm()
	f.Set("payment", "monthly")
	code, body = agent.post("/pickups", f)
	agent.expect("monthly without a customer", code, http.StatusUnprocessableEntity, body)
	if n := s.count(t); n != 0 {
		t.Fatalf("%d pickups booked by quotes and refused forms", n)
	}
	code, loc := agent.post("/pickups", bookingForm())
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/pickups/") {
		t.Fatalf("booking: %d %s", code, loc)
	}
	mine := s.get(t, strings.TrimPrefix(loc, "/pickups/"))
	if mine.GetCourier() != courierUser {
		t.Fatalf("booked in Pudong, assigned to %q", mine.GetCourier())
	}
	theirs, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "周女士", Phone: "138 0000 1111", Address: "上海市徐汇区漕溪北路 1 号"},
		Destination: "杭州", Goods: "衣服", WeightGrams: 800, Payment: "cash"}))
	if err != nil {
		t.Fatal(err)
	}
	other := theirs.Msg.GetPickup()
	// An agent without customer.phone (as the default agent role) sees the
	// pickup's phone numbers masked, with no dial link; one with it sees
	// them whole.
	s.user(t, "sun.masked", "孙客服", "pickup.write")
	masked := newAdminClient(t, s.base, "sun.masked", webPassword)
	if code, body := masked.get("/pickups/" + other.GetId()); code != http.StatusOK || strings.Contains(body, "0000 1111") ||
		strings.Contains(body, "tel:+86") || !strings.Contains(body, "****") {
		t.Fatalf("a masked agent's page of a pickup: %d, full number or dial link shown, or no masked number", code)
	}
	if code, body := agent.get("/pickups/" + other.GetId()); code != http.StatusOK || !strings.Contains(body, "0000 1111") || !strings.Contains(body, "tel:") {
		t.Fatalf("the agent with customer.phone: %d, number or dial link missing", code)
	}

	// Pages refuse users without their permission.
	for _, c := range []struct {
		who  *adminClient
		path string
	}{
		{courier, "/pickups/new"}, {courier, "/pickups/zones"}, {courier, "/pickups/couriers"}, {courier, "/pickups/rates"},
		{courier, "/pickups/conflicts"}, {courier, "/pickups/reports"}, {courier, "/accounts/" + strings.Repeat("0", 26)},
		{plain, "/pickups"}, {plain, "/track"}, {plain, "/courier"}, {plain, "/pickups/new"}, {agent, "/courier"},
	} {
		if code, body := c.who.get(c.path); code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403; %s", c.path, code, pageMessages(body))
		}
	}
	// A courier lists and opens their own pickups only.
	code, body = courier.get("/pickups")
	courier.expect("courier's list", code, http.StatusOK, body, "我的取件", mine.GetNumber())
	if strings.Contains(body, other.GetNumber()) {
		t.Fatal("a courier's list shows another courier's pickup")
	}
	if code, _ := courier.get("/pickups/" + other.GetId()); code != http.StatusForbidden {
		t.Fatalf("a courier opening another's pickup: %d", code)
	}
	code, body = courier.get("/courier/list")
	if code != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(body), `<section id="courier-pickups"`) || !strings.Contains(body, mine.GetNumber()) ||
		strings.Contains(body, "<html") {
		t.Fatalf("list fragment: %d %.300s", code, body)
	}

	// Courier actions: another's pickup and a bad weight are refused and
	// change nothing; without the session's token nothing is posted.
	for _, c := range []struct {
		name, path string
		form       url.Values
		warn       string
	}{
		{"another's pickup", "/courier/" + other.GetId() + "/pickup", url.Values{"weight_kg": {"1"}}, "无权操作"},
		{"negative weight", "/courier/" + mine.GetId() + "/pickup", url.Values{"weight_kg": {"-1"}}, "重量必须大于 0"},
		{"no reason", "/courier/" + mine.GetId() + "/fail", url.Values{"reason": {""}}, "原因：必填"},
	} {
		code, loc := courier.post(c.path, c.form)
		if code != http.StatusSeeOther || loc != "/courier" || !strings.Contains(courier.cookie("flash_warn"), c.warn) {
			t.Errorf("%s: %d %s, warning %q, want %q", c.name, code, loc, courier.cookie("flash_warn"), c.warn)
		}
	}
	if code, _ := courier.postRaw("/courier/"+mine.GetId()+"/accept", url.Values{}); code != http.StatusForbidden {
		t.Fatalf("accept without the CSRF token: %d", code)
	}
	if st, ost := s.get(t, mine.GetId()).GetStatus(), s.get(t, other.GetId()).GetStatus(); st != "assigned" || ost != "assigned" {
		t.Fatalf("refused actions changed the pickups: %s, %s", st, ost)
	}
	code, loc = courier.post("/courier/"+mine.GetId()+"/pickup", url.Values{"weight_kg": {"2.2"}, "price_yuan": {""}})
	if got := s.get(t, mine.GetId()); code != http.StatusSeeOther || got.GetStatus() != "picked_up" || got.GetActualWeightGrams() != 2200 {
		t.Fatalf("pick up without accepting: %d %s, %s %d g", code, loc, got.GetStatus(), got.GetActualWeightGrams())
	}

	// The event streams of users holding a pickup permission carry
	// pickup.changed; others' do not subscribe to it.
	events := func(c *adminClient) (*bufio.Reader, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/events", nil)
		resp, err := c.hc.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("events: %v %v", resp, err)
		}
		br := bufio.NewReader(resp.Body)
		if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "retry:") {
			t.Fatalf("stream starts %q", l)
		}
		return br, func() { cancel(); resp.Body.Close() }
	}
	br, stop := events(courier)
	defer stop()
	_, stopPlain := events(plain)
	defer stopPlain()
	if n := s.ui.Broker().Subscribers("pickups"); n != 1 {
		t.Fatalf("%d subscribers of pickup changes, want the courier only", n)
	}
	s.pages.Changed(mine.GetId())
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := br.ReadString('\n')
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("no pickup.changed on the courier's stream: %v", err)
		}
		if strings.TrimSpace(l) == "event: pickup.changed" {
			if d, _ := br.ReadString('\n'); strings.TrimSpace(d) != `data: ["`+mine.GetId()+`"]` {
				t.Fatalf("event data %q", d)
			}
			break
		}
	}
}

// TestCourierBranchesForm: the courier form edits the branches that serve
// a courier, typed with commas of either width; a bad node id is refused
// next to its input.
func TestCourierBranchesForm(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	agent := newAdminClient(t, s.base, agentUser, webPassword)
	form := func(branches string) url.Values {
		return url.Values{"editing": {courierUser}, "user": {courierUser}, "name": {"李师傅"}, "extension": {"8101"},
			"on_duty": {"1"}, "zones": {"pudong"}, "branches": {branches}}
	}
	code, loc := agent.post("/pickups/couriers", form("sh-minhang，bj-haidian, sh-minhang"))
	if code != http.StatusSeeOther || loc != "/pickups/couriers" {
		t.Fatalf("save: %d %s", code, loc)
	}
	branchesOf := func() []string {
		t.Helper()
		resp, err := s.pickups.ListCouriers(s.admin, connect.NewRequest(&pickupv1.ListCouriersRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Msg.GetCouriers() {
			if c.GetUser() == courierUser {
				return c.GetBranches()
			}
		}
		t.Fatalf("no courier %s", courierUser)
		return nil
	}
	if got := branchesOf(); strings.Join(got, " ") != "bj-haidian sh-minhang" {
		t.Fatalf("branches %v", got)
	}
	code, body := agent.get("/pickups/couriers?edit=" + courierUser)
	agent.expect("edit form", code, http.StatusOK, body, `value="bj-haidian, sh-minhang"`, "服务网点")

	code, body = agent.post("/pickups/couriers", form("sh-minhang, SH_PUDONG"))
	agent.expect("bad branch", code, http.StatusUnprocessableEntity, body, "不是有效的网点编号")
	if got := branchesOf(); strings.Join(got, " ") != "bj-haidian sh-minhang" {
		t.Fatalf("a refused form changed the branches: %v", got)
	}
	// Emptied: served by no node besides its pickups' own branches.
	if code, _ := agent.post("/pickups/couriers", form("")); code != http.StatusSeeOther {
		t.Fatalf("emptying: %d", code)
	}
	if got := branchesOf(); len(got) != 0 {
		t.Fatalf("branches after emptying %v", got)
	}
}
