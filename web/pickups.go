package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// Permissions of the pickup pages. Reading pickups, zones, couriers and
// reports is for agents, dispatchers, finance and supervisors (as the
// PickupService allows); couriers see their own pickups only.
var (
	pickupReaders = []access.Perm{access.PickupWrite, access.PickupDispatch, access.FinanceManage, access.Supervise}
	pickupViewers = append(pickupReaders[:len(pickupReaders):len(pickupReaders)], access.PickupCourier)
)

// pickupsTopic is the broker topic of pickup changes: the courier page and
// the agents' pickup list re-read what they show when it fires.
const pickupsTopic = "pickups"

// pickupStatuses are the statuses a pickup can be in, in workflow order
// (the list filter offers them so).
var pickupStatuses = []string{"new", "assigned", "notified", "accepted", "picked_up", "checked", "cancelled", "failed"}

// pickupPayments are the payment methods, 月结 first.
var pickupPayments = []string{"monthly", "cash", "collect"}

// PickupsChanged tells the browsers showing pickups that the pickups ids
// changed (booked, dispatched, accepted, picked up…), whoever changed
// them: the node calls it after every pickup command, local or pulled.
// Each page re-reads its own list, so the event carries only the ids.
func (s *Server) PickupsChanged(ids ...string) {
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		s.cfg.Log.Error("pickups changed", "err", err)
		return
	}
	s.cfg.Broker.Publish(pickupsTopic, Event{Name: "pickup.changed", Data: string(b)})
}

// pickupRoutes registers the pickup pages. Each calls the PickupService
// in process as the signed-in user; the pages check the permission the
// service will ask for, so that a user without it gets a 403 page.
func (s *Server) pickupRoutes() {
	if s.cfg.Pickups == nil {
		return
	}
	write := []access.Perm{access.PickupWrite}
	dispatch := []access.Perm{access.PickupDispatch}
	finance := []access.Perm{access.FinanceManage}

	s.getPage("/pickups", s.pickupList, pickupViewers...)
	s.getPage("/pickups/new", s.pickupNew, write...)
	s.getPage("/pickups/quote", s.pickupQuote, write...)
	s.postAction("/pickups", s.pickupCreate, write...)
	s.getPage("/pickups/conflicts", s.pickupConflicts, pickupReaders...)
	s.getPage("/pickups/reports", s.pickupReports, pickupReaders...)
	s.getPage("/pickups/{id}", s.pickupPage, pickupViewers...)
	s.postAction("/pickups/{id}/cancel", s.pickupCancel, write...)
	s.postAction("/pickups/{id}/check", s.pickupCheck, write...)
	s.postAction("/pickups/{id}/reassign", s.pickupReassign, dispatch...)

	s.getPage("/pickups/zones", s.zoneList, dispatch...)
	s.postAction("/pickups/zones", s.zoneSet, dispatch...)
	s.postAction("/pickups/zones/{id}/remove", s.zoneRemove, dispatch...)
	s.getPage("/pickups/couriers", s.courierList, dispatch...)
	s.postAction("/pickups/couriers", s.courierSet, dispatch...)
	s.postAction("/pickups/couriers/{user}/duty", s.courierDuty, dispatch...)

	s.getPage("/pickups/rates", s.ratePlans, finance...)
	s.postAction("/pickups/rates", s.ratePlanSet, finance...)
	s.postAction("/pickups/rates/tiers", s.rateTiersSet, finance...)
	// Supervisors read accounts and statements; finance records on them.
	accounts := []access.Perm{access.FinanceManage, access.Supervise}
	s.getPage("/accounts/{customer}", s.accountPage, accounts...)
	s.postAction("/accounts/{customer}/payments", s.accountPayment, finance...)
	s.getPage("/accounts/{customer}/statement", s.statementPage, accounts...)

	s.getPage("/track", s.trackPage, pickupViewers...)

	s.getPage("/courier", s.courierPage, access.PickupCourier)
	s.getPage("/courier/list", s.courierListFragment, access.PickupCourier)
	s.postAction("/courier/{id}/accept", s.courierAccept, access.PickupCourier)
	s.postAction("/courier/{id}/pickup", s.courierPickUp, access.PickupCourier)
	s.postAction("/courier/{id}/fail", s.courierFail, access.PickupCourier)
}

