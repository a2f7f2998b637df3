package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
)

// PickupService implements branchline.pickup.v1.PickupService on a node
// over the pickup use cases (pickupapp.Pickups): pickups and dispatch,
// zones and couriers, rate plans, accounts and the branch reports.
type PickupService struct {
	App    *pickupapp.Pickups
	Grants app.Grants
	Log    *slog.Logger
}

var _ pickupv1connect.PickupServiceHandler = (*PickupService)(nil)

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

// pickupPB is a pickup with its history.
func pickupPB(p *pickup.Pickup) *pickupv1.Pickup { return pickupToProto(p, true) }

// CreatePickup implements PickupService.CreatePickup.
func (s *PickupService) CreatePickup(ctx context.Context, req *connect.Request[pickupv1.CreatePickupRequest]) (*connect.Response[pickupv1.CreatePickupResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.CreatePickupRequest) (*pickupv1.CreatePickupResponse, error) {
		in := pickup.Input{Sender: partyIn(m.GetSender()), Receiver: partyIn(m.GetReceiver()), Destination: m.GetDestination(),
			Route: m.GetRoute(), Goods: m.GetGoods(), Note: m.GetNote(), WeightGrams: m.GetWeightGrams(), Pieces: m.GetPieces(),
			Payment: m.GetPayment(), Customer: m.GetCustomer(), Zone: m.GetZone()}
		p, bk, err := s.App.Create(ctx, c, in)
		if err != nil {
			return nil, err
		}
		out := &pickupv1.CreatePickupResponse{Pickup: pickupPB(p), Quote: quoteToProto(bk.Quote)}
		if w := bk.Warning; w != nil {
			out.Warning = &pickupv1.DepositWarning{DepositFen: w.Deposit, UnsettledFen: w.Unsettled, PriceFen: w.Price}
		}
		return out, nil
	})
}

// GetPickup implements PickupService.GetPickup.
func (s *PickupService) GetPickup(ctx context.Context, req *connect.Request[pickupv1.GetPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.GetPickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Get(ctx, c, m.GetId()))
	})
}

// ListPickups implements PickupService.ListPickups.
func (s *PickupService) ListPickups(ctx context.Context, req *connect.Request[pickupv1.ListPickupsRequest]) (*connect.Response[pickupv1.ListPickupsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.ListPickupsRequest) (*pickupv1.ListPickupsResponse, error) {
		return pb(func(p app.Page[*pickup.Pickup]) *pickupv1.ListPickupsResponse {
			out := &pickupv1.ListPickupsResponse{NextPageToken: p.Next}
			for _, x := range p.Items {
				out.Pickups = append(out.Pickups, pickupToProto(x, false))
			}
			return out
		})(s.App.List(ctx, c, pickupapp.Query{Branch: m.GetBranch(), Status: m.GetStatus(), Courier: m.GetCourier(),
			From: timeOf(m.GetFrom()), To: timeOf(m.GetTo()), Size: int(m.GetPageSize()), After: m.GetPageToken()}))
	})
}

// UpdatePickup implements PickupService.UpdatePickup.
func (s *PickupService) UpdatePickup(ctx context.Context, req *connect.Request[pickupv1.UpdatePickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.UpdatePickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Edit(ctx, c, m.GetId(), m.GetFields()))
	})
}

// Quote implements PickupService.Quote.
func (s *PickupService) Quote(ctx context.Context, req *connect.Request[pickupv1.QuoteRequest]) (*connect.Response[pickupv1.PriceQuote], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.QuoteRequest) (*pickupv1.PriceQuote, error) {
		return pb(quoteToProto)(s.App.Quote(ctx, c, m.GetCustomer(), m.GetDestination(), m.GetWeightGrams()))
	})
}

// CancelPickup implements PickupService.CancelPickup.
func (s *PickupService) CancelPickup(ctx context.Context, req *connect.Request[pickupv1.CancelPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.CancelPickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Cancel(ctx, c, m.GetId(), m.GetReason()))
	})
}

// ReassignPickup implements PickupService.ReassignPickup.
func (s *PickupService) ReassignPickup(ctx context.Context, req *connect.Request[pickupv1.ReassignPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.ReassignPickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Reassign(ctx, c, m.GetId(), m.GetCourier()))
	})
}

// AcceptPickup implements PickupService.AcceptPickup.
func (s *PickupService) AcceptPickup(ctx context.Context, req *connect.Request[pickupv1.AcceptPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.AcceptPickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Accept(ctx, c, m.GetId()))
	})
}

// PickUp implements PickupService.PickUp.
func (s *PickupService) PickUp(ctx context.Context, req *connect.Request[pickupv1.PickUpRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.PickUpRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.PickUp(ctx, c, m.GetId(), m.GetWeightGrams(), m.GetPriceFen()))
	})
}

// FailPickup implements PickupService.FailPickup.
func (s *PickupService) FailPickup(ctx context.Context, req *connect.Request[pickupv1.FailPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.FailPickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Fail(ctx, c, m.GetId(), m.GetReason()))
	})
}

// CheckPickup implements PickupService.CheckPickup.
func (s *PickupService) CheckPickup(ctx context.Context, req *connect.Request[pickupv1.CheckPickupRequest]) (*connect.Response[pickupv1.Pickup], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.CheckPickupRequest) (*pickupv1.Pickup, error) {
		return pb(pickupPB)(s.App.Check(ctx, c, m.GetId(), m.GetNote()))
	})
}

// Track implements PickupService.Track.
func (s *PickupService) Track(ctx context.Context, req *connect.Request[pickupv1.TrackRequest]) (*connect.Response[pickupv1.Tracking], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.TrackRequest) (*pickupv1.Tracking, error) {
		return pb(func(t *pickup.Tracking) *pickupv1.Tracking {
			out := &pickupv1.Tracking{Number: t.Number, Waybill: t.Waybill, Status: t.Status, Destination: t.Destination,
				Branch: t.Branch, CreateTime: ts(t.Entered)}
			for _, st := range t.History {
				out.History = append(out.History, stepToProto(st))
			}
			return out
		})(s.App.Track(ctx, c, m.GetWaybill()))
	})
}

// ListConflicts implements PickupService.ListConflicts.
func (s *PickupService) ListConflicts(ctx context.Context, req *connect.Request[pickupv1.ListConflictsRequest]) (*connect.Response[pickupv1.ListConflictsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.ListConflictsRequest) (*pickupv1.ListConflictsResponse, error) {
		return pb(func(cs []pickup.Conflict) *pickupv1.ListConflictsResponse {
			return &pickupv1.ListConflictsResponse{Conflicts: each(cs, conflictToProto)}
		})(s.App.Conflicts(ctx, c, m.GetBranch()))
	})
}
