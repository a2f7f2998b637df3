package crm_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
	"branchline/replication/reptest"
)

// book is one replica's customer views in memory, for tests of commands:
// it runs a command's draft the way node.Store does (stamp, check as the
// hub would, apply) at origin "sh-pudong", with actor "alice".
type book struct {
	t     *testing.T
	reg   *replication.Registry
	m     *reptest.Mem
	views *replication.Views
	ids   *replication.IDs
	seq   uint64
	hlc   replication.HLC
	actor string
}

func newBook(t *testing.T) *book {
	t.Helper()
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &book{t: t, reg: reg, m: m, views: v, ids: replication.NewIDs(), hlc: replication.MakeHLC(reptest.BaseMillis, 0), actor: "alice"}
}

// tx is what commands and queries read: the views with the replica's
// memories, as a node's readers get them.
func (b *book) tx() replication.Tx { return b.views.Read(b.m) }

// stored is the views without the memories: what a reader of a replica
// that keeps none gets.
func (b *book) stored() replication.Tx { return replication.ReadViews(b.m) }

func (b *book) newID() string { return b.ids.New(time.UnixMilli(reptest.BaseMillis)) }

// apply records a draft that a command made without error.
func (b *book) apply(d replication.Draft, err error) *replication.Event {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("command refused: %v", err)
	}
	body, err := proto.Marshal(d.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.seq++
	b.hlc++
	ev := &replication.Event{Origin: "sh-pudong", Seq: b.seq, HLC: b.hlc, Kind: d.Kind, Entity: d.Entity, Actor: b.actor, Body: body}
	b.applyEvent(ev)
	return ev
}

// applyEvent checks and applies an event of any origin.
func (b *book) applyEvent(ev *replication.Event) {
	b.t.Helper()
	if err := b.reg.Check(ev); err != nil {
		b.t.Fatalf("the hub would refuse %s: %v", ev, err)
	}
	bt := b.views.Begin(b.m)
	out, err := bt.Apply(ev)
	if err != nil || out != replication.Applied {
		b.t.Fatalf("apply %s: outcome %v, %v", ev, out, err)
	}
	if err := bt.Finish(); err != nil {
		b.t.Fatal(err)
	}
	bt.Commit()
}

// create makes a customer and returns its id.
func (b *book) create(fields map[string]string) string {
	b.t.Helper()
	id := b.newID()
	b.apply(crm.CreateCustomer(b.tx(), id, fields))
	return id
}

func (b *book) update(id string, fields map[string]string) {
	b.t.Helper()
	d, ok, err := crm.UpdateCustomer(b.tx(), id, fields)
	if !ok && err == nil {
		b.t.Fatalf("update of %s changes nothing", id)
	}
	b.apply(d, err)
}

func (b *book) get(id string) *crm.Customer {
	b.t.Helper()
	c, err := crm.GetCustomer(b.tx(), id)
	if err != nil {
		b.t.Fatalf("GetCustomer(%s): %v", id, err)
	}
	return c
}

// refused checks that a command failed with *fault.Invalid naming field
// and code, and made no draft.
func refused(t *testing.T, d replication.Draft, err error, field, code string) {
	t.Helper()
	inv, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("error = %v (%T), want *fault.Invalid %s/%s", err, err, field, code)
	}
	if inv.Field != field || inv.Code != code {
		t.Fatalf("Invalid{%q, %q} (%v), want %q %q", inv.Field, inv.Code, err, field, code)
	}
	if d.Kind != "" || d.Body != nil {
		t.Fatalf("a refused command made a draft: %+v", d)
	}
}

// remote stamps a draft as an event of another origin.
func remote(t *testing.T, origin string, seq uint64, hlc replication.HLC, d replication.Draft) *replication.Event {
	t.Helper()
	body, err := proto.Marshal(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &replication.Event{Origin: origin, Seq: seq, HLC: hlc, Kind: d.Kind, Entity: d.Entity, Actor: "bob", Body: body}
}

func isInvalidErr(err error) bool {
	_, ok := fault.AsInvalid(err)
	return ok
}

func isInvalidCode(err error) (string, bool) {
	inv, ok := fault.AsInvalid(err)
	if !ok {
		return "", false
	}
	return inv.Code, true
}
