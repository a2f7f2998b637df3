package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"branchline/access"
	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
)

func (s *Server) customerRoutes() {
	s.mux.Handle("GET /customers", s.auth(http.HandlerFunc(s.customerList)))
	s.mux.Handle("GET /customers/new", s.auth(http.HandlerFunc(s.customerNew)))
	s.mux.Handle("POST /customers", s.auth(s.csrf(http.HandlerFunc(s.customerCreate))))
	s.mux.Handle("GET /customers/{id}", s.auth(http.HandlerFunc(s.customerCard)))
	s.mux.Handle("GET /customers/{id}/edit", s.auth(http.HandlerFunc(s.customerEdit)))
	s.mux.Handle("POST /customers/{id}", s.auth(s.csrf(http.HandlerFunc(s.customerUpdate))))
	s.mux.Handle("GET /ui/suggest", s.auth(http.HandlerFunc(s.customerSuggest)))
}

// formField is one input of the customer form.
type formField struct {
	Name  string
	Label string
	Type  string // input type
	Wide  bool
}

func (s *Server) customerFields(p *Page) []formField {
	var out []formField
	for _, f := range crm.Fields {
		ff := formField{Name: f.Name, Label: p.T("field." + f.Name), Type: "text"}
		switch f.Name {
		case "phone", "mobile", "finance_phone":
			ff.Type = "tel"
		case "email":
			ff.Type = "email"
		case "address", "note":
			ff.Wide = true
		}
		out = append(out, ff)
	}
	return out
}

var customerDesc = (&crmv1.Customer{}).ProtoReflect().Descriptor()

// get reads a field of a customer message by its proto name.
func get(c *crmv1.Customer, name string) string {
	fd := customerDesc.Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return c.ProtoReflect().Get(fd).String()
}

func set(c *crmv1.Customer, name, value string) bool {
	fd := customerDesc.Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return false
	}
	c.ProtoReflect().Set(fd, protoreflect.ValueOfString(value))
	return true
}

// customerView is a customer for templates.
type customerView struct {
	ID     string
	Name   string
	Phone  string // mobile, else phone, for lists
	Fields []fieldView
	Msg    *crmv1.Customer
}

type fieldView struct {
	Name, Label, Value string
}

func (s *Server) viewCustomer(p *Page, c *crmv1.Customer) customerView {
	v := customerView{ID: strings.TrimPrefix(c.GetName(), "customers/"), Name: c.GetDisplayName(), Msg: c}
	if v.Phone = c.GetMobile(); v.Phone == "" {
		v.Phone = c.GetPhone()
	}
	v.Phone = displayPhone(v.Phone)
	for _, f := range crm.Fields {
		if val := get(c, f.Name); val != "" && f.Name != "display_name" {
			if strings.HasSuffix(f.Name, "phone") || f.Name == "mobile" {
				val = displayPhone(val)
			}
			v.Fields = append(v.Fields, fieldView{Name: f.Name, Label: p.T("field." + f.Name), Value: val})
		}
	}
	return v
}

type listData struct {
	Query     string
	Customers []customerView
	Next      string
}

func (s *Server) customerList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customers.title")
	if !p.Grant.Can(access.CustomerRead) {
		s.render(w, r, "error", s.failed(p, errDeniedPage), p)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	p.Form.Set("q", q)
	data := &listData{Query: q}
	ctx := r.Context()
	if q != "" {
		resp, err := s.cfg.Customers.LookupByPhone(ctx, connect.NewRequest(&crmv1.LookupByPhoneRequest{Phone: q}))
		if err == nil {
			for _, c := range resp.Msg.GetCustomers() {
				data.Customers = append(data.Customers, s.viewCustomer(p, c))
			}
		}
	} else {
		resp, err := s.cfg.Customers.ListCustomers(ctx, connect.NewRequest(&crmv1.ListCustomersRequest{PageSize: 50, PageToken: r.URL.Query().Get("after")}))
		if err != nil {
			s.render(w, r, "error", s.failed(p, err), p)
			return
		}
		for _, c := range resp.Msg.GetCustomers() {
			data.Customers = append(data.Customers, s.viewCustomer(p, c))
		}
		data.Next = resp.Msg.GetNextPageToken()
	}
	p.Data = data
	s.render(w, r, "customers", http.StatusOK, p)
}

