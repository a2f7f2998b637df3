package wiring

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/auth"
	"branchline/crm/crmapp"
	"branchline/crm/crmfile"
	"branchline/crm/pickup/pickupapp"
	"branchline/gen/branchline/access/v1/accessv1connect"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/rpc"
	"branchline/warehouse/warehouseapp"
	"branchline/web"
	"branchline/web/adminui"
	"branchline/web/crmui"
	"branchline/web/deskui"
	"branchline/web/pickupui"
	"branchline/web/stockui"
)

// NodeConfig is a branch node's configuration: the node's own (store,
// hub, addresses; its Registry and Tasks default to this release's), the
// SIP switch's, and the roles a new branch starts with.
type NodeConfig struct {
	node.Config
	// Location is the business time zone (flag --time-zone): pages,
	// exports, reports, the days of pickup numbers and the telephony's
	// days read times in it, whatever zone the computer is set to. nil:
	// app.DefaultTimeZone (Asia/Shanghai).
	Location *time.Location
	// Telephony is the SIP switch's; zero value: no SIP.
	Telephony TelephonyConfig
	// DefaultRoles are created on a fresh store — one that has never
	// recorded an event — as replicated events, before the node serves:
	// a new branch has working roles before it ever reaches the hub
	// (access.SeedRoles explains why two such branches make one set).
	// nil: none (cmd/branchline passes access.DefaultRoles()).
	DefaultRoles []access.DefaultRole
}

// Node is a running branch node with everything it serves.
type Node struct {
	*node.Node
	tel *telephonyParts
}

// SIPAddr is the address the node's SIP switch listens on, UDP and TCP
// alike; "" when it runs without SIP.
func (n *Node) SIPAddr() string {
	if n.tel.sip == nil {
		return ""
	}
	return n.tel.sip.UDPAddr()
}

// StartNode opens a node, creates a new branch's default roles, builds
// its services and pages and serves them.
func StartNode(cfg NodeConfig) (*Node, error) {
	cfg.Location = app.Zone(cfg.Location)
	if cfg.Telephony.Location == nil {
		cfg.Telephony.Location = cfg.Location
	}
	if cfg.Registry == nil {
		cfg.Registry = kinds.Registry()
	}
	if cfg.Tasks == nil {
		cfg.Tasks = kinds.NodeTasks()
	}
	nd, err := node.Open(cfg.Config)
	if err != nil {
		return nil, err
	}
	// A restored store takes its roles back from the hub.
	if !nd.Store().Restoring() {
		if err := seedRoles(nd, cfg.DefaultRoles); err != nil {
			nd.Close()
			return nil, err
		}
	}
	n := &Node{Node: nd}
	h, disp, err := n.routes(cfg)
	if err == nil {
		nd.OnPulled(disp.OnChange)
		// Calls end, and their records are written, before the store closes.
		nd.OnClose(n.tel.close)
		err = nd.Serve(h)
	}
	if err != nil {
		n.tel.close()
		nd.Close()
		return nil, err
	}
	// The dispatcher's sweep stops with the node: Close runs the closers
	// before the store closes.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(ctx) }()
	nd.OnClose(func() error { cancel(); <-done; return nil })
	return n, nil
}

// seedRoles creates roles on a fresh store, in the name of the first
// administrator. A store that recorded anything is not fresh: an upgraded
// installation keeps exactly the roles its operators made.
func seedRoles(n *node.Node, roles []access.DefaultRole) error {
	if len(roles) == 0 || n.Store().Progress().LastSeq > 0 {
		return nil
	}
	admin := &accessapp.Admin{Store: n.Store(), Node: n.Config().ID}
	made, err := admin.SeedRoles(context.Background(), node.AdminUser, roles)
	if err != nil {
		return err
	}
	n.Log().Info("default roles created", "roles", made)
	return nil
}