// hubPickupRoutes are the pickup pages of the hub: head office keeps the
// company-wide zones and tariffs, which every branch dispatches and
// quotes from.
func (s *Server) hubPickupRoutes() {
	if s.cfg.Pickups == nil {
		return
	}
	dispatch := []access.Perm{access.PickupDispatch}
	finance := []access.Perm{access.FinanceManage}
	s.getPage("/pickups/zones", s.zoneList, dispatch...)
	s.postAction("/pickups/zones", s.zoneSet, dispatch...)
	s.postAction("/pickups/zones/{id}/remove", s.zoneRemove, dispatch...)
	s.getPage("/pickups/rates", s.ratePlans, finance...)
	s.postAction("/pickups/rates", s.ratePlanSet, finance...)
	s.postAction("/pickups/rates/tiers", s.rateTiersSet, finance...)
}

// pickupNav is the sub-navigation of the pickup pages, with the sections
// the user may open (at the hub: zones and tariffs only).
func pickupNav(p *Page, on string) []navLink {
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
	var out []navLink
	for _, sec := range sections {
		if p.Hub && sec.href != "/pickups/zones" && sec.href != "/pickups/rates" {
			continue
		}
		if slices.ContainsFunc(sec.perms, p.Grant.Can) {
			out = append(out, navLink{Href: sec.href, Key: sec.key, On: sec.href == on})
		}
	}
	return out
}

// pickupPageData is embedded in the data of the pickup pages: their
// sub-navigation.
type pickupPageData struct {
	Nav []navLink
}

// tsText shows a timestamp as datetime does; nil shows nothing.
func tsText(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().Local().Format("2006-01-02 15:04")
}

