package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"branchline/kinds"
)

// Phases are the measurements Run can make, in the order it makes them.
var Phases = []string{"push", "catchup", "write", "etcd"}

// Config says what Run measures and how long. Zero values take the
// defaults of a full run, or of a quick one when Quick is set.
type Config struct {
	Quick bool

	// HubMembers is the number of hub members (3 by default; 1 shows what
	// one member can do without replicating).
	HubMembers int
	// HubCache is each member's Pebble block cache in bytes (0: the hub's
	// default, hub.DefaultCacheBytes).
	HubCache int64
	// RaftTimeout is the members' Raft timeout (0: the hub's default,
	// hub.DefaultRaftTimeout).
	RaftTimeout time.Duration

	// Hub commit throughput: Pushers nodes push Batch events per Push,
	// for Warmup (not counted) and then Duration.
	Pushers  int
	Batch    int
	Warmup   time.Duration
	Duration time.Duration
	// LivePull makes every pusher also keep a live Pull of its scopes
	// open, as a branch in steady work does; BranchShare (0 to 1) of the
	// events pushed are then call records of the pusher's own branch,
	// which the hub sends no other node, the rest company-wide customers.
	LivePull    bool
	BranchShare float64

	// Reconnect and catch-up: a node queues CatchupEvents customer events
	// offline and reconnects; then a fresh node takes the hub's whole log.
	CatchupEvents int

	// Node durable writes: Writes sequential creates, then Writers
	// concurrent writers for WriteDuration.
	Writes        int
	Writers       int
	WriteDuration time.Duration

	// etcd comparison: Etcd is the binary ("etcd" on PATH by default; "off"
	// skips it); EtcdInstall tries apt-get install etcd-server once when it
	// is missing. Each of its two measurements runs EtcdDuration.
	Etcd         string
	EtcdInstall  bool
	EtcdDuration time.Duration

	// Only, when not empty, restricts the run to these of Phases.
	Only []string
	// Dir is where the temporary stores go (default: the OS's temp dir).
	Dir string
	// Log receives the hub's and nodes' logs; Progress, a line per step.
	Log      *slog.Logger
	Progress io.Writer
}

// full and quick are the defaults of the two kinds of run.
var (
	full = Config{
		HubMembers: 3, Pushers: 8, Batch: 500, Warmup: 3 * time.Second, Duration: 20 * time.Second,
		CatchupEvents: 1_000_000,
		Writes:        2000, Writers: 16, WriteDuration: 5 * time.Second,
		Etcd: "etcd", EtcdDuration: 10 * time.Second,
	}
	quick = Config{
		HubMembers: 3, Pushers: 8, Batch: 500, Warmup: time.Second, Duration: 5 * time.Second,
		CatchupEvents: 50_000,
		Writes:        500, Writers: 16, WriteDuration: 2 * time.Second,
		Etcd: "etcd", EtcdDuration: 4 * time.Second,
	}
)

