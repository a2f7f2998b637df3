package web

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	accessv1 "branchline/gen/branchline/access/v1"
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
func deptTree(ds []*accessv1.Department) []deptView {
	byParent := map[string][]*accessv1.Department{}
	have := map[string]bool{}
	for _, d := range ds {
		have[d.GetName()] = true
	}
	for _, d := range ds {
		parent := d.GetParent()
		if !have[parent] {
			parent = ""
		}
		byParent[parent] = append(byParent[parent], d)
	}
	var out []deptView
	var walk func(parent, path string, depth int)
	walk = func(parent, path string, depth int) {
		kids := byParent[parent]
		slices.SortFunc(kids, func(a, b *accessv1.Department) int {
			return cmp.Or(cmp.Compare(a.GetDisplayName(), b.GetDisplayName()), cmp.Compare(a.GetName(), b.GetName()))
		})
		for _, d := range kids {
			v := deptView{
				Name: d.GetName(), ID: strings.TrimPrefix(d.GetName(), "departments/"), Label: d.GetDisplayName(),
				Parent: d.GetParent(), Depth: depth, Retired: d.GetRetired(), Path: d.GetDisplayName(),
			}
			if path != "" {
				v.Path = path + " › " + v.Label
			}
			out = append(out, v)
			if depth < maxDeptDepth {
				walk(d.GetName(), v.Path, depth+1)
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
func (s *Server) departments(ctx context.Context, retired bool) ([]deptView, error) {
	resp, err := s.cfg.Access.ListDepartments(ctx, connect.NewRequest(&accessv1.ListDepartmentsRequest{ShowRetired: retired}))
	if err != nil {
		return nil, err
	}
	return deptTree(resp.Msg.GetDepartments()), nil
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

func (s *Server) departmentList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.departments.title")
	s.showDepartments(w, r, p, http.StatusOK)
}

func (s *Server) showDepartments(w http.ResponseWriter, r *http.Request, p *Page, status int) {
	retired := r.URL.Query().Get("retired") == "1"
	tree, err := s.departments(r.Context(), retired)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	active := tree
	if retired {
		active = slices.DeleteFunc(slices.Clone(tree), func(d deptView) bool { return d.Retired })
	}
	p.Data = deptsData{adminPage: adminNav(p, "departments"), Tree: tree, Active: active, ShowRetired: retired}
	s.render(w, r, "admin_departments", status, p)
}

func (s *Server) departmentCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.departments.title")
	if !readAdminForm(w, r, p, 16<<10) {
		s.showDepartments(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	_, err := s.cfg.Access.CreateDepartment(apiCtx(r), connect.NewRequest(&accessv1.CreateDepartmentRequest{
		Department: &accessv1.Department{DisplayName: p.Value("display_name"), Parent: p.Value("parent")},
	}))
	if err != nil {
		s.showDepartments(w, r, p, s.formFailed(p, err, "display_name", "parent"))
		return
	}
	redirect(w, r, "/admin/departments", p.T("admin.departments.created", p.Value("display_name")))
}

// department finds one department of the tree (retired ones too).
func (s *Server) department(r *http.Request) (deptView, []deptView, error) {
	tree, err := s.departments(r.Context(), true)
	if err != nil {
		return deptView{}, nil, err
	}
	name := "departments/" + r.PathValue("id")
	i := slices.IndexFunc(tree, func(d deptView) bool { return d.Name == name })
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

func (s *Server) departmentEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.departments.edit")
	d, tree, err := s.department(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Form.Set("display_name", d.Label)
	p.Form.Set("parent", d.Parent)
	s.showDepartment(w, r, p, d, tree, http.StatusOK)
}

func (s *Server) showDepartment(w http.ResponseWriter, r *http.Request, p *Page, d deptView, tree []deptView, status int) {
	p.Data = deptData{adminPage: adminNav(p, "departments"), Dept: d, Parents: parentChoices(tree, d)}
	s.render(w, r, "admin_department", status, p)
}

// departmentUpdate renames and moves a department: each only when it
// changed, so that a rename here does not undo a move made elsewhere.
func (s *Server) departmentUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.departments.edit")
	d, tree, err := s.department(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if !readAdminForm(w, r, p, 16<<10) {
		s.showDepartment(w, r, p, d, tree, http.StatusRequestEntityTooLarge)
		return
	}
	ctx := apiCtx(r)
	changed := false
	if name := p.Value("display_name"); name != d.Label {
		_, err := s.cfg.Access.UpdateDepartment(ctx, connect.NewRequest(&accessv1.UpdateDepartmentRequest{
			Department: &accessv1.Department{Name: d.Name, DisplayName: name},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
		}))
		if err != nil {
			s.showDepartment(w, r, p, d, tree, s.formFailed(p, err, "display_name"))
			return
		}
		changed = true
	}
	if parent := p.Value("parent"); parent != d.Parent {
		_, err := s.cfg.Access.MoveDepartment(ctx, connect.NewRequest(&accessv1.MoveDepartmentRequest{Name: d.Name, Parent: parent}))
		if err != nil {
			s.showDepartment(w, r, p, d, tree, s.formFailed(p, err, "parent"))
			return
		}
		changed = true
	}
	if !changed {
		redirect(w, r, "/admin/departments/"+d.ID, p.T("admin.unchanged"))
		return
	}
	redirect(w, r, "/admin/departments", p.T("admin.saved"))
}

// departmentRetire retires a department (retired=1) or reinstates it.
func (s *Server) departmentRetire(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.departments.edit")
	d, tree, err := s.department(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if !readAdminForm(w, r, p, 4<<10) {
		s.showDepartment(w, r, p, d, tree, http.StatusRequestEntityTooLarge)
		return
	}
	retire := p.Value("retired") == "1"
	p.Form.Set("display_name", d.Label)
	p.Form.Set("parent", d.Parent)
	_, err = s.cfg.Access.UpdateDepartment(apiCtx(r), connect.NewRequest(&accessv1.UpdateDepartmentRequest{
		Department: &accessv1.Department{Name: d.Name, Retired: retire},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"retired"}},
	}))
	if err != nil {
		s.showDepartment(w, r, p, d, tree, s.formFailed(p, err))
		return
	}
	msg := "admin.departments.reinstated"
	if retire {
		msg = "admin.departments.retired"
	}
	redirect(w, r, "/admin/departments", p.T(msg, d.Label))
}
