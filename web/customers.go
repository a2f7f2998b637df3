package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
)

// customerRoutes registers the customer pages. Each page is one handler
// calling the CustomerService in process, as the signed-in user; the
// service checks permissions and data scope, the pages only hide what the
// grant cannot do.
func (s *Server) customerRoutes() {
	page := func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.auth(h)) }
	action := func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.auth(s.csrf(h))) }

	page("GET /customers", s.customerList)
	page("GET /ui/suggest", s.customerSuggest)
	page("GET /customers/export", s.customerExport)

	page("GET /customers/new", s.customerNew)
	action("POST /customers", s.customerCreate)
	page("GET /customers/{id}", s.customerCard)
	page("GET /customers/{id}/edit", s.customerEdit)
	action("POST /customers/{id}", s.customerUpdate)
	action("POST /customers/{id}/notes", s.customerAddNote)
	action("POST /customers/{id}/delete", s.customerDelete)
	action("POST /customers/{id}/restore", s.customerRestore)

	page("GET /customers/{id}/contacts/new", s.contactNew)
	action("POST /customers/{id}/contacts", s.contactCreate)
	page("GET /customers/{id}/contacts/{cid}/edit", s.contactEdit)
	action("POST /customers/{id}/contacts/{cid}", s.contactUpdate)
	action("POST /customers/{id}/contacts/{cid}/remove", s.contactRemove)

	page("GET /customers/merge", s.mergePage)
	action("POST /customers/merge", s.mergeSubmit)

	page("GET /customers/deleted", s.recycleBin)

	imp := &importPages{s: s, previews: newPreviewStore(previewTTL, previewBudget)}
	page("GET /customers/import", imp.form)
	// The upload's size is bounded before the CSRF check reads the body.
	s.mux.Handle("POST /customers/import", s.auth(limitBody(maxUpload, s.csrf(http.HandlerFunc(imp.preview)))))
	action("POST /customers/import/commit", imp.commit)
}

// limitBody bounds the request body to n bytes.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// errNotFoundPage is shown for a page about something that does not exist.
var errNotFoundPage = fault.ErrNotFound

// customerPrefix starts customers' resource names.
const customerPrefix = "customers/"

// customerName is the resource name of the customer the path names.
func customerName(r *http.Request) string { return customerPrefix + r.PathValue("id") }

// idOf returns the id of a resource name "customers/{id}".
func idOf(name string) string { return strings.TrimPrefix(name, customerPrefix) }

var customerDesc = (&crmv1.Customer{}).ProtoReflect().Descriptor()

// get reads a field of a customer message by its proto name; custom
// fields are named "custom.<key>".
func get(c *crmv1.Customer, name string) string {
	if key, ok := strings.CutPrefix(name, "custom."); ok {
		return c.GetCustom()[key]
	}
	fd := customerDesc.Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return c.ProtoReflect().Get(fd).String()
}

// set writes a field of a customer message by its proto name or
// "custom.<key>".
func set(c *crmv1.Customer, name, value string) bool {
	if key, ok := strings.CutPrefix(name, "custom."); ok {
		if c.Custom == nil {
			c.Custom = map[string]string{}
		}
		c.Custom[key] = value
		return true
	}
	fd := customerDesc.Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return false
	}
	c.ProtoReflect().Set(fd, protoreflect.ValueOfString(value))
	return true
}

// displayPhone shows an E.164 number in national format; a masked number
// (138****5678) is shown as it is.
func displayPhone(v string) string {
	if v == "" || strings.Contains(v, "*") {
		return v
	}
	return crm.FormatPhone(v, crm.DefaultRegion)
}

// customFields lists the custom field definitions in use. Pages show the
// built-in fields without them when they cannot be read.
func (s *Server) customFields(r *http.Request) []*crmv1.CustomField {
	resp, err := s.cfg.Customers.ListCustomFields(r.Context(), connect.NewRequest(&crmv1.ListCustomFieldsRequest{}))
	if err != nil {
		s.cfg.Log.Warn("custom fields", "err", err)
		return nil
	}
	return resp.Msg.GetFields()
}

// fieldLabel names a built-in field ("mobile") or a custom one
// ("custom.vip_since") in the page's language.
func fieldLabel(p *Page, defs []*crmv1.CustomField, name string) string {
	if key, ok := strings.CutPrefix(name, "custom."); ok {
		for _, d := range defs {
			if d.GetKey() == key {
				return d.GetLabel()
			}
		}
		return key
	}
	if t := p.T("field." + name); t != "field."+name {
		return t
	}
	return name
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
	// Link, when set, makes the value a link (the parent customer).
	Link string
}

