package pickupui

import (
	"net/http"
	"regexp"
	"time"

	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	"branchline/web"
)

// Monthly-settlement accounts (月结, 预缴金/押金): a customer's deposit and
// unsettled amount, the payments, refunds and deposit movements recorded
// on it, and the printable monthly statement.

// paymentKinds are what can be recorded on an account.
var paymentKinds = []string{"payment", "deposit", "deposit_refund", "refund"}

// accountData is what account.html shows.
type accountData struct {
	pickupPageData
	Customer  string // id
	Name      string
	Account   pickup.Account
	Over      bool // unsettled beyond the deposit
	Kinds     []web.Option
	Month     string
	PrevMonth string
}

func (s *Pages) accountPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "account.title")
	s.renderAccount(w, r, p, http.StatusOK)
}

func (s *Pages) renderAccount(w http.ResponseWriter, r *http.Request, p *web.Page, status int) {
	id := r.PathValue("customer")
	a, err := s.cfg.Pickups.Account(r.Context(), web.CallerOf(r), id)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	now := time.Now().In(s.Location())
	d := &accountData{pickupPageData: pickupPageData{Nav: pickupNav(p, "")}, Customer: id, Name: s.customerLabel(r, id),
		Account: a, Month: now.Format("2006-01"), PrevMonth: now.AddDate(0, 0, -now.Day()).Format("2006-01")}
	d.Over = a.Unsettled > a.Deposit
	kind := p.Value("kind")
	if kind == "" {
		kind = "payment"
	}
	for _, k := range paymentKinds {
		d.Kinds = append(d.Kinds, web.Option{Value: k, Label: p.T("account.kind." + k), On: k == kind})
	}
	p.Title = p.T("account.title") + " · " + d.Name
	p.Data = d
	s.Render(w, r, "account", status, p)
}

// accountPayment records a payment, refund or deposit movement.
func (s *Pages) accountPayment(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "account.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.renderAccount(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	id := r.PathValue("customer")
	fen, err := web.YuanToFen("amount_yuan", p.Value("amount_yuan"))
	if err == nil {
		_, err = s.cfg.Pickups.RecordPayment(r.Context(), web.CallerOf(r), pickupapp.Payment{
			Customer: id, Kind: p.Value("kind"), Amount: fen, Note: p.Value("note")})
	}
	if err != nil {
		s.renderAccount(w, r, p, s.pickupFailed(p, err, "kind", "amount_yuan", "note"))
		return
	}
	web.Redirect(w, r, "/accounts/"+id, p.T("account.recorded", p.T("account.kind."+p.Value("kind")), crm.Yuan(fen)))
}

// statementData is what statement.html shows.
type statementData struct {
	Customer string // id, for links only
	Name     string
	Code     string // 客户编号
	Site     string
	S        *pickup.MonthlyStatement
	Lines    []statementLine
	Entries  []statementEntry
	Printed  string
}

type statementLine struct {
	L      pickup.Line
	Status string
}

type statementEntry struct {
	E    pickup.Entry
	Kind string
}

var monthRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)

func (s *Pages) statementPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "statement.title")
	id := r.PathValue("customer")
	month := r.URL.Query().Get("month")
	if month != "" && !monthRe.MatchString(month) {
		p.Errors[""] = p.T("pickup.invalid.bad_month")
		s.Render(w, r, "error", http.StatusUnprocessableEntity, p)
		return
	}
	st, err := s.cfg.Pickups.Statement(r.Context(), web.CallerOf(r), id, month)
	if err != nil {
		s.Render(w, r, "error", s.pickupFailed(p, err), p)
		return
	}
	d := &statementData{Customer: id, Name: st.Name, Code: st.Code, Site: s.Site(), S: st,
		Printed: p.TimeText(time.Now())}
	if d.Name == "" { // no such customer record (yet, at this node)
		d.Name = id
	}
	for _, l := range st.Lines {
		d.Lines = append(d.Lines, statementLine{L: l, Status: p.T("pickup.status." + l.Status)})
	}
	for _, e := range st.Entries {
		d.Entries = append(d.Entries, statementEntry{E: e, Kind: p.T("account.kind." + e.Kind)})
	}
	p.Title = p.T("statement.title") + " · " + d.Name + " · " + st.Month
	p.Data = d
	s.Render(w, r, "statement", http.StatusOK, p)
}
