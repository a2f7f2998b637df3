package node_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/crm"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/internal/poll"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/wiring"
)

const pw = "catchup-test-pw"

// TestCatchUpLargePull: a fresh node catches up on more events than fit in
// one store transaction. A Pull message carries up to 2,000 events and a
// customer event writes dozens of view keys; applied as one transaction it
// was refused (ErrTxnTooBig) and the node retried the same message forever.
func TestCatchUpLargePull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and two nodes")
	}
	h, err := wiring.StartHub(hub.Config{ID: "hub1", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", Bootstrap: true, AdminPassword: pw})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
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
	cluster := adminv1connect.NewClusterServiceClient(hc, h.URL(), rpc.WithBearer(tok))
	start := func(id string) *node.Node {
		resp, err := cluster.AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: id}))
		if err != nil {
			t.Fatal(err)
		}
		n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{h.URL()}, Token: resp.Msg.GetToken(), AdminPassword: pw}})
		if err != nil {
			t.Fatal(err)
		}
		return n.Node
	}

	const customers = 2500
	a := start("br-a")
	defer a.Close()
	ids := replication.NewIDs()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < customers; i += 8 {
				id := ids.New(time.Now())
				_, err := a.Store().Exec(context.Background(), "test", func(views replication.Tx) ([]replication.Draft, error) {
					d, err := crm.CreateCustomer(views, id, map[string]string{
						"display_name": fmt.Sprintf("上海浦东速递有限公司第%d分部", i),
						"mobile":       fmt.Sprintf("1380013%04d", i),
						"city":         "上海",
						"address":      fmt.Sprintf("上海市浦东新区张江路 %d 号", i),
					})
					return []replication.Draft{d}, err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, 120*time.Second, "br-a's events at the hub", func() error {
		if p := a.Store().Progress(); p.Pushed < p.LastSeq {
			return fmt.Errorf("pushed %d of %d", p.Pushed, p.LastSeq)
		}
		return nil
	})

	b := start("br-b")
	defer b.Close()
	want := a.Store().Progress().LastSeq
	waitFor(t, 180*time.Second, "br-b to catch up", func() error {
		if got := b.Store().Views().AppliedCount(); got < want {
			return fmt.Errorf("br-b applied %d of %d", got, want)
		}
		return nil
	})
	if da, db := a.Store().Views().Digest(), b.Store().Views().Digest(); da != db {
		t.Fatalf("digests differ after catch-up: %s vs %s", da, db)
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	poll.Until(t, timeout, what, cond)
}
