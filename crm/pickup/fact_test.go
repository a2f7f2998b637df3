package pickup_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/crm/pickup"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// deliverScoped is deliver for a node the hub filters: of from's next n
// events, to applies those in its scopes (and the company-wide ones).
func (c *cluster) deliverScoped(to, from, n int, scopes ...string) {
	c.t.Helper()
	r, src := c.reps[to], c.reps[from]
	b := r.views.Begin(r.mem)
	for ; n > 0 && r.next[from] < len(src.log); n-- {
		ev := src.log[r.next[from]]
		r.next[from]++
		if !replication.InScopes(ev.Scopes, scopes) {
			continue
		}
		if _, err := b.Apply(ev); err != nil {
			c.t.Fatalf("apply %s at %s: %v", ev, r.name, err)
		}
		r.clock = max(r.clock, ev.HLC)
	}
	if err := b.Finish(); err != nil {
		c.t.Fatalf("finish: %v", err)
	}
	b.Commit()
}

// companyOnly keeps of each stream the company-wide events: what a node
// serving none of the streams' branches and couriers receives.
func companyOnly(streams [][]*replication.Event) [][]*replication.Event {
	out := make([][]*replication.Event, len(streams))
	for i, s := range streams {
		for _, ev := range s {
			if len(ev.Scopes) == 0 {
				out[i] = append(out[i], ev)
			}
		}
	}
	return out
}

// asBefore rewrites streams as the release before account facts made
// them: no facts, bookings unmarked, no scopes.
func asBefore(t tb, streams [][]*replication.Event) [][]*replication.Event {
	out := make([][]*replication.Event, len(streams))
	for i, s := range streams {
		for _, ev := range s {
			if ev.Kind == pickup.KindPickupRecorded {
				continue
			}
			cp := *ev
			cp.Scopes = nil
			if ev.Kind == pickup.KindCreated {
				var b pickupv1.PickupCreated
				if err := proto.Unmarshal(ev.Body, &b); err != nil {
					t.Fatalf("created body: %v", err)
				}
				b.CountedByAccountFact = false
				var err error
				if cp.Body, err = proto.Marshal(&b); err != nil {
					t.Fatalf("marshal: %v", err)
				}
			}
			out[i] = append(out[i], &cp)
		}
	}
	return out
}

// replay applies streams in one random interleaving to a new store and
// returns its views.
func replay(t *rapid.T, reg *replication.Registry, streams [][]*replication.Event, label string) replication.Tx {
	m, _ := reptest.ApplyAll(t, reg, reptest.Interleave(t, streams, label))
	return replication.ReadViews(m)
}

// figures are what a replica shows of customers' accounts: the monthly
// volumes the quote counts, the balances and the statements of months.
type figures struct {
	Volume     map[string]int64 // customer month → pickups booked
	Accounts   []pickup.Account
	Statements []*pickup.MonthlyStatement
}

func figuresOf(t tb, views replication.Tx, customers []string, months []time.Time) figures {
	t.Helper()
	f := figures{Volume: map[string]int64{}}
	for _, cu := range customers {
		a, err := pickup.GetAccount(views, cu)
		if err != nil {
			t.Fatalf("account: %v", err)
		}
		f.Accounts = append(f.Accounts, a)
		for _, m := range months {
			q, err := pickup.Quote(views, cu, "北京", 1000, m)
			if err != nil {
				t.Fatalf("quote: %v", err)
			}
			f.Volume[cu+" "+m.Format("200601")] = q.Volume - 1
			s, err := pickup.Statement(views, cu, m.Format("2006-01"))
			if err != nil {
				t.Fatalf("statement: %v", err)
			}
			f.Statements = append(f.Statements, s)
		}
	}
	return f
}

