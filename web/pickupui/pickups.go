package pickupui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"branchline/access"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	"branchline/fault"
	"branchline/web"
)

// Statuses are the statuses a pickup can be in, in workflow order
// (the list filter and the head office dashboard offer them so).
var Statuses = []string{"new", "assigned", "notified", "accepted", "picked_up", "checked", "cancelled", "failed"}

// pickupPayments are the payment methods, 月结 first.
var pickupPayments = []string{"monthly", "cash", "collect"}

// pickupNav is the sub-navigation of the pickup pages, with the sections
// the user may open (at the hub: zones and tariffs only).
func pickupNav(p *web.Page, on string) []web.NavLink {
	sections := []struct {
		href, key string
		perms     []access.Perm
	}{
		{"/pickups", "pickup.nav.list", pickupViewers},
		{"/pickups/new", "pickup.nav.new", []access.Perm{access.PickupWrite}},
		{"/pickups/conflicts", "pickup.nav.conflicts", pickupReaders},
		{"/pickups/zones", "pickup.nav.zones", []access.Perm{access.PickupDispatch}},
		{"/pickups/couriers", "pickup.nav.couriers", []access.Perm{access.PickupDispatch}},
		{"/pickups/rates", "pickup.nav.rates", []access.Perm{access.FinanceManage}},
		{"/pickups/reports", "pickup.nav.reports", pickupReaders},
		{"/track", "pickup.nav.track", pickupViewers},
	}
	var out []web.NavLink
	for _, sec := range sections {
		if p.Has("hub") && sec.href != "/pickups/zones" && sec.href != "/pickups/rates" {
			continue
		}
		if slices.ContainsFunc(sec.perms, p.Grant.Can) {
			out = append(out, web.NavLink{Href: sec.href, Key: sec.key, On: sec.href == on})
		}
	}
	return out
}

// pickupPageData is embedded in the data of the pickup pages: their
// sub-navigation.
type pickupPageData struct {
	Nav []web.NavLink
}

// statusBadge is the badge colour of a pickup status.
func statusBadge(st string) string {
	switch st {
	case "picked_up", "checked":
		return "green"
	case "cancelled", "failed":
		return "red"
	case "new", "assigned", "notified":
		return "amber"
	}
	return ""
}

// openStatus reports whether a pickup in status st still waits for its
// courier.
func openStatus(st string) bool {
	return st == "new" || st == "assigned" || st == "notified" || st == "accepted"
}

// pickupRow is one pickup of a list.
type pickupRow struct {
	P      *pickup.Pickup
	Status string // label
	Badge  string
	Pay    string // label
	// Courier names the courier the pickup is assigned to.
	Courier string
}

func viewPickupRow(p *web.Page, pk *pickup.Pickup) pickupRow {
	return pickupRow{P: pk, Status: p.T("pickup.status." + pk.Status), Badge: statusBadge(pk.Status),
		Pay: p.T("pickup.payment." + pk.Payment)}
}

// pickupListData is what pickups.html shows.
type pickupListData struct {
	pickupPageData
	Rows     []pickupRow
	Statuses []web.Option
	Couriers []web.Option
	Status   string
	Courier  string
	Day      string
	// Customer and CustomerName: the list holds one customer's pickups
	// (from the customer's card).
	Customer, CustomerName string
	// Own says the list is the courier's own pickups.
	Own bool
	Err string
	// PrintList and PrintLabels print the list as filtered, and the
	// shipping labels of its pickups.
	PrintList, PrintLabels string
	// List is the list's state from the URL (search, order, page,
	// filters); Pager its total and page links.
	List  web.List
	Pager web.Pager
	// Bulk offers to tick pickups and act on them: reassign them
	// (CanReassign, to one of Assign), cancel them (CanCancel), print them.
	Bulk                   bool
	CanReassign, CanCancel bool
	Assign                 []web.Option
}

// pickupListSpec is what the pickup list sorts and filters by: newest
// first by default.
var pickupListSpec = web.ListSpec{Sorts: pickup.SortColumns, DefaultDesc: true, Filters: []string{"status", "courier", "day", "customer"}}

