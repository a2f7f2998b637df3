package hubui

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"branchline/access"
	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/replication"
	"branchline/sheet"
	"branchline/web"
	"branchline/web/pickupui"
)

// The head office dashboard on the hub: pickups across all branches for a
// range of days, by branch (and status), courier, status and day, with bar
// charts drawn on the server, read from this member's replicated views
// (as fresh as its applied position: a branch cut off from the hub shows
// what it had pushed before).

// hubRanges are the day ranges the dashboard offers.
var hubRanges = []int{1, 7, 30}

// branchRow is one branch of the #by-branch table.
type branchRow struct {
	Branch   string
	Counts   []int64 // by pickupui.Statuses
	Total    int64
	PickedUp int64
	Revenue  int64
}

// countRow is one group of a summary table.
type countRow struct {
	Key, Label string
	pickup.Count
}

// hubPickupsData is what hub_pickups.html shows.
type hubPickupsData struct {
	Days     int
	Ranges   []web.Option
	From, To string
	Statuses []web.Option // the status columns: Value the status, Label its name
	Branches []branchRow
	Totals   branchRow
	Couriers []countRow
	ByStatus []countRow
	ByDay    []countRow
	Charts   []template.HTML
	Stale    time.Time
}

// hubWindow is the dashboard's range: days days ending today, in days of
// the business zone loc.
func hubWindow(r *http.Request, loc *time.Location) (days int, from, to time.Time) {
	days, _ = strconv.Atoi(r.URL.Query().Get("days"))
	if !slices.Contains(hubRanges, days) {
		days = 1
	}
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	return days, today.AddDate(0, 0, 1-days), today.AddDate(0, 0, 1)
}

// hubPickupFigures checks the user may see the dashboard and reads its
// figures.
func (s *Pages) hubPickupFigures(w http.ResponseWriter, r *http.Request, p *web.Page) (*hubPickupsData, bool) {
	if !p.Grant.Can(access.UserAdmin) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return nil, false
	}
	days, from, to := hubWindow(r, s.Location())
	// One pass over the pickups booked then, the branch × status table
	// included.
	var fig *pickup.Totals
	var couriers []pickup.Courier
	err := s.cluster.View(func(views replication.Tx) error {
		var err error
		if fig, err = pickup.Summary(views, from, to, s.Location()); err != nil {
			return err
		}
		couriers, err = pickup.ListCouriers(views)
		return err
	})
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return nil, false
	}
	d := &hubPickupsData{Days: days, From: from.Format("2006-01-02"), To: to.AddDate(0, 0, -1).Format("2006-01-02"), Stale: time.Now()}
	for _, n := range hubRanges {
		d.Ranges = append(d.Ranges, web.Option{Value: strconv.Itoa(n), Label: p.T(fmt.Sprintf("hub.pickups.range_%d", n)), On: n == days})
	}
	for _, st := range pickupui.Statuses {
		d.Statuses = append(d.Statuses, web.Option{Value: st, Label: p.T("pickup.status." + st)})
	}
	// Every registered branch has a row, with pickups or not.
	branches := map[string]bool{}
	if st, err := s.cluster.ClusterStatus(r.Context()); err == nil {
		for _, n := range st.GetNodes() {
			branches[n.GetId()] = true
		}
	}
	sums := map[string]pickup.Count{}
	for _, c := range fig.ByBranch {
		branches[c.Key] = true
		sums[c.Key] = c
	}
	for b := range fig.BranchStatus {
		branches[b] = true
	}
	ids := make([]string, 0, len(branches))
	for b := range branches {
		ids = append(ids, b)
	}
	slices.Sort(ids)
	d.Totals = branchRow{Counts: make([]int64, len(pickupui.Statuses))}
	for _, b := range ids {
		row := branchRow{Branch: b, Counts: make([]int64, len(pickupui.Statuses)),
			PickedUp: sums[b].PickedUp, Revenue: sums[b].Revenue}
		for i, st := range pickupui.Statuses {
			row.Counts[i] = fig.BranchStatus[b][st]
			row.Total += row.Counts[i]
			d.Totals.Counts[i] += row.Counts[i]
		}
		d.Totals.Total += row.Total
		d.Totals.PickedUp += row.PickedUp
		d.Totals.Revenue += row.Revenue
		d.Branches = append(d.Branches, row)
	}
	// Couriers by their names.
	names := map[string]string{}
	for _, c := range couriers {
		names[c.User] = pickupui.CourierLabel(c)
	}
	for _, c := range fig.ByCourier {
		label := c.Key
		if n := names[c.Key]; n != "" {
			label = n
		}
		if label == "" {
			label = p.T("hub.pickups.unassigned")
		}
		d.Couriers = append(d.Couriers, countRow{Key: c.Key, Label: label, Count: c})
	}
	// Busiest couriers first.
	slices.SortStableFunc(d.Couriers, func(a, b countRow) int { return int(b.Pickups - a.Pickups) })
	byStatus := map[string]pickup.Count{}
	for _, c := range fig.ByStatus {
		byStatus[c.Key] = c
	}
	for _, st := range pickupui.Statuses {
		if c, ok := byStatus[st]; ok {
			d.ByStatus = append(d.ByStatus, countRow{Key: st, Label: p.T("pickup.status." + st), Count: c})
		}
	}
	// Every day of the range, with pickups or not.
	byDay := map[string]pickup.Count{}
	for _, c := range fig.ByDay {
		byDay[c.Key] = c
	}
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		k := day.Format("2006-01-02")
		c := byDay[k]
		c.Key = k
		d.ByDay = append(d.ByDay, countRow{Key: k, Label: day.Format("01-02"), Count: c})
	}
	d.Charts = hubCharts(p, d)
	return d, true
}

