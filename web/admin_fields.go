package web

import (
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	crmv1 "branchline/gen/branchline/crm/v1"
)

// Custom customer fields (自定义字段): the administrator defines them here;
// the customer form shows them.

// fieldKinds are the kinds of custom fields, in the order the form offers
// them.
var fieldKinds = enumNames[crmv1.CustomFieldKind]{
	{"text", crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_TEXT},
	{"number", crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_NUMBER},
	{"date", crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_DATE},
	{"choice", crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE},
}

// fieldDefView is a custom field definition in the list.
type fieldDefView struct {
	Key     string
	Label   string
	Kind    string
	Options []string
	Retired bool
}

func viewFieldDef(f *crmv1.CustomField) fieldDefView {
	return fieldDefView{Key: f.GetKey(), Label: f.GetLabel(), Kind: fieldKinds.name(f.GetKind()), Options: f.GetOptions(), Retired: f.GetRetired()}
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

func (s *Server) fieldList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.fields.title")
	s.showFields(w, r, p, http.StatusOK)
}

func (s *Server) showFields(w http.ResponseWriter, r *http.Request, p *Page, status int) {
	retired := r.URL.Query().Get("retired") == "1"
	resp, err := s.cfg.Customers.ListCustomFields(r.Context(), connect.NewRequest(&crmv1.ListCustomFieldsRequest{ShowRetired: retired}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data := fieldDefsData{adminPage: adminNav(p, "fields"), ShowRetired: retired, Kinds: fieldKinds.names()}
	for _, f := range resp.Msg.GetFields() {
		data.Fields = append(data.Fields, viewFieldDef(f))
	}
	p.Data = data
	s.render(w, r, "admin_fields", status, p)
}

func (s *Server) fieldDefine(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.fields.title")
	if !readAdminForm(w, r, p, 64<<10) {
		s.showFields(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	resp, err := s.cfg.Customers.DefineCustomField(apiCtx(r), connect.NewRequest(&crmv1.DefineCustomFieldRequest{Field: &crmv1.CustomField{
		Key: p.Value("key"), Label: p.Value("label"), Kind: fieldKinds.value(p.Value("kind")), Options: optionLines(p.Value("options")),
	}}))
	if err != nil {
		s.showFields(w, r, p, s.formFailed(p, err, "key", "label", "kind", "options"))
		return
	}
	redirect(w, r, "/admin/fields", p.T("admin.fields.defined", resp.Msg.GetLabel()))
}

// fieldDef reads the definition the path names.
func (s *Server) fieldDef(r *http.Request) (*crmv1.CustomField, error) {
	resp, err := s.cfg.Customers.ListCustomFields(r.Context(), connect.NewRequest(&crmv1.ListCustomFieldsRequest{ShowRetired: true}))
	if err != nil {
		return nil, err
	}
	fs := resp.Msg.GetFields()
	i := slices.IndexFunc(fs, func(f *crmv1.CustomField) bool { return f.GetKey() == r.PathValue("key") })
	if i < 0 {
		return nil, errNoSuchPage
	}
	return fs[i], nil
}

func (s *Server) fieldEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.fields.edit")
	f, err := s.fieldDef(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Form.Set("label", f.GetLabel())
	p.Form.Set("options", strings.Join(f.GetOptions(), "\n"))
	p.Data = fieldDefData{adminPage: adminNav(p, "fields"), Field: viewFieldDef(f)}
	s.render(w, r, "admin_field", http.StatusOK, p)
}

// fieldUpdate changes a definition's label and options, each only when it
// changed.
func (s *Server) fieldUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.fields.edit")
	f, err := s.fieldDef(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Data = fieldDefData{adminPage: adminNav(p, "fields"), Field: viewFieldDef(f)}
	if !readAdminForm(w, r, p, 64<<10) {
		s.render(w, r, "admin_field", http.StatusRequestEntityTooLarge, p)
		return
	}
	in := &crmv1.CustomField{Key: f.GetKey(), Label: p.Value("label"), Options: optionLines(p.Value("options"))}
	var mask []string
	if in.GetLabel() != f.GetLabel() {
		mask = append(mask, "label")
	}
	if f.GetKind() == crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE && !slices.Equal(in.GetOptions(), f.GetOptions()) {
		mask = append(mask, "options")
	}
	if len(mask) == 0 {
		redirect(w, r, "/admin/fields", p.T("admin.unchanged"))
		return
	}
	if _, err := s.cfg.Customers.UpdateCustomField(apiCtx(r), connect.NewRequest(&crmv1.UpdateCustomFieldRequest{
		Field: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	})); err != nil {
		s.render(w, r, "admin_field", s.formFailed(p, err, "label", "options"), p)
		return
	}
	redirect(w, r, "/admin/fields", p.T("admin.saved"))
}

func (s *Server) fieldRetire(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.fields.title")
	resp, err := s.cfg.Customers.RetireCustomField(apiCtx(r), connect.NewRequest(&crmv1.RetireCustomFieldRequest{Name: "customFields/" + r.PathValue("key")}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/admin/fields", p.T("admin.fields.retired", resp.Msg.GetLabel()))
}