// TestQuoteCountsOtherBranches: a pickup booked at sh-pudong counts in
// the customer's monthly volume, balance and statement at sh-minhang,
// which holds none of sh-pudong's pickup events, only its company-wide
// ones.
func TestQuoteCountsOtherBranches(t *testing.T) {
	c := newCluster(t, "sh-minhang", "sh-pudong")
	cust := c.fixture(0)
	c.must(0, "fin", func(replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetTiers([]pickup.Tier{{MinCount: 2, Percent: 90}}))
	})
	c.sync()
	in := input()
	in.Payment, in.Customer = pickup.PaymentMonthly, cust
	id, bk := c.book(1, in)
	if bk.Quote.Volume != 1 || bk.Quote.DiscountPercent != 100 {
		t.Fatalf("first booking of the month: %+v", bk.Quote)
	}
	c.deliverScoped(0, 1, len(c.reps[1].log), replication.BranchScope("sh-minhang"))
	if _, err := pickup.Get(c.views(0), id); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("sh-minhang holds sh-pudong's pickup: %v", err)
	}
	q, err := pickup.Quote(c.views(0), cust, in.Destination, in.WeightGrams, c.now)
	if err != nil || q.Volume != 2 || q.DiscountPercent != 90 {
		t.Fatalf("quote at sh-minhang: %+v, %v; want the second pickup of the month at 90%%", q, err)
	}
	a, err := pickup.GetAccount(c.views(0), cust)
	if err != nil || a.Unsettled != bk.Quote.Final {
		t.Fatalf("account at sh-minhang: %+v, %v; want unsettled %d", a, err, bk.Quote.Final)
	}
	// The deposit warning there counts it too.
	w, err := pickup.DepositCheck(c.views(0), cust, 100)
	if err != nil || w == nil || w.Unsettled != bk.Quote.Final {
		t.Fatalf("warning at sh-minhang: %+v, %v", w, err)
	}
	month := c.now.Format("2006-01")
	here, err1 := pickup.Statement(c.views(0), cust, month)
	there, err2 := pickup.Statement(c.views(1), cust, month)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(here, there) || len(here.Lines) != 1 || here.Lines[0].Pickup != id {
		t.Fatalf("statements differ:\n%+v (%v)\n%+v (%v)", here, err1, there, err2)
	}
	// Booking there now is priced at the tier.
	in.Sender.Address = "上海市浦东新区张江路 1 号"
	if _, bk := c.book(0, in); bk.Quote.Volume != 2 || bk.Quote.DiscountPercent != 90 {
		t.Fatalf("second booking at sh-minhang: %+v", bk.Quote)
	}
}

// TestFactStampsOrderTransitions: two couriers pick up one pickup
// concurrently at two nodes, and one node's clock ticks between its
// account fact and its pick-up, so the pick-ups order one way by their own
// stamps and the other by their facts'. The workflow follows the facts,
// as the account does: a replica with every event and one with only the
// company-wide ones agree on who picked it up and what it costs.
func TestFactStampsOrderTransitions(t *testing.T) {
	c := newCluster(t, "sh-pudong", "sh-minhang")
	cust := c.fixture(0)
	c.sync()
	in := input()
	in.Payment, in.Customer = pickup.PaymentMonthly, cust
	id, _ := c.book(0, in) // assigned to li
	c.sync()
	c.now = c.now.Add(time.Minute)
	li := c.must(1, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 1000, 1111) })
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "sh-pudong", "wang")
	})
	wang := c.must(0, "wang", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.PickUp(v, id, "wang", 1000, 2222)
	})
	if len(li) != 2 || len(wang) != 2 || li[0].Kind != pickup.KindPickupRecorded || li[1].Kind != pickup.KindPickedUp {
		t.Fatalf("pick-ups made %v and %v; want each fact before its transition", li, wang)
	}
	// Make the earlier fact's pick-up the later pick-up, as a clock tick
	// between the two events of one command can.
	first, second, winner := li, wang, "wang"
	if !replication.StampOf(wang[0]).After(replication.StampOf(li[0])) {
		first, second, winner = wang, li, "li"
	}
	tick := *first[1]
	tick.HLC = second[1].HLC + replication.MakeHLC(5, 0)
	streams := [][]*replication.Event{slices.Clone(c.reps[0].log), slices.Clone(c.reps[1].log)}
	for _, s := range streams {
		for i, ev := range s {
			if ev == first[1] {
				s[i] = &tick
			}
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		full := replay(t, c.reg, streams, "full")
		company := replay(t, c.reg, companyOnly(streams), "company")
		p, err := pickup.Get(full, id)
		if err != nil || p.PickedUpBy != winner {
			t.Fatalf("picked up by %q (%v), want %s, whose fact is later", p.PickedUpBy, err, winner)
		}
		months := []time.Time{c.now}
		a, b := figuresOf(t, full, []string{cust}, months), figuresOf(t, company, []string{cust}, months)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("figures differ:\n%+v\n%+v", a, b)
		}
		if l := a.Statements[0].Lines[0]; l.Charge != p.Charge || l.Price != p.ActualPrice || l.Status != p.Status || a.Accounts[0].Unsettled != p.Charge {
			t.Fatalf("line %+v, account %+v; the pickup says %s, charge %d", l, a.Accounts[0], p.Status, p.Charge)
		}
	})
}

