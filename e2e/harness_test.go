package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/internal/poll"
	"branchline/replication"
	"branchline/rpc"
)

// binary is the branchline executable built once for all tests.
var binary string

const adminPassword = "e2e-admin-password"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "branchline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "branchline")
	build := exec.Command("go", "build", "-o", binary, "branchline/cmd/branchline")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build branchline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a branchline process the test started.
type proc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, env: env, log: filepath.Join(t.TempDir(), name+".log")}
	p.start()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			lines := strings.Split(string(b), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("last log lines of %s:\n%s", p.name, strings.Join(lines, "\n"))
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(binary, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); f.Close(); close(p.done) }()
}

// kill sends SIGKILL: the process gets no chance to flush anything.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// stop sends SIGTERM and waits for an orderly exit.
func (p *proc) stop() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("%s did not exit within 30 s of SIGTERM", p.name)
		p.kill()
	}
	p.cmd = nil
}

func (p *proc) restart() {
	p.t.Helper()
	p.kill()
	p.start()
}

// waitLine waits for a line of the process's output that starts with
// prefix and returns it.
func (p *proc) waitLine(prefix string, timeout time.Duration) string {
	p.t.Helper()
	var line string
	waitFor(p.t, timeout, p.name+" to say "+strings.TrimSpace(prefix), func() error {
		b, err := os.ReadFile(p.log)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				line = strings.TrimSpace(l)
				return nil
			}
		}
		return errors.New("not yet")
	})
	return line
}

// setArg replaces the value of flag in the arguments a restart uses.
func (p *proc) setArg(flag, value string) {
	for i := 0; i+1 < len(p.args); i++ {
		if p.args[i] == flag {
			p.args[i+1] = value
		}
	}
}

// logContains reports whether the process log has s.
func (p *proc) logContains(s string) bool {
	f, err := os.Open(p.log)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}

// hubMember is a hub process.
type hubMember struct {
	*proc
	id, url, raft, data string
}

// startHub starts member id; join is "" to bootstrap a new cluster. The
// member listens on ports the OS chooses, and says which; a restart keeps
// them.
func startHub(t *testing.T, id, join string, extra ...string) *hubMember {
	t.Helper()
	h := &hubMember{id: id, data: filepath.Join(t.TempDir(), id)}
	// Raft's own default timeout, not the product's three times longer
	// one: these tests stop leaders again and again, and each election
	// would wait 3–6 s (the whole suite 40 s longer; it passes either way).
	args := []string{"hub", "--id", id, "--data", h.data, "--http", "127.0.0.1:0", "--raft", "127.0.0.1:0", "--raft-timeout", "1s"}
	if join == "" {
		args = append(args, "--bootstrap")
	} else {
		args = append(args, "--join", join)
	}
	h.proc = startProc(t, id, []string{"BRANCHLINE_ADMIN_PASSWORD=" + adminPassword}, append(args, extra...)...)
	line := h.proc.waitLine("hub member "+id+" serving on ", 30*time.Second)
	// "hub member hub1 serving on http://127.0.0.1:41231 (raft 127.0.0.1:40211)"
	if _, err := fmt.Sscanf(line, "hub member "+id+" serving on %s (raft %s", &h.url, &h.raft); err != nil {
		t.Fatalf("%s said %q: %v", id, line, err)
	}
	h.raft = strings.TrimSuffix(h.raft, ")")
	h.proc.setArg("--http", strings.TrimPrefix(h.url, "http://"))
	h.proc.setArg("--raft", h.raft)
	return h
}

