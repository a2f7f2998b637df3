package crm_test

import (
	"slices"
	"testing"
	"time"

	"branchline/crm"
	"branchline/replication"
)

func TestMergeCustomersRefuses(t *testing.T) {
	b := newBook(t)
	x := b.create(map[string]string{"display_name": "上海浦东速递"})
	y := b.create(map[string]string{"display_name": "上海浦东速递有限公司"})
	z := b.create(map[string]string{"display_name": "浦东快递"})
	gone := b.create(map[string]string{"display_name": "已删除"})
	b.apply(crm.DeleteCustomer(b.tx(), gone))
	merged := b.create(map[string]string{"display_name": "已合并"})
	b.apply(crm.MergeCustomers(b.tx(), z, merged, nil))

	cases := []struct {
		name          string
		winner, loser string
		chosen        map[string]string
		field, code   string
	}{
		{"into itself", x, x, nil, "loser", "same_customer"},
		{"bad winner id", "nope", x, nil, "winner", "bad_id"},
		{"bad loser id", x, "nope", nil, "loser", "bad_id"},
		{"unknown winner", b.newID(), x, nil, "winner", "not_found"},
		{"into a deleted customer", gone, x, nil, "winner", "deleted"},
		{"a deleted customer", x, gone, nil, "loser", "deleted"},
		{"into a merged customer", merged, x, nil, "winner", "merged"},
		{"a merged customer", x, merged, nil, "loser", "merged"},
		{"cycle through a redirect", merged, z, nil, "winner", "merged"},
		{"bad chosen phone", y, x, map[string]string{"mobile": "12"}, "mobile", "bad_phone"},
		{"unknown chosen field", y, x, map[string]string{"colour": "red"}, "colour", "unknown_field"},
		{"chosen name cleared", y, x, map[string]string{"display_name": ""}, "display_name", "required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := crm.MergeCustomers(b.tx(), c.winner, c.loser, c.chosen)
			refused(t, d, err, c.field, c.code)
		})
	}
}

func TestMergeMovesEverything(t *testing.T) {
	b := newBook(t)
	b.apply(crm.DefineCustomField(b.tx(), crm.CustomField{Key: "volume", Label: "月件量", Kind: crm.CustomNumber}))
	y := b.create(map[string]string{"display_name": "上海浦东速递有限公司", "city": "上海", "mobile": "13812345678"})
	x := b.create(map[string]string{"display_name": "浦东速递", "city": "上海", "phone": "021 6234 5678", "email": "x@example.com", "custom.volume": "100"})
	ct := b.newID()
	b.apply(crm.AddContact(b.tx(), x, ct, map[string]string{"display_name": "王", "mobile": "13900139000"}))
	b.apply(crm.AddNote(b.tx(), x, "老客户"))
	// Keep y's name (written before x's, so the fold alone would take
	// x's), take x's city spelling.
	b.update(x, map[string]string{"city": "上海市"})
	d, err := crm.MergeCustomers(b.tx(), y, x, map[string]string{"city": "上海市"})
	if err != nil {
		t.Fatal(err)
	}
	b.apply(d, nil)

	c := b.get(x)
	if c.ID != y || c.MergedFrom != x {
		t.Fatalf("GetCustomer(loser) = %s (merged from %q), want the winner", c.ID, c.MergedFrom)
	}
	want := map[string]string{"display_name": "上海浦东速递有限公司", "city": "上海市", "mobile": "+8613812345678",
		"phone": "+862162345678", "email": "x@example.com"}
	for f, v := range want {
		if c.Fields[f] != v {
			t.Errorf("merged %s = %q, want %q", f, c.Fields[f], v)
		}
	}
	if c.Custom["volume"] != "100" {
		t.Errorf("custom value not folded in: %v", c.Custom)
	}
	if cs, _ := crm.Contacts(b.tx(), y); len(cs) != 1 || cs[0].ID != ct {
		t.Errorf("winner's contacts %v", cs)
	}
	for _, n := range []string{"13900139000", "021 6234 5678", "13812345678"} {
		if cs, _ := crm.LookupByPhone(b.tx(), n); len(cs) != 1 || cs[0].ID != y {
			t.Errorf("LookupByPhone(%s) = %v, want the winner", n, cs)
		}
	}
	if cs, _ := crm.ListCustomers(b.tx(), "", 10); len(cs) != 1 || cs[0].ID != y {
		t.Errorf("list %v, want only the winner", names(cs))
	}
	if hits, _ := crm.Suggest(b.tx(), "浦东速递", 10, nil); len(hits) != 1 || hits[0].Customer.ID != y {
		t.Errorf("suggest after merge %v", hits)
	}
	entries, _, _ := crm.Timeline(b.tx(), y, "", 100, false)
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Kind)
	}
	for _, k := range []string{crm.TimelineNote, crm.TimelineContactAdded, crm.TimelineMerged} {
		if !slices.Contains(kinds, k) {
			t.Errorf("winner's timeline %v lacks %s", kinds, k)
		}
	}
	// Later commands naming the loser act on the winner.
	b.update(x, map[string]string{"level": "VIP"})
	b.apply(crm.AddNote(b.tx(), x, "合并后的备注"))
	if c := b.get(y); c.Get("level") != "VIP" {
		t.Errorf("an update of the loser did not reach the winner: %v", c.Fields)
	}
	if entries2, _, _ := crm.Timeline(b.tx(), y, "", 100, false); len(entries2) != len(entries)+2 {
		t.Errorf("timeline grew by %d, want 2", len(entries2)-len(entries))
	}
}

