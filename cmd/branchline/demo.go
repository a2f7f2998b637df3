package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/hub"
	"branchline/node"
	"branchline/rpc"
	"branchline/wiring"
)

// demoNodes are the demo's branches and the customers each starts with.
var demoNodes = []struct {
	id        string
	customers []*crmv1.Customer
}{
	{"sh-pudong", []*crmv1.Customer{
		{DisplayName: "上海浦东速递有限公司", Code: "SH0001", Mnemonic: "PDSD", Mobile: "13812345678", City: "上海", Address: "上海市浦东新区张江路 88 号", Postcode: "201203", Level: "VIP"},
		{DisplayName: "张伟", Mobile: "13900001111", City: "上海", Address: "上海市徐汇区漕溪北路 18 号"},
		{DisplayName: "东方网购商城", Code: "SH0002", Phone: "021-62345678", City: "上海", Industry: "电子商务", CreditLimit: "50000"},
	}},
	{"bj-chaoyang", []*crmv1.Customer{
		{DisplayName: "北京朝阳图书邮购部", Code: "BJ0001", Phone: "010-85671234", City: "北京", Address: "北京市朝阳区建国路 99 号", Postcode: "100022"},
		{DisplayName: "李娜", Mobile: "13611112222", City: "北京"},
		{DisplayName: "Great Wall Trading Co.", Code: "BJ0002", Email: "orders@greatwall.example", City: "北京", Level: "VIP"},
	}},
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo [--data DIR] [--port-base N]",
		"Runs a hub of three Raft members and two branch nodes in this process, on 127.0.0.1,\n"+
			"with sample customers, pickups, couriers and stock, and prints the URLs to open. Ctrl-C stops everything.", stderr)
	data := fs.String("data", "", "keep the demo's stores in DIR (default: a temporary directory removed on exit)")
	base := fs.Int("port-base", 7700, "hub members listen on base+1..3 (Raft on base+11..13), nodes on base+21..; 0: ports chosen by the OS")
	pw := fs.String("admin-password", "", "password of the admin users (default: generated and printed)")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	budget := memoryFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	applyMemoryBudget(budget.n, os.Getenv, log)
	dir := *data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "branchline-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	if *pw == "" {
		b := make([]byte, 12)
		rand.Read(b)
		*pw = base64.RawURLEncoding.EncodeToString(b)
	}
	addr := func(offset int) string {
		if *base == 0 {
			return "127.0.0.1:0"
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(*base+offset))
	}

	d := &demo{log: log, pw: *pw, hc: rpc.NewHTTPClient()}
	defer d.close()
	if err := d.startHub(ctx, dir, addr); err != nil {
		return err
	}
	for i, n := range demoNodes {
		if err := d.startNode(ctx, dir, n.id, addr(21+i), n.customers); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Branchline demo is running (data in %s).\n\n", dir)
	fmt.Fprintf(stdout, "Hub members (head office):\n")
	for _, h := range d.hubs {
		fmt.Fprintf(stdout, "  %-12s %s\n", h.ID(), h.URL())
	}
	fmt.Fprintf(stdout, "Branch nodes:\n")
	for _, n := range d.nodes {
		fmt.Fprintf(stdout, "  %-12s %s\n", n.Store().ID(), n.URL())
	}
	fmt.Fprintf(stdout, "\nUser admin, password %s, on every node and on the hub.\n", *pw)
	fmt.Fprintf(stdout, "Couriers courier.sh and courier.bj (same password) see their pickups on a phone at <node>/courier;\n")
	fmt.Fprintf(stdout, "agents agent.sh and agent.bj (same password) have the default agent role: phone numbers masked, booking allowed.\n")
	fmt.Fprintf(stdout, "Pages: /pickups/new (book a pickup), /track, /stock (warehouse WH-SH at sh-pudong); hub: /pickups, /stock.\n\n")
	fmt.Fprintf(stdout, "Try it:\n")
	fmt.Fprintf(stdout, "  TOKEN=$(curl -s %s/branchline.auth.v1.AuthService/Login -H 'Content-Type: application/json' \\\n", d.nodes[1].URL())
	fmt.Fprintf(stdout, "      -d '{\"username\":\"admin\",\"password\":\"%s\"}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n", *pw)
	fmt.Fprintf(stdout, "  curl -s %s/branchline.crm.v1.CustomerService/LookupByPhone -H \"Authorization: Bearer $TOKEN\" \\\n", d.nodes[1].URL())
	fmt.Fprintf(stdout, "      -H 'Content-Type: application/json' -d '{\"phone\":\"138 1234 5678\"}'   # a Shanghai customer, replicated to Beijing\n")
	fmt.Fprintf(stdout, "  BRANCHLINE_ADMIN_PASSWORD=%s go run ./cmd/branchline ctl --hub %s status\n\n", *pw, d.hubs[0].URL())
	fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return nil
}

