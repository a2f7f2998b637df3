package adminui

import (
	"net/http"
	"slices"
	"strings"

	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/web"
)

// Custom customer fields (自定义字段): the administrator defines them here;
// the customer form shows them.

// fieldKinds are the kinds of custom fields, in the order the form offers
// them.
var fieldKinds = []string{crm.CustomText, crm.CustomNumber, crm.CustomDate, crm.CustomChoice}

// fieldDefView is a custom field definition in the list.
type fieldDefView struct {
	Key     string
	Label   string
	Kind    string
	Options []string
	Retired bool
}

func viewFieldDef(f crm.CustomField) fieldDefView {
	return fieldDefView{Key: f.Key, Label: f.Label, Kind: f.Kind, Options: f.Options, Retired: f.Retired}
}

type fieldDefsData struct {
	adminPage
	Fields      []fieldDefView
	ShowRetired bool
	Kinds       []string
}

type fieldDefData struct {
	adminPage
	Field fieldDefView
}

// optionLines reads the options textarea: one option a line, blank lines
// left out.
func optionLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (s *Pages) fieldList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.fields.title")
	s.showFields(w, r, p, http.StatusOK)
}

func (s *Pages) showFields(w http.ResponseWriter, r *http.Request, p *web.Page, status int) {
	retired := r.URL.Query().Get("retired") == "1"
	defs, err := s.cfg.Customers.Fields(r.Context(), web.CallerOf(r), retired)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data := fieldDefsData{adminPage: adminNav(p, "fields"), ShowRetired: retired, Kinds: fieldKinds}
	for _, f := range defs {
		data.Fields = append(data.Fields, viewFieldDef(f))
	}
	p.Data = data
	s.Render(w, r, "admin_fields", status, p)
}

func (s *Pages) fieldDefine(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.fields.title")
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showFields(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	kind := p.Value("kind")
	if !slices.Contains(fieldKinds, kind) {
		kind = ""
	}
	d, err := s.cfg.Customers.DefineField(r.Context(), web.CallerOf(r), crm.CustomField{
		Key: p.Value("key"), Label: p.Value("label"), Kind: kind, Options: optionLines(p.Value("options")),
	})
	if err != nil {
		s.showFields(w, r, p, s.formFailed(p, err, "key", "label", "kind", "options"))
		return
	}
	web.Redirect(w, r, "/admin/fields", p.T("admin.fields.defined", d.Label))
}

// fieldDef reads the definition the path names.
func (s *Pages) fieldDef(r *http.Request) (crm.CustomField, error) {
	fs, err := s.cfg.Customers.Fields(r.Context(), web.CallerOf(r), true)
	if err != nil {
		return crm.CustomField{}, err
	}
	i := slices.IndexFunc(fs, func(f crm.CustomField) bool { return f.Key == r.PathValue("key") })
	if i < 0 {
		return crm.CustomField{}, errNoSuchPage
	}
	return fs[i], nil
}

func (s *Pages) fieldEdit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.fields.edit")
	f, err := s.fieldDef(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	p.Form.Set("label", f.Label)
	p.Form.Set("options", strings.Join(f.Options, "\n"))
	p.Data = fieldDefData{adminPage: adminNav(p, "fields"), Field: viewFieldDef(f)}
	s.Render(w, r, "admin_field", http.StatusOK, p)
}

// fieldUpdate changes a definition's label and options; the use case
// writes each only when it changed.
func (s *Pages) fieldUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.fields.edit")
	f, err := s.fieldDef(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	p.Data = fieldDefData{adminPage: adminNav(p, "fields"), Field: viewFieldDef(f)}
	if !web.ReadForm(w, r, p, 64<<10) {
		s.Render(w, r, "admin_field", http.StatusRequestEntityTooLarge, p)
		return
	}
	paths := []string{"label"}
	if f.Kind == crm.CustomChoice {
		paths = append(paths, "options")
	}
	_, changed, err := s.cfg.Customers.UpdateField(r.Context(), web.CallerOf(r), crmapp.FieldUpdate{
		Key: f.Key, Label: p.Value("label"), Options: optionLines(p.Value("options")), Paths: paths,
	})
	if err != nil {
		s.Render(w, r, "admin_field", s.formFailed(p, err, "label", "options"), p)
		return
	}
	if !changed {
		web.Redirect(w, r, "/admin/fields", p.T("admin.unchanged"))
		return
	}
	web.Redirect(w, r, "/admin/fields", p.T("admin.saved"))
}

func (s *Pages) fieldRetire(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.fields.title")
	d, err := s.cfg.Customers.RetireField(r.Context(), web.CallerOf(r), r.PathValue("key"))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	web.Redirect(w, r, "/admin/fields", p.T("admin.fields.retired", d.Label))
}
