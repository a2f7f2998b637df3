package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/warehouse"
	"branchline/wiring"
)

// TestBrowserHubDashboard: head office sees which branch is online and
// which has never called.
func TestBrowserHubDashboard(t *testing.T) {
	ctx := browser(t, 1366, 768)
	h, err := wiring.StartHub(hub.Config{ID: "hub1", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", Bootstrap: true, AdminPassword: webPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	hc := rpc.NewHTTPClient()
	var tok string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := authv1connect.NewAuthServiceClient(hc, h.URL()).Login(context.Background(),
			connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: webPassword}))
		if err == nil {
			tok = resp.Msg.GetToken()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub never let the admin in: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cluster := adminv1connect.NewClusterServiceClient(hc, h.URL(), rpc.WithBearer(tok))
	add := func(id string) string {
		resp, err := cluster.AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: id}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetToken()
	}
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "sh-pudong", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{h.URL()}, Token: add("sh-pudong"), AdminPassword: webPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	add("bj-chaoyang") // registered, never started
	// sh-pudong owns a warehouse: head office says the branch holds it.
	_, err = n.Store().Exec(context.Background(), "admin", func(views replication.Tx) ([]replication.Draft, error) {
		d, err := warehouse.SetWarehouse(views, warehouse.Warehouse{ID: "WH-SH", Name: "上海仓", Owner: "sh-pudong"}, nil)
		return []replication.Draft{d}, err
	})
	if err != nil {
		t.Fatal(err)
	}

	login := func() {
		run(t, ctx, "log in at the hub",
			chromedp.Navigate(h.URL()+"/"),
			chromedp.WaitVisible(css(`#login-form`)),
			chromedp.SendKeys(css(`input[name=username]`), "admin"),
			chromedp.SendKeys(css(`input[name=password]`), webPassword),
			chromedp.Submit(css(`#login-form`)),
			chromedp.WaitVisible(css(`#branches`)),
		)
	}
	login()
	var pudong, chaoyang string
	for deadline := time.Now().Add(20 * time.Second); ; {
		run(t, ctx, "read the dashboard",
			chromedp.Navigate(h.URL()+"/branches"),
			chromedp.WaitVisible(css(`#branches`)),
			into(&pudong, chromedp.Text(css(`tr[data-node=sh-pudong]`))),
			into(&chaoyang, chromedp.Text(css(`tr[data-node=bj-chaoyang]`))),
		)
		if strings.Contains(pudong, "在线") && strings.Contains(pudong, "仓库 上海仓 (WH-SH)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sh-pudong never shown online holding its warehouse: %q", pudong)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(chaoyang, "离线") || !strings.Contains(chaoyang, "从未") {
		t.Fatalf("a branch that never called shows %q", chaoyang)
	}
	run(t, ctx, "screenshots",
		shot(t, "hub-branches"),
		chromedp.Navigate(h.URL()+"/cluster"),
		chromedp.WaitVisible(css(`#members`)),
		shot(t, "hub-cluster"),
	)
	// Head office's other pages, so that they are checked too (shot runs
	// axe-core on each).
	for _, pg := range []struct{ path, ready, name string }{
		{"/pickups", "#hub-pickups", "hub-pickups"},
		{"/stock", "#hub-stock", "hub-stock"},
	} {
		run(t, ctx, "head office "+pg.path, chromedp.Navigate(h.URL()+pg.path), chromedp.WaitVisible(css(pg.ready)), shot(t, pg.name))
	}
}
