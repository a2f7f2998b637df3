package crmui

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/web"
)

// cardData is what the customer card shows.
type cardData struct {
	Customer   customerView
	Deleted    bool
	DeleteUser string
	DeleteTime time.Time
	Created    time.Time
	Updated    time.Time
	Warnings   []warningView
	Member     *memberView
	Contacts   []contactView
	Duplicates []duplicateView
	Timeline   []timelineView
	// TimelineNext is the token of older timeline entries.
	TimelineNext string
	// TimelineOlder says the timeline shown is not the latest page.
	TimelineOlder bool
	// Calls are the customer's calls and callbacks; nil when the reader
	// takes no calls.
	Calls *cardCalls
}

// warningView is one warning at the top of the card; Level is the badge
// colour ("red", "amber").
type warningView struct{ Level, Text string }

type memberView struct {
	Level   string
	Points  int64
	Balance string
	Tenure  int32
}

type contactView struct {
	ID     string
	Name   string
	Fields []fieldView
}

type timelineView struct {
	Time   time.Time
	Actor  string
	Origin string
	Kind   string
	Label  string
	Text   string
}

// maxBlacklistChecks bounds the numbers one card looks up in the
// blacklist, to keep the page fast.
const maxBlacklistChecks = 8

// customerCard shows one customer: warnings, fields, contacts, possible
// duplicates and the timeline. A customer merged into another one shows
// the survivor, under the survivor's address.
func (s *Pages) customerCard(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customer.card")
	s.renderCard(w, r, p, http.StatusOK)
}