type demo struct {
	log   *slog.Logger
	pw    string
	hc    *http.Client
	hubs  []*hub.Hub
	nodes []*wiring.Node
}

func (d *demo) close() {
	for _, n := range d.nodes {
		n.Close()
	}
	hub.CloseAll(d.hubs)
}

func (d *demo) startHub(ctx context.Context, dir string, addr func(int) string) error {
	var err error
	d.hubs, err = hub.StartLocal(ctx, hub.LocalConfig{
		Dir: dir, Members: 3, AdminPassword: d.pw, Log: d.log,
		Addrs: func(i int) (string, string) { return addr(1 + i), addr(11 + i) },
		Start: wiring.StartHub,
	})
	return err
}

func (d *demo) startNode(ctx context.Context, dir, id, addr string, customers []*crmv1.Customer) error {
	nodeDir := filepath.Join(dir, id)
	tokenFile := filepath.Join(dir, id+".token")
	tok, err := os.ReadFile(tokenFile)
	if errors.Is(err, os.ErrNotExist) {
		htok, err := waitLogin(ctx, d.hc, d.hubs[0].URL(), d.pw)
		if err != nil {
			return err
		}
		resp, err := adminv1connect.NewClusterServiceClient(d.hc, d.hubs[0].URL(), rpc.WithBearer(htok)).
			AddNode(ctx, connect.NewRequest(&adminv1.AddNodeRequest{Id: id}))
		if err != nil {
			return fmt.Errorf("register node %s: %w", id, err)
		}
		tok = []byte(resp.Msg.GetToken())
		// The node starts at once and may call any member: wait until
		// each has applied its registration, which the leader answered
		// on, or a follower behind it refuses the node's first calls.
		err = poll(ctx, 30*time.Second, func() bool {
			for _, h := range d.hubs {
				if !h.KnowsNodeToken(string(tok)) {
					return false
				}
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("node %s's registration did not reach every hub member: %w", id, err)
		}
		if err := os.WriteFile(tokenFile, tok, 0o600); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	_, statErr := os.Stat(nodeDir)
	fresh := errors.Is(statErr, os.ErrNotExist)
	var urls []string
	for _, h := range d.hubs {
		urls = append(urls, h.URL())
	}
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: nodeDir, HTTPAddr: addr, HubURLs: urls, Token: string(tok), AdminPassword: d.pw, Log: d.log}, DefaultRoles: access.DefaultRoles()})
	if err != nil {
		return err
	}
	d.nodes = append(d.nodes, n)
	if !fresh {
		return nil
	}
	ntok, err := waitLogin(ctx, d.hc, n.URL(), d.pw)
	if err != nil {
		return err
	}
	c := crmv1connect.NewCustomerServiceClient(d.hc, n.URL(), rpc.WithBearer(ntok))
	for _, cust := range customers {
		if _, err := c.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: cust})); err != nil {
			return fmt.Errorf("sample customer %s: %w", cust.GetDisplayName(), err)
		}
	}
	return seedDemo(ctx, d.hc, n.URL(), id, d.pw, rpc.WithBearer(ntok))
}

// waitLogin logs in as admin at url, retrying until the server is ready.
func waitLogin(ctx context.Context, hc *http.Client, url, pw string) (string, error) {
	var tok string
	var last error
	err := poll(ctx, 30*time.Second, func() bool {
		_, t, err := ctlLogin(ctx, hc, []string{url}, "admin", pw)
		tok, last = t, err
		return err == nil
	})
	if err != nil {
		return "", fmt.Errorf("log in at %s: %w (%v)", url, err, last)
	}
	return tok, nil
}

// poll calls cond every 50 ms until it holds or timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