// customerSuggest answers the type-ahead box with up to 10 matches.
func (s *Server) customerSuggest(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	type hit struct {
		ID, Name, Detail string
	}
	hits := []hit{}
	if q != "" {
		resp, err := s.cfg.Customers.LookupByPhone(r.Context(), connect.NewRequest(&crmv1.LookupByPhoneRequest{Phone: q}))
		if err == nil {
			for _, c := range resp.Msg.GetCustomers() {
				hits = append(hits, hit{ID: strings.TrimPrefix(c.GetName(), "customers/"), Name: c.GetDisplayName(), Detail: c.GetCity()})
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(hits)
}

type formData struct {
	ID     string
	Fields []formField
}

func (s *Server) customerNew(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "new", "customer.new")
	p.Data = formData{Fields: s.customerFields(p)}
	s.render(w, r, "customer_form", http.StatusOK, p)
}

func (s *Server) customerCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "new", "customer.new")
	p.Data = formData{Fields: s.customerFields(p)}
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		p.Errors[""] = p.T("form.too_large")
		s.render(w, r, "customer_form", http.StatusRequestEntityTooLarge, p)
		return
	}
	c := &crmv1.Customer{}
	for _, f := range crm.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		set(c, f.Name, v)
	}
	resp, err := s.cfg.Customers.CreateCustomer(r.Context(), connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: c}))
	if err != nil {
		s.render(w, r, "customer_form", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/"+resp.Msg.GetName(), p.T("customer.created"))
}

func (s *Server) loadCustomer(r *http.Request) (*crmv1.Customer, error) {
	resp, err := s.cfg.Customers.GetCustomer(r.Context(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: "customers/" + r.PathValue("id")}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (s *Server) customerCard(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.card")
	c, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Title = c.GetDisplayName()
	p.Data = s.viewCustomer(p, c)
	s.render(w, r, "customer", http.StatusOK, p)
}

func (s *Server) customerEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.edit")
	c, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	for _, f := range crm.Fields {
		p.Form.Set(f.Name, get(c, f.Name))
	}
	p.Data = formData{ID: r.PathValue("id"), Fields: s.customerFields(p)}
	s.render(w, r, "customer_form", http.StatusOK, p)
}

// customerUpdate writes only the fields the user changed, so that an edit
// of one field at this branch does not overwrite a concurrent edit of
// another field at another branch.
func (s *Server) customerUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.edit")
	p.Data = formData{ID: r.PathValue("id"), Fields: s.customerFields(p)}
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		p.Errors[""] = p.T("form.too_large")
		s.render(w, r, "customer_form", http.StatusRequestEntityTooLarge, p)
		return
	}
	cur, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	c := &crmv1.Customer{Name: cur.GetName()}
	var mask []string
	for _, f := range crm.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		p.Form.Set(f.Name, v)
		if _, sent := r.PostForm[f.Name]; !sent || v == get(cur, f.Name) || v == crm.FormatPhone(get(cur, f.Name), crm.DefaultRegion) {
			continue
		}
		set(c, f.Name, v)
		mask = append(mask, f.Name)
	}
	if len(mask) == 0 {
		redirect(w, r, "/"+cur.GetName(), p.T("customer.unchanged"))
		return
	}
	if _, err := s.cfg.Customers.UpdateCustomer(r.Context(), connect.NewRequest(&crmv1.UpdateCustomerRequest{
		Customer: c, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	})); err != nil {
		s.render(w, r, "customer_form", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/"+cur.GetName(), p.T("customer.saved"))
}

// displayPhone shows an E.164 number in national format; a masked number
// (138****5678) is shown as it is.
func displayPhone(v string) string {
	if v == "" || strings.Contains(v, "*") {
		return v
	}
	return crm.FormatPhone(v, crm.DefaultRegion)
}
