package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/warehouse"
)

// StockConfig is the warehouse benchmark's load. Zero fields take the
// defaults given (Quick: the smaller ones).
type StockConfig struct {
	Quick bool

	Products int // products loaded, each with stock in every bin (default 100,000; quick 10,000)
	Bins     int // bins of the warehouse (default 10)

	Moves     int // moves applied from the hub (default 200,000; quick 20,000)
	MoveLines int // lines per move, applied and recorded (default 1)

	Writers      int           // concurrent Exec writers (default 32)
	ExecDuration time.Duration // how long they record moves (default 10 s; quick 3 s)

	Readers   int     // goroutines querying at once (default 4)
	Queries   int     // queries of each kind, paced and flat out (default 20,000; quick 5,000)
	QueryRate float64 // paced queries per second, all readers (default 2,000)

	// ProfilePrefix, when set, has a CPU profile of each phase written to
	// PREFIX-<phase>.prof: load, getstock, productstock, getstock-max,
	// productstock-max, apply (without drafting the moves) and exec. Not
	// with a whole-run profile: one CPU profile runs at a time.
	ProfilePrefix string

	Seed uint64 // of the random product picks (default 1)
	Dir  string // parent of the store (default the OS temp dir)
	Log  *slog.Logger
	// Progress receives a line per phase.
	Progress io.Writer
}

