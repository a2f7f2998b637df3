package adminui

import (
	"cmp"
	"context"
	"net/http"
	"slices"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	"branchline/web"
)

// deptView is a department as the pages show it: in tree order, with its
// depth.
type deptView struct {
	Name    string // "departments/{id}"
	ID      string
	Label   string
	Parent  string
	Depth   int
	Retired bool
	Path    string // "华东区 › 上海浦东营业部"
}

// Option is the department's text in a select: its path, which reads
// well also in a closed select, where indentation would not.
func (d deptView) Option() string { return d.Path }

// Indent is the CSS class that indents the department in a table.
func (d deptView) Indent() string { return "depth-" + string(rune('0'+min(d.Depth, 9))) }

// deptTree orders departments depth-first, siblings by name. A department
// whose parent is not in the list (retired and hidden) shows at the top.
func deptTree(ds []*access.Department) []deptView {
	byParent := map[string][]*access.Department{}
	have := map[string]bool{}
	for _, d := range ds {
		have[d.ID] = true
	}
	for _, d := range ds {
		parent := d.Parent
		if !have[parent] {
			parent = ""
		}
		byParent[parent] = append(byParent[parent], d)
	}
	var out []deptView
	var walk func(parent, path string, depth int)
	walk = func(parent, path string, depth int) {
		kids := byParent[parent]
		slices.SortFunc(kids, func(a, b *access.Department) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
		for _, d := range kids {
			v := deptView{
				Name: deptRes + d.ID, ID: d.ID, Label: d.Name,
				Parent: nameOf(deptRes, d.Parent), Depth: depth, Retired: d.Retired, Path: d.Name,
			}
			if path != "" {
				v.Path = path + " › " + v.Label
			}
			out = append(out, v)
			if depth < maxDeptDepth {
				walk(d.ID, v.Path, depth+1)
			}
		}
	}
	walk("", "", 0)
	return out
}

// maxDeptDepth bounds the tree walk; the access package refuses cycles, this
// only keeps a damaged view from recursing forever.
const maxDeptDepth = 64

// departments reads the department tree.
func (s *Pages) departments(ctx context.Context, c app.Caller, retired bool) ([]deptView, error) {
	ds, err := s.cfg.Access.Departments(ctx, c, retired)
	if err != nil {
		return nil, err
	}
	return deptTree(ds), nil
}

// deptLabels maps department names to their display names.
func deptLabels(tree []deptView) map[string]string {
	out := make(map[string]string, len(tree))
	for _, d := range tree {
		out[d.Name] = d.Label
	}
	return out
}

type deptsData struct {
	adminPage
	Tree        []deptView
	Active      []deptView // for the parent select
	ShowRetired bool
}

type deptData struct {
	adminPage
	Dept    deptView
	Parents []deptView // where it may move: not below itself
}

func (s *Pages) departmentList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.departments.title")
	s.showDepartments(w, r, p, http.StatusOK)
}

func (s *Pages) showDepartments(w http.ResponseWriter, r *http.Request, p *web.Page, status int) {
	retired := r.URL.Query().Get("retired") == "1"
	tree, err := s.departments(r.Context(), web.CallerOf(r), retired)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	active := tree
	if retired {
		active = slices.DeleteFunc(slices.Clone(tree), func(d deptView) bool { return d.Retired })
	}
	p.Data = deptsData{adminPage: adminNav(p, "departments"), Tree: tree, Active: active, ShowRetired: retired}
	s.Render(w, r, "admin_departments", status, p)
}

