package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"branchline/auth"
	hubv1 "branchline/gen/branchline/hub/v1"
	"branchline/replication"
	"branchline/rpc"
	"branchline/volume"
)

// Config is what a hub member needs to start. Every field has a flag and a
// BRANCHLINE_* environment variable in cmd/branchline.
type Config struct {
	ID       string // member id, also its Raft server id
	DataDir  string
	HTTPAddr string // API for nodes, admins and other members
	RaftAddr string // Raft transport between members
	// AdvertiseHTTP is the URL other members and ctl reach HTTPAddr at;
	// empty: http:// and the listener's address.
	AdvertiseHTTP string
	// Bootstrap starts a new cluster with this member as its only voter.
	// Ignored when the member already has Raft state.
	Bootstrap bool
	// JoinURL is a running member's URL: a new member asks it to be added.
	// Ignored when the member already has Raft state.
	JoinURL string
	// AdminPassword is the cluster admin's password: set on bootstrap,
	// and presented by joining members.
	AdminPassword string
	MetricsToken  string

	// Raft tuning; zero values take Raft's defaults.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// RaftTimeout is how long a follower goes without hearing from the
	// leader before it stands for election, and a leader without hearing
	// from a quorum before it steps down (after half of it): 0 takes
	// DefaultRaftTimeout.
	RaftTimeout time.Duration

	// Registry applies the events (required): this release's kinds
	// (kinds.Registry, handed over by package wiring); a test of rolling
	// upgrades passes an older one.
	Registry *replication.Registry
	// Tasks are the decisions the hub makes itself (Task): the product's
	// (kinds.HubTasks); nil: none. Every member must run the same set.
	Tasks map[string]Task
	// TaskEvery is how often the leader runs the tasks; default 2 s.
	TaskEvery time.Duration
	// Reactions run on every pushed event as it is committed (Reaction),
	// by name: the product's (kinds.HubReactions); nil: none.
	Reactions map[string]Reaction
	// Decides says which event kinds tasks and reactions read (the state
	// machine keeps their views on the commit path): the product's
	// (kinds.HubDecides); nil: none.
	Decides func(kind string) bool
	// NodeScopes adds to a node's branch the scopes the hub serves it
	// (warehouses it owns, couriers it serves), read from the projection's
	// views: the product's (kinds.NodeScopes); nil: a node's branch only.
	NodeScopes func(views replication.Tx, node string) ([]string, error)
	// RetainEvents is the retention rule of the global log: its
	// company-wide events older than the last RetainEvents positions are
	// dropped once every registered node has applied them (retain.go);
	// 0 keeps everything.
	RetainEvents uint64
	// CacheBytes is the state machine's Pebble block cache (0:
	// DefaultCacheBytes).
	CacheBytes int64
	// SnapshotChunkBytes bounds a chunk of a company snapshot (0: 2 MiB);
	// tests make it small to cut a bootstrap halfway.
	SnapshotChunkBytes int
	// Mount adds the product's services and pages to what the member
	// serves (package wiring: sign-in, head office's pages), with the
	// Connect options of the hub's own services (authentication by
	// bearer token). nil: the hub's own services only.
	Mount func(h *Hub, mux *http.ServeMux, opts []connect.HandlerOption) error
	// LeaderPages are the paths (and the paths under them) of pages whose
	// forms commit through Raft (Commands): the leader serves them, so that
	// a user sees the change they just made whichever member they are on.
	LeaderPages []string

	// MaxClockOffset is how far ahead of the leader's clock a pushed event
	// may be stamped (0: replication.DefaultMaxOffset).
	MaxClockOffset time.Duration
	// MinFreeBytes is the free space on the data volume under which the
	// member refuses new writes (0: 1 GiB, sized from Pebble's 64 MiB
	// memtables and compactions; <0: never).
	MinFreeBytes int64

	Log *slog.Logger
}

// DefaultRaftTimeout is three times Raft's default of a second. Nodes
// work offline and queue their pushes, so a leader lost takes a few
// seconds more to replace unnoticed by anyone at a branch; a leader
// deposed because a busy member's goroutines waited a second for a CPU
// (200 branches pushing and pulling at once, BENCHMARKS.md) stalls every
// push and pull for an election. Consul's default is five times.
const DefaultRaftTimeout = 3 * time.Second

