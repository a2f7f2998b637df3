package web

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
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
func (s *Server) customerCard(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.card")
	s.renderCard(w, r, p, http.StatusOK)
}

func (s *Server) renderCard(w http.ResponseWriter, r *http.Request, p *Page, status int) {
	c, err := s.loadCustomer(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if c.GetName() != customerName(r) {
		redirect(w, r, "/"+c.GetName(), p.T("customer.merged_notice"))
		return
	}
	ctx := r.Context()
	defs := s.customFields(r)
	p.Title = c.GetDisplayName()
	d := &cardData{Customer: viewCustomer(p, defs, c), Deleted: c.GetDeleted(), DeleteUser: c.GetDeleteUser()}
	if t := c.GetDeleteTime(); t != nil {
		d.DeleteTime = t.AsTime()
	}
	if t := c.GetCreateTime(); t != nil {
		d.Created = t.AsTime()
	}
	if t := c.GetUpdateTime(); t != nil {
		d.Updated = t.AsTime()
	}
	for _, ct := range c.GetContacts() {
		d.Contacts = append(d.Contacts, viewContact(p, ct))
	}
	d.Warnings = s.blacklistWarnings(r, p, c)
	credit := crmv1.CreditWarningLevel_CREDIT_WARNING_LEVEL_UNSPECIFIED
	if s.cfg.Members != nil {
		m, err := s.cfg.Members.GetMembership(ctx, connect.NewRequest(&crmv1.GetMembershipRequest{Customer: c.GetName()}))
		if err == nil {
			ms := m.Msg
			credit = ms.GetCreditWarning().GetLevel()
			if ms.GetLevel() != "" || ms.GetPoints() != 0 || ms.GetBalanceFen() != 0 {
				d.Member = &memberView{Level: ms.GetLevel(), Points: ms.GetPoints(), Balance: crm.Yuan(ms.GetBalanceFen()), Tenure: ms.GetTenureMonths()}
			}
			if ms.GetBalanceFen() < 0 {
				d.Warnings = append(d.Warnings, warningView{"amber", p.T("card.balance_overdrawn", crm.Yuan(-ms.GetBalanceFen()))})
			}
			if ms.GetPoints() < 0 {
				d.Warnings = append(d.Warnings, warningView{"amber", p.T("card.points_overdrawn", -ms.GetPoints())})
			}
		} else {
			s.cfg.Log.Warn("card: membership", "customer", c.GetName(), "err", err)
		}
	}
	if credit == crmv1.CreditWarningLevel_CREDIT_WARNING_LEVEL_UNSPECIFIED {
		// Without the membership, grade by the default policy.
		lvl, _ := crm.CreditWarning(&crm.Customer{Fields: map[string]string{"credit_level": c.GetCreditLevel(), "credit_limit": c.GetCreditLimit()}}, -1)
		credit = lvl.Proto()
	}
	switch credit {
	case crmv1.CreditWarningLevel_CREDIT_WARNING_LEVEL_DANGER:
		d.Warnings = append(d.Warnings, warningView{"red", p.T("card.credit_danger", c.GetCreditLevel())})
	case crmv1.CreditWarningLevel_CREDIT_WARNING_LEVEL_CAUTION:
		d.Warnings = append(d.Warnings, warningView{"amber", p.T("card.credit_caution", c.GetCreditLevel())})
	}
	if !d.Deleted {
		d.Duplicates = s.cardDuplicates(r, p, c)
	}
	tl, err := s.cfg.Customers.GetTimeline(ctx, connect.NewRequest(&crmv1.GetTimelineRequest{
		Name: c.GetName(), NewestFirst: true, PageSize: 30, PageToken: r.URL.Query().Get("tl"),
	}))
	if err == nil {
		names := map[string]string{}
		for _, ct := range d.Contacts {
			names[ct.ID] = ct.Name
		}
		for _, e := range tl.Msg.GetEntries() {
			d.Timeline = append(d.Timeline, viewTimeline(p, defs, names, e))
		}
		d.TimelineNext = tl.Msg.GetNextPageToken()
		d.TimelineOlder = r.URL.Query().Get("tl") != ""
	} else {
		s.cfg.Log.Warn("card: timeline", "customer", c.GetName(), "err", err)
	}
	p.Data = d
	s.render(w, r, "customer", status, p)
}

// blacklistWarnings looks the customer's and its contacts' numbers up in
// the blacklist.
func (s *Server) blacklistWarnings(r *http.Request, p *Page, c *crmv1.Customer) []warningView {
	if s.cfg.Blacklist == nil {
		return nil
	}
	if c.GetPhonesMasked() {
		// The numbers are hidden from this reader: the server looks them up.
		resp, err := s.cfg.Blacklist.GetCustomerStatus(r.Context(), connect.NewRequest(&crmv1.GetCustomerBlacklistStatusRequest{Customer: c.GetName()}))
		if err != nil {
			s.cfg.Log.Warn("card: blacklist status", "err", err)
			return nil
		}
		var out []warningView
		for _, e := range resp.Msg.GetEntries() {
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
	for _, n := range []string{c.GetMobile(), c.GetPhone(), c.GetFinancePhone()} {
		add(n)
	}
	for _, ct := range c.GetContacts() {
		for _, n := range []string{ct.GetMobile(), ct.GetPhone(), ct.GetHomePhone()} {
			add(n)
		}
	}
	var out []warningView
	for _, n := range numbers {
		resp, err := s.cfg.Blacklist.GetStatus(r.Context(), connect.NewRequest(&crmv1.GetBlacklistStatusRequest{Number: n}))
		if err != nil {
			s.cfg.Log.Warn("card: blacklist status", "err", err)
			continue
		}
		if e := resp.Msg; e.GetListed() || e.GetFlags() > 0 {
			out = append(out, blacklistWarning(p, e))
		}
	}
	return out
}

// blacklistWarning words a listed or flagged number's status.
func blacklistWarning(p *Page, e *crmv1.BlacklistEntry) warningView {
	shown := displayPhone(e.GetNumber())
	switch {
	case e.GetListed() && e.GetPolicy() == crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT:
		return warningView{"red", p.T("card.blacklisted_reject", shown)}
	case e.GetListed():
		return warningView{"red", p.T("card.blacklisted_warn", shown)}
	}
	return warningView{"amber", p.T("card.flagged", shown, e.GetFlags(), e.GetThreshold())}
}

// cardDuplicates lists other customers that look like this one, for
// merging. Masked numbers cannot be compared, so a reader who may not
// see numbers gets the duplicates by name only.
func (s *Server) cardDuplicates(r *http.Request, p *Page, c *crmv1.Customer) []duplicateView {
	probe := &crmv1.Customer{Name: c.GetName(), DisplayName: c.GetDisplayName(), City: c.GetCity()}
	if !c.GetPhonesMasked() {
		probe.Phone, probe.Mobile, probe.FinancePhone = c.GetPhone(), c.GetMobile(), c.GetFinancePhone()
	}
	resp, err := s.cfg.Customers.FindDuplicates(r.Context(), connect.NewRequest(&crmv1.FindDuplicatesRequest{Customer: probe}))
	if err != nil {
		s.cfg.Log.Warn("card: duplicates", "customer", c.GetName(), "err", err)
		return nil
	}
	return viewDuplicates(p, resp.Msg.GetDuplicates())
}

// Timeline summaries of movements, as the domain writes them.
var (
	pointsSummary  = regexp.MustCompile(`^([+-]\d+) points(?:: (.*))?$`)
	balanceSummary = regexp.MustCompile(`^balance ([+-]¥[\d.]+)(?:: (.*))?$`)
)

// viewTimeline describes a timeline entry in the page's language: the
// kind as a label, the summary made readable where the kind is known
// (field names become labels, contacts are named), as it is otherwise.
func viewTimeline(p *Page, defs []*crmv1.CustomField, contacts map[string]string, e *crmv1.TimelineEntry) timelineView {
	v := timelineView{Actor: e.GetActor(), Origin: e.GetOrigin(), Kind: e.GetKind(), Text: e.GetSummary()}
	if t := e.GetTime(); t != nil {
		v.Time = t.AsTime()
	}
	v.Label = p.T("timeline." + e.GetKind())
	if v.Label == "timeline."+e.GetKind() {
		v.Label = e.GetKind() // a kind of a newer module
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
	switch e.GetKind() {
	case crm.TimelineCreated, crm.TimelineDeleted, crm.TimelineRestored, crm.TimelineContactRemoved:
		v.Text = ""
	case crm.TimelineFieldsSet:
		v.Text = fieldList(e.GetSummary())
	case crm.TimelineContactUpdated:
		v.Text = contactFieldList(p, e.GetSummary())
		if name := contacts[e.GetRef()]; name != "" {
			v.Text = name + p.T("list.colon") + v.Text
		}
	case crm.TimelineMerged:
		v.Text = p.T("timeline.merged_from", e.GetRef())
	case crm.TimelinePointsEarned, crm.TimelinePointsRedeemed:
		if m := pointsSummary.FindStringSubmatch(e.GetSummary()); m != nil {
			v.Text = withNote(p.T("timeline.points", m[1]), m[2])
		}
	case crm.TimelineToppedUp, crm.TimelineSpent:
		if m := balanceSummary.FindStringSubmatch(e.GetSummary()); m != nil {
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

func (s *Server) customerAddNote(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.card")
	if !s.parseForm(w, r, p, "error") {
		return
	}
	text := strings.TrimSpace(r.PostFormValue("text"))
	p.Form.Set("text", text)
	if _, err := s.cfg.Customers.AddNote(r.Context(), connect.NewRequest(&crmv1.AddNoteRequest{Parent: customerName(r), Text: text})); err != nil {
		status := s.failed(p, err)
		if msg, ok := p.Errors["text"]; ok {
			p.Errors["note"] = msg
		}
		s.renderCard(w, r, p, status)
		return
	}
	redirect(w, r, "/"+customerName(r)+"#timeline", p.T("card.note_added"))
}

func (s *Server) customerDelete(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "customers", "customer.card")
	resp, err := s.cfg.Customers.DeleteCustomer(r.Context(), connect.NewRequest(&crmv1.DeleteCustomerRequest{Name: customerName(r)}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/customers", p.T("card.deleted", resp.Msg.GetDisplayName()))
}

func (s *Server) customerRestore(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "deleted", "recycle.title")
	if !s.parseForm(w, r, p, "error") {
		return
	}
	resp, err := s.cfg.Customers.UndeleteCustomer(r.Context(), connect.NewRequest(&crmv1.UndeleteCustomerRequest{Name: customerName(r)}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	to := "/" + resp.Msg.GetName()
	if r.PostFormValue("next") == "/customers/deleted" {
		to = "/customers/deleted"
	}
	redirect(w, r, to, p.T("card.restored", resp.Msg.GetDisplayName()))
}
