package crm_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// A small world for merge properties: four customers, two contacts, few
// values, so that merges, cycles, edits of losers, deletes and contact
// removals collide.
var (
	mergeWorld     = fixedIDs(6, 100)
	mergeCustomers = mergeWorld[:4]
	mergeContacts  = mergeWorld[4:]
	mergeNames     = []string{"上海浦东速递", "浦东五金", "北京餐厅"}
	mergeNumbers   = []string{"+8613800138000", "+8613900139000"}
	mergeFields    = []string{"display_name", "city", "mobile", "note"}
)

// fixedIDs returns n customer ids of the property tests' worlds, the same
// on every run, told apart by their last byte (from last on).
func fixedIDs(n int, last byte) (ids []string) {
	for i := range n {
		e := [10]byte{9: last + byte(i)}
		ids = append(ids, ulid.MustNew(ulid.Timestamp(time.UnixMilli(reptest.BaseMillis)), &fixedBytes{e}).String())
	}
	return ids
}

// appendChecked appends to origin o's stream an event of kind on customer
// id with body msg, which the hub must accept.
func appendChecked(t *rapid.T, g *reptest.Origins, reg *replication.Registry, o int, kind, id string, msg proto.Message) {
	body, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	ev := g.Append(t, o, kind, crm.Entity(id), body)
	if err := reg.Check(ev); err != nil {
		t.Fatalf("generated an event the hub refuses: %v", err)
	}
}

type fixedBytes struct{ b [10]byte }

func (f *fixedBytes) Read(p []byte) (int, error) { return copy(p, f.b[:]), nil }

func drawMergeValue(t *rapid.T, field string) string {
	switch field {
	case "display_name":
		return rapid.SampledFrom(mergeNames).Draw(t, field)
	case "mobile":
		return rapid.SampledFrom(append([]string{""}, mergeNumbers...)).Draw(t, field)
	default:
		return rapid.SampledFrom([]string{"", "上海", "北京"}).Draw(t, field)
	}
}

func drawMergeFields(t *rapid.T, min int, create bool) []*eventv1.FieldValue {
	var out []*eventv1.FieldValue
	for _, f := range mergeFields {
		if create && f == "display_name" || rapid.IntRange(0, 2).Draw(t, "write-"+f) == 0 {
			out = append(out, &eventv1.FieldValue{Field: f, Value: drawMergeValue(t, f)})
		}
	}
	if len(out) < min {
		f := rapid.SampledFrom(mergeFields[1:]).Draw(t, "field")
		out = append(out, &eventv1.FieldValue{Field: f, Value: drawMergeValue(t, f)})
	}
	return out
}

// genMergeStreams draws customer, merge, recycle-bin, contact and note
// events of two or three origins; every one passes Registry.Check.
func genMergeStreams(t *rapid.T, reg *replication.Registry) [][]*replication.Event {
	g := reptest.NewOrigins([]string{"sh-pudong", "bj-chaoyang", "gz-tianhe"}[:rapid.IntRange(2, 3).Draw(t, "origins")]...)
	contactOf := map[string]string{} // contact → the customer it was added to
	for i, n := 0, rapid.IntRange(1, 50).Draw(t, "events"); i < n; i++ {
		o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
		id := rapid.SampledFrom(mergeCustomers).Draw(t, "customer")
		var kind string
		var msg proto.Message
		switch rapid.IntRange(0, 9).Draw(t, "kind") {
		case 0, 1:
			kind, msg = crm.KindCustomerCreated, &crmv1.CustomerCreated{Fields: drawMergeFields(t, 1, true)}
		case 2, 3:
			kind, msg = crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: drawMergeFields(t, 1, false)}
		case 4, 5:
			loser := rapid.SampledFrom(slices.DeleteFunc(slices.Clone(mergeCustomers), func(s string) bool { return s == id })).Draw(t, "loser")
			var fields []*eventv1.FieldValue
			if rapid.Bool().Draw(t, "override") {
				fields = drawMergeFields(t, 1, false)
			}
			kind, msg = crm.KindCustomerMerged, &crmv1.CustomerMerged{Loser: loser, Fields: fields}
		case 6:
			if rapid.Bool().Draw(t, "delete") {
				kind, msg = crm.KindCustomerDeleted, &crmv1.CustomerDeleted{}
			} else {
				kind, msg = crm.KindCustomerRestored, &crmv1.CustomerRestored{}
			}
		case 7:
			kind, msg = crm.KindNoteAdded, &crmv1.CustomerNoteAdded{Text: "备注"}
		default:
			ct := rapid.SampledFrom(mergeContacts).Draw(t, "contact")
			if at, ok := contactOf[ct]; ok {
				id = at
				if rapid.Bool().Draw(t, "remove") {
					kind, msg = crm.KindContactRemoved, &crmv1.ContactRemoved{ContactId: ct}
				} else {
					kind, msg = crm.KindContactUpdated, &crmv1.ContactUpdated{ContactId: ct, Fields: []*eventv1.FieldValue{
						{Field: "mobile", Value: rapid.SampledFrom(append([]string{""}, mergeNumbers...)).Draw(t, "ct-mobile")}}}
				}
			} else {
				contactOf[ct] = id
				kind, msg = crm.KindContactAdded, &crmv1.ContactAdded{ContactId: ct, Fields: []*eventv1.FieldValue{
					{Field: "display_name", Value: "王"},
					{Field: "mobile", Value: rapid.SampledFrom(mergeNumbers).Draw(t, "ct-mobile")}}}
			}
		}
		appendChecked(t, g, reg, o, kind, id, msg)
	}
	return g.Streams
}

