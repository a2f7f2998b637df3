package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/rpc"
)

// untar extracts a .tar.gz of testdata into dir.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Clean(h.Name))
		if !strings.HasPrefix(path, dir) {
			t.Fatalf("bad path %q in %s", h.Name, archive)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o750); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
}

// loginAs logs in as admin with password.
func loginAs(url, password string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv1connect.NewAuthServiceClient(hc, url).Login(ctx,
		connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: password}))
	if err != nil {
		return "", err
	}
	return resp.Msg.GetToken(), nil
}

func statusWith(url, tok string) (*adminv1.StatusResponse, error) {
	resp, err := adminv1connect.NewAdminServiceClient(hc, url, rpc.WithBearer(tok)).
		Status(context.Background(), connect.NewRequest(&adminv1.StatusRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// TestPoisonedStoreRecovers starts this release on the stores of the clock
// poisoning incident, made by the release before it (testdata/poisoned:
// main.go.txt made stores.tar.gz). Node "evil" had pushed a customer
// stamped at the HLC limit (the year 9999), the hub had committed it, and
// node br-a's clock had followed it: br-a's two later customers were
// stamped past the limit and refused by the hub for good. After the
// upgrade, with no operator surgery, br-a's clock is back on the wall
// clock, its stuck events are stamped afresh and accepted, its views are
// rebuilt from the hub's log so that it holds exactly the hub's state, and
// its next write is accepted with a stamp of today.
func TestPoisonedStoreRecovers(t *testing.T) {
	const pw = "poison-admin" // the fixture's admin password, hub and node
	dir := t.TempDir()
	untar(t, "testdata/poisoned/stores.tar.gz", dir)
	token, err := os.ReadFile(filepath.Join(dir, "br-a.token"))
	if err != nil {
		t.Fatal(err)
	}
	hub := &hubMember{id: "hub1", data: filepath.Join(dir, "hub1")}
	hub.proc = startProc(t, "hub1", []string{"BRANCHLINE_ADMIN_PASSWORD=" + pw},
		"hub", "--id", "hub1", "--data", hub.data, "--http", "127.0.0.1:0", "--raft", "127.0.0.1:0")
	line := hub.proc.waitLine("hub member hub1 serving on ", 30*time.Second)
	hub.url = strings.Fields(strings.TrimPrefix(line, "hub member hub1 serving on "))[0]
	var hubTok string
	waitFor(t, 30*time.Second, "the hub to lead", func() error {
		hubTok, err = loginAs(hub.url, pw)
		return err
	})
	br := &branch{id: "br-a", data: filepath.Join(dir, "br-a")}
	br.proc = startProc(t, "br-a", []string{"BRANCHLINE_TOKEN=" + string(token), "BRANCHLINE_HUB=" + hub.url},
		"node", "--id", "br-a", "--data", br.data, "--http", "127.0.0.1:0")
	br.url = strings.TrimPrefix(br.proc.waitLine("node br-a serving on ", 30*time.Second), "node br-a serving on ")
	var nodeTok string
	waitFor(t, 30*time.Second, "br-a to serve", func() error {
		nodeTok, err = loginAs(br.url, pw)
		return err
	})

	same := func() error {
		hs, err := statusWith(hub.url, hubTok)
		if err != nil {
			return err
		}
		ns, err := statusWith(br.url, nodeTok)
		if err != nil {
			return err
		}
		switch {
		case ns.GetOutboxPending() != 0:
			return fmt.Errorf("br-a has %d events to push", ns.GetOutboxPending())
		case ns.GetRebuilding() || ns.GetRebuildReason() != "":
			return fmt.Errorf("br-a is rebuilding (%q) at %d of %d", ns.GetRebuildReason(), ns.GetRebuildPosition(), ns.GetRebuildHead())
		}
		want, err := scopeDigest(hs.GetScopeDigests(), ns.GetScopes())
		if err != nil {
			return err
		}
		if ns.GetDigest() != want {
			return fmt.Errorf("br-a: digest %.12s of %v; hub's %.12s", ns.GetDigest(), ns.GetScopes(), want)
		}
		return nil
	}
	// Exactly once: the hub holds the poisoned event and each of br-a's
	// (its two stuck customers, and the audit records of the logins since).
	exactlyOnce := func() error {
		hs, err := statusWith(hub.url, hubTok)
		if err != nil {
			return err
		}
		ns, err := statusWith(br.url, nodeTok)
		if err != nil {
			return err
		}
		if ns.GetLastSeq() < 2 || hs.GetEventsApplied() != 1+ns.GetLastSeq() {
			return fmt.Errorf("hub applied %d events; br-a made %d, and evil 1", hs.GetEventsApplied(), ns.GetLastSeq())
		}
		return nil
	}
	waitFor(t, 60*time.Second, "br-a's stuck events to reach the hub and its views to equal the hub's", func() error {
		if err := same(); err != nil {
			return err
		}
		return exactlyOnce()
	})
	// The swap's commit comes before the line that logs it.
	waitFor(t, 10*time.Second, "br-a to log the swap", func() error {
		if !br.logContains("views rebuilt from the hub") {
			return errors.New("not yet")
		}
		return nil
	})
	if !br.logContains("stamped afresh") || !br.logContains("views rebuilt from the hub") {
		t.Error("br-a's log does not say it restamped its events and rebuilt its views")
	}

	// The next write is stamped today and accepted.
	before := time.Now().Add(-time.Minute)
	c, err := customers(br.url, nodeTok).CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{
		Customer: &crmv1.Customer{DisplayName: "升级后的客户"},
	}))
	if err != nil {
		t.Fatalf("create a customer after the upgrade: %v", err)
	}
	if at := c.Msg.GetCreateTime().AsTime(); at.Before(before) || at.After(time.Now().Add(time.Minute)) {
		t.Fatalf("new customer created at %v, want now", at)
	}
	waitFor(t, 30*time.Second, "the new customer to reach the hub", func() error {
		if err := same(); err != nil {
			return err
		}
		return exactlyOnce()
	})
}
