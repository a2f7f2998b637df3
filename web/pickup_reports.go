package web

import (
	"html/template"
	"net/http"
	"sort"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// The branch reports: each courier's workload and revenue of a day, and
// each customer's volume over a period.

// customerRow is one customer of the volume report.
type customerRow struct {
	C    *pickupv1.CustomerStat
	Name string
}

// reportsData is what pickup_reports.html shows.
type reportsData struct {
	pickupPageData
	Day          string
	Couriers     []*pickupv1.CourierStat
	CourierChart template.HTML
	From, To     string
	Customers    []customerRow
	VolumeChart  template.HTML
	Totals       *pickupv1.CourierStat
}

// maxNamedCustomers bounds the customers whose names the volume report
// looks up, to keep the page fast.
const maxNamedCustomers = 100

func (s *Server) pickupReports(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "report.title")
	q := r.URL.Query()
	now := time.Now()
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
	if _, _, ok := dayBounds(d.Day); !ok {
		p.Errors["day"] = p.T("pickup.invalid.bad_day")
		s.render(w, r, "pickup_reports", http.StatusUnprocessableEntity, p)
		return
	}
	from, _, ok1 := dayBounds(d.From)
	_, to, ok2 := dayBounds(d.To)
	if !ok1 || !ok2 || !from.Before(to) {
		p.Errors["range"] = p.T("pickup.invalid.bad_range")
		s.render(w, r, "pickup_reports", http.StatusUnprocessableEntity, p)
		return
	}
	cd, err := s.cfg.Pickups.CourierDay(apiCtx(r), connect.NewRequest(&pickupv1.CourierDayRequest{Day: d.Day}))
	if err != nil {
		s.render(w, r, "error", s.pickupFailed(p, err), p)
		return
	}
	d.Couriers = cd.Msg.GetCouriers()
	d.Totals = &pickupv1.CourierStat{}
	ch := chart{Title: p.T("report.courier_chart", d.Day),
		Series: []series{{Name: p.T("report.assigned")}, {Name: p.T("report.picked_up")}}}
	for _, c := range d.Couriers {
		d.Totals.Assigned += c.GetAssigned()
		d.Totals.PickedUp += c.GetPickedUp()
		d.Totals.Failed += c.GetFailed()
		d.Totals.RevenueFen += c.GetRevenueFen()
		name := c.GetName()
		if name == "" {
			name = c.GetCourier()
		}
		ch.Categories = append(ch.Categories, name)
		ch.Series[0].Values = append(ch.Series[0].Values, c.GetAssigned())
		ch.Series[1].Values = append(ch.Series[1].Values, c.GetPickedUp())
	}
	if len(d.Couriers) > 0 {
		d.CourierChart = ch.HBars()
	}
	cv, err := s.cfg.Pickups.CustomerVolume(apiCtx(r), connect.NewRequest(&pickupv1.CustomerVolumeRequest{
		From: timestamppb.New(from), To: timestamppb.New(to)}))
	if err != nil {
		s.render(w, r, "error", s.pickupFailed(p, err), p)
		return
	}
	stats := cv.Msg.GetCustomers()
	sort.SliceStable(stats, func(i, j int) bool { return stats[i].GetPickups() > stats[j].GetPickups() })
	vol := chart{Title: p.T("report.volume_chart"), Series: []series{{Name: p.T("report.pickups")}}}
	for i, c := range stats {
		name := c.GetCustomer()
		switch {
		case name == "":
			name = p.T("report.walk_in")
		case i < maxNamedCustomers:
			name = s.customerLabel(r, name)
		}
		d.Customers = append(d.Customers, customerRow{C: c, Name: name})
		if i < 10 {
			vol.Categories = append(vol.Categories, name)
			vol.Series[0].Values = append(vol.Series[0].Values, c.GetPickups())
		}
	}
	if len(vol.Categories) > 0 {
		d.VolumeChart = vol.HBars()
	}
	s.render(w, r, "pickup_reports", http.StatusOK, p)
}
