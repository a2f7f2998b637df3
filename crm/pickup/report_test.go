package pickup_test

import (
	"testing"
	"time"

	"branchline/crm/pickup"
	"branchline/replication"
)

func TestReports(t *testing.T) {
	c := newCluster(t, "sh-pudong", "sh-minhang")
	cust := c.fixture(0)
	c.sync()
	withCustomer := input()
	withCustomer.Customer = cust
	p1, _ := c.book(0, withCustomer) // li
	p2, _ := c.book(0, input())      // wang
	p3, _ := c.book(0, input())      // li
	mustStep := func(o int, actor string, cmd func(v replication.Tx) ([]replication.Draft, error)) {
		t.Helper()
		if err := step(c, o, actor, cmd); err != nil {
			t.Fatal(err)
		}
	}
	mustStep(0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, p1, "li", 2000, 2000) })
	mustStep(0, "wang", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Fail(v, p2, "wang", "无人") })
	mustStep(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Cancel(v, p3, "sh-pudong", "不寄了")
	})
	c.sync()
	// At the other branch, late in the evening and just after midnight
	// (16:30 UTC, the previous UTC day).
	c.now = time.Date(2026, 11, 23, 23, 30, 0, 0, shanghai)
	p4, bk := c.book(1, withCustomer)
	if bk.Courier != "li" { // li and wang have no open pickups; tie by name
		t.Fatalf("p4 for %s", bk.Courier)
	}
	c.now = time.Date(2026, 11, 24, 0, 30, 0, 0, shanghai)
	p5, _ := c.book(1, input())
	c.sync()

	day := time.Date(2026, 11, 23, 12, 0, 0, 0, shanghai)
	stats, err := pickup.CourierDay(c.views(0), "sh-pudong", day)
	if err != nil {
		t.Fatal(err)
	}
	want := []pickup.CourierStat{
		{Courier: "li", Name: "李师傅", Assigned: 2, PickedUp: 1, Revenue: 2000},
		{Courier: "wang", Name: "王师傅", Assigned: 1, Failed: 1},
	}
	if len(stats) != len(want) || stats[0] != want[0] || stats[1] != want[1] {
		t.Fatalf("courier day %+v", stats)
	}
	if stats, _ := pickup.CourierDay(c.views(1), "sh-minhang", day); len(stats) != 1 || stats[0].Assigned != 1 {
		t.Fatalf("minhang on the 23rd %+v", stats)
	}
	if stats, _ := pickup.CourierDay(c.views(1), "", day.AddDate(0, 0, 1)); len(stats) != 1 || stats[0].Courier != "wang" {
		t.Fatalf("the 24th %+v", stats)
	}

	from := time.Date(2026, 11, 1, 0, 0, 0, 0, shanghai)
	to := from.AddDate(0, 1, 0)
	vol, err := pickup.CustomerVolume(c.views(1), "", from, to)
	if err != nil || len(vol) != 1 || vol[0] != (pickup.CustomerStat{Customer: cust, Pickups: 2, PickedUp: 1, Revenue: 2000}) {
		t.Fatalf("customer volume %+v, %v", vol, err)
	}
	if vol, _ := pickup.CustomerVolume(c.views(1), "sh-minhang", from, to); len(vol) != 1 || vol[0].Pickups != 1 {
		t.Fatalf("minhang customer volume %+v", vol)
	}

	sum, err := pickup.Summary(c.views(1), from, to, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	counts := func(cs []pickup.Count) map[string]int64 {
		m := map[string]int64{}
		for _, c := range cs {
			m[c.Key] = c.Pickups
		}
		return m
	}
	eq := func(name string, got, want map[string]int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %v, want %v", name, got, want)
			}
		}
	}
	eq("by branch", counts(sum.ByBranch), map[string]int64{"sh-pudong": 3, "sh-minhang": 2})
	eq("by status", counts(sum.ByStatus), map[string]int64{"picked_up": 1, "failed": 1, "cancelled": 1, "assigned": 2})
	eq("by day", counts(sum.ByDay), map[string]int64{"2026-11-23": 4, "2026-11-24": 1})
	eq("by courier", counts(sum.ByCourier), map[string]int64{"li": 3, "wang": 2})
	if sum.ByBranch[1].Key != "sh-pudong" || sum.ByBranch[1].PickedUp != 1 || sum.ByBranch[1].Revenue != 2000 {
		t.Fatalf("by branch %+v", sum.ByBranch)
	}
	// In UTC all five were booked on the 23rd (the evening ones at 15:30
	// and 16:30 UTC).
	utc, err := pickup.Summary(c.views(1), from, to, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	eq("by UTC day", counts(utc.ByDay), map[string]int64{"2026-11-23": 5})
	// A range that ends before the late ones.
	early, _ := pickup.Summary(c.views(1), from, time.Date(2026, 11, 23, 23, 0, 0, 0, shanghai), shanghai)
	eq("until 23:00", counts(early.ByBranch), map[string]int64{"sh-pudong": 3})

	// Lists: by branch and status, by courier, paged newest first.
	all, next, err := pickup.List(c.views(0), pickup.Filter{From: from, To: to, Limit: 10})
	if err != nil || len(all) != 5 || next != "" || all[0].ID != p5 || all[4].ID != p1 {
		t.Fatalf("list %d, %q, %v", len(all), next, err)
	}
	page, next, err := pickup.List(c.views(0), pickup.Filter{From: from, To: to, Limit: 2})
	if err != nil || len(page) != 2 || next != p4 {
		t.Fatalf("page 1: %d, %q, %v", len(page), next, err)
	}
	page, next, _ = pickup.List(c.views(0), pickup.Filter{From: from, To: to, Limit: 2, After: next})
	if len(page) != 2 || page[0].ID != p3 || next != p2 {
		t.Fatalf("page 2: %d, %q", len(page), next)
	}
	if l, _, _ := pickup.List(c.views(0), pickup.Filter{Branch: "sh-pudong", Status: pickup.StatusFailed, Limit: 10}); len(l) != 1 || l[0].ID != p2 {
		t.Fatalf("failed at pudong: %d", len(l))
	}
	if l, _, _ := pickup.List(c.views(0), pickup.Filter{Courier: "li", Limit: 10}); len(l) != 3 {
		t.Fatalf("li's pickups: %d", len(l))
	}
	if l, _, _ := pickup.List(c.views(0), pickup.Filter{From: day.AddDate(0, 0, 2), Limit: 10}); len(l) != 0 {
		t.Fatalf("pickups from the 25th: %d", len(l))
	}
}
