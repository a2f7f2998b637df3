package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	crmv1 "branchline/gen/branchline/crm/v1"
)

// writeCustomers creates n customers at a node with 8 concurrent writers
// and returns their names (customers/{id}).
func writeCustomers(t *testing.T, c interface {
	CreateCustomer(context.Context, *connect.Request[crmv1.CreateCustomerRequest]) (*connect.Response[crmv1.Customer], error)
}, prefix string, n int) []string {
	t.Helper()
	var mu sync.Mutex
	var names []string
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				resp, err := c.CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{
					Customer: &crmv1.Customer{DisplayName: fmt.Sprintf("%s 客户 %d", prefix, i), Mobile: fmt.Sprintf("1390000%04d", i)},
				}))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				names = append(names, resp.Msg.GetName())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create customer: %v", err)
	}
	return names
}

// TestOfflineStart: a node whose hub is down from its first second serves
// writes; when the hub comes up it receives all of them exactly once.
func TestOfflineStart(t *testing.T) {
	hubs := startCluster(t, 1)
	tok := addNode(t, "br-offline", hubs...)
	hubs[0].stop()

	n := startNode(t, "br-offline", hubURLs(hubs), tok)
	c := customers(n.url, mustLogin(t, n.url))
	names := writeCustomers(t, c, "离线", 1000)
	if len(names) != 1000 {
		t.Fatalf("%d writes acknowledged, want 1000", len(names))
	}
	// Besides the 1,000 customers the node holds its audited logins.
	own := status(t, n.url)
	if own.GetOutboxPending() != own.GetLastSeq() || own.GetLastSeq() < 1000 {
		t.Fatalf("with the hub down: outbox %d, last seq %d; want everything pending", own.GetOutboxPending(), own.GetLastSeq())
	}
	if got := countCustomers(t, c); got != 1000 {
		t.Fatalf("node lists %d customers, want 1000", got)
	}

	hubs[0].start()
	total := converged(t, 90*time.Second, 0, hubs, n)
	st := clusterStatus(t, hubs...)
	if st.GetHeadPosition() != total || total != status(t, n.url).GetLastSeq() {
		t.Errorf("hub log holds %d events, the node made %d: want exactly once", st.GetHeadPosition(), total)
	}
	if len(st.GetNodes()) != 1 || st.GetNodes()[0].GetDurableSeq() != total {
		t.Fatalf("hub's node registry: %v; want br-offline durable at %d", st.GetNodes(), total)
	}
	waitFor(t, 10*time.Second, "the hub to see the node caught up", func() error {
		nd := clusterStatus(t, hubs...).GetNodes()[0]
		if nd.GetLastSeq() != total || nd.GetCursor() != total {
			return fmt.Errorf("hub sees last seq %d, cursor %d; want %d, %d", nd.GetLastSeq(), nd.GetCursor(), total, total)
		}
		return nil
	})
}

// link is a node's way to every hub member, through proxies the test cuts.
type link []*proxy

func newLink(t *testing.T, hubs []*hubMember) link {
	var l link
	for _, h := range hubs {
		u, _ := url.Parse(h.url)
		l = append(l, newProxy(t, u.Host))
	}
	return l
}

func (l link) urls() string {
	var u []string
	for _, p := range l {
		u = append(u, p.url())
	}
	return strings.Join(u, ",")
}

func (l link) setCut(cut bool) {
	for _, p := range l {
		p.setCut(cut)
	}
}

func update(t *testing.T, c interface {
	UpdateCustomer(context.Context, *connect.Request[crmv1.UpdateCustomerRequest]) (*connect.Response[crmv1.Customer], error)
}, cust *crmv1.Customer, fields ...string) {
	t.Helper()
	if _, err := c.UpdateCustomer(context.Background(), connect.NewRequest(&crmv1.UpdateCustomerRequest{
		Customer: cust, UpdateMask: &fieldmaskpb.FieldMask{Paths: fields},
	})); err != nil {
		t.Fatalf("update %v of %s: %v", fields, cust.GetName(), err)
	}
}

