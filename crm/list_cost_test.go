package crm_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

var debugKeys = false

// countingTx counts the writes below the views' index prefixes.
type countingTx struct {
	replication.Tx
	sets, dels, bytes int
}

func (c *countingTx) index(k []byte) bool {
	for _, p := range crm.CustomerIndex.Prefixes {
		if bytes.HasPrefix(k, append(bytes.Clone(replication.ViewPrefix), p...)) {
			return true
		}
	}
	return false
}

func (c *countingTx) Set(k, v []byte) error {
	if c.index(k) {
		if debugKeys {
			fmt.Printf("set %q\n", k)
		}
		c.sets++
		c.bytes += len(k) + len(v)
	}
	return c.Tx.Set(k, v)
}

func (c *countingTx) Delete(k []byte) error {
	if c.index(k) {
		if debugKeys {
			fmt.Printf("del %q\n", k)
		}
		c.dels++
	}
	return c.Tx.Delete(k)
}

// TestListEntryCost measures what a customer's events write to its
// indexes, list orders and counters included, and that it does not grow
// with the number of customers: the same events cost the same writes in a
// store of 10 and of 2,000 customers.
func TestListEntryCost(t *testing.T) {
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	measure := func(others int) map[string][3]int {
		tx := &countingTx{Tx: reptest.NewMem()}
		views, err := replication.OpenViews(reg, tx)
		if err != nil {
			t.Fatal(err)
		}
		ids := replication.NewIDs()
		seq := uint64(0)
		apply := func(kind, id string, msg proto.Message) {
			body, err := proto.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			seq++
			b := views.Begin(tx)
			if _, err := b.Apply(&replication.Event{Origin: "sh-pudong", Seq: seq, HLC: replication.MakeHLC(reptest.BaseMillis+int64(seq), 0),
				Kind: kind, Entity: crm.Entity(id), Actor: "t", Body: body}); err != nil {
				t.Fatal(err)
			}
			if err := b.Finish(); err != nil {
				t.Fatal(err)
			}
			b.Commit()
		}
		fields := func(kv ...string) []*eventv1.FieldValue {
			var out []*eventv1.FieldValue
			for i := 0; i+1 < len(kv); i += 2 {
				out = append(out, &eventv1.FieldValue{Field: kv[i], Value: kv[i+1]})
			}
			return out
		}
		for i := range others {
			apply(crm.KindCustomerCreated, ids.New(time.UnixMilli(reptest.BaseMillis)), &crmv1.CustomerCreated{Fields: fields(
				"display_name", fmt.Sprintf("上海其他客户%d", i), "city", "上海", "owner", "wang", "level", "VIP")})
		}
		id := ids.New(time.UnixMilli(reptest.BaseMillis))
		out := map[string][3]int{}
		step := func(name, kind string, msg proto.Message) {
			tx.sets, tx.dels, tx.bytes = 0, 0, 0
			apply(kind, id, msg)
			out[name] = [3]int{tx.sets, tx.dels, tx.bytes}
		}
		step("create", crm.KindCustomerCreated, &crmv1.CustomerCreated{Fields: fields(
			"display_name", "上海浦东速递有限公司", "code", "C0001", "mobile", "+8613812345678", "city", "上海", "level", "VIP", "owner", "wang")})
		step("edit name", crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: fields("display_name", "上海浦东快递有限公司")})
		step("edit level", crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: fields("level", "普通")})
		step("edit city", crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: fields("city", "北京")})
		step("edit note", crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: fields("note", "周一不收件")})
		step("delete", crm.KindCustomerDeleted, &crmv1.CustomerDeleted{})
		return out
	}
	small, large := measure(10), measure(2000)
	for _, name := range []string{"create", "edit name", "edit level", "edit city", "edit note", "delete"} {
		t.Logf("%-10s %3d sets %3d deletes %6d bytes written (store of 2,010: %v)", name, small[name][0], small[name][1], small[name][2], large[name])
		// Counters of more customers take a byte more.
		if small[name][0] != large[name][0] || small[name][1] != large[name][1] || large[name][2]-small[name][2] > 8 {
			t.Errorf("%s writes %v among 10 customers, %v among 2,000", name, small[name], large[name])
		}
	}
}
