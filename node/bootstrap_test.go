package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"branchline/crm"
	"branchline/crm/pickup"
	adminv1 "branchline/gen/branchline/admin/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/hub"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/wiring"
)

// logBuffer collects a node's log, for a test to see what it did.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writeMany makes n events of kindScopedSet at node nd, entities
// prefix/0…, with body scopes|value, in commands of 500.
func writeMany(t *testing.T, nd *node.Node, prefix, scopes string, n int) {
	t.Helper()
	for i := 0; i < n; i += 500 {
		_, err := nd.Store().Exec(context.Background(), "test", func(replication.Tx) ([]replication.Draft, error) {
			var out []replication.Draft
			for j := i; j < min(i+500, n); j++ {
				out = append(out, replication.Draft{Kind: kindScopedSet, Entity: fmt.Sprintf("%s/%d", prefix, j),
					Body: wrapperspb.String(fmt.Sprintf("%s|%s value %d", scopes, prefix, j))})
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSnapshotBootstrap: a node that lost its disk takes the company views
// from a snapshot of the hub, then the history of its own scopes (its
// branch, and a warehouse another node wrote to before it was granted),
// then tails; an installation cut halfway goes on after a restart where it
// stopped; the result is the very views the node had built by pulling
// every event (compared by a scan of their content), its per-scope digest
// equals the hub's, it holds no record of the other branch, and its next
// event continues its seqs.
func TestSnapshotBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and three nodes")
	}
	reg := scopeRegistry()
	th := startTestHub(t, hub.Config{Registry: reg, NodeScopes: grantedScopes, SnapshotChunkBytes: 2 << 10})
	toks := map[string]string{"br-a": th.addNode(t, "br-a"), "br-b": th.addNode(t, "br-b")}
	logs := &logBuffer{}
	start := func(id, dir string, snapshotAbove uint64) *node.Node {
		log := slog.New(slog.NewTextHandler(logs, nil)).With("node", id)
		n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: dir, HTTPAddr: "127.0.0.1:0", HubURLs: []string{th.URL()}, Token: toks[id], AdminPassword: pw, Registry: reg, SnapshotAbove: snapshotAbove, Log: log}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n.Node
	}
	a := start("br-a", t.TempDir(), 1<<40)
	b := start("br-b", t.TempDir(), 1<<40)
	writeMany(t, a, "customer-a", "", 3000)
	writeMany(t, b, "customer-b", "", 3000)
	writeMany(t, a, "pickup-a", "b:br-a", 1500)
	writeMany(t, b, "pickup-b", "b:br-b", 1500)
	writeMany(t, b, "stock-x", "w:x", 500)
	put(t, b, kindGrant, "grant/br-a", "br-a|w:x")
	holdsScope(t, th, a, "w:x")
	holdsScope(t, th, b)
	want, err := a.Store().ViewsDigest()
	if err != nil {
		t.Fatal(err)
	}
	lastSeq, cursor := a.Store().Progress().LastSeq, a.Store().Progress().Cursor
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir() // the disk died
	a = start("br-a", dir, 1)
	// Each chunk is written (and synced) on its own: catch one halfway.
	for deadline := time.Now().Add(60 * time.Second); a.Store().SnapshotPairs() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || !a.Store().Restoring() {
			t.Fatalf("the snapshot's installation did not stop halfway (restoring %v)", a.Store().Restoring())
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = start("br-a", dir, 1)
	waitFor(t, 60*time.Second, "the restore to finish", func() error {
		if a.Store().Restoring() {
			return fmt.Errorf("restoring (snapshot pairs %d, cursor %d)", a.Store().SnapshotPairs(), a.Store().RebuildCursor())
		}
		return nil
	})
	out := logs.String()
	for _, line := range []string{"resuming the snapshot of the company views", "snapshot of the company views installed"} {
		if !strings.Contains(out, line) {
			t.Errorf("the node's log lacks %q", line)
		}
	}
	holdsScope(t, th, a, "w:x")
	sameViews(t, a, cursor, want)
	for entity, n := range map[string]int{"customer-b/2999": 1, "pickup-a/0": 1, "stock-x/499": 1, "pickup-b/0": 0} {
		if s := seen(t, a, entity); s != n {
			t.Errorf("%s applied %d times, want %d", entity, s, n)
		}
	}
	put(t, a, kindScopedSet, "pickup-a/new", "b:br-a|after")
	if s := a.Store().Progress().LastSeq; s != lastSeq+1 {
		t.Fatalf("the next event has seq %d, want %d", s, lastSeq+1)
	}
	holdsScope(t, th, a, "w:x")

	// A new node of the company starts from a snapshot too.
	toks["br-c"] = th.addNode(t, "br-c")
	c := start("br-c", t.TempDir(), 1)
	holdsScope(t, th, c)
	waitFor(t, 30*time.Second, "br-c's bootstrap to end", func() error {
		if r := c.Store().RebuildReason(); r != "" {
			return fmt.Errorf("rebuilding: %s", r)
		}
		return nil
	})
	if !strings.Contains(grepLines(logs.String(), "node=br-c"), "snapshot of the company views installed") {
		t.Errorf("br-c did not start from a snapshot:\n%s", grepLines(logs.String(), "br-c"))
	}
	if seen(t, c, "customer-a/0") != 1 || seen(t, c, "pickup-a/0") != 0 {
		t.Errorf("br-c holds customer-a/0 %d times, pickup-a/0 %d times; want 1 and 0", seen(t, c, "customer-a/0"), seen(t, c, "pickup-a/0"))
	}
}

// sameViews checks that n, restored from a snapshot, is at cursor with the
// views it had built by pulling (want, their digest by a scan).
func sameViews(t *testing.T, n *node.Node, cursor uint64, want replication.Digest) {
	t.Helper()
	if c := n.Store().Progress().Cursor; c != cursor {
		t.Fatalf("restored at cursor %d, the node had %d (no event since)", c, cursor)
	}
	got, err := n.Store().ViewsDigest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("views restored from a snapshot %.16s, those built by pulling %.16s", got, want)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSnapshotProductViews: with the product's kinds — customers, zones,
// pickups with their company-wide account facts, made at two branches —
// a node that lost its disk and came back from a snapshot and its
// branch's history holds the very views it had built by pulling every
// event in the hub's order (compared by a scan of their content): the
// appliers give the same views whichever order the company-wide events
// and a branch's reach them in.
func TestSnapshotProductViews(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and three nodes")
	}
	th := startTestHub(t, hub.Config{SnapshotChunkBytes: 64 << 10})
	toks := map[string]string{"br-a": th.addNode(t, "br-a"), "br-b": th.addNode(t, "br-b")}
	start := func(id, dir string, snapshotAbove uint64) *node.Node {
		n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: dir, HTTPAddr: "127.0.0.1:0", HubURLs: []string{th.URL()}, Token: toks[id], AdminPassword: pw, SnapshotAbove: snapshotAbove}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n.Node
	}
	a := start("br-a", t.TempDir(), 1<<40)
	b := start("br-b", t.TempDir(), 1<<40)
	exec := func(n *node.Node, fn func(views replication.Tx) ([]replication.Draft, error)) {
		t.Helper()
		if _, err := n.Store().Exec(context.Background(), "test", fn); err != nil {
			t.Fatal(err)
		}
	}
	exec(a, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := pickup.SetZone(views, pickup.Zone{ID: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"}})
		return []replication.Draft{d}, err
	})
	ids := replication.NewIDs()
	now := time.Now()
	var customers []string
	for i := range 60 {
		at := a
		if i%2 == 1 {
			at = b
		}
		id := ids.New(now)
		customers = append(customers, id)
		exec(at, func(views replication.Tx) ([]replication.Draft, error) {
			d, err := crm.CreateCustomer(views, id, map[string]string{
				"display_name": fmt.Sprintf("浦东客户%d", i), "mobile": fmt.Sprintf("1380013%04d", i),
				"city": "上海", "address": fmt.Sprintf("上海市浦东新区张江路 %d 号", i)})
			return []replication.Draft{d}, err
		})
	}
	holdsScope(t, th, a)
	holdsScope(t, th, b)
	// Pickups of both branches for the same customers: the customers'
	// volumes and timelines take both.
	for i := range 120 {
		at, node := a, "br-a"
		if i%3 == 0 {
			at, node = b, "br-b"
		}
		exec(at, func(views replication.Tx) ([]replication.Draft, error) {
			ds, _, err := pickup.Create(views, pickup.Input{
				Sender:      pickup.Party{Name: fmt.Sprintf("浦东客户%d", i%60), Phone: fmt.Sprintf("1380013%04d", i%60), Address: fmt.Sprintf("上海市浦东新区张江路 %d 号", i%60)},
				Receiver:    pickup.Party{Name: "王五", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号"},
				Destination: "北京", Goods: "文件", WeightGrams: 1200, Pieces: 1, Payment: "cash", Customer: customers[i%60],
			}, ids.New(now), node, now)
			return ds, err
		})
	}
	holdsScope(t, th, a)
	holdsScope(t, th, b)
	want, err := a.Store().ViewsDigest()
	if err != nil {
		t.Fatal(err)
	}
	cursor := a.Store().Progress().Cursor
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // the disk died
	a = start("br-a", dir, 1)
	waitFor(t, 60*time.Second, "the restore to finish", func() error {
		if a.Store().Restoring() {
			return fmt.Errorf("restoring (snapshot pairs %d, cursor %d)", a.Store().SnapshotPairs(), a.Store().RebuildCursor())
		}
		return nil
	})
	holdsScope(t, th, a)
	sameViews(t, a, cursor, want)
	// Type-ahead answers from the memory built as the snapshot came in
	// what it answers at br-b, which built its memory by its writes and
	// pulls.
	suggest := func(n *node.Node, q string) []string {
		t.Helper()
		var ids []string
		err := n.Store().View(func(views replication.Tx) error {
			if !crm.HasTextMemory(views) {
				t.Fatalf("%s: type-ahead without its memory", n.Store().ID())
			}
			hits, err := crm.Suggest(views, q, 100, nil)
			for _, h := range hits {
				ids = append(ids, h.Customer.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	for _, q := range []string{"浦东客户1", "客户", "13800130059", "0013", "浦"} {
		got, want := suggest(a, q), suggest(b, q)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("type-ahead %q after the restore: %d customers %v; br-b finds %d %v", q, len(got), got, len(want), want)
		}
	}
	// The snapshot leaves the lists' entries (orders, attributes,
	// counters, the live set) and the index records out
	// (crm.CustomerIndex.Shipped) and carries the rest;
	// br-a builds them behind and ends with every entry br-b has.
	stream, err := replicationv1connect.NewReplicationServiceClient(rpc.NewHTTPClient(), th.URL(), rpc.WithBearer(toks["br-b"])).Snapshot(context.Background(),
		connect.NewRequest(&replicationv1.SnapshotRequest{Protocol: replication.Protocol, Reads: replication.SnapshotReads}))
	if err != nil {
		t.Fatal(err)
	}
	carried := map[string]int{}
	for stream.Receive() {
		for _, k := range stream.Msg().GetKeys() {
			if rest, ok := bytes.CutPrefix(k, []byte("x\x00crm\x00")); ok {
				col, _, _ := bytes.Cut(rest, []byte{0})
				carried[string(col)]++
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	for col, want := range map[string]bool{"phone": true, "st": true, "nm": true, "live": false, "so": false, "sf": false, "at": false, "cnt": false, "ix": false} {
		if carried[col] > 0 != want {
			t.Errorf("the snapshot carries %d %q index entries; want some: %v", carried[col], col, want)
		}
	}
	waitFor(t, 30*time.Second, "br-a's indexer to catch up", func() error {
		if !a.Store().IndexCaughtUp() {
			return fmt.Errorf("%d entities to index", a.Store().IndexBacklog())
		}
		return nil
	})
	entries := func(n *node.Node) map[string]string {
		t.Helper()
		out := map[string]string{}
		err := n.Store().View(func(views replication.Tx) error {
			for _, p := range crm.CustomerIndex.Prefixes {
				err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
					out[string(k)] = string(v)
					return true, nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got, wantIx := entries(a), entries(b)
	for _, col := range []string{"so", "sf", "at", "cnt", "ix"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(wantIx)), func(k string) bool { return strings.HasPrefix(k, "crm\x00"+col+"\x00") }) {
			t.Errorf("br-b holds no %q entries to compare with", col)
		}
	}
	for k, v := range wantIx {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("after the restore br-a's index entry %q = %q (held %v), br-b's %q", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := wantIx[k]; !ok {
			t.Errorf("after the restore br-a holds index entry %q, br-b does not", k)
		}
	}
	var listed []*crm.Customer
	if err := a.Store().View(func(views replication.Tx) (err error) {
		listed, err = crm.ListCustomers(views, "", 100)
		return err
	}); err != nil || len(listed) != len(customers) {
		t.Errorf("br-a lists %d customers after the restore (%v), want %d", len(listed), err, len(customers))
	}
}

// TestSnapshotRefusals: the Snapshot RPC answers a caller without a
// node's token with nothing, and a resume it cannot serve with a clear
// error.
func TestSnapshotRefusals(t *testing.T) {
	th := startTestHub(t, hub.Config{})
	tok := th.addNode(t, "br-a")
	hc := rpc.NewHTTPClient()
	call := func(token string, req *replicationv1.SnapshotRequest) (int, bool, error) {
		var opts []connect.ClientOption
		if token != "" {
			opts = append(opts, rpc.WithBearer(token))
		}
		req.Protocol = replication.Protocol
		stream, err := replicationv1connect.NewReplicationServiceClient(hc, th.URL(), opts...).Snapshot(context.Background(), connect.NewRequest(req))
		if err != nil {
			return 0, false, err
		}
		defer stream.Close()
		pairs, done := 0, false
		for stream.Receive() {
			pairs += len(stream.Msg().GetKeys())
			done = done || (stream.Msg().GetDone() && len(stream.Msg().GetDigest()) == 32)
		}
		return pairs, done, stream.Err()
	}
	for _, c := range []struct {
		name  string
		token string
		req   *replicationv1.SnapshotRequest
		code  connect.Code
	}{
		{"no token", "", &replicationv1.SnapshotRequest{}, connect.CodeUnauthenticated},
		{"a wrong token", "not-a-token", &replicationv1.SnapshotRequest{}, connect.CodeUnauthenticated},
		{"a resume without its position", tok, &replicationv1.SnapshotRequest{After: []byte("v\x00x")}, connect.CodeInvalidArgument},
		{"a snapshot the member does not have", tok, &replicationv1.SnapshotRequest{Position: 123456, After: []byte("v\x00x"), Reads: replication.SnapshotReads}, connect.CodeFailedPrecondition},
		// A node of an older release would misread the index records:
		// refused, it replays the log instead.
		{"a node that does not read the snapshot's formats", tok, &replicationv1.SnapshotRequest{}, connect.CodeFailedPrecondition},
		{"a node that reads some of them", tok, &replicationv1.SnapshotRequest{Reads: []string{"index-record:1"}}, connect.CodeFailedPrecondition},
		// The release before would not build the index entries snapshots
		// leave out (lists would lack their customers).
		{"a node that does not build what is left out", tok, &replicationv1.SnapshotRequest{Reads: []string{"index-record:2"}}, connect.CodeFailedPrecondition},
	} {
		n, _, err := call(c.token, c.req)
		if connect.CodeOf(err) != c.code || n != 0 {
			t.Errorf("%s: %d pairs, %v; want none and %v", c.name, n, err, c.code)
		}
	}
	if n, done, err := call(tok, &replicationv1.SnapshotRequest{Reads: replication.SnapshotReads}); err != nil || !done {
		t.Errorf("a node's first request: %d pairs, done %v, %v; want the company views, to the end and its digest", n, done, err)
	}
}

// TestRetention: the hub drops company-wide events from its log by its
// rule, but not past a registered node's position until the operator
// releases the node; the released node, back with events it made offline,
// is refused its Pull, takes a snapshot while serving its old views, and
// its own events reach the hub exactly once; its per-scope digest equals
// the hub's.
func TestRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and nodes")
	}
	reg := scopeRegistry()
	th := startTestHub(t, hub.Config{Registry: reg, NodeScopes: grantedScopes, RetainEvents: 10})
	toks := map[string]string{"br-a": th.addNode(t, "br-a"), "br-b": th.addNode(t, "br-b")}
	logs := &logBuffer{}
	start := func(id, dir string, hubs ...string) *node.Node {
		log := slog.New(slog.NewTextHandler(logs, nil)).With("node", id)
		n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: dir, HTTPAddr: "127.0.0.1:0", HubURLs: hubs, Token: toks[id], AdminPassword: pw, Registry: reg, SnapshotAbove: 1 << 40, Log: log}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n.Node
	}
	dirA := t.TempDir()
	a := start("br-a", dirA, th.URL())
	b := start("br-b", t.TempDir(), th.URL())
	writeMany(t, a, "customer-a", "", 1000)
	writeMany(t, a, "pickup-a", "b:br-a", 200)
	holdsScope(t, th, a)
	holdsScope(t, th, b)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// br-a works offline: its events wait in its outbox.
	a = start("br-a", dirA, "http://127.0.0.1:1")
	writeMany(t, a, "offline-a", "b:br-a", 50)
	writeMany(t, a, "offline-cust-a", "", 50)
	lastSeq, cursor := a.Store().Progress().LastSeq, a.Store().Progress().Cursor
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	writeMany(t, b, "customer-b", "", 2000)
	writeMany(t, b, "pickup-b", "b:br-b", 100)
	holdsScope(t, th, b)

	retain := func(req *adminv1.RetainRequest) *adminv1.RetainResponse {
		t.Helper()
		resp, err := th.cluster.Retain(context.Background(), connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg
	}
	// br-a, away, holds the log back at its cursor.
	r := retain(&adminv1.RetainRequest{})
	if r.GetRetained() > cursor || len(r.GetHeldBy()) != 1 || r.GetHeldBy()[0].GetId() != "br-a" {
		t.Fatalf("retained %d (br-a at %d), held by %v; want the point at or below br-a's cursor, held by br-a", r.GetRetained(), cursor, r.GetHeldBy())
	}
	// Released, it holds nothing back: the point moves to head - 10.
	r = retain(&adminv1.RetainRequest{Release: []string{"br-a"}})
	if r.GetRetained() != r.GetHead()-10 || r.GetRetained() <= cursor {
		t.Fatalf("retained %d of %d after releasing br-a (at %d); want head - 10", r.GetRetained(), r.GetHead(), cursor)
	}
	waitFor(t, 30*time.Second, "the hub to drop what it retains no more", func() error {
		if c := th.Compacted(); c < r.GetRetained() {
			return fmt.Errorf("compacted up to %d of %d", c, r.GetRetained())
		}
		return nil
	})
	// br-b, up to date, pulls on as before.
	writeMany(t, b, "customer-b2", "", 10)
	holdsScope(t, th, b)

	a = start("br-a", dirA, th.URL())
	if !has(t, a, "customer-a/0") {
		t.Fatal("br-a does not serve its old views while it rebuilds")
	}
	waitFor(t, 60*time.Second, "br-a to rebuild from a snapshot", func() error {
		if r := a.Store().RebuildReason(); r != "" || a.Store().Progress().Cursor < cursor+1 {
			return fmt.Errorf("rebuilding (%q), cursor %d", r, a.Store().Progress().Cursor)
		}
		return nil
	})
	holdsScope(t, th, a)
	// The swap clears the rebuild's reason in its commit; the line saying
	// so is logged just after.
	waitFor(t, 10*time.Second, "br-a to log the swap", func() error {
		if !strings.Contains(grepLines(logs.String(), "node=br-a"), "views rebuilt from the hub") {
			return errors.New("not yet")
		}
		return nil
	})
	out := grepLines(logs.String(), "node=br-a")
	for _, line := range []string{"the hub's log no longer reaches back", "snapshot of the company views installed", "views rebuilt from the hub"} {
		if !strings.Contains(out, line) {
			t.Errorf("br-a's log lacks %q", line)
		}
	}
	if p := a.Store().Progress(); p.Pushed != lastSeq || p.LastSeq != lastSeq {
		t.Errorf("br-a pushed %d of %d (last seq %d)", p.Pushed, lastSeq, p.LastSeq)
	}
	for entity, n := range map[string]int{"offline-a/49": 1, "offline-cust-a/0": 1, "customer-b/1999": 1, "customer-b2/9": 1, "pickup-a/0": 1, "pickup-b/0": 0} {
		if s := seen(t, a, entity); s != n {
			t.Errorf("br-a applied %s %d times, want %d", entity, s, n)
		}
		if entity == "offline-cust-a/0" && seen(t, b, entity) != 1 {
			t.Errorf("br-b applied br-a's offline event %d times, want once", seen(t, b, entity))
		}
	}
	// Removing a node releases what it held.
	if _, err := th.cluster.RemoveNode(context.Background(), connect.NewRequest(&adminv1.RemoveNodeRequest{Id: "br-a"})); err != nil {
		t.Fatal(err)
	}
	holdsScope(t, th, b)
	if r := retain(&adminv1.RetainRequest{}); len(r.GetHeldBy()) != 0 {
		t.Errorf("held by %v after br-a was removed and br-b is up to date", r.GetHeldBy())
	}
}