// TestAccountFactsProp: bookings (of two customers, every payment, and of
// nobody), assignments, notices, acceptances, pick-ups, failures, cancels
// and checks
// made at three nodes on what each has seen, and payments, replayed in
// random orders to a replica that gets every event, to one that gets only
// the company-wide events and to one that gets the same history as the
// release before account facts made it: all three show the same monthly
// volumes, balances and statements, each pickup counted once, and every
// statement line is what the pickup's workflow says.
func TestAccountFactsProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newCluster(t, origins...)
		cust := c.fixture(0)
		other := newID()
		c.must(0, "agent", func(v replication.Tx) ([]replication.Draft, error) { return one(crmCreate(v, other, "李四物流")) })
		c.must(0, "fin", func(replication.Tx) ([]replication.Draft, error) {
			return one(pickup.SetTiers([]pickup.Tier{{MinCount: 2, Percent: 95}, {MinCount: 4, Percent: 90}}))
		})
		c.sync()
		customers := []string{cust, other}
		couriers := []string{"li", "wang", "zhao"}
		var ids []string
		branch := map[string]int{} // pickup → the replica that booked it
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			c.now = t0.Add(time.Duration(rapid.IntRange(0, 45*24).Draw(t, "hour")) * time.Hour)
			o := rapid.IntRange(0, len(origins)-1).Draw(t, "origin")
			var cmd func(v replication.Tx) ([]replication.Draft, error)
			actor := "agent"
			id := ""
			if len(ids) > 0 {
				id = rapid.SampledFrom(ids).Draw(t, "pickup")
				if rapid.IntRange(0, 2).Draw(t, "at-branch") > 0 {
					o = branch[id] // most steps where the pickup is
				}
			}
			node := origins[o]
			courierOf := func(v replication.Tx) string {
				if p, err := pickup.Get(v, id); err == nil {
					return p.Courier
				}
				return "nobody"
			}
			switch a := rapid.IntRange(0, 12).Draw(t, "action"); {
			case a <= 1 || id == "":
				in := input()
				in.Payment = rapid.SampledFrom(pickup.Payments).Draw(t, "payment")
				if in.Payment == pickup.PaymentMonthly || rapid.Bool().Draw(t, "customer") {
					in.Customer = rapid.SampledFrom(customers).Draw(t, "who")
				}
				in.WeightGrams = int64(rapid.IntRange(1, 5000).Draw(t, "grams"))
				newid := newID()
				cmd = func(v replication.Tx) ([]replication.Draft, error) {
					ds, _, err := pickup.Create(v, in, newid, node, c.now)
					return ds, err
				}
				ids, branch[newid] = append(ids, newid), o
			case a <= 3:
				price := int64(rapid.IntRange(0, 4000).Draw(t, "fen"))
				grams := int64(rapid.IntRange(1, 5000).Draw(t, "weighed"))
				cmd = func(v replication.Tx) ([]replication.Draft, error) {
					return pickup.PickUp(v, id, courierOf(v), grams, price)
				}
			case a == 4:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Cancel(v, id, node, "取消") }
			case a == 5:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Fail(v, id, courierOf(v), "无人") }
			case a == 6:
				cr := rapid.SampledFrom(couriers).Draw(t, "courier")
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Reassign(v, id, node, cr) }
			case a == 7:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, courierOf(v)) }
			case a == 8:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Check(v, id, node, "") }
			case a == 9:
				msg := newID()
				cmd, actor = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Notify(v, id, msg) }, "system"
			case a == 10:
				who := rapid.SampledFrom(customers).Draw(t, "payer")
				kind := rapid.SampledFrom(pickup.EntryKinds).Draw(t, "entry")
				amount := int64(rapid.IntRange(1, 5000).Draw(t, "amount"))
				cmd, actor = func(v replication.Tx) ([]replication.Draft, error) {
					return one(pickup.Record(v, who, kind, amount, "", c.now))
				}, "fin"
			default:
				c.deliver(o, rapid.IntRange(0, len(origins)-1).Draw(t, "from"), rapid.IntRange(1, 8).Draw(t, "n"))
				continue
			}
			if _, err := c.exec(o, actor, cmd); err != nil {
				refused(t, err)
			}
		}
		var streams [][]*replication.Event
		for _, r := range c.reps {
			streams = append(streams, r.log)
		}
		months := []time.Time{t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0)}
		full := replay(t, c.reg, streams, "full")
		want := figuresOf(t, full, customers, months)
		for _, r := range []struct {
			name  string
			views replication.Tx
		}{
			{"company-wide only", replay(t, c.reg, companyOnly(streams), "company")},
			{"as the release before", replay(t, c.reg, asBefore(t, streams), "before")},
		} {
			if got := figuresOf(t, r.views, customers, months); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n%+v\nfull replica:\n%+v", r.name, got, want)
			}
		}

		// Each booking of a customer counts once in its month.
		volume := map[string]int64{}
		for _, s := range streams {
			for _, ev := range s {
				var b pickupv1.PickupCreated
				if ev.Kind == pickup.KindCreated && proto.Unmarshal(ev.Body, &b) == nil && b.GetCustomer() != "" {
					volume[b.GetCustomer()+" "+b.GetDay()[:6]]++
				}
			}
		}
		for k, n := range want.Volume {
			if volume[k] != n {
				t.Fatalf("volume %s: %d, booked %d", k, n, volume[k])
			}
		}
		// Every line is what the pickup's workflow says, and the month's
		// charges are the lines'.
		for _, s := range want.Statements {
			var sum int64
			for _, l := range s.Lines {
				p, err := pickup.Get(full, l.Pickup)
				if err != nil {
					t.Fatal(err)
				}
				price, weight := p.Price, p.WeightGrams
				if p.PickedUpBy != "" {
					price, weight = p.ActualPrice, p.ActualWeight
				}
				if l.Status != p.Status || l.Charge != p.Charge || l.Price != price || l.WeightGrams != weight || l.Number != p.Number || l.Day != p.Day {
					t.Fatalf("line %+v; the workflow says %s, charge %d, price %d, weight %d", l, p.Status, p.Charge, price, weight)
				}
				sum += l.Charge
			}
			if sum != s.Charges {
				t.Fatalf("statement %s %s: charges %d, lines sum to %d", s.Customer, s.Month, s.Charges, sum)
			}
		}
	})
}

