package pickup

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"branchline/crm"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// Event kinds of customer accounts (预缴金/押金, 月结). Each is a signed
// delta (rule 2), so they commute.
const (
	KindDepositPaid     = "crm.account.deposit_paid"     // deposit += amount
	KindDepositRefunded = "crm.account.deposit_refunded" // deposit -= amount
	KindPaymentReceived = "crm.account.payment_received" // unsettled -= amount
	KindRefundPaid      = "crm.account.refund_paid"      // unsettled += amount: money paid back
)

// Entry kinds, as Record and statements name them.
const (
	EntryDeposit       = "deposit"
	EntryDepositRefund = "deposit_refund"
	EntryPayment       = "payment"
	EntryRefund        = "refund"
)

// EntryKinds lists the entry kinds.
var EntryKinds = []string{EntryDeposit, EntryDepositRefund, EntryPayment, EntryRefund}

var entryEvent = map[string]string{
	EntryDeposit: KindDepositPaid, EntryDepositRefund: KindDepositRefunded,
	EntryPayment: KindPaymentReceived, EntryRefund: KindRefundPaid,
}

// Per-month counters of an account.
const (
	monthCharges  = "charges"
	monthPayments = "payments"
	monthRefunds  = "refunds"
	monthDeposits = "deposits" // net deposit movement
)

// AccountEntity is the entity of customer's account.
func AccountEntity(customer string) string { return "account/" + customer }

// Views:
//
//	pk \0 a \0 customer \0 bal                         -> counter: unsettled
//	pk \0 a \0 customer \0 dep                         -> counter: deposit
//	pk \0 a \0 customer \0 m \0 yyyyMM \0 what         -> counter: the month's charges, payments, refunds, deposits
//	pk \0 a \0 customer \0 e \0 yyyyMM \0 hlc \0 origin \0 seq -> entry
//	pk \0 a \0 customer \0 p \0 yyyyMM \0 pickup id    -> "": the month's monthly pickups
func balanceKey(c string) []byte               { return replication.Key("pk", "a", c, "bal") }
func depositKey(c string) []byte               { return replication.Key("pk", "a", c, "dep") }
func monthKey(c, month, what string) []byte    { return replication.Key("pk", "a", c, "m", month, what) }
func monthsPrefix(c string) []byte             { return replication.Prefix("pk", "a", c, "m") }
func entriesPrefix(c, month string) []byte     { return replication.Prefix("pk", "a", c, "e", month) }
func customerPickupsPrefix(c, m string) []byte { return replication.Prefix("pk", "a", c, "p", m) }
func entryKey(ev *replication.Event, c, m string) []byte {
	return replication.Key("pk", "a", c, "e", m, fmt.Sprintf("%016x", uint64(ev.HLC)), ev.Origin, strconv.FormatUint(ev.Seq, 10))
}

// Account is a monthly-settlement customer's balance. Unsettled is the
// charges of their monthly pickups that are not cancelled or failed (the
// actual price once picked up, else the booked price), less payments,
// plus refunds. Every replica holds it whole: the charges of pickups of
// other branches come with their account facts (fact.go).
type Account struct {
	Customer  string
	Deposit   int64
	Unsettled int64
}

// GetAccount reads customer's account; a customer without one has zeros.
func GetAccount(views replication.Tx, customer string) (Account, error) {
	a := Account{Customer: customer}
	if !replication.ValidULID(customer) {
		return a, fault.Invalidf("customer", "bad_id", "%q is not a customer id", customer)
	}
	var err error
	if a.Deposit, err = replication.GetCounter(views, depositKey(customer)); err != nil {
		return a, err
	}
	a.Unsettled, err = replication.GetCounter(views, balanceKey(customer))
	return a, err
}

