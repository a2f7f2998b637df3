package pickupapp

import (
	"context"
	"fmt"
	"slices"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
)

// Pickups is the use cases of pickups at one node (or a hub member, for
// the company-wide zones and tariffs).
type Pickups struct {
	Store app.Store
	IDs   *replication.IDs
	// Node is this node's id: the branch of the pickups booked here, and
	// the only branch whose pickups agents here may change.
	Node string
	// Location is the branch's business time zone, for pickup numbers'
	// days, months and report days; nil means app.DefaultTimeZone.
	Location *time.Location
	// Now is the clock; nil means time.Now.
	Now app.Clock
	// OnChange, when set, is called after every successful write with the
	// events it made: the node delivers dispatch messages and pushes live
	// updates to couriers' and agents' pages.
	OnChange func(ctx context.Context, evs []*replication.Event)
}

// Readers may read every pickup, quote and report.
var Readers = []access.Perm{access.PickupWrite, access.PickupDispatch, access.FinanceManage, access.Supervise}

// Viewers may open the pickup list: readers, and couriers (their own).
var Viewers = append(slices.Clip(Readers), access.PickupCourier)

func (s *Pickups) loc() *time.Location { return app.Zone(s.Location) }

func (s *Pickups) now() time.Time { return s.Now.Time().In(s.loc()) }

// reader checks that c may read pickups: own is the courier whose pickups
// only they may read, "" when they may read all.
func reader(c app.Caller) (own string, err error) {
	if c.Require(Readers...) == nil {
		return "", nil
	}
	if err := c.Require(access.PickupCourier); err != nil {
		return "", c.Require(Viewers...)
	}
	return c.User, nil
}

// exec runs cmd as c and tells OnChange what it wrote.
func (s *Pickups) exec(ctx context.Context, c app.Caller, cmd replication.Command) error {
	evs, err := s.Store.Exec(ctx, c.User, cmd)
	if err != nil {
		return err
	}
	if s.OnChange != nil && len(evs) > 0 {
		s.OnChange(ctx, evs)
	}
	return nil
}

// get reads the pickup by id, number or waybill, as c may see it.
func (s *Pickups) get(c app.Caller, ref string) (*pickup.Pickup, error) {
	return app.Read(s.Store, func(views replication.Tx) (*pickup.Pickup, error) {
		p, err := pickup.Find(views, ref)
		return shown(c, p), err
	})
}

// shown is p as c may see it: the sender's and the receiver's phone
// numbers masked, unless c may see numbers (phone.view) or is the courier
// p is assigned to, who calls the sender.
func shown(c app.Caller, p *pickup.Pickup) *pickup.Pickup {
	if p == nil || c.Can(access.PhoneView) || (c.Can(access.PickupCourier) && mine(p, c.User)) {
		return p
	}
	q := *p
	q.Sender.Phone, q.Receiver.Phone = crm.MaskPhone(p.Sender.Phone), crm.MaskPhone(p.Receiver.Phone)
	return &q
}

// act runs a workflow command, for a caller holding perm, on the pickup
// ref names (id, number or waybill) and returns the pickup after it.
func (s *Pickups) act(ctx context.Context, c app.Caller, perm access.Perm, ref string, cmd func(views replication.Tx, id string) ([]replication.Draft, error)) (*pickup.Pickup, error) {
	if err := c.Require(perm); err != nil {
		return nil, err
	}
	var id string
	if err := s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		p, err := pickup.Find(views, ref)
		if err != nil {
			return nil, err
		}
		id = p.ID
		return cmd(views, id)
	}); err != nil {
		return nil, err
	}
	return s.get(c, id)
}

// mine reports whether courier may see p: it is assigned to them or they
// picked it up.
func mine(p *pickup.Pickup, courier string) bool {
	return p.Courier == courier || p.PickedUpBy == courier
}

// Create books a pickup at this node: its number, zone, price and, when a
// courier of the zone is on duty, its assignment, in one transaction. It
// returns the pickup and what the booking decided (the quote, a deposit
// warning).
func (s *Pickups) Create(ctx context.Context, c app.Caller, in pickup.Input) (*pickup.Pickup, *pickup.Booking, error) {
	if err := c.Require(access.PickupWrite); err != nil {
		return nil, nil, err
	}
	now := s.now()
	id := s.IDs.New(now)
	var bk *pickup.Booking
	if err := s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		ds, b, err := pickup.Create(views, in, id, s.Node, now)
		bk = b
		return ds, err
	}); err != nil {
		return nil, nil, err
	}
	p, err := s.get(c, id)
	return p, bk, err
}

// Get reads a pickup by id, number or waybill; a courier who may only
// read their own reads only those.
func (s *Pickups) Get(_ context.Context, c app.Caller, ref string) (*pickup.Pickup, error) {
	own, err := reader(c)
	if err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) (*pickup.Pickup, error) {
		p, err := pickup.Find(views, ref)
		if err != nil {
			return nil, err
		}
		if own != "" && !mine(p, own) {
			return nil, fmt.Errorf("pickup %s is not assigned to %s: %w", p.Number, own, fault.ErrDenied)
		}
		return shown(c, p), nil
	})
}

