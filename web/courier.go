package web

import (
	"bytes"
	"net/http"
	"sort"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pickupv1 "branchline/gen/branchline/pickup/v1"
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
	P         *pickupv1.Pickup
	Status    string
	CanAccept bool
	WeightKg  string
	PriceYuan string
}

// courierData is what courier.html shows.
type courierData struct {
	Pickups []courierPickup
	// Done counts the courier's pickups picked up today.
	Done int
	Err  string
}

func (s *Server) courierData(r *http.Request, p *Page) *courierData {
	d := &courierData{}
	var all []*pickupv1.Pickup
	for _, st := range courierOpen {
		resp, err := s.cfg.Pickups.ListPickups(apiCtx(r), connect.NewRequest(&pickupv1.ListPickupsRequest{
			Courier: p.User, Status: st, PageSize: 200}))
		if err != nil {
			d.Err = s.pickupErrText(p, err)
			return d
		}
		all = append(all, resp.Msg.GetPickups()...)
	}
	// Oldest first: the courier works down the list.
	sort.SliceStable(all, func(i, j int) bool {
		return all[i].GetCreateTime().AsTime().Before(all[j].GetCreateTime().AsTime())
	})
	for _, pk := range all {
		price := pk.GetPriceFen()
		d.Pickups = append(d.Pickups, courierPickup{P: pk, Status: p.T("pickup.status." + pk.GetStatus()),
			CanAccept: pk.GetStatus() != "accepted", WeightKg: kgText(pk.GetWeightGrams()), PriceYuan: yuanText(price)})
	}
	now := time.Now()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	done, err := s.cfg.Pickups.ListPickups(apiCtx(r), connect.NewRequest(&pickupv1.ListPickupsRequest{
		Courier: p.User, Status: "picked_up", From: timestamppb.New(today.AddDate(0, 0, -7)), PageSize: 500}))
	if err == nil {
		for _, pk := range done.Msg.GetPickups() {
			if t := pk.GetPickUpTime(); t != nil && !t.AsTime().Before(today) {
				d.Done++
			}
		}
	}
	return d
}

func (s *Server) courierPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "courier", "courier.title")
	p.Data = s.courierData(r, p)
	s.render(w, r, "courier", http.StatusOK, p)
}

// courierListFragment is the list alone, for the page's script.
func (s *Server) courierListFragment(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "courier", "courier.title")
	p.Data = s.courierData(r, p)
	s.renderFragment(w, "courier", "courier-list", p)
}

// renderFragment writes the template name defined in page's file, alone.
func (s *Server) renderFragment(w http.ResponseWriter, page, name string, p *Page) {
	t, ok := s.pages[page]
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, p); err != nil {
		s.cfg.Log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	buf.WriteTo(w)
}

// courierAct reads a courier action's form, runs call and goes back to
// the page with msg or the failure.
func (s *Server) courierAct(w http.ResponseWriter, r *http.Request, call func(p *Page, id string) (*pickupv1.Pickup, error), msgKey string) {
	p := s.page(r, "courier", "courier.title")
	if !readAdminForm(w, r, p, 8<<10) {
		redirect(w, r, "/courier", p.T("form.too_large"))
		return
	}
	pk, err := call(p, r.PathValue("id"))
	if err != nil {
		redirectWarn(w, r, "/courier", "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	redirect(w, r, "/courier", p.T(msgKey, pk.GetNumber()))
}

// msgOf is the message of a Connect response, or the call's error.
func msgOf[T any](resp *connect.Response[T], err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (s *Server) courierAccept(w http.ResponseWriter, r *http.Request) {
	s.courierAct(w, r, func(p *Page, id string) (*pickupv1.Pickup, error) {
		return msgOf(s.cfg.Pickups.AcceptPickup(apiCtx(r), connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: id})))
	}, "courier.accepted")
}

func (s *Server) courierPickUp(w http.ResponseWriter, r *http.Request) {
	s.courierAct(w, r, func(p *Page, id string) (*pickupv1.Pickup, error) {
		grams, err := kgToGrams("weight_kg", p.Value("weight_kg"))
		if err != nil {
			return nil, err
		}
		fen, err := yuanToFen("price_yuan", p.Value("price_yuan"))
		if err != nil {
			return nil, err
		}
		return msgOf(s.cfg.Pickups.PickUp(apiCtx(r), connect.NewRequest(&pickupv1.PickUpRequest{Id: id, WeightGrams: grams, PriceFen: fen})))
	}, "courier.picked_up")
}

func (s *Server) courierFail(w http.ResponseWriter, r *http.Request) {
	s.courierAct(w, r, func(p *Page, id string) (*pickupv1.Pickup, error) {
		return msgOf(s.cfg.Pickups.FailPickup(apiCtx(r), connect.NewRequest(&pickupv1.FailPickupRequest{Id: id, Reason: p.Value("reason")})))
	}, "courier.failed")
}