// viewCustomer prepares a customer for display: phones in national
// format (or masked as the API sent them), custom fields under their
// labels, empty fields left out.
func viewCustomer(p *Page, defs []*crmv1.CustomField, c *crmv1.Customer) customerView {
	v := customerView{ID: idOf(c.GetName()), Name: c.GetDisplayName(), Msg: c}
	if v.Phone = c.GetMobile(); v.Phone == "" {
		v.Phone = c.GetPhone()
	}
	v.Phone = displayPhone(v.Phone)
	for _, f := range crm.Fields {
		val := get(c, f.Name)
		if val == "" || f.Name == "display_name" {
			continue
		}
		fv := fieldView{Name: f.Name, Label: fieldLabel(p, defs, f.Name), Value: val}
		switch {
		case crm.IsPhoneField(f.Name):
			fv.Value = displayPhone(val)
		case f.Name == "parent":
			fv.Value, fv.Link = idOf(val), "/"+val
		}
		v.Fields = append(v.Fields, fv)
	}
	for _, d := range defs {
		if val := c.GetCustom()[d.GetKey()]; val != "" {
			v.Fields = append(v.Fields, fieldView{Name: "custom." + d.GetKey(), Label: d.GetLabel(), Value: val})
		}
	}
	return v
}

// Search.

// searchFieldChoice is a field the advanced search can filter on.
type searchFieldChoice struct{ Name, Label string }

// filterRow is one condition of the advanced search form.
type filterRow struct {
	Field, Op, Value string
}

type listData struct {
	Query     string
	Filters   []filterRow
	Fields    []searchFieldChoice
	Customers []customerView
	// Next is the address of the next page, empty on the last.
	Next string
	// ExportCSV and ExportXLSX download this search.
	ExportCSV, ExportXLSX string
	Searched              bool
	Advanced              bool
	// Conditions counts the advanced search's conditions in force.
	Conditions int
	// Pick offers to tick two customers of the page to merge them.
	Pick bool
}

// maxFilterRows bounds the conditions of the advanced search form (the
// API accepts 20).
const maxFilterRows = 8

// parseFilters reads the advanced search conditions of a query string:
// parallel lists ff (field), fo (operator), fv (value); rows without a
// value are dropped.
func parseFilters(q url.Values) ([]filterRow, []*crmv1.Filter) {
	fields, ops, vals := q["ff"], q["fo"], q["fv"]
	var rows []filterRow
	var filters []*crmv1.Filter
	for i := 0; i < len(fields) && i < len(vals) && len(rows) < maxFilterRows; i++ {
		v := strings.TrimSpace(vals[i])
		if v == "" || fields[i] == "" {
			continue
		}
		op := "contains"
		if i < len(ops) && ops[i] == "equals" {
			op = "equals"
		}
		rows = append(rows, filterRow{Field: fields[i], Op: op, Value: v})
		f := &crmv1.Filter{Field: fields[i], Value: v, Operator: crmv1.Operator_OPERATOR_CONTAINS}
		if op == "equals" {
			f.Operator = crmv1.Operator_OPERATOR_EQUALS
		}
		filters = append(filters, f)
	}
	return rows, filters
}

// searchQuery encodes a search as a query string, for paging and export.
func searchQuery(q string, rows []filterRow) url.Values {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	for _, r := range rows {
		v.Add("ff", r.Field)
		v.Add("fo", r.Op)
		v.Add("fv", r.Value)
	}
	return v
}

func (s *Server) customerList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customers.title")
	if !p.Can(string(access.CustomerRead)) {
		s.render(w, r, "error", s.failed(p, errDeniedPage), p)
		return
	}
	qs := r.URL.Query()
	q := strings.TrimSpace(qs.Get("q"))
	rows, filters := parseFilters(qs)
	p.Form.Set("q", q)
	defs := s.customFields(r)
	data := &listData{Query: q, Filters: rows, Searched: q != "" || len(rows) > 0, Advanced: len(rows) > 0, Conditions: len(rows)}
	for _, f := range crm.Fields {
		data.Fields = append(data.Fields, searchFieldChoice{f.Name, fieldLabel(p, defs, f.Name)})
	}
	for _, d := range defs {
		data.Fields = append(data.Fields, searchFieldChoice{"custom." + d.GetKey(), d.GetLabel()})
	}
	// One empty row to add a condition, two when there is none yet.
	for len(data.Filters) < maxFilterRows && (len(data.Filters) < 2 || data.Filters[len(data.Filters)-1].Value != "") {
		data.Filters = append(data.Filters, filterRow{Op: "contains"})
	}
	resp, err := s.cfg.Customers.SearchCustomers(r.Context(), connect.NewRequest(&crmv1.SearchCustomersRequest{
		Query: q, Filters: filters, PageSize: 50, PageToken: qs.Get("after"),
	}))
	status := http.StatusOK
	if err != nil {
		status = s.failedOn(p, err, defs)
	} else {
		for _, c := range resp.Msg.GetCustomers() {
			data.Customers = append(data.Customers, viewCustomer(p, defs, c))
		}
		data.Pick = p.Can(string(access.CustomerMerge)) && len(data.Customers) > 1
		if next := resp.Msg.GetNextPageToken(); next != "" {
			v := searchQuery(q, rows)
			v.Set("after", next)
			data.Next = "/customers?" + v.Encode()
		}
	}
	for _, f := range []string{"csv", "xlsx"} {
		v := searchQuery(q, rows)
		v.Set("format", f)
		if f == "csv" {
			data.ExportCSV = "/customers/export?" + v.Encode()
		} else {
			data.ExportXLSX = "/customers/export?" + v.Encode()
		}
	}
	p.Data = data
	s.render(w, r, "customers", status, p)
}

