package pickup_test

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/replication"
	"branchline/replication/reptest"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// replica is one node's store: its views, its own log and its clock.
type replica struct {
	name  string
	mem   *reptest.Mem
	views *replication.Views
	clock replication.HLC
	log   []*replication.Event // events this replica made, in seq order
	next  []int                // next event of each replica's log to deliver here
}

// cluster simulates nodes that run commands on their own views and
// exchange events in any order: each origin's in seq order, the origins
// interleaved as the test chooses.
type cluster struct {
	t    tb
	reg  *replication.Registry
	reps []*replica
	now  time.Time // the wall clock commands and stamps read
}

func registry() *replication.Registry {
	r := replication.NewRegistry()
	crm.RegisterCustomers(r)
	pickup.Register(r)
	return r
}

// t0 is a Monday morning in Shanghai.
var (
	shanghai = time.FixedZone("CST", 8*3600)
	t0       = time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai)
)

func newCluster(t tb, names ...string) *cluster {
	c := &cluster{t: t, reg: registry(), now: t0}
	for _, n := range names {
		m := reptest.NewMem()
		v, err := replication.OpenViews(c.reg, m)
		if err != nil {
			t.Fatalf("open views: %v", err)
		}
		c.reps = append(c.reps, &replica{name: n, mem: m, views: v, next: make([]int, len(names))})
	}
	return c
}

func (c *cluster) views(o int) replication.Tx { return replication.ReadViews(c.reps[o].mem) }

// exec runs cmd at replica o as actor, stamps and scopes and applies its
// drafts, and checks that every event passes the registry's check (the
// hub would refuse it otherwise). A refused command writes nothing.
func (c *cluster) exec(o int, actor string, cmd replication.Command) ([]*replication.Event, error) {
	c.t.Helper()
	r := c.reps[o]
	before := r.views.Digest()
	drafts, err := cmd(c.views(o))
	if err != nil {
		if r.views.Digest() != before {
			c.t.Fatalf("a refused command changed the views")
		}
		return nil, err
	}
	b := r.views.Begin(r.mem)
	var out []*replication.Event
	for _, d := range drafts {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			c.t.Fatalf("marshal: %v", err)
		}
		r.clock = max(r.clock+1, replication.MakeHLC(c.now.UnixMilli(), 0))
		ev := &replication.Event{Origin: r.name, Seq: uint64(len(r.log) + 1), HLC: r.clock, Kind: d.Kind,
			Entity: d.Entity, Actor: actor, Body: body}
		// As the node's store does: the kind's scope rule, on the views
		// with the command's earlier events applied.
		if ev.Scopes, err = c.reg.Scopes(b.Views(), ev); err != nil {
			c.t.Fatalf("scopes of %s: %v", ev, err)
		}
		if err := c.reg.Check(ev); err != nil {
			c.t.Fatalf("the hub would refuse %s: %v", ev, err)
		}
		if o, err := b.Apply(ev); err != nil || o != replication.Applied {
			c.t.Fatalf("apply own %s: %v (outcome %d)", ev, err, o)
		}
		r.log = append(r.log, ev)
		r.next[o] = len(r.log)
		out = append(out, ev)
	}
	if err := b.Finish(); err != nil {
		c.t.Fatalf("finish: %v", err)
	}
	b.Commit()
	return out, nil
}

// must runs cmd and fails the test if it is refused.
func (c *cluster) must(o int, actor string, cmd replication.Command) []*replication.Event {
	c.t.Helper()
	evs, err := c.exec(o, actor, cmd)
	if err != nil {
		c.t.Fatalf("command at %s: %v", c.reps[o].name, err)
	}
	return evs
}

// deliver applies the next n events of from's log at to (fewer if there
// are fewer), and moves to's clock past them.
func (c *cluster) deliver(to, from, n int) {
	c.t.Helper()
	r, src := c.reps[to], c.reps[from]
	b := r.views.Begin(r.mem)
	for ; n > 0 && r.next[from] < len(src.log); n-- {
		ev := src.log[r.next[from]]
		if _, err := b.Apply(ev); err != nil {
			c.t.Fatalf("apply %s at %s: %v", ev, r.name, err)
		}
		r.clock = max(r.clock, ev.HLC)
		r.next[from]++
	}
	if err := b.Finish(); err != nil {
		c.t.Fatalf("finish: %v", err)
	}
	b.Commit()
}

