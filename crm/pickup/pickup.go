package pickup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// Event kinds of pickups. Each workflow transition is its own kind.
const (
	KindCreated   = "crm.pickup.created"
	KindFieldSet  = "crm.pickup.field_set"
	KindAssigned  = "crm.pickup.assigned"
	KindNotified  = "crm.pickup.notified"
	KindAccepted  = "crm.pickup.accepted"
	KindPickedUp  = "crm.pickup.picked_up"
	KindChecked   = "crm.pickup.checked"
	KindCancelled = "crm.pickup.cancelled"
	KindFailed    = "crm.pickup.failed"
)

// Payment methods.
const (
	PaymentMonthly = "monthly" // 月结: charged to the customer's account
	PaymentCash    = "cash"    // 现付: the sender pays the courier
	PaymentCollect = "collect" // 到付: the receiver pays on delivery
)

// Payments lists the payment methods.
var Payments = []string{PaymentMonthly, PaymentCash, PaymentCollect}

// Statuses of a pickup.
const (
	StatusNew       = "new"
	StatusAssigned  = "assigned"
	StatusNotified  = "notified" // 已通知: the dispatch message was queued to the courier
	StatusAccepted  = "accepted"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled" // 已取消
	StatusPickedUp  = "picked_up"
	StatusChecked   = "checked" // 已核对
)

// Statuses lists the statuses by precedence, lowest first: a pickup is in
// the last status whose fact holds (see the package documentation).
var Statuses = []string{StatusNew, StatusAssigned, StatusNotified, StatusAccepted, StatusFailed,
	StatusCancelled, StatusPickedUp, StatusChecked}

// StatusEdited names edits in the status history; it is not a status.
const StatusEdited = "edited"

// maxPrice bounds a computed or charged price: ten billion yuan.
const maxPrice = 1_000_000_000_000

// Party is a sender or receiver.
type Party struct {
	Name     string
	Phone    string
	Address  string
	Company  string
	Postcode string
}

// Input is what the agent enters to book a pickup (叫件).
type Input struct {
	Sender      Party // required: name, phone (blank: the customer's, see CustomerPhone), address
	Receiver    Party // optional
	Destination string
	Route       string
	Goods       string
	Note        string
	WeightGrams int64 // declared weight
	Pieces      int64 // 0 means 1
	Payment     string
	Customer    string // crm customer id, optional; required for monthly payment
	Zone        string // optional: overrides the zone found from the sender's address
}

// Step is one transition of a pickup's status history.
type Step struct {
	Status string
	Actor  string
	At     time.Time
	Origin string
	Detail string
}

// Conflict is a transition that lost to a concurrent one: kept and shown
// to the branch, never dropped.
type Conflict struct {
	Pickup string // id
	Number string
	Branch string
	Lost   string // status of the losing transition
	LostBy string
	LostAt time.Time
	Detail string
	Won    string // status of the transition that stands
	WonBy  string
	WonAt  time.Time
}

// Pickup is a pickup request with its workflow.
type Pickup struct {
	ID          string
	Number      string // P-{node}-{yyMMdd}-{n}
	Waybill     string // {node}-{yyMMdd}-{n}
	Day         string // the branch's local day of the booking, yyyyMMdd
	Sender      Party
	Receiver    Party
	Destination string
	Route       string
	Goods       string
	Note        string
	WeightGrams int64
	Pieces      int64
	Payment     string
	Price       int64 // fen, computed at entry
	Quote       Breakdown
	Customer    string
	Zone        string
	Branch      string // the node it was booked at
	EnteredBy   string
	Entered     time.Time

	Status       string
	Courier      string // the courier it is assigned to
	AssignedBy   string
	AssignedAt   time.Time
	AutoAssigned bool
	NotifiedAt   time.Time
	MessageID    string
	AcceptedAt   time.Time
	PickedUpBy   string
	PickedUpAt   time.Time
	ActualWeight int64
	ActualPrice  int64
	CheckedBy    string
	CheckedAt    time.Time
	CheckNote    string
	CancelledBy  string
	CancelledAt  time.Time
	CancelReason string
	FailedBy     string
	FailedAt     time.Time
	FailReason   string
	// Charge is what the customer's monthly account owes for the pickup:
	// the actual price once picked up, else the price; 0 when cancelled,
	// failed or not paid monthly.
	Charge int64

	History   []Step
	Conflicts []Conflict

	known       bool // the created event has been applied
	accountFact bool // its account facts count it (see fact.go)
	facts       facts
}