// startCluster starts n hub members and waits until all hold the cluster.
func startCluster(t *testing.T, n int, extra ...string) []*hubMember {
	t.Helper()
	hubs := []*hubMember{startHub(t, "hub1", "", extra...)}
	waitFor(t, 30*time.Second, "hub1 to lead", func() error { _, err := login(hubs[0].url); return err })
	for i := 2; i <= n; i++ {
		hubs = append(hubs, startHub(t, fmt.Sprintf("hub%d", i), hubs[0].url, extra...))
	}
	waitFor(t, 60*time.Second, "every member to join", func() error {
		st := clusterStatus(t, hubs...)
		if len(st.GetMembers()) != n {
			return fmt.Errorf("%d members", len(st.GetMembers()))
		}
		for _, m := range st.GetMembers() {
			if m.GetState() != "Leader" && m.GetState() != "Follower" {
				return fmt.Errorf("member %s is %s", m.GetId(), m.GetState())
			}
		}
		return nil
	})
	return hubs
}

func hubURLs(hubs []*hubMember) string {
	var u []string
	for _, h := range hubs {
		u = append(u, h.url)
	}
	return strings.Join(u, ",")
}

// branch is a node process.
type branch struct {
	*proc
	id, url, data string
}

func startNode(t *testing.T, id, hubs, token string, env ...string) *branch {
	t.Helper()
	b := &branch{id: id, data: filepath.Join(t.TempDir(), id)}
	b.proc = startProc(t, id, append([]string{
		"BRANCHLINE_ADMIN_PASSWORD=" + adminPassword,
		"BRANCHLINE_TOKEN=" + token,
		"BRANCHLINE_HUB=" + hubs,
	}, env...), "node", "--id", id, "--data", b.data, "--http", "127.0.0.1:0")
	b.url = strings.TrimPrefix(b.proc.waitLine("node "+id+" serving on ", 30*time.Second), "node "+id+" serving on ")
	b.proc.setArg("--http", strings.TrimPrefix(b.url, "http://"))
	waitFor(t, 30*time.Second, id+" to serve", func() error { _, err := login(b.url); return err })
	return b
}

var hc = rpc.NewHTTPClient()

func login(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv1connect.NewAuthServiceClient(hc, url).Login(ctx,
		connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: adminPassword}))
	if err != nil {
		return "", err
	}
	return resp.Msg.GetToken(), nil
}

func mustLogin(t *testing.T, url string) string {
	t.Helper()
	tok, err := login(url)
	if err != nil {
		t.Fatalf("log in at %s: %v", url, err)
	}
	return tok
}

// anyLogin logs in at the first hub member that lets us.
func anyLogin(t *testing.T, hubs ...*hubMember) (string, string) {
	t.Helper()
	var errs []error
	for _, h := range hubs {
		if h.cmd == nil {
			continue
		}
		tok, err := login(h.url)
		if err == nil {
			return h.url, tok
		}
		errs = append(errs, err)
	}
	t.Fatalf("no hub member lets us in: %v", errors.Join(errs...))
	return "", ""
}

func addNode(t *testing.T, id string, hubs ...*hubMember) string {
	t.Helper()
	url, tok := anyLogin(t, hubs...)
	resp, err := adminv1connect.NewClusterServiceClient(hc, url, rpc.WithBearer(tok)).
		AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: id}))
	if err != nil {
		t.Fatalf("add node %s: %v", id, err)
	}
	return resp.Msg.GetToken()
}

func clusterStatus(t *testing.T, hubs ...*hubMember) *adminv1.ClusterStatusResponse {
	t.Helper()
	url, tok := anyLogin(t, hubs...)
	resp, err := adminv1connect.NewClusterServiceClient(hc, url, rpc.WithBearer(tok)).
		ClusterStatus(context.Background(), connect.NewRequest(&adminv1.ClusterStatusRequest{}))
	if err != nil {
		t.Fatalf("cluster status: %v", err)
	}
	return resp.Msg
}