// kgText shows grams as kilograms: 1500 → "1.5".
func kgText(grams int64) string {
	s := strconv.FormatFloat(float64(grams)/1000, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// kgToGrams reads a weight in kilograms ("2", "1.5", "0.25") as grams. A
// minus sign is kept, so that the domain refuses a negative weight with
// its own message; blank is 0.
func kgToGrams(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	bad := fault.Invalidf(field, "bad_number", "%q is not a weight in kilograms", s)
	if (whole == "" && frac == "") || len(whole) > 7 || len(frac) > 3 ||
		strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, bad
	}
	n, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.Atoi((frac + "000")[:3])
	g := n*1000 + int64(f)
	if neg {
		g = -g
	}
	return g, nil
}

// telHref is the tel: link of a phone number as typed ("139 1234-5678").
func telHref(phone string) template.URL {
	return template.URL("tel:" + strings.Map(func(r rune) rune {
		if r == '+' || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, phone))
}

// yuanText writes fen as yuan for an input's value: 1250 → "12.50".
func yuanText(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

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
	P      *pickupv1.Pickup
	Status string // label
	Badge  string
	Pay    string // label
}

func viewPickupRow(p *Page, pk *pickupv1.Pickup) pickupRow {
	return pickupRow{P: pk, Status: p.T("pickup.status." + pk.GetStatus()), Badge: statusBadge(pk.GetStatus()),
		Pay: p.T("pickup.payment." + pk.GetPayment())}
}

// pickupListData is what pickups.html shows.
type pickupListData struct {
	pickupPageData
	Rows     []pickupRow
	Statuses []option
	Couriers []option
	Status   string
	Courier  string
	Day      string
	// Own says the list is the courier's own pickups.
	Own  bool
	Next string
	Err  string
}

// option is an entry of a select.
type option struct {
	Value, Label string
	On           bool
}

// dayBounds returns the local day d ("2006-01-02") as [from, to).
func dayBounds(d string) (time.Time, time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02", d, time.Local)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return t, t.AddDate(0, 0, 1), true
}

// courierOnly reports whether the user holds the courier permission and
// none of the readers': they see their own pickups only.
func courierOnly(p *Page) bool {
	return p.Grant.Can(access.PickupCourier) && !slices.ContainsFunc(pickupReaders, p.Grant.Can)
}

func (s *Server) pickupList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.list.title")
	q := r.URL.Query()
	d := &pickupListData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups")},
		Status: q.Get("status"), Courier: q.Get("courier"), Day: q.Get("day")}
	p.Data = d
	if courierOnly(p) {
		d.Own, d.Courier = true, p.User
	}
	req := &pickupv1.ListPickupsRequest{Status: d.Status, Courier: d.Courier, PageSize: 50, PageToken: q.Get("after")}
	if d.Day != "" {
		from, to, ok := dayBounds(d.Day)
		if !ok {
			p.Errors["day"] = p.T("pickup.invalid.bad_day")
			d.Day = ""
		} else {
			req.From, req.To = timestamppb.New(from), timestamppb.New(to)
		}
	}
	d.Statuses = append(d.Statuses, option{Value: "", Label: p.T("pickup.all")})
	for _, st := range pickupStatuses {
		d.Statuses = append(d.Statuses, option{Value: st, Label: p.T("pickup.status." + st), On: st == d.Status})
	}
	if !d.Own {
		d.Couriers = append(d.Couriers, option{Value: "", Label: p.T("pickup.all")})
		for _, c := range s.couriers(r) {
			d.Couriers = append(d.Couriers, option{Value: c.GetUser(), Label: courierLabel(c), On: c.GetUser() == d.Courier})
		}
	}
	resp, err := s.cfg.Pickups.ListPickups(apiCtx(r), connect.NewRequest(req))
	if err != nil {
		status := s.pickupFailed(p, err, "status", "courier", "day")
		s.render(w, r, "pickups", status, p)
		return
	}
	for _, pk := range resp.Msg.GetPickups() {
		d.Rows = append(d.Rows, viewPickupRow(p, pk))
	}
	if t := resp.Msg.GetNextPageToken(); t != "" {
		d.Next = linkWith("/pickups", "status", d.Status, "courier", q.Get("courier"), "day", d.Day, "after", t)
	}
	s.render(w, r, "pickups", http.StatusOK, p)
}

// couriers lists the branch's couriers for selects; a failure (a user who
// may not read them) lists none.
func (s *Server) couriers(r *http.Request) []*pickupv1.Courier {
	resp, err := s.cfg.Pickups.ListCouriers(apiCtx(r), connect.NewRequest(&pickupv1.ListCouriersRequest{}))
	if err != nil {
		return nil
	}
	return resp.Msg.GetCouriers()
}

// courierLabel names a courier in a select.
func courierLabel(c *pickupv1.Courier) string {
	if c.GetName() == "" || c.GetName() == c.GetUser() {
		return c.GetUser()
	}
	return c.GetName() + " (" + c.GetUser() + ")"
}

// pickupFailed is failed for the pickup pages: validation codes are
// translated under pickup.invalid.<code> (so that they cannot clash with
// other pages' catalogs), and a field is named as the form names it
// ("sender.name" → sender_name, weight_grams → weight_kg). A field the form
// has no input for shows its message at the top of the form.
func (s *Server) pickupFailed(p *Page, err error, fields ...string) int {
	return s.placeFailure(p, err, "pickup", formFieldOf, fields)
}

