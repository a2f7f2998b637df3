package pbx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/telephony"
)

// memStore is the node's store reduced to what the switch uses: commands
// run, are stamped, checked as the hub would, and applied, all in memory.
// (The node's Badger store is tested in node/; here it would only slow the
// calls down.)
type memStore struct {
	mu     sync.RWMutex
	reg    *replication.Registry
	m      *reptest.Mem
	views  *replication.Views
	seq    uint64
	clock  *replication.Clock
	events []*replication.Event
}

func newMemStore(t testing.TB) *memStore {
	t.Helper()
	reg := replication.NewRegistry()
	telephony.Register(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &memStore{reg: reg, m: m, views: v, clock: replication.NewClock(nil, 0, 0)}
}

func (s *memStore) Exec(_ context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drafts, err := cmd(replication.ReadViews(s.m))
	if err != nil {
		return nil, err
	}
	b := s.views.Begin(s.m)
	var out []*replication.Event
	for _, d := range drafts {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			return nil, err
		}
		s.seq++
		ev := &replication.Event{Origin: "test-node", Seq: s.seq, HLC: s.clock.Now(), Kind: d.Kind, Entity: d.Entity, Actor: actor, Body: body}
		if err := s.reg.Check(ev); err != nil {
			return nil, fmt.Errorf("the hub would refuse %s: %w", ev, err)
		}
		if _, err := b.Apply(ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	if err := b.Finish(); err != nil {
		return nil, err
	}
	b.Commit()
	s.events = append(s.events, out...)
	return out, nil
}

func (s *memStore) View(fn func(views replication.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(replication.ReadViews(s.m))
}

func (s *memStore) kinds() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, ev := range s.events {
		out = append(out, ev.Kind)
	}
	return out
}

// harness is a running switch with a store, agents' and callers' sipp
// processes, and the screen pops it made.
type harness struct {
	t     *testing.T
	store *memStore
	srv   *Server
	dir   string

	mu        sync.Mutex
	rings     []string   // agents rung, in order
	pops      []CallInfo // what the screen pops carried
	blacklist map[string][2]bool
	vip       map[string]int
	// pickPort, when set, replaces the OS's choice of candidate ports for
	// sipp processes that listen (tests of serve itself).
	pickPort func(t *testing.T, transport string) int
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	h := &harness{t: t, store: newMemStore(t), dir: t.TempDir(), blacklist: map[string][2]bool{}, vip: map[string]int{}}
	cfg := Config{
		UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Store: h.store,
		Log:        slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: testLogLevel})),
		MinExpires: time.Second,
		OnRing: func(agent string, c CallInfo) {
			h.mu.Lock()
			h.rings = append(h.rings, agent)
			h.pops = append(h.pops, c)
			h.mu.Unlock()
		},
		Blacklist: func(n string) (bool, bool) {
			h.mu.Lock()
			defer h.mu.Unlock()
			b := h.blacklist[n]
			return b[0], b[1]
		},
		Priority: func(n string) int {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.vip[n]
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	// Trunk: the carrier sends from 127.0.0.1 and delivers 4000-4009.
	h.exec(func(views replication.Tx) ([]replication.Draft, error) {
		srcs, _ := telephony.ParseSources([]string{"127.0.0.1"})
		d, err := telephony.SetTrunk(telephony.Trunk{Name: "carrier", Sources: srcs}, "")
		return []replication.Draft{d}, err
	})
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) exec(cmd replication.Command) {
	h.t.Helper()
	if _, err := h.store.Exec(context.Background(), "admin", cmd); err != nil {
		h.t.Fatal(err)
	}
	h.srv.ConfigChanged()
}

func extPassword(ext string) string { return "pw-" + ext }

// agentUser is the user of extension ext in these tests.
func agentUser(ext string) string { return "agent" + ext }

func (h *harness) extension(ext string) {
	h.t.Helper()
	h.exec(func(views replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.SetExtension(views, telephony.Extension{Number: ext, User: agentUser(ext)}, extPassword(ext))
		return []replication.Draft{d}, err
	})
}

// queue creates q and adds members ext:priority.
func (h *harness) queue(q telephony.Queue, members map[string]int) {
	h.t.Helper()
	h.exec(func(views replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.SetQueue(views, q)
		return []replication.Draft{d}, err
	})
	for ext, prio := range members {
		h.exec(func(views replication.Tx) ([]replication.Draft, error) {
			d, err := telephony.AddMember(views, q.Name, telephony.Member{User: agentUser(ext), Priority: prio})
			return []replication.Draft{d}, err
		})
	}
}

func (h *harness) login(ext string, ready bool) {
	h.t.Helper()
	if _, err := h.srv.Login(agentUser(ext), ext, ready); err != nil {
		h.t.Fatalf("login %s: %v", ext, err)
	}
}

func (h *harness) ringOrder() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.rings...)
}

