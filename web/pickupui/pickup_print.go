package pickupui

import (
	"net/http"
	"time"

	"branchline/app"
	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/web"
	"branchline/web/label"
)

// Printouts of pickups (issue 15 part 6): a pickup's slip (取件单) on
// plain paper, its 100 × 150 mm shipping label with the pickup number as a
// Code 128 barcode, and the pickup list as filtered — on plain paper, or
// as the shipping labels of its pickups. They read through the same use
// cases as the pages (Pickups.Get, Pickups.List) as the signed-in user:
// what a user may not open they may not print, a courier prints their own
// pickups only, and phone numbers are masked as on the pages.

// printRoutes registers the printouts, for the users who may open the
// pickup list and pages.
func (s *Pages) printRoutes() {
	s.Page("/pickups/print", s.printList, pickupViewers...)
	s.Page("/pickups/labels", s.printLabels, pickupViewers...)
	s.Page("/pickups/{id}/slip", s.printSlip, pickupViewers...)
	s.Page("/pickups/{id}/label", s.printLabel, pickupViewers...)
}

// maxPrinted bounds the pickups of one printed list or run of labels: a
// list page at its largest. A filter that matches more prints the newest
// and says so.
const maxPrinted = app.MaxPageSize

// printed is the footer line of a printout: when and by whom.
func printed(p *web.Page) string {
	return p.T("print.printed", p.TimeText(time.Now()), p.User)
}

// slipData is what print_pickup_slip.html shows.
type slipData struct {
	web.Printout
	*pickupView
	Printed string
}

// printSlip prints a pickup's slip: everything its page shows but the
// actions, with lines to sign.
func (s *Pages) printSlip(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.print.slip")
	pk, err := s.cfg.Pickups.Get(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.PrintFailed(w, r, p, err, "pickup")
		return
	}
	p.Title = p.T("pickup.print.slip") + " " + pk.Number
	p.Data = &slipData{Printout: web.Printout{Paper: label.Plain, Back: "/pickups/" + pk.ID},
		pickupView: s.viewPickup(r, p, pk, s.couriers(r)), Printed: printed(p)}
	s.Render(w, r, "print_pickup_slip", http.StatusOK, p)
}

// shipLabel is one pickup's shipping label.
type shipLabel struct {
	P   *pickup.Pickup
	Pay string
	// Collect is the amount the receiver pays (到付); 0 when paid
	// otherwise.
	Collect       int64
	Zone, Courier string
}

// labelsData is what print_pickup_labels.html shows: one label a page.
type labelsData struct {
	web.Printout
	Labels []shipLabel
	// More says the filter matched more pickups than were printed.
	More bool
}

// viewLabels makes the shipping labels of pks.
func (s *Pages) viewLabels(r *http.Request, p *web.Page, pks []*pickup.Pickup) []shipLabel {
	zone, courier := s.zoneNames(r), courierNames(s.couriers(r))
	out := make([]shipLabel, 0, len(pks))
	for _, pk := range pks {
		l := shipLabel{P: pk, Pay: p.T("pickup.payment." + pk.Payment), Zone: zone(pk.Zone), Courier: courier(pk.Courier)}
		if pk.Payment == "collect" {
			l.Collect = pk.Price
			if pk.ActualPrice > 0 {
				l.Collect = pk.ActualPrice
			}
		}
		out = append(out, l)
	}
	return out
}

// printLabel prints one pickup's shipping label.
func (s *Pages) printLabel(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.print.label")
	pk, err := s.cfg.Pickups.Get(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.PrintFailed(w, r, p, err, "pickup")
		return
	}
	p.Title = p.T("pickup.print.label") + " " + pk.Number
	p.Data = &labelsData{Printout: web.Printout{Paper: label.Shipping, Back: "/pickups/" + pk.ID},
		Labels: s.viewLabels(r, p, []*pickup.Pickup{pk})}
	s.Render(w, r, "print_pickup_labels", http.StatusOK, p)
}