// placeFailure is failed for the pages of one area (pickup, stock): an
// invalid input's message, translated under <area>.invalid.<code>, goes
// next to the form's input for the field (as formField names it) when the
// form has one, else at the top; a conflict (done already, or the state
// changed meanwhile) or a denial by the service (a record of another
// branch, courier or node) gets the area's message.
func (s *Server) placeFailure(p *Page, err error, area string, formField func(string) string, fields []string) int {
	status := s.failed(p, err)
	inv, ok := fault.AsInvalid(err)
	if !ok {
		switch {
		case errors.Is(err, fault.ErrConflict):
			p.Errors[""] = p.T(area + ".error.conflict")
		case errors.Is(err, fault.ErrDenied):
			p.Errors[""] = p.T(area + ".error.denied")
		}
		return status
	}
	delete(p.Errors, inv.Field)
	msg := invalidText(p, area, inv)
	if field := formField(inv.Field); slices.Contains(fields, field) {
		p.Errors[field] = msg
		return status
	}
	p.Errors[""] = msg
	return status
}

// invalidText translates a validation failure by its code under
// <area>.invalid, or gives the domain's English detail.
func invalidText(p *Page, area string, inv *fault.Invalid) string {
	key := area + ".invalid." + inv.Code
	if t := p.T(key); t != key {
		return t
	}
	return inv.Detail
}

// pickupErr is err's message as pickupFailed shows it at the top of a
// form, and the status to answer, without touching p.
func (s *Server) pickupErr(p *Page, err error) (string, int) {
	tmp := &Page{Lang: p.Lang, cat: p.cat, Errors: map[string]string{}}
	status := s.pickupFailed(tmp, err)
	return tmp.Errors[""], status
}

