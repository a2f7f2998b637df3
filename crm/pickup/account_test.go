package pickup_test

import (
	"maps"
	"testing"
	"time"

	"branchline/crm/pickup"
	"branchline/replication"
)

func record(c *cluster, o int, customer, kind string, amount int64, note string) error {
	c.t.Helper()
	_, err := c.exec(o, "fin", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Record(v, customer, kind, amount, note, c.now))
	})
	return err
}

func TestStatement(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	cust := c.fixture(0)
	c.now = time.Date(2026, 10, 20, 10, 0, 0, 0, shanghai)
	monthly := input()
	monthly.Payment, monthly.Customer = pickup.PaymentMonthly, cust

	// No deposit yet: a monthly booking warns, and is made.
	x, bk := c.book(0, monthly)
	if bk.Warning == nil || bk.Warning.Deposit != 0 || bk.Warning.Unsettled != 0 || bk.Warning.Price != 1700 {
		t.Fatalf("warning %+v", bk.Warning)
	}
	if err := record(c, 0, cust, pickup.EntryDeposit, 5000, "押金"); err != nil {
		t.Fatal(err)
	}
	cash := input()
	cash.Customer = cust
	if _, bk := c.book(0, cash); bk.Warning != nil {
		t.Fatalf("cash booking warned: %+v", bk.Warning)
	}
	if err := record(c, 0, cust, pickup.EntryPayment, 1000, "10月付款"); err != nil {
		t.Fatal(err)
	}

	c.now = time.Date(2026, 11, 5, 10, 0, 0, 0, shanghai)
	y, bk := c.book(0, monthly)
	if bk.Warning != nil { // unsettled 700 + 1700 <= 5000
		t.Fatalf("warning within the deposit: %+v", bk.Warning)
	}
	z, _ := c.book(0, monthly)
	if err := step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Cancel(v, z, "sh-pudong", "不寄了")
	}); err != nil {
		t.Fatal(err)
	}
	courier := c.get(0, y).Courier
	if err := step(c, 0, courier, func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, y, courier, 3000, 3000) }); err != nil {
		t.Fatal(err)
	}
	if err := record(c, 0, cust, pickup.EntryRefund, 200, "多收退回"); err != nil {
		t.Fatal(err)
	}
	if err := record(c, 0, cust, pickup.EntryDepositRefund, 1000, "退部分押金"); err != nil {
		t.Fatal(err)
	}

	acct, err := pickup.GetAccount(c.views(0), cust)
	// 1700 (x) − 1000 + 3000 (y, actual) + 0 (z, cancelled) + 200
	if err != nil || acct.Deposit != 4000 || acct.Unsettled != 3900 {
		t.Fatalf("account %+v, %v", acct, err)
	}
	oct, err := pickup.Statement(c.views(0), cust, "2026-10")
	if err != nil {
		t.Fatal(err)
	}
	if oct.Opening != 0 || oct.Charges != 1700 || oct.Payments != 1000 || oct.Refunds != 0 || oct.Closing != 700 ||
		len(oct.Lines) != 1 || oct.Lines[0].Pickup != x || len(oct.Entries) != 2 || oct.Entries[0].Kind != pickup.EntryDeposit {
		t.Fatalf("October %+v", oct)
	}
	// The statement names the customer as the record does (the fixture's
	// customer has a name and no code).
	if oct.Name != "张三贸易" || oct.Code != "" {
		t.Fatalf("October's customer: %q %q", oct.Name, oct.Code)
	}
	nov, err := pickup.Statement(c.views(0), cust, "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if nov.Opening != 700 || nov.Charges != 3000 || nov.Payments != 0 || nov.Refunds != 200 || nov.Closing != 3900 ||
		nov.Deposit != 4000 || len(nov.Lines) != 2 || len(nov.Entries) != 2 {
		t.Fatalf("November %+v", nov)
	}
	for _, l := range nov.Lines {
		switch l.Pickup {
		case y:
			if l.Status != pickup.StatusPickedUp || l.Charge != 3000 || l.Price != 3000 || l.WeightGrams != 3000 {
				t.Fatalf("line y %+v", l)
			}
		case z:
			if l.Status != pickup.StatusCancelled || l.Charge != 0 || l.Price != 1700 {
				t.Fatalf("line z %+v", l)
			}
		default:
			t.Fatalf("line of another pickup %+v", l)
		}
	}
	if nov.Closing != acct.Unsettled {
		t.Fatalf("the last closing balance %d is not the unsettled amount %d", nov.Closing, acct.Unsettled)
	}
	// Beyond the deposit again: 3900 + 1700 > 4000.
	if _, bk := c.book(0, monthly); bk.Warning == nil || bk.Warning.Unsettled != 3900 || bk.Warning.Deposit != 4000 {
		t.Fatalf("warning %+v", bk.Warning)
	}

	// Bad input writes nothing.
	before := c.reps[0].mem.Dump()
	for _, tc := range []struct {
		customer, kind string
		amount         int64
		note, code     string
	}{
		{cust, "gift", 100, "", "bad_kind"},
		{cust, pickup.EntryPayment, 0, "", "bad_amount"},
		{cust, pickup.EntryPayment, -100, "", "bad_amount"},
		{newID(), pickup.EntryPayment, 100, "", "unknown_customer"},
		{"nobody", pickup.EntryPayment, 100, "", "bad_id"},
		{cust, pickup.EntryPayment, 100, "a\x00b", "bad_text"},
	} {
		wantErr(t, record(c, 0, tc.customer, tc.kind, tc.amount, tc.note), tc.code, nil)
	}
	if !maps.Equal(before, c.reps[0].mem.Dump()) {
		t.Fatal("refused entries changed the store")
	}
	_, err = pickup.Statement(c.views(0), cust, "2026-13")
	wantErr(t, err, "bad_month", nil)
}