// TestPartition cuts one node off the hub while both nodes edit the same
// customer: different fields both survive, the same field resolves alike
// everywhere, and every replica converges to one digest.
func TestPartition(t *testing.T) {
	hubs := startCluster(t, 3)
	tokA, tokB := addNode(t, "br-a", hubs...), addNode(t, "br-b", hubs...)
	wan := newLink(t, hubs)
	a := startNode(t, "br-a", wan.urls(), tokA)
	b := startNode(t, "br-b", hubURLs(hubs), tokB)
	ca, cb := customers(a.url, mustLogin(t, a.url)), customers(b.url, mustLogin(t, b.url))

	created, err := ca.CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{
		Customer: &crmv1.Customer{DisplayName: "共享客户", City: "上海", Address: "起点路 1 号", Mobile: "13800138000"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	name := created.Msg.GetName()
	waitFor(t, 30*time.Second, "the customer to reach br-b", func() error {
		_, err := cb.GetCustomer(context.Background(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: name}))
		return err
	})

	wan.setCut(true)
	update(t, ca, &crmv1.Customer{Name: name, City: "杭州", Note: "A 的备注"}, "city", "note")
	update(t, ca, &crmv1.Customer{Name: name, Address: "A 地址"}, "address")
	update(t, cb, &crmv1.Customer{Name: name, Email: "b@example.com"}, "email")
	update(t, cb, &crmv1.Customer{Name: name, Address: "B 地址"}, "address")
	aNames := writeCustomers(t, ca, "A", 20)
	bNames := writeCustomers(t, cb, "B", 20)

	// While cut, A keeps its events and B has not seen them.
	if st := status(t, a.url); st.GetOutboxPending() == 0 {
		t.Fatalf("br-a pushed while cut off (outbox empty)")
	}
	if _, err := cb.GetCustomer(context.Background(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: aNames[0]})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("br-b sees br-a's write made during the cut: %v", err)
	}

	wan.setCut(false)
	converged(t, 90*time.Second, 0, hubs, a, b)

	var seen []*crmv1.Customer
	for _, c := range []interface {
		GetCustomer(context.Context, *connect.Request[crmv1.GetCustomerRequest]) (*connect.Response[crmv1.Customer], error)
	}{ca, cb} {
		got, err := c.GetCustomer(context.Background(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: name}))
		if err != nil {
			t.Fatal(err)
		}
		m := got.Msg
		if m.GetCity() != "杭州" || m.GetNote() != "A 的备注" || m.GetEmail() != "b@example.com" {
			t.Errorf("different-field edits lost: city %q note %q email %q", m.GetCity(), m.GetNote(), m.GetEmail())
		}
		if m.GetAddress() != "A 地址" && m.GetAddress() != "B 地址" {
			t.Errorf("address %q is neither concurrent write", m.GetAddress())
		}
		seen = append(seen, m)
	}
	if seen[0].GetAddress() != seen[1].GetAddress() {
		t.Errorf("same-field conflict resolved differently: br-a %q, br-b %q", seen[0].GetAddress(), seen[1].GetAddress())
	}
	for _, n := range append(aNames, bNames...) {
		for _, c := range []interface {
			GetCustomer(context.Context, *connect.Request[crmv1.GetCustomerRequest]) (*connect.Response[crmv1.Customer], error)
		}{ca, cb} {
			if _, err := c.GetCustomer(context.Background(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: n})); err != nil {
				t.Fatalf("%s missing after healing: %v", n, err)
			}
		}
	}
}

// burst writes customers with 8 writers until stop is closed or a write
// fails, and returns the acknowledged names and the number attempted.
func burst(c interface {
	CreateCustomer(context.Context, *connect.Request[crmv1.CreateCustomerRequest]) (*connect.Response[crmv1.Customer], error)
}, prefix string, stop <-chan struct{}) (acked func() []string, attempted *atomic.Int64, done *sync.WaitGroup) {
	var mu sync.Mutex
	var names []string
	attempted = new(atomic.Int64)
	done = new(sync.WaitGroup)
	for w := range 8 {
		done.Add(1)
		go func() {
			defer done.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				attempted.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := c.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{
					Customer: &crmv1.Customer{DisplayName: fmt.Sprintf("%s %d-%d", prefix, w, i)},
				}))
				cancel()
				if err != nil {
					return
				}
				mu.Lock()
				names = append(names, resp.Msg.GetName())
				mu.Unlock()
			}
		}()
	}
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), names...) }, attempted, done
}

// TestCrash kills a node with SIGKILL in the middle of a write burst: every
// acknowledged write survives the restart and reaches the hub once.
func TestCrash(t *testing.T) {
	hubs := startCluster(t, 1)
	n := startNode(t, "br-crash", hubURLs(hubs), addNode(t, "br-crash", hubs...))
	c := customers(n.url, mustLogin(t, n.url))

	stop := make(chan struct{})
	acked, attempted, done := burst(c, "崩溃", stop)
	waitFor(t, 60*time.Second, "300 acknowledged writes", func() error {
		if k := len(acked()); k < 300 {
			return fmt.Errorf("%d acknowledged", k)
		}
		return nil
	})
	n.kill() // writes are in flight
	close(stop)
	done.Wait()
	names := acked()

	n.start()
	c = customers(n.url, func() string {
		var tok string
		waitFor(t, 30*time.Second, "the node to restart", func() error { var err error; tok, err = login(n.url); return err })
		return tok
	}())
	for _, name := range names {
		if _, err := c.GetCustomer(context.Background(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: name})); err != nil {
			t.Fatalf("acknowledged write %s lost in the crash: %v", name, err)
		}
	}
	got := countCustomers(t, c)
	if got < len(names) || got > int(attempted.Load()) {
		t.Fatalf("node holds %d customers; %d were acknowledged and %d attempted", got, len(names), attempted.Load())
	}
	total := converged(t, 60*time.Second, 0, hubs, n)
	if head := clusterStatus(t, hubs...).GetHeadPosition(); head != total {
		t.Fatalf("hub holds %d events, the node %d: lost or duplicated", head, total)
	}
	t.Logf("acknowledged %d, attempted %d, durable %d customers", len(names), attempted.Load(), got)
}