// pickupErrText is pickupErr's message, for a message away from the form
// (after a redirect): a generic one ("required") names its field.
func (s *Server) pickupErrText(p *Page, err error) string {
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
func (s *Server) zones(r *http.Request) []*pickupv1.Zone {
	resp, err := s.cfg.Pickups.ListZones(apiCtx(r), connect.NewRequest(&pickupv1.ListZonesRequest{}))
	if err != nil {
		s.cfg.Log.Warn("pickup pages: zones", "err", err)
		return nil
	}
	return resp.Msg.GetZones()
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
	P         *pickupv1.Pickup
	Status    string
	Badge     string
	Pay       string
	Open      bool
	Steps     []stepView
	Conflicts []pickupConflictView
	Couriers  []option
	CanCancel bool
	CanCheck  bool
	CanAssign bool
	Account   bool // link the customer's account
	Quote     *quoteView
	Customer  string // the customer's name
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

func viewSteps(p *Page, steps []*pickupv1.Step) []stepView {
	out := make([]stepView, 0, len(steps))
	for _, st := range steps {
		out = append(out, stepView{Status: st.GetStatus(), Label: p.T("pickup.status." + st.GetStatus()), Badge: statusBadge(st.GetStatus()),
			Actor: st.GetActor(), Origin: st.GetOrigin(), Detail: st.GetDetail(), At: tsText(st.GetTime())})
	}
	return out
}

func viewConflicts(p *Page, cs []*pickupv1.Conflict) []pickupConflictView {
	out := make([]pickupConflictView, 0, len(cs))
	for _, c := range cs {
		out = append(out, pickupConflictView{PickupID: c.GetPickupId(), Number: c.GetNumber(),
			Lost: p.T("pickup.status." + c.GetLost()), LostBy: c.GetLostBy(), LostAt: tsText(c.GetLostTime()),
			Won: p.T("pickup.status." + c.GetWon()), WonBy: c.GetWonBy(), WonAt: tsText(c.GetWonTime()), Detail: c.GetDetail()})
	}
	return out
}

func (s *Server) pickupPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.title")
	resp, err := s.cfg.Pickups.GetPickup(apiCtx(r), connect.NewRequest(&pickupv1.GetPickupRequest{Id: r.PathValue("id")}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	pk := resp.Msg
	st := pk.GetStatus()
	p.Title = p.T("pickup.title") + " " + pk.GetNumber()
	d := &pickupView{pickupPageData: pickupPageData{Nav: pickupNav(p, "")}, P: pk,
		Status: p.T("pickup.status." + st), Badge: statusBadge(st), Pay: p.T("pickup.payment." + pk.GetPayment()),
		Open: openStatus(st), Steps: viewSteps(p, pk.GetHistory()), Conflicts: viewConflicts(p, pk.GetConflicts())}
	d.CanCancel = d.Open && p.Grant.Can(access.PickupWrite)
	d.CanCheck = st == "picked_up" && p.Grant.Can(access.PickupWrite)
	d.CanAssign = d.Open && p.Grant.Can(access.PickupDispatch)
	if d.CanAssign {
		for _, c := range s.couriers(r) {
			label := courierLabel(c)
			if !c.GetOnDuty() {
				label += " · " + p.T("pickup.courier.off_duty")
			}
			d.Couriers = append(d.Couriers, option{Value: c.GetUser(), Label: label, On: c.GetUser() == pk.GetCourier()})
		}
	}
	if q := pk.GetQuote(); q != nil {
		d.Quote = viewQuote(p, q)
	}
	if c := pk.GetCustomer(); c != "" {
		d.Customer = s.customerLabel(r, c)
		d.Account = pk.GetPayment() == "monthly" && p.CanAny(string(access.FinanceManage), string(access.Supervise))
	}
	p.Data = d
	s.render(w, r, "pickup", http.StatusOK, p)
}

// pickupAction reads a pickup action's small form and runs call with it;
// the user goes back to the pickup page with msg or the failure.
func (s *Server) pickupAction(w http.ResponseWriter, r *http.Request, msgKey string, call func(p *Page, id string) error) {
	p := s.page(r, "pickups", "pickup.title")
	id := r.PathValue("id")
	back := "/pickups/" + id
	if !readAdminForm(w, r, p, 8<<10) {
		redirect(w, r, back, p.T("form.too_large"))
		return
	}
	if err := call(p, id); err != nil {
		redirectWarn(w, r, back, "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	redirect(w, r, back, p.T(msgKey))
}

func (s *Server) pickupCancel(w http.ResponseWriter, r *http.Request) {
	s.pickupAction(w, r, "pickup.cancelled", func(p *Page, id string) error {
		_, err := s.cfg.Pickups.CancelPickup(apiCtx(r), connect.NewRequest(&pickupv1.CancelPickupRequest{Id: id, Reason: p.Value("reason")}))
		return err
	})
}

func (s *Server) pickupCheck(w http.ResponseWriter, r *http.Request) {
	s.pickupAction(w, r, "pickup.checked", func(p *Page, id string) error {
		_, err := s.cfg.Pickups.CheckPickup(apiCtx(r), connect.NewRequest(&pickupv1.CheckPickupRequest{Id: id, Note: p.Value("note")}))
		return err
	})
}

func (s *Server) pickupReassign(w http.ResponseWriter, r *http.Request) {
	s.pickupAction(w, r, "pickup.reassigned", func(p *Page, id string) error {
		_, err := s.cfg.Pickups.ReassignPickup(apiCtx(r), connect.NewRequest(&pickupv1.ReassignPickupRequest{Id: id, Courier: p.Value("courier")}))
		return err
	})
}

// conflictsData is what pickup_conflicts.html shows.
type conflictsData struct {
	pickupPageData
	Conflicts []pickupConflictView
}

func (s *Server) pickupConflicts(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.conflicts.title")
	d := &conflictsData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/conflicts")}}
	p.Data = d
	resp, err := s.cfg.Pickups.ListConflicts(apiCtx(r), connect.NewRequest(&pickupv1.ListConflictsRequest{}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	d.Conflicts = viewConflicts(p, resp.Msg.GetConflicts())
	s.render(w, r, "pickup_conflicts", http.StatusOK, p)
}