// hubCharts draws the dashboard's charts: by branch, by day, by status and
// the busiest couriers.
func hubCharts(p *web.Page, d *hubPickupsData) []template.HTML {
	booked, picked := p.T("hub.pickups.booked"), p.T("report.picked_up")
	br := web.Chart{Title: p.T("hub.pickups.chart_branch"), Series: []web.Series{{Name: booked}, {Name: picked}}}
	for _, b := range d.Branches {
		br.Categories = append(br.Categories, p.Branch(b.Branch))
		br.Series[0].Values = append(br.Series[0].Values, b.Total)
		br.Series[1].Values = append(br.Series[1].Values, b.PickedUp)
	}
	day := web.Chart{Title: p.T("hub.pickups.chart_day"), Series: []web.Series{{Name: booked}, {Name: picked}}}
	for _, c := range d.ByDay {
		day.Categories = append(day.Categories, c.Label)
		day.Series[0].Values = append(day.Series[0].Values, c.Pickups)
		day.Series[1].Values = append(day.Series[1].Values, c.PickedUp)
	}
	st := web.Chart{Title: p.T("hub.pickups.chart_status"), Series: []web.Series{{Name: booked}}}
	for _, c := range d.ByStatus {
		st.Categories = append(st.Categories, c.Label)
		st.Series[0].Values = append(st.Series[0].Values, c.Pickups)
	}
	co := web.Chart{Title: p.T("hub.pickups.chart_courier"), Series: []web.Series{{Name: booked}, {Name: picked}}}
	for i, c := range d.Couriers {
		if i == 10 {
			break
		}
		co.Categories = append(co.Categories, c.Label)
		co.Series[0].Values = append(co.Series[0].Values, c.Pickups)
		co.Series[1].Values = append(co.Series[1].Values, c.PickedUp)
	}
	var out []template.HTML
	if len(br.Categories) > 0 {
		out = append(out, br.HBars())
	}
	out = append(out, day.VBars())
	if len(st.Categories) > 0 {
		out = append(out, st.HBars())
	}
	if len(co.Categories) > 0 {
		out = append(out, co.HBars())
	}
	return out
}

func (s *Pages) hubPickups(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "hub_pickups", "hub.pickups")
	d, ok := s.hubPickupFigures(w, r, p)
	if !ok {
		return
	}
	p.Data = d
	s.Render(w, r, "hub_pickups", http.StatusOK, p)
}

// hubPickupsCSV exports the dashboard's table by branch and status (or,
// with by=courier|status|day, that table) as CSV for a spreadsheet.
func (s *Pages) hubPickupsCSV(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "hub_pickups", "hub.pickups")
	d, ok := s.hubPickupFigures(w, r, p)
	if !ok {
		return
	}
	by := r.URL.Query().Get("by")
	// Headers in the reader's language, each named once: the status
	// "picked up" and the count of pickups picked up (checked ones too)
	// were both "picked_up".
	col := func(key string) string { return p.T("hub.pickups.csv." + key) }
	var rows [][]string
	switch by {
	case "courier", "status", "day":
		src := map[string][]countRow{"courier": d.Couriers, "status": d.ByStatus, "day": d.ByDay}[by]
		rows = append(rows, []string{col(by), col("pickups"), col("picked_up_all"), col("revenue")})
		for _, c := range src {
			key := c.Key
			switch by {
			case "status":
				key = p.T("pickup.status." + key)
			case "courier":
				key = c.Label // the courier's name, or "unassigned"
			}
			rows = append(rows, []string{key, strconv.FormatInt(c.Pickups, 10), strconv.FormatInt(c.PickedUp, 10), web.YuanText(c.Revenue)})
		}
	default:
		by = "branch"
		head := []string{col("branch")}
		for _, st := range pickupui.Statuses {
			head = append(head, p.T("pickup.status."+st))
		}
		rows = append(rows, append(head, col("total"), col("picked_up_all"), col("revenue")))
		for _, b := range append(d.Branches, d.Totals) {
			name := p.Branch(b.Branch)
			if name == "" {
				name = col("total")
			}
			row := []string{name}
			for _, n := range b.Counts {
				row = append(row, strconv.FormatInt(n, 10))
			}
			rows = append(rows, append(row, strconv.FormatInt(b.Total, 10), strconv.FormatInt(b.PickedUp, 10), web.YuanText(b.Revenue)))
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pickups-%s-%s-by-%s.csv"`, d.From, d.To, by))
	w.Header().Set("Cache-Control", "no-store")
	if err := sheet.WriteCSV(w, rows); err != nil {
		s.Log().Debug("pickups csv: write", "err", err)
	}
}

// branchConflicts counts each branch's conflict records (a transition
// that lost to a concurrent one), for the branch health page.
func (s *Pages) branchConflicts(ids []string) map[string]int {
	out := map[string]int{}
	err := s.cluster.View(func(views replication.Tx) error {
		for _, id := range ids {
			cs, err := pickup.Conflicts(views, id)
			if err != nil {
				return err
			}
			out[id] = len(cs)
		}
		return nil
	})
	if err != nil {
		s.Log().Warn("branches: conflicts", "err", err)
		return nil
	}
	return out
}
