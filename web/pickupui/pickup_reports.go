package pickupui

import (
	"html/template"
	"net/http"
	"sort"
	"time"

	"branchline/crm/pickup"
	"branchline/web"
)

// The branch reports: each courier's workload and revenue of a day, and
// each customer's volume over a period.

// customerRow is one customer of the volume report.
type customerRow struct {
	C    pickup.CustomerStat
	Name string
}

// reportsData is what pickup_reports.html shows.
type reportsData struct {
	pickupPageData
	Day          string
	Couriers     []pickup.CourierStat
	CourierChart template.HTML
	From, To     string
	Customers    []customerRow
	VolumeChart  template.HTML
	Totals       *pickup.CourierStat
}

// maxNamedCustomers bounds the customers whose names the volume report
// looks up, to keep the page fast.
const maxNamedCustomers = 100

func (s *Pages) pickupReports(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "report.title")
	q := r.URL.Query()
	now := time.Now().In(s.Location())
	d := &reportsData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/reports")},
		Day: q.Get("day"), From: q.Get("from"), To: q.Get("to")}
	p.Data = d
	if d.Day == "" {
		d.Day = now.Format("2006-01-02")
	}
	if d.From == "" {
		d.From = now.AddDate(0, 0, 1-now.Day()).Format("2006-01-02")
	}
	if d.To == "" {
		d.To = now.Format("2006-01-02")
	}
	if _, _, ok := s.DayBounds(d.Day); !ok {
		p.Errors["day"] = p.T("pickup.invalid.bad_day")
		s.Render(w, r, "pickup_reports", http.StatusUnprocessableEntity, p)
		return
	}
	from, _, ok1 := s.DayBounds(d.From)
	_, to, ok2 := s.DayBounds(d.To)
	if !ok1 || !ok2 || !from.Before(to) {
		p.Errors["range"] = p.T("pickup.invalid.bad_range")
		s.Render(w, r, "pickup_reports", http.StatusUnprocessableEntity, p)
		return
	}
	ctx, c := r.Context(), web.CallerOf(r)
	couriers, _, err := s.cfg.Pickups.CourierDay(ctx, c, "", d.Day)
	if err != nil {
		s.Render(w, r, "error", s.pickupFailed(p, err), p)
		return
	}
	d.Couriers = couriers
	d.Totals = &pickup.CourierStat{}
	ch := web.Chart{Title: p.T("report.courier_chart", d.Day),
		Series: []web.Series{{Name: p.T("report.assigned")}, {Name: p.T("report.picked_up")}}}
	for _, x := range d.Couriers {
		d.Totals.Assigned += x.Assigned
		d.Totals.PickedUp += x.PickedUp
		d.Totals.Failed += x.Failed
		d.Totals.Revenue += x.Revenue
		name := x.Name
		if name == "" {
			name = x.Courier
		}
		ch.Categories = append(ch.Categories, name)
		ch.Series[0].Values = append(ch.Series[0].Values, x.Assigned)
		ch.Series[1].Values = append(ch.Series[1].Values, x.PickedUp)
	}
	if len(d.Couriers) > 0 {
		d.CourierChart = ch.HBars()
	}
	stats, err := s.cfg.Pickups.CustomerVolume(ctx, c, "", from, to)
	if err != nil {
		s.Render(w, r, "error", s.pickupFailed(p, err), p)
		return
	}
	sort.SliceStable(stats, func(i, j int) bool { return stats[i].Pickups > stats[j].Pickups })
	vol := web.Chart{Title: p.T("report.volume_chart"), Series: []web.Series{{Name: p.T("report.pickups")}}}
	for i, c := range stats {
		name := c.Customer
		switch {
		case name == "":
			name = p.T("report.walk_in")
		case i < maxNamedCustomers:
			name = s.customerLabel(r, name)
		}
		d.Customers = append(d.Customers, customerRow{C: c, Name: name})
		if i < 10 {
			vol.Categories = append(vol.Categories, name)
			vol.Series[0].Values = append(vol.Series[0].Values, c.Pickups)
		}
	}
	if len(vol.Categories) > 0 {
		d.VolumeChart = vol.HBars()
	}
	s.Render(w, r, "pickup_reports", http.StatusOK, p)
}
