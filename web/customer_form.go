package web

import (
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"branchline/access"
	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
)

// formField is one input of the customer or contact form.
type formField struct {
	Name  string
	Label string
	// Type is the input: an <input> type, "textarea" or "choice" (a
	// select of Options).
	Type     string
	Options  []string
	Wide     bool
	Required bool
	// Masked says the value is a masked phone number: left as it is, it
	// is not written.
	Masked bool
}

// customerFields lists the inputs of the customer form: the built-in
// fields, then the custom ones.
func customerFields(p *Page, defs []*crmv1.CustomField) []formField {
	var out []formField
	for _, f := range crm.Fields {
		ff := formField{Name: f.Name, Label: fieldLabel(p, defs, f.Name), Type: "text", Required: f.Required}
		switch {
		case crm.IsPhoneField(f.Name):
			ff.Type = "tel"
			ff.Masked = strings.Contains(p.Value(f.Name), "*")
		case f.Name == "email":
			ff.Type = "email"
		case f.Name == "credit_limit":
			ff.Type = "decimal"
		case f.Name == "note":
			ff.Type, ff.Wide = "textarea", true
		case f.Name == "address":
			ff.Wide = true
		}
		out = append(out, ff)
	}
	for _, d := range defs {
		ff := formField{Name: "custom." + d.GetKey(), Label: d.GetLabel(), Type: "text"}
		switch d.GetKind() {
		case crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_NUMBER:
			ff.Type = "decimal"
		case crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_DATE:
			ff.Type = "date"
		case crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE:
			ff.Type, ff.Options = "choice", d.GetOptions()
		}
		out = append(out, ff)
	}
	return out
}

// formNames lists the names of a form's inputs.
func formNames(fields []formField) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return names
}

type formData struct {
	ID     string
	Fields []formField
	// Duplicates are the customers a new one may duplicate; the form
	// then offers to create it anyway.
	Duplicates []duplicateView
}

// duplicateView is an existing customer a new or shown one may duplicate.
type duplicateView struct {
	ID, Name, City, Phone, Owner string
	Reasons                      string
}

// viewDuplicates prepares FindDuplicates results for display, the reasons
// in the page's language.
func viewDuplicates(p *Page, dups []*crmv1.Duplicate) []duplicateView {
	var out []duplicateView
	for _, d := range dups {
		c := d.GetCustomer()
		v := duplicateView{ID: idOf(c.GetName()), Name: c.GetDisplayName(), City: c.GetCity(), Owner: c.GetOwner()}
		if v.Phone = c.GetMobile(); v.Phone == "" {
			v.Phone = c.GetPhone()
		}
		v.Phone = displayPhone(v.Phone)
		var rs []string
		for _, reason := range d.GetReasons() {
			rs = append(rs, reasonLabel(p, reason))
		}
		v.Reasons = strings.Join(rs, p.T("list.sep"))
		out = append(out, v)
	}
	return out
}

// reasonLabel names why two customers look alike: the shared phone field,
// a contact's phone, or the name.
func reasonLabel(p *Page, reason string) string {
	switch reason {
	case "name":
		return p.T("duplicate.same_name")
	case "contact_phone":
		return p.T("duplicate.contact_phone")
	}
	return p.T("duplicate.same_field", fieldLabel(p, nil, reason))
}

// duplicatesOf returns the candidates an ALREADY_EXISTS answer of
// CreateCustomer carries.
func duplicatesOf(err error) ([]*crmv1.Duplicate, bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeAlreadyExists {
		return nil, false
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if found, ok := v.(*crmv1.FindDuplicatesResponse); derr == nil && ok {
			return found.GetDuplicates(), true
		}
	}
	return nil, false
}

func (s *Server) customerNew(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "new", "customer.new")
	if !p.Can(string(access.CustomerWrite)) {
		s.render(w, r, "error", s.failed(p, errDeniedPage), p)
		return
	}
	// The desk's screen pop for an unknown caller links here with the
	// caller's number.
	for _, f := range []string{"mobile", "phone"} {
		if v := r.URL.Query().Get(f); v != "" && len(v) <= 32 {
			p.Form.Set(f, v)
		}
	}
	p.Data = formData{Fields: customerFields(p, s.customFields(r))}
	s.render(w, r, "customer_form", http.StatusOK, p)
}