func (s *Pages) departmentCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.departments.title")
	if !web.ReadForm(w, r, p, 16<<10) {
		s.showDepartments(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	_, err := s.cfg.Access.CreateDepartment(r.Context(), web.CallerOf(r), &accessapp.DepartmentCreate{
		Name: p.Value("display_name"), Parent: idOf(deptRes, p.Value("parent"))})
	if err != nil {
		s.showDepartments(w, r, p, s.formFailed(p, err, "display_name", "parent"))
		return
	}
	web.Redirect(w, r, "/admin/departments", p.T("admin.departments.created", p.Value("display_name")))
}

// department finds one department of the tree (retired ones too).
func (s *Pages) department(r *http.Request) (deptView, []deptView, error) {
	tree, err := s.departments(r.Context(), web.CallerOf(r), true)
	if err != nil {
		return deptView{}, nil, err
	}
	i := slices.IndexFunc(tree, func(d deptView) bool { return d.ID == r.PathValue("id") })
	if i < 0 {
		return deptView{}, nil, errNoSuchPage
	}
	return tree[i], tree, nil
}

// parentChoices are the active departments d may move below: not d nor
// anything below it. tree is in tree order, so d's subtree is the run of
// deeper departments after it.
func parentChoices(tree []deptView, d deptView) []deptView {
	var out []deptView
	skip := -1
	for _, x := range tree {
		if skip >= 0 && x.Depth > skip {
			continue
		}
		skip = -1
		if x.Name == d.Name {
			skip = x.Depth
			continue
		}
		if !x.Retired {
			out = append(out, x)
		}
	}
	return out
}

func (s *Pages) departmentEdit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.departments.edit")
	d, tree, err := s.department(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	p.Form.Set("display_name", d.Label)
	p.Form.Set("parent", d.Parent)
	s.showDepartment(w, r, p, d, tree, http.StatusOK)
}

func (s *Pages) showDepartment(w http.ResponseWriter, r *http.Request, p *web.Page, d deptView, tree []deptView, status int) {
	p.Data = deptData{adminPage: adminNav(p, "departments"), Dept: d, Parents: parentChoices(tree, d)}
	s.Render(w, r, "admin_department", status, p)
}

// departmentUpdate renames and moves a department: each only when it
// changed, so that a rename here does not undo a move made elsewhere.
func (s *Pages) departmentUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.departments.edit")
	d, tree, err := s.department(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if !web.ReadForm(w, r, p, 16<<10) {
		s.showDepartment(w, r, p, d, tree, http.StatusRequestEntityTooLarge)
		return
	}
	ctx, c := r.Context(), web.CallerOf(r)
	changed := false
	if name := p.Value("display_name"); name != d.Label {
		_, err := s.cfg.Access.UpdateDepartment(ctx, c, &accessapp.DepartmentUpdate{ID: d.ID, Name: name, Paths: []string{"display_name"}})
		if err != nil {
			s.showDepartment(w, r, p, d, tree, s.formFailed(p, err, "display_name"))
			return
		}
		changed = true
	}
	if parent := p.Value("parent"); parent != d.Parent {
		_, err := s.cfg.Access.MoveDepartment(ctx, c, d.ID, idOf(deptRes, parent))
		if err != nil {
			s.showDepartment(w, r, p, d, tree, s.formFailed(p, err, "parent"))
			return
		}
		changed = true
	}
	if !changed {
		web.Redirect(w, r, "/admin/departments/"+d.ID, p.T("admin.unchanged"))
		return
	}
	web.Redirect(w, r, "/admin/departments", p.T("admin.saved"))
}

// departmentRetire retires a department (retired=1) or reinstates it.
func (s *Pages) departmentRetire(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.departments.edit")
	d, tree, err := s.department(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if !web.ReadForm(w, r, p, 4<<10) {
		s.showDepartment(w, r, p, d, tree, http.StatusRequestEntityTooLarge)
		return
	}
	retire := p.Value("retired") == "1"
	p.Form.Set("display_name", d.Label)
	p.Form.Set("parent", d.Parent)
	_, err = s.cfg.Access.UpdateDepartment(r.Context(), web.CallerOf(r), &accessapp.DepartmentUpdate{ID: d.ID, Retired: retire, Paths: []string{"retired"}})
	if err != nil {
		s.showDepartment(w, r, p, d, tree, s.formFailed(p, err))
		return
	}
	msg := "admin.departments.reinstated"
	if retire {
		msg = "admin.departments.retired"
	}
	web.Redirect(w, r, "/admin/departments", p.T(msg, d.Label))
}
