package crmui

import (
	"net/http"
	"net/url"
	"strings"

	"branchline/access"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/web"
)

// mergeData is the merge page: two customers side by side.
type mergeData struct {
	A, B   customerView
	Rows   []mergeRow
	Winner string // "a" or "b"
	// ContactsA and ContactsB count the contacts that end on the survivor.
	ContactsA, ContactsB int
}

// mergeRow is one field of the merge page. Choice names the side whose
// value the survivor takes; a row whose values agree offers no choice.
type mergeRow struct {
	Name, Label string
	A, B        string
	Choice      string
	Differ      bool
	// Masked rows hold numbers the user may not see: they cannot be
	// chosen and follow the API's rule (the survivor's, else the other's).
	Masked bool
}

// mergePair reads the two customers of a merge page: ?a=…&b=… or two
// ?pick=… from the search results.
func mergePair(q url.Values) (a, b string) {
	a, b = q.Get("a"), q.Get("b")
	if picks := q["pick"]; a == "" && b == "" && len(picks) == 2 {
		a, b = picks[0], picks[1]
	}
	return a, b
}

func (s *Pages) mergeLoad(r *http.Request, p *web.Page, a, b string) (*mergeData, error) {
	ctx, caller := r.Context(), web.CallerOf(r)
	ca, err := s.cfg.Customers.Get(ctx, caller, a)
	if err != nil {
		return nil, err
	}
	cb, err := s.cfg.Customers.Get(ctx, caller, b)
	if err != nil {
		return nil, err
	}
	defs := s.customFields(r)
	d := &mergeData{A: viewCustomer(p, defs, ca), B: viewCustomer(p, defs, cb), Winner: "a",
		ContactsA: len(ca.Contacts), ContactsB: len(cb.Contacts)}
	var names []string
	for _, f := range crm.Fields {
		names = append(names, f.Name)
	}
	for _, def := range defs {
		names = append(names, crm.CustomPrefix+def.Key)
	}
	for _, n := range names {
		va, vb := ca.Get(n), cb.Get(n)
		if va == "" && vb == "" {
			continue
		}
		row := mergeRow{Name: n, Label: fieldLabel(p, defs, n), A: va, B: vb, Differ: va != vb,
			Masked: strings.Contains(va, "*") || strings.Contains(vb, "*")}
		if crm.IsPhoneField(n) {
			row.A, row.B = web.DisplayPhone(va), web.DisplayPhone(vb)
		}
		d.Rows = append(d.Rows, row)
	}
	// The customer entered first usually is the one others refer to.
	if cb.Created.Before(ca.Created) {
		d.Winner = "b"
	}
	d.defaultChoices()
	return d, nil
}

// defaultChoices picks, for each field, the winner's value, or the other's
// where the winner has none: what the merge does with fields not chosen.
func (d *mergeData) defaultChoices() {
	for i := range d.Rows {
		row := &d.Rows[i]
		row.Choice = d.Winner
		if d.Winner == "a" && row.A == "" {
			row.Choice = "b"
		}
		if d.Winner == "b" && row.B == "" {
			row.Choice = "a"
		}
	}
}

func (s *Pages) mergePage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "merge.title")
	if !p.Can(string(access.CustomerMerge)) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return
	}
	a, b := mergePair(r.URL.Query())
	if a == "" || b == "" || a == b {
		p.Errors[""] = p.T("merge.pick_two")
		s.Render(w, r, "error", http.StatusBadRequest, p)
		return
	}
	d, err := s.mergeLoad(r, p, a, b)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if d.A.ID == d.B.ID {
		// One was merged into the other already.
		web.Redirect(w, r, "/customers/"+d.A.ID, p.T("merge.already_one"))
		return
	}
	p.Data = d
	s.Render(w, r, "merge", http.StatusOK, p)
}

// mergeSubmit merges the loser into the winner with the values chosen per
// field. The values are read again from the customers, so only the choice
// of side travels in the form.
func (s *Pages) mergeSubmit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "merge.title")
	if !s.parseForm(w, r, p, "error") {
		return
	}
	a, b := r.PostFormValue("a"), r.PostFormValue("b")
	d, err := s.mergeLoad(r, p, a, b)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	winner, loser := d.A.C, d.B.C
	d.Winner = "a"
	if r.PostFormValue("winner") == "b" {
		winner, loser = loser, winner
		d.Winner = "b"
	}
	d.defaultChoices()
	fields := map[string]string{}
	for i := range d.Rows {
		row := &d.Rows[i]
		if pick := r.PostFormValue("pick." + row.Name); pick == "a" || pick == "b" {
			row.Choice = pick
		}
		if !row.Differ || row.Masked {
			continue
		}
		side := d.A.C
		if row.Choice == "b" {
			side = d.B.C
		}
		fields[row.Name] = side.Get(row.Name)
	}
	merged, err := s.cfg.Customers.Merge(r.Context(), web.CallerOf(r), crmapp.Merge{Winner: winner.ID, Loser: loser.ID, Fields: fields})
	if err != nil {
		status := s.failedOn(p, err, nil)
		p.Data = d
		s.Render(w, r, "merge", status, p)
		return
	}
	web.Redirect(w, r, "/customers/"+merged.ID, p.T("merge.done", loser.Name(), merged.Name()))
}