// Hub is a running hub member.
type Hub struct {
	cfg     Config
	log     *slog.Logger
	fsm     *fsm
	raft    *raft.Raft
	logs    *raftLog
	trans   *raft.NetworkTransport
	ln      net.Listener
	srv     *http.Server
	url     string
	metrics *prometheus.Registry
	hc      *http.Client
	reg     *replication.Registry
	disk    *volume.Guard
	// capabilities is what this member's build can run (Capabilities).
	capabilities []string

	contactMu sync.Mutex
	contact   map[string]contact // node id → what this member last heard from it

	commitSec prometheus.Histogram
	pushes    pushOrder

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Start opens the member's stores, starts Raft and serves HTTP. A new
// member bootstraps a cluster or joins one, as configured.
func Start(cfg Config) (*Hub, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if !replication.ValidNodeID(cfg.ID) {
		return nil, fmt.Errorf("hub: member id %q: %w", cfg.ID, replication.ErrInvalidID)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("hub: data directory is required")
	}
	if cfg.RaftAddr == "" {
		return nil, errors.New("hub: raft address is required")
	}
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Log.With("hub", cfg.ID),
		metrics: rpc.NewRegistry(),
		hc:      rpc.NewHTTPClient(),
		reg:     cfg.Registry,
		contact: map[string]contact{},
	}
	if h.reg == nil {
		return nil, errors.New("hub: a registry of event kinds is required")
	}
	if h.cfg.NodeScopes == nil {
		h.cfg.NodeScopes = func(replication.Tx, string) ([]string, error) { return nil, nil }
	}
	if h.cfg.MaxClockOffset <= 0 {
		h.cfg.MaxClockOffset = replication.DefaultMaxOffset
	}
	switch {
	case cfg.MinFreeBytes > 0:
		h.disk = volume.NewGuard(cfg.DataDir, uint64(cfg.MinFreeBytes))
	case cfg.MinFreeBytes == 0:
		h.disk = volume.NewGuard(cfg.DataDir, 1<<30)
	}
	h.capabilities = Capabilities(h.reg, h.cfg.Tasks, h.cfg.Reactions)
	if err := h.open(); err != nil {
		h.closeStores()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	routes, err := h.routes()
	if err != nil {
		cancel()
		h.closeStores()
		return nil, err
	}
	h.srv = rpc.NewServer(routes)
	h.wg.Add(7)
	go func() { defer h.wg.Done(); h.taskLoop(ctx) }()
	go func() { defer h.wg.Done(); h.fsm.companyLoop(ctx) }()
	go func() { defer h.wg.Done(); h.retainLoop(ctx) }()
	go func() { defer h.wg.Done(); h.fsm.projectLoop(ctx) }()
	go func() { defer h.wg.Done(); h.versionLoop(ctx) }()
	go func() {
		defer h.wg.Done()
		if err := h.srv.Serve(h.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http server", "err", err)
		}
	}()
	go func() { defer h.wg.Done(); h.leaderLoop(ctx) }()
	if cfg.JoinURL != "" && !h.hasState() {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.joinLoop(ctx) }()
	}
	h.log.Info("hub member started", "http", h.url, "raft", h.trans.LocalAddr(), "data", cfg.DataDir)
	return h, nil
}

func (h *Hub) hasState() bool {
	return len(h.raft.GetConfiguration().Configuration().Servers) > 0
}

