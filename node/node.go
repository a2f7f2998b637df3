package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/auth"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/replication"
	"branchline/rpc"
	"branchline/version"
)

// Config is what a node needs to start. Every field has a flag and a
// BRANCHLINE_* environment variable in cmd/branchline.
type Config struct {
	ID            string   // node id, the origin of its events
	DataDir       string   // Badger directory
	HTTPAddr      string   // API, web UI, metrics
	HubURLs       []string // every hub member's URL; empty: stand-alone
	Token         string   // the node's hub token (branchline ctl nodes add)
	AdminPassword string   // the local admin's password, needed on first start
	MetricsToken  string   // bearer token for /metrics; empty: loopback only
	// Registry applies the events (required): every kind of this release
	// (kinds.Registry, handed over by package wiring); a test of upgrades
	// passes an older one.
	Registry *replication.Registry
	// Tasks are the decisions the node makes by itself, periodically
	// (kinds.NodeTasks); nil: none.
	Tasks map[string]replication.NodeTask
	// SnapshotAbove is the length of the hub's log from which a new (or
	// lost) store starts from a snapshot of the company views rather than
	// by replaying the log; 0: DefaultSnapshotAbove; NoSnapshotByLength:
	// only when the log no longer reaches back (the hub's retention).
	SnapshotAbove uint64
	// MaxClockOffset bounds how far ahead of this node's wall clock a
	// pulled event's stamp may move its clock (0: the default, see
	// replication.DefaultMaxOffset).
	MaxClockOffset time.Duration
	// MinFreeBytes is the free space on the data volume under which the
	// node refuses writes (0: sized from Badger's settings; <0: never).
	MinFreeBytes int64
	// MemTableSize sizes Badger's memtables (0: 32 MiB); a node on a small
	// volume (a test's) uses smaller ones.
	MemTableSize int64
	// Wall is the node's wall clock (nil: time.Now); tests of a computer
	// whose clock is wrong set it.
	Wall func() time.Time
	Log  *slog.Logger
}

// Node is a running node.
type Node struct {
	cfg      Config
	store    *Store
	syncer   *syncer
	ln       net.Listener
	srv      *http.Server
	metrics  *prometheus.Registry
	log      *slog.Logger
	signer   *auth.Signer // signs the node's API tokens
	sessions *Sessions
	closers  []func() error // run by Close between the HTTP server and the store

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Open opens the store and, with a hub, takes back a lost store's data
// (restoreLost); nothing runs until Serve. The node knows no domain: what
// it serves, and what it does before serving (a new branch's default
// roles), is its caller's (package wiring).
func Open(cfg Config) (*Node, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	log := cfg.Log.With("node", cfg.ID)
	if cfg.DataDir == "" {
		return nil, errors.New("node: data directory is required")
	}
	if cfg.Registry == nil {
		return nil, errors.New("node: a registry of event kinds is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	if len(cfg.HubURLs) > 0 && cfg.Token == "" {
		return nil, errors.New("node: a hub URL is set but no token (branchline ctl nodes add " + cfg.ID + ")")
	}
	reg := rpc.NewRegistry()
	applied := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "branchline_events_applied_total", Help: "Events applied to the node's views (own and pulled).",
	})
	commitSec := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "branchline_commit_seconds", Help: "Latency of a durable (fsynced) store commit.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
	})
	reg.MustRegister(applied, commitSec)
	parked := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "branchline_events_parked_total", Help: "Pulled events parked because this release does not know their kind (or their origin waits behind such an event).",
	})
	ignored := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "branchline_clock_stamps_ignored_total", Help: "Pulled events stamped beyond the max clock offset, which the node's clock did not follow.",
	})
	reg.MustRegister(parked, ignored)
	store, err := OpenStore(StoreConfig{
		Dir: cfg.DataDir, ID: cfg.ID, Registry: cfg.Registry, Log: log,
		MaxClockOffset: cfg.MaxClockOffset, MinFreeBytes: cfg.MinFreeBytes, MemTableSize: cfg.MemTableSize, Wall: cfg.Wall,
		Observer: Observer{
			Committed: func(d time.Duration, _ int) { commitSec.Observe(d.Seconds()) },
			Applied:   func(n int) { applied.Add(float64(n)) },
			Parked:    func(n int) { parked.Add(float64(n)) },
			ClockIgnored: func(ev *replication.Event) {
				ignored.Inc()
				log.Warn("pulled event stamped beyond the max clock offset: applied, but the clock does not follow it",
					"event", ev.String(), "stamp", ev.HLC.String())
			},
		},
	})
	if err != nil {
		return nil, err
	}
	signer, err := initAuth(store.DB(), cfg.AdminPassword)
	if err != nil {
		store.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, store: store, metrics: reg, log: log, signer: signer, sessions: newSessions(store.DB(), store.Disk())}
	if len(cfg.HubURLs) > 0 {
		n.syncer = newSyncer(store, cfg.HubURLs, cfg.Token, rpc.NewHTTPClient(), log)
		if cfg.SnapshotAbove > 0 {
			n.syncer.snapshotAbove = cfg.SnapshotAbove
		}
		if err := n.restoreLost(); err != nil {
			store.Close()
			return nil, err
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_outbox_pending", Help: "Own events not yet durable on the hub.",
		}, func() float64 { p := store.Progress(); return float64(p.LastSeq - p.Pushed) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_replication_lag_seconds", Help: "Time since the node last held everything the hub committed.",
		}, func() float64 { return n.lag(time.Now()).Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_events_parked", Help: "Events kept unapplied until this node is upgraded.",
		}, func() float64 { return float64(store.Views().ParkedCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_disk_free_bytes", Help: "Free space on the data volume, as last checked.",
		}, func() float64 { return float64(store.Disk().Free()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_disk_full", Help: "1 while free space is under the reserve and writes are refused.",
		}, func() float64 { return b2f(store.Disk().Low()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_clock_offset_seconds", Help: "This node's wall clock minus the hub's, as the last Pull measured it.",
		}, func() float64 { return n.ClockOffset().Seconds() }),
	)

	return n, nil
}

// Serve listens on the configured address and serves h there, beside the
// operations endpoints (/healthz, /readyz, /metrics), and starts the
// node's loops: syncing with the hub, its tasks, value-log GC. The node
// serves at once, whether or not the hub is reachable. On error nothing
// runs, and the caller closes what it opened (the store: Node.Store).
func (n *Node) Serve(h http.Handler) error {
	cfg, log := n.cfg, n.log
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	n.ln = ln
	mux := http.NewServeMux()
	rpc.MountOps(mux, n.metrics, n.ready, cfg.MetricsToken)
	mux.Handle("/", h)
	n.srv = rpc.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.taskLoop(ctx) }()
	go func() {
		defer n.wg.Done()
		if err := n.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	go func() { defer n.wg.Done(); n.gcLoop(ctx) }()
	if n.syncer != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.syncer.run(ctx) }()
	}
	log.Info("node started", "http", ln.Addr().String(), "hub", strings.Join(cfg.HubURLs, ","), "data", cfg.DataDir)
	return nil
}

