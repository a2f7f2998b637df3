package api

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/crm/pickup"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	"branchline/replication"
)

// PickupService implements branchline.pickup.v1.PickupService on a node:
// pickups and dispatch, zones and couriers, rate plans, accounts and the
// branch reports.
//
// Permissions: booking, editing, cancelling and checking need
// access.PickupWrite; zones, couriers and reassignment
// access.PickupDispatch; accepting, picking up and failing
// access.PickupCourier (the domain then checks the pickup is the
// caller's); rate plans, tiers and payments access.FinanceManage, and
// accounts and statements FinanceManage or access.Supervise. Every other
// read needs one of PickupWrite, PickupDispatch, FinanceManage or
// Supervise; a caller with only PickupCourier reads their own pickups.
type PickupService struct {
	Store  Store
	Grants Grants
	IDs    *replication.IDs
	// Node is this node's id: the branch of the pickups booked here, and
	// the only branch whose pickups agents here may change.
	Node string
	// Location is the branch's time zone, for pickup numbers' days,
	// months and report days; nil means time.Local.
	Location *time.Location
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnChange, when set, is called after every successful write with the
	// events it made: the node delivers dispatch messages and pushes live
	// updates to couriers' and agents' pages.
	OnChange func(ctx context.Context, evs []*replication.Event)
}

var _ pickupv1connect.PickupServiceHandler = (*PickupService)(nil)

// pickupReaders may read every pickup, quote and report.
var pickupReaders = []access.Perm{access.PickupWrite, access.PickupDispatch, access.FinanceManage, access.Supervise}

func (s *PickupService) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

func (s *PickupService) now() time.Time {
	if s.Now != nil {
		return s.Now().In(s.loc())
	}
	return time.Now().In(s.loc())
}

// reader checks that the caller may read pickups: own is the courier
// whose pickups only they may read, "" when they may read all.
func (s *PickupService) reader(ctx context.Context) (own string, err error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err == nil {
		return "", nil
	}
	g, err := Require(ctx, s.Grants, access.PickupCourier)
	if err != nil {
		return "", err
	}
	return g.User, nil
}

// exec runs cmd as the caller and tells OnChange what it wrote.
func (s *PickupService) exec(ctx context.Context, cmd replication.Command) error {
	evs, err := s.Store.Exec(ctx, actor(ctx), cmd)
	if err != nil {
		return err
	}
	if s.OnChange != nil && len(evs) > 0 {
		s.OnChange(ctx, evs)
	}
	return nil
}

// view reads the pickup by id, number or waybill after a change.
func (s *PickupService) view(ref string) (*pickupv1.Pickup, error) {
	var out *pickupv1.Pickup
	err := s.Store.View(func(views replication.Tx) error {
		p, err := pickup.Find(views, ref)
		if err != nil {
			return err
		}
		out = pickupToProto(p, true)
		return nil
	})
	return out, err
}