// Entity is the entity of pickup id.
func Entity(id string) string { return "pickup/" + id }

// Views (below the view prefix):
//
//	pk \0 c \0 id                         -> register: PickupCreated
//	pk \0 f \0 id \0 field                -> register: edited field
//	pk \0 t \0 id \0 fact [\0 courier]    -> register: actor + transition body
//	pk \0 h \0 id \0 hlc \0 origin \0 seq -> history step
//	pk \0 s \0 id                         -> PickupState (derived)
//	pk \0 num \0 number-or-waybill        -> id
//	pk \0 seq \0 origin \0 yyMMdd         -> highest n numbered
//	pk \0 day \0 yyyyMMdd(UTC) \0 id      -> ""
//	pk \0 open \0 courier \0 id           -> "" while open
//	pk \0 mine \0 courier \0 id           -> "" assigned to or picked up by courier
//	pk \0 cfl \0 branch \0 id             -> "" while the pickup has conflicts
func createdKey(id string) []byte  { return replication.Key("pk", "c", id) }
func fieldKey(id, f string) []byte { return replication.Key("pk", "f", id, f) }
func factKey(id string, parts ...string) []byte {
	return replication.Key(append([]string{"pk", "t", id}, parts...)...)
}
func historyKey(ev *replication.Event, id string) []byte {
	return replication.Key("pk", "h", id, fmt.Sprintf("%016x", uint64(ev.HLC)), ev.Origin, strconv.FormatUint(ev.Seq, 10))
}
func stateKey(id string) []byte                { return replication.Key("pk", "s", id) }
func numKey(number string) []byte              { return replication.Key("pk", "num", number) }
func seqKey(origin, day string) []byte         { return replication.Key("pk", "seq", origin, day) }
func dayKey(day, id string) []byte             { return replication.Key("pk", "day", day, id) }
func openKey(courier, id string) []byte        { return replication.Key("pk", "open", courier, id) }
func mineKey(courier, id string) []byte        { return replication.Key("pk", "mine", courier, id) }
func conflictKey(branch, id string) []byte     { return replication.Key("pk", "cfl", branch, id) }
func historyPrefix(id string) []byte           { return replication.Prefix("pk", "h", id) }
func fieldPrefix(id string) []byte             { return replication.Prefix("pk", "f", id) }
func customerPickupKey(c, m, id string) []byte { return replication.Key("pk", "a", c, "p", m, id) }

var (
	dayPrefix      = replication.Prefix("pk", "day")
	conflictPrefix = replication.Prefix("pk", "cfl")
)

// pack encodes strings, each prefixed by its length, then tail.
func pack(tail []byte, ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, tail...)
}