// OnClose has Close run fn after the HTTP server stopped and before the
// node's loops and store stop: a SIP switch ends its calls there, while
// their records can still be written.
func (n *Node) OnClose(fn func() error) { n.closers = append(n.closers, fn) }

// OnPulled has the node tell fn of each slice of events it pulled and
// applied (a page's live updates, a branch's dispatch notices). Set it
// before Serve.
func (n *Node) OnPulled(fn func(ctx context.Context, evs []*replication.Event)) {
	if n.syncer != nil {
		n.syncer.pulled = fn
	}
}

// Config is the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// Signer signs and verifies the node's API tokens and its local
// accounts' logins.
func (n *Node) Signer() *auth.Signer { return n.signer }

// Accounts are the node's local accounts (its first administrator).
func (n *Node) Accounts() Accounts { return Accounts{n.store.DB()} }

// Sessions keeps the web sessions this node issued.
func (n *Node) Sessions() *Sessions { return n.sessions }

// Metrics is the node's metrics registry, served at /metrics.
func (n *Node) Metrics() *prometheus.Registry { return n.metrics }

// Log is the node's logger.
func (n *Node) Log() *slog.Logger { return n.log }

// Addr is the address the node's HTTP server listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr() }

// Store is the node's event store.
func (n *Node) Store() *Store { return n.store }

// firstContact bounds how long a node with a new store waits for the hub
// at start, to learn whether it replaces a lost store.
const firstContact = 10 * time.Second

// restoreLost asks the hub, when the store is new, whether it holds
// events of this node: then the store replaced a lost one (a branch PC's
// disk died), and it continues the lost store's seqs and takes its data
// back from the hub before taking changes, so that no seq and no pickup
// number is used twice. A hub out of reach leaves the store new: if it did
// replace a lost one, the hub refuses its events (they reuse seqs) and
// says so, and the operator registers the node again. A new node of a
// company whose log is long bootstraps from a snapshot (Store.Bootstrap).
func (n *Node) restoreLost() error {
	if !n.store.Fresh() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), firstContact)
	defer cancel()
	resp, err := n.syncer.emptyPush(ctx)
	if err != nil {
		n.log.Warn("head office out of reach at the first start of this store: starting as a new node", "err", err)
		return nil
	}
	if durable := resp.GetDurableSeq(); durable > 0 {
		n.log.Warn("the hub holds events of this node, whose store is new: taking its data back from head office", "durable_seq", durable)
		return n.store.Restore(durable)
	}
	if head := resp.GetHead(); n.syncer.snapshotAbove != NoSnapshotByLength && head >= n.syncer.snapshotAbove {
		n.log.Info("a new node: taking the company's data from a snapshot of the hub", "hub_log", head)
		return n.store.Bootstrap(head)
	}
	return nil
}

