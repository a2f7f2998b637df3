package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"branchline/hub"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/wiring"
)

// Kinds of the scope tests, on top of the product's registry:
//
//	test.scoped.set    body "scope,scope|value": entity's value, with those scopes
//	test.scope.grant   body "node|scope": the hub serves node that scope (company-wide)
const (
	kindScopedSet = "test.scoped.set"
	kindGrant     = "test.scope.grant"
)

func scopedKey(entity string) []byte { return replication.Key("scoped", entity) }

func scopeRegistry() *replication.Registry {
	r := kinds.Registry()
	replication.Handle(r, kindScopedSet, func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		_, v, _ := strings.Cut(b.GetValue(), "|")
		if _, _, err := replication.SetRegister(tx, scopedKey(ev.Entity), []byte(v), replication.StampOf(ev)); err != nil {
			return err
		}
		return tx.Set(replication.Key("seen", ev.Entity, ev.Origin, fmt.Sprint(ev.Seq)), nil)
	}, nil)
	replication.ScopeBy(r, kindScopedSet, func(_ replication.Tx, ev *replication.Event) ([]string, error) {
		var b wrapperspb.StringValue
		if err := proto.Unmarshal(ev.Body, &b); err != nil {
			return nil, err
		}
		s, _, _ := strings.Cut(b.GetValue(), "|")
		if s == "" {
			return nil, nil
		}
		all := strings.Split(s, ",")
		return replication.NormalScopes(all[0], all[1:]...), nil
	})
	replication.Handle(r, kindGrant, func(tx replication.Tx, _ *replication.Event, b *wrapperspb.StringValue) error {
		n, s, _ := strings.Cut(b.GetValue(), "|")
		if s, ok := strings.CutSuffix(s, "|-"); ok { // taken away
			return tx.Delete(replication.Key("grant", n, s))
		}
		return tx.Set(replication.Key("grant", n, s), nil)
	}, nil)
	return r
}

func grantedScopes(views replication.Tx, node string) ([]string, error) {
	var out []string
	p := replication.Prefix("grant", node)
	err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
		out = append(out, string(k[len(p):]))
		return true, nil
	})
	return out, err
}