// unpack decodes n strings written by pack and returns them with the tail.
func unpack(b []byte, n int) ([]string, []byte, bool) {
	out := make([]string, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, nil, false
		}
		out = append(out, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return out, b, true
}

func (in Input) clean() (Input, error) {
	var err error
	out := in
	if out.Sender, err = cleanParty("sender", in.Sender, true); err != nil {
		return Input{}, err
	}
	if out.Receiver, err = cleanParty("receiver", in.Receiver, false); err != nil {
		return Input{}, err
	}
	for _, f := range []struct {
		field    string
		v        *string
		max      int
		required bool
	}{
		{"destination", &out.Destination, maxDest, true},
		{"route", &out.Route, maxDest, false},
		{"goods", &out.Goods, maxGoods, true},
		{"note", &out.Note, maxNote, false},
	} {
		if *f.v, err = line(f.field, *f.v, f.max, f.required); err != nil {
			return Input{}, err
		}
	}
	if out.WeightGrams <= 0 || out.WeightGrams > MaxWeightGrams {
		return Input{}, fault.Invalidf("weight_grams", "bad_weight", "the weight must be 1 to %d grams, not %d", MaxWeightGrams, out.WeightGrams)
	}
	if out.Pieces == 0 {
		out.Pieces = 1
	}
	if out.Pieces < 0 || out.Pieces > MaxPieces {
		return Input{}, fault.Invalidf("pieces", "bad_pieces", "must be 1 to %d", MaxPieces)
	}
	if !slices.Contains(Payments, out.Payment) {
		return Input{}, fault.Invalidf("payment", "bad_payment", "%q is not monthly, cash or collect", out.Payment)
	}
	if out.Customer != "" && !replication.ValidULID(out.Customer) {
		return Input{}, fault.Invalidf("customer", "bad_id", "%q is not a customer id", out.Customer)
	}
	if out.Payment == PaymentMonthly && out.Customer == "" {
		return Input{}, fault.Invalidf("customer", "required", "monthly settlement needs the customer's account")
	}
	if out.Zone != "" && !ValidZoneID(out.Zone) {
		return Input{}, fault.Invalidf("zone", "unknown_zone", "no zone %q", out.Zone)
	}
	return out, nil
}

func cleanParty(who string, p Party, required bool) (Party, error) {
	var err error
	if p.Name, err = line(who+".name", p.Name, maxName, required); err != nil {
		return Party{}, err
	}
	if p.Phone, err = phone(who+".phone", p.Phone, required); err != nil {
		return Party{}, err
	}
	if p.Address, err = line(who+".address", p.Address, maxAddress, required); err != nil {
		return Party{}, err
	}
	if p.Company, err = line(who+".company", p.Company, maxCompany, false); err != nil {
		return Party{}, err
	}
	if p.Postcode, err = postcode(who+".postcode", p.Postcode); err != nil {
		return Party{}, err
	}
	return p, nil
}

func partyToProto(p Party) *pickupv1.Party {
	return &pickupv1.Party{Name: p.Name, Phone: p.Phone, Address: p.Address, Company: p.Company, Postcode: p.Postcode}
}

func partyFrom(p *pickupv1.Party) Party {
	return Party{Name: p.GetName(), Phone: p.GetPhone(), Address: p.GetAddress(), Company: p.GetCompany(), Postcode: p.GetPostcode()}
}

// DepositWarning says that a monthly-account customer's unsettled amount
// with this pickup exceeds their deposit. The booking is made anyway.
type DepositWarning struct {
	Customer  string
	Deposit   int64
	Unsettled int64 // before this pickup
	Price     int64
}

// DepositCheck is the warning a monthly booking of price for customer
// would carry (nil: none): its unsettled amount with the price passes its
// deposit. Create and the live quote ask the same question, so the form
// warns before saving what the booking will warn of after.
func DepositCheck(views replication.Tx, customer string, price int64) (*DepositWarning, error) {
	acct, err := GetAccount(views, customer)
	if err != nil {
		return nil, err
	}
	if acct.Unsettled+price > acct.Deposit {
		return &DepositWarning{Customer: customer, Deposit: acct.Deposit, Unsettled: acct.Unsettled, Price: price}, nil
	}
	return nil, nil
}

// Booking is what Create decided besides its events.
type Booking struct {
	Number  string
	Waybill string
	Zone    string
	Courier string // "" when no courier of the zone is on duty
	Quote   Breakdown
	Warning *DepositWarning
}

// Numbers of pickup n of node on day (yyyyMMdd).
func numbers(node, day string, n int64) (number, waybill string) {
	waybill = fmt.Sprintf("%s-%s-%04d", node, day[2:], n)
	return "P-" + waybill, waybill
}

// Create decides the events booking pickup id (a new ULID) at node, at
// now (whose location is the branch's time zone, for the day of the
// number and the month of the volume discount): the pickup's number, its
// zone (in.Zone, else ZoneFor the sender's address), its price (Quote)
// and, when a courier of the zone is on duty, its assignment (AutoCourier)
// — all in one command, so booking and dispatch are one transaction. A
// monthly booking that takes the customer's unsettled amount past their
// deposit is made, with Booking.Warning set.
func Create(views replication.Tx, in Input, id, node string, now time.Time) ([]replication.Draft, *Booking, error) {
	if !replication.ValidULID(id) {
		return nil, nil, fault.Invalidf("id", "bad_id", "%q is not a pickup id", id)
	}
	if !replication.ValidNodeID(node) {
		return nil, nil, fault.Invalidf("node", "bad_node", "%q is not a node id", node)
	}
	if _, ok, err := replication.GetRegister(views, createdKey(id)); err != nil {
		return nil, nil, err
	} else if ok {
		return nil, nil, fmt.Errorf("pickup %s exists: %w", id, fault.ErrConflict)
	}
	if in.Customer != "" && strings.TrimSpace(in.Sender.Phone) == "" && replication.ValidULID(in.Customer) {
		// An agent who may not see the customer's numbers books without
		// one: the number comes from the record, here, never through
		// their page.
		ph, err := CustomerPhone(views, in.Customer)
		if err != nil {
			return nil, nil, err
		}
		in.Sender.Phone = ph
	}
	for _, ph := range []struct {
		field string
		v     *string
	}{{"sender.phone", &in.Sender.Phone}, {"receiver.phone", &in.Receiver.Phone}} {
		var err error
		if *ph.v, err = normalPhone(ph.field, *ph.v); err != nil {
			return nil, nil, err
		}
	}
	in, err := in.clean()
	if err != nil {
		return nil, nil, err
	}
	if in.Customer != "" {
		if in.Customer, err = customerRef(views, "customer", in.Customer); err != nil {
			return nil, nil, err
		}
	}
	zone := in.Zone
	if zone != "" {
		if _, ok, err := GetZone(views, zone); err != nil {
			return nil, nil, err
		} else if !ok {
			return nil, nil, fault.Invalidf("zone", "unknown_zone", "no zone %q", zone)
		}
	} else if zone, err = ZoneFor(views, in.Sender.Address, in.Sender.Postcode); err != nil {
		return nil, nil, err
	}
	q, err := Quote(views, in.Customer, in.Destination, in.WeightGrams, now)
	if err != nil {
		return nil, nil, err
	}
	if q.Final > maxPrice {
		return nil, nil, fault.Invalidf("weight_grams", "bad_price", "the price %d fen is beyond any tariff", q.Final)
	}
	day := now.Format("20060102")
	n, err := lastNumber(views, node, day[2:])
	if err != nil {
		return nil, nil, err
	}
	number, waybill := numbers(node, day, n+1)
	courier, err := AutoCourier(views, zone)
	if err != nil {
		return nil, nil, err
	}
	bk := &Booking{Number: number, Waybill: waybill, Zone: zone, Courier: courier, Quote: q}
	if in.Payment == PaymentMonthly {
		if bk.Warning, err = DepositCheck(views, in.Customer, q.Final); err != nil {
			return nil, nil, err
		}
	}
	body := &pickupv1.PickupCreated{Number: number, Waybill: waybill, Day: day, N: n + 1,
		Sender: partyToProto(in.Sender), Receiver: partyToProto(in.Receiver), Destination: in.Destination,
		Route: in.Route, Goods: in.Goods, WeightGrams: in.WeightGrams, Pieces: in.Pieces, Payment: in.Payment,
		Customer: in.Customer, Zone: zone, Note: in.Note, PriceFen: q.Final, Quote: breakdownToProto(q),
		CountedByAccountFact: in.Customer != ""}
	// A customer's booking counts in their figures through its account
	// fact, made just before it (see fact.go).
	var drafts []replication.Draft
	if body.CountedByAccountFact {
		drafts = append(drafts, accountFact(in.Customer, bookingFact(id, body)))
	}
	drafts = append(drafts, replication.Draft{Kind: KindCreated, Entity: Entity(id), Body: body})
	if courier != "" {
		p := &Pickup{ID: id, known: true, accountFact: body.CountedByAccountFact, Payment: in.Payment, Customer: in.Customer}
		drafts = append(drafts, transition(p, KindAssigned, &pickupv1.PickupAssigned{Courier: courier, Auto: true})...)
	}
	return drafts, bk, nil
}

// normalPhone is a phone number as typed ("139 1234-5678", "(010) 8888
// 6666") in E.164, by the normaliser crm uses for customers' numbers, so
// that a pickup's numbers compare, dial and search like theirs; blank
// stays blank. Only commands normalise: the checks of events accept the
// looser form earlier releases stored.
func normalPhone(field, v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	e, err := crm.NormalizePhone(v, crm.DefaultRegion)
	if err != nil {
		return "", fault.Invalidf(field, "bad_phone", "%q is not a phone number", v)
	}
	return e, nil
}

// CustomerPhone is the number a pickup for customer id is collected at
// when the booking gives none: its first contact's mobile, else its
// mobile, else its main phone — the number the booking form offers. It is
// "" when the customer has none, and an invalid "customer" input when
// there is no such customer.
func CustomerPhone(views replication.Tx, id string) (string, error) {
	id, err := customerRef(views, "customer", id)
	if err != nil {
		return "", err
	}
	c, err := crm.GetCustomer(views, id)
	if err != nil {
		return "", err
	}
	phone := c.Get("mobile")
	if phone == "" {
		phone = c.Get("phone")
	}
	cts, err := crm.Contacts(views, c.ID)
	if err != nil {
		return "", err
	}
	if len(cts) > 0 && cts[0].Fields["mobile"] != "" {
		phone = cts[0].Fields["mobile"]
	}
	return phone, nil
}

// lastNumber is the highest n node has numbered on day (yyMMdd).
func lastNumber(views replication.Tx, node, day string) (int64, error) {
	return replication.GetCounter(views, seqKey(node, day))
}

func pickupID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "pickup/")
	return id, ok && replication.ValidULID(id)
}