func (c *StockConfig) defaults() {
	def := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	def(&c.Products, 100_000, 10_000)
	def(&c.Bins, 10, 10)
	def(&c.Moves, 200_000, 20_000)
	def(&c.MoveLines, 1, 1)
	def(&c.Writers, 32, 32)
	def(&c.Readers, 4, 4)
	def(&c.Queries, 20_000, 5_000)
	if c.QueryRate <= 0 {
		c.QueryRate = 2000
	}
	if c.ExecDuration <= 0 {
		c.ExecDuration = 10 * time.Second
		if c.Quick {
			c.ExecDuration = 3 * time.Second
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// The issue's targets.
const (
	TargetMoveRate   = 10_000 // moves applied per second at a node
	TargetStockQuery = 5 * time.Millisecond
)

// StockReport is what the warehouse benchmark measured on one Badger node
// store, synced on every commit as the node runs it.
type StockReport struct {
	Config  StockConfig `json:"-"`
	Started time.Time
	Elapsed time.Duration

	Load     stockLoad
	GetStock stockQueries // GetStock(warehouse, product), paced
	Product  stockQueries // ProductStock(product), every warehouse, paced
	// The same queries flat out: every reader asks again at once.
	GetStockMax stockQueries
	ProductMax  stockQueries
	Applied     movesApplied // warehouse.stock.moved pulled from the hub
	Recorded    movesRecorded
}

// stockLoad is how the store was filled.
type stockLoad struct {
	Products   int
	Bins       int
	Counters   int // stock counters (product, bin) made
	Events     int // events applied to load
	Elapsed    time.Duration
	Rate       float64 // events per second
	CPU        cpuUse
	StoreBytes int64 // on disk after the load (allocated blocks)
	// Settle is how long Badger's compactions ran on after the load
	// before the queries started; Tables the LSM's tables then, by level.
	Settle time.Duration
	Tables string
}

// stockQueries are the latencies of one kind of stock query, each in its
// own read transaction (as the API's handlers run them), from Readers
// goroutines at once.
type stockQueries struct {
	Readers int
	Paced   float64 // queries per second asked for; 0: as fast as they go
	// Service is the time from the query's actual start, without the wait
	// for a late reader's timer (the same as Latency flat out).
	Service    summary
	Latency    summary
	Elapsed    time.Duration
	Rate       float64 // queries per second, all readers
	CPU        cpuUse
	Checked    int    // answers compared with the stock loaded
	Wrong      int    // answers that differed
	FirstWrong string `json:",omitempty"`
}

// movesApplied is the rate of applying moves pulled from the hub, in
// slices of pullSlice events per ApplyRemote as the sync client does,
// one slice after another.
type movesApplied struct {
	Moves   int
	Lines   int // per move
	Slice   int // events per ApplyRemote
	Elapsed time.Duration
	Rate    float64 // moves per second
	Latency summary // one ApplyRemote (one transaction, one fsync)
	CPU     cpuUse
	Checked int // products whose total was compared afterwards
	Wrong   int
}

// movesRecorded is the rate of moves recorded through Exec, one receipt or
// issue per command, by Writers at once.
type movesRecorded struct {
	Writers  int
	Moves    int
	Lines    int
	Elapsed  time.Duration
	Rate     float64 // moves per second
	Latency  summary // one Exec, until synced
	PerFsync float64 // events per store transaction (group commit)
	CPU      cpuUse
	Checked  int // products whose total was compared afterwards
	Wrong    int
}

// Met reports whether both targets were met and every answer was right.
func (r *StockReport) Met() bool {
	return r.Applied.Rate >= TargetMoveRate && r.Product.Latency.N > 0 && r.GetStock.Latency.P99 <= TargetStockQuery &&
		r.Product.Latency.P99 <= TargetStockQuery && r.Wrong() == 0
}

// Wrong counts the answers and totals that differed from what was loaded
// and moved: any means the benchmark did not measure real answers.
func (r *StockReport) Wrong() int {
	return r.GetStock.Wrong + r.Product.Wrong + r.GetStockMax.Wrong + r.ProductMax.Wrong + r.Applied.Wrong + r.Recorded.Wrong
}

// Print writes the report as a table.
func (r *StockReport) Print(w io.Writer) {
	l := r.Load
	fmt.Fprintf(w, "\nbranchline bench stock — %s, %s, %d CPUs, %s/%s; one Badger node store, synced commits; run took %s\n",
		r.Started.Format("2006-01-02 15:04"), runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "store: %s products × %d bins = %s stock counters, loaded by applying %s events (product.set, stock.moved receipts of %d lines) in %s (%s), %s on disk\n\n",
		num(float64(l.Products)), l.Bins, num(float64(l.Counters)), num(float64(l.Events)), l.Bins, secs(l.Elapsed), perSec(l.Rate, "events"), mib(l.StoreBytes))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tVALUE\tTARGET\tRESULT")
	a := r.Applied
	fmt.Fprintf(tw, "moves applied from the hub (%s moves of %s, %d per ApplyRemote, one after another)\t%s\t≥ %s\t%s\n",
		num(float64(a.Moves)), lines(a.Lines), a.Slice, perSec(a.Rate, "moves"), perSec(TargetMoveRate, "moves"), verdict(a.Rate >= TargetMoveRate))
	fmt.Fprintf(tw, "  one ApplyRemote of %d (one transaction + fsync) p50 / p99 / max\t%s\t\t\n", a.Slice, ms(a.Latency.P50, a.Latency.P99, a.Latency.Max))
	fmt.Fprintf(tw, "  CPUs busy (of %d)\t%s\t\t\n", runtime.NumCPU(), a.CPU)
	fmt.Fprintf(tw, "  bench CPU per move applied\t%s\t\t\n", perEvent(a.CPU, a.Elapsed, a.Moves))
	fmt.Fprintf(tw, "  product totals checked after / wrong\t%d / %d\t\t%s\n", a.Checked, a.Wrong, okWrong(a.Wrong))
	e := r.Recorded
	fmt.Fprintf(tw, "moves recorded through Exec (%d writers, receipts + issues of %s, %s)\t%s\t\t\n",
		e.Writers, lines(e.Lines), e.Elapsed.Round(100*time.Millisecond), perSec(e.Rate, "moves"))
	fmt.Fprintf(tw, "  one Exec until synced p50 / p99 / max (%s)\t%s\t\t\n", num(float64(e.Moves)), ms(e.Latency.P50, e.Latency.P99, e.Latency.Max))
	fmt.Fprintf(tw, "  moves per transaction and fsync (group commit)\t%.1f\t\t\n", e.PerFsync)
	fmt.Fprintf(tw, "  CPUs busy (of %d)\t%s\t\t\n", runtime.NumCPU(), e.CPU)
	fmt.Fprintf(tw, "  bench CPU per move recorded\t%s\t\t\n", perEvent(e.CPU, e.Elapsed, e.Moves))
	fmt.Fprintf(tw, "  product totals checked after / wrong\t%d / %d\t\t%s\n", e.Checked, e.Wrong, okWrong(e.Wrong))
	for _, q := range []struct {
		what string
		q    stockQueries
	}{{"GetStock(warehouse, product)", r.GetStock}, {"ProductStock(product)", r.Product},
		{"GetStock(warehouse, product)", r.GetStockMax}, {"ProductStock(product)", r.ProductMax}} {
		how, target, result := "flat out", "", ""
		if q.q.Paced > 0 {
			how, target, result = fmt.Sprintf("paced at %s/s", num(q.q.Paced)), "p99 ≤ "+ms(TargetStockQuery), verdict(q.q.Latency.N > 0 && q.q.Latency.P99 <= TargetStockQuery)
		}
		fmt.Fprintf(tw, "%s, %d readers %s, p50 / p99 / max (%s)\t%s\t%s\t%s\n", q.what, q.q.Readers, how, num(float64(q.q.Latency.N)),
			ms(q.q.Latency.P50, q.q.Latency.P99, q.q.Latency.Max), target, result)
		if q.q.Paced == 0 {
			fmt.Fprintf(tw, "  rate, all readers\t%s\t\t\n", perSec(q.q.Rate, "queries"))
		} else {
			fmt.Fprintf(tw, "  (counted from when due; from the query's start: p50 / p99 / max)\t%s\t\t\n", ms(q.q.Service.P50, q.q.Service.P99, q.q.Service.Max))
		}
		fmt.Fprintf(tw, "  CPUs busy (of %d)\t%s\t\t\n", runtime.NumCPU(), q.q.CPU)
		fmt.Fprintf(tw, "  bench CPU per query\t%s\t\t\n", perEvent(q.q.CPU, q.q.Elapsed, q.q.Latency.N))
		fmt.Fprintf(tw, "  answers checked against the stock loaded / wrong\t%d / %d\t\t%s\n", q.q.Checked, q.q.Wrong, okWrong(q.q.Wrong))
		if q.q.FirstWrong != "" {
			fmt.Fprintf(tw, "  first wrong answer\t%s\t\t\n", q.q.FirstWrong)
		}
	}
	fmt.Fprintf(tw, "load: %s events applied in slices, nothing else in the bench running\t%s\t\t\n", num(float64(l.Events)), perSec(l.Rate, "events"))
	fmt.Fprintf(tw, "  CPUs busy (of %d)\t%s\t\t\n", runtime.NumCPU(), l.CPU)
	tw.Flush()
}

func lines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return strconv.Itoa(n) + " lines"
}

func okWrong(n int) string {
	if n == 0 {
		return "ok"
	}
	return "WRONG"
}

func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 0, 64) + " MiB" }

