package pickupui

import (
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"time"

	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	"branchline/web"
)

// The courier's mobile page: the signed-in courier's open pickups, on a
// phone over a slow link. It is server-rendered with its own small
// stylesheet and a script of a few lines, outside the desktop layout;
// every action is a form that posts and redirects, so it works without
// script. With script, the page listens for pickup.changed on /events and
// replaces its list with /courier/list, so a new dispatch shows at once.
//
// The list's markup is what the end-to-end tests select on: keep the
// #courier-pickups container, [data-pickup] and [data-status] on each
// pickup, and the data-action buttons with their inputs.

// courierOpen are the statuses a courier still has to act on.
var courierOpen = []string{"assigned", "notified", "accepted"}

// courierPickup is one pickup on the courier's page.
type courierPickup struct {
	P         *pickup.Pickup
	Status    string
	CanAccept bool
	WeightKg  string
	PriceYuan string
	// Map opens the sender's address in the phone's map app (a geo: URI,
	// RFC 5870, with the address as its query).
	Map template.URL
}

// mapURI is the geo: URI that asks the phone's map app for address.
func mapURI(address string) template.URL {
	return template.URL("geo:0,0?q=" + url.QueryEscape(address)) // built here, not from markup
}

// courierRank orders a courier's list by state: what was dispatched and
// not yet accepted first (the courier must answer it), then what they
// accepted.
func courierRank(status string) int {
	if status == "accepted" {
		return 1
	}
	return 0
}

// courierData is what courier.html shows.
type courierData struct {
	Pickups []courierPickup
	// Done counts the courier's pickups picked up today.
	Done int
	Err  string
}

func (s *Pages) courierData(r *http.Request, p *web.Page) *courierData {
	d := &courierData{}
	ctx, c := r.Context(), web.CallerOf(r)
	var all []*pickup.Pickup
	for _, st := range courierOpen {
		page, err := s.cfg.Pickups.List(ctx, c, pickupapp.Query{Courier: p.User, Status: st, Size: 200})
		if err != nil {
			d.Err = s.pickupErrText(p, err)
			return d
		}
		all = append(all, page.Items...)
	}
	// By state, then oldest first: the courier works down the list.
	sort.SliceStable(all, func(i, j int) bool {
		if ri, rj := courierRank(all[i].Status), courierRank(all[j].Status); ri != rj {
			return ri < rj
		}
		return all[i].Entered.Before(all[j].Entered)
	})
	for _, pk := range all {
		d.Pickups = append(d.Pickups, courierPickup{P: pk, Status: p.T("pickup.status." + pk.Status),
			CanAccept: pk.Status != "accepted", WeightKg: web.KgText(pk.WeightGrams), PriceYuan: web.YuanText(pk.Price),
			Map: mapURI(pk.Sender.Address)})
	}
	now := time.Now().In(s.Location())
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	done, err := s.cfg.Pickups.List(ctx, c, pickupapp.Query{Courier: p.User, Status: "picked_up", From: today.AddDate(0, 0, -7), Size: 500})
	if err == nil {
		for _, pk := range done.Items {
			if !pk.PickedUpAt.IsZero() && !pk.PickedUpAt.Before(today) {
				d.Done++
			}
		}
	}
	return d
}

func (s *Pages) courierPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "courier", "courier.title")
	p.Data = s.courierData(r, p)
	s.Render(w, r, "courier", http.StatusOK, p)
}

// courierListFragment is the list alone, for the page's script.
func (s *Pages) courierListFragment(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "courier", "courier.title")
	p.Data = s.courierData(r, p)
	s.RenderPart(w, "courier", "courier-list", p)
}

// courierAct reads a courier action's form, runs call and goes back to
// the page with msg or the failure.
func (s *Pages) courierAct(w http.ResponseWriter, r *http.Request, call func(p *web.Page, id string) (*pickup.Pickup, error), msgKey string) {
	p := s.NewPage(r, "courier", "courier.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		web.Redirect(w, r, "/courier", p.T("form.too_large"))
		return
	}
	pk, err := call(p, r.PathValue("id"))
	if err != nil {
		web.RedirectWarn(w, r, "/courier", "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	web.Redirect(w, r, "/courier", p.T(msgKey, pk.Number))
}

func (s *Pages) courierAccept(w http.ResponseWriter, r *http.Request) {
	s.courierAct(w, r, func(p *web.Page, id string) (*pickup.Pickup, error) {
		return s.cfg.Pickups.Accept(r.Context(), web.CallerOf(r), id)
	}, "courier.accepted")
}

func (s *Pages) courierPickUp(w http.ResponseWriter, r *http.Request) {
	s.courierAct(w, r, func(p *web.Page, id string) (*pickup.Pickup, error) {
		grams, err := web.KgToGrams("weight_kg", p.Value("weight_kg"))
		if err != nil {
			return nil, err
		}
		fen, err := web.YuanToFen("price_yuan", p.Value("price_yuan"))
		if err != nil {
			return nil, err
		}
		return s.cfg.Pickups.PickUp(r.Context(), web.CallerOf(r), id, grams, fen)
	}, "courier.picked_up")
}

func (s *Pages) courierFail(w http.ResponseWriter, r *http.Request) {
	s.courierAct(w, r, func(p *web.Page, id string) (*pickup.Pickup, error) {
		return s.cfg.Pickups.Fail(r.Context(), web.CallerOf(r), id, p.Value("reason"))
	}, "courier.failed")
}
