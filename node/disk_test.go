package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"branchline/crm"
	"branchline/fault"
	"branchline/hub"
	"branchline/node"
	"branchline/replication"
	"branchline/wiring"
)

// mountTmpfs mounts a small tmpfs at a new directory: a real filesystem
// that fills up. It needs the right to mount (root, as on CI).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// webPage logs in to the node's web UI as admin and returns a page.
func webPage(t *testing.T, base, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	resp, err = hc.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "username": {"admin"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = hc.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %.500s", path, resp.StatusCode, b)
	}
	return string(b)
}

func httpStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDiskFull: a node on a small real filesystem that another process
// fills while the node takes a burst of writes and pulls another branch's
// events. The node does not crash: writes are refused with
// resource_exhausted, reads are served, /readyz and the metrics say why,
// the pull waits, and once space is freed writes are accepted again by
// themselves. Every acknowledged write is there after a restart.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a filesystem")
	}
	vol := mountTmpfs(t, "160m")
	h := startTestHub(t, hub.Config{})
	src, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-src", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{h.URL()}, Token: h.addNode(t, "br-src"), AdminPassword: pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var names []string
	for i := range 1500 {
		names = append(names, fmt.Sprintf("另一网点的客户%04d", i))
	}
	createCustomers(t, src.Node, names...)

	dataDir := filepath.Join(vol, "br-full")
	tok := h.addNode(t, "br-full")
	cfg := node.Config{ID: "br-full", DataDir: dataDir, HTTPAddr: "127.0.0.1:0", HubURLs: []string{h.URL()}, Token: tok,
		AdminPassword: pw, MemTableSize: 4 << 20}
	n, err := wiring.StartNode(wiring.NodeConfig{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}

	// A burst of writes from 4 clients, recording what was acknowledged.
	var (
		mu       sync.Mutex
		acked    []string
		refused  atomic.Int64
		stopping atomic.Bool
		wg       sync.WaitGroup
	)
	ids := replication.NewIDs()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stopping.Load(); i++ {
				id := ids.New(time.Now())
				_, err := n.Store().Exec(context.Background(), "test", func(v replication.Tx) ([]replication.Draft, error) {
					d, err := crm.CreateCustomer(v, id, map[string]string{
						"display_name": fmt.Sprintf("写满磁盘测试客户 %d-%d", w, i),
						"address":      strings.Repeat("上海市浦东新区张江高科技园区", 8),
					})
					return []replication.Draft{d}, err
				})
				switch {
				case err == nil:
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				case errors.Is(err, fault.ErrExhausted):
					refused.Add(1)
					time.Sleep(5 * time.Millisecond)
				default:
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	waitFor(t, 30*time.Second, "some writes", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 200 {
			return fmt.Errorf("%d acknowledged", len(acked))
		}
		return nil
	})

	// Another process fills the volume.
	fill := filepath.Join(vol, "fill")
	out, _ := exec.Command("dd", "if=/dev/zero", "of="+fill, "bs=1M").CombinedOutput()
	if !strings.Contains(string(out), "No space left") {
		t.Fatalf("dd did not fill the volume: %s", out)
	}
	waitFor(t, 10*time.Second, "writes to be refused", func() error {
		if r := refused.Load(); r < 20 {
			return fmt.Errorf("%d refused", r)
		}
		return nil
	})
	if code, body := httpStatus(t, n.URL()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "reserve") {
		t.Errorf("/readyz = %d %q while the volume is full", code, body)
	}
	if _, body := httpStatus(t, n.URL()+"/metrics"); !strings.Contains(body, "branchline_disk_full 1") {
		t.Error("metrics do not say the disk is full")
	}
	// People can still log in (the session is kept in memory) and read;
	// every page says why nothing can be saved.
	if body := webPage(t, n.URL(), "/customers"); !strings.Contains(body, "本电脑磁盘空间将满") {
		t.Errorf("the customer list shows no disk-full banner: %.1500s", body)
	}
	// Reads are served.
	mu.Lock()
	first := acked[0]
	mu.Unlock()
	if err := n.Store().View(func(v replication.Tx) error {
		_, err := crm.GetCustomer(v, first)
		return err
	}); err != nil {
		t.Fatalf("read while the volume is full: %v", err)
	}

	// Space is freed: writes are accepted again by themselves.
	before := refused.Load()
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "writes to be accepted again", func() error {
		mu.Lock()
		k := len(acked)
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if len(acked) <= k {
			return fmt.Errorf("no write acknowledged since space was freed (%d refused)", refused.Load()-before)
		}
		return nil
	})
	stopping.Store(true)
	wg.Wait()
	waitFor(t, 30*time.Second, "/readyz and the pull to recover", func() error {
		if code, _ := httpStatus(t, n.URL()+"/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz %d", code)
		}
		if got := n.Store().Views().Seq("br-src"); got != 1500 {
			return fmt.Errorf("pulled br-src up to %d of 1500", got)
		}
		return nil
	})

	// Nothing acknowledged is lost, across a restart.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n, err = wiring.StartNode(wiring.NodeConfig{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	mu.Lock()
	defer mu.Unlock()
	if err := n.Store().View(func(v replication.Tx) error {
		for _, id := range acked {
			if _, err := crm.GetCustomer(v, id); err != nil {
				return fmt.Errorf("acknowledged customer %s: %w", id, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged, %d refused while the volume was full", len(acked), refused.Load())
}