// parseForm reads a urlencoded form of bounded size; it renders the
// error itself and reports false when the body is too large.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, p *Page, tmpl string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		p.Errors[""] = p.T("form.too_large")
		s.render(w, r, tmpl, http.StatusRequestEntityTooLarge, p)
		return false
	}
	return true
}

// customerCreate creates a customer. When it looks like existing ones,
// the form comes back listing them, with a box to create it anyway.
func (s *Server) customerCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "new", "customer.new")
	defs := s.customFields(r)
	data := formData{Fields: customerFields(p, defs)}
	p.Data = data
	if !s.parseForm(w, r, p, "customer_form") {
		return
	}
	c := &crmv1.Customer{}
	for _, f := range data.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		if v != "" {
			set(c, f.Name, v)
		}
	}
	anyway := r.PostFormValue("allow_duplicate") != ""
	resp, err := s.cfg.Customers.CreateCustomer(r.Context(), connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: c, AllowDuplicate: anyway}))
	if dups, ok := duplicatesOf(err); ok {
		data.Duplicates = viewDuplicates(p, dups)
		p.Data = data
		p.Errors[""] = p.T("customer.duplicates_found", len(dups))
		s.render(w, r, "customer_form", http.StatusConflict, p)
		return
	}
	if err != nil {
		s.render(w, r, "customer_form", s.failedOn(p, err, defs, formNames(data.Fields)...), p)
		return
	}
	redirect(w, r, "/"+resp.Msg.GetName(), p.T("customer.created"))
}

func (s *Server) loadCustomer(r *http.Request) (*crmv1.Customer, error) {
	resp, err := s.cfg.Customers.GetCustomer(r.Context(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: customerName(r)}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (s *Server) customerEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.edit")
	c, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if c.GetName() != customerName(r) { // merged: edit the survivor
		redirect(w, r, "/"+c.GetName()+"/edit", p.T("customer.merged_notice"))
		return
	}
	defs := s.customFields(r)
	for _, f := range crm.Fields {
		p.Form.Set(f.Name, formValueOf(c, f.Name))
	}
	for _, d := range defs {
		p.Form.Set("custom."+d.GetKey(), c.GetCustom()[d.GetKey()])
	}
	p.Title = p.T("customer.edit_title", c.GetDisplayName())
	p.Data = formData{ID: r.PathValue("id"), Fields: customerFields(p, defs)}
	s.render(w, r, "customer_form", http.StatusOK, p)
}

// customerUpdate writes only the fields the user changed, so that an edit
// of one field at this branch does not overwrite a concurrent edit of
// another field at another branch. A masked phone number left as it was
// is not a change.
func (s *Server) customerUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.edit")
	defs := s.customFields(r)
	data := formData{ID: r.PathValue("id"), Fields: customerFields(p, defs)}
	p.Data = data
	if !s.parseForm(w, r, p, "customer_form") {
		return
	}
	cur, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Title = p.T("customer.edit_title", cur.GetDisplayName())
	c := &crmv1.Customer{Name: cur.GetName()}
	var mask []string
	for _, f := range data.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		if _, sent := r.PostForm[f.Name]; !sent || v == get(cur, f.Name) || v == formValueOf(cur, f.Name) {
			continue
		}
		set(c, f.Name, v)
		mask = append(mask, f.Name)
	}
	data.Fields = customerFields(p, defs) // masked flags follow the values sent
	p.Data = data
	if len(mask) == 0 {
		redirect(w, r, "/"+cur.GetName(), p.T("customer.unchanged"))
		return
	}
	if _, err := s.cfg.Customers.UpdateCustomer(r.Context(), connect.NewRequest(&crmv1.UpdateCustomerRequest{
		Customer: c, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	})); err != nil {
		s.render(w, r, "customer_form", s.failedOn(p, err, defs, formNames(data.Fields)...), p)
		return
	}
	redirect(w, r, "/"+cur.GetName(), p.T("customer.saved"))
}

// formValueOf is a field's value as the edit form shows it: phones in
// national format, the parent customer by id.
func formValueOf(c *crmv1.Customer, name string) string {
	v := get(c, name)
	switch {
	case crm.IsPhoneField(name):
		return displayPhone(v)
	case name == "parent":
		return idOf(v)
	}
	return v
}
