package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// The PickupService calls that configure dispatch and pricing, keep
// accounts and report.

func zonePB(z pickup.Zone) *pickupv1.Zone {
	return &pickupv1.Zone{Id: z.ID, Name: z.Name, Districts: z.Districts, Postcodes: z.Postcodes, Keywords: z.Keywords}
}

// SetZone implements PickupService.SetZone.
func (s *PickupService) SetZone(ctx context.Context, req *connect.Request[pickupv1.SetZoneRequest]) (*connect.Response[pickupv1.Zone], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.SetZoneRequest) (*pickupv1.Zone, error) {
		in := m.GetZone()
		return pb(zonePB)(s.App.SetZone(ctx, c, pickup.Zone{ID: in.GetId(), Name: in.GetName(), Districts: in.GetDistricts(),
			Postcodes: in.GetPostcodes(), Keywords: in.GetKeywords()}))
	})
}

// ListZones implements PickupService.ListZones.
func (s *PickupService) ListZones(ctx context.Context, req *connect.Request[pickupv1.ListZonesRequest]) (*connect.Response[pickupv1.ListZonesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *pickupv1.ListZonesRequest) (*pickupv1.ListZonesResponse, error) {
		return pb(func(zs []pickup.Zone) *pickupv1.ListZonesResponse {
			return &pickupv1.ListZonesResponse{Zones: each(zs, zonePB)}
		})(s.App.Zones(ctx, c))
	})
}

// RemoveZone implements PickupService.RemoveZone.
func (s *PickupService) RemoveZone(ctx context.Context, req *connect.Request[pickupv1.RemoveZoneRequest]) (*connect.Response[pickupv1.RemoveZoneResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.RemoveZoneRequest) (*pickupv1.RemoveZoneResponse, error) {
		return &pickupv1.RemoveZoneResponse{}, s.App.RemoveZone(ctx, c, m.GetId())
	})
}

func courierPB(c pickup.Courier) *pickupv1.Courier {
	return &pickupv1.Courier{User: c.User, Name: c.Name, Extension: c.Extension, OnDuty: c.OnDuty, Zones: c.Zones,
		Branches: c.Branches, Open: int32(c.Open)}
}

// SetCourier implements PickupService.SetCourier.
func (s *PickupService) SetCourier(ctx context.Context, req *connect.Request[pickupv1.SetCourierRequest]) (*connect.Response[pickupv1.Courier], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.SetCourierRequest) (*pickupv1.Courier, error) {
		in := m.GetCourier()
		return pb(courierPB)(s.App.SetCourier(ctx, c, pickup.Courier{User: in.GetUser(), Name: in.GetName(), Extension: in.GetExtension(),
			OnDuty: in.GetOnDuty(), Zones: in.GetZones(), Branches: in.GetBranches()}))
	})
}

// ListCouriers implements PickupService.ListCouriers.
func (s *PickupService) ListCouriers(ctx context.Context, req *connect.Request[pickupv1.ListCouriersRequest]) (*connect.Response[pickupv1.ListCouriersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.ListCouriersRequest) (*pickupv1.ListCouriersResponse, error) {
		return pb(func(cs []pickup.Courier) *pickupv1.ListCouriersResponse {
			return &pickupv1.ListCouriersResponse{Couriers: each(cs, courierPB)}
		})(s.App.Couriers(ctx, c, m.GetZone()))
	})
}

func planPB(p pickup.Plan) *pickupv1.RatePlan {
	out := &pickupv1.RatePlan{Id: p.ID, Percent: p.Percent}
	for _, r := range p.Rows {
		out.Rows = append(out.Rows, &pickupv1.RateRow{Area: r.Area, FirstGrams: r.FirstGrams, FirstFen: r.FirstFen,
			StepGrams: r.StepGrams, StepFen: r.StepFen})
	}
	return out
}

