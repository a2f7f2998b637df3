package web_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/node"
	"branchline/rpc"
	"branchline/wiring"
)

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sippRun is a running sipp process.
type sippRun struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// startSipp runs sipp with testdata/scenario (its @KEY@ markers replaced)
// against target over UDP.
func startSipp(t *testing.T, target, scenario string, repl map[string]string, args ...string) *sippRun {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range repl {
		s = strings.ReplaceAll(s, "@"+k+"@", v)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, scenario)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	all := append([]string{"-sf", path, "-t", "u1", "-nostdin", "-trace_err", "-error_file", path + ".errors.log",
		"-timeout", "30s", "-timeout_error"}, args...)
	all = append(all, target)
	p := &sippRun{name: scenario, done: make(chan struct{})}
	p.cmd = exec.Command("sipp", all...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			errs, _ := os.ReadFile(path + ".errors.log")
			t.Logf("sipp %s errors:\n%s", scenario, errs)
		}
	})
	return p
}

// wait fails the test unless sipp exits 0 (every call of its scenario
// succeeded) within d.
func (p *sippRun) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("sipp %s did not finish within %v\n%s", p.name, d, tail(p.out.String()))
	}
	if p.err != nil {
		t.Fatalf("sipp %s: %v\n%s", p.name, p.err, tail(p.out.String()))
	}
}

// pollTrue waits up to 10 s for a script expression to hold.
func pollTrue(expr string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return err
	})
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// startSIPNode starts a node whose switch listens on a loopback port the
// system chose (UDP and TCP alike), and returns it with the switch's
// address.
func startSIPNode(t *testing.T, id string) (*wiring.Node, string) {
	t.Helper()
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminPassword: webPassword},
		Telephony: wiring.TelephonyConfig{SIPAddr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, n.SIPAddr()
}

// adminBearer logs the node's administrator in over the API.
func adminBearer(t *testing.T, base string) connect.ClientOption {
	t.Helper()
	lr, err := authv1connect.NewAuthServiceClient(rpc.NewHTTPClient(), base).Login(context.Background(),
		connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: webPassword}))
	if err != nil {
		t.Fatal(err)
	}
	return rpc.WithBearer(lr.Msg.GetToken())
}