// Node A merges X into Y while node B, not having seen the merge, edits X:
// whatever the arrival order, B's edit ends on Y and both replicas agree.
func TestMergeWhileLoserEdited(t *testing.T) {
	ids := replication.NewIDs()
	x, y, ct := ids.New(time.Now()), ids.New(time.Now()), ids.New(time.Now())
	var digests []replication.Digest
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		b := newBook(t)
		b.apply(crm.CreateCustomer(b.tx(), y, map[string]string{"display_name": "上海浦东速递有限公司", "city": "上海"}))
		b.apply(crm.CreateCustomer(b.tx(), x, map[string]string{"display_name": "浦东速递", "city": "上海"}))
		merge, err := crm.MergeCustomers(b.tx(), y, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		edit, _, err := crm.UpdateCustomer(b.tx(), x, map[string]string{"note": "B 的备注", "mobile": "13812345678"})
		if err != nil {
			t.Fatal(err)
		}
		addCt, err := crm.AddContact(b.tx(), x, ct, map[string]string{"display_name": "王"})
		if err != nil {
			t.Fatal(err)
		}
		evs := [][]*replication.Event{
			{remote(t, "bj-chaoyang", 1, b.hlc+3, merge)},
			{remote(t, "gz-tianhe", 1, b.hlc+1, edit), remote(t, "gz-tianhe", 2, b.hlc+2, addCt)},
		}
		for _, i := range order {
			for _, ev := range evs[i] {
				b.applyEvent(ev)
			}
		}
		c := b.get(y)
		if c.Get("note") != "B 的备注" || c.Get("mobile") != "+8613812345678" || c.Get("display_name") != "上海浦东速递有限公司" {
			t.Fatalf("order %v: winner %v", order, c.Fields)
		}
		if cs, _ := crm.Contacts(b.tx(), y); len(cs) != 1 {
			t.Fatalf("order %v: the contact added to the loser is not on the winner", order)
		}
		if cs, _ := crm.LookupByPhone(b.tx(), "13812345678"); len(cs) != 1 || cs[0].ID != y {
			t.Fatalf("order %v: lookup %v", order, cs)
		}
		digests = append(digests, b.views.Digest())
	}
	if digests[0] != digests[1] {
		t.Fatal("arrival orders disagree")
	}
}

// X merged into Y at one node and Y into X at another: every replica
// picks the same survivor (the later merge joins nothing new).
func TestConcurrentOppositeMerges(t *testing.T) {
	ids := replication.NewIDs()
	x, y := ids.New(time.Now()), ids.New(time.Now())
	var survivors []string
	var digests []replication.Digest
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		b := newBook(t)
		b.apply(crm.CreateCustomer(b.tx(), x, map[string]string{"display_name": "甲", "city": "上海"}))
		b.apply(crm.CreateCustomer(b.tx(), y, map[string]string{"display_name": "乙", "email": "y@example.com"}))
		xy, _ := crm.MergeCustomers(b.tx(), y, x, nil)
		yx, _ := crm.MergeCustomers(b.tx(), x, y, nil)
		evs := []*replication.Event{remote(t, "bj-chaoyang", 1, b.hlc+1, xy), remote(t, "gz-tianhe", 1, b.hlc+2, yx)}
		for _, i := range order {
			b.applyEvent(evs[i])
		}
		cx, cy := b.get(x), b.get(y)
		if cx.ID != cy.ID {
			t.Fatalf("order %v: %s and %s are not one customer", order, cx.ID, cy.ID)
		}
		if cx.Get("city") != "上海" || cx.Get("email") != "y@example.com" {
			t.Fatalf("order %v: merged fields %v", order, cx.Fields)
		}
		if cs, _ := crm.ListCustomers(b.tx(), "", 10); len(cs) != 1 {
			t.Fatalf("order %v: %d customers listed", order, len(cs))
		}
		survivors = append(survivors, cx.ID)
		digests = append(digests, b.views.Digest())
	}
	if survivors[0] != survivors[1] || survivors[0] != y || digests[0] != digests[1] {
		t.Fatalf("survivors %v (want the earlier merge's winner %s), digests equal %v", survivors, y, digests[0] == digests[1])
	}
}
