package crmui

import (
	"net/http"
	"strings"

	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/web"
)

func contactLabel(p *web.Page, name string) string {
	if t := p.T("contact." + name); t != "contact."+name {
		return t
	}
	return name
}

// contactFieldList turns "title,mobile" into the fields' labels.
func contactFieldList(p *web.Page, s string) string {
	var labels []string
	for _, f := range strings.Split(s, ",") {
		if f != "" {
			labels = append(labels, contactLabel(p, f))
		}
	}
	return strings.Join(labels, p.T("list.sep"))
}

func viewContact(p *web.Page, ct crmapp.Contact) contactView {
	v := contactView{ID: ct.ID, Name: ct.Name()}
	for _, f := range crm.ContactFields {
		val := ct.Fields[f.Name]
		if val == "" || f.Name == "display_name" {
			continue
		}
		if crm.IsPhoneField(f.Name) {
			val = web.DisplayPhone(val)
		}
		v.Fields = append(v.Fields, fieldView{Name: f.Name, Label: contactLabel(p, f.Name), Value: val})
	}
	return v
}

func contactFormFields(p *web.Page) []formField {
	var out []formField
	for _, f := range crm.ContactFields {
		ff := formField{Name: f.Name, Label: contactLabel(p, f.Name), Type: "text", Required: f.Required}
		switch {
		case crm.IsPhoneField(f.Name):
			ff.Type = "tel"
			ff.Masked = strings.Contains(p.Value(f.Name), "*")
		case f.Name == "email":
			ff.Type = "email"
		case f.Name == "birthday":
			ff.Type = "date"
		case f.Name == "note":
			ff.Type, ff.Wide = "textarea", true
		}
		out = append(out, ff)
	}
	return out
}

type contactFormData struct {
	CustomerID   string
	CustomerName string
	ContactID    string
	Fields       []formField
}

// contactPage loads the customer of a contact page; found is false when
// the page was answered (an error, or the survivor of a merge).
func (s *Pages) contactPage(w http.ResponseWriter, r *http.Request, p *web.Page) (*crmapp.Customer, bool) {
	c, err := s.cfg.Customers.Get(r.Context(), web.CallerOf(r), customerID(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return nil, false
	}
	if c.ID != customerID(r) {
		web.Redirect(w, r, "/customers/"+c.ID, p.T("customer.merged_notice"))
		return nil, false
	}
	return c, true
}

func (s *Pages) contactNew(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "contact.new")
	c, ok := s.contactPage(w, r, p)
	if !ok {
		return
	}
	p.Data = contactFormData{CustomerID: c.ID, CustomerName: c.Name(), Fields: contactFormFields(p)}
	s.Render(w, r, "customer_contact", http.StatusOK, p)
}

func (s *Pages) contactCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "contact.new")
	d := contactFormData{CustomerID: customerID(r), Fields: contactFormFields(p)}
	p.Data = d
	if !s.parseForm(w, r, p, "customer_contact") {
		return
	}
	fields := submitted(r, p, d.Fields)
	if _, err := s.cfg.Customers.AddContact(r.Context(), web.CallerOf(r), crmapp.ContactAdd{Customer: customerID(r), Fields: fields}); err != nil {
		status := s.failedOn(p, err, nil, formNames(d.Fields)...)
		if c, err := s.cfg.Customers.Get(r.Context(), web.CallerOf(r), customerID(r)); err == nil {
			d.CustomerName = c.Name()
			p.Data = d
		}
		s.Render(w, r, "customer_contact", status, p)
		return
	}
	web.Redirect(w, r, "/customers/"+customerID(r)+"#contacts", p.T("contact.added"))
}

// findContact returns the contact the path names, from its customer.
func findContact(r *http.Request, c *crmapp.Customer) (crmapp.Contact, bool) {
	for _, ct := range c.Contacts {
		if ct.ID == r.PathValue("cid") {
			return ct, true
		}
	}
	return crmapp.Contact{}, false
}

func (s *Pages) contactEdit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "contact.edit")
	c, ok := s.contactPage(w, r, p)
	if !ok {
		return
	}
	ct, ok := findContact(r, c)
	if !ok {
		s.Render(w, r, "error", s.Failed(p, errNotFound), p)
		return
	}
	for _, f := range crm.ContactFields {
		v := ct.Fields[f.Name]
		if crm.IsPhoneField(f.Name) {
			v = web.DisplayPhone(v)
		}
		p.Form.Set(f.Name, v)
	}
	p.Data = contactFormData{CustomerID: c.ID, CustomerName: c.Name(), ContactID: ct.ID, Fields: contactFormFields(p)}
	s.Render(w, r, "customer_contact", http.StatusOK, p)
}

// contactUpdate sends the contact form; the use case writes the fields
// that changed, like customerUpdate.
func (s *Pages) contactUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "contact.edit")
	d := contactFormData{CustomerID: customerID(r), ContactID: r.PathValue("cid"), Fields: contactFormFields(p)}
	p.Data = d
	if !s.parseForm(w, r, p, "error") {
		return
	}
	fields := submitted(r, p, d.Fields)
	d.Fields = contactFormFields(p)
	p.Data = d
	next := "/customers/" + customerID(r) + "#contacts"
	if len(fields) == 0 {
		web.Redirect(w, r, next, p.T("customer.unchanged"))
		return
	}
	_, changed, err := s.cfg.Customers.UpdateContact(r.Context(), web.CallerOf(r), crmapp.ContactUpdate{
		Customer: customerID(r), Contact: r.PathValue("cid"), Fields: fields})
	if err != nil {
		status := s.failedOn(p, err, nil, formNames(d.Fields)...)
		if c, err := s.cfg.Customers.Get(r.Context(), web.CallerOf(r), customerID(r)); err == nil {
			d.CustomerName = c.Name()
			p.Data = d
		}
		s.Render(w, r, "customer_contact", status, p)
		return
	}
	if !changed {
		web.Redirect(w, r, next, p.T("customer.unchanged"))
		return
	}
	web.Redirect(w, r, next, p.T("contact.saved"))
}

func (s *Pages) contactRemove(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customer.card")
	if err := s.cfg.Customers.RemoveContact(r.Context(), web.CallerOf(r), customerID(r), r.PathValue("cid")); err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	web.Redirect(w, r, "/customers/"+customerID(r)+"#contacts", p.T("contact.removed"))
}