// TestBookingsOfBefore: a monthly pickup booked by the release before
// account facts (no fact, unmarked) keeps counting through its own
// events, which stay company-wide to its end, so that a branch without
// its scope sees its pick-up too; bookings made since count through their
// facts, each once.
func TestBookingsOfBefore(t *testing.T) {
	src := newCluster(t, "sh-pudong")
	cust := src.fixture(0)
	in := input()
	in.Payment, in.Customer = pickup.PaymentMonthly, cust
	old, _ := src.book(0, in)
	history := asBefore(t, [][]*replication.Event{src.reps[0].log})[0]
	for i, ev := range history { // without the facts, numbered as that release did
		ev.Seq = uint64(i + 1)
	}

	// sh-pudong upgraded: its history is the earlier release's.
	c := newCluster(t, "sh-pudong", "sh-minhang")
	r := c.reps[0]
	b := r.views.Begin(r.mem)
	for _, ev := range history {
		if out, err := b.Apply(ev); err != nil || out != replication.Applied {
			t.Fatalf("apply %s: %v, %d", ev, err, out)
		}
		r.clock = max(r.clock, ev.HLC)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	r.log, r.next[0] = history, len(history)

	courier := c.get(0, old).Courier
	picked := c.must(0, courier, func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.PickUp(v, old, courier, 2000, 3000)
	})
	if len(picked) != 1 || len(picked[0].Scopes) != 0 {
		t.Fatalf("the pick-up of a booking of before: %v, scopes %v; want one company-wide event", picked, picked[0].Scopes)
	}
	_, bk := c.book(0, in)
	c.deliverScoped(1, 0, len(r.log), replication.BranchScope("sh-minhang"))

	month := c.now.Format("2006-01")
	for o := range c.reps {
		a, err := pickup.GetAccount(c.views(o), cust)
		if err != nil || a.Unsettled != 3000+bk.Quote.Final {
			t.Fatalf("at %s: %+v, %v; want unsettled %d", c.reps[o].name, a, err, 3000+bk.Quote.Final)
		}
		q, err := pickup.Quote(c.views(o), cust, in.Destination, in.WeightGrams, c.now)
		if err != nil || q.Volume != 3 {
			t.Fatalf("at %s the month's volume is %d (%v), want 2 booked", c.reps[o].name, q.Volume-1, err)
		}
	}
	here, err1 := pickup.Statement(c.views(0), cust, month)
	there, err2 := pickup.Statement(c.views(1), cust, month)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(here, there) || len(here.Lines) != 2 || here.Charges != 3000+bk.Quote.Final {
		t.Fatalf("statements:\n%+v (%v)\n%+v (%v)", here, err1, there, err2)
	}
}