// checkCreatedBody validates a created body as Create makes it at origin.
func checkCreatedBody(origin string, b *pickupv1.PickupCreated) error {
	if !validDay(b.GetDay()) || b.GetN() <= 0 {
		return fault.Invalidf("number", "bad_number", "day %q, n %d", b.GetDay(), b.GetN())
	}
	if num, wb := numbers(origin, b.GetDay(), b.GetN()); b.GetNumber() != num || b.GetWaybill() != wb {
		return fault.Invalidf("number", "bad_number", "%q/%q is not pickup %d of %s on %s", b.GetNumber(), b.GetWaybill(), b.GetN(), origin, b.GetDay())
	}
	in := Input{Sender: partyFrom(b.GetSender()), Receiver: partyFrom(b.GetReceiver()), Destination: b.GetDestination(),
		Route: b.GetRoute(), Goods: b.GetGoods(), Note: b.GetNote(), WeightGrams: b.GetWeightGrams(), Pieces: b.GetPieces(),
		Payment: b.GetPayment(), Customer: b.GetCustomer(), Zone: b.GetZone()}
	clean, err := in.clean()
	if err != nil {
		return err
	}
	if clean != in {
		return fault.Invalidf("body", "not_canonical", "fields are not in canonical form")
	}
	if b.GetZone() == "" {
		return fault.Invalidf("zone", "required", "is required")
	}
	if b.GetPriceFen() < 0 || b.GetPriceFen() > maxPrice {
		return fault.Invalidf("price_fen", "bad_amount", "must be 0 to %d fen", int64(maxPrice))
	}
	if b.GetCountedByAccountFact() && b.GetCustomer() == "" {
		return fault.Invalidf("customer", "required", "only a customer's booking has account facts")
	}
	return nil
}

