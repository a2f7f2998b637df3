package pickupui

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	"branchline/fault"
	"branchline/web"
)

// The agent's pickup form (叫件). The price is quoted before saving: a
// small script asks /pickups/quote as the destination, weight or customer
// change; without script the form's "quote" button re-renders the form
// with the price. Booking and quoting go through the same Quote of the
// domain, so the price shown is the price booked.

// inputView is one input of the pickup form.
type inputView struct {
	Name, Label, Type, Mode, Hint string
	// Note, with its element's id NoteID, is shown under the input.
	Note, NoteID string
	Required     bool
	Wide         bool
	Max          int
}

// partyInputs are a sender's or receiver's inputs, named prefix_field.
func partyInputs(p *web.Page, prefix string, required bool) []inputView {
	return []inputView{
		{Name: prefix + "_name", Label: p.T("pickup.f.name"), Type: "text", Required: required, Max: 64},
		{Name: prefix + "_phone", Label: p.T("pickup.f.phone"), Type: "tel", Mode: "tel", Required: required, Max: 32},
		{Name: prefix + "_company", Label: p.T("pickup.f.company"), Type: "text", Max: 100},
		{Name: prefix + "_address", Label: p.T("pickup.f.address"), Type: "text", Required: required, Wide: true, Max: 200},
		{Name: prefix + "_postcode", Label: p.T("pickup.f.postcode"), Type: "text", Mode: "numeric", Max: 10},
	}
}

// pickupFormFields are the form's inputs the API can name in an error.
var pickupFormFields = []string{
	"sender_name", "sender_phone", "sender_company", "sender_address", "sender_postcode",
	"receiver_name", "receiver_phone", "receiver_company", "receiver_address", "receiver_postcode",
	"destination", "route", "goods", "weight_kg", "pieces", "payment", "zone", "note", "customer",
}

// pickupFieldLabel is the label of an input of the pickup form: a
// sender's or receiver's with the party's name ("寄件人 电话").
func pickupFieldLabel(p *web.Page, field string) string {
	for _, who := range []string{"sender", "receiver"} {
		if f, ok := strings.CutPrefix(field, who+"_"); ok {
			return p.T("pickup."+who) + " " + p.T("pickup.f."+f)
		}
	}
	return p.T("pickup.f." + field)
}

// pickupFormData is what pickup_form.html shows.
type pickupFormData struct {
	pickupPageData
	Sender, Receiver []inputView
	Zones            []web.Option
	Payments         []web.Option
	Customer         string // id
	CustomerName     string
	Quote            *quoteView
	QuoteErr         string
}

// quoteView is a price with how it was computed, in the page's language.
type quoteView struct {
	Final string   `json:"final"`
	Lines []string `json:"lines"`
	Error string   `json:"error,omitempty"`
	// Warning is the deposit warning booking would carry.
	Warning string `json:"warning,omitempty"`
}

// viewQuote explains a quote: the tariff row, the customer's plan and the
// volume discount.
func viewQuote(p *web.Page, q pickup.Breakdown) *quoteView {
	v := &quoteView{Final: crm.Yuan(q.Final)}
	area := q.Area
	if area == "*" {
		area = p.T("pickup.quote.any_area")
	}
	v.Lines = append(v.Lines, p.T("pickup.quote.base", area, crm.Yuan(q.Base)))
	if q.Plan != "" && q.Plan != "standard" {
		v.Lines = append(v.Lines, p.T("pickup.quote.customer_rows"))
	}
	if pc := q.PlanPercent; pc != 0 && pc != 100 {
		v.Lines = append(v.Lines, p.T("pickup.quote.plan", pc, crm.Yuan(q.Planned)))
	}
	if q.Volume > 0 {
		if dp := q.DiscountPercent; dp != 0 && dp != 100 {
			v.Lines = append(v.Lines, p.T("pickup.quote.discount", q.Volume, dp))
		} else {
			v.Lines = append(v.Lines, p.T("pickup.quote.volume", q.Volume))
		}
	}
	return v
}

