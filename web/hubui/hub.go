package hubui

import (
	"context"
	"net/http"
	"sort"
	"time"

	"branchline/access"
	"branchline/crm/pickup"
	"branchline/fault"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/replication"
	"branchline/warehouse"
	"branchline/web"
	"branchline/web/pickupui"
	"branchline/web/stockui"
)

// Cluster is what the hub's pages read: the cluster's members and each
// branch's replication state, as ctl status shows them.
type Cluster interface {
	ClusterStatus(ctx context.Context) (*adminv1.ClusterStatusResponse, error)
	// View reads this member's replicated views (the same as every
	// node's, for every branch): as fresh as this member's applied
	// position, which is how stale the hub's reports may be.
	View(fn func(views replication.Tx) error) error
}

// offlineAfter is how long without a call from a node before the hub shows
// it offline. Nodes keep a Pull stream open with a heartbeat every 2 s.
const offlineAfter = 30 * time.Second

// branchView is one branch node's health for the dashboard.
type branchView struct {
	ID          string
	Online      bool
	LastContact time.Time
	Ago         string
	DurableSeq  uint64
	Backlog     uint64
	Cursor      uint64
	Behind      uint64 // events committed at the hub the node has not applied
	Lag         string // how old the oldest of those is
	// Conflicts counts the branch's pickup conflict records; -1 when
	// they could not be read.
	Conflicts int
	// Clock is the branch computer's clock offset from the hub's, as
	// measured at its last push ("" before any); ClockWarn is set past half
	// the max offset, where its writes are about to be refused.
	Clock     string
	ClockWarn bool
	// Holds names what the branch is served besides its own records and
	// the company's: warehouses it owns or sells from, couriers it serves.
	Holds []string
	// Stuck says why the hub refuses the branch's events, if it does.
	Stuck   string
	Version string
}

type branchesData struct {
	Head     uint64
	Leader   string
	Branches []branchView
	Online   int
	Offline  int
	Stale    time.Time
	// Naming says head office may name the branches here.
	Naming bool
}

func (s *Pages) clusterStatus(w http.ResponseWriter, r *http.Request, active, title string) (*web.Page, *adminv1.ClusterStatusResponse, bool) {
	p := s.NewPage(r, active, title)
	if !p.Grant.Can(access.UserAdmin) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return nil, nil, false
	}
	st, err := s.cluster.ClusterStatus(r.Context())
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return nil, nil, false
	}
	return p, st, true
}

func (s *Pages) branches(w http.ResponseWriter, r *http.Request) {
	p, st, ok := s.clusterStatus(w, r, "branches", "hub.branches")
	if !ok {
		return
	}
	if id := r.URL.Query().Get("branch"); id != "" {
		p.Form.Set("branch", id)
		p.Form.Set("display_name", p.BranchNames()[id])
	}
	s.showBranches(w, r, p, st, http.StatusOK)
}

// branchName names a branch, as head office calls it (access.branch.named,
// committed through Raft like every head office change).
func (s *Pages) branchName(w http.ResponseWriter, r *http.Request) {
	p, st, ok := s.clusterStatus(w, r, "branches", "hub.branches")
	if !ok {
		return
	}
	if s.admin == nil {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return
	}
	if !web.ReadForm(w, r, p, 4<<10) {
		s.showBranches(w, r, p, st, http.StatusRequestEntityTooLarge)
		return
	}
	id := p.Value("branch")
	changed, err := s.admin.NameBranch(r.Context(), web.CallerOf(r), id, p.Value("display_name"))
	if err != nil {
		s.showBranches(w, r, p, st, s.FailedOn(p, err, "admin", "branch", "display_name"))
		return
	}
	msg := p.T("admin.unchanged")
	if changed {
		msg = p.T("admin.branches.named", id)
	}
	web.Redirect(w, r, "/branches", msg)
}

