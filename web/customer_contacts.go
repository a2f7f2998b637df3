package web

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
)

var contactDesc = (&crmv1.Contact{}).ProtoReflect().Descriptor()

func getContact(c *crmv1.Contact, name string) string {
	fd := contactDesc.Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return c.ProtoReflect().Get(fd).String()
}

func setContact(c *crmv1.Contact, name, value string) {
	if fd := contactDesc.Fields().ByName(protoreflect.Name(name)); fd != nil && fd.Kind() == protoreflect.StringKind {
		c.ProtoReflect().Set(fd, protoreflect.ValueOfString(value))
	}
}

func contactLabel(p *Page, name string) string {
	if t := p.T("contact." + name); t != "contact."+name {
		return t
	}
	return name
}

// contactFieldList turns "title,mobile" into the fields' labels.
func contactFieldList(p *Page, s string) string {
	var labels []string
	for _, f := range strings.Split(s, ",") {
		if f != "" {
			labels = append(labels, contactLabel(p, f))
		}
	}
	return strings.Join(labels, p.T("list.sep"))
}

func viewContact(p *Page, ct *crmv1.Contact) contactView {
	_, id, _ := strings.Cut(ct.GetName(), "/contacts/")
	v := contactView{ID: id, Name: ct.GetDisplayName()}
	for _, f := range crm.ContactFields {
		val := getContact(ct, f.Name)
		if val == "" || f.Name == "display_name" {
			continue
		}
		if crm.IsPhoneField(f.Name) {
			val = displayPhone(val)
		}
		v.Fields = append(v.Fields, fieldView{Name: f.Name, Label: contactLabel(p, f.Name), Value: val})
	}
	return v
}

func contactFormFields(p *Page) []formField {
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
func (s *Server) contactPage(w http.ResponseWriter, r *http.Request, p *Page) (*crmv1.Customer, bool) {
	c, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return nil, false
	}
	if c.GetName() != customerName(r) {
		redirect(w, r, "/"+c.GetName(), p.T("customer.merged_notice"))
		return nil, false
	}
	return c, true
}

func (s *Server) contactNew(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "contact.new")
	c, ok := s.contactPage(w, r, p)
	if !ok {
		return
	}
	p.Data = contactFormData{CustomerID: idOf(c.GetName()), CustomerName: c.GetDisplayName(), Fields: contactFormFields(p)}
	s.render(w, r, "customer_contact", http.StatusOK, p)
}

func (s *Server) contactCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "contact.new")
	d := contactFormData{CustomerID: r.PathValue("id"), Fields: contactFormFields(p)}
	p.Data = d
	if !s.parseForm(w, r, p, "customer_contact") {
		return
	}
	ct := &crmv1.Contact{}
	for _, f := range d.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		setContact(ct, f.Name, v)
	}
	if _, err := s.cfg.Customers.AddContact(r.Context(), connect.NewRequest(&crmv1.AddContactRequest{Parent: customerName(r), Contact: ct})); err != nil {
		status := s.failedOn(p, err, nil, formNames(d.Fields)...)
		if c, err := s.loadCustomer(r); err == nil {
			d.CustomerName = c.GetDisplayName()
			p.Data = d
		}
		s.render(w, r, "customer_contact", status, p)
		return
	}
	redirect(w, r, "/"+customerName(r)+"#contacts", p.T("contact.added"))
}

// findContact returns the contact the path names, from its customer.
func findContact(r *http.Request, c *crmv1.Customer) *crmv1.Contact {
	want := customerName(r) + "/contacts/" + r.PathValue("cid")
	for _, ct := range c.GetContacts() {
		if ct.GetName() == want {
			return ct
		}
	}
	return nil
}

func (s *Server) contactEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "contact.edit")
	c, ok := s.contactPage(w, r, p)
	if !ok {
		return
	}
	ct := findContact(r, c)
	if ct == nil {
		s.render(w, r, "error", s.failed(p, errNotFoundPage), p)
		return
	}
	for _, f := range crm.ContactFields {
		v := getContact(ct, f.Name)
		if crm.IsPhoneField(f.Name) {
			v = displayPhone(v)
		}
		p.Form.Set(f.Name, v)
	}
	p.Data = contactFormData{CustomerID: idOf(c.GetName()), CustomerName: c.GetDisplayName(), ContactID: r.PathValue("cid"), Fields: contactFormFields(p)}
	s.render(w, r, "customer_contact", http.StatusOK, p)
}

// contactUpdate writes the contact fields that changed, like
// customerUpdate.
func (s *Server) contactUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "contact.edit")
	if !s.parseForm(w, r, p, "error") {
		return
	}
	c, ok := s.contactPage(w, r, p)
	if !ok {
		return
	}
	cur := findContact(r, c)
	if cur == nil {
		s.render(w, r, "error", s.failed(p, errNotFoundPage), p)
		return
	}
	ct := &crmv1.Contact{Name: cur.GetName()}
	var mask []string
	for _, f := range crm.ContactFields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		old := getContact(cur, f.Name)
		if _, sent := r.PostForm[f.Name]; !sent || v == old || crm.IsPhoneField(f.Name) && v == displayPhone(old) {
			continue
		}
		setContact(ct, f.Name, v)
		mask = append(mask, f.Name)
	}
	d := contactFormData{CustomerID: idOf(c.GetName()), CustomerName: c.GetDisplayName(), ContactID: r.PathValue("cid"), Fields: contactFormFields(p)}
	p.Data = d
	if len(mask) == 0 {
		redirect(w, r, "/"+c.GetName()+"#contacts", p.T("customer.unchanged"))
		return
	}
	if _, err := s.cfg.Customers.UpdateContact(r.Context(), connect.NewRequest(&crmv1.UpdateContactRequest{
		Contact: ct, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	})); err != nil {
		s.render(w, r, "customer_contact", s.failedOn(p, err, nil, formNames(d.Fields)...), p)
		return
	}
	redirect(w, r, "/"+c.GetName()+"#contacts", p.T("contact.saved"))
}

func (s *Server) contactRemove(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.card")
	name := customerName(r) + "/contacts/" + r.PathValue("cid")
	if _, err := s.cfg.Customers.RemoveContact(r.Context(), connect.NewRequest(&crmv1.RemoveContactRequest{Name: name})); err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/"+customerName(r)+"#contacts", p.T("contact.removed"))
}
