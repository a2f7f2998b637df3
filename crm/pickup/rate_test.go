package pickup_test

import (
	"testing"

	"branchline/crm/pickup"
	"branchline/replication"
)

func TestQuote(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	a := c.fixture(0)
	b := newID()
	c.must(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(crmCreate(v, b, "李四物流"))
	})
	quote := func(customer, dest string, grams int64) pickup.Breakdown {
		t.Helper()
		q, err := pickup.Quote(c.views(0), customer, dest, grams, c.now)
		if err != nil {
			t.Fatalf("quote %s %s %d: %v", customer, dest, grams, err)
		}
		return q
	}
	setPlan := func(p pickup.Plan) {
		t.Helper()
		c.must(0, "fin", func(v replication.Tx) ([]replication.Draft, error) { return one(pickup.SetRatePlan(v, p)) })
	}
	// Before finance sets a tariff, the default one prices.
	if q := quote("", "北京", 1200); q.Final != 1700 || q.Plan != pickup.StandardPlan {
		t.Fatalf("default tariff %+v", q)
	}
	setPlan(pickup.Plan{ID: pickup.StandardPlan, Rows: []pickup.Row{
		{Area: "*", FirstGrams: 1000, FirstFen: 1000, StepGrams: 500, StepFen: 300},
		{Area: "北京", FirstGrams: 1000, FirstFen: 1500, StepGrams: 1000, StepFen: 500},
		{Area: "北京市朝阳", FirstGrams: 1000, FirstFen: 1800, StepGrams: 1000, StepFen: 600},
		{Area: "广东", FirstGrams: 1000, FirstFen: 2000, StepGrams: 1000, StepFen: 800},
	}})
	cases := []struct {
		customer, dest string
		grams          int64
		area, plan     string
		base, final    int64
	}{
		{"", "北京市海淀区", 3000, "北京", "standard", 2500, 2500},
		{"", "北京市朝阳区", 1000, "北京市朝阳", "standard", 1800, 1800},
		{"", "新疆乌鲁木齐", 1001, "*", "standard", 1300, 1300},
		{"", "广东深圳", 999, "广东", "standard", 2000, 2000},
		{"", "广东深圳", 1, "广东", "standard", 2000, 2000},
	}
	for _, tc := range cases {
		q := quote(tc.customer, tc.dest, tc.grams)
		if q.Area != tc.area || q.Plan != tc.plan || q.Base != tc.base || q.Final != tc.final {
			t.Errorf("quote %s %d = %+v; want area %s base %d final %d", tc.dest, tc.grams, q, tc.area, tc.base, tc.final)
		}
	}
	// Customer a pays 90% of the standard tariff; b has its own rows.
	setPlan(pickup.Plan{ID: a, Percent: 90})
	setPlan(pickup.Plan{ID: b, Rows: []pickup.Row{{Area: "北京", FirstGrams: 1000, FirstFen: 1000, StepGrams: 1000, StepFen: 100}}})
	if q := quote(a, "北京市海淀区", 3000); q.Base != 2500 || q.PlanPercent != 90 || q.Planned != 2250 || q.Final != 2250 || q.Volume != 1 {
		t.Fatalf("percent plan %+v", q)
	}
	if q := quote(b, "北京市海淀区", 3000); q.Plan != b || q.Final != 1200 {
		t.Fatalf("own rows %+v", q)
	}
	if q := quote(b, "广东深圳", 3000); q.Plan != pickup.StandardPlan || q.Final != 3600 {
		t.Fatalf("own rows without the area fall back to the standard tariff: %+v", q)
	}
	// Volume tiers: from the 3rd pickup of the month 95%, from the 5th 90%.
	c.must(0, "fin", func(replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetTiers([]pickup.Tier{{MinCount: 5, Percent: 90}, {MinCount: 3, Percent: 95}}))
	})
	in := input()
	in.Customer, in.Destination, in.WeightGrams = a, "北京市海淀区", 3000
	for i, want := range []struct {
		volume int64
		pct    int32
		final  int64
	}{{1, 100, 2250}, {2, 100, 2250}, {3, 95, 2138}, {4, 95, 2138}, {5, 90, 2025}} {
		q := quote(a, in.Destination, in.WeightGrams)
		if q.Volume != want.volume || q.DiscountPercent != want.pct || q.Final != want.final {
			t.Fatalf("pickup %d of the month: %+v", i+1, q)
		}
		// Create prices exactly as Quote showed.
		if _, bk := c.book(0, in); bk.Quote != q {
			t.Fatalf("booked %+v, quoted %+v", bk.Quote, q)
		}
	}
	// A cancelled pickup still counted towards the month.
	c.now = c.now.AddDate(0, 1, 0)
	if q := quote(a, in.Destination, in.WeightGrams); q.Volume != 1 || q.Final != 2250 {
		t.Fatalf("next month %+v", q)
	}
	tiers, err := pickup.Tiers(c.views(0))
	if err != nil || len(tiers) != 2 || tiers[0].MinCount != 3 {
		t.Fatalf("tiers %+v, %v", tiers, err)
	}
	plans, err := pickup.ListRatePlans(c.views(0))
	if err != nil || len(plans) != 3 || plans[0].ID != pickup.StandardPlan || len(plans[0].Rows) != 4 {
		t.Fatalf("plans %+v, %v", plans, err)
	}
	// Removing b's plan: no rows, no percentage.
	setPlan(pickup.Plan{ID: b})
	if _, ok, _ := pickup.GetRatePlan(c.views(0), b); ok {
		t.Fatal("removed plan still there")
	}

	// Bad input.
	for _, tc := range []struct {
		customer, dest string
		grams          int64
		code           string
	}{
		{"", "北京", 0, "bad_weight"},
		{"", "北京", -1, "bad_weight"},
		{"", "", 1000, "required"},
		{newID(), "北京", 1000, "unknown_customer"},
		{"x", "北京", 1000, "bad_id"},
	} {
		_, err := pickup.Quote(c.views(0), tc.customer, tc.dest, tc.grams, c.now)
		wantErr(t, err, tc.code, nil)
	}
	setPlan(pickup.Plan{ID: pickup.StandardPlan, Rows: []pickup.Row{{Area: "北京", FirstGrams: 1000, FirstFen: 1500, StepGrams: 1000, StepFen: 500}}})
	_, err = pickup.Quote(c.views(0), "", "新疆", 1000, c.now)
	wantErr(t, err, "no_rate", nil)
	for _, bad := range []pickup.Plan{
		{ID: pickup.StandardPlan, Percent: 90},
		{ID: a, Percent: -1},
		{ID: a, Percent: 1001},
		{ID: newID(), Percent: 90},
		{ID: "gold", Percent: 90},
		{ID: a, Rows: []pickup.Row{{Area: "北京", FirstGrams: 1000, StepGrams: 1000}, {Area: "北京 ", FirstGrams: 1000, StepGrams: 1000}}},
		{ID: a, Rows: []pickup.Row{{Area: "北京", FirstGrams: 0, StepGrams: 1000}}},
		{ID: a, Rows: []pickup.Row{{Area: "北京", FirstGrams: 1000, StepGrams: 0}}},
		{ID: a, Rows: []pickup.Row{{Area: "北京", FirstGrams: 1000, StepGrams: 1000, FirstFen: -1}}},
		{ID: a, Rows: []pickup.Row{{Area: "", FirstGrams: 1000, StepGrams: 1000}}},
	} {
		if _, err := pickup.SetRatePlan(c.views(0), bad); err == nil {
			t.Errorf("SetRatePlan(%+v) accepted", bad)
		}
	}
	for _, bad := range [][]pickup.Tier{
		{{MinCount: 0, Percent: 90}},
		{{MinCount: 10, Percent: 0}},
		{{MinCount: 10, Percent: 101}},
		{{MinCount: 10, Percent: 90}, {MinCount: 10, Percent: 80}},
	} {
		if _, err := pickup.SetTiers(bad); err == nil {
			t.Errorf("SetTiers(%+v) accepted", bad)
		}
	}
}