func (h *Hub) open() error {
	cfg := h.cfg
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o750); err != nil {
		return err
	}
	if err := h.disk.Check(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	applied := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "branchline_events_applied_total", Help: "Events the member's state machine applied: committed to the global log (the views follow, see branchline_projection_position).",
	})
	h.commitSec = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "branchline_commit_seconds", Help: "Latency of a Push committed through Raft.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	h.metrics.MustRegister(applied, h.commitSec,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_disk_free_bytes", Help: "Free space on the data volume, as last checked.",
		}, func() float64 { return float64(h.disk.Free()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_disk_full", Help: "1 while free space is under the reserve and new writes are refused.",
		}, func() float64 {
			if h.disk.Low() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_events_parked", Help: "Events in the global log not applied to this member's views until the cluster activates their kind.",
		}, func() float64 { return float64(h.fsm.ParkedCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_projection_position", Help: "Global log position the member's views reflect.",
		}, func() float64 { return float64(h.fsm.Projected()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_projection_lag_events", Help: "Events committed but not yet in the member's views.",
		}, func() float64 { return float64(h.fsm.state().Head - min(h.fsm.state().Head, h.fsm.Projected())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_projection_lag_seconds", Help: "Age of the oldest committed event not yet in the member's views (0 when caught up).",
		}, func() float64 { return h.projectionLag().Seconds() }),
	)
	var err error
	decides := h.cfg.Decides
	if decides == nil {
		decides = func(string) bool { return false }
	}
	h.fsm, err = openFSM(cfg.DataDir, h.reg, h.cfg.Tasks, decides, h.log, func(n int) { applied.Add(float64(n)) }, cfg.CacheBytes)
	if err != nil {
		return err
	}
	h.fsm.reactions = h.cfg.Reactions
	h.fsm.snaps.chunkBytes = h.cfg.SnapshotChunkBytes
	if h.fsm.snaps.chunkBytes <= 0 {
		h.fsm.snaps.chunkBytes = snapshotChunkBytes
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{h.log}, DisableTime: true})
	h.logs, err = openRaftLog(raftDir, hlog, h.log)
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	cache, err := raft.NewLogCache(1024, h.logs)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hlog)
	if err != nil {
		return err
	}
	if err := h.catchUpFromSnapshot(snaps); err != nil {
		return err
	}
	h.trans, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, nil, 5, 10*time.Second, hlog)
	if err != nil {
		return fmt.Errorf("raft transport on %s: %w", cfg.RaftAddr, err)
	}
	h.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	h.url = cfg.AdvertiseHTTP
	if h.url == "" {
		h.url = "http://" + h.ln.Addr().String()
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rt := cfg.RaftTimeout
	if rt <= 0 {
		rt = DefaultRaftTimeout
	}
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = rt, rt, rt/2
	// The state machine keeps its own applied index in Pebble and skips
	// what it has; restoring the last snapshot at every start would only
	// rewrite the same state.
	rc.NoSnapshotRestoreOnStart = true
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	existing, err := raft.HasExistingState(cache, h.logs, snaps)
	if err != nil {
		return err
	}
	h.raft, err = raft.NewRaft(rc, h.fsm, cache, h.logs, snaps, h.trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	if cfg.Bootstrap && !existing {
		if cfg.AdminPassword == "" {
			return errors.New("hub: bootstrapping a cluster needs BRANCHLINE_ADMIN_PASSWORD for its admin")
		}
		f := h.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: rc.LocalID, Address: h.trans.LocalAddr()},
		}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	h.registerRaftMetrics()
	return nil
}

// catchUpFromSnapshot restores the newest snapshot when the state machine
// is behind it (its directory was lost or replaced): Raft is told not to
// restore on start and would otherwise replay only the entries after it.
func (h *Hub) catchUpFromSnapshot(snaps *raft.FileSnapshotStore) error {
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return err
	}
	if h.fsm.state().Index >= metas[0].Index {
		return nil
	}
	_, rc, err := snaps.Open(metas[0].ID)
	if err != nil {
		return err
	}
	h.log.Warn("state is behind the last snapshot; restoring it", "state_index", h.fsm.state().Index, "snapshot_index", metas[0].Index)
	return h.fsm.Restore(rc)
}

func (h *Hub) registerRaftMetrics() {
	states := []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown}
	for _, s := range states {
		s := s
		h.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_raft_state", Help: "1 for the member's current Raft state.",
			ConstLabels: prometheus.Labels{"state": s.String()},
		}, func() float64 {
			if h.raft.State() == s {
				return 1
			}
			return 0
		}))
	}
	h.metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "branchline_raft_commit_index", Help: "Raft commit index."},
			func() float64 { return float64(h.raft.CommitIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "branchline_raft_applied_index", Help: "Raft index applied to the state machine."},
			func() float64 { return float64(h.raft.AppliedIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "branchline_log_position", Help: "Global log position of the last committed event."},
			func() float64 { return float64(h.fsm.state().Head) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "branchline_replication_lag_seconds", Help: "Raft entries committed but not yet applied here, in seconds since the last apply (0 when caught up).",
		}, func() float64 {
			if h.raft.AppliedIndex() >= h.raft.CommitIndex() {
				return 0
			}
			return time.Since(time.UnixMilli(h.fsm.state().HeadMs)).Seconds()
		}),
	)
}