// listWindow is how far back List looks without a range.
const listWindow = 7 * 24 * time.Hour

// Query selects pickups: of a branch ("": all), a status, a courier,
// booked in [From, To).
type Query struct {
	Branch, Status, Courier string
	// Customer keeps the pickups booked for that customer.
	Customer string
	From, To time.Time
	Size     int
	After    string
}

// List lists pickups, a page at a time, newest first. Couriers list their own; without a
// range (or a courier), the last 7 days.
func (s *Pickups) List(_ context.Context, c app.Caller, q Query) (app.Page[*pickup.Pickup], error) {
	f, err := s.filter(c, q)
	if err != nil {
		return app.Page[*pickup.Pickup]{}, err
	}
	if f.After != "" && !replication.ValidULID(f.After) {
		return app.Page[*pickup.Pickup]{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return app.Read(s.Store, func(views replication.Tx) (app.Page[*pickup.Pickup], error) {
		ps, next, err := pickup.List(views, f)
		for i, p := range ps {
			ps[i] = shown(c, p)
		}
		return app.Page[*pickup.Pickup]{Items: ps, Next: next}, err
	})
}

// filter checks q as c may ask it and makes the domain's filter of it:
// couriers list their own; without a range (or a courier), the last 7
// days.
func (s *Pickups) filter(c app.Caller, q Query) (pickup.Filter, error) {
	own, err := reader(c)
	if err != nil {
		return pickup.Filter{}, err
	}
	size, err := app.PageSize(q.Size, 50)
	if err != nil {
		return pickup.Filter{}, err
	}
	f := pickup.Filter{Branch: q.Branch, Status: q.Status, Courier: q.Courier, Customer: q.Customer, After: q.After, Limit: size, From: q.From, To: q.To}
	if own != "" {
		if f.Courier != "" && f.Courier != own {
			return pickup.Filter{}, fmt.Errorf("%s may list only their own pickups: %w", own, fault.ErrDenied)
		}
		f.Courier = own
	}
	if f.Status != "" && !slices.Contains(pickup.Statuses, f.Status) {
		return pickup.Filter{}, fault.Invalidf("status", "bad_status", "%q is not a status", f.Status)
	}
	if f.From.IsZero() && f.To.IsZero() && f.Courier == "" {
		f.From = s.now().Add(-listWindow)
	}
	return f, nil
}

// SortedQuery asks for a page of the sorted pickup list: the pickups
// Query selects (its After is not used) whose waybill, number, names or
// phones contain Text, in the order of Sort (one of pickup.SortColumns;
// "": newest first), at Cursor (see pickup.Sorted).
type SortedQuery struct {
	Query
	Text string
	keyset.Order
}

// SortedResult is a page of the sorted pickup list with the exact number
// of pickups in the list.
type SortedResult struct {
	Items      []*pickup.Pickup
	Total      int
	Prev, Next string
}

// Sorted reads a page of the pickup list in any column's order, with the
// total.
func (s *Pickups) Sorted(_ context.Context, c app.Caller, q SortedQuery) (SortedResult, error) {
	f, err := s.filter(c, q.Query)
	if err != nil {
		return SortedResult{}, err
	}
	if err := app.CheckList(q.Sort, pickup.SortColumns, q.Text); err != nil {
		return SortedResult{}, err
	}
	sq := pickup.Sorted{Filter: f, Text: q.Text, Order: q.Order, Limit: f.Limit}
	return app.Read(s.Store, func(views replication.Tx) (SortedResult, error) {
		page, err := pickup.SortedList(views, sq)
		if err != nil {
			return SortedResult{}, err
		}
		out := SortedResult{Total: page.Total, Prev: page.Prev, Next: page.Next}
		for _, p := range page.Pickups {
			out.Items = append(out.Items, shown(c, p))
		}
		return out, nil
	})
}

// Outcome is what a bulk action did to one pickup: Err says why it was
// refused.
type Outcome struct {
	Ref    string
	Pickup *pickup.Pickup
	Err    error
}

// maxBulk bounds the pickups of one bulk action: a list page.
const maxBulk = app.MaxPageSize

// each runs one use case per pickup of refs, each with its own
// permission and scope checks, and says what became of each.
func each(refs []string, call func(ref string) (*pickup.Pickup, error)) ([]Outcome, error) {
	if len(refs) > maxBulk {
		return nil, fault.Invalidf("id", "too_many", "%d pickups, at most %d at once", len(refs), maxBulk)
	}
	out := make([]Outcome, 0, len(refs))
	for _, ref := range slices.Compact(slices.Sorted(slices.Values(refs))) {
		p, err := call(ref)
		out = append(out, Outcome{Ref: ref, Pickup: p, Err: err})
	}
	return out, nil
}

// ReassignAll reassigns each pickup of refs to courier, as Reassign does.
func (s *Pickups) ReassignAll(ctx context.Context, c app.Caller, refs []string, courier string) ([]Outcome, error) {
	return each(refs, func(ref string) (*pickup.Pickup, error) { return s.Reassign(ctx, c, ref, courier) })
}

// CancelAll cancels each pickup of refs with reason, as Cancel does.
func (s *Pickups) CancelAll(ctx context.Context, c app.Caller, refs []string, reason string) ([]Outcome, error) {
	return each(refs, func(ref string) (*pickup.Pickup, error) { return s.Cancel(ctx, c, ref, reason) })
}

// Edit writes descriptive fields of a pickup of this branch.
func (s *Pickups) Edit(ctx context.Context, c app.Caller, ref string, fields map[string]string) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupWrite, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return app.One(pickup.Edit(views, id, s.Node, fields))
	})
}