// TestFailover kills the hub leader while a node pushes: the node goes on
// with the new leader and nothing is lost or duplicated. Then SIGTERM on
// the next leader hands leadership over before the member exits.
func TestFailover(t *testing.T) {
	hubs := startCluster(t, 3)
	n := startNode(t, "br-fail", hubURLs(hubs), addNode(t, "br-fail", hubs...))
	c := customers(n.url, mustLogin(t, n.url))
	byID := map[string]*hubMember{}
	for _, h := range hubs {
		byID[h.id] = h
	}

	stop := make(chan struct{})
	acked, _, done := burst(c, "切换", stop)
	waitFor(t, 60*time.Second, "pushes to reach the hub", func() error {
		for _, nd := range clusterStatus(t, hubs...).GetNodes() {
			if nd.GetDurableSeq() >= 200 {
				return nil
			}
		}
		return fmt.Errorf("fewer than 200 events durable at the hub")
	})
	leader := byID[clusterStatus(t, hubs...).GetLeaderId()]
	leader.kill()
	before := len(acked())
	waitFor(t, 60*time.Second, "writes to go on after the leader died", func() error {
		if k := len(acked()); k < before+300 {
			return fmt.Errorf("%d acknowledged", k)
		}
		return nil
	})
	close(stop)
	done.Wait()

	st := status(t, n.url)
	if st.GetLastSeq() < uint64(len(acked())) {
		t.Fatalf("node holds %d events but acknowledged %d", st.GetLastSeq(), len(acked()))
	}
	total := converged(t, 90*time.Second, 0, hubs, n)
	cs := clusterStatus(t, hubs...)
	if cs.GetHeadPosition() != total || cs.GetLeaderId() == leader.id {
		t.Fatalf("after failover: leader %s, hub log %d events, node %d", cs.GetLeaderId(), cs.GetHeadPosition(), total)
	}

	// The dead member comes back and catches up.
	leader.start()
	converged(t, 90*time.Second, 0, hubs, n)

	// SIGTERM on the leader: it transfers leadership before exiting.
	second := byID[clusterStatus(t, hubs...).GetLeaderId()]
	second.stop()
	if !second.logContains("leadership transferred") {
		t.Errorf("%s exited on SIGTERM without transferring leadership", second.id)
	}
	waitFor(t, 10*time.Second, "a new leader", func() error {
		if id := clusterStatus(t, hubs...).GetLeaderId(); id == "" || id == second.id {
			return fmt.Errorf("leader %q", id)
		}
		return nil
	})
	if _, err := c.CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{
		Customer: &crmv1.Customer{DisplayName: "交接后"}})); err != nil {
		t.Fatal(err)
	}
	if after := converged(t, 30*time.Second, 0, hubs, n); after <= total {
		t.Fatalf("the write after the hand-over did not arrive: %d events, before %d", after, total)
	}
}

// TestSnapshotCatchUp adds a member after the log was compacted: it
// catches up from a snapshot.
func TestSnapshotCatchUp(t *testing.T) {
	snap := []string{"--snapshot-threshold", "16", "--trailing-logs", "4", "--snapshot-interval", "100ms"}
	hubs := startCluster(t, 1, snap...)
	tok := addNode(t, "br-snap", hubs...)
	for seq := uint64(1); seq <= 60; seq++ {
		if _, err := push(hubs[0].url, tok, customerEvent("br-snap", seq)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "a snapshot", func() error {
		m, _ := filepath.Glob(filepath.Join(hubs[0].data, "raft", "snapshots", "*", "state.bin"))
		if len(m) == 0 {
			return fmt.Errorf("no snapshot in %s", hubs[0].data)
		}
		return nil
	})
	hubs = append(hubs, startHub(t, "hub2", hubs[0].url, snap...))
	converged(t, 60*time.Second, 60, hubs)
	if !hubs[1].logContains("state restored from snapshot") {
		t.Errorf("hub2 caught up without a snapshot; the test did not test what it should")
	}
	if _, err := push(hubs[1].url, tok, customerEvent("br-snap", 61)); err != nil {
		t.Fatalf("push through the new member: %v", err)
	}
	converged(t, 30*time.Second, 61, hubs)
	if _, err := os.Stat(filepath.Join(hubs[1].data, "state")); err != nil {
		t.Fatal(err)
	}
}

// countCustomers pages through a node's customers.
func countCustomers(t *testing.T, c interface {
	ListCustomers(context.Context, *connect.Request[crmv1.ListCustomersRequest]) (*connect.Response[crmv1.ListCustomersResponse], error)
}) int {
	t.Helper()
	n, page := 0, ""
	for {
		resp, err := c.ListCustomers(context.Background(), connect.NewRequest(&crmv1.ListCustomersRequest{PageSize: 500, PageToken: page}))
		if err != nil {
			t.Fatal(err)
		}
		n += len(resp.Msg.GetCustomers())
		if page = resp.Msg.GetNextPageToken(); page == "" {
			return n
		}
	}
}
