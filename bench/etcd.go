package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"time"
)

// etcd is a three-member etcd cluster on 127.0.0.1, each member its own
// process and data directory. The bench talks to it through etcd's
// gRPC-gateway (JSON over HTTP), so it needs no etcd client library.
type etcd struct {
	procs   []*exec.Cmd
	done    []chan struct{}
	clients []string // client URLs
	hc      *http.Client
}

// findEtcd returns the path of the etcd binary name (a name looked up on
// PATH, or a path). When it is missing and install is set, it tries once
// to install Debian's etcd-server package.
func findEtcd(name string, install bool, log io.Writer) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if !install || name != "etcd" {
		return "", fmt.Errorf("%s not found", name)
	}
	fmt.Fprintln(log, "bench: etcd not on PATH; trying apt-get install -y etcd-server once")
	cmd := exec.Command("apt-get", "install", "-y", "-q", "etcd-server")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("etcd not found, and installing etcd-server failed: %w", err)
	}
	return exec.LookPath(name)
}

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}

// startEtcd starts the cluster, its data under dir and its output in
// dir/eN.log, and waits until every member reports healthy. maxTxnOps
// raises etcd's limit of operations in one transaction (128 by default).
func startEtcd(ctx context.Context, bin, dir string, maxTxnOps int) (*etcd, error) {
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	url := func(p int) string { return fmt.Sprintf("http://127.0.0.1:%d", p) }
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("e%d=%s", i+1, url(ports[3+i])))
	}
	e := &etcd{hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}}
	for i := range 3 {
		name := fmt.Sprintf("e%d", i+1)
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			e.close()
			return nil, err
		}
		cmd := exec.Command(bin,
			"--name", name,
			"--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", url(ports[i]),
			"--advertise-client-urls", url(ports[i]),
			"--listen-peer-urls", url(ports[3+i]),
			"--initial-advertise-peer-urls", url(ports[3+i]),
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", "branchline-bench",
			"--initial-cluster-state", "new",
			"--max-txn-ops", fmt.Sprint(max(maxTxnOps, 128)),
			"--max-request-bytes", fmt.Sprint(16<<20),
			"--quota-backend-bytes", fmt.Sprint(int64(8)<<30),
			"--logger", "zap", "--log-level", "error",
		)
		cmd.Stdout, cmd.Stderr = logf, logf
		// Its own process group: a Ctrl-C to the bench reaches etcd only
		// through close, in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			e.close()
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		e.procs = append(e.procs, cmd)
		e.done = append(e.done, done)
		e.clients = append(e.clients, url(ports[i]))
	}
	err = poll(ctx, 60*time.Second, func() bool {
		for i, u := range e.clients {
			select {
			case <-e.done[i]:
				return true // exited: reported below
			default:
			}
			resp, err := e.hc.Get(u + "/health")
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(b, []byte(`"true"`)) {
				return false
			}
		}
		return true
	})
	for i := range e.done {
		select {
		case <-e.done[i]:
			err = fmt.Errorf("etcd member e%d exited (see its log)", i+1)
		default:
		}
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("etcd cluster not healthy: %w", err)
	}
	return e, nil
}

// pids lists the members' process ids.
func (e *etcd) pids() []int {
	out := make([]int, len(e.procs))
	for i, p := range e.procs {
		out[i] = p.Process.Pid
	}
	return out
}

// close kills every member and waits for it.
func (e *etcd) close() {
	for i, p := range e.procs {
		p.Process.Kill()
		<-e.done[i]
	}
	e.hc.CloseIdleConnections()
}

// call posts a JSON request to the gateway at url and decodes the answer.
func (e *etcd) call(ctx context.Context, url, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	r, err := e.hc.Do(hr)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s: %s", path, r.Status, bytes.TrimSpace(b))
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(b, resp)
}

// leader returns the client URL of the member that leads, so that the
// comparison sends etcd's writes where the hub's go: to the leader.
func (e *etcd) leader(ctx context.Context) (string, error) {
	var last error
	for try := 0; try < 50; try++ {
		for _, u := range e.clients {
			var st struct {
				Header struct {
					MemberID string `json:"member_id"`
				} `json:"header"`
				Leader string `json:"leader"`
			}
			if err := e.call(ctx, u, "/v3/maintenance/status", struct{}{}, &st); err != nil {
				last = err
				continue
			}
			if st.Leader != "" && st.Leader == st.Header.MemberID {
				return u, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no etcd leader found: %v", last)
}

type etcdKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type etcdOp struct {
	RequestPut etcdKV `json:"request_put"`
}

type etcdTxn struct {
	Success []etcdOp `json:"success"`
}

// measureEtcd runs clients concurrently against url for dur, each sending
// one put per request (batch 1) or a transaction of batch puts, with
// values of valueSize bytes, and returns puts per second and the request
// latencies.
func (e *etcd) measure(ctx context.Context, url string, clients, batch, valueSize int, dur time.Duration) (float64, summary, error) {
	value := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("v"), valueSize))
	lats := make([]latencies, clients)
	counts := make([]int, clients)
	errs := make([]error, clients)
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := func(n int) string {
				return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "bench/%02d/%012d", c, n))
			}
			for n := 0; time.Now().Before(end); {
				t := time.Now()
				var err error
				if batch <= 1 {
					err = e.call(ctx, url, "/v3/kv/put", etcdKV{Key: key(n), Value: value}, nil)
					n++
				} else {
					txn := etcdTxn{Success: make([]etcdOp, batch)}
					for i := range txn.Success {
						txn.Success[i].RequestPut = etcdKV{Key: key(n), Value: value}
						n++
					}
					err = e.call(ctx, url, "/v3/kv/txn", txn, nil)
				}
				if err != nil {
					errs[c] = err
					return
				}
				lats[c].add(time.Since(t))
				counts[c] += max(batch, 1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, summary{}, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return rate(total, elapsed), merge(lats...).summarize(), nil
}

// etcdVersion returns the first line of "etcd --version".
func etcdVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "etcd Version:"))
}