func status(t *testing.T, url string) *adminv1.StatusResponse {
	t.Helper()
	st, err := statusOf(url)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tokens caches a login per URL: every login at a node is an audited,
// replicated event, and polling must not keep adding events.
var tokens = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func cachedLogin(url string) (string, error) {
	tokens.Lock()
	defer tokens.Unlock()
	if tok, ok := tokens.m[url]; ok {
		return tok, nil
	}
	tok, err := login(url)
	if err == nil {
		tokens.m[url] = tok
	}
	return tok, err
}

func statusOf(url string) (*adminv1.StatusResponse, error) {
	tok, err := cachedLogin(url)
	if err != nil {
		return nil, fmt.Errorf("log in at %s: %w", url, err)
	}
	resp, err := adminv1connect.NewAdminServiceClient(hc, url, rpc.WithBearer(tok)).
		Status(context.Background(), connect.NewRequest(&adminv1.StatusRequest{}))
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		// A hub member that restarted with a new cluster key, or similar.
		tokens.Lock()
		delete(tokens.m, url)
		tokens.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", url, err)
	}
	return resp.Msg, nil
}

func customers(url, tok string) crmv1connect.CustomerServiceClient {
	return crmv1connect.NewCustomerServiceClient(hc, url, rpc.WithBearer(tok))
}

// waitFor polls cond every 100 ms until it returns nil, failing the test
// after timeout with cond's last error.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	poll.Until(t, timeout, what, cond)
}

// converged waits until every node has pushed everything, every live
// member shows the same digest and number of applied events, and each
// node's digest of what it holds (the company's events and its scopes')
// equals the hub's digest of the same scopes; it returns the members'
// number of applied events. It also checks exactly-once delivery at the
// hub: every node's outbox is durable there, and the members hold want
// events, or, when want is 0, exactly the sum of the nodes' own events and
// those the hub made (every other event in these tests comes from one of
// the nodes given).
func converged(t *testing.T, timeout time.Duration, want uint64, hubs []*hubMember, nodes ...*branch) uint64 {
	t.Helper()
	var applied uint64
	waitFor(t, timeout, "replicas to converge", func() error {
		var hub *adminv1.StatusResponse
		var sum, made uint64
		for _, h := range hubs {
			if h.cmd == nil {
				continue
			}
			st, err := statusOf(h.url)
			if err != nil {
				return err
			}
			if hub == nil {
				hub = st
			} else if st.GetDigest() != hub.GetDigest() || st.GetEventsApplied() != hub.GetEventsApplied() {
				return fmt.Errorf("%s: digest %.12s, %d events; %s %.12s, %d", h.id, st.GetDigest(), st.GetEventsApplied(), hub.GetId(), hub.GetDigest(), hub.GetEventsApplied())
			}
			made = max(made, st.GetHubEvents())
		}
		if hub == nil {
			return errors.New("no live hub member")
		}
		applied = hub.GetEventsApplied()
		for _, n := range nodes {
			st, err := statusOf(n.url)
			if err != nil {
				return err
			}
			if st.GetOutboxPending() != 0 {
				return fmt.Errorf("%s has %d events to push", n.id, st.GetOutboxPending())
			}
			want, err := scopeDigest(hub.GetScopeDigests(), st.GetScopes())
			if err != nil {
				return err
			}
			if st.GetDigest() != want {
				return fmt.Errorf("%s: digest %.12s of %v, hub's %.12s", n.id, st.GetDigest(), st.GetScopes(), want)
			}
			sum += st.GetLastSeq()
		}
		if want == 0 {
			want = sum + made
		}
		if applied != want {
			return fmt.Errorf("the hub applied %d events, want %d", applied, want)
		}
		return nil
	})
	return applied
}

// scopeDigest is a hub's digest of the company's events and those of
// scopes, from its digests per scope (Status.ScopeDigests).
func scopeDigest(digests map[string]string, scopes []string) (string, error) {
	ds, err := replication.ParseDigests(digests)
	if err != nil {
		return "", err
	}
	return replication.ScopeDigest(ds, scopes).String(), nil
}

// proxy is a TCP relay the test can cut, to simulate a WAN outage between
// a node and the hub.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.relay(c)
	}
}

func (p *proxy) relay(c net.Conn) {
	defer p.drop(c)
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// setCut cuts (closing every open connection) or heals the link.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// get is a plain HTTP GET.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