// routes builds the node's Connect services and pages over one set of use
// cases, and the SIP switch.
func (n *Node) routes(cfg NodeConfig) (http.Handler, *pickupapp.Dispatcher, error) {
	nd, store, log := n.Node, n.Store(), n.Log()
	id := cfg.ID
	mux := http.NewServeMux()
	ids := replication.NewIDs()
	// Replicated users log in at any node, offline too; the node's own
	// admin stays local (node.Accounts).
	dir := api.AccessDirectory{Store: store, Local: nd.Accounts()}
	grants := app.AccessGrants(store, nil)
	auditor := api.StoreAuditor{Store: store, Node: id}
	audit := func(ctx context.Context, user, action, detail string) {
		if err := auditor.RecordAs(ctx, user, action, "user/"+user, detail); err != nil {
			log.Error("audit", "action", action, "user", user, "err", err)
		}
	}
	throttle := access.NewThrottle(access.ThrottleConfig{})
	signer := nd.Signer()
	opts := []connect.HandlerOption{
		connect.WithInterceptors(rpc.RequireAuth(api.TokenVerifier{Store: store, Signed: signer}, rpc.PublicProcedures...),
			api.RequirePasswordChanged(grants)),
		connect.WithReadMaxBytes(1 << 20),
	}
	// The use cases, served alike by the API and the pages.
	customers := &crmapp.Customers{Store: store, IDs: ids, Node: id, Location: cfg.Location}
	blacklist := &crmapp.Blacklist{Store: store, Node: id}
	members := &crmapp.Members{Store: store, Node: id}
	admin := &accessapp.Admin{Store: store, IDs: ids, Node: id, Throttle: throttle}
	stock := &warehouseapp.Stock{Store: store, IDs: ids, Node: id}
	mux.Handle(authv1connect.NewAuthServiceHandler(&api.AuthService{
		Dir: dir, Signer: func() (*auth.Signer, error) { return signer, nil }, Throttle: throttle, Audit: audit,
		Passwords: admin, Grants: grants, Log: log,
	}, opts...))
	// Imports carry files of up to crmfile.MaxImportBytes.
	mux.Handle(crmv1connect.NewCustomerServiceHandler(&api.CustomerService{App: customers, Grants: grants, Log: log},
		append(opts[:len(opts):len(opts)], connect.WithReadMaxBytes(crmfile.MaxImportBytes+(1<<20)))...))
	mux.Handle(crmv1connect.NewBlacklistServiceHandler(&api.BlacklistService{App: blacklist, Grants: grants, Log: log}, opts...))
	mux.Handle(crmv1connect.NewMemberServiceHandler(&api.MemberService{App: members, Grants: grants, Log: log}, opts...))
	broker := web.NewBroker()
	tel, err := startTelephony(nd, cfg.Telephony, grants, broker)
	if err != nil {
		return nil, nil, err
	}
	n.tel = tel
	tel.mount(mux, opts...)
	disp := &pickupapp.Dispatcher{Store: store, IDs: ids, Node: id, Log: log}
	if tel.sip != nil {
		disp.Queue, disp.Deliver = queueMessage, tel.sip.Deliver
	}
	pickups := &pickupapp.Pickups{Store: store, IDs: ids, Node: id, Location: cfg.Location, OnChange: disp.OnChange}
	mux.Handle(pickupv1connect.NewPickupServiceHandler(&api.PickupService{App: pickups, Grants: grants, Log: log}, opts...))
	mux.Handle(warehousev1connect.NewWarehouseServiceHandler(&api.WarehouseService{App: stock, Grants: grants, Log: log}, opts...))
	mux.Handle(accessv1connect.NewAccessServiceHandler(&api.AccessService{App: admin, Grants: grants, Log: log}, opts...))
	mux.Handle(adminv1connect.NewAdminServiceHandler(&rpc.AdminService{StatusFunc: nd.Status, ViewsDigest: func() (string, error) {
		d, err := store.ViewsDigest()
		return d.String(), err
	}}, opts...))
	pickupPages := pickupui.New(pickupui.Config{Pickups: pickups, Customers: customers})
	ui, err := web.New(web.Config{
		Site: id, Home: "/customers", Location: cfg.Location, Login: dir.Login, Throttle: throttle, Audit: audit,
		Sessions: web.StoredSessions(sessionStore{nd.Sessions()}), Grants: grants, Passwords: admin,
		Pages: []web.Pages{
			crmui.New(crmui.Config{Customers: customers, Blacklist: blacklist, Members: members, Calls: tel.app}),
			adminui.New(adminui.Config{Access: admin, Customers: customers, Blacklist: blacklist, Members: members}),
			deskui.New(tel.app),
			pickupPages,
			stockui.New(stock),
		},
		Broker: broker, Log: log, Alerts: func() []web.Alert { return nodeAlerts(nd) },
		Branches: func() (map[string]string, error) { return app.Read(store, access.BranchNames) },
	})
	if err != nil {
		return nil, nil, err // StartNode closes the switch
	}
	disp.Changed = pickupPages.Changed
	mux.Handle("/", ui)
	return mux, disp, nil
}

// nodeAlerts are the conditions every page of the node's UI shows.
func nodeAlerts(n *node.Node) []web.Alert {
	var out []web.Alert
	store := n.Store()
	if d := store.Disk(); d.Low() {
		out = append(out, web.Alert{Key: "alert.disk_full", Args: []any{d.Free() >> 20}})
	}
	if off := n.ClockOffset(); off.Abs() > store.Clock().MaxOffset()/2 {
		out = append(out, web.Alert{Key: "alert.clock_off", Args: []any{off.Round(time.Second).String()}})
	}
	if a, ok := rebuildAlert(n); ok {
		out = append(out, a)
	}
	if left := store.BulkBacklog(); left > 0 {
		// A node bootstrapped from a snapshot serves before its list
		// orders are built (replication.Index.Shipped).
		out = append(out, web.Alert{Key: "alert.indexing", Args: []any{left}})
	}
	return out
}

// rebuildAlert tells the people at a node whose views are empty and being
// taken from head office (a new node's bootstrap, a lost store's restore)
// how far it got: a search that finds nothing then is not a missing
// customer.
func rebuildAlert(n *node.Node) (web.Alert, bool) {
	rb, empty := n.Rebuild()
	if !rb.Running || !empty {
		return web.Alert{}, false
	}
	step := web.Alert{Key: "alert.taking_data." + rb.Phase}
	switch {
	case rb.Phase == "snapshot" && rb.SnapshotTotal > 0:
		step.Args = []any{rb.SnapshotPairs, rb.SnapshotTotal}
	case rb.Phase == "snapshot" || rb.Phase == "":
		step.Key = "alert.taking_data.snapshot_start"
	}
	key := "alert.taking_data"
	if n.Store().Restoring() {
		key = "alert.restoring"
	}
	return web.Alert{Key: key, Args: []any{step}}, true
}

// sessionStore keeps web sessions, as JSON, in the node's store.
type sessionStore struct{ s *node.Sessions }

func (s sessionStore) Put(ctx context.Context, hash []byte, sess web.Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.s.Put(ctx, hash, b, sess.Expires)
}

func (s sessionStore) Get(ctx context.Context, hash []byte) (web.Session, error) {
	var sess web.Session
	b, err := s.s.Get(ctx, hash)
	if errors.Is(err, node.ErrNoSession) {
		return sess, web.ErrNoSession
	}
	if err != nil {
		return sess, err
	}
	return sess, json.Unmarshal(b, &sess)
}

func (s sessionStore) Delete(ctx context.Context, hash []byte) error { return s.s.Delete(ctx, hash) }
