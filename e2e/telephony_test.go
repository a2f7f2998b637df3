package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/rpc"
)

// startSIPNode is startNode with a SIP switch on a free 127.0.0.1 port;
// it returns the node and its SIP address. The node listens on ports the
// OS chooses (one for SIP over UDP and TCP) and says which; a restart keeps
// them.
func startSIPNode(t *testing.T, id, hubs, token string) (*branch, string) {
	t.Helper()
	b := &branch{id: id, data: filepath.Join(t.TempDir(), id)}
	b.proc = startProc(t, id, []string{
		"BRANCHLINE_ADMIN_PASSWORD=" + adminPassword,
		"BRANCHLINE_TOKEN=" + token,
		"BRANCHLINE_HUB=" + hubs,
	}, "node", "--id", id, "--data", b.data, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--sip-host", "127.0.0.1")
	line := b.proc.waitLine("node "+id+" serving on ", 30*time.Second)
	// "node br-a serving on http://127.0.0.1:41231 (sip 127.0.0.1:40211)"
	var sip string
	if _, err := fmt.Sscanf(line, "node "+id+" serving on %s (sip %s", &b.url, &sip); err != nil {
		t.Fatalf("%s said %q: %v", id, line, err)
	}
	sip = strings.TrimSuffix(sip, ")")
	b.proc.setArg("--http", strings.TrimPrefix(b.url, "http://"))
	b.proc.setArg("--sip", sip)
	waitFor(t, 30*time.Second, id+" to serve", func() error { _, err := login(b.url); return err })
	return b, sip
}

// freeUDPPort is a UDP port the OS just had free, for a sipp.
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
	out  *bytes.Buffer
	errf string
	done chan struct{}
	err  error
}

// runSipp starts sipp with testdata/scenario (@KEY@ markers replaced by
// repl) over UDP against target; it is killed when the test ends.
func runSipp(t *testing.T, target, scenario string, repl map[string]string, args ...string) *sippRun {
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
	errf := path + ".errors.log"
	all := append([]string{"-sf", path, "-t", "u1", "-nostdin", "-trace_err", "-error_file", errf,
		"-timeout", "30s", "-timeout_error", "-max_socket", "64"}, args...)
	all = append(all, target)
	p := &sippRun{name: scenario, out: &bytes.Buffer{}, errf: errf, done: make(chan struct{})}
	p.cmd = exec.Command("sipp", all...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
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
			if e, _ := os.ReadFile(errf); len(e) > 0 {
				t.Logf("sipp %s %v errors:\n%s", scenario, all, tailOf(string(e), 4000))
			}
		}
	})
	return p
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// wait fails the test unless sipp exits 0 (every call of its scenario as
// expected) within d.
func (p *sippRun) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("sipp %s did not finish within %v\n%s", p.name, d, tailOf(p.out.String(), 3000))
	}
	if p.err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			code = ee.ExitCode()
		}
		e, _ := os.ReadFile(p.errf)
		t.Fatalf("sipp %s exited %d\n%s\n%s", p.name, code, tailOf(p.out.String(), 3000), tailOf(string(e), 3000))
	}
}

// callRecords lists every call record of the last hour at url, by id.
func callRecords(t *testing.T, c telephonyv1connect.TelephonyServiceClient) (map[string]*telv1.CallRecord, int) {
	t.Helper()
	out := map[string]*telv1.CallRecord{}
	n := 0
	tok := ""
	for {
		resp, err := c.ListCallRecords(context.Background(), connect.NewRequest(&telv1.ListCallRecordsRequest{
			From: timestamppb.New(time.Now().Add(-time.Hour)), To: timestamppb.New(time.Now().Add(time.Hour)),
			PageSize: 100, PageToken: tok,
		}))
		if err != nil {
			t.Fatalf("list call records: %v", err)
		}
		for _, r := range resp.Msg.GetRecords() {
			out[r.GetId()] = r
			n++
		}
		if tok = resp.Msg.GetNextPageToken(); tok == "" {
			return out, n
		}
	}
}

func telephonyClient(t *testing.T, url string) telephonyv1connect.TelephonyServiceClient {
	t.Helper()
	return telephonyv1connect.NewTelephonyServiceClient(hc, url, rpc.WithBearer(mustLogin(t, url)))
}