func tiersPB(ts []pickup.Tier) []*pickupv1.DiscountTier {
	var out []*pickupv1.DiscountTier
	for _, t := range ts {
		out = append(out, &pickupv1.DiscountTier{MinCount: t.MinCount, Percent: t.Percent})
	}
	return out
}

// SetRatePlan implements PickupService.SetRatePlan.
func (s *PickupService) SetRatePlan(ctx context.Context, req *connect.Request[pickupv1.SetRatePlanRequest]) (*connect.Response[pickupv1.RatePlan], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.SetRatePlanRequest) (*pickupv1.RatePlan, error) {
		in := m.GetPlan()
		p := pickup.Plan{ID: in.GetId(), Percent: in.GetPercent()}
		for _, r := range in.GetRows() {
			p.Rows = append(p.Rows, pickup.Row{Area: r.GetArea(), FirstGrams: r.GetFirstGrams(), FirstFen: r.GetFirstFen(),
				StepGrams: r.GetStepGrams(), StepFen: r.GetStepFen()})
		}
		return pb(planPB)(s.App.SetRatePlan(ctx, c, p))
	})
}

// GetRatePlans implements PickupService.GetRatePlans.
func (s *PickupService) GetRatePlans(ctx context.Context, req *connect.Request[pickupv1.GetRatePlansRequest]) (*connect.Response[pickupv1.GetRatePlansResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.GetRatePlansRequest) (*pickupv1.GetRatePlansResponse, error) {
		return pb(func(t pickupapp.Tariffs) *pickupv1.GetRatePlansResponse {
			return &pickupv1.GetRatePlansResponse{Plans: each(t.Plans, planPB), Tiers: tiersPB(t.Tiers)}
		})(s.App.RatePlans(ctx, c, m.GetCustomer()))
	})
}

// SetDiscountTiers implements PickupService.SetDiscountTiers.
func (s *PickupService) SetDiscountTiers(ctx context.Context, req *connect.Request[pickupv1.SetDiscountTiersRequest]) (*connect.Response[pickupv1.SetDiscountTiersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.SetDiscountTiersRequest) (*pickupv1.SetDiscountTiersResponse, error) {
		var tiers []pickup.Tier
		for _, t := range m.GetTiers() {
			tiers = append(tiers, pickup.Tier{MinCount: t.GetMinCount(), Percent: t.GetPercent()})
		}
		return pb(func(ts []pickup.Tier) *pickupv1.SetDiscountTiersResponse {
			return &pickupv1.SetDiscountTiersResponse{Tiers: tiersPB(ts)}
		})(s.App.SetTiers(ctx, c, tiers))
	})
}

func accountPB(a pickup.Account) *pickupv1.Account {
	return &pickupv1.Account{Customer: a.Customer, DepositFen: a.Deposit, UnsettledFen: a.Unsettled}
}

// RecordPayment implements PickupService.RecordPayment.
func (s *PickupService) RecordPayment(ctx context.Context, req *connect.Request[pickupv1.RecordPaymentRequest]) (*connect.Response[pickupv1.Account], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.RecordPaymentRequest) (*pickupv1.Account, error) {
		return pb(accountPB)(s.App.RecordPayment(ctx, c, pickupapp.Payment{Customer: m.GetCustomer(), Kind: m.GetKind(),
			Amount: m.GetAmountFen(), Note: m.GetNote()}))
	})
}

// GetAccount implements PickupService.GetAccount.
func (s *PickupService) GetAccount(ctx context.Context, req *connect.Request[pickupv1.GetAccountRequest]) (*connect.Response[pickupv1.Account], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.GetAccountRequest) (*pickupv1.Account, error) {
		return pb(accountPB)(s.App.Account(ctx, c, m.GetCustomer()))
	})
}

