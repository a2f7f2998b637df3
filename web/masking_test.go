package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/internal/poll"
	"branchline/replication"
	"branchline/rpc"
	"branchline/telephony"
)

// sseEvent is one Server-Sent Event as a browser would get it.
type sseEvent struct{ name, data string }

// readSSE streams the events of an open /events answer into a channel,
// after the stream's first comment (": connected") has arrived.
func readSSE(t *testing.T, resp *http.Response) <-chan sseEvent {
	t.Helper()
	ch := make(chan sseEvent, 16)
	connected := make(chan struct{})
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": connected":
				close(connected)
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			case line == "" && (ev.name != "" || ev.data != ""):
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream did not start")
	}
	return ch
}

// fullNumber reports whether text shows the number n (11 digits) in full,
// as typed or grouped for display.
func fullNumber(text, n string) bool {
	return strings.Contains(text, n) || strings.Contains(text, n[:3]+" "+n[3:7]+" "+n[7:]) ||
		strings.Contains(strings.ReplaceAll(text, " ", ""), n)
}

// TestAgentWithoutPhonePermissionSeesNoNumber (号码加密): an agent who
// may read customers but not see phone numbers takes a real call at a
// real node. The screen pop's SSE event, the desk's callbacks list and the
// agent's call records show the caller's number masked and never whole;
// the desk still calls the callback back by its id.
func TestAgentWithoutPhonePermissionSeesNoNumber(t *testing.T) {
	if testing.Short() {
		t.Skip("sipp test; skipped with -short")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	n, sipAddr := startSIPNode(t, "br-mask")
	base := n.URL()
	ctx := context.Background()
	hc := rpc.NewHTTPClient()
	authc := authv1connect.NewAuthServiceClient(hc, base)
	admin := adminBearer(t, base)

	// The agent: takes calls and reads customers, may not see numbers.
	const agent, agentPW, ext, extPW, did, caller = "agent.li", "agent-li-password", "8002", "pw-8002-secret", "4000", "13800138000"
	const customer = "上海号码加密测试有限公司"
	acc := accessv1connect.NewAccessServiceClient(hc, base, admin)
	role, err := acc.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{DisplayName: "坐席",
		Permissions: []*accessv1.Permission{{Permission: "call.agent", Scope: accessv1.Scope_SCOPE_ALL}, {Permission: "customer.read", Scope: accessv1.Scope_SCOPE_ALL}}}}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := acc.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{User: &accessv1.User{Username: agent, DisplayName: "李坐席"}, Password: agentPW}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()})); err != nil {
		t.Fatal(err)
	}
	setUpQueue(t, telephonyv1connect.NewTelephonyServiceClient(hc, base, admin), agent, ext, extPW, did)
	if _, err := crmv1connect.NewCustomerServiceClient(hc, base, admin).CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{
		Customer: &crmv1.Customer{DisplayName: customer, Mobile: caller}, AllowDuplicate: true})); err != nil {
		t.Fatal(err)
	}
	// An earlier call of the customer's that nobody took: a callback.
	cbID := replication.NewIDs().New(time.Now())
	if _, err := n.Store().Exec(ctx, "", func(replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.CreateCallback(cbID, caller, "", "sales", telephony.ReasonNoAgent, time.Now().Add(-time.Hour))
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}

	// The agent's browser: signs in, logs in to the extension, ready.
	c := signedIn(t, base, agent, agentPW, "/desk")
	if code, body := c.post("/desk/login", url.Values{"extension": {ext}, "ready": {"1"}}); code != http.StatusSeeOther {
		t.Fatalf("desk login: %d %s", code, body)
	}
	code, page := c.get("/desk")
	if code != http.StatusOK || !strings.Contains(page, "138****8000") || !strings.Contains(page, `data-dial-callback="`+cbID+`"`) {
		t.Fatalf("the desk's callbacks list lacks the masked callback and its call-back button: %d %s", code, pageMessages(page))
	}
	if fullNumber(page, caller) {
		t.Fatal("the desk page shows the caller's number in full")
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	events := readSSE(t, resp)

	// The phone registers; the customer calls.
	phone := registerPhone(t, sipAddr, ext, extPW)
	call := startSipp(t, sipAddr, "caller.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1",
		"-s", did, "-key", "caller", caller, "-d", "1000")

	var pop string
	for deadline := time.After(15 * time.Second); pop == ""; {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if fullNumber(ev.data, caller) {
				t.Fatalf("event %s carries the number in full: %s", ev.name, ev.data)
			}
			if ev.name == "call.ring" {
				pop = ev.data
			}
		case <-deadline:
			t.Fatalf("no screen pop\n%s", tail(call.out.String()))
		}
	}
	if !strings.Contains(pop, `"caller":"138****8000"`) || !strings.Contains(pop, customer) {
		t.Fatalf("the pop shows %s; want the masked caller and the customer's card", pop)
	}
	call.wait(t, 30*time.Second)
	phone.wait(t, 15*time.Second)

	// The agent's call records, over the API.
	alr, err := authc.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: agent, Password: agentPW}))
	if err != nil {
		t.Fatal(err)
	}
	mine := telephonyv1connect.NewTelephonyServiceClient(hc, base, rpc.WithBearer(alr.Msg.GetToken()))
	var recs *telv1.ListCallRecordsResponse
	poll.Until(t, 10*time.Second, "the call record", func() error {
		r, err := mine.ListCallRecords(ctx, connect.NewRequest(&telv1.ListCallRecordsRequest{}))
		if err != nil {
			return err
		}
		if len(r.Msg.GetRecords()) != 1 {
			return fmt.Errorf("%d records", len(r.Msg.GetRecords()))
		}
		recs = r.Msg
		return nil
	})
	if r := recs.GetRecords()[0]; r.GetCaller() != "138****8000" || fullNumber(r.String(), caller) {
		t.Fatalf("the agent's call record: %v", r)
	}
	cbs, err := mine.ListCallbacks(ctx, connect.NewRequest(&telv1.ListCallbacksRequest{Status: "open"}))
	if err != nil || len(cbs.Msg.GetCallbacks()) == 0 || fullNumber(cbs.Msg.String(), caller) {
		t.Fatalf("the agent's callbacks over the API: %v, %v", cbs, err)
	}
	_, page = c.get("/desk")
	if fullNumber(page, caller) {
		t.Fatal("the desk page shows the caller's number in full after the call")
	}
}
