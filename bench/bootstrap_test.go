package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"branchline/crm"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/wiring"
)

// BenchmarkSnapshotBootstrap measures what issue 13 asks of a new branch
// PC: a hub (one member, in this process) whose log holds -customers
// customers made at another branch; a fresh node registers, takes a
// snapshot of the company views and its branch's history, and serves —
// the time until its views are swapped in and type-ahead finds a
// customer. It also reports the snapshot's size, the time to stream it
// alone, how long the hub's projection (company views included) took
// behind the pushes, and the node's memory.
//
//	go test -run XXX -bench SnapshotBootstrap -benchtime 1x ./bench -customers 1000000 [-replay]
var bootstrapReplay = flag.Bool("replay", false, "BenchmarkSnapshotBootstrap: also time a fresh node that replays the log, for the ratio")

var snapshotPrefixes = flag.Bool("snapshot-prefixes", false, "BenchmarkSnapshotBootstrap: tally the snapshot's pairs by key prefix")

var serveProfile = flag.String("serve-profile", "", "BenchmarkSnapshotBootstrap: write a CPU profile of the fresh node's bootstrap up to serving (not the hub's build before it, not the lists built after) to this file")

func BenchmarkSnapshotBootstrap(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a hub log of -customers customers")
	}
	n := *searchCustomers
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	c, err := startCluster(ctx, b.TempDir(), 1, 0, 0, log)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	if err := poll(ctx, 30*time.Second, func() bool { return c.ready() > 0 }); err != nil {
		b.Fatal("no leader")
	}
	toks, err := c.addNodes(ctx, []string{"sh-import", "br-new", "br-replay"})
	if err != nil {
		b.Fatal(err)
	}
	hc := rpc.NewHTTPClient()
	client := replicationv1connect.NewReplicationServiceClient(hc, c.urls()[0], rpc.WithBearer(toks["sh-import"]),
		connect.WithSendMaxBytes(replication.MaxBatchBytes+(1<<20)))
	r := rand.New(rand.NewPCG(7, 11))
	ids := replication.NewIDs()
	clock := replication.NewClock(nil, 0, 0)
	var sample []map[string]string
	start := time.Now()
	for seq := 0; seq < n; {
		evs := make([]*replicationv1.Event, 0, replication.MaxBatchEvents)
		for ; len(evs) < replication.MaxBatchEvents && seq < n; seq++ {
			fields := sampleCustomer(r, seq)
			if seq%max(1, n/200) == 0 {
				sample = append(sample, fields)
			}
			d, err := crm.CreateCustomer(noViews{}, ids.New(time.Now()), fields)
			if err != nil {
				b.Fatal(err)
			}
			body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, &replicationv1.Event{Origin: "sh-import", Seq: uint64(seq + 1), Hlc: uint64(clock.Now()),
				Kind: d.Kind, Entity: d.Entity, Actor: "bench", Body: body})
		}
		if _, err := client.Push(ctx, connect.NewRequest(&replicationv1.PushRequest{Events: evs, LastSeq: uint64(seq), Protocol: replication.Protocol})); err != nil {
			b.Fatal(err)
		}
	}
	pushed := time.Since(start)
	h := c.hubs[0]
	head := h.Head()
	// Projected, and the company views (what a snapshot is made of) too,
	// their indexes included: a hub that has been running has indexed
	// what it holds; a snapshot taken before would carry index markers,
	// and the node would index the customers itself.
	if err := poll(ctx, time.Hour, func() bool { return h.Projected() >= head && h.CompanyPosition() >= head }); err != nil {
		b.Fatal(err)
	}
	projected := time.Since(start)
	if err := poll(ctx, time.Hour, func() bool { ok, err := h.CompanyIndexed(); return err == nil && ok }); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d customers pushed in %v; projected, company views included, %v after the first push; their indexes %v after it",
		n, pushed.Round(time.Millisecond), projected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// The snapshot alone, streamed and thrown away.
	start = time.Now()
	stream, err := replicationv1connect.NewReplicationServiceClient(hc, c.urls()[0], rpc.WithBearer(toks["sh-import"]),
		rpc.ZstdClient(), connect.WithReadMaxBytes(64<<20)).Snapshot(ctx, connect.NewRequest(&replicationv1.SnapshotRequest{Protocol: replication.Protocol, Reads: replication.SnapshotReads}))
	if err != nil {
		b.Fatal(err)
	}
	var pairs, size int
	byPrefix := map[string][2]int{}
	for stream.Receive() {
		m := stream.Msg()
		pairs += len(m.GetKeys())
		size += proto.Size(m)
		if *snapshotPrefixes {
			for i, k := range m.GetKeys() {
				// The area and the view's name: "v\x00crm\x00name".
				parts := strings.SplitN(string(k), "\x00", 4)
				p := strings.Join(parts[:min(3, len(parts))], "/")
				x := byPrefix[p]
				x[0]++
				x[1] += len(k) + len(m.GetValues()[i])
				byPrefix[p] = x
			}
		}
	}
	if len(byPrefix) > 0 {
		// One line per prefix, largest first, in one Logf (a benchmark's
		// log keeps only its first lines).
		var tally strings.Builder
		for _, p := range slices.SortedFunc(maps.Keys(byPrefix), func(a, c string) int { return byPrefix[c][1] - byPrefix[a][1] }) {
			fmt.Fprintf(&tally, "\n  %q: %d pairs, %d bytes, %d bytes per customer", p, byPrefix[p][0], byPrefix[p][1], byPrefix[p][1]/n)
		}
		b.Logf("snapshot by key prefix:%s", tally.String())
	}
	if err := stream.Err(); err != nil {
		b.Fatal(err)
	}
	stream.Close()
	streamed := time.Since(start)
	b.Logf("snapshot: %d pairs, %.0f MiB on the wire (%.0f MiB per million customers), streamed in %v",
		pairs, float64(size)/(1<<20), float64(size)/(1<<20)/float64(n)*1e6, streamed.Round(time.Millisecond))
	b.ReportMetric(float64(size)/(1<<20)/float64(n)*1e6, "snapshot-MiB/1M-customers")

	// serve starts a fresh node and returns how long it took to serve
	// with type-ahead working and all the customers in its views.
	serve := func(id string, snapshotAbove uint64) time.Duration {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		rssBefore := procStatus("VmRSS")
		if *serveProfile != "" && id == "br-new" {
			f, err := os.Create(*serveProfile)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			defer pprof.StopCPUProfile() // stopped once it serves, or on a failure
		}
		start := time.Now()
		nd, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: c.urls(), Token: toks[id], AdminPassword: "bench-password", SnapshotAbove: snapshotAbove, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}})
		if err != nil {
			b.Fatal(err)
		}
		defer nd.Close()
		q := []rune(sample[len(sample)/2]["display_name"])
		err = poll(ctx, 2*time.Hour, func() bool {
			if nd.Store().RebuildReason() != "" || nd.Store().Views().AppliedCount() < uint64(n) {
				return false
			}
			found := 0
			_ = nd.Store().View(func(views replication.Tx) error {
				hits, err := crm.Suggest(views, string(q[2:4]), 10, nil)
				found = len(hits)
				return err
			})
			return found > 0
		})
		took := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StopCPUProfile() // the bootstrap alone (a no-op without -serve-profile)
		// A screen pop works as it serves, its lists are built behind.
		pop := sample[len(sample)/3]
		err = nd.Store().View(func(views replication.Tx) error {
			found, err := crm.LookupByPhone(views, pop["mobile"])
			if err == nil && len(found) == 0 {
				err = fmt.Errorf("no customer found by the phone number %s", pop["mobile"])
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := poll(ctx, 2*time.Hour, nd.Store().IndexCaughtUp); err != nil {
			b.Fatal(err)
		}
		indexed := time.Since(start)
		var listed int
		err = nd.Store().View(func(views replication.Tx) error {
			total, err := crm.CountCustomers(views, "", "")
			listed = total
			return err
		})
		if err != nil || listed != n {
			b.Fatalf("%s lists %d customers once indexed (%v), want %d", id, listed, err, n)
		}
		b.Logf("%s: every index built, lists included, %v after the start", id, indexed.Round(time.Millisecond))
		metric := "s-to-lists"
		if id != "br-new" {
			metric += "-by-replay"
		}
		b.ReportMetric(indexed.Seconds(), metric)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.Logf("%s: fresh node serving with type-ahead after %v (views hold %d events); heap %d MiB more, process RSS %s → %s, peak %s (hub in the same process)",
			id, took.Round(time.Millisecond), nd.Store().Views().AppliedCount(), (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>20, rssBefore, procStatus("VmRSS"), procStatus("VmHWM"))
		return took
	}
	b.ResetTimer()
	for range b.N {
		took := serve("br-new", 1)
		b.ReportMetric(took.Seconds(), "s-to-serve")
		if *bootstrapReplay {
			replay := serve("br-replay", 1<<62)
			b.ReportMetric(replay.Seconds(), "s-to-serve-by-replay")
		}
	}
}
