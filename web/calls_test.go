package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/auth"
	"branchline/crm/crmapp"
	accessv1 "branchline/gen/branchline/access/v1"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
	"branchline/telephony"
	"branchline/wiring"
)

// callSite is a node whose call records, callbacks and customers a test
// sets up, with users who take or supervise calls.
type callSite struct {
	n      *wiring.Node
	base   string
	ids    *replication.IDs
	access *api.AccessService
	cust   *api.CustomerService
	admin  context.Context
	// customer is the customer whose mobile is callerNumber.
	customer string
	// calls are the ids of the calls recorded, oldest first.
	calls []string
	// callback is the customer's open callback.
	callback string
}

// Users and numbers of the call tests.
const (
	callSupervisor = "zhou.sup"   // supervises calls, reads customers, sees numbers
	callAgent      = "sun.agent"  // takes calls, reads customers, sees numbers
	callMasked     = "qian.agent" // takes calls, reads customers, numbers masked
	callerNumber   = "13800138000"
	otherNumber    = "13900139000"
)

func startCallSite(t *testing.T) *callSite {
	t.Helper()
	n := startNode(t)
	st := n.Store()
	ids := replication.NewIDs()
	grants := app.AccessGrants(st, nil)
	s := &callSite{n: n, base: n.URL(), ids: ids,
		access: &api.AccessService{App: &accessapp.Admin{Store: st, IDs: ids, Node: "br-web"}, Grants: grants},
		cust:   &api.CustomerService{App: &crmapp.Customers{Store: st, IDs: ids, Node: "br-web"}, Grants: grants},
		admin:  auth.WithPrincipal(context.Background(), &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}),
	}
	s.user(t, callSupervisor, "周主管", "call.supervise", "customer.read", "customer.phone")
	s.user(t, callAgent, "孙坐席", "call.agent", "customer.read", "customer.phone")
	s.user(t, callMasked, "钱坐席", "call.agent", "customer.read")
	c, err := s.cust.CreateCustomer(s.admin, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{
		DisplayName: "上海通话测试贸易有限公司", Mobile: callerNumber}, AllowDuplicate: true}))
	if err != nil {
		t.Fatal(err)
	}
	s.customer = strings.TrimPrefix(c.Msg.GetName(), "customers/")
	return s
}

// user creates a user holding perms, with the test password.
func (s *callSite) user(t *testing.T, username, display string, perms ...string) {
	t.Helper()
	var ps []*accessv1.Permission
	for _, p := range perms {
		ps = append(ps, &accessv1.Permission{Permission: p, Scope: accessv1.Scope_SCOPE_ALL})
	}
	role, err := s.access.CreateRole(s.admin, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: display, Permissions: ps}}))
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

// record records a call that arrived at, inbound from number (outbound to
// it when out), answered by agent after wait (not answered without one).
func (s *callSite) record(t *testing.T, at time.Time, number, queue, agent string, out bool, wait, talk time.Duration) string {
	t.Helper()
	id := s.ids.New(at)
	r := &telephony.Record{ID: id, Direction: telephony.Inbound, Caller: number, DID: "02188880000", Queue: queue, Agent: agent,
		Arrive: at, End: at.Add(wait + talk), Disposition: telephony.Abandoned}
	if out {
		r.Direction, r.Caller, r.DID, r.Disposition = telephony.Outbound, "8001", number, telephony.NotAnswered
	}
	if agent != "" {
		r.Answer, r.Disposition = at.Add(wait), telephony.Answered
	}
	s.exec(t, func(replication.Tx) (replication.Draft, error) { return telephony.EndCall(r) })
	s.calls = append(s.calls, id)
	return id
}

func (s *callSite) exec(t *testing.T, cmd func(replication.Tx) (replication.Draft, error)) {
	t.Helper()
	if _, err := s.n.Store().Exec(context.Background(), "admin", func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(cmd(views))
	}); err != nil {
		t.Fatal(err)
	}
}