// TestTelephonyPartition: a node cut from the hub keeps answering calls
// and writes their records and a callback; after healing the hub holds
// every call record exactly once; a node of another branch holds none of
// them, and the branch's PC replaced after a disk loss lists the same.
func TestTelephonyPartition(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	const calls = 5
	const ext, extPw, did = "8001", "pw-e2e-8001", "4000"
	ctx := context.Background()

	hubs := startCluster(t, 1)
	tok := addNode(t, "br-tel", hubs...)
	wan := newLink(t, hubs)
	n, sip := startSIPNode(t, "br-tel", wan.urls(), tok)
	tel := telephonyClient(t, n.url)

	// Who the admin token acts as (the user AgentLogin logs in).
	ag, err := tel.GetAgent(ctx, connect.NewRequest(&telv1.GetAgentRequest{}))
	if err != nil {
		t.Fatalf("get agent: %v", err)
	}
	user := ag.Msg.GetUser()
	if user == "" {
		t.Fatal("GetAgent names no user")
	}
	if _, err := tel.SetExtension(ctx, connect.NewRequest(&telv1.SetExtensionRequest{
		Extension: &telv1.Extension{Number: ext, User: user, DisplayName: "E2E agent"}, Password: extPw,
	})); err != nil {
		t.Fatalf("set extension: %v", err)
	}
	if _, err := tel.SetTrunk(ctx, connect.NewRequest(&telv1.SetTrunkRequest{
		Trunk: &telv1.Trunk{Name: "carrier", Sources: []string{"127.0.0.1"}, Dids: []string{did}},
	})); err != nil {
		t.Fatalf("set trunk: %v", err)
	}
	if _, err := tel.SetQueue(ctx, connect.NewRequest(&telv1.SetQueueRequest{
		Queue: &telv1.Queue{Name: "sales", Strategy: "top_down", Dids: []string{did}, MaxWaitSecs: 2},
	})); err != nil {
		t.Fatalf("set queue: %v", err)
	}
	if _, err := tel.AddQueueMember(ctx, connect.NewRequest(&telv1.AddQueueMemberRequest{
		Queue: "sales", Member: &telv1.Member{User: user, Priority: 1},
	})); err != nil {
		t.Fatalf("add queue member: %v", err)
	}
	converged(t, 30*time.Second, 0, hubs, n)

	// Cut the WAN: from here on nothing reaches the hub.
	wan.setCut(true)
	before := status(t, n.url)
	hubBefore := clusterStatus(t, hubs...).GetHeadPosition()

	// The agent's phone answers every call; it registers with digest auth.
	phonePort := freeUDPPort(t)
	phone := runSipp(t, sip, "agent.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(phonePort), "-m", strconv.Itoa(calls))
	runSipp(t, sip, "register.xml", map[string]string{"CODE": "200"}, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)),
		"-m", "1", "-s", ext, "-au", ext, "-ap", extPw, "-key", "contact_port", strconv.Itoa(phonePort), "-key", "expires", "3600").
		wait(t, 20*time.Second)
	if _, err := tel.AgentLogin(ctx, connect.NewRequest(&telv1.AgentLoginRequest{Extension: ext})); err != nil {
		t.Fatalf("agent login: %v", err)
	}
	if _, err := tel.SetAgentState(ctx, connect.NewRequest(&telv1.SetAgentStateRequest{State: "ready"})); err != nil {
		t.Fatalf("set agent ready: %v", err)
	}

	// N customers, one after another, talk 200 ms and hang up.
	runSipp(t, sip, "caller.xml", nil, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", strconv.Itoa(calls), "-l", "1",
		"-s", did, "-key", "caller", "13800000001", "-d", "200").wait(t, 30*time.Second)
	phone.wait(t, 10*time.Second)

	// One more customer waits past the queue's maximum while the agent
	// is not ready: released with 480, a callback is written.
	waitFor(t, 5*time.Second, "the agent ready again", func() error {
		a, err := tel.GetAgent(ctx, connect.NewRequest(&telv1.GetAgentRequest{}))
		if err != nil {
			return err
		}
		if a.Msg.GetState() != "ready" || a.Msg.GetAnswered() != calls {
			return fmt.Errorf("agent %s, %d answered", a.Msg.GetState(), a.Msg.GetAnswered())
		}
		return nil
	})
	if _, err := tel.SetAgentState(ctx, connect.NewRequest(&telv1.SetAgentStateRequest{State: "not_ready", Reason: "break"})); err != nil {
		t.Fatalf("set agent not ready: %v", err)
	}
	runSipp(t, sip, "caller_final.xml", map[string]string{"CODE": "480"}, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)),
		"-m", "1", "-s", did, "-key", "caller", "13900000002").wait(t, 20*time.Second)

	// Still cut: the node has the records and the callback, the hub none.
	var recs map[string]*telv1.CallRecord
	waitFor(t, 10*time.Second, "the node's call records", func() error {
		var n int
		recs, n = callRecords(t, tel)
		if n != calls+1 || len(recs) != calls+1 {
			return fmt.Errorf("%d records (%d ids), want %d", n, len(recs), calls+1)
		}
		return nil
	})
	answered, maxWait := 0, ""
	for id, r := range recs {
		switch {
		case r.GetDisposition() == "answered" && r.GetAgent() == user && r.GetQueue() == "sales":
			answered++
		case r.GetDisposition() == "no_agent" && r.GetCaller() == "13900000002":
			maxWait = id
		default:
			t.Errorf("unexpected record %v", r)
		}
	}
	if answered != calls || maxWait == "" {
		t.Fatalf("%d answered records (want %d), max-wait record %q", answered, calls, maxWait)
	}
	var cbs []*telv1.Callback
	waitFor(t, 5*time.Second, "the callback", func() error {
		resp, err := tel.ListCallbacks(ctx, connect.NewRequest(&telv1.ListCallbacksRequest{}))
		if err != nil {
			return err
		}
		cbs = resp.Msg.GetCallbacks()
		if len(cbs) != 1 {
			return fmt.Errorf("%d callbacks", len(cbs))
		}
		return nil
	})
	if cb := cbs[0]; cb.GetNumber() != "13900000002" || cb.GetCall() != maxWait || cb.GetReason() != "max_wait" || cb.GetStatus() != "open" {
		t.Fatalf("callback = %v", cb)
	}
	cut := status(t, n.url)
	if cut.GetLastSeq() <= before.GetLastSeq() || cut.GetOutboxPending() < cut.GetLastSeq()-before.GetLastSeq() {
		t.Fatalf("while cut: last seq %d -> %d, outbox %d; want the calls' events pending",
			before.GetLastSeq(), cut.GetLastSeq(), cut.GetOutboxPending())
	}
	t.Logf("while cut: %d records, 1 callback; node last seq %d -> %d, outbox %d", len(recs),
		before.GetLastSeq(), cut.GetLastSeq(), cut.GetOutboxPending())
	if head := clusterStatus(t, hubs...).GetHeadPosition(); head != hubBefore {
		t.Fatalf("hub log moved from %d to %d while the node was cut", hubBefore, head)
	}

	// Heal: everything reaches the hub exactly once.
	wan.setCut(false)
	total := converged(t, 30*time.Second, 0, hubs, n)
	if head := clusterStatus(t, hubs...).GetHeadPosition(); head != total || total != status(t, n.url).GetLastSeq() {
		t.Fatalf("hub log holds %d events, the node made %d: want exactly once", head, total)
	}

	t.Logf("healed: hub and node converged at %d events", total)

	// A node of another branch that starts now holds none of the branch's
	// calls (scopes)...
	tok2 := addNode(t, "br-late", hubs...)
	late := startNode(t, "br-late", hubURLs(hubs), tok2)
	converged(t, 30*time.Second, 0, hubs, n, late)
	if other, k := callRecords(t, telephonyClient(t, late.url)); k != 0 || len(other) != 0 {
		t.Fatalf("another branch's node lists %d of br-tel's call records", k)
	}
	// ...while the branch's own PC, replaced after its disk died, pulls
	// the hub's log: the same records, each once, and the same callback.
	n.proc.kill()
	if err := os.RemoveAll(n.data); err != nil {
		t.Fatal(err)
	}
	n.proc.start()
	converged(t, 60*time.Second, 0, hubs, n, late)
	tel2 := telephonyClient(t, n.url)
	recs2, n2 := callRecords(t, tel2)
	if n2 != len(recs) || len(recs2) != len(recs) {
		t.Fatalf("the replaced PC lists %d records (%d ids), before %d", n2, len(recs2), len(recs))
	}
	for id, r := range recs {
		r2, ok := recs2[id]
		if !ok {
			t.Fatalf("record %s missing at the replaced PC", id)
		}
		if r2.GetSipCallId() != r.GetSipCallId() || r2.GetDisposition() != r.GetDisposition() || r2.GetTalkSecs() != r.GetTalkSecs() {
			t.Fatalf("record %s: before %v, replaced PC %v", id, r, r2)
		}
	}
	resp, err := tel2.ListCallbacks(ctx, connect.NewRequest(&telv1.ListCallbacksRequest{}))
	if err != nil {
		t.Fatalf("list callbacks at the replaced PC: %v", err)
	}
	if got := resp.Msg.GetCallbacks(); len(got) != 1 || got[0].GetId() != cbs[0].GetId() {
		t.Fatalf("the replaced PC's callbacks = %v, want %v", got, cbs)
	}
}