// pullSlice is how many pulled events the node's sync client applies per
// ApplyRemote (node's applyChunk).
const pullSlice = 200

// Names of the benchmark's nodes, warehouses and bins.
const (
	stockNode    = "bench-br" // the store's node: a branch that owns warehouse BR
	stockOwner   = "bench-wa" // the node owning warehouse WA, whose events the store pulls
	stockWH      = "WA"       // the central warehouse loaded with stock
	stockLocalWH = "BR"       // the branch's own warehouse, where Exec records moves
	stockActor   = "bench-clerk"
)

func stockProduct(i int) string { return fmt.Sprintf("P%06d", i) }
func stockBin(j int) string     { return fmt.Sprintf("B%03d", j+1) }

// loadedQty is the quantity loaded of product i in bin j: varied, so that
// a query answering another product's or bin's stock is caught.
func loadedQty(i, j int) int64 { return 100 + int64((i*7+j*13)%900) }

// stockGen makes the events of one origin from domain drafts, as that
// node's store would: consecutive seqs and HLCs.
type stockGen struct {
	origin string
	seq    uint64
	baseMs int64
	ids    *replication.IDs
}

func (g *stockGen) event(d replication.Draft) (*replication.Event, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
	if err != nil {
		return nil, err
	}
	g.seq++
	return &replication.Event{Origin: g.origin, Seq: g.seq, HLC: replication.MakeHLC(g.baseMs+int64(g.seq/1000), uint16(g.seq%1000)),
		Kind: d.Kind, Entity: d.Entity, Actor: stockActor, Body: body}, nil
}

// stockBench is one run: the store and what was loaded into it.
type stockBench struct {
	c     StockConfig
	dir   string
	store *node.Store
	txns  atomic.Int64
	evs   atomic.Int64
	gen   *stockGen
	now   time.Time
	say   func(string, ...any)
	pos   uint64 // hub position of the last applied slice
}