// setUpCalls records n calls a minute apart ending a minute ago: every
// third from another number, the others the customer's (every other one
// answered by the agent, the rest unanswered), and an open and a done
// callback of the customer's number.
func (s *callSite) setUpCalls(t *testing.T, n int) {
	t.Helper()
	start := time.Now().Add(-time.Duration(n+1) * time.Minute)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute)
		switch {
		case i%3 == 2:
			s.record(t, at, otherNumber, "service", "", false, time.Duration(i)*time.Second, 0)
		case i%2 == 0:
			s.record(t, at, callerNumber, "sales", callAgent, false, time.Duration(i)*time.Second, time.Duration(60+i)*time.Second)
		default:
			s.record(t, at, "+86"+callerNumber, "sales", "", false, time.Duration(i)*time.Second, 0)
		}
	}
	s.callback = s.ids.New(time.Now())
	s.exec(t, func(replication.Tx) (replication.Draft, error) {
		return telephony.CreateCallback(s.callback, callerNumber, s.calls[1], "sales", telephony.ReasonAbandoned, time.Now())
	})
	done := s.ids.New(time.Now())
	s.exec(t, func(replication.Tx) (replication.Draft, error) {
		return telephony.CreateCallback(done, callerNumber, "", "sales", telephony.ReasonNoAgent, time.Now().Add(-time.Hour))
	})
	s.exec(t, func(views replication.Tx) (replication.Draft, error) {
		return telephony.CompleteCallback(views, done, "已回电")
	})
}

// window is the query of the two days around now, so that a test run
// just after midnight lists the calls of before it too.
func window() string {
	now := time.Now().In(app.Zone(nil))
	return "from=" + now.AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + now.Format(time.DateOnly)
}

