package crmui

import (
	"net/url"
	"testing"
	"time"

	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/web"
)

func TestPreviewStore(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	ps := newPreviewStore(30*time.Minute, 100)
	ps.now = func() time.Time { return now }
	put := func(user string, size int) string {
		return ps.put(&storedPreview{user: user, content: make([]byte, size)})
	}

	a1 := put("alice", 10)
	if ps.get(a1, "alice") == nil {
		t.Fatal("a stored preview is not found")
	}
	if ps.get(a1, "bob") != nil {
		t.Fatal("another user reads alice's preview")
	}
	if ps.get("no-such-token", "alice") != nil {
		t.Fatal("an unknown token finds a preview")
	}

	// Each user keeps previewsPerUser previews; the oldest goes first.
	a2, a3, a4 := put("alice", 10), put("alice", 10), put("alice", 10)
	if ps.get(a1, "alice") != nil || ps.get(a2, "alice") == nil || ps.get(a3, "alice") == nil || ps.get(a4, "alice") == nil {
		t.Fatal("alice's oldest preview should make room for her fourth")
	}

	// The budget evicts the oldest previews of anyone.
	b1 := put("bob", 80) // 30 + 80 > 100: alice's oldest goes
	if ps.get(a2, "alice") != nil || ps.get(b1, "bob") == nil || ps.get(a4, "alice") == nil {
		t.Fatal("the budget should evict the oldest previews first")
	}

	// Previews expire.
	now = now.Add(31 * time.Minute)
	if ps.get(b1, "bob") != nil {
		t.Fatal("an expired preview is still served")
	}

	ps.drop(a4)
	if ps.get(a4, "alice") != nil {
		t.Fatal("a dropped preview is still served")
	}
}

func TestParseFilters(t *testing.T) {
	cases := []struct {
		name  string
		query string
		want  []filterRow
	}{
		{"none", "q=浦东", nil},
		{"one", "ff=city&fo=equals&fv=上海", []filterRow{{"city", "equals", "上海"}}},
		{"default contains", "ff=display_name&fv=速递", []filterRow{{"display_name", "contains", "速递"}}},
		{"empty rows dropped", "ff=city&fo=equals&fv=&ff=custom.vip&fo=contains&fv=+金卡+", []filterRow{{"custom.vip", "contains", "金卡"}}},
		{"no field", "ff=&fo=equals&fv=x", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			rows, filters := parseFilters(q)
			if len(rows) != len(c.want) || len(filters) != len(c.want) {
				t.Fatalf("rows %v, filters %v, want %v", rows, filters, c.want)
			}
			for i, w := range c.want {
				if rows[i] != w {
					t.Errorf("row %d = %v, want %v", i, rows[i], w)
				}
				wantContains := true
				if w.Op == "equals" {
					wantContains = false
				}
				if f := filters[i]; f.Field != w.Field || f.Value != w.Value || f.Contains != wantContains {
					t.Errorf("filter %d = %v", i, f)
				}
			}
			// A search survives the round trip through its query string.
			again, _ := parseFilters(searchQuery("", rows))
			if len(again) != len(rows) {
				t.Errorf("round trip gives %v", again)
			}
		})
	}
}

func TestMergeDefaults(t *testing.T) {
	d := &mergeData{Winner: "b", Rows: []mergeRow{
		{Name: "code", A: "SH-1", B: ""},
		{Name: "city", A: "上海", B: "杭州"},
		{Name: "email", A: "", B: "x@example.com"},
	}}
	d.defaultChoices()
	for i, want := range []string{"a", "b", "b"} {
		if got := d.Rows[i].Choice; got != want {
			t.Errorf("winner b, field %s: choice %s, want %s", d.Rows[i].Name, got, want)
		}
	}
	d.Winner = "a"
	d.defaultChoices()
	for i, want := range []string{"a", "a", "b"} {
		if got := d.Rows[i].Choice; got != want {
			t.Errorf("winner a, field %s: choice %s, want %s", d.Rows[i].Name, got, want)
		}
	}
}

// TestCustomerCatalogKeys checks the keys the customer pages build at run
// time: timeline kinds and contact fields.
func TestCustomerCatalogKeys(t *testing.T) {
	var keys []string
	for _, k := range []string{
		crm.TimelineCreated, crm.TimelineFieldsSet, crm.TimelineNote, crm.TimelineDeleted, crm.TimelineRestored,
		crm.TimelineMerged, crm.TimelineContactAdded, crm.TimelineContactUpdated, crm.TimelineContactRemoved,
		crm.TimelinePointsEarned, crm.TimelinePointsRedeemed, crm.TimelineToppedUp, crm.TimelineSpent,
		crm.TimelineCouponIssued, crm.TimelineCouponRedeemed,
	} {
		keys = append(keys, "timeline."+k)
	}
	for _, f := range crm.ContactFields {
		keys = append(keys, "contact."+f.Name)
	}
	for _, l := range web.Langs {
		p, err := web.LangPage(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !p.HasText(k) {
				t.Errorf("%s lacks %q", l, k)
			}
		}
	}
}

func TestTimelineSummaries(t *testing.T) {
	p, err := web.LangPage("zh-CN")
	if err != nil {
		t.Fatal(err)
	}
	defs := []crm.CustomField{{Key: "vip_since", Label: "VIP 起始日"}}
	cases := []struct {
		kind, summary, ref string
		label, text        string
	}{
		{crm.TimelineFieldsSet, "display_name,mobile,custom.vip_since", "", "修改了", "客户名称、手机、VIP 起始日"},
		{crm.TimelineContactUpdated, "title", "c1", "修改联系人", "李经理：职务"},
		{crm.TimelinePointsEarned, "+120 points: 春节活动", "", "积分增加", "+120 积分 — 春节活动"},
		{crm.TimelineSpent, "balance -¥12.50", "", "余额消费", "-¥12.50"},
		{crm.TimelineNote, "下周回访", "", "备注", "下周回访"},
		{"call.answered", "来电 3 分钟", "", "call.answered", "来电 3 分钟"},
	}
	for _, c := range cases {
		v := viewTimeline(p, defs, map[string]string{"c1": "李经理"}, crmapp.TimelineEntry{Kind: c.kind, Summary: c.summary, Ref: c.ref})
		if v.Label != c.label || v.Text != c.text {
			t.Errorf("%s %q: %q / %q, want %q / %q", c.kind, c.summary, v.Label, v.Text, c.label, c.text)
		}
	}
}