func checkCreated(ev *replication.Event, b *pickupv1.PickupCreated) error {
	if _, ok := pickupID(ev); !ok {
		return fmt.Errorf("entity %q is not a pickup", ev.Entity)
	}
	return checkCreatedBody(ev.Origin, b)
}

func applyCreated(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupCreated) error {
	id, ok := pickupID(ev)
	if !ok || checkCreatedBody(ev.Origin, b) != nil {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, createdKey(id), pack(enc, ev.Actor), replication.StampOf(ev)); err != nil {
		return err
	}
	for _, num := range []string{b.GetNumber(), b.GetWaybill()} {
		if err := claimNumber(tx, num, id); err != nil {
			return err
		}
	}
	// The counter keeps the highest n: only this origin's events carry
	// numbers of this origin, and they arrive in order, so it is their
	// count; max makes it immune to redelivery.
	sk := seqKey(ev.Origin, b.GetDay()[2:])
	cur, err := replication.GetCounter(tx, sk)
	if err != nil {
		return err
	}
	if b.GetN() > cur {
		if err := tx.Set(sk, []byte(strconv.FormatInt(b.GetN(), 10))); err != nil {
			return err
		}
	}
	// A booking of an earlier release counts in the volume here; a marked
	// one through its account fact.
	if b.GetCustomer() != "" && !b.GetCountedByAccountFact() {
		if _, err := replication.AddCounter(tx, volumeKey(b.GetCustomer(), b.GetDay()[:6]), 1); err != nil {
			return err
		}
	}
	if err := addHistory(tx, ev, id, StatusNew, b.GetNumber()); err != nil {
		return err
	}
	return recompute(tx, id)
}