// mergeModel computes, from the set of events alone, what the views must
// show: the rules of crm's package comment, written out plainly.
type mergeModel struct {
	rep     map[string]string // id → its group's representative
	created map[string]bool   // ids with a created event
	fields  map[string]map[string]stamped
	bin     map[string]stamped // representative → latest delete ("D") / restore or merge ("A")
	contact map[string]*modelContact
	entries map[string]int // representative → timeline entries
}

type stamped struct {
	s replication.Stamp
	v string
}

type modelContact struct {
	customer string
	added    bool
	removed  bool
	fields   map[string]stamped
}

func put(m map[string]stamped, k string, s replication.Stamp, v string) {
	if cur, ok := m[k]; !ok || s.After(cur.s) {
		m[k] = stamped{s, v}
	}
}

func newMergeModel(t *rapid.T, streams [][]*replication.Event) *mergeModel {
	var evs []*replication.Event
	for _, s := range streams {
		evs = append(evs, s...)
	}
	slices.SortFunc(evs, func(a, b *replication.Event) int {
		if replication.StampOf(a).After(replication.StampOf(b)) {
			return 1
		}
		return -1
	})
	m := &mergeModel{rep: map[string]string{}, created: map[string]bool{}, fields: map[string]map[string]stamped{},
		bin: map[string]stamped{}, contact: map[string]*modelContact{}, entries: map[string]int{}}
	parent := map[string]string{}
	root := func(x string) string {
		for parent[x] != "" {
			x = parent[x]
		}
		return x
	}
	decode := func(ev *replication.Event, msg proto.Message) {
		if err := proto.Unmarshal(ev.Body, msg); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range evs { // stamp order: union-find replays merges so
		if ev.Kind == crm.KindCustomerMerged {
			var b crmv1.CustomerMerged
			decode(ev, &b)
			if rl, rw := root(b.GetLoser()), root(strings.TrimPrefix(ev.Entity, "customer/")); rl != rw {
				parent[rl] = rw
			}
		}
	}
	for _, id := range mergeCustomers {
		m.rep[id] = root(id)
	}
	for _, ev := range evs {
		id := strings.TrimPrefix(ev.Entity, "customer/")
		r := m.rep[id]
		s := replication.StampOf(ev)
		if m.fields[r] == nil {
			m.fields[r] = map[string]stamped{}
		}
		m.entries[r]++
		switch ev.Kind {
		case crm.KindCustomerCreated:
			var b crmv1.CustomerCreated
			decode(ev, &b)
			m.created[id] = true
			for _, fv := range b.GetFields() {
				put(m.fields[r], fv.GetField(), s, fv.GetValue())
			}
		case crm.KindCustomerFieldSet:
			var b crmv1.CustomerFieldSet
			decode(ev, &b)
			for _, fv := range b.GetFields() {
				put(m.fields[r], fv.GetField(), s, fv.GetValue())
			}
		case crm.KindCustomerMerged:
			var b crmv1.CustomerMerged
			decode(ev, &b)
			for _, fv := range b.GetFields() {
				put(m.fields[r], fv.GetField(), s, fv.GetValue())
			}
			put(m.bin, r, s, "A")
		case crm.KindCustomerDeleted:
			put(m.bin, r, s, "D")
		case crm.KindCustomerRestored:
			put(m.bin, r, s, "A")
		case crm.KindContactAdded, crm.KindContactUpdated, crm.KindContactRemoved:
			var ct string
			var fields []*eventv1.FieldValue
			switch ev.Kind {
			case crm.KindContactAdded:
				var b crmv1.ContactAdded
				decode(ev, &b)
				ct, fields = b.GetContactId(), b.GetFields()
			case crm.KindContactUpdated:
				var b crmv1.ContactUpdated
				decode(ev, &b)
				ct, fields = b.GetContactId(), b.GetFields()
			default:
				var b crmv1.ContactRemoved
				decode(ev, &b)
				ct = b.GetContactId()
			}
			mc := m.contact[ct]
			if mc == nil {
				mc = &modelContact{customer: r, fields: map[string]stamped{}}
				m.contact[ct] = mc
			}
			mc.added = mc.added || ev.Kind == crm.KindContactAdded
			mc.removed = mc.removed || ev.Kind == crm.KindContactRemoved
			for _, fv := range fields {
				put(mc.fields, fv.GetField(), s, fv.GetValue())
			}
		}
	}
	return m
}

// check compares the views with the model, through the package's readers.
func (m *mergeModel) check(t *rapid.T, views replication.Tx) {
	live := map[string]bool{}
	for _, id := range mergeCustomers {
		r := m.rep[id]
		c, err := crm.GetCustomer(views, id)
		if !m.created[r] {
			if !errors.Is(err, fault.ErrNotFound) {
				t.Fatalf("customer %s: representative %s was never created, yet Get gives %v, %v", id, r, c, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("GetCustomer(%s): %v", id, err)
		}
		if c.ID != r {
			t.Fatalf("customer %s reads as %s, the model's representative is %s", id, c.ID, r)
		}
		want := map[string]string{}
		for f, sv := range m.fields[r] {
			if sv.v != "" {
				want[f] = sv.v
			}
		}
		if !maps.Equal(c.Fields, want) {
			t.Fatalf("customer %s (rep %s) fields %v, model %v", id, r, c.Fields, want)
		}
		if deleted := m.bin[r].v == "D"; c.Deleted != deleted {
			t.Fatalf("customer %s deleted %v, model %v", r, c.Deleted, deleted)
		}
		live[r] = !c.Deleted
		var wantCts []string
		for ct, mc := range m.contact {
			if mc.customer == r && mc.added && !mc.removed {
				wantCts = append(wantCts, ct)
			}
		}
		cts, err := crm.Contacts(views, r)
		if err != nil {
			t.Fatal(err)
		}
		var gotCts []string
		for _, ct := range cts {
			gotCts = append(gotCts, ct.ID)
			if ct.Fields["mobile"] != m.contact[ct.ID].fields["mobile"].v {
				t.Fatalf("contact %s mobile %q, model %q", ct.ID, ct.Fields["mobile"], m.contact[ct.ID].fields["mobile"].v)
			}
		}
		slices.Sort(wantCts)
		if !slices.Equal(gotCts, wantCts) {
			t.Fatalf("contacts of %s %v, model %v", r, gotCts, wantCts)
		}
		entries, _, err := crm.Timeline(views, r, "", 1000, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != m.entries[r] {
			t.Fatalf("timeline of %s has %d entries, model %d", r, len(entries), m.entries[r])
		}
	}
	// The indexes agree with the records.
	for _, n := range mergeNumbers {
		var want []string
		for r, ok := range live {
			if !ok {
				continue
			}
			has := m.fields[r]["mobile"].v == n
			for _, mc := range m.contact {
				has = has || mc.customer == r && mc.added && !mc.removed && mc.fields["mobile"].v == n
			}
			if has {
				want = append(want, r)
			}
		}
		slices.Sort(want)
		cs, err := crm.LookupByPhone(views, n)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("LookupByPhone(%s) = %v, model %v", n, got, want)
		}
	}
	for _, q := range []string{"浦东", "餐厅"} {
		var want []string
		for r, ok := range live {
			if ok && strings.Contains(m.fields[r]["display_name"].v, q) {
				want = append(want, r)
			}
		}
		slices.Sort(want)
		hits, err := crm.Suggest(views, q, 50, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.Customer.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("Suggest(%s) = %v, model %v", q, got, want)
		}
	}
	list, err := crm.ListCustomers(views, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var listed, wantListed []string
	for _, c := range list {
		listed = append(listed, c.ID)
	}
	for r, ok := range live {
		if ok {
			wantListed = append(wantListed, r)
		}
	}
	slices.Sort(wantListed)
	if !slices.Equal(listed, wantListed) {
		t.Fatalf("ListCustomers = %v, model %v", listed, wantListed)
	}
}

// Merges interleaved with edits, deletes, contact changes and notes, from
// several origins and in any arrival order, converge: every replica ends
// with the same digest, and what it shows is what the merge rules say
// (an edit addressed to a loser, before or after the merge arrived, is on
// the winner; cycles resolve to one survivor).
func TestMergesConverge(t *testing.T) {
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	rapid.Check(t, func(t *rapid.T) {
		streams := genMergeStreams(t, reg)
		model := newMergeModel(t, streams)
		var first replication.Digest
		for i := range 3 {
			m, views := reptest.ApplyAll(t, reg, reptest.Interleave(t, streams, fmt.Sprintf("replica%d", i)))
			model.check(t, replication.ReadViews(m))
			if i == 0 {
				first = views.Digest()
			} else if views.Digest() != first {
				t.Fatalf("replica %d digest %v, replica 0 %v", i, views.Digest(), first)
			}
		}
	})
}
