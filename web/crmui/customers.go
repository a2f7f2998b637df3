package crmui

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"branchline/access"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/crm/crmfile"
	"branchline/fault"
	"branchline/web"
)

// customerID is the id of the customer the path names.
func customerID(r *http.Request) string { return r.PathValue("id") }

// customFields lists the custom field definitions in use. Pages show the
// built-in fields without them when they cannot be read.
func (s *Pages) customFields(r *http.Request) []crm.CustomField {
	defs, err := s.cfg.Customers.Fields(r.Context(), web.CallerOf(r), false)
	if err != nil {
		s.Log().Warn("custom fields", "err", err)
		return nil
	}
	return defs
}

// fieldLabel names a built-in field ("mobile") or a custom one
// ("custom.vip_since") in the page's language.
func fieldLabel(p *web.Page, defs []crm.CustomField, name string) string {
	if key, ok := strings.CutPrefix(name, crm.CustomPrefix); ok {
		for _, d := range defs {
			if d.Key == key {
				return d.Label
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
	Code   string
	City   string
	Level  string
	Owner  string
	Origin string
	// Created is the day the customer was created, in the business zone.
	Created string
	Fields  []fieldView
	C       *crmapp.Customer
}

type fieldView struct {
	Name, Label, Value string
	// Link, when set, makes the value a link (the parent customer).
	Link string
	// Tel is the number to dial for a phone field shown in full (a tel:
	// link, which a phone dials); empty when masked.
	Tel string
}

// viewCustomer prepares a customer for display: phones in national
// format (or masked as the use case gave them), custom fields under their
// labels, empty fields left out.
func viewCustomer(p *web.Page, defs []crm.CustomField, c *crmapp.Customer) customerView {
	v := customerView{ID: c.ID, Name: c.Name(), Code: c.Get("code"), City: c.Get("city"), Level: c.Get("level"),
		Owner: c.Get("owner"), Origin: c.Origin, C: c}
	if v.Phone = c.Get("mobile"); v.Phone == "" {
		v.Phone = c.Get("phone")
	}
	v.Phone = web.DisplayPhone(v.Phone)
	for _, f := range crm.Fields {
		val := c.Get(f.Name)
		if val == "" || f.Name == "display_name" {
			continue
		}
		fv := fieldView{Name: f.Name, Label: fieldLabel(p, defs, f.Name), Value: val}
		switch {
		case crm.IsPhoneField(f.Name):
			fv.Value = web.DisplayPhone(val)
			if !strings.Contains(val, "*") {
				fv.Tel = val
			}
		case f.Name == "parent":
			fv.Link = "/customers/" + val
		}
		v.Fields = append(v.Fields, fv)
	}
	for _, d := range defs {
		if val := c.Custom[d.Key]; val != "" {
			v.Fields = append(v.Fields, fieldView{Name: crm.CustomPrefix + d.Key, Label: d.Label, Value: val})
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
	// List is the list's state from the URL: order, page, filters; Pager
	// its total and page links.
	List  web.List
	Pager web.Pager
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
// use case accepts 20).
const maxFilterRows = 8

// parseFilters reads the advanced search conditions of a query string:
// parallel lists ff (field), fo (operator), fv (value); rows without a
// value are dropped.
func parseFilters(q url.Values) ([]filterRow, []crmapp.Condition) {
	fields, ops, vals := q["ff"], q["fo"], q["fv"]
	var rows []filterRow
	var conds []crmapp.Condition
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
		conds = append(conds, crmapp.Condition{Field: fields[i], Value: v, Contains: op == "contains"})
	}
	return rows, conds
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

// customerListSpec is what the customer list sorts by: the columns the
// indexes keep in order (crm.SortColumns), the name first.
var customerListSpec = web.ListSpec{Sorts: crm.SortColumns}

func (s *Pages) customerList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customers.title")
	if !p.Can(string(access.CustomerRead)) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return
	}
	qs := r.URL.Query()
	l := web.ParseList("/customers", qs, customerListSpec)
	q := l.Text
	rows, conds := parseFilters(qs)
	l.Filters = searchQuery("", rows)
	p.Form.Set("q", q)
	defs := s.customFields(r)
	data := &listData{Query: q, Filters: rows, Searched: q != "" || len(rows) > 0, Advanced: len(rows) > 0, Conditions: len(rows), List: l}
	for _, f := range crm.Fields {
		data.Fields = append(data.Fields, searchFieldChoice{f.Name, fieldLabel(p, defs, f.Name)})
	}
	for _, d := range defs {
		data.Fields = append(data.Fields, searchFieldChoice{crm.CustomPrefix + d.Key, d.Label})
	}
	// One empty row to add a condition, two when there is none yet.
	for len(data.Filters) < maxFilterRows && (len(data.Filters) < 2 || data.Filters[len(data.Filters)-1].Value != "") {
		data.Filters = append(data.Filters, filterRow{Op: "contains"})
	}
	page, err := s.cfg.Customers.List(r.Context(), web.CallerOf(r), crmapp.ListRequest{
		Search: crmapp.Search{Text: q, Conditions: conds}, Order: l.Order, Size: 50,
	})
	status := http.StatusOK
	if err != nil {
		status = s.failedOn(p, err, defs)
	} else {
		for _, c := range page.Items {
			v := viewCustomer(p, defs, c)
			v.Created = p.DateText(c.Created)
			data.Customers = append(data.Customers, v)
		}
		data.Pick = p.Can(string(access.CustomerMerge)) && len(data.Customers) > 1
		data.Pager = l.Pager(page.Total, page.Prev, page.Next)
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
	s.Render(w, r, "customers", status, p)
}

// suggestion is one type-ahead hit as app.js shows it.
type suggestion struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

// customerSuggest answers the type-ahead box: customers whose name,
// mnemonic, code or phone digits contain what was typed.
func (s *Pages) customerSuggest(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	hits := []suggestion{}
	if q != "" {
		found, err := s.cfg.Customers.Suggest(r.Context(), web.CallerOf(r), q, 10)
		switch {
		case err == nil:
			for _, h := range found {
				var detail []string
				for _, d := range []string{h.Code, h.City} {
					if d != "" {
						detail = append(detail, d)
					}
				}
				if h.Field != "display_name" && h.Value != "" {
					v := h.Value
					if crm.IsPhoneField(h.Field) {
						v = web.DisplayPhone(v)
					}
					if v != h.Code {
						detail = append(detail, v)
					}
				}
				hits = append(hits, suggestion{ID: h.ID, Name: h.Name, Detail: strings.Join(detail, " · ")})
			}
		case errors.Is(err, fault.ErrDenied):
			http.Error(w, "permission denied", http.StatusForbidden)
			return
		default:
			// Text the index cannot search (too long, control characters)
			// simply finds nothing while typing.
			if _, ok := fault.AsInvalid(err); !ok {
				s.Log().Error("suggest", "err", err)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(hits); err != nil {
		s.Log().Debug("suggest: write", "err", err)
	}
}

// customerExport hands out a search result as a CSV or XLSX download. The
// use case records the export in the audit log first, and masks phone
// numbers the user may not see.
func (s *Pages) customerExport(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customers.title")
	qs := r.URL.Query()
	format := crmfile.CSV
	if qs.Get("format") == "xlsx" {
		format = crmfile.XLSX
	}
	_, conds := parseFilters(qs)
	// The header in the reader's language; custom fields by their labels.
	labels := map[string]string{crmfile.ExportID: p.T("export.col.id"), crmfile.ExportCreated: p.T("export.col.created")}
	for _, f := range crm.Fields {
		labels[f.Name] = fieldLabel(p, nil, f.Name)
	}
	f, err := s.cfg.Customers.Export(r.Context(), web.CallerOf(r), crmapp.Export{
		Search: crmapp.Search{Text: strings.TrimSpace(qs.Get("q")), Conditions: conds}, Format: format, Labels: labels,
	})
	if err != nil {
		s.Render(w, r, "error", s.failedOn(p, err, nil), p)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	h.Set("Content-Length", strconv.Itoa(len(f.Content)))
	h.Set("Cache-Control", "no-store")
	if _, err := w.Write(f.Content); err != nil {
		s.Log().Debug("export: write", "err", err)
	}
}

// failedOn is Failed for pages whose form lacks some of the fields an
// error may name: a message about such a field (a filter, the uploaded
// file, the other customer of a merge) is shown at the top of the page,
// under the field's label, instead of next to an input that is not there.
func (s *Pages) failedOn(p *web.Page, err error, defs []crm.CustomField, formFields ...string) int {
	status := s.Failed(p, err)
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