// slogWriter sends Raft's hclog lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	w.log.Warn(msg)
	return len(p), nil
}

// URL is the member's advertised base URL.
func (h *Hub) URL() string { return h.url }

// ID is the member's id.
func (h *Hub) ID() string { return h.cfg.ID }

// Log is the member's logger.
func (h *Hub) Log() *slog.Logger { return h.log }

// Disk is the guard of the member's data volume.
func (h *Hub) Disk() *volume.Guard { return h.disk }

// RaftAddr is the address the member's Raft transport listens on.
func (h *Hub) RaftAddr() string { return string(h.trans.LocalAddr()) }

// Members is how many members the Raft configuration holds.
func (h *Hub) Members() int {
	f := h.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	return len(f.Configuration().Servers)
}

// IsLeader reports whether this member leads the cluster.
func (h *Hub) IsLeader() bool { return h.raft.State() == raft.Leader }

// Digest is the digest of the member's views.
func (h *Hub) Digest() replication.Digest { return h.fsm.Digest() }

// Head is the global log position the member has applied.
func (h *Hub) Head() uint64 { return h.fsm.state().Head }

// KnowsNodeToken reports whether this member has applied the registration
// that issued the node token tok: a member that has not yet answers the
// node's calls Unauthenticated.
func (h *Hub) KnowsNodeToken(tok string) bool {
	_, ok := h.fsm.NodeForToken(auth.HashToken(tok))
	return ok
}

// Projected is the global log position the member's views reflect.
func (h *Hub) Projected() uint64 { return h.fsm.Projected() }

// EventDigest is the digest of the events the member's views applied.
func (h *Hub) EventDigest() replication.Digest { return h.fsm.EventDigest() }

// ScopeDigest is the digest of the events of scopes and the company's:
// what a node holding those scopes whole shows as its digest.
func (h *Hub) ScopeDigest(scopes []string) replication.Digest {
	return replication.ScopeDigest(h.fsm.EventDigests(), scopes)
}

// DurableSeq is the highest seq of origin the hub committed, as this
// member has applied it.
func (h *Hub) DurableSeq(origin string) (uint64, error) { return h.fsm.DurableSeq(origin) }

// leaderURL returns the leader's HTTP URL, or "" when there is no leader
// or its address is not known yet.
func (h *Hub) leaderURL() (string, string) {
	_, id := h.raft.LeaderWithID()
	if id == "" {
		return "", ""
	}
	if string(id) == h.cfg.ID {
		return h.url, string(id)
	}
	members, err := h.fsm.Members()
	if err != nil {
		return "", string(id)
	}
	return members[string(id)].HTTPAddr, string(id)
}

// apply proposes a command through Raft and waits for it to be applied.
func (h *Hub) apply(cmd *hubv1.Command) (any, error) {
	b, err := h.encode(cmd)
	if err != nil {
		return nil, err
	}
	return h.applied(h.raft.Apply(b, applyTimeout))
}

// applyTimeout bounds how long a proposal waits to be enqueued.
const applyTimeout = 15 * time.Second

// encode is a command as it is proposed. While this member's volume is
// under its reserve it proposes nothing new (fault.ErrExhausted): every
// entry it proposes, it must also store.
func (h *Hub) encode(cmd *hubv1.Command) ([]byte, error) {
	if err := h.disk.Check(); err != nil {
		return nil, err
	}
	if cmd.TimeMs == 0 {
		cmd.TimeMs = time.Now().UnixMilli()
	}
	return proto.Marshal(cmd)
}

// applied waits for a proposal to be applied and returns its result.
func (h *Hub) applied(f raft.ApplyFuture) (any, error) {
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
			errors.Is(err, raft.ErrEnqueueTimeout) || errors.Is(err, raft.ErrRaftShutdown) ||
			errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return nil, fmt.Errorf("%w: %v", rpc.ErrUnavailable, err)
		}
		return nil, err
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return nil, err
	}
	return resp, nil
}