// Record decides the event of an account entry for customer: kind is
// EntryDeposit (deposit paid), EntryDepositRefund (deposit paid back),
// EntryPayment (a payment of the unsettled amount) or EntryRefund (money
// paid back to the customer, which the account owes again); amount > 0
// fen. now's day (in its location) puts it on a month's statement.
func Record(views replication.Tx, customer, kind string, amount int64, note string, now time.Time) (replication.Draft, error) {
	ek, ok := entryEvent[kind]
	if !ok {
		return replication.Draft{}, fault.Invalidf("kind", "bad_kind", "%q is not deposit, deposit_refund, payment or refund", kind)
	}
	if amount <= 0 || amount > maxPrice {
		return replication.Draft{}, fault.Invalidf("amount_fen", "bad_amount", "must be 1 to %d fen", int64(maxPrice))
	}
	note, err := line("note", note, maxNote, false)
	if err != nil {
		return replication.Draft{}, err
	}
	if customer, err = customerRef(views, "customer", customer); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: ek, Entity: AccountEntity(customer),
		Body: &pickupv1.AccountEntry{AmountFen: amount, Day: now.Format("20060102"), Note: note}}, nil
}

func accountID(ev *replication.Event) (string, bool) {
	c, ok := strings.CutPrefix(ev.Entity, "account/")
	return c, ok && replication.ValidULID(c)
}

func checkEntry(ev *replication.Event, b *pickupv1.AccountEntry) error {
	if _, ok := accountID(ev); !ok {
		return fmt.Errorf("entity %q is not an account", ev.Entity)
	}
	switch {
	case b.GetAmountFen() <= 0 || b.GetAmountFen() > maxPrice:
		return fault.Invalidf("amount_fen", "bad_amount", "must be 1 to %d fen", int64(maxPrice))
	case !validDay(b.GetDay()):
		return fault.Invalidf("day", "bad_day", "%q is not a day", b.GetDay())
	}
	return checkReason("note", b.GetNote(), false)
}

func entryKindOf(eventKind string) string {
	for k, v := range entryEvent {
		if v == eventKind {
			return k
		}
	}
	return ""
}

func applyEntry(tx replication.Tx, ev *replication.Event, b *pickupv1.AccountEntry) error {
	c, ok := accountID(ev)
	if !ok || b.GetAmountFen() <= 0 || !validDay(b.GetDay()) {
		return nil
	}
	kind := entryKindOf(ev.Kind)
	month, a := b.GetDay()[:6], b.GetAmountFen()
	var err error
	switch kind {
	case EntryDeposit:
		_, err = replication.AddCounter(tx, depositKey(c), a)
		if err == nil {
			_, err = replication.AddCounter(tx, monthKey(c, month, monthDeposits), a)
		}
	case EntryDepositRefund:
		_, err = replication.AddCounter(tx, depositKey(c), -a)
		if err == nil {
			_, err = replication.AddCounter(tx, monthKey(c, month, monthDeposits), -a)
		}
	case EntryPayment:
		_, err = replication.AddCounter(tx, balanceKey(c), -a)
		if err == nil {
			_, err = replication.AddCounter(tx, monthKey(c, month, monthPayments), a)
		}
	case EntryRefund:
		_, err = replication.AddCounter(tx, balanceKey(c), a)
		if err == nil {
			_, err = replication.AddCounter(tx, monthKey(c, month, monthRefunds), a)
		}
	default:
		return nil
	}
	if err != nil {
		return err
	}
	return tx.Set(entryKey(ev, c, month), pack(nil, kind, strconv.FormatInt(a, 10), b.GetDay(), b.GetNote(), ev.Actor))
}

// Line is one monthly pickup on a statement.
type Line struct {
	Pickup      string
	Number      string
	Waybill     string
	Day         string // yyyyMMdd
	Destination string
	WeightGrams int64 // actual once picked up, else declared
	Status      string
	Price       int64 // actual once picked up, else booked
	Charge      int64
}

// Entry is one account movement on a statement.
type Entry struct {
	Kind   string
	Amount int64
	Day    string // yyyyMMdd
	Note   string
	Actor  string
	At     time.Time
}

