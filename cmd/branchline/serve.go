package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/hub"
	"branchline/node"
	"branchline/wiring"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node --id ID --data DIR [--hub URL,URL… --token TOKEN]",
		"Runs a branch or warehouse node: its API and web UI on --http, its store in --data,\n"+
			"replicating to the hub members in --hub with the token from \"branchline ctl nodes add\".\n"+
			"The node serves at once, whether or not the hub is reachable.", stderr)
	id := fs.String("id", "", "node id, e.g. sh-pudong (lower-case letters, digits, -)")
	data := fs.String("data", "", "data directory (Badger store)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "listen address for the API, web UI and metrics")
	hubs := fs.String("hub", "", "comma-separated URLs of the hub members; empty: stand-alone")
	token := fs.String("token", "", "the node's hub token")
	adminPw := fs.String("admin-password", "", "password of the local admin user, needed on first start")
	metricsToken := fs.String("metrics-token", "", "bearer token for /metrics; empty: loopback callers only")
	sipAddr := fs.String("sip", "", "SIP listen address, UDP and TCP, e.g. 0.0.0.0:5060; empty: no SIP")
	sipHost := fs.String("sip-host", "", "address put in SIP Via and Contact headers (default: the --sip host, or this machine's first IPv4 address)")
	maxOffset, minFree := safetyFlags(fs, "sized from the store's memtables, 320MiB")
	tz := fs.String("time-zone", app.DefaultTimeZone, "business time zone: the one pages, exports, reports and the days of numbers show times in, whatever this computer's zone")
	sipRate := fs.Float64("sip-max-call-rate", 0, "new calls admitted per second; more are refused with 503 (0: no bound, the switch's backlog decides)")
	snapAbove := fs.Uint64("snapshot-above", node.DefaultSnapshotAbove, "length of the hub's log from which a new or lost store starts from a snapshot of the company's data rather than replaying the log (0: only when the hub's log no longer reaches back, see hub --retain-events)")
	sipSetup := fs.Int("sip-max-setup", 0, "calls in setup (up, neither answered nor waiting in a line) past which new calls are refused with 503 (0: 300; negative: no bound)")
	budget := memoryFlag(fs)
	level, format := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *data == "" {
		fs.Usage()
		return usagef("node: --id and --data are required")
	}
	if *snapAbove == 0 {
		*snapAbove = node.NoSnapshotByLength
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "" || *tz == "Local" {
		return usagef("node: --time-zone %q is not a time zone name such as Asia/Shanghai", *tz)
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	applyMemoryBudget(budget.n, os.Getenv, log)
	n, err := wiring.StartNode(wiring.NodeConfig{
		Config: node.Config{
			ID: *id, DataDir: *data, HTTPAddr: *httpAddr, HubURLs: splitList(*hubs), Token: *token,
			AdminPassword: *adminPw, MetricsToken: *metricsToken, Log: log,
			MaxClockOffset: *maxOffset, MinFreeBytes: minFree.n, SnapshotAbove: *snapAbove,
		},
		Location:     loc,
		Telephony:    wiring.TelephonyConfig{SIPAddr: *sipAddr, SIPHost: *sipHost, MaxCallRate: *sipRate, MaxSetup: *sipSetup},
		DefaultRoles: access.DefaultRoles(),
	})
	if err != nil {
		return err
	}
	// Tests and scripts that listen on port 0 read the bound addresses here.
	if sip := n.SIPAddr(); sip != "" {
		fmt.Fprintf(stdout, "node %s serving on %s (sip %s)\n", *id, n.URL(), sip)
	} else {
		fmt.Fprintf(stdout, "node %s serving on %s\n", *id, n.URL())
	}
	<-ctx.Done()
	return n.Close()
}

func runHub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("hub --id ID --data DIR --http ADDR --raft ADDR (--bootstrap | --join URL)",
		"Runs a member of the hub's Raft cluster. The first member starts the cluster with\n"+
			"--bootstrap (and BRANCHLINE_ADMIN_PASSWORD for the cluster admin); each further\n"+
			"member joins with --join set to a running member's URL and the same password.\n"+
			"On SIGTERM a leader hands leadership to another member before it exits.", stderr)
	id := fs.String("id", "", "member id, e.g. hub1")
	data := fs.String("data", "", "data directory (Raft log, snapshots, Pebble state)")
	httpAddr := fs.String("http", "127.0.0.1:7000", "listen address for the API and metrics")
	advertise := fs.String("advertise", "", "URL other members and tools reach --http at (default: http://<listen address>)")
	raftAddr := fs.String("raft", "127.0.0.1:7001", "listen address for Raft traffic between members (must be reachable by them)")
	bootstrap := fs.Bool("bootstrap", false, "start a new cluster with this member")
	join := fs.String("join", "", "URL of a running member to join")
	adminPw := fs.String("admin-password", "", "the cluster admin's password (bootstrap and join)")
	metricsToken := fs.String("metrics-token", "", "bearer token for /metrics; empty: loopback callers only")
	snapThreshold := fs.Uint64("snapshot-threshold", 0, "Raft log entries between snapshots (0: Raft's default, 8192)")
	trailing := fs.Uint64("trailing-logs", 0, "Raft log entries kept after a snapshot (0: Raft's default, 10240)")
	snapInterval := fs.Duration("snapshot-interval", 0, "how often to check whether to snapshot (0: Raft's default, 2m)")
	raftTimeout := fs.Duration("raft-timeout", hub.DefaultRaftTimeout, "how long a follower goes without hearing from the leader before it stands for election; a leader steps down after half of it without a quorum")
	cache := &sizeFlag{n: hub.DefaultCacheBytes}
	fs.Var(cache, "cache", "the state machine's block cache, e.g. 1GiB: filled as blocks are read; a hub of a million customers reads several GiB of state")
	retain := fs.Uint64("retain-events", 0, "retention of the global log: drop company-wide events older than the last this many positions, once every registered node has applied them (0: keep everything; see ctl retention)")
	maxOffset, minFree := safetyFlags(fs, "1GiB")
	level, format := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *data == "" {
		fs.Usage()
		return usagef("hub: --id and --data are required")
	}
	if *bootstrap && *join != "" {
		return usagef("hub: --bootstrap and --join exclude each other")
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	h, err := wiring.StartHub(hub.Config{
		ID: *id, DataDir: *data, HTTPAddr: *httpAddr, RaftAddr: *raftAddr, AdvertiseHTTP: *advertise,
		Bootstrap: *bootstrap, JoinURL: *join, AdminPassword: *adminPw, MetricsToken: *metricsToken,
		SnapshotThreshold: *snapThreshold, TrailingLogs: *trailing, SnapshotInterval: *snapInterval, RaftTimeout: *raftTimeout, Log: log,
		MaxClockOffset: *maxOffset, MinFreeBytes: minFree.n, RetainEvents: *retain, CacheBytes: cache.n,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hub member %s serving on %s (raft %s)\n", *id, h.URL(), h.RaftAddr())
	<-ctx.Done()
	return h.Close()
}