// RunStock loads a node store with Products products in Bins bins of one
// warehouse, then measures stock queries, moves applied from the hub and
// moves recorded through Exec, checking the answers against what was
// loaded and moved.
func RunStock(ctx context.Context, c StockConfig) (*StockReport, error) {
	c.defaults()
	if c.MoveLines > c.Bins {
		return nil, fmt.Errorf("move lines (%d) must not exceed bins (%d)", c.MoveLines, c.Bins)
	}
	dir, err := os.MkdirTemp(c.Dir, "branchline-stock-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b := &stockBench{c: c, dir: dir, now: time.Now()}
	b.say = func(format string, args ...any) { fmt.Fprintf(c.Progress, "bench stock: "+format+"\n", args...) }
	b.gen = &stockGen{origin: stockOwner, baseMs: b.now.Add(-time.Hour).UnixMilli(), ids: replication.NewIDs()}
	b.store, err = node.OpenStore(node.StoreConfig{Dir: dir, ID: stockNode, Registry: kinds.Registry(), Log: c.Log, Observer: node.Observer{
		Committed: func(_ time.Duration, events int) { b.txns.Add(1); b.evs.Add(int64(events)) },
	}})
	if err != nil {
		return nil, err
	}
	defer b.store.Close()

	r := &StockReport{Config: c, Started: time.Now()}
	stop, err := b.profile("load")
	if err != nil {
		return nil, err
	}
	r.Load, err = b.load(ctx)
	stop()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	b.say("loaded %d products × %d bins in %s (%s), %s on disk", c.Products, c.Bins, secs(r.Load.Elapsed), perSec(r.Load.Rate, "events"), mib(r.Load.StoreBytes))
	r.Load.Settle, r.Load.Tables = b.settle(ctx)
	b.say("compactions settled after %s; tables %s", r.Load.Settle.Round(100*time.Millisecond), r.Load.Tables)
	for _, q := range []struct {
		name   string
		all    bool
		rate   float64
		report *stockQueries
	}{
		{"getstock", false, c.QueryRate, &r.GetStock},
		{"productstock", true, c.QueryRate, &r.Product},
		{"getstock-max", false, 0, &r.GetStockMax},
		{"productstock-max", true, 0, &r.ProductMax},
	} {
		if stop, err = b.profile(q.name); err != nil {
			return nil, err
		}
		*q.report, err = b.queries(ctx, q.all, q.rate)
		stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, err)
		}
		b.say("%s: p50 %s p99 %s", q.name, ms(q.report.Latency.P50), ms(q.report.Latency.P99))
	}
	if r.Applied, err = b.applyMoves(ctx); err != nil {
		return nil, fmt.Errorf("apply moves: %w", err)
	}
	b.say("applied %d moves from the hub: %s", r.Applied.Moves, perSec(r.Applied.Rate, "moves"))
	if stop, err = b.profile("exec"); err != nil {
		return nil, err
	}
	r.Recorded, err = b.recordMoves(ctx)
	stop()
	if err != nil {
		return nil, fmt.Errorf("record moves: %w", err)
	}
	b.say("recorded %d moves through Exec: %s", r.Recorded.Moves, perSec(r.Recorded.Rate, "moves"))
	r.Elapsed = time.Since(r.Started)
	return r, nil
}