// MonthlyStatement is a customer's month (月结对账单): Closing = Opening +
// Charges − Payments + Refunds; Deposit is the deposit now.
type MonthlyStatement struct {
	Customer string // id
	// Name and Code (客户编号) are the customer's, as the record holds
	// them when the statement is made: the statement is sent to the
	// customer and names them by what they know, never by the internal id.
	Name, Code string
	Month      string // yyyy-MM
	Opening    int64
	Charges    int64
	Payments   int64
	Refunds    int64
	Closing    int64
	Deposit    int64
	Lines      []Line
	Entries    []Entry
}

// Statement returns customer's statement of month ("yyyy-MM"): its
// monthly pickups (booked that month, by the branch's day) with their
// charges, its entries, and the balances before and after.
func Statement(views replication.Tx, customer, month string) (*MonthlyStatement, error) {
	if !replication.ValidULID(customer) {
		return nil, fault.Invalidf("customer", "bad_id", "%q is not a customer id", customer)
	}
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return nil, fault.Invalidf("month", "bad_month", "%q is not a month (yyyy-MM)", month)
	}
	m := t.Format("200601")
	s := &MonthlyStatement{Customer: customer, Month: month}
	switch c, err := crm.GetCustomer(views, customer); {
	case err == nil:
		s.Name, s.Code = c.Get("display_name"), c.Get("code")
	case !errors.Is(err, fault.ErrNotFound):
		return nil, err
	}
	p := monthsPrefix(customer)
	err = views.Scan(p, nil, func(k, v []byte) (bool, error) {
		mon, what, ok := strings.Cut(string(k[len(p):]), "\x00")
		if !ok {
			return false, fmt.Errorf("bad account key %q", k)
		}
		if mon > m {
			return false, nil
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return false, fmt.Errorf("account key %q: %w", k, err)
		}
		if mon < m {
			switch what {
			case monthCharges, monthRefunds:
				s.Opening += n
			case monthPayments:
				s.Opening -= n
			}
			return true, nil
		}
		switch what {
		case monthCharges:
			s.Charges = n
		case monthPayments:
			s.Payments = n
		case monthRefunds:
			s.Refunds = n
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	s.Closing = s.Opening + s.Charges - s.Payments + s.Refunds
	if s.Deposit, err = replication.GetCounter(views, depositKey(customer)); err != nil {
		return nil, err
	}
	ep := entriesPrefix(customer, m)
	err = views.Scan(ep, nil, func(k, v []byte) (bool, error) {
		ss, _, ok := unpack(v, 5)
		parts := strings.Split(string(k[len(ep):]), "\x00")
		if !ok || len(parts) != 3 {
			return false, fmt.Errorf("bad account entry %q", k)
		}
		hlc, err1 := strconv.ParseUint(parts[0], 16, 64)
		amount, err2 := strconv.ParseInt(ss[1], 10, 64)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("bad account entry %q", k)
		}
		s.Entries = append(s.Entries, Entry{Kind: ss[0], Amount: amount, Day: ss[2], Note: ss[3], Actor: ss[4],
			At: replication.HLC(hlc).Time()})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	pp := customerPickupsPrefix(customer, m)
	var ids []string
	err = views.Scan(pp, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(pp):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		// A booking the account facts count is read from them, as a
		// replica without the pickup's own events has it; one of an
		// earlier release from the pickup.
		pk, err := accountPickup(views, id)
		if err == nil && !pk.known {
			pk, err = load(views, id)
		}
		if err != nil {
			return nil, err
		}
		l := Line{Pickup: id, Number: pk.Number, Waybill: pk.Waybill, Day: pk.Day, Destination: pk.Destination,
			WeightGrams: pk.WeightGrams, Status: pk.Status, Price: pk.Price, Charge: pk.Charge}
		if pk.PickedUpBy != "" {
			l.WeightGrams, l.Price = pk.ActualWeight, pk.ActualPrice
		}
		s.Lines = append(s.Lines, l)
	}
	slices.SortFunc(s.Lines, func(a, b Line) int {
		if c := strings.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Number, b.Number)
	})
	return s, nil
}