// pickPort returns a port the OS chose for transport ("u1" or "t1") a
// moment ago. It is only a candidate: another process may bind it before
// sipp does, which is why serve checks that sipp got it and retries.
func pickPort(t *testing.T, transport string) int {
	t.Helper()
	if transport == "t1" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// serve starts a sipp that listens (a phone, a carrier's gateway) on a
// port of its own and returns it with the port. Nothing can hold a port
// for sipp, so serve picks one, waits until the process holds it, and
// picks another when sipp could not bind it (errno 98 under load on a
// busy machine): there is no window in which the test relies on a port
// it does not know to be sipp's.
func (h *harness) serve(scenario string, repl map[string]string, transport string, args ...string) (*sippProc, int) {
	h.t.Helper()
	pick := h.pickPort
	if pick == nil {
		pick = pickPort
	}
	for range 8 {
		port := pick(h.t, transport)
		p := h.sipp(scenario, repl, transport, append([]string{"-i", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if boundBy(p.cmd.Process.Pid, port, transport == "t1") {
				return p, port
			}
			select {
			case <-p.done:
			case <-time.After(5 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				h.t.Fatalf("sipp %s did not bind port %d within 10s", scenario, port)
			}
			break
		}
		if !strings.Contains(p.out.String(), "Unable to bind") {
			h.t.Fatalf("sipp %s exited before serving: %v\n%s", scenario, p.err, p.tail())
		}
		h.t.Logf("sipp %s could not bind port %d; trying another", scenario, port)
	}
	h.t.Fatalf("sipp %s could not bind a port in 8 tries", scenario)
	return nil, 0
}

// boundBy reports whether process pid holds a socket bound to port on
// UDP, or listening on it on TCP, as the kernel's socket tables say.
func boundBy(pid, port int, tcp bool) bool {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	tables := []string{"/proc/net/udp", "/proc/net/udp6"}
	if tcp {
		tables = []string{"/proc/net/tcp", "/proc/net/tcp6"}
	}
	suffix := fmt.Sprintf(":%04X", port)
	for _, table := range tables {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || !strings.HasSuffix(f[1], suffix) || !inodes[f[9]] {
				continue
			}
			if !tcp || f[3] == "0A" { // 0A: LISTEN
				return true
			}
		}
	}
	return false
}

// sippProc is a running sipp.
type sippProc struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	errf string
	done chan struct{}
	err  error
}

// scenario writes testdata/name into the harness's directory with
// @KEY@ markers replaced, and returns its path.
func (h *harness) scenario(name string, repl map[string]string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		h.t.Fatal(err)
	}
	s := string(b)
	for k, v := range repl {
		s = strings.ReplaceAll(s, "@"+k+"@", v)
	}
	p := filepath.Join(h.dir, fmt.Sprintf("%d-%s", time.Now().UnixNano(), name))
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// sipp starts sipp with the scenario file and arguments, against the
// switch over transport ("u1" or "t1").
func (h *harness) sipp(scenario string, repl map[string]string, transport string, args ...string) *sippProc {
	h.t.Helper()
	path := h.scenario(scenario, repl)
	target := h.srv.UDPAddr()
	if transport == "t1" {
		target = h.srv.TCPAddr()
	}
	errf := path + ".errors.log"
	all := append([]string{"-sf", path, "-t", transport, "-nostdin", "-trace_err", "-error_file", errf,
		"-timeout", "30s", "-timeout_error", "-max_socket", "64"}, args...)
	all = append(all, target)
	p := &sippProc{name: scenario, out: &bytes.Buffer{}, errf: errf, done: make(chan struct{})}
	p.cmd = exec.Command("sipp", all...)
	p.cmd.Dir = h.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		h.t.Fatalf("start sipp: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	h.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if h.t.Failed() {
			if e := p.errors(); e != "" {
				h.t.Logf("sipp %s %v errors:\n%s", p.name, all, e)
			}
		}
	})
	return p
}