func (s *Pages) showBranches(w http.ResponseWriter, r *http.Request, p *web.Page, st *adminv1.ClusterStatusResponse, status int) {
	now := time.Now()
	d := &branchesData{Head: st.GetHeadPosition(), Leader: st.GetLeaderId(), Stale: now, Naming: s.admin != nil}
	names := s.holdNames()
	for _, n := range st.GetNodes() {
		b := branchView{ID: n.GetId(), DurableSeq: n.GetDurableSeq(), Cursor: n.GetCursor()}
		if lc := n.GetLastContact(); lc != nil {
			b.LastContact = lc.AsTime()
			b.Online = now.Sub(b.LastContact) < offlineAfter
			b.Ago = p.T("hub.ago", int(now.Sub(b.LastContact).Seconds()))
		} else {
			b.Ago = p.T("hub.never")
		}
		if n.GetLastSeq() > n.GetDurableSeq() {
			b.Backlog = n.GetLastSeq() - n.GetDurableSeq()
		}
		if d.Head > b.Cursor {
			b.Behind = d.Head - b.Cursor
		}
		if b.Behind > 0 && n.GetLastContact() != nil {
			b.Lag = p.T("hub.lag_secs", int(n.GetLagSeconds()))
		}
		if n.GetLastContact() != nil && n.GetVersion() != "" {
			off := time.Duration(n.GetClockOffsetSeconds() * float64(time.Second))
			b.Clock = p.T("hub.clock_offset", off.Round(100*time.Millisecond).String())
			b.ClockWarn = off.Abs().Seconds() > st.GetMaxClockOffsetSeconds()/2
		}
		b.Version = n.GetVersion()
		for _, sc := range n.GetScopes() {
			switch k, id := replication.ScopeKind(sc); k {
			case "w":
				b.Holds = append(b.Holds, p.T("hub.holds_w", names.of("w", id)))
			case "e":
				b.Holds = append(b.Holds, p.T("hub.holds_e", names.of("w", id)))
			case "c":
				b.Holds = append(b.Holds, p.T("hub.holds_c", names.of("c", id)))
			}
		}
		if n.GetStuckSeq() != 0 {
			b.Stuck = p.T("hub.stuck_clock", n.GetStuckSeq(), n.GetStuckStamp().AsTime().In(s.Location()).Format("2006-01-02 15:04:05"))
		} else if n.GetStuck() != "" {
			b.Stuck = p.T("hub.stuck", n.GetStuck())
		}
		if b.Online {
			d.Online++
		} else {
			d.Offline++
		}
		d.Branches = append(d.Branches, b)
	}
	ids := make([]string, len(d.Branches))
	for i, b := range d.Branches {
		ids[i] = b.ID
	}
	conflicts := s.branchConflicts(ids)
	for i := range d.Branches {
		if n, ok := conflicts[d.Branches[i].ID]; ok {
			d.Branches[i].Conflicts = n
		} else {
			d.Branches[i].Conflicts = -1
		}
	}
	// Offline branches first: they are what head office looks for.
	sort.SliceStable(d.Branches, func(i, j int) bool { return !d.Branches[i].Online && d.Branches[j].Online })
	p.Data = d
	s.Render(w, r, "branches", status, p)
}

func (s *Pages) clusterPage(w http.ResponseWriter, r *http.Request) {
	p, st, ok := s.clusterStatus(w, r, "cluster", "hub.cluster")
	if !ok {
		return
	}
	p.Data = st
	s.Render(w, r, "cluster", http.StatusOK, p)
}

// holdNames name the warehouses ("w") and couriers ("c") a branch's
// scopes hold, by id: "上海仓 (WH-SH)", "李师傅 (courier.sh)" — this page
// is an administrator's, who needs the ids too.
type holdNames map[string]map[string]string

// of names id of kind; one without a name shows as its id.
func (n holdNames) of(kind, id string) string {
	if v := n[kind][id]; v != "" {
		return v
	}
	return id
}

// holdNames reads the names of warehouses and couriers; a failure shows
// ids.
func (s *Pages) holdNames() holdNames {
	out := holdNames{"w": {}, "c": {}}
	err := s.cluster.View(func(views replication.Tx) error {
		ws, err := warehouse.ListWarehouses(views)
		if err != nil {
			return err
		}
		for _, w := range ws {
			out["w"][w.ID] = stockui.CodeLabel(w.ID, w.Name)
		}
		cs, err := pickup.ListCouriers(views)
		for _, c := range cs {
			out["c"][c.User] = pickupui.CourierLabel(c)
		}
		return err
	})
	if err != nil {
		s.Log().Warn("branches: names", "err", err)
	}
	return out
}