// act runs a workflow command on the pickup ref names (id, number or
// waybill) and returns the pickup after it.
func (s *PickupService) act(ctx context.Context, ref string, cmd func(views replication.Tx, id string) (replication.Draft, error)) (*connect.Response[pickupv1.Pickup], error) {
	var id string
	err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		p, err := pickup.Find(views, ref)
		if err != nil {
			return nil, err
		}
		id = p.ID
		return one(cmd(views, id))
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	out, err := s.view(id)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

func partyIn(p *pickupv1.Party) pickup.Party {
	return pickup.Party{Name: p.GetName(), Phone: p.GetPhone(), Address: p.GetAddress(), Company: p.GetCompany(), Postcode: p.GetPostcode()}
}

func partyOut(p pickup.Party) *pickupv1.Party {
	return &pickupv1.Party{Name: p.Name, Phone: p.Phone, Address: p.Address, Company: p.Company, Postcode: p.Postcode}
}

func quoteToProto(b pickup.Breakdown) *pickupv1.PriceQuote {
	return &pickupv1.PriceQuote{Area: b.Area, Plan: b.Plan, BaseFen: b.Base, PlanPercent: b.PlanPercent,
		PlannedFen: b.Planned, Volume: b.Volume, DiscountPercent: b.DiscountPercent, FinalFen: b.Final}
}

func stepToProto(st pickup.Step) *pickupv1.Step {
	return &pickupv1.Step{Status: st.Status, Actor: st.Actor, Time: ts(st.At), Detail: st.Detail, Origin: st.Origin}
}

func conflictToProto(c pickup.Conflict) *pickupv1.Conflict {
	return &pickupv1.Conflict{PickupId: c.Pickup, Number: c.Number, Lost: c.Lost, LostBy: c.LostBy, LostTime: ts(c.LostAt),
		Detail: c.Detail, Won: c.Won, WonBy: c.WonBy, WonTime: ts(c.WonAt)}
}

// pickupToProto converts p, with its history when full.
func pickupToProto(p *pickup.Pickup, full bool) *pickupv1.Pickup {
	out := &pickupv1.Pickup{Id: p.ID, Number: p.Number, Waybill: p.Waybill, Sender: partyOut(p.Sender), Receiver: partyOut(p.Receiver),
		Destination: p.Destination, Route: p.Route, Goods: p.Goods, Note: p.Note, WeightGrams: p.WeightGrams, Pieces: p.Pieces,
		Payment: p.Payment, PriceFen: p.Price, Quote: quoteToProto(p.Quote), Customer: p.Customer, Zone: p.Zone, Branch: p.Branch,
		EnteredBy: p.EnteredBy, CreateTime: ts(p.Entered), Status: p.Status, Courier: p.Courier, AssignedBy: p.AssignedBy,
		AssignTime: ts(p.AssignedAt), AutoAssigned: p.AutoAssigned, NotifyTime: ts(p.NotifiedAt), MessageId: p.MessageID,
		AcceptTime: ts(p.AcceptedAt), PickedUpBy: p.PickedUpBy, PickUpTime: ts(p.PickedUpAt), ActualWeightGrams: p.ActualWeight,
		ActualPriceFen: p.ActualPrice, CheckedBy: p.CheckedBy, CheckTime: ts(p.CheckedAt), CheckNote: p.CheckNote,
		CancelledBy: p.CancelledBy, CancelTime: ts(p.CancelledAt), CancelReason: p.CancelReason, FailedBy: p.FailedBy,
		FailTime: ts(p.FailedAt), FailReason: p.FailReason, ChargeFen: p.Charge}
	for _, c := range p.Conflicts {
		out.Conflicts = append(out.Conflicts, conflictToProto(c))
	}
	if full {
		for _, st := range p.History {
			out.History = append(out.History, stepToProto(st))
		}
	}
	return out
}

// mine reports whether courier may see p: it is assigned to them or they
// picked it up.
func mine(p *pickup.Pickup, courier string) bool {
	return p.Courier == courier || p.PickedUpBy == courier
}

// CreatePickup implements PickupService.CreatePickup.
func (s *PickupService) CreatePickup(ctx context.Context, req *connect.Request[pickupv1.CreatePickupRequest]) (*connect.Response[pickupv1.CreatePickupResponse], error) {
	if _, err := Require(ctx, s.Grants, access.PickupWrite); err != nil {
		return nil, err
	}
	m := req.Msg
	in := pickup.Input{Sender: partyIn(m.GetSender()), Receiver: partyIn(m.GetReceiver()), Destination: m.GetDestination(),
		Route: m.GetRoute(), Goods: m.GetGoods(), Note: m.GetNote(), WeightGrams: m.GetWeightGrams(), Pieces: m.GetPieces(),
		Payment: m.GetPayment(), Customer: m.GetCustomer(), Zone: m.GetZone()}
	now := s.now()
	id := s.IDs.New(now)
	var bk *pickup.Booking
	err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		ds, b, err := pickup.Create(views, in, id, s.Node, now)
		bk = b
		return ds, err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	p, err := s.view(id)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &pickupv1.CreatePickupResponse{Pickup: p, Quote: quoteToProto(bk.Quote)}
	if w := bk.Warning; w != nil {
		resp.Warning = &pickupv1.DepositWarning{DepositFen: w.Deposit, UnsettledFen: w.Unsettled, PriceFen: w.Price}
	}
	return connect.NewResponse(resp), nil
}

// GetPickup implements PickupService.GetPickup.
func (s *PickupService) GetPickup(ctx context.Context, req *connect.Request[pickupv1.GetPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	own, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	var out *pickupv1.Pickup
	err = s.Store.View(func(views replication.Tx) error {
		p, err := pickup.Find(views, req.Msg.GetId())
		if err != nil {
			return err
		}
		if own != "" && !mine(p, own) {
			return fmt.Errorf("pickup %s is not assigned to %s: %w", p.Number, own, fault.ErrDenied)
		}
		out = pickupToProto(p, true)
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// listWindow is how far back ListPickups looks without a range.
const listWindow = 7 * 24 * time.Hour

// ListPickups implements PickupService.ListPickups. Couriers list their
// own pickups; without a range (or a courier), the last 7 days.
func (s *PickupService) ListPickups(ctx context.Context, req *connect.Request[pickupv1.ListPickupsRequest]) (*connect.Response[pickupv1.ListPickupsResponse], error) {
	own, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	size, err := pageSize(m.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	f := pickup.Filter{Branch: m.GetBranch(), Status: m.GetStatus(), Courier: m.GetCourier(), After: m.GetPageToken(), Limit: size}
	if own != "" {
		if f.Courier != "" && f.Courier != own {
			return nil, Error(s.Log, fmt.Errorf("%s may list only their own pickups: %w", own, fault.ErrDenied))
		}
		f.Courier = own
	}
	if f.Status != "" && !slices.Contains(pickup.Statuses, f.Status) {
		return nil, Error(s.Log, fault.Invalidf("status", "bad_status", "%q is not a status", f.Status))
	}
	if f.After != "" && !replication.ValidULID(f.After) {
		return nil, Error(s.Log, fault.Invalidf("page_token", "bad_token", "not a page token of this list"))
	}
	if m.GetFrom() != nil {
		f.From = m.GetFrom().AsTime()
	}
	if m.GetTo() != nil {
		f.To = m.GetTo().AsTime()
	}
	if f.From.IsZero() && f.To.IsZero() && f.Courier == "" {
		f.From = s.now().Add(-listWindow)
	}
	resp := &pickupv1.ListPickupsResponse{}
	err = s.Store.View(func(views replication.Tx) error {
		ps, next, err := pickup.List(views, f)
		for _, p := range ps {
			resp.Pickups = append(resp.Pickups, pickupToProto(p, false))
		}
		resp.NextPageToken = next
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// UpdatePickup implements PickupService.UpdatePickup.
func (s *PickupService) UpdatePickup(ctx context.Context, req *connect.Request[pickupv1.UpdatePickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	if _, err := Require(ctx, s.Grants, access.PickupWrite); err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.Edit(views, id, s.Node, req.Msg.GetFields())
	})
}

// Quote implements PickupService.Quote.
func (s *PickupService) Quote(ctx context.Context, req *connect.Request[pickupv1.QuoteRequest]) (*connect.Response[pickupv1.PriceQuote], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	var out pickup.Breakdown
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		out, err = pickup.Quote(views, req.Msg.GetCustomer(), req.Msg.GetDestination(), req.Msg.GetWeightGrams(), s.now())
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(quoteToProto(out)), nil
}

// CancelPickup implements PickupService.CancelPickup.
func (s *PickupService) CancelPickup(ctx context.Context, req *connect.Request[pickupv1.CancelPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	if _, err := Require(ctx, s.Grants, access.PickupWrite); err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.Cancel(views, id, s.Node, req.Msg.GetReason())
	})
}

// ReassignPickup implements PickupService.ReassignPickup.
func (s *PickupService) ReassignPickup(ctx context.Context, req *connect.Request[pickupv1.ReassignPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	if _, err := Require(ctx, s.Grants, access.PickupDispatch); err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.Reassign(views, id, s.Node, req.Msg.GetCourier())
	})
}

// AcceptPickup implements PickupService.AcceptPickup.
func (s *PickupService) AcceptPickup(ctx context.Context, req *connect.Request[pickupv1.AcceptPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	g, err := Require(ctx, s.Grants, access.PickupCourier)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.Accept(views, id, g.User)
	})
}

// PickUp implements PickupService.PickUp.
func (s *PickupService) PickUp(ctx context.Context, req *connect.Request[pickupv1.PickUpRequest]) (*connect.Response[pickupv1.Pickup], error) {
	g, err := Require(ctx, s.Grants, access.PickupCourier)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.PickUp(views, id, g.User, req.Msg.GetWeightGrams(), req.Msg.GetPriceFen())
	})
}

// FailPickup implements PickupService.FailPickup.
func (s *PickupService) FailPickup(ctx context.Context, req *connect.Request[pickupv1.FailPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	g, err := Require(ctx, s.Grants, access.PickupCourier)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.Fail(views, id, g.User, req.Msg.GetReason())
	})
}

// CheckPickup implements PickupService.CheckPickup.
func (s *PickupService) CheckPickup(ctx context.Context, req *connect.Request[pickupv1.CheckPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	if _, err := Require(ctx, s.Grants, access.PickupWrite); err != nil {
		return nil, err
	}
	return s.act(ctx, req.Msg.GetId(), func(views replication.Tx, id string) (replication.Draft, error) {
		return pickup.Check(views, id, s.Node, req.Msg.GetNote())
	})
}

// Track implements PickupService.Track.
func (s *PickupService) Track(ctx context.Context, req *connect.Request[pickupv1.TrackRequest]) (*connect.Response[pickupv1.Tracking], error) {
	if _, err := s.reader(ctx); err != nil {
		return nil, err
	}
	var out *pickupv1.Tracking
	err := s.Store.View(func(views replication.Tx) error {
		t, err := pickup.Track(views, req.Msg.GetWaybill())
		if err != nil {
			return err
		}
		out = &pickupv1.Tracking{Number: t.Number, Waybill: t.Waybill, Status: t.Status, Destination: t.Destination,
			Branch: t.Branch, CreateTime: ts(t.Entered)}
		for _, st := range t.History {
			out.History = append(out.History, stepToProto(st))
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// ListConflicts implements PickupService.ListConflicts.
func (s *PickupService) ListConflicts(ctx context.Context, req *connect.Request[pickupv1.ListConflictsRequest]) (*connect.Response[pickupv1.ListConflictsResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	branch := req.Msg.GetBranch()
	if branch == "" {
		branch = s.Node
	}
	if !replication.ValidNodeID(branch) {
		return nil, Error(s.Log, fault.Invalidf("branch", "bad_node", "%q is not a node id", branch))
	}
	resp := &pickupv1.ListConflictsResponse{}
	err := s.Store.View(func(views replication.Tx) error {
		cs, err := pickup.Conflicts(views, branch)
		for _, c := range cs {
			resp.Conflicts = append(resp.Conflicts, conflictToProto(c))
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}
