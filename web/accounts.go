package web

import (
	"net/http"
	"regexp"
	"time"

	"connectrpc.com/connect"

	"branchline/crm"
	pickupv1 "branchline/gen/branchline/pickup/v1"
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
	Account   *pickupv1.Account
	Over      bool // unsettled beyond the deposit
	Kinds     []option
	Month     string
	PrevMonth string
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "account.title")
	s.renderAccount(w, r, p, http.StatusOK)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, p *Page, status int) {
	id := r.PathValue("customer")
	resp, err := s.cfg.Pickups.GetAccount(apiCtx(r), connect.NewRequest(&pickupv1.GetAccountRequest{Customer: id}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	now := time.Now()
	d := &accountData{pickupPageData: pickupPageData{Nav: pickupNav(p, "")}, Customer: id, Name: s.customerLabel(r, id),
		Account: resp.Msg, Month: now.Format("2006-01"), PrevMonth: now.AddDate(0, 0, -now.Day()).Format("2006-01")}
	d.Over = resp.Msg.GetUnsettledFen() > resp.Msg.GetDepositFen()
	kind := p.Value("kind")
	if kind == "" {
		kind = "payment"
	}
	for _, k := range paymentKinds {
		d.Kinds = append(d.Kinds, option{Value: k, Label: p.T("account.kind." + k), On: k == kind})
	}
	p.Title = p.T("account.title") + " · " + d.Name
	p.Data = d
	s.render(w, r, "account", status, p)
}

// accountPayment records a payment, refund or deposit movement.
func (s *Server) accountPayment(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "account.title")
	if !readAdminForm(w, r, p, 8<<10) {
		s.renderAccount(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	id := r.PathValue("customer")
	fen, err := yuanToFen("amount_yuan", p.Value("amount_yuan"))
	if err == nil {
		_, err = s.cfg.Pickups.RecordPayment(apiCtx(r), connect.NewRequest(&pickupv1.RecordPaymentRequest{
			Customer: id, Kind: p.Value("kind"), AmountFen: fen, Note: p.Value("note")}))
	}
	if err != nil {
		s.renderAccount(w, r, p, s.pickupFailed(p, err, "kind", "amount_yuan", "note"))
		return
	}
	redirect(w, r, "/accounts/"+id, p.T("account.recorded", p.T("account.kind."+p.Value("kind")), crm.Yuan(fen)))
}

// statementData is what statement.html shows.
type statementData struct {
	Customer string
	Name     string
	Site     string
	S        *pickupv1.Statement
	Lines    []statementLine
	Entries  []statementEntry
	Printed  string
}

type statementLine struct {
	L      *pickupv1.StatementLine
	Status string
}

type statementEntry struct {
	E    *pickupv1.StatementEntry
	Kind string
}

// dayText writes a day kept as "yyyyMMdd" as "yyyy-MM-dd".
func dayText(d string) string {
	if len(d) == 8 {
		return d[:4] + "-" + d[4:6] + "-" + d[6:]
	}
	return d
}

var monthRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)

func (s *Server) statementPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "statement.title")
	id := r.PathValue("customer")
	month := r.URL.Query().Get("month")
	if month != "" && !monthRe.MatchString(month) {
		p.Errors[""] = p.T("pickup.invalid.bad_month")
		s.render(w, r, "error", http.StatusUnprocessableEntity, p)
		return
	}
	resp, err := s.cfg.Pickups.GetStatement(apiCtx(r), connect.NewRequest(&pickupv1.GetStatementRequest{Customer: id, Month: month}))
	if err != nil {
		s.render(w, r, "error", s.pickupFailed(p, err), p)
		return
	}
	st := resp.Msg
	d := &statementData{Customer: id, Name: s.customerLabel(r, id), Site: s.cfg.Site, S: st,
		Printed: time.Now().Format("2006-01-02 15:04")}
	for _, l := range st.GetLines() {
		d.Lines = append(d.Lines, statementLine{L: l, Status: p.T("pickup.status." + l.GetStatus())})
	}
	for _, e := range st.GetEntries() {
		d.Entries = append(d.Entries, statementEntry{E: e, Kind: p.T("account.kind." + e.GetKind())})
	}
	p.Title = p.T("statement.title") + " · " + d.Name + " · " + st.GetMonth()
	p.Data = d
	s.render(w, r, "statement", http.StatusOK, p)
}
