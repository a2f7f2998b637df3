package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sippProc is a sipp process the SIP benchmark runs.
type sippProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
	err  error         // how, once done is closed
}

func (p *sippProc) pid() int { return p.cmd.Process.Pid }

func (p *sippProc) stop() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func startSipp(dir, name, scenario string, args ...string) (*sippProc, error) {
	path := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(path, []byte(scenario), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("sipp", append([]string{"-sf", path, "-nostdin", "-max_socket", "1024"}, args...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &sippProc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// startUAS starts the agents' phones: one sipp answering every call on a
// port it holds, found by retrying (a benchmark: nothing else binds there).
func startUAS(dir string, calls int) (*sippProc, int, error) {
	for range 5 {
		port, err := freeUDPPort()
		if err != nil {
			return nil, 0, err
		}
		// More calls than offered: it is stopped at the end anyway.
		p, err := startSipp(dir, "uas", uasScenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(2*calls+100),
			"-l", "100000", "-timeout", "300s")
		if err != nil {
			return nil, 0, err
		}
		select {
		case <-p.done: // could not bind: another port
		case <-time.After(300 * time.Millisecond):
			return p, port, nil
		}
	}
	return nil, 0, fmt.Errorf("sipp UAS did not start")
}

// registerAgents registers every extension's phone at the UAS, with its
// digest credentials, through the switch at addr: one sipp per phone (sipp
// takes one user's credentials), eight at a time.
func registerAgents(dir, addr string, exts []string, uasPort int) error {
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(exts))
	for _, e := range exts {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			p, err := startSipp(dir, "register-"+e, registerScenario, "-i", "127.0.0.1", "-m", "1", "-s", e, "-au", e, "-ap", "pw-"+e,
				"-key", "contact_port", strconv.Itoa(uasPort), "-timeout", "20s", "-timeout_error", addr)
			if err == nil {
				<-p.done
				err = p.err
			}
			if err != nil {
				err = fmt.Errorf("registering the phone of %s: %w", e, err)
			}
			errs <- err
		}()
	}
	for range exts {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// cpu is the CPU seconds a sipp used so far, running or exited.
func (p *sippProc) cpu() float64 {
	if n := procCPU(strconv.Itoa(p.pid())); n > 0 {
		return n
	}
	select {
	case <-p.done:
		return procCPUDone(p)
	case <-time.After(time.Second):
		return 0
	}
}

// groupCPU is the CPU seconds of the processes of group pgid.
func groupCPU(pgid int) float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	total := 0.0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			total += procCPU(e.Name())
		}
	}
	return total
}

// targetCPU reads the CPU seconds of a process (pid > 0) or of a process
// group (-pgid).
func targetCPU(pid int) float64 {
	if pid < 0 {
		return groupCPU(-pid)
	}
	return procCPU(strconv.Itoa(pid))
}

// runCaller offers calls at rate for calls/rate seconds and reads sipp's
// statistics; target is the process (or -group) measured as the target:
// the switch's or Kamailio's.
func runCaller(ctx context.Context, dir, addr string, rate, calls int, uas *sippProc, target int) (SIPRun, error) {
	r := SIPRun{Rate: rate}
	stat := filepath.Join(dir, "caller.csv")
	beforeT, beforeUAS := targetCPU(target), uas.cpu()
	start := time.Now()
	p, err := startSipp(dir, "caller", callerScenario, "-i", "127.0.0.1", "-s", "4000", "-r", strconv.Itoa(rate),
		"-m", strconv.Itoa(calls), "-l", "20000", "-timeout", "120s", "-trace_stat", "-stf", stat, "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(os.TempDir(), "bench-sip-caller-errors.log"), addr)
	if err != nil {
		return r, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop()
		return r, ctx.Err()
	}
	uac := procCPUDone(p)
	wall := time.Since(start).Seconds()
	r.cpuTarget = targetCPU(target) - beforeT
	r.CPUTarget = r.cpuTarget / wall
	r.CPUUAS = (uas.cpu() - beforeUAS) / wall
	r.CPUUAC = uac / wall
	return r, readCallerStats(stat, &r)
}

// procCPUDone is the CPU time of a sipp that has exited.
func procCPUDone(p *sippProc) float64 {
	if st := p.cmd.ProcessState; st != nil {
		return (st.UserTime() + st.SystemTime()).Seconds()
	}
	return 0
}

// readCallerStats reads the last line of sipp's statistics file.
func readCallerStats(path string, r *SIPRun) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comma, cr.FieldsPerRecord = ';', -1
	rows, err := cr.ReadAll()
	if err != nil || len(rows) < 2 {
		return fmt.Errorf("sipp statistics %s: %v", path, err)
	}
	head, last := rows[0], rows[len(rows)-1]
	col := func(name string) string {
		for i, h := range head {
			if h == name && i < len(last) {
				return last[i]
			}
		}
		return ""
	}
	num := func(name string) int { n, _ := strconv.Atoi(col(name)); return n }
	// The rtd timer's repartition columns count its samples: timer 1 is
	// INVITE to 503.
	samples := func(timer string) int {
		n := 0
		for i, h := range head {
			if strings.HasPrefix(h, "ResponseTimeRepartition"+timer+"_") && i < len(last) {
				v, _ := strconv.Atoi(last[i])
				n += v
			}
		}
		return n
	}
	r.Calls = num("TotalCallCreated")
	r.Failed = num("FailedCall(C)")
	r.Refused = samples("1")
	// Buckets "<1", "<2", "<5" (ms) are the 503s within 5 ms.
	fast := 0
	for i, h := range head {
		if b, ok := strings.CutPrefix(h, "ResponseTimeRepartition1_<"); ok && i < len(last) {
			if ms, err := strconv.Atoi(b); err == nil && ms <= 5 {
				v, _ := strconv.Atoi(last[i])
				fast += v
			}
		}
	}
	r.To503Fast = share(fast, r.Refused)
	r.Completed = num("SuccessfulCall(C)") - r.Refused
	r.To503 = sippDuration(col("ResponseTime1(C)"))
	return nil
}

// sippDuration reads sipp's "hh:mm:ss:uuuuuu".
func sippDuration(s string) time.Duration {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return 0
	}
	n := make([]int, 4)
	for i, p := range f {
		n[i], _ = strconv.Atoi(p)
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second +
		time.Duration(n[3])*time.Microsecond
}