// setUpQueue configures, as the administrator, extension ext (password
// extPW) for user, a trunk from loopback for did, and the queue "sales"
// of did with user as its member.
func setUpQueue(t *testing.T, tel telephonyv1connect.TelephonyServiceClient, user, ext, extPW, did string) {
	t.Helper()
	ctx := context.Background()
	if _, err := tel.SetExtension(ctx, connect.NewRequest(&telv1.SetExtensionRequest{
		Extension: &telv1.Extension{Number: ext, User: user, DisplayName: user}, Password: extPW})); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.SetTrunk(ctx, connect.NewRequest(&telv1.SetTrunkRequest{
		Trunk: &telv1.Trunk{Name: "carrier", Sources: []string{"127.0.0.1"}, Dids: []string{did}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.SetQueue(ctx, connect.NewRequest(&telv1.SetQueueRequest{
		Queue: &telv1.Queue{Name: "sales", DisplayName: "销售", Strategy: "top_down", Dids: []string{did}, RingTimeoutSecs: 20}})); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.AddQueueMember(ctx, connect.NewRequest(&telv1.AddQueueMemberRequest{
		Queue: "sales", Member: &telv1.Member{User: user, Priority: 1}})); err != nil {
		t.Fatal(err)
	}
}

// registerPhone starts the agent's phone: a sipp UAS that rings for 3 s,
// then answers one call, registered for ext with its digest credentials.
func registerPhone(t *testing.T, sipAddr, ext, extPW string) *sippRun {
	t.Helper()
	phonePort := freeUDPPort(t)
	phone := startSipp(t, sipAddr, "agent_slow.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(phonePort), "-m", "1")
	startSipp(t, sipAddr, "register.xml", map[string]string{"CODE": "200"}, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)),
		"-m", "1", "-s", ext, "-au", ext, "-ap", extPW, "-key", "contact_port", strconv.Itoa(phonePort), "-key", "expires", "3600").
		wait(t, 20*time.Second)
	return phone
}

// TestBrowserDeskScreenPop: a customer's call, placed by a sipp UAC from
// the trunk, rings the agent's sipp phone, and the agent's desk in
// Chromium pops the caller's customer card while it rings.
func TestBrowserDeskScreenPop(t *testing.T) {
	if testing.Short() {
		t.Skip("browser and sipp test; skipped with -short")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	n, sipAddr := startSIPNode(t, "br-desk")
	ctx := context.Background()
	hc := rpc.NewHTTPClient()
	bearer := adminBearer(t, n.URL())
	const ext, extPW, did, caller = "8001", "pw-8001-secret", "4000", "13800138000"
	const customer = "上海来电测试贸易有限公司"
	setUpQueue(t, telephonyv1connect.NewTelephonyServiceClient(hc, n.URL(), bearer), "admin", ext, extPW, did)
	cust := crmv1connect.NewCustomerServiceClient(hc, n.URL(), bearer)
	cr, err := cust.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{
		Customer: &crmv1.Customer{DisplayName: customer, Mobile: caller}, AllowDuplicate: true}))
	if err != nil {
		t.Fatal(err)
	}
	custID := strings.TrimPrefix(cr.Msg.GetName(), "customers/")

	phone := registerPhone(t, sipAddr, ext, extPW)

	// The agent opens the desk, logs in to the extension and is ready.
	bctx := browser(t, 1366, 900)
	base := n.URL()
	login(t, bctx, base, "admin", webPassword)
	var state string
	run(t, bctx, "log in to the extension",
		chromedp.Navigate(base+"/desk"),
		chromedp.WaitVisible(css(`#agent-login`)),
		chromedp.SendKeys(css(`#agent-login input[name=extension]`), ext),
		chromedp.Submit(css(`#agent-login`)),
		chromedp.WaitVisible(css(`#agent-state[data-state=ready]`)),
		into(&state, chromedp.Text(css(`#agent-state`))),
	)
	if state != "就绪" {
		t.Fatalf("agent state reads %q after logging in ready", state)
	}
	// Not ready with a reason, then ready again, from the buttons.
	run(t, bctx, "not ready, then ready",
		chromedp.SetValue(css(`#notready-form select[name=reason]`), "meal"),
		clickJS(`#not-ready`),
		chromedp.WaitVisible(css(`#agent-state[data-state=not_ready]`)),
		into(&state, chromedp.Text(css(`#agent-state`))),
	)
	if state != "未就绪 · meal" {
		t.Fatalf("agent state reads %q after not ready (meal)", state)
	}
	run(t, bctx, "ready",
		clickJS(`#ready`),
		chromedp.WaitVisible(css(`#agent-state[data-state=ready]`)),
		// The event stream is open before the call is placed.
		pollTrue(`window.branchlineEvents && window.branchlineEvents.readyState === 1`),
	)

	// The customer calls the DID from the trunk.
	start := time.Now()
	call := startSipp(t, sipAddr, "caller.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1",
		"-s", did, "-key", "caller", caller, "-d", "2000")

	popCtx, cancel := context.WithTimeout(bctx, 5*time.Second)
	defer cancel()
	var name, ringing, callerShown string
	var href, book chromedp.AttributeResult
	if err := chromedp.Do(popCtx,
		chromedp.WaitVisible(css(`#pop .pop-name`)),
		into(&name, chromedp.Text(css(`#pop .pop-name`))),
		into(&href, chromedp.AttributeValue(css(`#pop .pop-name`), "href")),
		into(&callerShown, chromedp.Text(css(`#pop .phone`))),
		into(&book, chromedp.AttributeValue(css(`#pop .pop-customer .pop-book`), "href")),
		chromedp.WaitVisible(css(`#agent-state[data-state=ringing]`)),
		into(&ringing, chromedp.Text(css(`#agent-state`))),
	); err != nil {
		t.Fatalf("no screen pop within 5 s of the call: %v\n%s", err, tail(call.out.String()))
	}
	popAfter := time.Since(start)
	run(t, bctx, "screenshot the pop", shot(t, "desk-screen-pop"))
	t.Logf("screen pop shown %v after the call was placed", popAfter.Round(time.Millisecond))
	if name != customer || !strings.HasSuffix(href.Value, "/customers/"+custID) || !strings.Contains(callerShown, caller) {
		t.Fatalf("pop shows %q (%s) for %q, want %q (/customers/%s) for %s", name, href.Value, callerShown, customer, custID, caller)
	}
	// The pop offers to book a pickup (叫件) with the caller as sender.
	if book.Value != "/pickups/new?customer="+custID {
		t.Fatalf("the pop's book-pickup link is %q, want /pickups/new?customer=%s", book.Value, custID)
	}
	if ringing != "振铃中" {
		t.Fatalf("agent state reads %q while the phone rings", ringing)
	}

	// The phone answers after 3 s, the caller hangs up after 2 s of talk:
	// both sipps finish their one call successfully.
	call.wait(t, 30*time.Second)
	phone.wait(t, 15*time.Second)
	run(t, bctx, "back to ready after the call",
		pollTrue(`['ready', 'wrap_up'].includes(document.querySelector('#agent-state').dataset.state) && document.querySelector('#call').hidden`),
		shot(t, "desk-after-call"),
	)
}

// TestBrowserSupervisor opens the supervisor page with its board and KPIs.
func TestBrowserSupervisor(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	n, _ := startSIPNode(t, "br-sup")
	bctx := browser(t, 1366, 900)
	login(t, bctx, n.URL(), "admin", webPassword)
	var kpis string
	var refresh chromedp.AttributeResult
	var ok bool
	run(t, bctx, "supervisor page",
		chromedp.Navigate(n.URL()+"/supervisor"),
		chromedp.WaitVisible(css(`#kpis`)),
		into(&kpis, chromedp.Text(css(`#kpis`))),
		into(&refresh, chromedp.AttributeValue(css(`#supervisor`), "data-refresh")),
		into(&ok, chromedp.Evaluate[bool](`!!document.querySelector('#agents') && !!document.querySelector('#queues')`)),
		shot(t, "supervisor"),
	)
	if !strings.Contains(kpis, "呼入: 0") || !strings.Contains(kpis, "放弃率") || refresh.Value != "5" || !ok {
		t.Fatalf("supervisor page: kpis %q, refresh %q, board %v", kpis, refresh.Value, ok)
	}
}

// TestBrowserBoardKeepsFocus (issue 15, part 8): the supervisor's board
// brings itself up to date in place — a queue added meanwhile shows — and
// the element the supervisor has focused, a queue table's scrolling
// wrapper reached by Tab, keeps the focus across the update.
func TestBrowserBoardKeepsFocus(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	n, _ := startSIPNode(t, "br-board")
	tel := telephonyv1connect.NewTelephonyServiceClient(rpc.NewHTTPClient(), n.URL(), adminBearer(t, n.URL()))
	setUpQueue(t, tel, "admin", "8002", "pw-8002-secret", "4002")
	ctx := browser(t, 1366, 900)
	login(t, ctx, n.URL(), "admin", webPassword)
	var label string
	run(t, ctx, "supervisor page, a table focused",
		chromedp.Navigate(n.URL()+"/supervisor"),
		chromedp.WaitVisible(css(`#queues .table-wrap`)),
		js(`window.samePage = true; window.focused = document.querySelector('#queues .table-wrap'); window.focused.focus()`),
		into(&label, chromedp.Evaluate[string](`document.activeElement.getAttribute('aria-label') || ''`)),
	)
	if label != "技能组" {
		t.Errorf("the focused table is named %q, want its section's heading 技能组", label)
	}
	if _, err := tel.SetQueue(context.Background(), connect.NewRequest(&telv1.SetQueueRequest{
		Queue: &telv1.Queue{Name: "support", DisplayName: "售后", Strategy: "top_down", Dids: []string{"4003"}, RingTimeoutSecs: 20}})); err != nil {
		t.Fatal(err)
	}
	var kept bool
	run(t, ctx, "an update later",
		pollTrue(`document.getElementById('queues').textContent.includes('support')`),
		into(&kept, chromedp.Evaluate[bool](`window.samePage === true && document.activeElement === window.focused && document.contains(window.focused)`)),
		shot(t, "supervisor-focus-kept"),
	)
	if !kept {
		t.Fatal("the update moved the focus off the table the supervisor had focused")
	}
}