func put(t *testing.T, n *node.Node, kind, entity, body string) {
	t.Helper()
	_, err := n.Store().Exec(context.Background(), "test", func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{{Kind: kind, Entity: entity, Body: wrapperspb.String(body)}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func has(t *testing.T, n *node.Node, entity string) bool {
	t.Helper()
	found := false
	err := n.Store().View(func(views replication.Tx) error {
		_, ok, err := replication.GetRegister(views, scopedKey(entity))
		found = ok
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// seen counts the events of entity n applied.
func seen(t *testing.T, n *node.Node, entity string) int {
	t.Helper()
	count := 0
	err := n.Store().View(func(views replication.Tx) error {
		return views.Scan(replication.Prefix("seen", entity), nil, func(_, _ []byte) (bool, error) {
			count++
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}

// holdsScope waits until n holds want (besides its branch) and its digest
// of what it holds equals the hub's digest of those scopes.
func holdsScope(t *testing.T, th *testHub, n *node.Node, want ...string) {
	t.Helper()
	want = append(want, replication.BranchScope(n.Store().ID()))
	waitFor(t, 60*time.Second, n.Store().ID()+" to hold its scopes", func() error {
		sc := n.Store().Scopes()
		for _, w := range want {
			if !strings.Contains(","+strings.Join(sc.Held, ",")+",", ","+w+",") {
				return fmt.Errorf("holds %v (gaining %v), want %v", sc.Held, sc.Gaining, want)
			}
		}
		if n.Store().Progress().Pushed < n.Store().Progress().LastSeq {
			return fmt.Errorf("outbox not pushed")
		}
		if got, hub := n.Store().ScopeDigest(), th.ScopeDigest(sc.Held); got != hub {
			return fmt.Errorf("digest of %v %.12s, hub's %.12s", sc.Held, got, hub)
		}
		return nil
	})
}

// TestScopedPull: each node takes company-wide events and its scopes'
// only; a node that starts to serve a courier gets the earlier events of
// what is assigned to the courier; a node that gains a warehouse gets the
// warehouse's history, applied once even when the node restarts halfway
// through it; and every node's digest of what it holds equals the hub's
// digest of the same scopes.
func TestScopedPull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and three nodes")
	}
	reg := scopeRegistry()
	th := startTestHub(t, hub.Config{Registry: reg, NodeScopes: grantedScopes})
	start := func(id, dir string, tok string) *node.Node {
		n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: dir, HTTPAddr: "127.0.0.1:0", HubURLs: []string{th.URL()}, Token: tok, AdminPassword: pw, Registry: reg}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n.Node
	}
	dirC := t.TempDir()
	tokC := th.addNode(t, "br-c")
	a := start("br-a", t.TempDir(), th.addNode(t, "br-a"))
	b := start("br-b", t.TempDir(), th.addNode(t, "br-b"))
	c := start("br-c", dirC, tokC)

	// b serves courier k before anything is assigned to k.
	put(t, a, kindGrant, "grant/1", "br-b|c:k")
	put(t, a, kindScopedSet, "company/1", "|everyone")
	put(t, a, kindScopedSet, "pickup/p1", "b:br-a|booked")
	put(t, a, kindScopedSet, "pickup/p1", "b:br-a|edited")
	put(t, a, kindScopedSet, "pickup/p2", "b:br-a|not for b")
	const history = 6000 // many history messages
	for i := 0; i < history; i += 500 {
		_, err := a.Store().Exec(context.Background(), "test", func(replication.Tx) ([]replication.Draft, error) {
			var out []replication.Draft
			for j := i; j < i+500; j++ {
				out = append(out, replication.Draft{Kind: kindScopedSet, Entity: fmt.Sprintf("stock/%d", j), Body: wrapperspb.String(fmt.Sprintf("w:w1|%d", j))})
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(t, a, kindScopedSet, "pickup/p1", "b:br-a,c:k|assigned to k")
	holdsScope(t, th, a)
	holdsScope(t, th, b, "c:k")
	holdsScope(t, th, c)

	waitFor(t, 30*time.Second, "b to follow p1", func() error {
		if !has(t, b, "pickup/p1") {
			return fmt.Errorf("b lacks p1")
		}
		return nil
	})
	var p1 replication.Register
	if err := b.Store().View(func(views replication.Tx) error {
		var err error
		p1, _, err = replication.GetRegister(views, scopedKey("pickup/p1"))
		return err
	}); err != nil || string(p1.Value) != "assigned to k" {
		t.Fatalf("b's p1 = %q, %v", p1.Value, err)
	}
	if n := seen(t, b, "pickup/p1"); n != 3 {
		t.Errorf("b applied %d events of p1, want its 3", n)
	}
	for _, n := range []*node.Node{b, c} {
		if !has(t, n, "company/1") {
			t.Errorf("%s lacks the company-wide record", n.Store().ID())
		}
		if has(t, n, "pickup/p2") || has(t, n, "stock/0") {
			t.Errorf("%s holds another branch's or warehouse's records", n.Store().ID())
		}
	}
	// b applied exactly the followed entity's three events besides the
	// company's: its digest of the courier scope's home (b:br-a) is the
	// digest of p1's events alone, not of branch a's.
	if b.Store().Views().EventDigest("b:br-a") == th.ScopeDigest([]string{"b:br-a"}) {
		t.Error("b holds branch a's whole scope")
	}

	// c gains warehouse w1 and is restarted while its history streams.
	put(t, a, kindGrant, "grant/2", "br-c|w:w1")
	for deadline := time.Now().Add(60 * time.Second); c.Store().Scopes().GainedTo == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || len(c.Store().Scopes().Held) > 1 {
			t.Fatalf("c did not stop halfway through w1's history: %+v", c.Store().Scopes())
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("c closed with scopes %+v", c.Store().Scopes())
	c = start("br-c", dirC, tokC)
	holdsScope(t, th, c, "w:w1")
	if !has(t, c, fmt.Sprintf("stock/%d", history-1)) || has(t, c, "pickup/p2") {
		t.Error("c: w1's history missing, or branch a's records present")
	}
	// New events of w1 reach c in the tail.
	put(t, a, kindScopedSet, "stock/new", "w:w1|after")
	waitFor(t, 30*time.Second, "c to get w1's new event", func() error {
		if !has(t, c, "stock/new") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	holdsScope(t, th, c, "w:w1")

	// w1 moves away from c, gets more events, and comes back: c is sent
	// only what it missed — each event once, as the digest of its scopes
	// (equal to the hub's) proves.
	put(t, a, kindGrant, "grant/2", "br-c|w:w1|-")
	waitFor(t, 30*time.Second, "c to stop holding w1", func() error {
		if sc := c.Store().Scopes(); sc.Dormant["w:w1"] == 0 {
			return fmt.Errorf("scopes %+v", sc)
		}
		return nil
	})
	put(t, a, kindScopedSet, "stock/away", "w:w1|while away")
	put(t, a, kindScopedSet, "stock/new", "w:w1|edited while away")
	if has(t, c, "stock/away") {
		t.Fatal("c got an event of a scope it no longer holds")
	}
	put(t, a, kindGrant, "grant/2", "br-c|w:w1")
	holdsScope(t, th, c, "w:w1")
	if !has(t, c, "stock/away") || seen(t, c, "stock/new") != 2 || seen(t, c, "stock/0") != 1 {
		t.Fatalf("c after w1 came back: away %v, stock/new applied %d times, stock/0 %d", has(t, c, "stock/away"), seen(t, c, "stock/new"), seen(t, c, "stock/0"))
	}
}

// TestRestoreResumes: a branch PC whose disk died takes its data back
// from the hub; the rebuild is cut halfway (the node stops) and goes on
// from where it got when the node starts again, applying each event once:
// the node's digest of its scopes equals the hub's, and its next event
// follows the seqs the hub holds.
func TestRestoreResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and a node three times")
	}
	reg := scopeRegistry()
	th := startTestHub(t, hub.Config{Registry: reg, NodeScopes: grantedScopes})
	tok := th.addNode(t, "br-a")
	start := func(dir string) *node.Node {
		n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-a", DataDir: dir, HTTPAddr: "127.0.0.1:0", HubURLs: []string{th.URL()}, Token: tok, AdminPassword: pw, Registry: reg}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n.Node
	}
	a := start(t.TempDir())
	const events = 20000
	for i := 0; i < events; i += 500 {
		_, err := a.Store().Exec(context.Background(), "test", func(replication.Tx) ([]replication.Draft, error) {
			var out []replication.Draft
			for j := i; j < i+500; j++ {
				out = append(out, replication.Draft{Kind: kindScopedSet, Entity: fmt.Sprintf("pickup/%d", j), Body: wrapperspb.String(fmt.Sprintf("b:br-a|%d", j))})
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	holdsScope(t, th, a)
	lastSeq := a.Store().Progress().LastSeq
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir() // the disk died: a new one
	a = start(dir)
	if !a.Store().Restoring() || a.Store().Progress().LastSeq != lastSeq {
		t.Fatalf("restoring %v, last seq %d; want a restore continuing after %d", a.Store().Restoring(), a.Store().Progress().LastSeq, lastSeq)
	}
	var cut uint64
	for deadline := time.Now().Add(60 * time.Second); cut == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || !a.Store().Restoring() {
			t.Fatalf("the restore did not stop halfway (restoring %v)", a.Store().Restoring())
		}
		cut = a.Store().RebuildCursor()
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = start(dir)
	// What the cut rebuild got is still recorded: the rebuild goes on
	// from there (BeginRebuild), it does not start over.
	if c := a.Store().RebuildCursor(); c < cut && a.Store().Restoring() {
		t.Fatalf("after the restart the rebuild is at %d, it had reached %d", c, cut)
	}
	waitFor(t, 60*time.Second, "the restore to finish", func() error {
		if a.Store().Restoring() {
			return fmt.Errorf("restoring (at %d)", a.Store().RebuildCursor())
		}
		return nil
	})
	holdsScope(t, th, a)
	if n := seen(t, a, "pickup/0") + seen(t, a, fmt.Sprintf("pickup/%d", events-1)); n != 2 {
		t.Fatalf("the restored node applied %d of the first and last events, want each once", n)
	}
	put(t, a, kindScopedSet, "pickup/new", "b:br-a|after")
	if s := a.Store().Progress().LastSeq; s != lastSeq+1 {
		t.Fatalf("the next event has seq %d, want %d", s, lastSeq+1)
	}
	t.Logf("restore cut at position %d of %d", cut, events)
}