// withDefaults fills the zero fields of c.
func (c Config) withDefaults() Config {
	d := full
	if c.Quick {
		d = quick
	}
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt(&c.HubMembers, d.HubMembers)
	setInt(&c.Pushers, d.Pushers)
	setInt(&c.Batch, d.Batch)
	setDur(&c.Warmup, d.Warmup)
	setDur(&c.Duration, d.Duration)
	setInt(&c.CatchupEvents, d.CatchupEvents)
	setInt(&c.Writes, d.Writes)
	setInt(&c.Writers, d.Writers)
	setDur(&c.WriteDuration, d.WriteDuration)
	setDur(&c.EtcdDuration, d.EtcdDuration)
	if c.Etcd == "" {
		c.Etcd = d.Etcd
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

func (c Config) runs(phase string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, phase)
}

// Targets are what Branchline promises on a branch PC or hub server.
const (
	TargetPushRate      = 50_000.0              // events/s committed by the hub
	TargetCatchUpPer1M  = 60 * time.Second      // a fresh node applying 1M events; the hub projecting them
	TargetAckPer1M      = 30 * time.Second      // the hub acknowledging 1M events of a reconnecting node
	TargetWriteP99      = 5 * time.Millisecond  // one writer
	TargetWriteP99Many  = 20 * time.Millisecond // sixteen writers
	TargetArrivalP99    = time.Second           // commit to arrival at a live-pulling node
	targetCatchUpEvents = 1_000_000
)

// Run makes the measurements c asks for and returns the report. It
// removes every store and process it made, also when it fails.
func Run(ctx context.Context, c Config) (*Report, error) {
	c = c.withDefaults()
	for _, p := range c.Only {
		if !slices.Contains(Phases, p) {
			return nil, fmt.Errorf("unknown phase %q (want %s)", p, strings.Join(Phases, ", "))
		}
	}
	if c.HubMembers != 1 && c.HubMembers != 3 && c.HubMembers != 5 {
		return nil, fmt.Errorf("a hub has 1, 3 or 5 members, not %d", c.HubMembers)
	}
	if c.BranchShare < 0 || c.BranchShare > 1 {
		return nil, fmt.Errorf("branch share %v: want 0 to 1", c.BranchShare)
	}
	if c.Batch > 2000 {
		return nil, fmt.Errorf("batch of %d events: the hub takes at most 2000", c.Batch)
	}
	dir, err := os.MkdirTemp(c.Dir, "branchline-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bodies, err := customerBodies(bodyPool)
	if err != nil {
		return nil, err
	}
	_, evSize, err := sampleEvent(bodies, kinds.Registry())
	if err != nil {
		return nil, err
	}
	r := &Report{Config: c, EventBytes: evSize, BodyBytes: len(bodies[0]), Started: time.Now()}
	say := func(format string, args ...any) {
		fmt.Fprintf(c.Progress, "bench: %5.1fs  "+format+"\n", append([]any{time.Since(r.Started).Seconds()}, args...)...)
	}

	if c.runs("push") || c.runs("catchup") {
		if err := runHub(ctx, c, dir, bodies, r, say); err != nil {
			return r, err
		}
	}
	if c.runs("write") {
		say("node store: %d sequential creates, then %d writers for %s", c.Writes, c.Writers, c.WriteDuration)
		w, err := measureWrites(ctx, filepath.Join(dir, "writer"), c.Writes, c.Writers, c.WriteDuration, c.Log)
		if err != nil {
			return r, fmt.Errorf("node writes: %w", err)
		}
		r.Writes = &w
	}
	if c.runs("etcd") && c.Etcd != "off" {
		if err := runEtcd(ctx, c, filepath.Join(dir, "etcd"), evSize, r, say); err != nil {
			if ctx.Err() != nil {
				return r, err
			}
			r.EtcdSkipped = err.Error()
			say("etcd: %v: skipped", err)
		}
	} else if c.runs("etcd") {
		r.EtcdSkipped = "turned off"
	}
	r.Elapsed = time.Since(r.Started)
	return r, nil
}

// runHub measures commit throughput, then loads the hub and measures a
// node's catch-up.
func runHub(ctx context.Context, c Config, dir string, bodies [][]byte, r *Report, say func(string, ...any)) error {
	say("starting a %d-member hub in %s", c.HubMembers, dir)
	cl, err := startCluster(ctx, filepath.Join(dir, "hub"), c.HubMembers, c.HubCache, c.RaftTimeout, c.Log)
	if err != nil {
		return err
	}
	defer cl.close()
	ids := make([]string, c.Pushers)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%02d", i+1)
	}
	tokens, err := cl.addNodes(ctx, append(slices.Clone(ids), "bench-offline", "bench-catchup"))
	if err != nil {
		return err
	}
	leader := cl.leader()
	if leader == nil {
		return fmt.Errorf("the hub lost its leader")
	}
	wctx, stopWatch := context.WithCancel(ctx)
	changes := cl.watchLeader(wctx)
	defer func() { stopWatch(); r.LeaderChanges = <-changes }()
	var calls [][]byte
	if c.BranchShare > 0 {
		if calls, err = callBodies(bodyPool); err != nil {
			return err
		}
	}
	ps := make([]*pusher, len(ids))
	for i, id := range ids {
		ps[i] = newPusher(id, tokens[id], leader.URL(), bodies)
		ps[i].src.withCalls(calls, c.BranchShare)
		defer ps[i].close()
	}
	if c.runs("push") {
		say("hub commit: %d nodes pushing %d-event batches to the leader (%s), %s warm-up + %s", c.Pushers, c.Batch, leader.ID(), c.Warmup, c.Duration)
		var head func() uint64
		if c.LivePull {
			say("  each node also pulls live; %.0f %% of the events are its branch's call records", 100*c.BranchShare)
			head = cl.head
		}
		t, err := measurePush(ctx, ps, c.Batch, c.Warmup, c.Duration, head)
		if err != nil {
			return fmt.Errorf("hub commit: %w", err)
		}
		r.Push = &t
	}
	if !c.runs("catchup") {
		return nil
	}
	rc, err := measureReconnect(ctx, cl, c.CatchupEvents, dir, tokens, c.Log, say)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// A node that cannot catch up is a result, not a reason to skip
		// the rest.
		r.CatchUpErr = err.Error()
		say("reconnect and catch-up failed: %v", err)
	} else {
		r.Reconnect = &rc
	}
	say("stopping the hub")
	return nil
}

// runEtcd measures etcd with the hub's concurrency, one put per request
// and then a batch per transaction.
func runEtcd(ctx context.Context, c Config, dir string, valueSize int, r *Report, say func(string, ...any)) error {
	bin, err := findEtcd(c.Etcd, c.EtcdInstall, c.Progress)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	say("starting a 3-member etcd cluster (%s)", bin)
	e, err := startEtcd(ctx, bin, dir, c.Batch)
	if err != nil {
		return err
	}
	defer e.close()
	url, err := e.leader(ctx)
	if err != nil {
		return err
	}
	res := &etcdResult{Version: etcdVersion(bin), ValueBytes: valueSize}
	say("etcd: %d clients, one %d-byte put per request, %s", c.Pushers, valueSize, c.EtcdDuration)
	m := markCPU(e.pids()...)
	if res.PutRate, res.PutLatency, err = e.measure(ctx, url, c.Pushers, 1, valueSize, c.EtcdDuration); err != nil {
		return err
	}
	res.PutCPU = m.use(e.pids()...)
	say("etcd: %d clients, %d puts per txn, %s", c.Pushers, c.Batch, c.EtcdDuration)
	m = markCPU(e.pids()...)
	if res.TxnRate, res.TxnLatency, err = e.measure(ctx, url, c.Pushers, c.Batch, valueSize, c.EtcdDuration); err != nil {
		return err
	}
	res.TxnCPU = m.use(e.pids()...)
	r.Etcd = res
	return nil
}
