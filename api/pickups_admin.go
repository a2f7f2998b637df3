package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/crm/pickup"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// The PickupService calls that configure dispatch and pricing, keep
// accounts and report.

func zoneToProto(z pickup.Zone) *pickupv1.Zone {
	return &pickupv1.Zone{Id: z.ID, Name: z.Name, Districts: z.Districts, Postcodes: z.Postcodes, Keywords: z.Keywords}
}

// SetZone implements PickupService.SetZone.
func (s *PickupService) SetZone(ctx context.Context, req *connect.Request[pickupv1.SetZoneRequest]) (*connect.Response[pickupv1.Zone], error) {
	if _, err := Require(ctx, s.Grants, access.PickupDispatch); err != nil {
		return nil, err
	}
	in := req.Msg.GetZone()
	z := pickup.Zone{ID: in.GetId(), Name: in.GetName(), Districts: in.GetDistricts(), Postcodes: in.GetPostcodes(), Keywords: in.GetKeywords()}
	if err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetZone(views, z))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	var out pickup.Zone
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		out, _, err = pickup.GetZone(views, z.ID)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(zoneToProto(out)), nil
}

// ListZones implements PickupService.ListZones.
func (s *PickupService) ListZones(ctx context.Context, _ *connect.Request[pickupv1.ListZonesRequest]) (*connect.Response[pickupv1.ListZonesResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	resp := &pickupv1.ListZonesResponse{}
	err := s.Store.View(func(views replication.Tx) error {
		zs, err := pickup.ListZones(views)
		for _, z := range zs {
			resp.Zones = append(resp.Zones, zoneToProto(z))
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// RemoveZone implements PickupService.RemoveZone.
func (s *PickupService) RemoveZone(ctx context.Context, req *connect.Request[pickupv1.RemoveZoneRequest]) (*connect.Response[pickupv1.RemoveZoneResponse], error) {
	if _, err := Require(ctx, s.Grants, access.PickupDispatch); err != nil {
		return nil, err
	}
	if err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(pickup.RemoveZone(views, req.Msg.GetId()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&pickupv1.RemoveZoneResponse{}), nil
}

func courierToProto(c pickup.Courier) *pickupv1.Courier {
	return &pickupv1.Courier{User: c.User, Name: c.Name, Extension: c.Extension, OnDuty: c.OnDuty, Zones: c.Zones, Open: int32(c.Open)}
}

// SetCourier implements PickupService.SetCourier.
func (s *PickupService) SetCourier(ctx context.Context, req *connect.Request[pickupv1.SetCourierRequest]) (*connect.Response[pickupv1.Courier], error) {
	if _, err := Require(ctx, s.Grants, access.PickupDispatch); err != nil {
		return nil, err
	}
	in := req.Msg.GetCourier()
	c := pickup.Courier{User: in.GetUser(), Name: in.GetName(), Extension: in.GetExtension(), OnDuty: in.GetOnDuty(), Zones: in.GetZones()}
	if err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(views, c)
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	if c.OnDuty {
		if err := s.assignWaiting(ctx, c.Zones); err != nil {
			return nil, Error(s.Log, err)
		}
	}
	var out pickup.Courier
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		out, _, err = pickup.GetCourier(views, c.User)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(courierToProto(out)), nil
}

// waitingWindow is how far back a courier coming on duty looks for
// pickups booked while nobody covered their zone.
const waitingWindow = 7 * 24 * time.Hour

// assignWaiting gives the pickups of this branch that wait for a courier
// in zones to the zones' couriers on duty, one command each, so that each
// choice sees the load the previous ones added.
func (s *PickupService) assignWaiting(ctx context.Context, zones []string) error {
	var ids []string
	err := s.Store.View(func(views replication.Tx) error {
		f := pickup.Filter{Branch: s.Node, Status: pickup.StatusNew, From: s.now().Add(-waitingWindow), Limit: MaxPageSize}
		for {
			ps, next, err := pickup.List(views, f)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if p.Courier == "" && slices.Contains(zones, p.Zone) {
					ids = append(ids, p.ID)
				}
			}
			if next == "" {
				return nil
			}
			f.After = next
		}
	})
	for _, id := range ids {
		if err != nil {
			break
		}
		err = s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
			d, ok, err := pickup.AssignWaiting(views, id, s.Node)
			if err != nil || !ok {
				return nil, err
			}
			return []replication.Draft{d}, nil
		})
	}
	return err
}

// ListCouriers implements PickupService.ListCouriers.
func (s *PickupService) ListCouriers(ctx context.Context, req *connect.Request[pickupv1.ListCouriersRequest]) (*connect.Response[pickupv1.ListCouriersResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	resp := &pickupv1.ListCouriersResponse{}
	err := s.Store.View(func(views replication.Tx) error {
		var cs []pickup.Courier
		var err error
		if z := req.Msg.GetZone(); z != "" {
			cs, err = pickup.CouriersOf(views, z)
		} else {
			cs, err = pickup.ListCouriers(views)
		}
		for _, c := range cs {
			resp.Couriers = append(resp.Couriers, courierToProto(c))
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

func planToProto(p pickup.Plan) *pickupv1.RatePlan {
	out := &pickupv1.RatePlan{Id: p.ID, Percent: p.Percent}
	for _, r := range p.Rows {
		out.Rows = append(out.Rows, &pickupv1.RateRow{Area: r.Area, FirstGrams: r.FirstGrams, FirstFen: r.FirstFen,
			StepGrams: r.StepGrams, StepFen: r.StepFen})
	}
	return out
}

func tiersToProto(ts []pickup.Tier) []*pickupv1.DiscountTier {
	var out []*pickupv1.DiscountTier
	for _, t := range ts {
		out = append(out, &pickupv1.DiscountTier{MinCount: t.MinCount, Percent: t.Percent})
	}
	return out
}

// SetRatePlan implements PickupService.SetRatePlan.
func (s *PickupService) SetRatePlan(ctx context.Context, req *connect.Request[pickupv1.SetRatePlanRequest]) (*connect.Response[pickupv1.RatePlan], error) {
	if _, err := Require(ctx, s.Grants, access.FinanceManage); err != nil {
		return nil, err
	}
	in := req.Msg.GetPlan()
	p := pickup.Plan{ID: in.GetId(), Percent: in.GetPercent()}
	for _, r := range in.GetRows() {
		p.Rows = append(p.Rows, pickup.Row{Area: r.GetArea(), FirstGrams: r.GetFirstGrams(), FirstFen: r.GetFirstFen(),
			StepGrams: r.GetStepGrams(), StepFen: r.GetStepFen()})
	}
	var id string
	if err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := pickup.SetRatePlan(views, p)
		id = d.Entity
		return one(d, err)
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	out := pickup.Plan{ID: strings.TrimPrefix(id, "rateplan/")}
	if err := s.Store.View(func(views replication.Tx) error {
		got, ok, err := pickup.GetRatePlan(views, out.ID)
		if ok {
			out = got
		}
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(planToProto(out)), nil
}

// GetRatePlans implements PickupService.GetRatePlans.
func (s *PickupService) GetRatePlans(ctx context.Context, req *connect.Request[pickupv1.GetRatePlansRequest]) (*connect.Response[pickupv1.GetRatePlansResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	resp := &pickupv1.GetRatePlansResponse{}
	err := s.Store.View(func(views replication.Tx) error {
		var plans []pickup.Plan
		if c := req.Msg.GetCustomer(); c != "" {
			if !replication.ValidULID(c) {
				return fault.Invalidf("customer", "bad_id", "%q is not a customer id", c)
			}
			for _, id := range []string{pickup.StandardPlan, c} {
				p, ok, err := pickup.GetRatePlan(views, id)
				if err != nil {
					return err
				}
				if ok {
					plans = append(plans, p)
				}
			}
		} else {
			var err error
			if plans, err = pickup.ListRatePlans(views); err != nil {
				return err
			}
		}
		if len(plans) == 0 || plans[0].ID != pickup.StandardPlan {
			// No tariff set yet: the default one prices.
			plans = append([]pickup.Plan{{ID: pickup.StandardPlan, Rows: pickup.DefaultTariff}}, plans...)
		}
		for _, p := range plans {
			resp.Plans = append(resp.Plans, planToProto(p))
		}
		tiers, err := pickup.Tiers(views)
		resp.Tiers = tiersToProto(tiers)
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// SetDiscountTiers implements PickupService.SetDiscountTiers.
func (s *PickupService) SetDiscountTiers(ctx context.Context, req *connect.Request[pickupv1.SetDiscountTiersRequest]) (*connect.Response[pickupv1.SetDiscountTiersResponse], error) {
	if _, err := Require(ctx, s.Grants, access.FinanceManage); err != nil {
		return nil, err
	}
	var tiers []pickup.Tier
	for _, t := range req.Msg.GetTiers() {
		tiers = append(tiers, pickup.Tier{MinCount: t.GetMinCount(), Percent: t.GetPercent()})
	}
	if err := s.exec(ctx, func(replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetTiers(tiers))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &pickupv1.SetDiscountTiersResponse{}
	if err := s.Store.View(func(views replication.Tx) error {
		got, err := pickup.Tiers(views)
		resp.Tiers = tiersToProto(got)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

func (s *PickupService) account(customer string) (*pickupv1.Account, error) {
	var out *pickupv1.Account
	err := s.Store.View(func(views replication.Tx) error {
		a, err := pickup.GetAccount(views, customer)
		out = &pickupv1.Account{Customer: a.Customer, DepositFen: a.Deposit, UnsettledFen: a.Unsettled}
		return err
	})
	return out, err
}

// RecordPayment implements PickupService.RecordPayment.
func (s *PickupService) RecordPayment(ctx context.Context, req *connect.Request[pickupv1.RecordPaymentRequest]) (*connect.Response[pickupv1.Account], error) {
	if _, err := Require(ctx, s.Grants, access.FinanceManage); err != nil {
		return nil, err
	}
	m := req.Msg
	var customer string
	if err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := pickup.Record(views, m.GetCustomer(), m.GetKind(), m.GetAmountFen(), m.GetNote(), s.now())
		customer = d.Entity
		return one(d, err)
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	out, err := s.account(strings.TrimPrefix(customer, "account/"))
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// GetAccount implements PickupService.GetAccount.
func (s *PickupService) GetAccount(ctx context.Context, req *connect.Request[pickupv1.GetAccountRequest]) (*connect.Response[pickupv1.Account], error) {
	if _, err := RequireAny(ctx, s.Grants, access.FinanceManage, access.Supervise); err != nil {
		return nil, err
	}
	out, err := s.account(req.Msg.GetCustomer())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// GetStatement implements PickupService.GetStatement.
func (s *PickupService) GetStatement(ctx context.Context, req *connect.Request[pickupv1.GetStatementRequest]) (*connect.Response[pickupv1.Statement], error) {
	if _, err := RequireAny(ctx, s.Grants, access.FinanceManage, access.Supervise); err != nil {
		return nil, err
	}
	month := req.Msg.GetMonth()
	if month == "" {
		month = s.now().Format("2006-01")
	}
	var out *pickupv1.Statement
	err := s.Store.View(func(views replication.Tx) error {
		st, err := pickup.Statement(views, req.Msg.GetCustomer(), month)
		if err != nil {
			return err
		}
		out = &pickupv1.Statement{Customer: st.Customer, Month: st.Month, OpeningFen: st.Opening, ChargesFen: st.Charges,
			PaymentsFen: st.Payments, RefundsFen: st.Refunds, ClosingFen: st.Closing, DepositFen: st.Deposit}
		for _, l := range st.Lines {
			out.Lines = append(out.Lines, &pickupv1.StatementLine{PickupId: l.Pickup, Number: l.Number, Waybill: l.Waybill,
				Day: l.Day, Destination: l.Destination, WeightGrams: l.WeightGrams, Status: l.Status, PriceFen: l.Price, ChargeFen: l.Charge})
		}
		for _, e := range st.Entries {
			out.Entries = append(out.Entries, &pickupv1.StatementEntry{Kind: e.Kind, AmountFen: e.Amount, Day: e.Day,
				Note: e.Note, Actor: e.Actor, Time: ts(e.At)})
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// branch is the branch a report asks for: this node by default.
func (s *PickupService) branch(b string) (string, error) {
	if b == "" {
		return s.Node, nil
	}
	if !replication.ValidNodeID(b) {
		return "", fault.Invalidf("branch", "bad_node", "%q is not a node id", b)
	}
	return b, nil
}

// period is [from, to) of a request, this month by default.
func (s *PickupService) period(from, to *timestamppb.Timestamp) (time.Time, time.Time, error) {
	now := s.now()
	f := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, s.loc())
	t := f.AddDate(0, 1, 0)
	if from != nil {
		f = from.AsTime()
	}
	if to != nil {
		t = to.AsTime()
	}
	if !t.After(f) {
		return f, t, fault.Invalidf("to", "bad_range", "the end must be after the start")
	}
	return f, t, nil
}

// CourierDay implements PickupService.CourierDay.
func (s *PickupService) CourierDay(ctx context.Context, req *connect.Request[pickupv1.CourierDayRequest]) (*connect.Response[pickupv1.CourierDayResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	branch, err := s.branch(req.Msg.GetBranch())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	day := s.now()
	if d := req.Msg.GetDay(); d != "" {
		if day, err = time.ParseInLocation("2006-01-02", d, s.loc()); err != nil {
			return nil, Error(s.Log, fault.Invalidf("day", "bad_day", "%q is not a day (YYYY-MM-DD)", d))
		}
	}
	resp := &pickupv1.CourierDayResponse{Day: day.Format("2006-01-02")}
	err = s.Store.View(func(views replication.Tx) error {
		stats, err := pickup.CourierDay(views, branch, day)
		for _, c := range stats {
			resp.Couriers = append(resp.Couriers, &pickupv1.CourierStat{Courier: c.Courier, Name: c.Name, Assigned: c.Assigned,
				PickedUp: c.PickedUp, Failed: c.Failed, RevenueFen: c.Revenue})
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// CustomerVolume implements PickupService.CustomerVolume.
func (s *PickupService) CustomerVolume(ctx context.Context, req *connect.Request[pickupv1.CustomerVolumeRequest]) (*connect.Response[pickupv1.CustomerVolumeResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	m := req.Msg
	branch, err := s.branch(m.GetBranch())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	from, to, err := s.period(m.GetFrom(), m.GetTo())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &pickupv1.CustomerVolumeResponse{}
	err = s.Store.View(func(views replication.Tx) error {
		stats, err := pickup.CustomerVolume(views, branch, from, to)
		for _, c := range stats {
			resp.Customers = append(resp.Customers, &pickupv1.CustomerStat{Customer: c.Customer, Pickups: c.Pickups,
				PickedUp: c.PickedUp, Cancelled: c.Cancelled, RevenueFen: c.Revenue})
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

func countsToProto(cs []pickup.Count) []*pickupv1.Count {
	var out []*pickupv1.Count
	for _, c := range cs {
		out = append(out, &pickupv1.Count{Key: c.Key, Pickups: c.Pickups, PickedUp: c.PickedUp, RevenueFen: c.Revenue})
	}
	return out
}

// GetSummary implements PickupService.GetSummary: every branch's
// pickups as this replica holds them.
func (s *PickupService) GetSummary(ctx context.Context, req *connect.Request[pickupv1.GetSummaryRequest]) (*connect.Response[pickupv1.Summary], error) {
	if _, err := RequireAny(ctx, s.Grants, pickupReaders...); err != nil {
		return nil, err
	}
	m := req.Msg
	from, to, err := s.period(m.GetFrom(), m.GetTo())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var out *pickupv1.Summary
	err = s.Store.View(func(views replication.Tx) error {
		t, err := pickup.Summary(views, from, to, s.loc())
		if err != nil {
			return err
		}
		out = &pickupv1.Summary{ByBranch: countsToProto(t.ByBranch), ByCourier: countsToProto(t.ByCourier),
			ByStatus: countsToProto(t.ByStatus), ByDay: countsToProto(t.ByDay)}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}
