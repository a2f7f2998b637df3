package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

// SIPConfig is the SIP overload benchmark: sipp calls a queue of Agents
// agents (one sipp UAS answers for all of them) at each of Rates calls per
// second for Duration, through Branchline's switch (a node's Badger store,
// durable call records) and through Kamailio as a stateful proxy to the
// same UAS, with the same scenarios.
type SIPConfig struct {
	Rates    []int
	Duration time.Duration
	Agents   int
	// MaxCallRate is the switch's admission rate (0: only its backlog sheds).
	MaxCallRate float64
	// MaxSetup is the switch's bound on calls in setup (0: its default).
	MaxSetup int
	Kamailio string // binary; "off" skips it
	Dir      string
	Log      *slog.Logger
	Progress io.Writer
}

// SIPRun is one measurement at one offered rate.
type SIPRun struct {
	Target    string // "branchline" or "kamailio"
	Rate      int    // offered calls per second
	Calls     int    // INVITEs sipp sent
	Refused   int    // answered 503 (shed)
	Completed int    // INVITE, 200, ACK, BYE, 200: all through
	Failed    int    // sipp's failed calls (timeouts, unexpected messages)
	// AdmittedOK is Completed over the calls not refused.
	AdmittedOK float64
	// To503 is sipp's average time from INVITE to the 503; To503Fast the
	// share of the 503s that came within 5 ms (the bound is per
	// call, not on average).
	To503     time.Duration
	To503Fast float64
	// CPU seconds per second of wall time, by process.
	CPUTarget, CPUUAC, CPUUAS float64
	// CPUPerCall is the target's CPU time over the run per completed call
	// (refused calls' cost included): steadier than rates on a shared
	// machine, since it does not depend on how much CPU the target got.
	CPUPerCall time.Duration
	cpuTarget  float64 // seconds, over the run
	// AllocsPerCall is the switch's heap allocations over the run per
	// completed call (Branchline only): what its GC has to keep up with,
	// and a figure the machine's load does not move.
	AllocsPerCall float64
	// SippCompleted is what sipp counted completed; Lost counts the
	// switch's records of calls not answered, by disposition and cause
	// (Branchline only): where Completed is short, they say why.
	SippCompleted int
	Lost          map[string]int
}

// SIPRunAll measures every rate against Branchline, then against Kamailio.
func SIPRunAll(ctx context.Context, c SIPConfig) ([]SIPRun, error) {
	if _, err := exec.LookPath("sipp"); err != nil {
		return nil, errors.New("sipp is not installed (apt-get install sip-tester)")
	}
	if c.Agents <= 0 {
		c.Agents = 200
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	var out []SIPRun
	for _, rate := range c.Rates {
		r, err := sipBranchline(ctx, c, rate)
		if err != nil {
			return out, fmt.Errorf("branchline at %d/s: %w", rate, err)
		}
		fmt.Fprintf(c.Progress, "branchline %d/s: %+v\n", rate, r)
		out = append(out, r)
	}
	if c.Kamailio == "off" {
		return out, nil
	}
	for _, rate := range c.Rates {
		r, err := sipKamailio(ctx, c, rate)
		if err != nil {
			return out, fmt.Errorf("kamailio at %d/s: %w", rate, err)
		}
		fmt.Fprintf(c.Progress, "kamailio %d/s: %+v\n", rate, r)
		out = append(out, r)
	}
	return out, nil
}

// sipBranchline runs one rate against a fresh switch on a fresh node store.
func sipBranchline(ctx context.Context, c SIPConfig, rate int) (SIPRun, error) {
	dir, err := os.MkdirTemp(c.Dir, "bench-sip-")
	if err != nil {
		return SIPRun{}, err
	}
	defer os.RemoveAll(dir)
	store, err := node.OpenStore(node.StoreConfig{Dir: filepath.Join(dir, "store"), ID: "bench-sip", Registry: kinds.Registry(), Log: c.Log})
	if err != nil {
		return SIPRun{}, err
	}
	defer store.Close()
	exts := make([]string, c.Agents)
	for i := range exts {
		exts[i] = strconv.Itoa(8000 + i)
	}
	if err := sipConfigure(ctx, store, exts); err != nil {
		return SIPRun{}, err
	}
	srv, err := pbx.Start(pbx.Config{UDPAddr: "127.0.0.1:0", Store: store, Log: c.Log, MinExpires: time.Second,
		Overload: pbx.Overload{MaxRate: c.MaxCallRate, MaxSetup: c.MaxSetup}})
	if err != nil {
		return SIPRun{}, err
	}
	defer srv.Close()
	calls := rate * int(c.Duration/time.Second)
	uas, uasPort, err := startUAS(dir, calls)
	if err != nil {
		return SIPRun{}, err
	}
	defer uas.stop()
	if err := registerAgents(dir, srv.UDPAddr(), exts, uasPort); err != nil {
		return SIPRun{}, err
	}
	for _, e := range exts {
		if _, err := srv.Login("agent"+e, e, true); err != nil {
			return SIPRun{}, err
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := runCaller(ctx, dir, srv.UDPAddr(), rate, calls, uas, os.Getpid())
	if err != nil {
		return r, err
	}
	runtime.ReadMemStats(&after)
	r.Target = "branchline"
	// What the switch says: answered calls; sipp's counts are cross-checked.
	deadline := time.Now().Add(2 * time.Minute)
	for srv.ActiveCalls() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // a benchmark waiting for the switch to drain, not a test
	}
	deadline = time.Now().Add(time.Minute)
	// Records are written as calls end: wait until they are all there.
	answered, seen, lost := 0, -1, map[string]int(nil)
	for n := 0; n != seen && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		seen, n, answered, lost = n, 0, 0, map[string]int{}
		if err := store.View(func(v replication.Tx) error {
			return telephony.Records(v, time.Time{}, time.Now().Add(time.Hour), false, func(rec *telephony.Record) bool {
				n++
				if rec.Disposition == telephony.Answered {
					answered++
				} else {
					lost[string(rec.Disposition)+"/"+rec.Cause]++
				}
				return true
			})
		}); err != nil {
			return r, err
		}
		if n == 0 {
			seen = -1
		}
	}
	r.SippCompleted, r.Lost = r.Completed, lost
	r.Completed = min(r.Completed, answered)
	r.AdmittedOK = share(r.Completed, r.Calls-r.Refused)
	r.CPUPerCall = r.perCall()
	if r.Completed > 0 {
		r.AllocsPerCall = float64(after.Mallocs-before.Mallocs) / float64(r.Completed)
	}
	return r, nil
}

func (r SIPRun) perCall() time.Duration {
	if r.Completed <= 0 {
		return 0
	}
	return time.Duration(r.cpuTarget / float64(r.Completed) * float64(time.Second))
}

func sipConfigure(ctx context.Context, store *node.Store, exts []string) error {
	cmds := []replication.Command{func(views replication.Tx) ([]replication.Draft, error) {
		srcs, _ := telephony.ParseSources([]string{"127.0.0.1"})
		d, err := telephony.SetTrunk(telephony.Trunk{Name: "carrier", Sources: srcs}, "")
		return []replication.Draft{d}, err
	}, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.SetQueue(views, telephony.Queue{Name: "load", Strategy: telephony.LongestIdle, DIDs: []string{"4000"},
			MaxWait: 30 * time.Second})
		return []replication.Draft{d}, err
	}}
	for _, e := range exts {
		cmds = append(cmds, func(views replication.Tx) ([]replication.Draft, error) {
			d, err := telephony.SetExtension(views, telephony.Extension{Number: e, User: "agent" + e}, "pw-"+e)
			return []replication.Draft{d}, err
		}, func(views replication.Tx) ([]replication.Draft, error) {
			d, err := telephony.AddMember(views, "load", telephony.Member{User: "agent" + e, Priority: 1})
			return []replication.Draft{d}, err
		})
	}
	for _, cmd := range cmds {
		if _, err := store.Exec(ctx, "admin", cmd); err != nil {
			return err
		}
	}
	return nil
}

