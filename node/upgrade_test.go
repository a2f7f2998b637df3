package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/migrate"

	"branchline/crm"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/wiring"
)

// memberStatus asks a hub member for its Status as the cluster admin.
func memberStatus(t *testing.T, h *hub.Hub) *adminv1.StatusResponse {
	t.Helper()
	hc := rpc.NewHTTPClient()
	login, err := authv1connect.NewAuthServiceClient(hc, h.URL()).Login(context.Background(),
		connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: pw}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := adminv1connect.NewAdminServiceClient(hc, h.URL(), rpc.WithBearer(login.Msg.GetToken())).
		Status(context.Background(), connect.NewRequest(&adminv1.StatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	return st.Msg
}

// raftLogAsEarlierRelease moves a stopped member's Raft log and votes
// from raft-wal's raft/wal into raft-boltdb's raft/raft.db, where releases
// before 2026-12-07 kept them.
func raftLogAsEarlierRelease(t *testing.T, raftDir string) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(filepath.Join(raftDir, "wal"), raftwal.WithMetaStore(meta))
	if err != nil {
		t.Fatal(err)
	}
	b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.CopyLogs(context.Background(), b, w, 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	if err := migrate.CopyStable(context.Background(), b, w, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.Close(), meta.Close(), b.Close(), os.RemoveAll(filepath.Join(raftDir, "wal"))); err != nil {
		t.Fatal(err)
	}
}

// TestRollingUpgrade: a release adds an event kind (here: customer notes,
// taken out of the older registry). Events of it never get lost on the way:
//   - a newer node pushes notes to a hub whose first member runs the older
//     release: they are accepted, committed and parked on every member,
//     since the cluster version lacks the kind, so the members' views (and
//     any decision made from them) stay equal;
//   - an older node pulls them and parks them too, with the newer node's
//     later events, which wait behind them;
//   - once the old member is upgraded (its Raft log copied from where the
//     older release kept it), the leader commits the kind and every
//     member applies what it parked; once the old node is upgraded
//     it does the same on start, and every replica holds the same state.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-member hub and two nodes")
	}
	full := kinds.Registry()
	old := full.Without(crm.KindNoteAdded)
	dir := t.TempDir()
	addrs := map[string][2]string{} // a restarted member keeps its addresses
	startMember := func(id string, reg *replication.Registry, join string) *hub.Hub {
		a, ok := addrs[id]
		if !ok {
			a = [2]string{"127.0.0.1:0", "127.0.0.1:0"}
		}
		h, err := wiring.StartHub(hub.Config{ID: id, DataDir: filepath.Join(dir, id), HTTPAddr: a[0], RaftAddr: a[1],
			Bootstrap: join == "", JoinURL: join, AdminPassword: pw, Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		addrs[id] = [2]string{strings.TrimPrefix(h.URL(), "http://"), h.RaftAddr()}
		return h
	}
	hub1 := startMember("hub1", old, "")
	waitFor(t, 20*time.Second, "hub1", func() error {
		if !hub1.Ready() {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	hubs := []*hub.Hub{hub1, startMember("hub2", full, hub1.URL()), startMember("hub3", full, hub1.URL())}
	defer func() { hub.CloseAll(hubs) }()
	waitFor(t, 30*time.Second, "a first cluster version", func() error {
		if len(memberStatus(t, hub1).GetActiveCapabilities()) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	th := &testHub{Hub: hub1}
	{
		hc := rpc.NewHTTPClient()
		login, err := authv1connect.NewAuthServiceClient(hc, hub1.URL()).Login(context.Background(),
			connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: pw}))
		if err != nil {
			t.Fatal(err)
		}
		th.cluster = adminv1connect.NewClusterServiceClient(hc, hub1.URL(), rpc.WithBearer(login.Msg.GetToken()))
	}
	urls := func() []string {
		var u []string
		for _, h := range hubs {
			u = append(u, h.URL())
		}
		return u
	}
	newTok, oldTok := th.addNode(t, "br-new"), th.addNode(t, "br-old")
	oldDir := t.TempDir()
	newer, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-new", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: urls(), Token: newTok, AdminPassword: pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	older, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-old", DataDir: oldDir, HTTPAddr: "127.0.0.1:0", HubURLs: urls(), Token: oldTok, AdminPassword: pw, Registry: old}})
	if err != nil {
		t.Fatal(err)
	}

	// br-new: a customer, a note on it (the new kind), then an edit.
	id := replication.NewIDs().New(time.Now())
	for _, cmd := range []replication.Command{
		func(v replication.Tx) ([]replication.Draft, error) {
			d, err := crm.CreateCustomer(v, id, map[string]string{"display_name": "升级测试客户"})
			return []replication.Draft{d}, err
		},
		func(v replication.Tx) ([]replication.Draft, error) {
			d, err := crm.AddNote(v, id, "新版本才有的备注")
			return []replication.Draft{d}, err
		},
		func(v replication.Tx) ([]replication.Draft, error) {
			d, _, err := crm.UpdateCustomer(v, id, map[string]string{"city": "上海"})
			return []replication.Draft{d}, err
		},
	} {
		if _, err := newer.Store().Exec(context.Background(), "test", cmd); err != nil {
			t.Fatal(err)
		}
	}
	createCustomers(t, older.Node, "旧版本网点的客户")

	// Every member commits all of it and parks the note and what follows
	// it; the old node parks them alike; all views are equal.
	sameEverywhere := func(wantParked bool) func() error {
		return func() error {
			var digest string
			for _, h := range hubs {
				st := memberStatus(t, h)
				if st.GetAppliedPosition() < 4 {
					return fmt.Errorf("%s at position %d", st.GetId(), st.GetAppliedPosition())
				}
				if (st.GetEventsParked() > 0) != wantParked {
					return fmt.Errorf("%s has %d events parked", st.GetId(), st.GetEventsParked())
				}
				if digest == "" {
					digest = st.GetDigest()
				} else if st.GetDigest() != digest {
					return fmt.Errorf("%s: digest %.12s, hub1 %.12s", st.GetId(), st.GetDigest(), digest)
				}
			}
			for _, n := range []*wiring.Node{newer, older} {
				if n == nil {
					continue
				}
				if p := n.Store().Progress(); p.Pushed != p.LastSeq || p.Cursor < 4 {
					return fmt.Errorf("%s: %+v", n.Store().ID(), p)
				}
			}
			if older != nil {
				if d, hd := older.Store().ScopeDigest(), hubs[1].ScopeDigest(older.Store().Scopes().Held); d != hd {
					return fmt.Errorf("br-old: digest %.12s, hub's of its scopes %.12s", d, hd)
				}
			}
			return nil
		}
	}
	waitFor(t, 30*time.Second, "the members and the old node to park the new kind alike", sameEverywhere(true))
	if p := older.Store().Views().ParkedCount(); p != 2 {
		t.Fatalf("br-old parked %d events, want the note and the edit behind it", p)
	}
	if active := memberStatus(t, hub1).GetActiveCapabilities(); slices.Contains(active, crm.KindNoteAdded) {
		t.Fatal("the cluster activated a kind its first member does not know")
	}

	// Upgrade hub1: the cluster activates the kind and every member applies
	// what it parked. Its Raft log is where the older release kept it.
	if err := hub1.Close(); err != nil {
		t.Fatal(err)
	}
	raftLogAsEarlierRelease(t, filepath.Join(dir, "hub1", "raft"))
	hubs[0] = startMember("hub1", full, "")
	waitFor(t, 60*time.Second, "the cluster version to include the new kind", func() error {
		for _, h := range hubs {
			if !slices.Contains(memberStatus(t, h).GetActiveCapabilities(), crm.KindNoteAdded) {
				return fmt.Errorf("%s: not active", h.ID())
			}
		}
		return nil
	})
	// The old node still parks (its digest differs until it is upgraded).
	if err := older.Close(); err != nil {
		t.Fatal(err)
	}
	older = nil
	waitFor(t, 30*time.Second, "the members to apply what they parked", sameEverywhere(false))
	if d, hd := newer.Store().ScopeDigest(), hubs[1].ScopeDigest(newer.Store().Scopes().Held); d != hd {
		t.Fatalf("br-new digest %.12s differs from the hub's of its scopes %.12s", d, hd)
	}

	// Upgrade the old node: it applies its parked events on start.
	older, err = wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-old", DataDir: oldDir, HTTPAddr: "127.0.0.1:0", HubURLs: urls(), Token: oldTok, AdminPassword: pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer older.Close()
	if p := older.Store().Views().ParkedCount(); p != 0 {
		t.Fatalf("br-old still parks %d events after the upgrade", p)
	}
	waitFor(t, 30*time.Second, "every replica to hold the same state", sameEverywhere(false))
}