func (n *Node) lag(now time.Time) time.Duration {
	if n.syncer == nil {
		return 0
	}
	return n.syncer.status(now).Lag
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Status is the node's status (AdminService.Status).
func (n *Node) Status(context.Context) (*adminv1.StatusResponse, error) {
	p, sc := n.store.Progress(), n.store.Scopes()
	v := n.store.Views()
	st := &adminv1.StatusResponse{
		Id:                    n.cfg.ID,
		Role:                  "node",
		AppliedPosition:       p.Cursor,
		OutboxPending:         p.LastSeq - p.Pushed,
		Digest:                n.store.ScopeDigest().String(),
		Scopes:                sc.Held,
		Gaining:               sc.Gaining,
		ScopeDigests:          replication.DigestStrings(v.EventDigests()),
		LastSeq:               p.LastSeq,
		EventsApplied:         v.AppliedCount(),
		EventsParked:          v.ParkedCount(),
		EventsInvalid:         v.InvalidCount(),
		Version:               version.String(),
		ProtocolVersion:       replication.Protocol,
		DiskFull:              n.store.Disk().Low(),
		DiskFreeBytes:         n.store.Disk().Free(),
		ClockOffsetSeconds:    n.ClockOffset().Seconds(),
		MaxClockOffsetSeconds: n.store.Clock().MaxOffset().Seconds(),
		IndexBacklog:          uint64(n.store.IndexBacklog()),
		Invalid:               n.store.InvalidEvents(20),
	}
	if n.syncer != nil {
		n.syncer.mu.Lock()
		rb := n.syncer.rebuilt
		n.syncer.mu.Unlock()
		st.Rebuilding, st.RebuildPosition, st.RebuildHead, st.RebuildReason = rb.Running, rb.Position, rb.Head, rb.Reason
		st.RebuildPhase, st.SnapshotKeys, st.SnapshotTotalKeys, st.SnapshotPosition = rb.Phase, rb.SnapshotPairs, rb.SnapshotTotal, rb.SnapshotPos
		ss := n.syncer.status(time.Now())
		st.LastPush, st.LastPull = ts(ss.LastPush), ts(ss.LastPull)
		st.HubLeader = ss.PushURL
		st.ReplicationLagSeconds = ss.Lag.Seconds()
	}
	return st, nil
}

// ready is /readyz: a node whose volume is full serves reads but is not
// ready for work.
func (n *Node) ready() error {
	return n.store.Disk().Check()
}

// ClockOffset is this node's wall clock minus the hub's, as last measured.
func (n *Node) ClockOffset() time.Duration {
	if n.syncer == nil {
		return 0
	}
	return n.syncer.clockOffset()
}

// Rebuild is the progress of a rebuild of the node's views from the hub
// (a new node's bootstrap, a lost store's restore, a retention's), and
// whether the views served are empty meanwhile.
func (n *Node) Rebuild() (p RebuildProgress, empty bool) {
	if n.syncer == nil {
		return RebuildProgress{}, false
	}
	n.syncer.mu.Lock()
	p = n.syncer.rebuilt
	n.syncer.mu.Unlock()
	return p, n.store.Progress().Cursor == 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// gcLoop reclaims Badger value-log space, which Badger does not do by itself.
func (n *Node) gcLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Garbage collection writes: not while the volume is full.
			for n.store.Disk().Check() == nil && n.store.DB().RunValueLogGC(0.5) == nil {
			}
		}
	}
}

// Close stops serving, stops syncing, finishes the writes already accepted
// and closes the store.
func (n *Node) Close() error {
	var err error
	n.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if n.srv == nil { // opened, never served
			err = n.store.Close()
			return
		}
		if e := n.srv.Shutdown(ctx); e != nil {
			n.srv.Close()
		}
		// Calls end and their records are written while the store is open.
		for _, c := range n.closers {
			if e := c(); e != nil {
				n.log.Error("close", "err", e)
			}
		}
		n.cancel()
		n.wg.Wait()
		err = n.store.Close()
		n.log.Info("node stopped")
	})
	return err
}