// claimNumber points number at id; if two ids ever claimed one number
// (which Create never does) the lower id keeps it, in any arrival order.
func claimNumber(tx replication.Tx, number, id string) error {
	cur, err := tx.Get(numKey(number))
	switch {
	case errors.Is(err, replication.ErrNotFound):
	case err != nil:
		return err
	case string(cur) <= id:
		return nil
	}
	return tx.Set(numKey(number), []byte(id))
}

func addHistory(tx replication.Tx, ev *replication.Event, id, status, detail string) error {
	return tx.Set(historyKey(ev, id), pack(nil, status, ev.Actor, detail))
}

// Editable fields of a pickup, with their checks. Destination, weight,
// payment and customer are not editable: they make the price; a wrong one
// is cancelled and booked again.
var editable = editableFields()

func editableFields() map[string]func(string) (string, error) {
	m := map[string]func(string) (string, error){
		"route": func(v string) (string, error) { return line("route", v, maxDest, false) },
		"goods": func(v string) (string, error) { return line("goods", v, maxGoods, true) },
		"note":  func(v string) (string, error) { return line("note", v, maxNote, false) },
		"pieces": func(v string) (string, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n <= 0 || n > MaxPieces {
				return "", fault.Invalidf("pieces", "bad_pieces", "must be 1 to %d", MaxPieces)
			}
			return strconv.FormatInt(n, 10), nil
		},
	}
	for _, who := range []string{"sender", "receiver"} {
		req := who == "sender"
		m[who+"_name"] = func(v string) (string, error) { return line(who+".name", v, maxName, req) }
		m[who+"_phone"] = func(v string) (string, error) { return phone(who+".phone", v, req) }
		m[who+"_address"] = func(v string) (string, error) { return line(who+".address", v, maxAddress, req) }
		m[who+"_company"] = func(v string) (string, error) { return line(who+".company", v, maxCompany, false) }
		m[who+"_postcode"] = func(v string) (string, error) { return postcode(who+".postcode", v) }
	}
	return m
}

func canonicalEdit(fields map[string]string) ([]*eventv1.FieldValue, error) {
	if len(fields) == 0 {
		return nil, fault.Invalidf("fields", "required", "nothing to change")
	}
	out := make([]*eventv1.FieldValue, 0, len(fields))
	for name, raw := range fields {
		check, ok := editable[name]
		if !ok {
			return nil, fault.Invalidf(name, "unknown_field", "%q cannot be edited", name)
		}
		v, err := check(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, &eventv1.FieldValue{Field: name, Value: v})
	}
	slices.SortFunc(out, func(a, b *eventv1.FieldValue) int { return strings.Compare(a.Field, b.Field) })
	return out, nil
}