// TestCallPagesHTTP: the call list's totals, filters and bad input, who
// sees which calls and numbers, and the card's calls and callbacks.
func TestCallPagesHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	s := startCallSite(t)
	s.setUpCalls(t, 9) // 6 of the customer's (3 answered by the agent), 3 of another number
	sup := signInAt(t, s.base, callSupervisor, "/calls")
	checkListPages(t, sup, []listCase{
		{"the window", "/calls?" + window(), 200, "共 9 条", []string{`href="tel:` + callerNumber + `"`, "已接听", "来电方挂断"}},
		{"a queue", "/calls?queue=service&" + window(), 200, "共 3 条", nil},
		{"an outcome", "/calls?outcome=answered&" + window(), 200, "共 3 条", nil},
		{"an agent", "/calls?agent=" + callAgent + "&" + window(), 200, "共 3 条", nil},
		{"a whole number, either notation", "/calls?q=138+0013+8000&" + window(), 200, "共 6 条", nil},
		{"digits of a number", "/calls?q=0139&" + window(), 200, "共 3 条", nil},
		{"the customer's", "/calls?customer=" + s.customer + "&" + window(), 200, "共 6 条", []string{`id="customer-filter"`, "上海通话测试贸易有限公司"}},
		{"sorted by wait", "/calls?sort=wait&" + window(), 200, "共 9 条", []string{`aria-sort="ascending" class="sortable num"><a href="/calls?dir=desc&amp;from=`}},
		{"a bad cursor: the first page", "/calls?after=not-a-cursor&" + window(), 200, "共 9 条", []string{"该页已不存在"}},
		{"a cursor of another list: the first page", "/calls?after=AAAA&" + window(), 200, "共 9 条", []string{"该页已不存在"}},
		{"an unknown column: the default order", "/calls?sort=secret&" + window(), 200, "共 9 条", nil},
		{"an unknown direction", "/calls?direction=sideways&" + window(), 422, "", []string{"不是有效的呼叫方向。"}},
		{"a bad date: marked, left out", "/calls?from=2026-13-45", 422, "-", []string{"不是有效日期。"}},
		{"too many days", "/calls?from=2026-01-01&to=2026-03-01", 422, "", []string{"一次最多查询 31 天。"}},
		{"an end before the start", "/calls?from=2026-03-01&to=2026-02-01", 422, "", []string{"截止日期早于起始日期。"}},
	})

	// An agent lists their own calls; one who may not see numbers sees
	// them masked, cannot search by them and gets no tel: links.
	agent := signInAt(t, s.base, callAgent, "/calls")
	if _, page := agent.get(t, "/calls?"+window()); listTotal(page) != "共 3 条" || !strings.Contains(page, "我的通话记录") {
		t.Errorf("the agent's own calls: %q", listTotal(page))
	}
	masked := signInAt(t, s.base, callMasked, "/calls")
	s.record(t, time.Now().Add(-30*time.Second), callerNumber, "sales", callMasked, false, time.Second, time.Minute)
	status, page := masked.get(t, "/calls?q="+callerNumber+"&"+window())
	switch {
	case status != 200 || listTotal(page) != "共 1 条":
		t.Errorf("masked: status %d, total %q", status, listTotal(page))
	case strings.Contains(page, `id="call-q"`) || !strings.Contains(page, "您无权按号码查询通话。"):
		t.Error("masked: number search offered, or its refusal not said")
	case strings.Contains(page, "tel:") || fullNumber(page, callerNumber) || !strings.Contains(page, "138****8000"):
		t.Error("masked: a number shown whole")
	}

	// The card: the customer's calls with tel: links, its callbacks open
	// first, and the way to the customer's full call list.
	_, card := sup.get(t, "/customers/"+s.customer)
	for _, want := range []string{`id="calls"`, `id="callbacks"`, `href="tel:` + callerNumber + `"`, "全部 7 次通话", "待处理", "已完成", "已回电",
		`href="/calls?customer=` + s.customer + `&amp;from=`} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q", want)
		}
	}
	if strings.Index(card, `data-status="open"`) > strings.Index(card, `data-status="done"`) {
		t.Error("the open callback is not first")
	}
	_, card = masked.get(t, "/customers/"+s.customer)
	if !strings.Contains(card, `id="calls"`) || strings.Contains(card, `tel:`) || fullNumber(card, callerNumber) {
		t.Error("a reader who may not see numbers sees one on the card, or no calls")
	}
	// Nothing changed by any of it.
	if n := len(s.calls); n != 10 {
		t.Fatalf("%d calls recorded", n)
	}
}

// signInAt logs user in through the login form, landing on next.
func signInAt(t *testing.T, base, user, next string) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &webClient{c: &http.Client{Jar: jar}, base: base}
	_, body := w.get(t, "/login")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	resp, err := w.c.PostForm(base+"/login", url.Values{"_csrf": {m[1]}, "username": {user}, "password": {webPassword}, "next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != next {
		t.Fatalf("login of %s landed on %s", user, resp.Request.URL)
	}
	return w
}

// listTotal is the total a list page shows, "" for none.
func listTotal(page string) string {
	_, rest, ok := strings.Cut(page, `id="list-total"`)
	if !ok {
		return ""
	}
	_, rest, _ = strings.Cut(rest, ">")
	v, _, _ := strings.Cut(rest, "<")
	return html.UnescapeString(v)
}

// listCase is a list page a test opens and what it must show.
type listCase struct {
	name   string
	path   string
	status int
	total  string // the total shown; "" for no list, "-" not checked
	has    []string
}

// checkListPages opens each case's page as w and checks its status,
// total and texts.
func checkListPages(t *testing.T, w *webClient, cases []listCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, page := w.get(t, tc.path)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if got := listTotal(page); tc.total != "-" && got != tc.total {
				t.Errorf("total %q, want %q", got, tc.total)
			}
			for _, want := range tc.has {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			if n := strings.Count(page, "<tr data-"); n > 50 {
				t.Errorf("%d rows on a page", n)
			}
		})
	}
}
