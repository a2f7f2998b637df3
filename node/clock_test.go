package node_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/crm"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/wiring"
)

// testHub is an in-process single-member hub with its admin's clients.
type testHub struct {
	*hub.Hub
	cfg     hub.Config
	cluster adminv1connect.ClusterServiceClient
	admin   adminv1connect.AdminServiceClient
}

func startTestHub(t testing.TB, cfg hub.Config) *testHub {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "hub1"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.HTTPAddr, cfg.RaftAddr, cfg.Bootstrap, cfg.AdminPassword = "127.0.0.1:0", "127.0.0.1:0", true, pw
	h, err := wiring.StartHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	th := &testHub{Hub: h, cfg: cfg}
	t.Cleanup(func() { th.Close() })
	hc := rpc.NewHTTPClient()
	var tok string
	waitFor(t, 20*time.Second, "the hub", func() error {
		resp, err := authv1connect.NewAuthServiceClient(hc, h.URL()).Login(context.Background(),
			connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: pw}))
		if err == nil {
			tok = resp.Msg.GetToken()
		}
		return err
	})
	th.cluster = adminv1connect.NewClusterServiceClient(hc, h.URL(), rpc.WithBearer(tok))
	th.admin = adminv1connect.NewAdminServiceClient(hc, h.URL(), rpc.WithBearer(tok))
	return th
}

// restart stops the member and starts it again on its data directory with
// cfg's changes, at a new address.
func (th *testHub) restart(t *testing.T, change func(*hub.Config)) *testHub {
	t.Helper()
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := th.cfg
	change(&cfg)
	return startTestHub(t, cfg)
}

func (th *testHub) addNode(t testing.TB, id string) string {
	t.Helper()
	resp, err := th.cluster.AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Msg.GetToken()
}