// suggestion is one type-ahead hit as app.js shows it.
type suggestion struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

// customerSuggest answers the type-ahead box: customers whose name,
// mnemonic, code or phone digits contain what was typed.
func (s *Server) customerSuggest(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	hits := []suggestion{}
	if q != "" {
		resp, err := s.cfg.Customers.SuggestCustomers(r.Context(), connect.NewRequest(&crmv1.SuggestCustomersRequest{Query: q, Limit: 10}))
		switch {
		case err == nil:
			for _, h := range resp.Msg.GetSuggestions() {
				var detail []string
				for _, d := range []string{h.GetCode(), h.GetCity()} {
					if d != "" {
						detail = append(detail, d)
					}
				}
				if h.GetField() != "display_name" && h.GetValue() != "" {
					v := h.GetValue()
					if crm.IsPhoneField(h.GetField()) {
						v = displayPhone(v)
					}
					if v != h.GetCode() {
						detail = append(detail, v)
					}
				}
				hits = append(hits, suggestion{ID: idOf(h.GetCustomer()), Name: h.GetDisplayName(), Detail: strings.Join(detail, " · ")})
			}
		case errors.Is(err, fault.ErrDenied):
			http.Error(w, "permission denied", http.StatusForbidden)
			return
		default:
			// Text the index cannot search (too long, control characters)
			// simply finds nothing while typing.
			if _, ok := fault.AsInvalid(err); !ok {
				s.cfg.Log.Error("suggest", "err", err)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(hits); err != nil {
		s.cfg.Log.Debug("suggest: write", "err", err)
	}
}

// customerExport hands out a search result as a CSV or XLSX download. The
// API records the export in the audit log first, and masks phone numbers
// the user may not see.
func (s *Server) customerExport(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customers.title")
	qs := r.URL.Query()
	format := crmv1.FileFormat_FILE_FORMAT_CSV
	if qs.Get("format") == "xlsx" {
		format = crmv1.FileFormat_FILE_FORMAT_XLSX
	}
	_, filters := parseFilters(qs)
	resp, err := s.cfg.Customers.ExportCustomers(r.Context(), connect.NewRequest(&crmv1.ExportCustomersRequest{
		Query: strings.TrimSpace(qs.Get("q")), Filters: filters, Format: format,
	}))
	if err != nil {
		s.render(w, r, "error", s.failedOn(p, err, nil), p)
		return
	}
	h := w.Header()
	h.Set("Content-Type", resp.Msg.GetContentType())
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": resp.Msg.GetFilename()}))
	h.Set("Content-Length", strconv.Itoa(len(resp.Msg.GetContent())))
	h.Set("Cache-Control", "no-store")
	if _, err := w.Write(resp.Msg.GetContent()); err != nil {
		s.cfg.Log.Debug("export: write", "err", err)
	}
}

// failedOn is failed for pages whose form lacks some of the fields an
// error may name: a message about such a field (a filter, the uploaded
// file, the other customer of a merge) is shown at the top of the page,
// under the field's label, instead of next to an input that is not there.
func (s *Server) failedOn(p *Page, err error, defs []*crmv1.CustomField, formFields ...string) int {
	status := s.failed(p, err)
	inv, ok := fault.AsInvalid(err)
	if !ok {
		return status
	}
	for _, f := range formFields {
		if f == inv.Field {
			return status
		}
	}
	msg := p.Errors[inv.Field]
	delete(p.Errors, inv.Field)
	if inv.Field != "" {
		msg = fmt.Sprintf("%s: %s", fieldLabel(p, defs, inv.Field), msg)
	}
	p.Errors[""] = msg
	return status
}