// courierOnly reports whether the user holds the courier permission and
// none of the readers': they see their own pickups only.
func courierOnly(p *web.Page) bool {
	return p.Grant.Can(access.PickupCourier) && !slices.ContainsFunc(pickupReaders, p.Grant.Can)
}

// listFilter is the pickup list's filter as a link's query gives it: the
// list page, the printed list and its labels read the same pickups.
type listFilter struct {
	Status, Courier, Day, Customer string
	// Own says the list is the courier's own pickups.
	Own bool
}

// readFilter reads the list's filter from q and the query of the use case
// it makes; an unreadable day is left out and marked in p.Errors["day"].
func (s *Pages) readFilter(p *web.Page, q url.Values) (listFilter, pickupapp.Query) {
	f := listFilter{Status: q.Get("status"), Courier: q.Get("courier"), Day: q.Get("day"), Customer: q.Get("customer")}
	if courierOnly(p) {
		f.Own, f.Courier = true, p.User
	}
	req := pickupapp.Query{Status: f.Status, Courier: f.Courier, Customer: f.Customer, Size: 50, After: q.Get("after")}
	if f.Day != "" {
		from, to, ok := s.DayBounds(f.Day)
		if !ok {
			p.Errors["day"] = p.T("pickup.invalid.bad_day")
			f.Day = ""
		} else {
			req.From, req.To = from, to
		}
	}
	return f, req
}

// link is the filter's link to path: the list, the printed list, its
// labels.
func (f listFilter) link(path string) string {
	courier := f.Courier
	if f.Own {
		courier = ""
	}
	return web.LinkWith(path, "status", f.Status, "courier", courier, "day", f.Day, "customer", f.Customer)
}

func (s *Pages) pickupList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.list.title")
	q := r.URL.Query()
	f, req := s.readFilter(p, q)
	l := web.ParseList("/pickups", q, pickupListSpec)
	if f.Day == "" {
		l.Filters.Del("day") // unreadable: shown as an error, not kept
	}
	d := &pickupListData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups")},
		Status: f.Status, Courier: f.Courier, Day: f.Day, Own: f.Own, Customer: f.Customer,
		PrintList: f.link("/pickups/print"), PrintLabels: f.link("/pickups/labels"), List: l}
	p.Data = d
	p.Form.Set("q", l.Text)
	if d.Customer != "" {
		d.CustomerName = s.customerLabel(r, d.Customer)
	}
	d.Statuses = append(d.Statuses, web.Option{Value: "", Label: p.T("pickup.all")})
	for _, st := range Statuses {
		d.Statuses = append(d.Statuses, web.Option{Value: st, Label: p.T("pickup.status." + st), On: st == d.Status})
	}
	couriers := s.couriers(r)
	if !d.Own {
		d.Couriers = append(d.Couriers, web.Option{Value: "", Label: p.T("pickup.all")})
		for _, c := range couriers {
			d.Couriers = append(d.Couriers, web.Option{Value: c.User, Label: CourierLabel(c), On: c.User == d.Courier})
		}
	}
	d.CanReassign = !d.Own && p.Grant.Can(access.PickupDispatch)
	d.CanCancel = !d.Own && p.Grant.Can(access.PickupWrite)
	d.Bulk = !d.Own
	if d.CanReassign {
		for _, c := range couriers {
			label := CourierLabel(c)
			if !c.OnDuty {
				label += " · " + p.T("pickup.courier.off_duty")
			}
			d.Assign = append(d.Assign, web.Option{Value: c.User, Label: label})
		}
	}
	page, err := s.cfg.Pickups.Sorted(r.Context(), web.CallerOf(r), pickupapp.SortedQuery{Query: req,
		Text: l.Text, Order: l.Order})
	if err != nil {
		status := s.pickupFailed(p, err, "status", "courier", "day", "q")
		s.Render(w, r, "pickups", status, p)
		return
	}
	courier := courierNames(couriers)
	for _, pk := range page.Items {
		row := viewPickupRow(p, pk)
		row.Courier = courier(pk.Courier)
		d.Rows = append(d.Rows, row)
	}
	d.Pager = l.Pager(page.Total, page.Prev, page.Next)
	s.Render(w, r, "pickups", http.StatusOK, p)
}