func (s *Pages) pickupFormData(r *http.Request, p *web.Page) *pickupFormData {
	d := &pickupFormData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/new")},
		Sender: partyInputs(p, "sender", true), Receiver: partyInputs(p, "receiver", false)}
	d.Zones = append(d.Zones, web.Option{Value: "", Label: p.T("pickup.zone_auto")})
	for _, z := range s.zones(r) {
		d.Zones = append(d.Zones, web.Option{Value: z.ID, Label: zoneLabel(z), On: z.ID == p.Value("zone")})
	}
	if v := p.Value("zone"); v != "" && !hasOption(d.Zones, v) {
		// A zone removed since, or one typed into the page: keep it, so
		// that the error names what was sent.
		d.Zones = append(d.Zones, web.Option{Value: v, Label: v, On: true})
	}
	pay := p.Value("payment")
	for _, m := range pickupPayments {
		d.Payments = append(d.Payments, web.Option{Value: m, Label: p.T("pickup.payment." + m), On: m == pay})
	}
	d.Customer = p.Value("customer")
	if d.Customer != "" {
		d.CustomerName = d.Customer
		if c, err := s.customer(r, d.Customer); err == nil {
			d.CustomerName = c.Name()
			if phone := customerPhone(c); c.PhonesMasked && phone != "" {
				// The agent may not see the number: the server takes it
				// from the customer when the input is left blank.
				ph := &d.Sender[1]
				ph.Required = false
				ph.NoteID = "sender-phone-masked"
				ph.Note = p.T("pickup.sender_phone_masked", phone)
			}
		}
	}
	return d
}

// customerPhone is the number of c a pickup booked for it is collected
// at, as the reader may see it (masked or not): the rule of
// pickup.CustomerPhone, which the server applies to the real numbers.
func customerPhone(c *crmapp.Customer) string {
	phone := c.Get("mobile")
	if phone == "" {
		phone = c.Get("phone")
	}
	if cs := c.Contacts; len(cs) > 0 && cs[0].Fields["mobile"] != "" {
		phone = cs[0].Fields["mobile"]
	}
	return phone
}