func checkFieldSet(ev *replication.Event, b *pickupv1.PickupFieldSet) error {
	if _, ok := pickupID(ev); !ok {
		return fmt.Errorf("entity %q is not a pickup", ev.Entity)
	}
	m := map[string]string{}
	for _, f := range b.GetFields() {
		if _, dup := m[f.GetField()]; dup {
			return fault.Invalidf(f.GetField(), "duplicate", "field written twice")
		}
		m[f.GetField()] = f.GetValue()
	}
	canon, err := canonicalEdit(m)
	if err != nil {
		return err
	}
	for _, f := range canon {
		if f.Value != m[f.Field] {
			return fault.Invalidf(f.Field, "not_canonical", "value %q is not in canonical form", m[f.Field])
		}
	}
	return nil
}

func applyFieldSet(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupFieldSet) error {
	id, ok := pickupID(ev)
	if !ok {
		return nil
	}
	var names []string
	for _, f := range b.GetFields() {
		if _, known := editable[f.GetField()]; !known {
			continue
		}
		if _, _, err := replication.SetRegister(tx, fieldKey(id, f.GetField()), []byte(f.GetValue()), replication.StampOf(ev)); err != nil {
			return err
		}
		names = append(names, f.GetField())
	}
	return addHistory(tx, ev, id, StatusEdited, strings.Join(names, ","))
}

// Get reads pickup id with its status history and conflicts.
func Get(views replication.Tx, id string) (*Pickup, error) {
	if !replication.ValidULID(id) {
		return nil, fmt.Errorf("pickup %q: %w", id, fault.ErrNotFound)
	}
	p, err := load(views, id)
	if err != nil {
		return nil, err
	}
	if !p.known {
		return nil, fmt.Errorf("pickup %s: %w", id, fault.ErrNotFound)
	}
	if err := p.loadEdits(views); err != nil {
		return nil, err
	}
	if err := p.loadHistory(views); err != nil {
		return nil, err
	}
	return p, nil
}

// ByNumber reads the pickup with pickup number or waybill number number.
func ByNumber(views replication.Tx, number string) (*Pickup, error) {
	number = strings.TrimSpace(number)
	if number == "" || len(number) > 100 || strings.ContainsRune(number, 0) {
		return nil, fmt.Errorf("pickup %q: %w", number, fault.ErrNotFound)
	}
	id, err := views.Get(numKey(number))
	if errors.Is(err, replication.ErrNotFound) {
		return nil, fmt.Errorf("pickup %s: %w", number, fault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return Get(views, string(id))
}

// Find reads a pickup by id, pickup number or waybill number.
func Find(views replication.Tx, ref string) (*Pickup, error) {
	if replication.ValidULID(ref) {
		return Get(views, ref)
	}
	return ByNumber(views, ref)
}

func (p *Pickup) loadEdits(views replication.Tx) error {
	pre := fieldPrefix(p.ID)
	return views.Scan(pre, nil, func(k, v []byte) (bool, error) {
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, err
		}
		val := string(r.Value)
		switch f := string(k[len(pre):]); f {
		case "route":
			p.Route = val
		case "goods":
			p.Goods = val
		case "note":
			p.Note = val
		case "pieces":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				p.Pieces = n
			}
		default:
			who, name, _ := strings.Cut(f, "_")
			party := &p.Sender
			if who == "receiver" {
				party = &p.Receiver
			}
			switch name {
			case "name":
				party.Name = val
			case "phone":
				party.Phone = val
			case "address":
				party.Address = val
			case "company":
				party.Company = val
			case "postcode":
				party.Postcode = val
			}
		}
		return true, nil
	})
}

