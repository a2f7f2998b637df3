package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"branchline/bench"
)

const benchSummary = `Measures replication on this machine with the real parts, on 127.0.0.1 only:

  1. hub commit throughput: a 3-member hub (Raft over TCP, fsynced log, Pebble)
     in this process; --pushers nodes push --batch events per Push to the leader
  2. catch-up: the hub is loaded to --catchup-events events, then a fresh node
     pulls them all from every member; time until its cursor reaches the head
  3. node durable write: Exec of a customer create on a Badger node store,
     one writer, then --writers at once (group commit)
  4. etcd: the same write load on a 3-member etcd cluster through its JSON
     gateway, one put per request and --batch puts per txn (skipped when etcd
     is not installed and cannot be)

Prints a table with each target met or missed. A full run takes a few
minutes; --quick about one. Stores and processes are removed at the end.

The other benchmarks, each with its own --help:
  bench dispatch   pickup dispatch latency: booking → courier page and phone`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "dispatch" {
		return runBenchDispatch(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("bench sync [--quick] [flags]", benchSummary, stderr)
	var c bench.Config
	fs.BoolVar(&c.Quick, "quick", false, "short run, about a minute (smaller defaults below)")
	fs.IntVar(&c.HubMembers, "hub-members", 0, "hub members: 1, 3 or 5 (default 3)")
	fs.IntVar(&c.Pushers, "pushers", 0, "nodes pushing at once, also etcd's client count (default 8)")
	fs.IntVar(&c.Batch, "batch", 0, "events per Push, and puts per etcd txn (default 500)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "pushing before the measured window (default 3s; quick 1s)")
	fs.DurationVar(&c.Duration, "duration", 0, "measured push window (default 20s; quick 5s)")
	fs.IntVar(&c.CatchupEvents, "catchup-events", 0, "events in the hub when the fresh node starts (default 1000000; quick 50000)")
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
	if rest := fs.Args(); sub == "" && len(rest) == 1 {
		sub = rest[0]
	} else if len(rest) > 0 {
		sub = strings.Join(rest, " ")
	}
	if sub != "sync" {
		fs.Usage()
		return usagef("bench: unknown benchmark %q (there are two: bench sync, bench dispatch)", sub)
	}
	log, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	c.Only, c.Log, c.Progress = splitList(*only), log, stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
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
