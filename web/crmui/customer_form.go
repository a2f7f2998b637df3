package crmui

import (
	"errors"
	"net/http"
	"strings"

	"branchline/access"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/web"
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
func customerFields(p *web.Page, defs []crm.CustomField) []formField {
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
		ff := formField{Name: crm.CustomPrefix + d.Key, Label: d.Label, Type: "text"}
		switch d.Kind {
		case crm.CustomNumber:
			ff.Type = "decimal"
		case crm.CustomDate:
			ff.Type = "date"
		case crm.CustomChoice:
			ff.Type, ff.Options = "choice", d.Options
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

// viewDuplicates prepares duplicates for display, the reasons in the
// page's language.
func viewDuplicates(p *web.Page, dups []crmapp.Duplicate) []duplicateView {
	var out []duplicateView
	for _, d := range dups {
		c := d.Customer
		v := duplicateView{ID: c.ID, Name: c.Name(), City: c.Get("city"), Owner: c.Get("owner")}
		if v.Phone = c.Get("mobile"); v.Phone == "" {
			v.Phone = c.Get("phone")
		}
		v.Phone = web.DisplayPhone(v.Phone)
		var rs []string
		for _, reason := range d.Reasons {
			rs = append(rs, reasonLabel(p, reason))
		}
		v.Reasons = strings.Join(rs, p.T("list.sep"))
		out = append(out, v)
	}
	return out
}

// reasonLabel names why two customers look alike: the shared phone field,
// a contact's phone, or the name.
func reasonLabel(p *web.Page, reason string) string {
	switch reason {
	case "name":
		return p.T("duplicate.same_name")
	case "contact_phone":
		return p.T("duplicate.contact_phone")
	}
	return p.T("duplicate.same_field", fieldLabel(p, nil, reason))
}

func (s *Pages) customerNew(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "new", "customer.new")
	if !p.Can(string(access.CustomerWrite)) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
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
	s.Render(w, r, "customer_form", http.StatusOK, p)
}

// parseForm reads a urlencoded form of bounded size; it renders the
// error itself and reports false when the body is too large.
func (s *Pages) parseForm(w http.ResponseWriter, r *http.Request, p *web.Page, tmpl string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		p.Errors[""] = p.T("form.too_large")
		s.Render(w, r, tmpl, http.StatusRequestEntityTooLarge, p)
		return false
	}
	return true
}

// submitted reads the fields of a form that were sent, trimmed, into
// p.Form and a map for the use case.
func submitted(r *http.Request, p *web.Page, fields []formField) map[string]string {
	out := map[string]string{}
	for _, f := range fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		if _, sent := r.PostForm[f.Name]; sent {
			out[f.Name] = v
		}
	}
	return out
}

// customerCreate creates a customer. When it looks like existing ones,
// the form comes back listing them, with a box to create it anyway.
func (s *Pages) customerCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "new", "customer.new")
	defs := s.customFields(r)
	data := formData{Fields: customerFields(p, defs)}
	p.Data = data
	if !s.parseForm(w, r, p, "customer_form") {
		return
	}
	fields := submitted(r, p, data.Fields)
	for n, v := range fields {
		if v == "" {
			delete(fields, n)
		}
	}
	anyway := r.PostFormValue("allow_duplicate") != ""
	c, err := s.cfg.Customers.Create(r.Context(), web.CallerOf(r), crmapp.CustomerCreate{Fields: fields, AllowDuplicate: anyway})
	if dup := (*crmapp.DuplicatesError)(nil); errors.As(err, &dup) {
		data.Duplicates = viewDuplicates(p, dup.Found)
		p.Data = data
		p.Errors[""] = p.N("customer.duplicates_found", len(dup.Found))
		s.Render(w, r, "customer_form", http.StatusConflict, p)
		return
	}
	if err != nil {
		s.Render(w, r, "customer_form", s.failedOn(p, err, defs, formNames(data.Fields)...), p)
		return
	}
	web.Redirect(w, r, "/customers/"+c.ID, p.T("customer.created"))
}

func (s *Pages) customerEdit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customer.edit")
	c, err := s.cfg.Customers.Get(r.Context(), web.CallerOf(r), customerID(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if c.ID != customerID(r) { // merged: edit the survivor
		web.Redirect(w, r, "/customers/"+c.ID+"/edit", p.T("customer.merged_notice"))
		return
	}
	defs := s.customFields(r)
	for _, f := range crm.Fields {
		p.Form.Set(f.Name, formValueOf(c, f.Name))
	}
	for _, d := range defs {
		p.Form.Set(crm.CustomPrefix+d.Key, c.Custom[d.Key])
	}
	p.Title = p.T("customer.edit_title", c.Name())
	p.Data = formData{ID: c.ID, Fields: customerFields(p, defs)}
	s.Render(w, r, "customer_form", http.StatusOK, p)
}

// customerUpdate sends the form's fields to the use case, which writes
// only those the user changed — so that an edit of one field at this
// branch does not overwrite a concurrent edit of another field at another
// branch, and a masked phone number left as it was is not a change — in
// one event, reading the customer once.
func (s *Pages) customerUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customer.edit")
	defs := s.customFields(r)
	data := formData{ID: customerID(r), Fields: customerFields(p, defs)}
	p.Data = data
	if !s.parseForm(w, r, p, "customer_form") {
		return
	}
	fields := submitted(r, p, data.Fields)
	data.Fields = customerFields(p, defs) // masked flags follow the values sent
	p.Data = data
	if len(fields) == 0 {
		web.Redirect(w, r, "/customers/"+customerID(r), p.T("customer.unchanged"))
		return
	}
	c, changed, err := s.cfg.Customers.Update(r.Context(), web.CallerOf(r), crmapp.CustomerUpdate{ID: customerID(r), Fields: fields})
	if err != nil {
		status := s.failedOn(p, err, defs, formNames(data.Fields)...)
		if cur, err := s.cfg.Customers.Get(r.Context(), web.CallerOf(r), customerID(r)); err == nil {
			p.Title = p.T("customer.edit_title", cur.Name())
		}
		s.Render(w, r, "customer_form", status, p)
		return
	}
	if !changed {
		web.Redirect(w, r, "/customers/"+c.ID, p.T("customer.unchanged"))
		return
	}
	web.Redirect(w, r, "/customers/"+c.ID, p.T("customer.saved"))
}

// formValueOf is a field's value as the edit form shows it: phones in
// national format.
func formValueOf(c *crmapp.Customer, name string) string {
	v := c.Get(name)
	if crm.IsPhoneField(name) {
		return web.DisplayPhone(v)
	}
	return v
}