func (p *Pickup) loadHistory(views replication.Tx) error {
	pre := historyPrefix(p.ID)
	return views.Scan(pre, nil, func(k, v []byte) (bool, error) {
		parts := strings.Split(string(k[len(pre):]), "\x00")
		ss, _, ok := unpack(v, 3)
		if len(parts) != 3 || !ok {
			return false, fmt.Errorf("pickup %s: bad history entry %q", p.ID, k)
		}
		hlc, err := strconv.ParseUint(parts[0], 16, 64)
		if err != nil {
			return false, fmt.Errorf("pickup %s: bad history entry %q", p.ID, k)
		}
		p.History = append(p.History, Step{Status: ss[0], Actor: ss[1], Detail: ss[2], Origin: parts[1],
			At: replication.HLC(hlc).Time()})
		return true, nil
	})
}

// openCount counts the open pickups of courier.
func openCount(views replication.Tx, courier string) (int, error) {
	n := 0
	err := views.Scan(replication.Prefix("pk", "open", courier), nil, func(_, _ []byte) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

// Filter selects pickups to list.
type Filter struct {
	Branch  string // "" for every branch
	Status  string // "" for every status
	Courier string // "" for every courier; else those assigned to or picked up by them
	// Customer, when set, keeps the pickups booked for that customer.
	Customer string
	From     time.Time // booked at or after; zero: no bound
	To       time.Time // booked before; zero: no bound
	After    string    // the last id of the previous page
	Limit    int       // 0: no limit
}

// List returns up to f.Limit pickups matching f, newest first, and the id
// to continue after ("" at the end). It reads the courier's index when
// f.Courier is set and the day index for the days of [From, To)
// otherwise.
func List(views replication.Tx, f Filter) ([]*Pickup, string, error) {
	ids, err := candidates(views, f)
	if err != nil {
		return nil, "", err
	}
	var out []*Pickup
	for _, id := range ids {
		if f.After != "" && id >= f.After {
			continue
		}
		ok, err := f.holds(views, id)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			continue
		}
		if f.Limit > 0 && len(out) == f.Limit {
			return out, out[len(out)-1].ID, nil
		}
		p, err := Get(views, id)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	return out, "", nil
}

// candidates are the ids of the pickups f may select, newest first: from
// the courier's index when f.Courier is set, else from the day index for
// the days of [From, To).
func candidates(views replication.Tx, f Filter) ([]string, error) {
	var ids []string
	var err error
	if f.Courier != "" {
		p := replication.Prefix("pk", "mine", f.Courier)
		err = views.Scan(p, nil, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k[len(p):]))
			return true, nil
		})
	} else {
		ids, err = bookedIDs(views, f.From, f.To)
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return slices.Compact(ids), nil
}

// holds reports whether pickup id passes f's branch, status and time
// bounds, from its state alone.
func (f Filter) holds(views replication.Tx, id string) (bool, error) {
	st, ok, err := readState(views, id)
	if err != nil || !ok || st.GetCreatedMs() == 0 {
		return false, err
	}
	return (f.Branch == "" || st.GetBranch() == f.Branch) &&
		(f.Status == "" || st.GetStatus() == f.Status) &&
		(f.Customer == "" || st.GetCustomer() == f.Customer) &&
		(f.From.IsZero() || st.GetCreatedMs() >= f.From.UnixMilli()) &&
		(f.To.IsZero() || st.GetCreatedMs() < f.To.UnixMilli()), nil
}

func utcDay(ms int64) string { return time.UnixMilli(ms).UTC().Format("20060102") }

// Tracking is what anyone with the waybill number may know of a pickup
// (查件): no names, phones or addresses.
type Tracking struct {
	Number      string
	Waybill     string
	Status      string
	Destination string
	Branch      string
	Entered     time.Time
	History     []Step
}

// Track returns the status history of the pickup with waybill (or pickup
// number) waybill.
func Track(views replication.Tx, waybill string) (*Tracking, error) {
	p, err := ByNumber(views, waybill)
	if err != nil {
		return nil, err
	}
	t := &Tracking{Number: p.Number, Waybill: p.Waybill, Status: p.Status, Destination: p.Destination,
		Branch: p.Branch, Entered: p.Entered}
	for _, s := range p.History {
		if s.Status == StatusEdited {
			continue
		}
		s.Detail, s.Actor = "", "" // reasons, notes and staff are internal
		t.History = append(t.History, s)
	}
	return t, nil
}
