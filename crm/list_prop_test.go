package crm_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/replication/reptest"
)

// A small world for list properties: few customers and few values, so
// that creates, edits, deletes, restores and merges collide.
var (
	listIDs    = fixedIDs(7, 200)
	listValues = map[string][]string{
		"display_name": {"张三物流", "Apple", "apple", "阿里", "C10", "C2"},
		"code":         {"", "C2", "C10", "c1"},
		"city":         {"", "上海", "北京", "ＳＨ", "sh"},
		"level":        {"", "A", "B"},
		"owner":        {"", "wang", "li"},
	}
	listFields = []string{"display_name", "code", "city", "level", "owner"}
)

func drawListFields(t *rapid.T, create bool) []*eventv1.FieldValue {
	var out []*eventv1.FieldValue
	for _, f := range listFields {
		if create && f == "display_name" || rapid.IntRange(0, 2).Draw(t, "write-"+f) == 0 {
			out = append(out, &eventv1.FieldValue{Field: f, Value: rapid.SampledFrom(listValues[f]).Draw(t, f)})
		}
	}
	if len(out) == 0 {
		out = append(out, &eventv1.FieldValue{Field: "city", Value: rapid.SampledFrom(listValues["city"]).Draw(t, "city")})
	}
	return out
}

func genListStreams(t *rapid.T, reg *replication.Registry) [][]*replication.Event {
	return genLifecycleStreams(t, reg, listIDs, func(create bool) []*eventv1.FieldValue { return drawListFields(t, create) }, nil)
}

// genLifecycleStreams makes two origins' streams of creates, edits (fields
// drawn by fields), merges, deletes and restores of the customers ids —
// and, when contactIDs are given, contacts added with those ids.
func genLifecycleStreams(t *rapid.T, reg *replication.Registry, ids []string, fields func(create bool) []*eventv1.FieldValue, contactIDs []string) [][]*replication.Event {
	g := reptest.NewOrigins("sh-pudong", "bj-chaoyang")
	kinds := 7
	if len(contactIDs) > 0 {
		kinds = 8
	}
	for i, n := 0, rapid.IntRange(1, 40).Draw(t, "events"); i < n; i++ {
		o := rapid.IntRange(0, 1).Draw(t, "origin")
		id := rapid.SampledFrom(ids).Draw(t, "customer")
		var kind string
		var msg proto.Message
		switch k := rapid.IntRange(0, kinds).Draw(t, "kind"); {
		case k <= 2:
			kind, msg = crm.KindCustomerCreated, &crmv1.CustomerCreated{Fields: fields(true)}
		case k <= 4:
			kind, msg = crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: fields(false)}
		case k == 5:
			loser := rapid.SampledFrom(slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == id })).Draw(t, "loser")
			kind, msg = crm.KindCustomerMerged, &crmv1.CustomerMerged{Loser: loser}
		case k == 6:
			kind, msg = crm.KindCustomerDeleted, &crmv1.CustomerDeleted{}
		case k == 7:
			kind, msg = crm.KindCustomerRestored, &crmv1.CustomerRestored{}
		default:
			kind, msg = crm.KindContactAdded, &crmv1.ContactAdded{ContactId: rapid.SampledFrom(contactIDs).Draw(t, "contact"), Fields: []*eventv1.FieldValue{
				{Field: "display_name", Value: "李四"}, {Field: "mobile", Value: rapid.SampledFrom(shippedPhones[1:]).Draw(t, "contact mobile")}}}
		}
		appendChecked(t, g, reg, o, kind, id, msg)
	}
	return g.Streams
}