// wait waits for sipp to exit and fails the test unless it exited 0 (every
// call of its scenario succeeded).
func (p *sippProc) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("sipp %s did not finish within %v\n%s%s", p.name, within, p.tail(), p.errors())
	}
	if p.err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			code = ee.ExitCode()
		}
		t.Fatalf("sipp %s exited %d\n%s%s", p.name, code, p.tail(), p.errors())
	}
}

func (p *sippProc) tail() string {
	s := p.out.String()
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

func (p *sippProc) errors() string {
	b, _ := os.ReadFile(p.errf)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (p *sippProc) stop() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// agentPhone is an agent's phone: a sipp UAS, registered for ext.
type agentPhone struct {
	ext  string
	port int
	uas  *sippProc
}

// phone starts a UAS for ext with scenario, expecting calls calls (0:
// runs until the test ends), and registers it with the extension's
// credentials.
func (h *harness) phone(ext, scenario string, calls int, args ...string) *agentPhone {
	h.t.Helper()
	m := calls
	if m == 0 {
		m = 1000
	}
	uas, port := h.serve(scenario, nil, "u1", append([]string{"-m", strconv.Itoa(m)}, args...)...)
	ph := &agentPhone{ext: ext, port: port, uas: uas}
	h.register(ext, extPassword(ext), port, 3600, "200")
	return ph
}

// register runs a REGISTER for ext with password, expecting code.
func (h *harness) register(ext, password string, contactPort, expires int, code string) {
	h.t.Helper()
	// Clients need no known port: sipp binds one itself (5060 up, or what
	// the OS gives), and the switch answers where the request came from.
	p := h.sipp("register.xml", map[string]string{"CODE": code}, "u1", "-i", "127.0.0.1", "-m", "1",
		"-s", ext, "-au", ext, "-ap", password, "-key", "contact_port", strconv.Itoa(contactPort),
		"-key", "expires", strconv.Itoa(expires))
	p.wait(h.t, 20*time.Second)
}

// call runs one customer call to did from number with scenario.
func (h *harness) call(did, number, scenario string, repl map[string]string, args ...string) *sippProc {
	h.t.Helper()
	a := []string{"-i", "127.0.0.1", "-m", "1", "-s", did,
		"-key", "caller", number, "-d", "200"}
	return h.sipp(scenario, repl, "u1", append(a, args...)...)
}

// slow skips a test under -short: the sipp scenarios that wait on
// timers (ring timeouts, overflow, maximum wait) or run several calls.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("drives several sipp calls; skipped with -short")
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// idle waits until no call or dialog is left.
func (h *harness) idle() {
	h.t.Helper()
	eventually(h.t, 15*time.Second, "no calls and no dialogs", func() bool {
		return h.srv.ActiveCalls() == 0 && h.srv.ActiveDialogs() == 0
	})
}

func (h *harness) records() []*telephony.Record {
	h.t.Helper()
	var out []*telephony.Record
	err := h.store.View(func(views replication.Tx) error {
		return telephony.Records(views, time.Time{}, time.Now().Add(time.Hour), false, func(r *telephony.Record) bool {
			out = append(out, r)
			return true
		})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// lastRecord waits for the n-th record and returns it.
func (h *harness) record(n int) *telephony.Record {
	h.t.Helper()
	var rs []*telephony.Record
	eventually(h.t, 10*time.Second, fmt.Sprintf("%d call records", n), func() bool {
		rs = h.records()
		return len(rs) >= n
	})
	return rs[n-1]
}

func (h *harness) callbacks() []*telephony.Callback {
	h.t.Helper()
	var out []*telephony.Callback
	err := h.store.View(func(views replication.Tx) error {
		var err error
		out, err = telephony.ListCallbacks(views, false, 100)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) agentState(ext string) AgentInfo { return h.srv.Agent(agentUser(ext)) }

var testLogLevel = func() slog.Level {
	if os.Getenv("PBX_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}()
