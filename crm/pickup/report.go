package pickup

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// bookedIDs returns the ids of the pickups the day index holds for the
// UTC days that [from, to) touches (zero: unbounded), in index order. The
// caller filters by the exact booking time.
func bookedIDs(views replication.Tx, from, to time.Time) ([]string, error) {
	var start []byte
	if !from.IsZero() {
		start = replication.Prefix("pk", "day", utcDay(from.UnixMilli()))
	}
	var last []byte
	if !to.IsZero() {
		last = replication.Prefix("pk", "day", utcDay(to.UnixMilli()-1))
	}
	var ids []string
	err := views.Scan(dayPrefix, start, func(k, _ []byte) (bool, error) {
		if last != nil && bytes.Compare(k, last) > 0 && !bytes.HasPrefix(k, last) {
			return false, nil
		}
		ids = append(ids, replication.LastPart(k))
		return true, nil
	})
	return ids, err
}

// eachBooked calls fn with the state of every pickup booked in [from, to)
// (by its created event's HLC) at branch ("" for every branch).
func eachBooked(views replication.Tx, branch string, from, to time.Time, fn func(id string, st *pickupv1.PickupState)) error {
	ids, err := bookedIDs(views, from, to)
	if err != nil {
		return err
	}
	for _, id := range ids {
		st, ok, err := readState(views, id)
		if err != nil {
			return err
		}
		if !ok || st.GetCreatedMs() == 0 || (branch != "" && st.GetBranch() != branch) ||
			st.GetCreatedMs() < from.UnixMilli() || (!to.IsZero() && st.GetCreatedMs() >= to.UnixMilli()) {
			continue
		}
		fn(id, st)
	}
	return nil
}

func pickedUp(st *pickupv1.PickupState) bool {
	return st.GetStatus() == StatusPickedUp || st.GetStatus() == StatusChecked
}

// CourierStat is one courier's pickups booked on a day.
type CourierStat struct {
	Courier  string
	Name     string
	Assigned int64 // assigned to them now
	PickedUp int64 // picked up by them
	Failed   int64 // failed by them and not reassigned since
	Revenue  int64 // Σ actual price of what they picked up, fen
}

// CourierDay reports the couriers' workload and revenue for the pickups
// booked at branch ("" for every branch) on day: the calendar day of day
// in day's location. Pickups count on the day they were booked.
func CourierDay(views replication.Tx, branch string, day time.Time) ([]CourierStat, error) {
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, day.Location())
	to := from.AddDate(0, 0, 1)
	stats := map[string]*CourierStat{}
	get := func(c string) *CourierStat {
		if stats[c] == nil {
			stats[c] = &CourierStat{Courier: c}
		}
		return stats[c]
	}
	err := eachBooked(views, branch, from, to, func(_ string, st *pickupv1.PickupState) {
		if c := st.GetCourier(); c != "" {
			get(c).Assigned++
		}
		if c := st.GetPicker(); c != "" && pickedUp(st) {
			s := get(c)
			s.PickedUp++
			s.Revenue += st.GetActualFen()
		}
		if c := st.GetFailedBy(); c != "" && st.GetStatus() == StatusFailed {
			get(c).Failed++
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]CourierStat, 0, len(stats))
	for _, s := range stats {
		c, ok, err := GetCourier(views, s.Courier)
		if err != nil {
			return nil, err
		}
		if ok {
			s.Name = c.Name
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b CourierStat) int { return cmp.Compare(a.Courier, b.Courier) })
	return out, nil
}

// CustomerStat is one customer's pickups in a period.
type CustomerStat struct {
	Customer  string
	Pickups   int64
	PickedUp  int64
	Cancelled int64
	Revenue   int64 // Σ actual price of the picked-up ones, fen
}

// CustomerVolume reports, per customer, the pickups booked at branch (""
// for every branch) in [from, to), the busiest customer first. Pickups
// without a customer are not counted.
func CustomerVolume(views replication.Tx, branch string, from, to time.Time) ([]CustomerStat, error) {
	stats := map[string]*CustomerStat{}
	err := eachBooked(views, branch, from, to, func(_ string, st *pickupv1.PickupState) {
		c := st.GetCustomer()
		if c == "" {
			return
		}
		s := stats[c]
		if s == nil {
			s = &CustomerStat{Customer: c}
			stats[c] = s
		}
		s.Pickups++
		switch {
		case pickedUp(st):
			s.PickedUp++
			s.Revenue += st.GetActualFen()
		case st.GetStatus() == StatusCancelled:
			s.Cancelled++
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]CustomerStat, 0, len(stats))
	for _, s := range stats {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b CustomerStat) int {
		if c := cmp.Compare(b.Pickups, a.Pickups); c != 0 {
			return c
		}
		return cmp.Compare(a.Customer, b.Customer)
	})
	return out, nil
}

// Count is the pickups of one group of a summary.
type Count struct {
	Key      string
	Pickups  int64
	PickedUp int64
	Revenue  int64 // Σ actual price of the picked-up ones, fen
}

// Totals counts pickups by branch, by courier (who picked up, else who it
// is assigned to; "" for none), by status and by day ("yyyy-MM-dd"), each
// by key.
type Totals struct {
	ByBranch  []Count
	ByCourier []Count
	ByStatus  []Count
	ByDay     []Count
	// BranchStatus counts pickups by branch, then status.
	BranchStatus map[string]map[string]int64
}

// Summary counts the pickups of every branch booked in [from, to), with
// days in loc: the head office dashboard.
func Summary(views replication.Tx, from, to time.Time, loc *time.Location) (*Totals, error) {
	groups := [4]map[string]*Count{{}, {}, {}, {}}
	branchStatus := map[string]map[string]int64{}
	add := func(g int, key string, st *pickupv1.PickupState) {
		c := groups[g][key]
		if c == nil {
			c = &Count{Key: key}
			groups[g][key] = c
		}
		c.Pickups++
		if pickedUp(st) {
			c.PickedUp++
			c.Revenue += st.GetActualFen()
		}
	}
	err := eachBooked(views, "", from, to, func(_ string, st *pickupv1.PickupState) {
		courier := st.GetPicker()
		if courier == "" {
			courier = st.GetCourier()
		}
		add(0, st.GetBranch(), st)
		add(1, courier, st)
		add(2, st.GetStatus(), st)
		add(3, time.UnixMilli(st.GetCreatedMs()).In(loc).Format("2006-01-02"), st)
		if branchStatus[st.GetBranch()] == nil {
			branchStatus[st.GetBranch()] = map[string]int64{}
		}
		branchStatus[st.GetBranch()][st.GetStatus()]++
	})
	if err != nil {
		return nil, err
	}
	var out [4][]Count
	for i, g := range groups {
		for _, c := range g {
			out[i] = append(out[i], *c)
		}
		slices.SortFunc(out[i], func(a, b Count) int { return cmp.Compare(a.Key, b.Key) })
	}
	return &Totals{ByBranch: out[0], ByCourier: out[1], ByStatus: out[2], ByDay: out[3], BranchStatus: branchStatus}, nil
}