// applyDeferred applies evs as a node does: markers in the writer's
// transactions, then indexer steps of random size that read a snapshot
// of what was committed and write a batch of their own, so that a step
// never reads what it wrote, with its entities shared out among one to
// three goroutines (replication.ProcessMarkersShared). open opens the views
// (nil: OpenViewsIndexed, deferred).
func applyDeferred(t *rapid.T, reg *replication.Registry, evs []*replication.Event, open func(*replication.Registry, replication.Tx) (*replication.Views, error)) (*reptest.Mem, *replication.Views) {
	if open == nil {
		open = func(reg *replication.Registry, tx replication.Tx) (*replication.Views, error) {
			return replication.OpenViewsIndexed(reg, tx, replication.IndexDeferred)
		}
	}
	m := reptest.NewMem()
	views, err := open(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	var indexed uint64 // the last marker processed, as the node's indexer keeps it
	index := func() {
		for {
			snap := reptest.NewMem()
			for k, v := range m.Dump() {
				if err := snap.Set([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			markers, err := replication.PendingMarkers(snap, indexed, rapid.IntRange(1, 6).Draw(t, "step"))
			if err != nil {
				t.Fatal(err)
			}
			if len(markers) == 0 {
				return
			}
			// As many goroutines as the step's entities allow, up to three,
			// each reading the snapshot (a node gives each its own).
			reads := make([]replication.Tx, rapid.IntRange(1, 3).Draw(t, "goroutines"))
			for i := range reads {
				reads[i] = snap
			}
			last, committed, err := views.ProcessMarkersShared(m, reads, markers)
			if err != nil {
				t.Fatal(err)
			}
			committed()
			indexed = last
		}
	}
	for len(evs) > 0 {
		n := min(len(evs), rapid.IntRange(1, 8).Draw(t, "batch"))
		b := views.Begin(m)
		for _, ev := range evs[:n] {
			if _, err := b.Apply(ev); err != nil {
				t.Fatalf("apply %s: %v", ev, err)
			}
		}
		if err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		b.Commit()
		evs = evs[n:]
		if rapid.Bool().Draw(t, "index now") {
			index()
		}
	}
	index()
	return m, views
}

// bruteList is what a list must show, computed from the customers'
// records alone: the live customers passing keep, in the column's order.
func bruteList(t *rapid.T, views replication.Tx, col string, desc bool, keep func(*crm.Customer) bool) []string {
	seen := map[string]*crm.Customer{}
	for _, id := range listIDs {
		c, err := crm.GetCustomer(views, id)
		if err != nil {
			continue // never created
		}
		if !c.Deleted && keep(c) {
			seen[c.ID] = c
		}
	}
	cl := collate.New(language.Chinese, collate.Loose, collate.Numeric)
	field := map[string]string{"name": "display_name", "code": "code", "city": "city", "level": "level", "owner": "owner"}[col]
	var cs []*crm.Customer
	for _, c := range seen {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *crm.Customer) int {
		var r int
		if col == crm.SortCreated {
			r = cmp.Compare(a.Created, b.Created)
		} else {
			va, vb := a.Fields[field], b.Fields[field]
			switch {
			case va == "" && vb != "":
				r = -1
			case vb == "" && va != "":
				r = 1
			default:
				r = cl.CompareString(va, vb)
			}
		}
		if r == 0 {
			r = strings.Compare(a.ID, b.ID)
		}
		if desc {
			r = -r
		}
		return r
	})
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func idsOf(cs []*crm.Customer) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// checkLists walks every order of views' lists, with and without a
// filter, page by page both ways, and compares pages and totals with the
// brute-force lists.
func checkLists(t *rapid.T, views replication.Tx) {
	all := func(*crm.Customer) bool { return true }
	live := bruteList(t, views, crm.SortCreated, false, all)
	if n, err := crm.CountCustomers(views, "", ""); err != nil || n != len(live) {
		t.Fatalf("CountCustomers = %d, %v; %d live", n, err, len(live))
	}
	for _, city := range listValues["city"][1:] {
		n, err := crm.CountCustomers(views, "city", city)
		want := len(bruteList(t, views, crm.SortCreated, false, func(c *crm.Customer) bool { return crm.Fold(c.Fields["city"]) == crm.Fold(city) }))
		if err != nil || n != want {
			t.Fatalf("CountCustomers(city=%s) = %d, %v; brute force %d", city, n, err, want)
		}
	}
	size := rapid.IntRange(1, 3).Draw(t, "page size")
	type filter struct {
		search crm.Search
		scope  *crm.ListScope
		keep   func(*crm.Customer) bool
	}
	filters := []filter{
		{keep: all},
		{search: crm.Search{Filters: []crm.Filter{{Field: "city", Op: crm.OpEquals, Value: "上海"}}},
			keep: func(c *crm.Customer) bool { return c.Fields["city"] == "上海" }},
		{search: crm.Search{Filters: []crm.Filter{{Field: "level", Op: crm.OpEquals, Value: "a"}, {Field: "owner", Op: crm.OpEquals, Value: "wang"}}},
			keep: func(c *crm.Customer) bool { return c.Fields["level"] == "A" && c.Fields["owner"] == "wang" }},
		{search: crm.Search{Text: "apple"}, keep: func(c *crm.Customer) bool { return crm.Fold(c.Fields["display_name"]) == "apple" }},
		{search: crm.Search{Filters: []crm.Filter{{Field: "display_name", Op: crm.OpContains, Value: "C1"}}},
			keep: func(c *crm.Customer) bool { return strings.Contains(crm.Fold(c.Fields["display_name"]), "c1") }},
		{scope: &crm.ListScope{Owner: "li"}, keep: func(c *crm.Customer) bool { return c.Fields["owner"] == "li" }},
	}
	for fi, f := range filters {
		for _, col := range crm.SortColumns {
			for _, desc := range []bool{false, true} {
				want := bruteList(t, views, col, desc, f.keep)
				name := fmt.Sprintf("filter %d by %s desc=%v", fi, col, desc)
				l := crm.List{Search: f.search, Scope: f.scope, Limit: size, Order: keyset.Order{Sort: col, Desc: desc}}
				var got []string
				for pages := 0; ; pages++ {
					p, err := crm.SortedCustomers(views, l)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if p.Total != len(want) {
						t.Fatalf("%s: total %d, brute force %d", name, p.Total, len(want))
					}
					if (l.Cursor == "") != (p.Prev == "") {
						t.Fatalf("%s: page %d has prev %q", name, pages, p.Prev)
					}
					got = append(got, idsOf(p.Customers)...)
					if p.Next == "" || pages > len(want) {
						break
					}
					l.Cursor = p.Next
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: forward %v, brute force %v", name, got, want)
				}
				// Backwards from the last page.
				l = crm.List{Search: f.search, Scope: f.scope, Limit: size, Order: keyset.Order{Sort: col, Desc: desc, Last: true}}
				var back []string
				for pages := 0; ; pages++ {
					p, err := crm.SortedCustomers(views, l)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if pages == 0 && p.Next != "" {
						t.Fatalf("%s: last page has next", name)
					}
					back = append(idsOf(p.Customers), back...)
					if p.Prev == "" || pages > len(want) {
						break
					}
					l = crm.List{Search: f.search, Scope: f.scope, Limit: size, Order: keyset.Order{Sort: col, Desc: desc, Cursor: p.Prev, Back: true}}
				}
				if !slices.Equal(back, want) {
					t.Fatalf("%s: backward %v, brute force %v", name, back, want)
				}
			}
		}
	}
}

// Lists and their totals equal a brute-force count and sort of the
// customers' records after any mix of creates, edits, deletes, restores
// and merges, whether the indexes are built inline or behind the commit
// in steps that read what was committed before them.
func TestListsMatchRecords(t *testing.T) {
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	rapid.Check(t, func(t *rapid.T) {
		// Few customers: order them in memory, or read the index orders
		// as for a million.
		defer crm.SetSmallList(rapid.SampledFrom([]int{0, 2000}).Draw(t, "small list"))()
		evs := reptest.Interleave(t, genListStreams(t, reg), "order")
		m, _ := reptest.ApplyAll(t, reg, evs)
		checkLists(t, replication.ReadViews(m))
		dm, dv := applyDeferred(t, reg, evs, nil)
		checkLists(t, dv.Read(dm))
	})
}
