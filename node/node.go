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

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/crm/pickup/pickupapp"
	"branchline/gen/branchline/access/v1/accessv1connect"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
	"branchline/kinds"
	"branchline/replication"
	"branchline/rpc"
	"branchline/version"
	"branchline/warehouse/warehouseapp"
	"branchline/web"
	"branchline/web/adminui"
	"branchline/web/crmui"
	"branchline/web/deskui"
	"branchline/web/pickupui"
	"branchline/web/stockui"
)

// Config is what a node needs to start. Every field has a flag and a
// BRANCHLINE_* environment variable in cmd/branchline.
type Config struct {
	ID            string          // node id, the origin of its events
	DataDir       string          // Badger directory
	HTTPAddr      string          // API, web UI, metrics
	HubURLs       []string        // every hub member's URL; empty: stand-alone
	Token         string          // the node's hub token (branchline ctl nodes add)
	AdminPassword string          // the local admin's password, needed on first start
	MetricsToken  string          // bearer token for /metrics; empty: loopback only
	Telephony     TelephonyConfig // SIP switch; zero value: no SIP
	// Location is the business time zone (flag --time-zone): pages,
	// exports, reports, the days of pickup numbers and the telephony's
	// days read times in it, whatever zone the computer is set to. nil:
	// app.DefaultTimeZone (Asia/Shanghai).
	Location *time.Location
	// Registry applies the events; nil: every kind of this release
	// (kinds.Registry). A test of upgrades passes an older one.
	Registry *replication.Registry
	// SnapshotAbove is the length of the hub's log from which a new (or
	// lost) store starts from a snapshot of the company views rather than
	// by replaying the log; 0: only when the log no longer reaches back
	// (the hub's retention), whatever its length.
	SnapshotAbove uint64
	// DefaultRoles are created on a fresh store — one that has never
	// recorded an event — as replicated events, before the node serves:
	// a new branch has working roles before it ever reaches the hub
	// (access.SeedRoles explains why two such branches make one set).
	// nil: none (cmd/branchline passes access.DefaultRoles()).
	DefaultRoles []access.DefaultRole
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
	cfg     Config
	store   *Store
	syncer  *syncer
	ln      net.Listener
	srv     *http.Server
	metrics *prometheus.Registry
	log     *slog.Logger
	broker  *web.Broker // live events for the web UI
	tel     *telephonyParts
	disp    *dispatcher

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Start opens the store, listens on cfg.HTTPAddr and starts syncing. The
// node serves at once, whether or not the hub is reachable.
func Start(cfg Config) (*Node, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	log := cfg.Log.With("node", cfg.ID)
	cfg.Location = app.Zone(cfg.Location)
	if cfg.Telephony.Location == nil {
		cfg.Telephony.Location = cfg.Location
	}
	if cfg.DataDir == "" {
		return nil, errors.New("node: data directory is required")
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
	if cfg.Registry == nil {
		cfg.Registry = kinds.Registry()
	}
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
	n := &Node{cfg: cfg, store: store, metrics: reg, log: log, broker: web.NewBroker()}
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
	if !store.Restoring() {
		// A restored store takes its roles back from the hub.
		if err := seedRoles(store, cfg, log); err != nil {
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
		}, func() float64 { return n.clockOffset().Seconds() }),
	)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	n.ln = ln
	h, err := n.routes(signer)
	if err != nil {
		n.tel.close()
		ln.Close()
		store.Close()
		return nil, err
	}
	n.srv = rpc.NewServer(h)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(4)
	go func() { defer n.wg.Done(); n.taskLoop(ctx) }()
	go func() { defer n.wg.Done(); n.disp.run(ctx) }()
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
	return n, nil
}

func (n *Node) routes(signer *auth.Signer) (http.Handler, error) {
	mux := http.NewServeMux()
	ids := replication.NewIDs()
	// Replicated users log in at any node, offline too; the node's own
	// admin stays local (see users.go).
	dir := api.AccessDirectory{Store: n.store, Local: directory{n.store.DB()}}
	grants := app.AccessGrants(n.store, nil)
	auditor := api.StoreAuditor{Store: n.store, Node: n.cfg.ID}
	audit := func(ctx context.Context, user, action, detail string) {
		if err := auditor.RecordAs(ctx, user, action, "user/"+user, detail); err != nil {
			n.log.Error("audit", "action", action, "user", user, "err", err)
		}
	}
	throttle := access.NewThrottle(access.ThrottleConfig{})
	opts := []connect.HandlerOption{
		connect.WithInterceptors(rpc.RequireAuth(api.TokenVerifier{Store: n.store, Signed: signer}, rpc.PublicProcedures...),
			api.RequirePasswordChanged(grants)),
		connect.WithReadMaxBytes(1 << 20),
	}
	// The use cases, served alike by the API and the pages.
	customers := &crmapp.Customers{Store: n.store, IDs: ids, Node: n.cfg.ID, Location: n.cfg.Location}
	blacklist := &crmapp.Blacklist{Store: n.store}
	members := &crmapp.Members{Store: n.store}
	admin := &accessapp.Admin{Store: n.store, IDs: ids, Node: n.cfg.ID, Throttle: throttle}
	stock := &warehouseapp.Stock{Store: n.store, IDs: ids, Node: n.cfg.ID}
	mux.Handle(authv1connect.NewAuthServiceHandler(&api.AuthService{
		Dir: dir, Signer: func() (*auth.Signer, error) { return signer, nil }, Throttle: throttle, Audit: audit,
		Passwords: admin, Grants: grants, Log: n.log,
	}, opts...))
	// Imports carry files of up to crm.MaxImportBytes.
	mux.Handle(crmv1connect.NewCustomerServiceHandler(&api.CustomerService{App: customers, Grants: grants, Log: n.log},
		append(opts[:len(opts):len(opts)], connect.WithReadMaxBytes(crm.MaxImportBytes+(1<<20)))...))
	mux.Handle(crmv1connect.NewBlacklistServiceHandler(&api.BlacklistService{App: blacklist, Grants: grants, Log: n.log}, opts...))
	mux.Handle(crmv1connect.NewMemberServiceHandler(&api.MemberService{App: members, Grants: grants, Log: n.log}, opts...))
	tel, err := n.startTelephony(n.cfg.Telephony, grants)
	if err != nil {
		return nil, err
	}
	n.tel = tel
	tel.mount(mux, opts...)
	disp := &dispatcher{n: n, sip: tel.sip, ids: ids}
	pickups := &pickupapp.Pickups{Store: n.store, IDs: ids, Node: n.cfg.ID, Location: n.cfg.Location, OnChange: disp.onChange}
	mux.Handle(pickupv1connect.NewPickupServiceHandler(&api.PickupService{App: pickups, Grants: grants, Log: n.log}, opts...))
	mux.Handle(warehousev1connect.NewWarehouseServiceHandler(&api.WarehouseService{App: stock, Grants: grants, Log: n.log}, opts...))
	mux.Handle(accessv1connect.NewAccessServiceHandler(&api.AccessService{App: admin, Grants: grants, Log: n.log}, opts...))
	mux.Handle(adminv1connect.NewAdminServiceHandler(&rpc.AdminService{StatusFunc: n.status, ViewsDigest: func() (string, error) {
		d, err := n.store.ViewsDigest()
		return d.String(), err
	}}, opts...))
	rpc.MountOps(mux, n.metrics, n.ready, n.cfg.MetricsToken)
	pickupPages := pickupui.New(pickupui.Config{Pickups: pickups, Customers: customers})
	ui, err := web.New(web.Config{
		Site: n.cfg.ID, Home: "/customers", Location: n.cfg.Location, Login: dir.Login, Throttle: throttle, Audit: audit,
		Sessions: web.StoredSessions(newSessions(n.store.DB(), n.store.Disk())), Grants: grants, Passwords: admin,
		Pages: []web.Pages{
			crmui.New(crmui.Config{Customers: customers, Blacklist: blacklist, Members: members}),
			adminui.New(adminui.Config{Access: admin, Customers: customers, Blacklist: blacklist, Members: members}),
			deskui.New(tel.app),
			pickupPages,
			stockui.New(stock),
		},
		Broker: n.broker, Log: n.log, Alerts: n.alerts,
		Branches: func() (map[string]string, error) { return app.Read(n.store, access.BranchNames) },
	})
	if err != nil {
		return nil, err
	}
	disp.changed = pickupPages.Changed
	n.disp = disp
	if n.syncer != nil {
		n.syncer.pulled = disp.onChange
	}
	mux.Handle("/", ui)
	return mux, nil
}

// Addr is the address the node's HTTP server listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr() }

// SIPAddr is the address the node's SIP switch listens on, UDP and TCP
// alike; "" when it runs without SIP.
func (n *Node) SIPAddr() string {
	if n.tel == nil || n.tel.sip == nil {
		return ""
	}
	return n.tel.sip.UDPAddr()
}

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
	if head := resp.GetHead(); n.syncer.snapshotAbove > 0 && head >= n.syncer.snapshotAbove {
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

func (n *Node) status(context.Context) (*adminv1.StatusResponse, error) {
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
		ClockOffsetSeconds:    n.clockOffset().Seconds(),
		MaxClockOffsetSeconds: n.store.Clock().MaxOffset().Seconds(),
		IndexBacklog:          uint64(n.store.IndexBacklog()),
		Invalid:               n.store.InvalidEvents(20),
	}
	if n.syncer != nil {
		n.syncer.mu.Lock()
		rb := n.syncer.rebuilt
		n.syncer.mu.Unlock()
		st.Rebuilding, st.RebuildPosition, st.RebuildHead, st.RebuildReason = rb.running, rb.position, rb.head, rb.reason
		st.RebuildPhase, st.SnapshotKeys, st.SnapshotTotalKeys, st.SnapshotPosition = rb.phase, rb.snapshotPairs, rb.snapshotTotal, rb.snapshotPos
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

// clockOffset is this node's wall clock minus the hub's, as last measured.
func (n *Node) clockOffset() time.Duration {
	if n.syncer == nil {
		return 0
	}
	return n.syncer.clockOffset()
}

// alerts are the conditions every page of the node's UI shows.
func (n *Node) alerts() []web.Alert {
	var out []web.Alert
	if d := n.store.Disk(); d.Low() {
		out = append(out, web.Alert{Key: "alert.disk_full", Args: []any{d.Free() >> 20}})
	}
	if off := n.clockOffset(); off.Abs() > n.store.Clock().MaxOffset()/2 {
		out = append(out, web.Alert{Key: "alert.clock_off", Args: []any{off.Round(time.Second).String()}})
	}
	if a, ok := n.rebuildAlert(); ok {
		out = append(out, a)
	}
	return out
}

// rebuildAlert tells the people at a node whose views are empty and being
// taken from head office (a new node's bootstrap, a lost store's restore)
// how far it got: a search that finds nothing then is not a missing
// customer.
func (n *Node) rebuildAlert() (web.Alert, bool) {
	if n.syncer == nil || n.store.Progress().Cursor > 0 {
		return web.Alert{}, false
	}
	n.syncer.mu.Lock()
	rb := n.syncer.rebuilt
	n.syncer.mu.Unlock()
	if !rb.running {
		return web.Alert{}, false
	}
	step := web.Alert{Key: "alert.taking_data." + rb.phase}
	switch {
	case rb.phase == "snapshot" && rb.snapshotTotal > 0:
		step.Args = []any{rb.snapshotPairs, rb.snapshotTotal}
	case rb.phase == "snapshot" || rb.phase == "":
		step.Key = "alert.taking_data.snapshot_start"
	}
	key := "alert.taking_data"
	if n.store.Restoring() {
		key = "alert.restoring"
	}
	return web.Alert{Key: key, Args: []any{step}}, true
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
		if e := n.srv.Shutdown(ctx); e != nil {
			n.srv.Close()
		}
		// Calls end and their records are written while the store is open.
		if e := n.tel.close(); e != nil {
			n.log.Error("sip close", "err", e)
		}
		n.cancel()
		n.wg.Wait()
		err = n.store.Close()
		n.log.Info("node stopped")
	})
	return err
}
