package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"branchline/bench"
)

const benchSummary = `Measures replication on this machine with the real parts, on 127.0.0.1 only:

  1. hub commit throughput: a 3-member hub (Raft over TCP, fsynced log, Pebble)
     in this process; --pushers nodes push --batch events per Push to the leader
  2. reconnect and catch-up: a node queues --catchup-events customer events
     offline (creates and edits) and reconnects; time until the hub has
     acknowledged them and until its views show them; then a fresh node takes
     the hub's whole log: time until it has applied and indexed everything
  3. node durable write: Exec of a customer create on a Badger node store,
     one writer, then --writers at once (group commit)
  4. etcd: the same write load on a 3-member etcd cluster through its JSON
     gateway, one put per request and --batch puts per txn (skipped when etcd
     is not installed and cannot be)

Prints a table with each target met or missed. A full run takes a few
minutes; --quick about one. Stores and processes are removed at the end.

The other benchmarks, each with its own --help:
  bench dispatch   pickup dispatch latency: booking → courier page and phone
  bench stock      warehouse moves applied/recorded per second at a node and
                   stock query latency with 100,000 products × 10 bins
  bench sip        the SIP switch under overload, with Kamailio as the yardstick`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "dispatch" {
		return runBenchDispatch(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "stock" {
		return runBenchStock(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sip" {
		return runBenchSIP(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("bench sync [--quick] [flags]", benchSummary, stderr)
	var c bench.Config
	fs.BoolVar(&c.Quick, "quick", false, "short run, about a minute (smaller defaults below)")
	fs.IntVar(&c.HubMembers, "hub-members", 0, "hub members: 1, 3 or 5 (default 3)")
	hubCache := &sizeFlag{}
	fs.Var(hubCache, "hub-cache", "each hub member's block cache, e.g. 128MiB (default: the hub's, 1GiB)")
	fs.DurationVar(&c.RaftTimeout, "raft-timeout", 0, "each hub member's Raft timeout (default: the hub's, 3s)")
	fs.IntVar(&c.Pushers, "pushers", 0, "nodes pushing at once, also etcd's client count (default 8)")
	fs.IntVar(&c.Batch, "batch", 0, "events per Push, and puts per etcd txn (default 500)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "pushing before the measured window (default 3s; quick 1s)")
	fs.DurationVar(&c.Duration, "duration", 0, "measured push window (default 20s; quick 5s)")
	fs.BoolVar(&c.LivePull, "pull", false, "every pushing node also pulls live, and the report gives proposal-to-arrival latency")
	fs.Float64Var(&c.BranchShare, "branch-share", 0, "share (0 to 1) of pushed events that are the pushing branch's own call records, which no other node pulls (default 0: all customers)")
	fs.IntVar(&c.CatchupEvents, "catchup-events", 0, "customer events the reconnecting node queued offline (default 1000000; quick 50000)")
	fs.IntVar(&c.Writes, "writes", 0, "sequential node writes (default 2000; quick 500)")
	fs.IntVar(&c.Writers, "writers", 0, "concurrent node writers (default 16)")
	fs.DurationVar(&c.WriteDuration, "write-duration", 0, "how long the concurrent writers run (default 5s; quick 2s)")
	fs.StringVar(&c.Etcd, "etcd", "etcd", `etcd binary, on PATH or a path; "off" skips the comparison`)
	fs.BoolVar(&c.EtcdInstall, "etcd-install", true, "when etcd is missing, try apt-get install -y etcd-server once")
	fs.DurationVar(&c.EtcdDuration, "etcd-duration", 0, "each etcd measurement (default 10s; quick 4s)")
	only := fs.String("only", "", "comma-separated phases to run: push, catchup, write, etcd (default all)")
	fs.StringVar(&c.Dir, "dir", "", "parent of the temporary stores (default the OS temp dir)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to FILE")
	jsonOut := fs.String("json", "", "also write the report as JSON to FILE")
	level := fs.String("log-level", "error", "log level of the hub and nodes: debug, info, warn, error")
	// "sync" may come before the flags or after them.
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	c.HubCache = hubCache.n
	if rest := fs.Args(); sub == "" && len(rest) == 1 {
		sub = rest[0]
	} else if len(rest) > 0 {
		sub = strings.Join(rest, " ")
	}
	if sub != "sync" {
		fs.Usage()
		return usagef("bench: unknown benchmark %q (there are three: bench sync, bench dispatch, bench stock)", sub)
	}
	log, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	c.Only, c.Log, c.Progress = splitList(*only), log, stderr
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	r, err := bench.Run(ctx, c)
	if r != nil {
		r.Print(stdout)
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const dispatchSummary = `Measures pickup dispatch latency on this machine with the real parts, on
127.0.0.1 only: a node with its SIP switch in this process, a courier's
softphone (a SIP user agent that registers and answers MESSAGE) and the
courier's page (signed in to the web UI, reading its SSE stream). Pickups
are booked through the API at --rate per second for --duration; for each,
the time until the page is told and until the phone has the SIP MESSAGE.
Target: p99 of both within 200 ms at 50 bookings/s.`

func runBenchDispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench dispatch [flags]", dispatchSummary, stderr)
	var c bench.DispatchConfig
	fs.IntVar(&c.Rate, "rate", 50, "bookings per second")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long to book")
	fs.StringVar(&c.Dir, "dir", "", "parent of the node's temporary store (default the OS temp dir)")
	level := fs.String("log-level", "error", "log level of the node: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	c.Log, c.Progress = log, stderr
	r, err := bench.RunDispatch(ctx, c)
	if err != nil {
		return fmt.Errorf("bench dispatch: %w", err)
	}
	r.Print(stdout)
	return nil
}

const stockSummary = `Measures the warehouse domain on one Badger node store in this process,
synced on every commit as the node runs it:

  1. load: a warehouse with --bins bins and --products products, each with
     stock in every bin, applied as events of the warehouse's owner node
     drafted by the domain's own commands (product.set, and one receipt per
     product with a line per bin), in large slices; time and size on disk
  2. stock queries: GetStock(warehouse, product) and ProductStock(product)
     for random products from --readers goroutines, each query in its own
     read transaction; every answer is checked against the stock loaded.
     First paced at --query-rate in all (latency counted from when each
     query was due), then flat out (each reader asks again at once, so the
     CPUs are saturated). Target: p99 ≤ 5 ms with 100,000 products × 10 bins
  3. moves applied from the hub: --moves receipts and issues of that
     warehouse, applied as the sync client applies a pull (200 events per
     ApplyRemote, one after another). Target: ≥ 10,000 moves/s
  4. moves recorded through Exec: the node's own warehouse, --writers at once,
     one receipt or issue per command (group commit shares the fsyncs)

Totals are checked after each move phase. The store is removed at the end;
a full run takes a few minutes, --quick well under one.`

func runBenchStock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench stock [--quick] [flags]", stockSummary, stderr)
	var c bench.StockConfig
	fs.BoolVar(&c.Quick, "quick", false, "small run: 10,000 products, 20,000 moves, 3 s of Exec, 5,000 queries of each kind")
	fs.IntVar(&c.Products, "products", 0, "products loaded (default 100000; quick 10000)")
	fs.IntVar(&c.Bins, "bins", 0, "bins of the warehouse, each product stocked in all (default 10)")
	fs.IntVar(&c.Moves, "moves", 0, "moves applied from the hub (default 200000; quick 20000)")
	fs.IntVar(&c.MoveLines, "lines", 0, "lines per move, in different bins (default 1)")
	fs.IntVar(&c.Writers, "writers", 0, "concurrent Exec writers (default 32)")
	fs.DurationVar(&c.ExecDuration, "exec-duration", 0, "how long the writers record moves (default 10s; quick 3s)")
	fs.IntVar(&c.Readers, "readers", 0, "goroutines querying at once (default 4)")
	fs.IntVar(&c.Queries, "queries", 0, "queries of each kind, paced and then flat out (default 20000; quick 5000)")
	fs.Float64Var(&c.QueryRate, "query-rate", 0, "paced queries per second, all readers together (default 2000)")
	fs.StringVar(&c.Dir, "dir", "", "parent of the temporary store (default the OS temp dir)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to FILE")
	fs.StringVar(&c.ProfilePrefix, "phase-profiles", "", "write a CPU profile of each phase to PREFIX-<phase>.prof (not with --cpuprofile)")
	jsonOut := fs.String("json", "", "also write the report as JSON to FILE")
	level := fs.String("log-level", "error", "log level of the store: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		fs.Usage()
		return usagef("bench stock: unexpected arguments %q", fs.Args())
	}
	if *cpuProfile != "" && c.ProfilePrefix != "" {
		return usagef("bench stock: --cpuprofile and --phase-profiles cannot be used together")
	}
	log, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	c.Log, c.Progress = log, stderr
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	r, err := bench.RunStock(ctx, c)
	if err != nil {
		return fmt.Errorf("bench stock: %w", err)
	}
	r.Print(stdout)
	if n := r.Wrong(); n > 0 {
		return fmt.Errorf("bench stock: %d answers or totals differed from the stock loaded and moved", n)
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startCPUProfile writes a CPU profile of the run to path until stop is
// called; with an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

const sipSummary = `Measures the SIP switch under load on this machine with the real parts, on
127.0.0.1 only: sipp calls a queue of --agents agents (one sipp UAS answers
for all of them, 50 ms after ringing; the caller hangs up at once) at each
--rates calls per second for --duration, through the switch on a node's
Badger store (durable call records), then through Kamailio as a stateful
proxy (tm, record-route) to the same UAS with the same scenarios.

For each rate: calls offered, refused with 503 (shed), completed, failed;
the share of admitted calls that completed; sipp's average time from
INVITE to 503; and the CPU (seconds per second) of the target,
the sipp UAC and the sipp UAS, and the target's CPU and (Branchline's)
heap allocations per completed call.`

func runBenchSIP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench sip [flags]", sipSummary, stderr)
	var c bench.SIPConfig
	rates := fs.String("rates", "250,500,750,1000", "comma-separated offered rates, calls per second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long each rate is offered")
	fs.IntVar(&c.Agents, "agents", 200, "agents in the queue")
	fs.Float64Var(&c.MaxCallRate, "max-call-rate", 0, "the switch's admission rate (0: its backlog and calls in setup shed)")
	fs.IntVar(&c.MaxSetup, "max-setup", 0, "the switch's bound on calls in setup (0: its default; negative: none)")
	fs.StringVar(&c.Kamailio, "kamailio", "kamailio", `kamailio binary; "off" skips the comparison`)
	fs.StringVar(&c.Dir, "dir", "", "parent of the temporary stores (default the OS temp dir)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to FILE")
	level := fs.String("log-level", "error", "log level of the switch")
	budget := memoryFlag(fs) // the switch runs in this process, as in a node's
	if err := parse(fs, args); err != nil {
		return err
	}
	applyMemoryBudget(budget.n, os.Getenv, nil)
	for _, r := range splitList(*rates) {
		n, err := strconv.Atoi(r)
		if err != nil || n <= 0 {
			return usagef("bench sip: bad rate %q", r)
		}
		c.Rates = append(c.Rates, n)
	}
	log, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	c.Log, c.Progress = log, stderr
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	runs, err := bench.SIPRunAll(ctx, c)
	fmt.Fprintln(stdout, "| target | offered/s | calls | refused (503) | completed | failed | admitted OK | INVITE→503 avg | 503 < 5 ms | CPU target | CPU ms/call | allocs/call | CPU sipp UAC | CPU sipp UAS |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		fast := "–"
		if r.Refused > 0 {
			fast = fmt.Sprintf("%.1f %%", 100*r.To503Fast)
		}
		allocs := "–"
		if r.AllocsPerCall > 0 {
			allocs = fmt.Sprintf("%.0f", r.AllocsPerCall)
		}
		fmt.Fprintf(stdout, "| %s | %d | %d | %d | %d | %d | %.2f %% | %v | %s | %.2f | %.3f | %s | %.2f | %.2f |\n", r.Target, r.Rate, r.Calls,
			r.Refused, r.Completed, r.Failed, 100*r.AdmittedOK, r.To503.Round(10*time.Microsecond), fast,
			r.CPUTarget, r.CPUPerCall.Seconds()*1000, allocs, r.CPUUAC, r.CPUUAS)
	}
	if err != nil {
		return fmt.Errorf("bench sip: %w", err)
	}
	return nil
}