// sync delivers everything everywhere.
func (c *cluster) sync() {
	c.t.Helper()
	for to := range c.reps {
		for from := range c.reps {
			c.deliver(to, from, len(c.reps[from].log))
		}
	}
}

// digest is replica o's view digest, checked against a full recount.
func (c *cluster) digest(o int) replication.Digest {
	c.t.Helper()
	d, err := replication.DigestOf(c.reps[o].mem, replication.ViewPrefix)
	if err != nil {
		c.t.Fatalf("digest: %v", err)
	}
	if d != c.reps[o].views.Digest() {
		c.t.Fatalf("replica %s: incremental digest differs from the views", c.reps[o].name)
	}
	return d
}

// one wraps a single-draft command.
func one(d replication.Draft, err error) ([]replication.Draft, error) {
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

var idSeq = replication.NewIDs()

func newID() string { return idSeq.New(t0) }

// fixture sets up, at replica o, a zone "pudong" (postcode 2001, district
// 浦东新区), couriers "li" and "wang" covering it on duty, "zhao" off duty,
// and a customer; it returns the customer id.
func (c *cluster) fixture(o int) string {
	c.t.Helper()
	c.must(o, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetZone(v, pickup.Zone{ID: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"}, Keywords: []string{"张江"}}))
	})
	for _, cr := range []pickup.Courier{
		{User: "li", Name: "李师傅", Extension: "8101", OnDuty: true, Zones: []string{"pudong"}},
		{User: "wang", Name: "王师傅", Extension: "8102", OnDuty: true, Zones: []string{"pudong"}},
		{User: "zhao", Name: "赵师傅", OnDuty: false, Zones: []string{"pudong"}},
	} {
		c.must(o, "disp", func(v replication.Tx) ([]replication.Draft, error) { return pickup.SetCourier(v, cr) })
	}
	cust := newID()
	c.must(o, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(crm.CreateCustomer(v, cust, map[string]string{"display_name": "张三贸易"}))
	})
	return cust
}

// input is a valid booking from the pudong zone.
func input() pickup.Input {
	return pickup.Input{
		Sender:      pickup.Party{Name: "张三", Phone: "13800000001", Address: "上海市浦东新区张杨路 500 号", Postcode: "200120"},
		Receiver:    pickup.Party{Name: "王五", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号"},
		Destination: "北京", Goods: "文件", WeightGrams: 1200, Payment: pickup.PaymentCash,
	}
}

// book creates a pickup at replica o and returns its id and booking.
func (c *cluster) book(o int, in pickup.Input) (string, *pickup.Booking) {
	c.t.Helper()
	id := newID()
	var bk *pickup.Booking
	c.must(o, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		ds, b, err := pickup.Create(v, in, id, c.reps[o].name, c.now)
		bk = b
		return ds, err
	})
	return id, bk
}

func (c *cluster) get(o int, id string) *pickup.Pickup {
	c.t.Helper()
	p, err := pickup.Get(c.views(o), id)
	if err != nil {
		c.t.Fatalf("get %s at %s: %v", id, c.reps[o].name, err)
	}
	return p
}

// wantErr checks that err is the fault wanted: an *fault.Invalid with
// code (when code is not ""), or a sentinel.
func wantErr(t tb, err error, code string, sentinel error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want %s%v", code, sentinel)
	case code != "":
		inv, ok := fault.AsInvalid(err)
		if !ok || inv.Code != code {
			t.Fatalf("error %v, want code %s", err, code)
		}
	case !errors.Is(err, sentinel):
		t.Fatalf("error %v, want %v", err, sentinel)
	}
}

func (r *replica) String() string { return fmt.Sprintf("replica %s", r.name) }

func crmCreate(v replication.Tx, id, name string) (replication.Draft, error) {
	return crm.CreateCustomer(v, id, map[string]string{"display_name": name})
}