// profile starts the CPU profile of a phase when ProfilePrefix asks for
// them; the returned stop may be called more than once.
func (b *stockBench) profile(phase string) (func(), error) {
	if b.c.ProfilePrefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(b.c.ProfilePrefix + "-" + phase + ".prof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { pprof.StopCPUProfile(); f.Close() }) }, nil
}

// settle waits (up to 30 s) until Badger has no compaction to do and the
// process is idle, so that the queries measure the store as a node holds
// it, not a store still compacting its bulk load; it returns how long
// that took and the LSM's tables by level.
func (b *stockBench) settle(ctx context.Context) (time.Duration, string) {
	start := time.Now()
	for time.Since(start) < 30*time.Second && ctx.Err() == nil {
		m := markCPU()
		time.Sleep(250 * time.Millisecond)
		busy := m.use().Bench > 0.1
		for _, l := range b.store.DB().Levels() {
			busy = busy || l.Score >= 1
		}
		if !busy {
			break
		}
	}
	var parts []string
	for _, l := range b.store.DB().Levels() {
		if l.NumTables > 0 {
			parts = append(parts, fmt.Sprintf("L%d %d", l.Level, l.NumTables))
		}
	}
	return time.Since(start), strings.Join(parts, ", ")
}

// view drafts with the store's committed views.
func (b *stockBench) view(fn func(views replication.Tx) error) error { return b.store.View(fn) }

// apply applies events as one pulled slice, advancing the hub position.
func (b *stockBench) apply(ctx context.Context, evs []*replication.Event) error {
	if len(evs) == 0 {
		return nil
	}
	b.pos += uint64(len(evs))
	return b.store.ApplyRemote(ctx, evs, b.pos, time.Now().UnixMilli())
}

// load applies the warehouse, its bins, the products and one receipt per
// product filling every bin, all drafted by the domain's commands against
// the store's views and applied as events of the owner node, in large
// slices, drafting the next slice while the last one is applied.
func (b *stockBench) load(ctx context.Context) (stockLoad, error) {
	c := b.c
	m := markCPU()
	start := time.Now()
	res := stockLoad{Products: c.Products, Bins: c.Bins, Counters: c.Products * c.Bins}

	// The warehouse, then its bins (SetBin needs the warehouse). The last
	// bin is for defective stock when there are several.
	var evs []*replication.Event
	if err := b.view(func(v replication.Tx) error {
		d, err := warehouse.SetWarehouse(v, warehouse.Warehouse{ID: stockWH, Name: "中央仓", Owner: stockOwner, Address: "上海市嘉定区"}, nil)
		if err != nil {
			return err
		}
		ev, err := b.gen.event(d)
		evs = append(evs, ev)
		return err
	}); err != nil {
		return res, err
	}
	if err := b.apply(ctx, evs); err != nil {
		return res, err
	}
	res.Events += len(evs)
	evs = nil
	if err := b.view(func(v replication.Tx) error {
		for j := range c.Bins {
			kind := warehouse.BinGood
			if c.Bins > 1 && j == c.Bins-1 {
				kind = warehouse.BinDefective
			}
			d, err := warehouse.SetBin(v, stockWH, warehouse.Bin{ID: stockBin(j), Name: "货位 " + strconv.Itoa(j+1), Kind: kind})
			if err != nil {
				return err
			}
			ev, err := b.gen.event(d)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return nil
	}); err != nil {
		return res, err
	}
	if err := b.apply(ctx, evs); err != nil {
		return res, err
	}
	res.Events += len(evs)

	// Products, then their receipts (RecordReceipt needs the products).
	n, err := b.pipeline(ctx, c.Products, 1000, func(v replication.Tx, i int) (replication.Draft, error) {
		return warehouse.SetProduct(v, warehouse.Product{ID: stockProduct(i), Name: "商品 " + strconv.Itoa(i), Category: "cat" + strconv.Itoa(i%50),
			RetailPrice: int64(100 + i%10000), CostPrice: int64(60 + i%6000), Class: warehouse.ClassSale,
			Barcode: fmt.Sprintf("69%011d", i), Weight: int64(50 + i%2000)}, nil)
	})
	res.Events += n
	if err != nil {
		return res, err
	}
	b.say("%d products applied; receipts next", c.Products)
	per := max(1, 5000/c.Bins) // about 5,000 lines per slice
	n, err = b.pipeline(ctx, c.Products, per, func(v replication.Tx, i int) (replication.Draft, error) {
		lines := make([]warehouse.ReceiptLine, c.Bins)
		for j := range lines {
			lines[j] = warehouse.ReceiptLine{Product: stockProduct(i), Bin: stockBin(j), Qty: loadedQty(i, j)}
		}
		return warehouse.RecordReceipt(v, stockOwner, b.gen.ids.New(b.now), warehouse.Receipt{Warehouse: stockWH, Type: warehouse.ReceiptPurchase,
			Lines: lines, Ref: "PO-" + strconv.Itoa(i)}, b.now)
	})
	res.Events += n
	if err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	res.CPU = m.use()
	res.Rate = rate(res.Events, res.Elapsed)
	res.StoreBytes = diskUsage(b.dir)
	return res, nil
}

// pipeline drafts n events (draft(views, i) for i in 0..n) in slices of
// per against the committed views and applies each slice; one goroutine
// drafts slice k+1 while slice k is applied. Events are numbered in
// draft order, so they are applied in seq order.
func (b *stockBench) pipeline(ctx context.Context, n, per int, draft func(views replication.Tx, i int) (replication.Draft, error)) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan []*replication.Event, 2)
	var draftErr error
	go func() {
		defer close(out)
		for lo := 0; lo < n; lo += per {
			hi := min(n, lo+per)
			evs := make([]*replication.Event, 0, hi-lo)
			err := b.view(func(v replication.Tx) error {
				for i := lo; i < hi; i++ {
					d, err := draft(v, i)
					if err != nil {
						return fmt.Errorf("draft %d: %w", i, err)
					}
					ev, err := b.gen.event(d)
					if err != nil {
						return err
					}
					evs = append(evs, ev)
				}
				return nil
			})
			if err != nil {
				draftErr = err
				return
			}
			select {
			case out <- evs:
			case <-ctx.Done():
				return
			}
		}
	}()
	applied := 0
	for evs := range out {
		if err := b.apply(ctx, evs); err != nil {
			cancel()
			for range out {
			}
			return applied, err
		}
		applied += len(evs)
	}
	return applied, draftErr
}