// pickupBulk acts on the pickups ticked in the list: reassigns them to a
// courier, cancels them, or prints their slips as a list or their labels.
// Each pickup goes through its own use case (Reassign, Cancel, Get), with
// its own permission and scope check; the user goes back to the list as
// it was with what was done and what was refused, and why.
func (s *Pages) pickupBulk(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.list.title")
	back := "/pickups"
	if !web.ReadForm(w, r, p, 64<<10) {
		web.Redirect(w, r, back, p.T("form.too_large"))
		return
	}
	if b := p.Value("back"); b == "/pickups" || strings.HasPrefix(b, "/pickups?") {
		back = b
	}
	ids := p.Form["id"]
	if len(ids) == 0 {
		web.RedirectWarn(w, r, back, "", p.T("pickup.bulk.none"))
		return
	}
	var outcomes []pickupapp.Outcome
	var err error
	var doneKey string
	switch p.Value("action") {
	case "labels", "print":
		to := "/pickups/labels"
		if p.Value("action") == "print" {
			to = "/pickups/print"
		}
		web.Redirect(w, r, to+"?"+url.Values{"id": ids}.Encode(), "")
		return
	case "reassign":
		if p.Value("bulk_courier") == "" {
			web.RedirectWarn(w, r, back, "", p.T("pickup.bulk.no_courier"))
			return
		}
		outcomes, err = s.cfg.Pickups.ReassignAll(r.Context(), web.CallerOf(r), ids, p.Value("bulk_courier"))
		doneKey = "pickup.bulk.reassigned"
	case "cancel":
		outcomes, err = s.cfg.Pickups.CancelAll(r.Context(), web.CallerOf(r), ids, p.Value("bulk_reason"))
		doneKey = "pickup.bulk.cancelled"
	default:
		web.Redirect(w, r, back, "")
		return
	}
	if err != nil {
		web.RedirectWarn(w, r, back, "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	done := 0
	var refused []string
	for _, o := range outcomes {
		if o.Err == nil {
			done++
			continue
		}
		name := o.Ref
		if pk, err := s.cfg.Pickups.Get(r.Context(), web.CallerOf(r), o.Ref); err == nil {
			name = pk.Number
		}
		refused = append(refused, name+p.T("list.colon")+s.pickupErrText(p, o.Err))
	}
	msg := p.N(doneKey, done)
	if len(refused) == 0 {
		web.Redirect(w, r, back, msg)
		return
	}
	web.RedirectWarn(w, r, back, msg, p.N("pickup.bulk.refused", len(refused), strings.Join(refused, p.T("list.sep"))))
}

// couriers lists the branch's couriers for selects; a failure (a user who
// may not read them) lists none.
func (s *Pages) couriers(r *http.Request) []pickup.Courier {
	cs, err := s.cfg.Pickups.Couriers(r.Context(), web.CallerOf(r), "")
	if err != nil {
		return nil
	}
	return cs
}

// CourierLabel names a courier: "李师傅 (courier.sh)", their name and
// the user name they sign in with.
func CourierLabel(c pickup.Courier) string {
	if c.Name == "" || c.Name == c.User {
		return c.User
	}
	return c.Name + " (" + c.User + ")"
}

// pickupFailed is failed for the pickup pages: validation codes are
// translated under pickup.invalid.<code> (so that they cannot clash with
// other pages' catalogs), and a field is named as the form names it
// ("sender.name" → sender_name, weight_grams → weight_kg). A field the form
// has no input for shows its message at the top of the form.
func (s *Pages) pickupFailed(p *web.Page, err error, fields ...string) int {
	return s.placeFailure(p, err, "pickup", formFieldOf, fields)
}

// placeFailure is failed for the pages of one area (pickup, stock): an
// invalid input's message, translated under <area>.invalid.<code>, goes
// next to the form's input for the field (as formField names it) when the
// form has one, else at the top; a conflict (done already, or the state
// changed meanwhile) or a denial by the service (a record of another
// branch, courier or node) gets the area's message.
func (s *Pages) placeFailure(p *web.Page, err error, area string, formField func(string) string, fields []string) int {
	return s.PlaceFailure(p, err, area, formField, fields)
}

// pickupErr is err's message as pickupFailed shows it at the top of a
// form, and the status to answer, without touching p.
func (s *Pages) pickupErr(p *web.Page, err error) (string, int) {
	tmp := p.Scratch()
	status := s.pickupFailed(tmp, err)
	return tmp.Errors[""], status
}

// pickupErrText is pickupErr's message, for a message away from the form
// (after a redirect): a generic one ("required") names its field.
func (s *Pages) pickupErrText(p *web.Page, err error) string {
	msg, _ := s.pickupErr(p, err)
	if inv, ok := fault.AsInvalid(err); ok && (inv.Code == "required" || inv.Code == "too_long" || inv.Code == "bad_text") {
		key := "pickup.f." + formFieldOf(inv.Field)
		if label := p.T(key); label != key {
			msg = p.T("pickup.field_error", label, msg)
		}
	}
	return msg
}

// zones lists the zones for selects; a failure lists none.
func (s *Pages) zones(r *http.Request) []pickup.Zone {
	zs, err := s.cfg.Pickups.Zones(r.Context(), web.CallerOf(r))
	if err != nil {
		s.Log().Warn("pickup pages: zones", "err", err)
		return nil
	}
	return zs
}

// formFieldOf maps an API field name to the form's input name.
func formFieldOf(field string) string {
	switch field {
	case "weight_grams":
		return "weight_kg"
	case "price_fen", "amount_fen":
		return strings.TrimSuffix(field, "_fen") + "_yuan"
	}
	return strings.NewReplacer(".", "_", "[", "_", "]", "").Replace(field)
}

// pickupView is what pickup.html shows.
type pickupView struct {
	pickupPageData
	P         *pickup.Pickup
	Status    string
	Badge     string
	Pay       string
	Open      bool
	Steps     []stepView
	Conflicts []pickupConflictView
	Couriers  []web.Option
	CanCancel bool
	CanCheck  bool
	CanAssign bool
	Account   bool // link the customer's account
	Quote     *quoteView
	Customer  string // the customer's name
	Zone      string // the zone's name
	Courier   string // the courier's name (and user)
}

type stepView struct {
	Status, Label, Badge, Actor, Origin, Detail string
	At                                          string
}

type pickupConflictView struct {
	PickupID, Number string
	Lost, LostBy     string
	LostAt           string
	Won, WonBy       string
	WonAt            string
	Detail           string
}

func viewSteps(p *web.Page, steps []pickup.Step) []stepView {
	out := make([]stepView, 0, len(steps))
	for _, st := range steps {
		out = append(out, stepView{Status: st.Status, Label: p.T("pickup.status." + st.Status), Badge: statusBadge(st.Status),
			Actor: st.Actor, Origin: st.Origin, Detail: st.Detail, At: p.TimeText(st.At)})
	}
	return out
}

func viewConflicts(p *web.Page, cs []pickup.Conflict) []pickupConflictView {
	out := make([]pickupConflictView, 0, len(cs))
	for _, c := range cs {
		out = append(out, pickupConflictView{PickupID: c.Pickup, Number: c.Number,
			Lost: p.T("pickup.status." + c.Lost), LostBy: c.LostBy, LostAt: p.TimeText(c.LostAt),
			Won: p.T("pickup.status." + c.Won), WonBy: c.WonBy, WonAt: p.TimeText(c.WonAt), Detail: c.Detail})
	}
	return out
}

func (s *Pages) pickupPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.title")
	pk, err := s.cfg.Pickups.Get(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	p.Title = p.T("pickup.title") + " " + pk.Number
	couriers := s.couriers(r)
	d := s.viewPickup(r, p, pk, couriers)
	d.Nav = pickupNav(p, "")
	d.CanCancel = d.Open && p.Grant.Can(access.PickupWrite)
	d.CanCheck = pk.Status == "picked_up" && p.Grant.Can(access.PickupWrite)
	d.CanAssign = d.Open && p.Grant.Can(access.PickupDispatch)
	if d.CanAssign {
		for _, c := range couriers {
			label := CourierLabel(c)
			if !c.OnDuty {
				label += " · " + p.T("pickup.courier.off_duty")
			}
			d.Couriers = append(d.Couriers, web.Option{Value: c.User, Label: label, On: c.User == pk.Courier})
		}
	}
	d.Account = d.Customer != "" && pk.Payment == "monthly" && p.CanAny(string(access.FinanceManage), string(access.Supervise))
	p.Data = d
	s.Render(w, r, "pickup", http.StatusOK, p)
}

// viewPickup is what the pickup's page and its slip show of pk, as the
// user reads it: its status, history and quote in words, its zone,
// courier (of couriers) and customer by their names.
func (s *Pages) viewPickup(r *http.Request, p *web.Page, pk *pickup.Pickup, couriers []pickup.Courier) *pickupView {
	st := pk.Status
	d := &pickupView{P: pk, Status: p.T("pickup.status." + st), Badge: statusBadge(st), Pay: p.T("pickup.payment." + pk.Payment),
		Open: openStatus(st), Steps: viewSteps(p, pk.History), Conflicts: viewConflicts(p, pk.Conflicts)}
	d.Zone = s.zoneNames(r)(pk.Zone)
	d.Courier = courierNames(couriers)(pk.Courier)
	if pk.Quote != (pickup.Breakdown{}) {
		d.Quote = viewQuote(p, pk.Quote)
	}
	if c := pk.Customer; c != "" {
		d.Customer = s.customerLabel(r, c)
	}
	return d
}

// zoneNames names zones by their ids, for showing: a zone without a name,
// or unknown, by its id.
func (s *Pages) zoneNames(r *http.Request) func(id string) string {
	names := map[string]string{}
	for _, z := range s.zones(r) {
		if z.Name != "" {
			names[z.ID] = z.Name
		}
	}
	return func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
}

// courierNames names the couriers of cs by their users (CourierLabel); an
// unknown user is shown as it is.
func courierNames(cs []pickup.Courier) func(user string) string {
	names := map[string]string{}
	for _, c := range cs {
		names[c.User] = CourierLabel(c)
	}
	return func(user string) string {
		if n, ok := names[user]; ok {
			return n
		}
		return user
	}
}

// pickupAction reads a pickup action's small form and runs call with it;
// the user goes back to the pickup page with msg or the failure.
func (s *Pages) pickupAction(w http.ResponseWriter, r *http.Request, msgKey string, call func(p *web.Page, id string) error) {
	p := s.NewPage(r, "pickups", "pickup.title")
	id := r.PathValue("id")
	back := "/pickups/" + id
	if !web.ReadForm(w, r, p, 8<<10) {
		web.Redirect(w, r, back, p.T("form.too_large"))
		return
	}
	if err := call(p, id); err != nil {
		web.RedirectWarn(w, r, back, "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	web.Redirect(w, r, back, p.T(msgKey))
}

func (s *Pages) pickupCancel(w http.ResponseWriter, r *http.Request) {
	s.pickupAction(w, r, "pickup.cancelled", func(p *web.Page, id string) error {
		_, err := s.cfg.Pickups.Cancel(r.Context(), web.CallerOf(r), id, p.Value("reason"))
		return err
	})
}

func (s *Pages) pickupCheck(w http.ResponseWriter, r *http.Request) {
	s.pickupAction(w, r, "pickup.checked", func(p *web.Page, id string) error {
		_, err := s.cfg.Pickups.Check(r.Context(), web.CallerOf(r), id, p.Value("note"))
		return err
	})
}

func (s *Pages) pickupReassign(w http.ResponseWriter, r *http.Request) {
	s.pickupAction(w, r, "pickup.reassigned", func(p *web.Page, id string) error {
		_, err := s.cfg.Pickups.Reassign(r.Context(), web.CallerOf(r), id, p.Value("courier"))
		return err
	})
}

// conflictsData is what pickup_conflicts.html shows.
type conflictsData struct {
	pickupPageData
	Conflicts []pickupConflictView
}

func (s *Pages) pickupConflicts(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.conflicts.title")
	d := &conflictsData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/conflicts")}}
	p.Data = d
	cs, err := s.cfg.Pickups.Conflicts(r.Context(), web.CallerOf(r), "")
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	d.Conflicts = viewConflicts(p, cs)
	s.Render(w, r, "pickup_conflicts", http.StatusOK, p)
}