func hasOption(opts []web.Option, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// zoneLabel names a zone in a select.
func zoneLabel(z pickup.Zone) string {
	if z.Name != "" {
		return z.Name + " (" + z.ID + ")"
	}
	return z.ID
}

// customer reads customer id as the user may see it.
func (s *Pages) customer(r *http.Request, id string) (*crmapp.Customer, error) {
	if s.cfg.Customers == nil {
		return nil, errNoCustomers
	}
	return s.cfg.Customers.Get(r.Context(), web.CallerOf(r), id)
}

// errNoCustomers says the pages were mounted without the customers' use
// cases.
var errNoCustomers = fault.ErrNotFound

// customerLabel names customer id; the id itself when it cannot be read.
func (s *Pages) customerLabel(r *http.Request, id string) string {
	c, err := s.customer(r, id)
	if err != nil {
		return id
	}
	return c.Name()
}

// pickupNew shows the empty form, the sender prefilled from a customer
// (?customer=<id>, from the customer card or the screen pop) or a caller's
// number (?phone=, an unknown caller).
func (s *Pages) pickupNew(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickup_new", "pickup.new.title")
	q := r.URL.Query()
	p.Form.Set("pieces", "1")
	p.Form.Set("payment", "cash")
	if ph := q.Get("phone"); ph != "" {
		p.Form.Set("sender_phone", ph)
	}
	if id := q.Get("customer"); id != "" {
		c, err := s.customer(r, id)
		if err != nil {
			s.Render(w, r, "error", s.Failed(p, err), p)
			return
		}
		prefillSender(p, c)
	}
	p.Data = s.pickupFormData(r, p)
	s.Render(w, r, "pickup_form", http.StatusOK, p)
}

// prefillSender fills the sender from a customer: the company's name,
// its first contact as the person (else the company), the number
// customerPhone picks (left blank when the agent sees it masked: the server
// fills it in), the address and postcode. An account customer pays monthly.
func prefillSender(p *web.Page, c *crmapp.Customer) {
	f := p.Form
	f.Set("customer", c.ID)
	f.Set("sender_company", c.Name())
	f.Set("sender_name", c.Name())
	if cs := c.Contacts; len(cs) > 0 {
		f.Set("sender_name", cs[0].Name())
	}
	if !c.PhonesMasked && f.Get("sender_phone") == "" {
		f.Set("sender_phone", web.DisplayPhone(customerPhone(c)))
	}
	f.Set("sender_address", c.Get("address"))
	f.Set("sender_postcode", c.Get("postcode"))
	f.Set("payment", "monthly")
}

// partyFrom reads a sender or receiver from the form.
func partyFrom(p *web.Page, prefix string) pickup.Party {
	return pickup.Party{Name: p.Value(prefix + "_name"), Phone: p.Value(prefix + "_phone"), Address: p.Value(prefix + "_address"),
		Company: p.Value(prefix + "_company"), Postcode: p.Value(prefix + "_postcode")}
}

// pieces reads the pieces input; blank is 0 (the API's default of 1).
func pieces(p *web.Page) (int64, bool) {
	v := p.Value("pieces")
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func (s *Pages) pickupCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickup_new", "pickup.new.title")
	if !web.ReadForm(w, r, p, 64<<10) {
		p.Data = s.pickupFormData(r, p)
		s.Render(w, r, "pickup_form", http.StatusRequestEntityTooLarge, p)
		return
	}
	fail := func(err error) {
		status := s.pickupFailed(p, err, pickupFormFields...)
		p.NameFirstError(func(f string) string { return pickupFieldLabel(p, f) }, pickupFormFields...)
		if p.Errors[""] == "" {
			p.Errors[""] = p.T("form.fix_errors")
		}
		d := s.pickupFormData(r, p)
		d.Quote, d.QuoteErr = s.quote(r, p)
		p.Data = d
		s.Render(w, r, "pickup_form", status, p)
	}
	grams, err := web.KgToGrams("weight_kg", p.Value("weight_kg"))
	if err != nil {
		fail(err)
		return
	}
	n, ok := pieces(p)
	if !ok {
		fail(fault.Invalidf("pieces", "bad_pieces", "%q is not a number of pieces", p.Value("pieces")))
		return
	}
	if p.Value("op") == "quote" {
		d := s.pickupFormData(r, p)
		d.Quote, d.QuoteErr = s.quote(r, p)
		p.Data = d
		s.Render(w, r, "pickup_form", http.StatusOK, p)
		return
	}
	pk, bk, err := s.cfg.Pickups.Create(r.Context(), web.CallerOf(r), pickup.Input{
		Sender: partyFrom(p, "sender"), Receiver: partyFrom(p, "receiver"),
		Destination: p.Value("destination"), Route: p.Value("route"), Goods: p.Value("goods"), Note: p.Value("note"),
		WeightGrams: grams, Pieces: n, Payment: p.Value("payment"), Customer: p.Value("customer"), Zone: p.Value("zone"),
	})
	if err != nil {
		fail(err)
		return
	}
	warn := ""
	if wn := bk.Warning; wn != nil {
		warn = depositWarning(p, wn)
	}
	msg := p.T("pickup.booked", pk.Number, crm.Yuan(pk.Price))
	if pk.Courier != "" {
		msg = p.T("pickup.booked_assigned", pk.Number, crm.Yuan(pk.Price), pk.Courier)
	}
	web.RedirectWarn(w, r, "/pickups/"+pk.ID, msg, warn)
}

// depositWarning words a deposit warning.
func depositWarning(p *web.Page, wn *pickup.DepositWarning) string {
	return p.T("pickup.deposit_warning", crm.Yuan(wn.Unsettled+wn.Price), crm.Yuan(wn.Deposit))
}

// quote prices the form's pickup, or says why it cannot yet.
func (s *Pages) quote(r *http.Request, p *web.Page) (*quoteView, string) {
	dest := p.Value("destination")
	if dest == "" || p.Value("weight_kg") == "" {
		return nil, p.T("pickup.quote.need")
	}
	grams, err := web.KgToGrams("weight_kg", p.Value("weight_kg"))
	if err == nil {
		var q pickupapp.Quoted
		q, err = s.cfg.Pickups.QuoteBooking(r.Context(), web.CallerOf(r), pickupapp.QuoteRequest{
			Customer: p.Value("customer"), Destination: dest, WeightGrams: grams, Payment: p.Value("payment")})
		if err == nil {
			v := viewQuote(p, q.Breakdown)
			if wn := q.Warning; wn != nil {
				v.Warning = depositWarning(p, wn)
			}
			return v, ""
		}
	}
	return nil, s.pickupErrText(p, err)
}

// pickupQuote answers the form's script with the quote as JSON.
func (s *Pages) pickupQuote(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickup_new", "pickup.new.title")
	for _, k := range []string{"customer", "destination", "weight_kg", "payment"} {
		p.Form.Set(k, r.URL.Query().Get(k))
	}
	v, why := s.quote(r, p)
	if v == nil {
		v = &quoteView{Error: why}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.Log().Debug("quote: write", "err", err)
	}
}