func (s *Pages) renderCard(w http.ResponseWriter, r *http.Request, p *web.Page, status int) {
	ctx, caller := r.Context(), web.CallerOf(r)
	c, err := s.cfg.Customers.Get(ctx, caller, customerID(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if c.ID != customerID(r) {
		web.Redirect(w, r, "/customers/"+c.ID, p.T("customer.merged_notice"))
		return
	}
	defs := s.customFields(r)
	p.Title = c.Name()
	d := &cardData{Customer: viewCustomer(p, defs, c), Deleted: c.Deleted, DeleteUser: c.DeletedBy, DeleteTime: c.DeletedAt,
		Created: c.Created, Updated: c.Updated}
	for _, ct := range c.Contacts {
		d.Contacts = append(d.Contacts, viewContact(p, ct))
	}
	d.Warnings = s.blacklistWarnings(r, p, c)
	credit, known := crm.CreditNone, false
	if s.cfg.Members != nil {
		ms, err := s.cfg.Members.Membership(ctx, caller, c.ID)
		if err == nil {
			credit, known = ms.Credit, true
			if ms.Level != "" || ms.Points != 0 || ms.Balance != 0 {
				d.Member = &memberView{Level: ms.Level, Points: ms.Points, Balance: crm.Yuan(ms.Balance), Tenure: int32(ms.TenureMonths)}
			}
			if ms.Balance < 0 {
				d.Warnings = append(d.Warnings, warningView{"amber", p.T("card.balance_overdrawn", crm.Yuan(-ms.Balance))})
			}
			if ms.Points < 0 {
				d.Warnings = append(d.Warnings, warningView{"amber", p.T("card.points_overdrawn", -ms.Points)})
			}
		} else {
			s.Log().Warn("card: membership", "customer", c.ID, "err", err)
		}
	}
	if !known {
		// Without the membership, grade by the default policy.
		credit, _ = crm.CreditWarning(&crm.Customer{Fields: map[string]string{"credit_level": c.Get("credit_level"), "credit_limit": c.Get("credit_limit")}}, -1)
	}
	switch credit {
	case crm.CreditDanger:
		d.Warnings = append(d.Warnings, warningView{"red", p.T("card.credit_danger", c.Get("credit_level"))})
	case crm.CreditCaution:
		d.Warnings = append(d.Warnings, warningView{"amber", p.T("card.credit_caution", c.Get("credit_level"))})
	}
	if !d.Deleted {
		d.Duplicates = s.cardDuplicates(r, p, c)
	}
	tl, err := s.cfg.Customers.Timeline(ctx, caller, crmapp.TimelineQuery{Customer: c.ID, NewestFirst: true, Size: 30, After: r.URL.Query().Get("tl")})
	if err == nil {
		names := map[string]string{}
		for _, ct := range d.Contacts {
			names[ct.ID] = ct.Name
		}
		for _, e := range tl.Items {
			d.Timeline = append(d.Timeline, viewTimeline(p, defs, names, e))
		}
		d.TimelineNext = tl.Next
		d.TimelineOlder = r.URL.Query().Get("tl") != ""
	} else {
		s.Log().Warn("card: timeline", "customer", c.ID, "err", err)
	}
	d.Calls = s.cardCallsOf(r, p, c.ID)
	p.Data = d
	s.Render(w, r, "customer", status, p)
}

// blacklistWarnings looks the customer's and its contacts' numbers up in
// the blacklist.
func (s *Pages) blacklistWarnings(r *http.Request, p *web.Page, c *crmapp.Customer) []warningView {
	if s.cfg.Blacklist == nil {
		return nil
	}
	ctx, caller := r.Context(), web.CallerOf(r)
	if c.PhonesMasked {
		// The numbers are hidden from this reader: the use case looks them up.
		es, err := s.cfg.Blacklist.CustomerStatus(ctx, caller, c.ID)
		if err != nil {
			s.Log().Warn("card: blacklist status", "err", err)
			return nil
		}
		var out []warningView
		for _, e := range es {
			out = append(out, blacklistWarning(p, e))
		}
		return out
	}
	var numbers []string
	add := func(n string) {
		if n != "" && !strings.Contains(n, "*") && !slices.Contains(numbers, n) && len(numbers) < maxBlacklistChecks {
			numbers = append(numbers, n)
		}
	}
	for _, n := range []string{c.Get("mobile"), c.Get("phone"), c.Get("finance_phone")} {
		add(n)
	}
	for _, ct := range c.Contacts {
		for _, n := range []string{ct.Fields["mobile"], ct.Fields["phone"], ct.Fields["home_phone"]} {
			add(n)
		}
	}
	var out []warningView
	for _, n := range numbers {
		e, err := s.cfg.Blacklist.Status(ctx, caller, crmapp.Target{Number: n})
		if err != nil {
			s.Log().Warn("card: blacklist status", "err", err)
			continue
		}
		if e.Listed || e.Flags > 0 {
			out = append(out, blacklistWarning(p, e))
		}
	}
	return out
}

// blacklistWarning words a listed or flagged number's status.
func blacklistWarning(p *web.Page, e crmapp.Entry) warningView {
	shown := web.DisplayPhone(e.Number)
	switch {
	case e.Listed && e.Policy == crm.PolicyReject:
		return warningView{"red", p.T("card.blacklisted_reject", shown)}
	case e.Listed:
		return warningView{"red", p.T("card.blacklisted_warn", shown)}
	}
	return warningView{"amber", p.N("card.flagged", e.Threshold, shown, e.Flags)}
}

// cardDuplicates lists other customers that look like this one, for
// merging. Masked numbers cannot be compared, so a reader who may not
// see numbers gets the duplicates by name only.
func (s *Pages) cardDuplicates(r *http.Request, p *web.Page, c *crmapp.Customer) []duplicateView {
	names := []string{"display_name", "city"}
	if !c.PhonesMasked {
		names = append(names, "phone", "mobile", "finance_phone")
	}
	probe := map[string]string{}
	for _, f := range names {
		if v := c.Get(f); v != "" {
			probe[f] = v
		}
	}
	dups, err := s.cfg.Customers.FindDuplicates(r.Context(), web.CallerOf(r), crmapp.DuplicateCheck{ID: c.ID, Fields: probe})
	if err != nil {
		s.Log().Warn("card: duplicates", "customer", c.ID, "err", err)
		return nil
	}
	return viewDuplicates(p, dups)
}

// Timeline summaries of movements, as the domain writes them.
var (
	pointsSummary  = regexp.MustCompile(`^([+-]\d+) points(?:: (.*))?$`)
	balanceSummary = regexp.MustCompile(`^balance ([+-]¥[\d.]+)(?:: (.*))?$`)
)

// viewTimeline describes a timeline entry in the page's language: the
// kind as a label, the summary made readable where the kind is known
// (field names become labels, contacts are named), as it is otherwise.
func viewTimeline(p *web.Page, defs []crm.CustomField, contacts map[string]string, e crmapp.TimelineEntry) timelineView {
	v := timelineView{Actor: e.Actor, Origin: e.Origin, Kind: e.Kind, Text: e.Summary, Time: e.Time}
	v.Label = p.T("timeline." + e.Kind)
	if v.Label == "timeline."+e.Kind {
		v.Label = e.Kind // a kind of a newer module
	}
	fieldList := func(s string) string {
		var labels []string
		for _, f := range strings.Split(s, ",") {
			if f != "" {
				labels = append(labels, fieldLabel(p, defs, f))
			}
		}
		return strings.Join(labels, p.T("list.sep"))
	}
	switch e.Kind {
	case crm.TimelineCreated, crm.TimelineDeleted, crm.TimelineRestored, crm.TimelineContactRemoved:
		v.Text = ""
	case crm.TimelineFieldsSet:
		v.Text = fieldList(e.Summary)
	case crm.TimelineContactUpdated:
		v.Text = contactFieldList(p, e.Summary)
		if name := contacts[e.Ref]; name != "" {
			v.Text = name + p.T("list.colon") + v.Text
		}
	case crm.TimelineMerged:
		v.Text = p.T("timeline.merged_from", e.Ref)
	case crm.TimelinePointsEarned, crm.TimelinePointsRedeemed:
		if m := pointsSummary.FindStringSubmatch(e.Summary); m != nil {
			v.Text = withNote(p.T("timeline.points", m[1]), m[2])
		}
	case crm.TimelineToppedUp, crm.TimelineSpent:
		if m := balanceSummary.FindStringSubmatch(e.Summary); m != nil {
			v.Text = withNote(m[1], m[2])
		}
	}
	return v
}

func withNote(s, note string) string {
	if note == "" {
		return s
	}
	return s + " — " + note
}

// Notes, deletion and restoring.

func (s *Pages) customerAddNote(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customer.card")
	if !s.parseForm(w, r, p, "error") {
		return
	}
	text := strings.TrimSpace(r.PostFormValue("text"))
	p.Form.Set("text", text)
	if _, err := s.cfg.Customers.AddNote(r.Context(), web.CallerOf(r), customerID(r), text); err != nil {
		status := s.Failed(p, err)
		if msg, ok := p.Errors["text"]; ok {
			p.Errors["note"] = msg
		}
		s.renderCard(w, r, p, status)
		return
	}
	web.Redirect(w, r, "/customers/"+customerID(r)+"#timeline", p.T("card.note_added"))
}

func (s *Pages) customerDelete(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "customers", "customer.card")
	c, err := s.cfg.Customers.Delete(r.Context(), web.CallerOf(r), customerID(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	web.Redirect(w, r, "/customers", p.T("card.deleted", c.Name()))
}

func (s *Pages) customerRestore(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "deleted", "recycle.title")
	if !s.parseForm(w, r, p, "error") {
		return
	}
	c, err := s.cfg.Customers.Restore(r.Context(), web.CallerOf(r), customerID(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	to := "/customers/" + c.ID
	if r.PostFormValue("next") == "/customers/deleted" {
		to = "/customers/deleted"
	}
	web.Redirect(w, r, to, p.T("card.restored", c.Name()))
}
