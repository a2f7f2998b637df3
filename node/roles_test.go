package node_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"branchline/access"
	"branchline/hub"
	"branchline/node"
	"branchline/replication"
	"branchline/wiring"
)

// TestDefaultRolesOfflineNodesConverge: the first two branches of a new
// company start before they can reach the hub, and each creates the
// default roles; the first edits its agent role meanwhile. Once both reach
// the hub they hold one set of seven roles, alike, with the edit; and a
// restart seeds nothing again.
func TestDefaultRolesOfflineNodesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and two nodes")
	}
	dirs := map[string]string{"br-a": t.TempDir(), "br-b": t.TempDir()}
	start := func(id string, hubURL, token string) *node.Node {
		t.Helper()
		cfg := wiring.NodeConfig{Config: node.Config{ID: id, DataDir: dirs[id], HTTPAddr: "127.0.0.1:0", AdminPassword: pw}, DefaultRoles: access.DefaultRoles()}
		if hubURL != "" {
			cfg.HubURLs, cfg.Token = []string{hubURL}, token
		}
		n, err := wiring.StartNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n.Node
	}
	roles := func(n *node.Node) []*access.Role {
		t.Helper()
		var out []*access.Role
		if err := n.Store().View(func(views replication.Tx) error {
			var err error
			out, err = access.ListRoles(views)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Offline: each seeds on its own.
	a, b := start("br-a", "", ""), start("br-b", "", "")
	for _, n := range []*node.Node{a, b} {
		if got := roles(n); len(got) != 7 {
			t.Fatalf("%d roles on a fresh node, want the seven defaults", len(got))
		}
	}
	agent := access.DefaultRoles()[0]
	edited := maps.Clone(agent.Perms)
	edited[access.PhoneView] = access.ScopeOwn
	if _, err := a.Store().Exec(context.Background(), "admin", func(views replication.Tx) ([]replication.Draft, error) {
		d, _, err := access.SetPermissions(views, agent.ID, edited)
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()

	h := startTestHub(t, hub.Config{})
	a = start("br-a", h.URL(), h.addNode(t, "br-a"))
	b = start("br-b", h.URL(), h.addNode(t, "br-b"))
	waitFor(t, 60*time.Second, "both nodes to hold each other's events", func() error {
		for _, n := range []*node.Node{a, b} {
			if p := n.Store().Progress(); p.Pushed < p.LastSeq {
				return fmt.Errorf("pushed %d of %d", p.Pushed, p.LastSeq)
			}
		}
		if da, db := a.Store().Views().Digest(), b.Store().Views().Digest(); da != db {
			return fmt.Errorf("digests differ: %s vs %s", da, db)
		}
		return nil
	})
	for _, n := range []*node.Node{a, b} {
		got := roles(n)
		if len(got) != 7 {
			t.Fatalf("%d roles after the nodes met, want the seven defaults once", len(got))
		}
		if !maps.Equal(got[0].Perms, edited) || got[0].ID != agent.ID {
			t.Errorf("agent role %s: %v, want the edit %v", got[0].ID, got[0].Perms, edited)
		}
	}
	before := a.Store().Progress().LastSeq
	a.Close()
	a = start("br-a", "", "")
	if after := a.Store().Progress().LastSeq; after != before {
		t.Errorf("a restart recorded %d events, want none", after-before)
	}
}