// Quote prices a pickup for a customer ("": standard), destination and
// declared weight, as a booking now would.
func (s *Pickups) Quote(ctx context.Context, c app.Caller, customer, destination string, weightGrams int64) (pickup.Breakdown, error) {
	q, err := s.QuoteBooking(ctx, c, QuoteRequest{Customer: customer, Destination: destination, WeightGrams: weightGrams})
	return q.Breakdown, err
}

// QuoteRequest is a booking being entered, as far as its price goes.
type QuoteRequest struct {
	Customer    string // "": standard prices
	Destination string
	WeightGrams int64
	Payment     string // "": not chosen yet
}

// Quoted is a quote with the warning booking it now would carry.
type Quoted struct {
	pickup.Breakdown
	// Warning is set when the payment is monthly and the customer's
	// unsettled amount with this price passes their deposit.
	Warning *pickup.DepositWarning
}

// QuoteBooking prices a booking being entered, as Create would, and says
// what Create would warn of: the live quote shows the deposit warning
// before the agent saves.
func (s *Pickups) QuoteBooking(_ context.Context, c app.Caller, req QuoteRequest) (Quoted, error) {
	if err := c.Require(Readers...); err != nil {
		return Quoted{}, err
	}
	if req.Payment != "" && !slices.Contains(pickup.Payments, req.Payment) {
		return Quoted{}, fault.Invalidf("payment", "bad_payment", "%q is not monthly, cash or collect", req.Payment)
	}
	now := s.now()
	return app.Read(s.Store, func(views replication.Tx) (Quoted, error) {
		q, err := pickup.Quote(views, req.Customer, req.Destination, req.WeightGrams, now)
		if err != nil || req.Payment != pickup.PaymentMonthly || req.Customer == "" {
			return Quoted{Breakdown: q}, err
		}
		w, err := pickup.DepositCheck(views, req.Customer, q.Final)
		return Quoted{Breakdown: q, Warning: w}, err
	})
}

// Cancel cancels a pickup of this branch.
func (s *Pickups) Cancel(ctx context.Context, c app.Caller, ref, reason string) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupWrite, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return pickup.Cancel(views, id, s.Node, reason)
	})
}

// Reassign gives a pickup of this branch to another courier.
func (s *Pickups) Reassign(ctx context.Context, c app.Caller, ref, courier string) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupDispatch, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return pickup.Reassign(views, id, s.Node, courier)
	})
}

// Accept is the courier accepting a pickup assigned to them.
func (s *Pickups) Accept(ctx context.Context, c app.Caller, ref string) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupCourier, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return pickup.Accept(views, id, c.User)
	})
}

// PickUp is the courier picking a pickup up, with the actual weight and
// price (0: as booked).
func (s *Pickups) PickUp(ctx context.Context, c app.Caller, ref string, weightGrams, priceFen int64) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupCourier, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return pickup.PickUp(views, id, c.User, weightGrams, priceFen)
	})
}

// Fail is the courier reporting a pickup failed, with the reason.
func (s *Pickups) Fail(ctx context.Context, c app.Caller, ref, reason string) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupCourier, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return pickup.Fail(views, id, c.User, reason)
	})
}

// Check is the branch checking a picked-up pickup in.
func (s *Pickups) Check(ctx context.Context, c app.Caller, ref, note string) (*pickup.Pickup, error) {
	return s.act(ctx, c, access.PickupWrite, ref, func(views replication.Tx, id string) ([]replication.Draft, error) {
		return pickup.Check(views, id, s.Node, note)
	})
}

// Track is what the waybill (or pickup number) tells of a pickup's
// progress, without names, phones or addresses.
func (s *Pickups) Track(_ context.Context, c app.Caller, waybill string) (*pickup.Tracking, error) {
	if _, err := reader(c); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) (*pickup.Tracking, error) { return pickup.Track(views, waybill) })
}

// Conflicts lists the conflict records of a branch ("": this one).
func (s *Pickups) Conflicts(_ context.Context, c app.Caller, branch string) ([]pickup.Conflict, error) {
	if err := c.Require(Readers...); err != nil {
		return nil, err
	}
	if branch == "" {
		branch = s.Node
	}
	if !replication.ValidNodeID(branch) {
		return nil, fault.Invalidf("branch", "bad_node", "%q is not a node id", branch)
	}
	return app.Read(s.Store, func(views replication.Tx) ([]pickup.Conflict, error) { return pickup.Conflicts(views, branch) })
}