// sipKamailio runs one rate through Kamailio, a stateful proxy (tm) that
// sends every new INVITE to the UAS.
func sipKamailio(ctx context.Context, c SIPConfig, rate int) (SIPRun, error) {
	bin := c.Kamailio
	if bin == "" {
		bin = "kamailio"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return SIPRun{}, fmt.Errorf("%s is not installed (apt-get install kamailio), or run with --kamailio off", bin)
	}
	dir, err := os.MkdirTemp(c.Dir, "bench-kamailio-")
	if err != nil {
		return SIPRun{}, err
	}
	defer os.RemoveAll(dir)
	calls := rate * int(c.Duration/time.Second)
	uas, uasPort, err := startUAS(dir, calls)
	if err != nil {
		return SIPRun{}, err
	}
	defer uas.stop()
	port, err := freeUDPPort()
	if err != nil {
		return SIPRun{}, err
	}
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(kamailioCfg, port, uasPort)), 0o644); err != nil {
		return SIPRun{}, err
	}
	// -DD: in the foreground, with its children in its process group,
	// which is what is stopped at the end (the children hold no pipe of
	// ours: output goes to /dev/null).
	kam := exec.Command(bin, "-f", cfg, "-DD", "-n", "2", "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-m", "256")
	kam.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := kam.Start(); err != nil {
		return SIPRun{}, err
	}
	defer func() {
		_ = syscall.Kill(-kam.Process.Pid, syscall.SIGKILL)
		_ = kam.Wait()
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitUDP(addr, kam); err != nil {
		return SIPRun{}, err
	}
	r, err := runCaller(ctx, dir, addr, rate, calls, uas, -kam.Process.Pid)
	r.Target = "kamailio"
	r.AdmittedOK = share(r.Completed, r.Calls-r.Refused)
	r.CPUPerCall = r.perCall()
	return r, err
}

// kamailioCfg routes everything to the UAS statefully: port, UAS port.
const kamailioCfg = `#!KAMAILIO
listen=udp:127.0.0.1:%[1]d
children=2
log_stderror=yes
debug=0
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		# The caller sends in-dialog requests to the proxy, not to the
		# callee's Contact; there is one callee: the UAS.
		loose_route();
		$du = "sip:127.0.0.1:%[2]d";
		t_relay();
		exit;
	}
	if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
	if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
	t_check_trans();
	record_route();
	$du = "sip:127.0.0.1:%[2]d";
	if (!t_relay()) { sl_reply_error(); }
}
`

// waitUDP waits until something answers OPTIONS at addr.
func waitUDP(addr string, p *exec.Cmd) error {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msg := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bKwait" +
			strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:k@127.0.0.1>\r\n" +
			"Call-ID: wait\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		_, _ = c.WriteTo([]byte(msg), to)
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 2048)
		if _, _, err := c.ReadFrom(buf); err == nil {
			return nil
		}
		if p.ProcessState != nil {
			return fmt.Errorf("%s exited", p.Path)
		}
	}
	return fmt.Errorf("nothing answers at %s", addr)
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func share(a, b int) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