// leaderLoop makes sure, whenever this member leads, that the cluster is
// initialised and knows this member's addresses.
func (h *Hub) leaderLoop(ctx context.Context) {
	h.whileLeading(ctx, 500*time.Millisecond, func() {
		if h.initialised() {
			return
		}
		// Apply everything earlier leaders committed before deciding.
		if err := h.raft.Barrier(5 * time.Second).Error(); err != nil {
			return
		}
		if err := h.ensureInit(); err != nil {
			h.log.Warn("initialise cluster", "err", err)
		}
	})
}

// whileLeading calls fn every period while this member leads, until ctx
// ends. (Raft's LeaderCh has room for one reader only; the loops poll.)
func (h *Hub) whileLeading(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if h.raft.State() == raft.Leader {
			fn()
		}
	}
}

// initialised reports whether the cluster has its admin and key and knows
// this member's current addresses.
func (h *Hub) initialised() bool {
	if _, _, ok := h.fsm.Secret(); !ok {
		return false
	}
	members, err := h.fsm.Members()
	me := members[h.cfg.ID]
	return err == nil && me.HTTPAddr == h.url && me.RaftAddr == h.RaftAddr()
}

func (h *Hub) ensureInit() error {
	if _, _, ok := h.fsm.Secret(); !ok {
		if h.cfg.AdminPassword == "" {
			return errors.New("the cluster has no admin yet: start the leader with BRANCHLINE_ADMIN_PASSWORD")
		}
		hash, err := auth.HashPassword(h.cfg.AdminPassword)
		if err != nil {
			return err
		}
		if _, err := h.apply(&hubv1.Command{Op: &hubv1.Command_InitCluster{InitCluster: &hubv1.InitCluster{
			AdminPasswordHash: hash, TokenSecret: auth.NewKey(),
		}}}); err != nil {
			return err
		}
	}
	members, err := h.fsm.Members()
	if err != nil {
		return err
	}
	me := members[h.cfg.ID]
	if me.HTTPAddr == h.url && me.RaftAddr == h.RaftAddr() {
		return nil
	}
	_, err = h.apply(&hubv1.Command{Op: &hubv1.Command_SetMember{SetMember: &hubv1.SetMember{
		Id: h.cfg.ID, RaftAddr: h.RaftAddr(), HttpAddr: h.url,
	}}})
	return err
}

// Close leaves leadership to another member if this one leads, then stops
// Raft and closes the stores.
func (h *Hub) Close() error {
	var err error
	h.closed.Do(func() {
		if h.raft.State() == raft.Leader && len(h.raft.GetConfiguration().Configuration().Servers) > 1 {
			if e := h.raft.LeadershipTransfer().Error(); e != nil {
				h.log.Warn("leadership transfer", "err", e)
			} else {
				h.log.Info("leadership transferred")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if e := h.srv.Shutdown(ctx); e != nil {
			h.srv.Close()
		}
		h.cancel()
		h.wg.Wait()
		if e := h.raft.Shutdown().Error(); e != nil {
			err = e
		}
		if e := h.closeStores(); e != nil && err == nil {
			err = e
		}
		h.log.Info("hub member stopped")
	})
	return err
}

func (h *Hub) closeStores() error {
	var errs []error
	if h.raft != nil && h.srv == nil {
		errs = append(errs, h.raft.Shutdown().Error())
	}
	if h.trans != nil {
		errs = append(errs, h.trans.Close())
	}
	if h.ln != nil && h.srv == nil {
		errs = append(errs, h.ln.Close())
	}
	if h.logs != nil {
		errs = append(errs, h.logs.Close())
	}
	if h.fsm != nil {
		errs = append(errs, h.fsm.close())
	}
	return errors.Join(errs...)
}

// projectionLag is how long ago the oldest event the projection has not
// applied was committed.
func (h *Hub) projectionLag() time.Duration {
	pos := h.fsm.Projected()
	if pos >= h.fsm.state().Head {
		return 0
	}
	at, err := h.fsm.CommitTime(pos + 1)
	if err != nil {
		return 0
	}
	return max(0, time.Since(at))
}

// Ready reports whether the member knows a leader, holds the cluster's
// initial state and has room on its volume.
func (h *Hub) Ready() bool {
	_, _, ok := h.fsm.Secret()
	return ok && h.ready() == nil
}