// GetStatement implements PickupService.GetStatement.
func (s *PickupService) GetStatement(ctx context.Context, req *connect.Request[pickupv1.GetStatementRequest]) (*connect.Response[pickupv1.Statement], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.GetStatementRequest) (*pickupv1.Statement, error) {
		return pb(func(st *pickup.MonthlyStatement) *pickupv1.Statement {
			out := &pickupv1.Statement{Customer: st.Customer, Month: st.Month, OpeningFen: st.Opening, ChargesFen: st.Charges,
				PaymentsFen: st.Payments, RefundsFen: st.Refunds, ClosingFen: st.Closing, DepositFen: st.Deposit}
			for _, l := range st.Lines {
				out.Lines = append(out.Lines, &pickupv1.StatementLine{PickupId: l.Pickup, Number: l.Number, Waybill: l.Waybill,
					Day: l.Day, Destination: l.Destination, WeightGrams: l.WeightGrams, Status: l.Status, PriceFen: l.Price, ChargeFen: l.Charge})
			}
			for _, e := range st.Entries {
				out.Entries = append(out.Entries, &pickupv1.StatementEntry{Kind: e.Kind, AmountFen: e.Amount, Day: e.Day,
					Note: e.Note, Actor: e.Actor, Time: ts(e.At)})
			}
			return out
		})(s.App.Statement(ctx, c, m.GetCustomer(), m.GetMonth()))
	})
}

// CourierDay implements PickupService.CourierDay.
func (s *PickupService) CourierDay(ctx context.Context, req *connect.Request[pickupv1.CourierDayRequest]) (*connect.Response[pickupv1.CourierDayResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.CourierDayRequest) (*pickupv1.CourierDayResponse, error) {
		stats, day, err := s.App.CourierDay(ctx, c, m.GetBranch(), m.GetDay())
		if err != nil {
			return nil, err
		}
		out := &pickupv1.CourierDayResponse{Day: day.Format("2006-01-02")}
		for _, x := range stats {
			out.Couriers = append(out.Couriers, &pickupv1.CourierStat{Courier: x.Courier, Name: x.Name, Assigned: x.Assigned,
				PickedUp: x.PickedUp, Failed: x.Failed, RevenueFen: x.Revenue})
		}
		return out, nil
	})
}

// CustomerVolume implements PickupService.CustomerVolume.
func (s *PickupService) CustomerVolume(ctx context.Context, req *connect.Request[pickupv1.CustomerVolumeRequest]) (*connect.Response[pickupv1.CustomerVolumeResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.CustomerVolumeRequest) (*pickupv1.CustomerVolumeResponse, error) {
		return pb(func(stats []pickup.CustomerStat) *pickupv1.CustomerVolumeResponse {
			out := &pickupv1.CustomerVolumeResponse{}
			for _, x := range stats {
				out.Customers = append(out.Customers, &pickupv1.CustomerStat{Customer: x.Customer, Pickups: x.Pickups,
					PickedUp: x.PickedUp, Cancelled: x.Cancelled, RevenueFen: x.Revenue})
			}
			return out
		})(s.App.CustomerVolume(ctx, c, m.GetBranch(), timeOf(m.GetFrom()), timeOf(m.GetTo())))
	})
}

func countsPB(cs []pickup.Count) []*pickupv1.Count {
	var out []*pickupv1.Count
	for _, x := range cs {
		out = append(out, &pickupv1.Count{Key: x.Key, Pickups: x.Pickups, PickedUp: x.PickedUp, RevenueFen: x.Revenue})
	}
	return out
}

// GetSummary implements PickupService.GetSummary: every branch's
// pickups as this replica holds them.
func (s *PickupService) GetSummary(ctx context.Context, req *connect.Request[pickupv1.GetSummaryRequest]) (*connect.Response[pickupv1.Summary], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *pickupv1.GetSummaryRequest) (*pickupv1.Summary, error) {
		return pb(func(t *pickup.Totals) *pickupv1.Summary {
			return &pickupv1.Summary{ByBranch: countsPB(t.ByBranch), ByCourier: countsPB(t.ByCourier),
				ByStatus: countsPB(t.ByStatus), ByDay: countsPB(t.ByDay)}
		})(s.App.Summary(ctx, c, timeOf(m.GetFrom()), timeOf(m.GetTo())))
	})
}