// diskUsage is the space the files under dir take (allocated blocks, so
// Badger's preallocated, sparse files count what they hold).
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// queries asks for the stock of random products from Readers goroutines,
// each query in its own read transaction (as the API's handlers run
// them), and checks every answer against the quantities loaded. It runs
// before any move, so the stock is exactly what was loaded.
//
// With rate > 0 the queries arrive at rate per second in all, each reader
// on its own schedule, and a query's latency is counted from when it was
// due, so a reader falling behind counts its wait (no coordinated
// omission). With rate 0 every reader asks again as soon as it has its
// answer: the machine is saturated, and the latencies include waiting for
// a CPU — with more readers than CPUs, Go's scheduler time-slices the
// readers every 10 ms.
func (b *stockBench) queries(ctx context.Context, all bool, qrate float64) (stockQueries, error) {
	c := b.c
	res := stockQueries{Readers: c.Readers, Paced: qrate}
	lats := make([]latencies, c.Readers)
	svc := make([]latencies, c.Readers)
	errs := make([]error, c.Readers)
	wrong := make([]string, c.Readers)
	bad := make([]int, c.Readers)
	var next atomic.Int64
	m := markCPU()
	start := time.Now()
	var every time.Duration
	if qrate > 0 {
		every = time.Duration(float64(c.Readers) / qrate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for g := range c.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.Seed, uint64(g)+boolU64(all)<<32+math.Float64bits(qrate)))
			// Readers start spread over one interval.
			due := start.Add(every * time.Duration(g) / time.Duration(c.Readers))
			for next.Add(1) <= int64(c.Queries) && ctx.Err() == nil {
				i := rng.IntN(c.Products)
				p := stockProduct(i)
				var sts []*warehouse.Stock
				if every > 0 {
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				t0 := time.Now()
				err := b.store.View(func(v replication.Tx) error {
					if all {
						var err error
						sts, err = warehouse.ProductStock(v, p)
						return err
					}
					st, err := warehouse.GetStock(v, stockWH, p)
					sts = []*warehouse.Stock{st}
					return err
				})
				now := time.Now()
				if err != nil {
					errs[g] = fmt.Errorf("%s: %w", p, err)
					return
				}
				svc[g].add(now.Sub(t0))
				if every > 0 {
					lats[g].add(now.Sub(due))
					due = due.Add(every)
				} else {
					lats[g].add(now.Sub(t0))
				}
				if why := checkLoaded(i, c.Bins, sts); why != "" {
					bad[g]++
					if wrong[g] == "" {
						wrong[g] = p + ": " + why
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.CPU = m.use()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	got := merge(lats...)
	res.Latency, res.Elapsed, res.Rate, res.Checked = got.summarize(), elapsed, rate(len(got), elapsed), len(got)
	res.Service = merge(svc...).summarize()
	for g := range c.Readers {
		res.Wrong += bad[g]
		if res.FirstWrong == "" {
			res.FirstWrong = wrong[g]
		}
	}
	return res, ctx.Err()
}

func boolU64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// checkLoaded compares the stock answered for product i with what was
// loaded: one warehouse, every bin with its quantity; "" when right.
func checkLoaded(i, bins int, sts []*warehouse.Stock) string {
	if len(sts) != 1 || sts[0] == nil {
		return fmt.Sprintf("%d warehouses answered, want 1", len(sts))
	}
	st := sts[0]
	if st.Warehouse != stockWH || st.Product != stockProduct(i) {
		return fmt.Sprintf("answered %s in %s", st.Product, st.Warehouse)
	}
	if len(st.Lines) != bins {
		return fmt.Sprintf("%d lines, want %d", len(st.Lines), bins)
	}
	var onHand, good int64
	for j := range bins {
		q := loadedQty(i, j)
		onHand += q
		if bins == 1 || j < bins-1 {
			good += q
		}
		l := st.Lines[j]
		if l.Bin != stockBin(j) || l.Qty != q {
			return fmt.Sprintf("line %d is %d in %s, want %d in %s", j, l.Qty, l.Bin, q, stockBin(j))
		}
	}
	if st.OnHand != onHand || st.Good != good || st.Available != good {
		return fmt.Sprintf("on hand %d good %d available %d, want %d %d %d", st.OnHand, st.Good, st.Available, onHand, good, good)
	}
	return ""
}

// moveSpec is one generated move: a receipt (qty > 0) or an issue
// (qty < 0) of a product in MoveLines bins.
type moveSpec struct {
	product int
	bins    []int
	qty     int64
}

// applyMoves drafts Moves receipts and issues of warehouse WA with the
// owner's commands, then applies them as the sync client applies a pull:
// pullSlice events per ApplyRemote, one after another, each a synced
// transaction. Issues take at most 5 units a line from bins holding at
// least 100, so each drafted issue stays valid however many are applied
// before it.
func (b *stockBench) applyMoves(ctx context.Context) (movesApplied, error) {
	c := b.c
	res := movesApplied{Moves: c.Moves, Lines: c.MoveLines, Slice: pullSlice}
	rng := rand.New(rand.NewPCG(c.Seed, 7))
	specs := make([]moveSpec, c.Moves)
	delta := map[int]int64{}
	for k := range specs {
		s := moveSpec{product: rng.IntN(c.Products), bins: rng.Perm(c.Bins)[:c.MoveLines], qty: 1 + rng.Int64N(5)}
		if k%2 == 1 {
			s.qty = -s.qty
		}
		specs[k] = s
		delta[s.product] += s.qty * int64(len(s.bins))
	}
	evs := make([]*replication.Event, 0, c.Moves)
	at := b.now
	err := b.view(func(v replication.Tx) error {
		for _, s := range specs {
			var d replication.Draft
			var err error
			id := b.gen.ids.New(at)
			if s.qty > 0 {
				r := warehouse.Receipt{Warehouse: stockWH, Type: warehouse.ReceiptPurchase}
				for _, j := range s.bins {
					r.Lines = append(r.Lines, warehouse.ReceiptLine{Product: stockProduct(s.product), Bin: stockBin(j), Qty: s.qty})
				}
				d, err = warehouse.RecordReceipt(v, stockOwner, id, r, at)
			} else {
				is := warehouse.Issue{Warehouse: stockWH, Type: warehouse.IssueOrder}
				for _, j := range s.bins {
					is.Lines = append(is.Lines, warehouse.IssueLine{Product: stockProduct(s.product), Bin: stockBin(j), Qty: -s.qty})
				}
				d, err = warehouse.RecordIssue(v, stockOwner, id, is, at)
			}
			if err != nil {
				return err
			}
			ev, err := b.gen.event(d)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("draft: %w", err)
	}
	b.say("%d moves drafted; applying", len(evs))
	stop, err := b.profile("apply")
	if err != nil {
		return res, err
	}
	defer stop()
	applied0 := b.store.Views().AppliedCount()
	var lat latencies
	m := markCPU()
	start := time.Now()
	for i := 0; i < len(evs); i += pullSlice {
		t0 := time.Now()
		if err := b.apply(ctx, evs[i:min(len(evs), i+pullSlice)]); err != nil {
			return res, err
		}
		lat.add(time.Since(t0))
	}
	res.Elapsed = time.Since(start)
	res.CPU = m.use()
	stop()
	res.Rate = rate(len(evs), res.Elapsed)
	res.Latency = lat.summarize()
	if got := b.store.Views().AppliedCount() - applied0; got != uint64(len(evs)) {
		return res, fmt.Errorf("the store applied %d of %d moves", got, len(evs))
	}
	res.Checked, res.Wrong, err = b.checkTotals(stockWH, delta, func(i int) int64 {
		var n int64
		for j := range c.Bins {
			n += loadedQty(i, j)
		}
		return n
	})
	return res, err
}

// checkTotals compares the on-hand total in wh of up to 2,000 of the
// products in delta (in product order) with base(i) + delta[i].
func (b *stockBench) checkTotals(wh string, delta map[int]int64, base func(i int) int64) (checked, wrong int, err error) {
	ps := make([]int, 0, len(delta))
	for i := range delta {
		ps = append(ps, i)
	}
	slices.Sort(ps)
	if len(ps) > 2000 {
		step := len(ps) / 2000
		var pick []int
		for k := 0; k < len(ps) && len(pick) < 2000; k += step {
			pick = append(pick, ps[k])
		}
		ps = pick
	}
	err = b.view(func(v replication.Tx) error {
		for _, i := range ps {
			st, err := warehouse.GetStock(v, wh, stockProduct(i))
			if err != nil {
				return err
			}
			checked++
			if st.OnHand != base(i)+delta[i] {
				wrong++
			}
		}
		return nil
	})
	return checked, wrong, err
}

// recordMoves makes the branch's own warehouse BR (owned by the store's
// node) and has Writers goroutines record moves in it through Exec for
// ExecDuration: each writer receives 10 units of a random product into
// random bins, then issues 3 of them, each move one command acknowledged
// once synced.
func (b *stockBench) recordMoves(ctx context.Context) (movesRecorded, error) {
	c := b.c
	res := movesRecorded{Writers: c.Writers, Lines: c.MoveLines}
	if _, err := b.store.Exec(ctx, stockActor, func(v replication.Tx) ([]replication.Draft, error) {
		d, err := warehouse.SetWarehouse(v, warehouse.Warehouse{ID: stockLocalWH, Name: "门店仓", Owner: stockNode}, nil)
		return []replication.Draft{d}, err
	}); err != nil {
		return res, err
	}
	if _, err := b.store.Exec(ctx, stockActor, func(v replication.Tx) ([]replication.Draft, error) {
		var ds []replication.Draft
		for j := range c.Bins {
			d, err := warehouse.SetBin(v, stockLocalWH, warehouse.Bin{ID: stockBin(j), Name: "货位 " + strconv.Itoa(j+1)})
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		return ds, nil
	}); err != nil {
		return res, err
	}
	ids := replication.NewIDs()
	lats := make([]latencies, c.Writers)
	deltas := make([]map[int]int64, c.Writers)
	errs := make([]error, c.Writers)
	txns0, evs0 := b.txns.Load(), b.evs.Load()
	m := markCPU()
	start := time.Now()
	end := start.Add(c.ExecDuration)
	var wg sync.WaitGroup
	for g := range c.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.Seed, 1000+uint64(g)))
			deltas[g] = map[int]int64{}
			exec := func(cmd replication.Command) error {
				t0 := time.Now()
				evs, err := b.store.Exec(ctx, stockActor, cmd)
				if err != nil {
					return err
				}
				lats[g].add(time.Since(t0))
				if len(evs) != 1 || evs[0].Kind != warehouse.KindStockMoved {
					return fmt.Errorf("a move made %d events", len(evs))
				}
				return nil
			}
			for time.Now().Before(end) && ctx.Err() == nil {
				i := rng.IntN(c.Products)
				bins := rng.Perm(c.Bins)[:c.MoveLines]
				r := warehouse.Receipt{Warehouse: stockLocalWH, Type: warehouse.ReceiptPurchase}
				is := warehouse.Issue{Warehouse: stockLocalWH, Type: warehouse.IssueOrder}
				for _, j := range bins {
					r.Lines = append(r.Lines, warehouse.ReceiptLine{Product: stockProduct(i), Bin: stockBin(j), Qty: 10})
					is.Lines = append(is.Lines, warehouse.IssueLine{Product: stockProduct(i), Bin: stockBin(j), Qty: 3})
				}
				rid := ids.New(time.Now())
				if errs[g] = exec(func(v replication.Tx) ([]replication.Draft, error) {
					d, err := warehouse.RecordReceipt(v, stockNode, rid, r, time.Now())
					return []replication.Draft{d}, err
				}); errs[g] != nil {
					return
				}
				deltas[g][i] += 10 * int64(len(bins))
				iid := ids.New(time.Now())
				if errs[g] = exec(func(v replication.Tx) ([]replication.Draft, error) {
					d, err := warehouse.RecordIssue(v, stockNode, iid, is, time.Now())
					return []replication.Draft{d}, err
				}); errs[g] != nil {
					return
				}
				deltas[g][i] -= 3 * int64(len(bins))
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.CPU = m.use()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	all := merge(lats...)
	res.Moves, res.Latency, res.Rate = len(all), all.summarize(), rate(len(all), res.Elapsed)
	if n := b.txns.Load() - txns0; n > 0 {
		res.PerFsync = float64(b.evs.Load()-evs0) / float64(n)
	}
	delta := map[int]int64{}
	for _, d := range deltas {
		for i, q := range d {
			delta[i] += q
		}
	}
	var err error
	res.Checked, res.Wrong, err = b.checkTotals(stockLocalWH, delta, func(int) int64 { return 0 })
	return res, err
}
