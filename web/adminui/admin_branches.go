package adminui

import (
	"net/http"
	"slices"

	"branchline/access"
	"branchline/web"
)

// The branches page (网点): the name people call each branch by, which
// every page shows instead of the branch's node id. Branches are named by
// node id, which an administrator reads off the branch's own header or
// the hub's branch health page.

type branchRow struct {
	ID, Name string
	Here     bool // this node
}

type branchesData struct {
	adminPage
	Branches []branchRow
}

func (s *Pages) branchList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.branches.title")
	// ?branch= picks a branch to rename: the form shows its name.
	id := r.URL.Query().Get("branch")
	if id == "" {
		id = s.Site()
	}
	p.Form.Set("branch", id)
	p.Form.Set("display_name", p.BranchNames()[id])
	s.showBranches(w, r, p, http.StatusOK)
}

func (s *Pages) showBranches(w http.ResponseWriter, r *http.Request, p *web.Page, status int) {
	bs, err := s.cfg.Access.Branches(r.Context(), web.CallerOf(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	d := branchesData{adminPage: adminNav(p, "branches")}
	for _, b := range bs {
		d.Branches = append(d.Branches, branchRow{ID: b.ID, Name: b.Name, Here: b.ID == s.Site()})
	}
	if !slices.ContainsFunc(bs, func(b access.Branch) bool { return b.ID == s.Site() }) {
		d.Branches = append([]branchRow{{ID: s.Site(), Here: true}}, d.Branches...)
	}
	p.Data = d
	s.Render(w, r, "admin_branches", status, p)
}

func (s *Pages) branchName(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.branches.title")
	if !web.ReadForm(w, r, p, 4<<10) {
		s.showBranches(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	id, name := p.Value("branch"), p.Value("display_name")
	changed, err := s.cfg.Access.NameBranch(r.Context(), web.CallerOf(r), id, name)
	if err != nil {
		s.showBranches(w, r, p, s.formFailed(p, err, "branch", "display_name"))
		return
	}
	msg := p.T("admin.unchanged")
	if changed {
		msg = p.T("admin.branches.named", id)
	}
	web.Redirect(w, r, "/admin/branches", msg)
}