// printedList reads the pickups of the list's filter in r's query, as
// many as one printout takes; more says there were more. A filter the
// list would refuse (an unreadable day or status) is an invalid input.
//
// With ids (id=…, the pickups ticked in the list) it reads those, each
// through Pickups.Get: a pickup the user may not open fails the printout.
func (s *Pages) printedList(r *http.Request, p *web.Page) (f listFilter, pks []*pickup.Pickup, more bool, err error) {
	if ids := r.URL.Query()["id"]; len(ids) > 0 {
		if len(ids) > maxPrinted {
			return f, nil, false, fault.Invalidf("id", "too_many", "%d pickups, at most %d", len(ids), maxPrinted)
		}
		for _, id := range ids {
			pk, err := s.cfg.Pickups.Get(r.Context(), web.CallerOf(r), id)
			if err != nil {
				return f, nil, false, err
			}
			pks = append(pks, pk)
		}
		return f, pks, false, nil
	}
	f, req := s.readFilter(p, r.URL.Query())
	if msg := p.Errors["day"]; msg != "" {
		delete(p.Errors, "day")
		return f, nil, false, fault.Invalidf("day", "bad_day", "%q is not a day", r.URL.Query().Get("day"))
	}
	req.Size, req.After = maxPrinted, ""
	page, err := s.cfg.Pickups.List(r.Context(), web.CallerOf(r), req)
	if err != nil {
		return f, nil, false, err
	}
	return f, page.Items, page.Next != "", nil
}

// printLabels prints the shipping labels of the pickups the list shows
// as filtered: the newest maxPrinted.
func (s *Pages) printLabels(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.print.labels")
	f, pks, more, err := s.printedList(r, p)
	if err != nil {
		s.PrintFailed(w, r, p, err, "pickup")
		return
	}
	p.Title = p.N("pickup.print.labels_n", len(pks))
	p.Data = &labelsData{Printout: web.Printout{Paper: label.Shipping, Back: f.link("/pickups")},
		Labels: s.viewLabels(r, p, pks), More: more}
	s.Render(w, r, "print_pickup_labels", http.StatusOK, p)
}

// listPrintData is what print_pickups.html shows.
type listPrintData struct {
	web.Printout
	Rows []pickupRow
	// Filter says which pickups the list holds, in words.
	Filter  string
	More    bool
	Printed string
}

// printList prints the pickup list as filtered, on plain paper: the
// newest maxPrinted, every column the page shows.
func (s *Pages) printList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.print.list")
	f, pks, more, err := s.printedList(r, p)
	if err != nil {
		s.PrintFailed(w, r, p, err, "pickup")
		return
	}
	d := &listPrintData{Printout: web.Printout{Paper: label.Plain, Back: f.link("/pickups")}, More: more, Printed: printed(p)}
	courier := courierNames(s.couriers(r))
	for _, pk := range pks {
		row := viewPickupRow(p, pk)
		row.Courier = courier(pk.Courier)
		d.Rows = append(d.Rows, row)
	}
	d.Filter = s.filterText(r, p, f)
	if len(r.URL.Query()["id"]) > 0 {
		d.Filter = p.N("pickup.print.selected", len(pks))
	}
	p.Data = d
	s.Render(w, r, "print_pickups", http.StatusOK, p)
}

// filterText says in words which pickups a filter selects: the status,
// the courier and the day, or the list's default (the last 7 days).
func (s *Pages) filterText(r *http.Request, p *web.Page, f listFilter) string {
	status, courier, day := p.T("pickup.all"), p.T("pickup.all"), f.Day
	if f.Status != "" {
		status = p.T("pickup.status." + f.Status)
	}
	if f.Courier != "" {
		courier = courierNames(s.couriers(r))(f.Courier)
	}
	if day == "" {
		day = p.T("pickup.print.recent")
		if f.Courier != "" {
			day = p.T("pickup.all")
		}
	}
	return p.T("pickup.print.filter", status, courier, day)
}