func (th *testHub) node(t *testing.T, id string) *adminv1.NodeInfo {
	t.Helper()
	resp, err := th.cluster.ClusterStatus(context.Background(), connect.NewRequest(&adminv1.ClusterStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range resp.Msg.GetNodes() {
		if n.GetId() == id {
			return n
		}
	}
	t.Fatalf("node %s not registered", id)
	return nil
}

func (th *testHub) status(t *testing.T) *adminv1.StatusResponse {
	t.Helper()
	resp, err := th.admin.Status(context.Background(), connect.NewRequest(&adminv1.StatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Msg
}

// skewedWall is a wall clock off the real one by an offset that the test
// changes, as a technician sets a branch PC's clock.
type skewedWall struct{ off atomic.Int64 }

func (w *skewedWall) now() time.Time      { return time.Now().Add(time.Duration(w.off.Load())) }
func (w *skewedWall) set(d time.Duration) { w.off.Store(int64(d)) }

func createCustomers(t *testing.T, n *node.Node, names ...string) {
	t.Helper()
	ids := replication.NewIDs()
	for _, name := range names {
		_, err := n.Store().Exec(context.Background(), "test", func(views replication.Tx) ([]replication.Draft, error) {
			d, err := crm.CreateCustomer(views, ids.New(time.Now()), map[string]string{"display_name": name})
			return []replication.Draft{d}, err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestNodeClockAhead: a branch PC whose clock runs ahead of head office's
// by more than the max offset makes events the hub refuses. The node keeps
// them in its outbox (seqs stay gapless), head office's branch health says
// why the branch is stuck and shows its clock offset, and once the PC's
// clock is set right the events reach the hub exactly once.
func TestNodeClockAhead(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and a node")
	}
	const bound = 3 * time.Second // small, so that the test does not wait long
	h := startTestHub(t, hub.Config{MaxClockOffset: bound})
	wall := &skewedWall{}
	wall.set(2 * bound)
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-fast", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{h.URL()}, Token: h.addNode(t, "br-fast"), AdminPassword: pw, MaxClockOffset: bound, Wall: wall.now}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	createCustomers(t, n.Node, "快钟客户一", "快钟客户二", "快钟客户三")

	waitFor(t, 10*time.Second, "branch health to say why br-fast is stuck", func() error {
		ni := h.node(t, "br-fast")
		switch {
		case ni.GetStuckSeq() != 1 || !strings.Contains(ni.GetStuck(), "max clock offset"):
			return fmt.Errorf("stuck %d %q", ni.GetStuckSeq(), ni.GetStuck())
		case ni.GetClockOffsetSeconds() < bound.Seconds()/2:
			return fmt.Errorf("clock offset %.1f s, want about %.1f", ni.GetClockOffsetSeconds(), (2 * bound).Seconds())
		}
		return nil
	})
	if ni := h.node(t, "br-fast"); ni.GetDurableSeq() != 0 {
		t.Fatalf("the hub holds %d of br-fast's events stamped ahead", ni.GetDurableSeq())
	}
	if p := n.Store().Progress(); p.LastSeq != 3 || p.Pushed != 0 {
		t.Fatalf("br-fast progress %+v, want 3 events in the outbox", p)
	}

	wall.set(0) // the technician sets the clock right
	waitFor(t, 6*bound, "br-fast's events to reach the hub", func() error {
		ni := h.node(t, "br-fast")
		if ni.GetDurableSeq() != 3 || ni.GetStuck() != "" {
			return fmt.Errorf("durable %d, stuck %q", ni.GetDurableSeq(), ni.GetStuck())
		}
		if hs := h.status(t); h.ScopeDigest(n.Store().Scopes().Held) != n.Store().ScopeDigest() || hs.GetEventsApplied() != 3 {
			return fmt.Errorf("hub %d events %.12s, node %.12s", hs.GetEventsApplied(), h.ScopeDigest(n.Store().Scopes().Held), n.Store().ScopeDigest())
		}
		return nil
	})
}

// TestFarFutureStampDoesNotMoveTheClock: an event stamped a century ahead
// that reached the hub's log (a hub of the release before bounded clocks
// accepted it, simulated here by a hub with a max offset of centuries) is
// applied by a node, but the node's clock does not follow it: its next
// write is stamped now and accepted by the hub once it bounds clocks again.
func TestFarFutureStampDoesNotMoveTheClock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and two nodes")
	}
	const centuries = 200 * 365 * 24 * time.Hour
	future := time.Now().AddDate(100, 0, 0)
	lax := startTestHub(t, hub.Config{MaxClockOffset: centuries})
	evilTok, brTok := lax.addNode(t, "evil"), lax.addNode(t, "br-b")
	evil, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "evil", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{lax.URL()}, Token: evilTok, AdminPassword: pw, Wall: func() time.Time { return future }, MaxClockOffset: centuries}})
	if err != nil {
		t.Fatal(err)
	}
	createCustomers(t, evil.Node, "百年后的客户")
	waitFor(t, 10*time.Second, "the far-future event to be committed", func() error {
		if d := lax.node(t, "evil").GetDurableSeq(); d != 1 {
			return fmt.Errorf("durable %d", d)
		}
		return nil
	})
	evil.Close()

	h := lax.restart(t, func(c *hub.Config) { c.MaxClockOffset = 0 }) // the default bound again
	br, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-b", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{h.URL()}, Token: brTok, AdminPassword: pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	waitFor(t, 10*time.Second, "br-b to apply the far-future event", func() error {
		if n := br.Store().Views().AppliedCount(); n != 1 {
			return fmt.Errorf("br-b applied %d events", n)
		}
		return nil
	})
	if last, bound := br.Store().Clock().Last(), br.Store().Clock().Bound(); last > bound {
		t.Fatalf("br-b's clock is at %v, past its bound %v", last, bound)
	}
	if ig := br.Store().Clock().Ignored(); ig.Time().Before(future.Add(-time.Minute)) {
		t.Fatalf("br-b's clock ignored %v, want the far-future stamp", ig)
	}
	createCustomers(t, br.Node, "今天的客户")
	waitFor(t, 10*time.Second, "br-b's write to be accepted", func() error {
		ni := h.node(t, "br-b")
		if ni.GetDurableSeq() != br.Store().Progress().LastSeq || ni.GetStuck() != "" {
			return fmt.Errorf("durable %d of %d, stuck %q", ni.GetDurableSeq(), br.Store().Progress().LastSeq, ni.GetStuck())
		}
		return nil
	})
}
