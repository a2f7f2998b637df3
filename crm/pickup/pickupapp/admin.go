package pickupapp

import (
	"context"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/replication"
)

// Zones, couriers, rate plans, accounts and reports.

// SetZone adds or changes a zone.
func (s *Pickups) SetZone(ctx context.Context, c app.Caller, z pickup.Zone) (pickup.Zone, error) {
	if err := c.Require(access.PickupDispatch); err != nil {
		return pickup.Zone{}, err
	}
	if err := s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(pickup.SetZone(views, z))
	}); err != nil {
		return pickup.Zone{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (pickup.Zone, error) {
		out, _, err := pickup.GetZone(views, z.ID)
		return out, err
	})
}

// Zones lists the zones.
func (s *Pickups) Zones(_ context.Context, c app.Caller) ([]pickup.Zone, error) {
	if err := c.Require(Readers...); err != nil {
		return nil, err
	}
	return app.Read(s.Store, pickup.ListZones)
}

// RemoveZone removes a zone.
func (s *Pickups) RemoveZone(ctx context.Context, c app.Caller, id string) error {
	if err := c.Require(access.PickupDispatch); err != nil {
		return err
	}
	return s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(pickup.RemoveZone(views, id))
	})
}

// SetCourier adds or changes a courier. A courier coming on duty takes
// the pickups of this branch that wait for a courier in their zones.
func (s *Pickups) SetCourier(ctx context.Context, c app.Caller, in pickup.Courier) (pickup.Courier, error) {
	if err := c.Require(access.PickupDispatch); err != nil {
		return pickup.Courier{}, err
	}
	if err := s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(views, in)
	}); err != nil {
		return pickup.Courier{}, err
	}
	if in.OnDuty {
		if err := s.assignWaiting(ctx, c, in.Zones); err != nil {
			return pickup.Courier{}, err
		}
	}
	return app.Read(s.Store, func(views replication.Tx) (pickup.Courier, error) {
		out, _, err := pickup.GetCourier(views, in.User)
		return out, err
	})
}

// waitingWindow is how far back a courier coming on duty looks for
// pickups booked while nobody covered their zone.
const waitingWindow = 7 * 24 * time.Hour

// assignWaiting gives the pickups of this branch that wait for a courier
// in zones to the zones' couriers on duty, one command each, so that each
// choice sees the load the previous ones added.
func (s *Pickups) assignWaiting(ctx context.Context, c app.Caller, zones []string) error {
	ids, err := app.Read(s.Store, func(views replication.Tx) ([]string, error) {
		var ids []string
		f := pickup.Filter{Branch: s.Node, Status: pickup.StatusNew, From: s.now().Add(-waitingWindow), Limit: app.MaxPageSize}
		for {
			ps, next, err := pickup.List(views, f)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if p.Courier == "" && slices.Contains(zones, p.Zone) {
					ids = append(ids, p.ID)
				}
			}
			if next == "" {
				return ids, nil
			}
			f.After = next
		}
	})
	for _, id := range ids {
		if err != nil {
			break
		}
		err = s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
			return pickup.AssignWaiting(views, id, s.Node)
		})
	}
	return err
}

// Couriers lists the couriers, or those covering zone.
func (s *Pickups) Couriers(_ context.Context, c app.Caller, zone string) ([]pickup.Courier, error) {
	if err := c.Require(Readers...); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) ([]pickup.Courier, error) {
		if zone != "" {
			return pickup.CouriersOf(views, zone)
		}
		return pickup.ListCouriers(views)
	})
}

// SetRatePlan sets the standard tariff or a customer's plan.
func (s *Pickups) SetRatePlan(ctx context.Context, c app.Caller, p pickup.Plan) (pickup.Plan, error) {
	if err := c.Require(access.FinanceManage); err != nil {
		return pickup.Plan{}, err
	}
	var id string
	if err := s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := pickup.SetRatePlan(views, p)
		id = strings.TrimPrefix(d.Entity, "rateplan/")
		return app.One(d, err)
	}); err != nil {
		return pickup.Plan{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (pickup.Plan, error) {
		got, ok, err := pickup.GetRatePlan(views, id)
		if !ok {
			got = pickup.Plan{ID: id}
		}
		return got, err
	})
}

// Tariffs are the rate plans that price (the standard one first) and
// the volume discount tiers.
type Tariffs struct {
	Plans []pickup.Plan
	Tiers []pickup.Tier
}

// RatePlans reads the standard plan and a customer's ("": every plan),
// with the tiers. With no tariff set yet, the default one is the standard
// plan.
func (s *Pickups) RatePlans(_ context.Context, c app.Caller, customer string) (Tariffs, error) {
	if err := c.Require(Readers...); err != nil {
		return Tariffs{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (Tariffs, error) {
		var out Tariffs
		if customer != "" {
			if !replication.ValidULID(customer) {
				return out, fault.Invalidf("customer", "bad_id", "%q is not a customer id", customer)
			}
			for _, id := range []string{pickup.StandardPlan, customer} {
				p, ok, err := pickup.GetRatePlan(views, id)
				if err != nil {
					return out, err
				}
				if ok {
					out.Plans = append(out.Plans, p)
				}
			}
		} else {
			var err error
			if out.Plans, err = pickup.ListRatePlans(views); err != nil {
				return out, err
			}
		}
		if len(out.Plans) == 0 || out.Plans[0].ID != pickup.StandardPlan {
			out.Plans = append([]pickup.Plan{{ID: pickup.StandardPlan, Rows: pickup.DefaultTariff}}, out.Plans...)
		}
		var err error
		out.Tiers, err = pickup.Tiers(views)
		return out, err
	})
}

// SetTiers replaces the volume discount tiers.
func (s *Pickups) SetTiers(ctx context.Context, c app.Caller, tiers []pickup.Tier) ([]pickup.Tier, error) {
	if err := c.Require(access.FinanceManage); err != nil {
		return nil, err
	}
	if err := s.exec(ctx, c, func(replication.Tx) ([]replication.Draft, error) {
		return app.One(pickup.SetTiers(tiers))
	}); err != nil {
		return nil, err
	}
	return app.Read(s.Store, pickup.Tiers)
}

// Payment is an entry on a customer's account: pickup.EntryDeposit,
// EntryDepositRefund, EntryPayment or EntryRefund, Amount fen.
type Payment struct {
	Customer, Kind string
	Amount         int64
	Note           string
}

// RecordPayment records an entry and returns the account after it.
func (s *Pickups) RecordPayment(ctx context.Context, c app.Caller, p Payment) (pickup.Account, error) {
	if err := c.Require(access.FinanceManage); err != nil {
		return pickup.Account{}, err
	}
	var customer string
	if err := s.exec(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := pickup.Record(views, p.Customer, p.Kind, p.Amount, p.Note, s.now())
		customer = strings.TrimPrefix(d.Entity, "account/")
		return app.One(d, err)
	}); err != nil {
		return pickup.Account{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (pickup.Account, error) { return pickup.GetAccount(views, customer) })
}

// accountReaders may read accounts and statements.
var accountReaders = []access.Perm{access.FinanceManage, access.Supervise}

// Account reads a customer's account.
func (s *Pickups) Account(_ context.Context, c app.Caller, customer string) (pickup.Account, error) {
	if err := c.Require(accountReaders...); err != nil {
		return pickup.Account{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (pickup.Account, error) { return pickup.GetAccount(views, customer) })
}

// Statement reads a customer's statement of month ("yyyy-MM"; "": this
// month).
func (s *Pickups) Statement(_ context.Context, c app.Caller, customer, month string) (*pickup.MonthlyStatement, error) {
	if err := c.Require(accountReaders...); err != nil {
		return nil, err
	}
	if month == "" {
		month = s.now().Format("2006-01")
	}
	return app.Read(s.Store, func(views replication.Tx) (*pickup.MonthlyStatement, error) {
		return pickup.Statement(views, customer, month)
	})
}

// branch is the branch a report asks for: this node by default.
func (s *Pickups) branch(b string) (string, error) {
	if b == "" {
		return s.Node, nil
	}
	if !replication.ValidNodeID(b) {
		return "", fault.Invalidf("branch", "bad_node", "%q is not a node id", b)
	}
	return b, nil
}

// period is [from, to), this month by default.
func (s *Pickups) period(from, to time.Time) (time.Time, time.Time, error) {
	now := s.now()
	f := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, s.loc())
	t := f.AddDate(0, 1, 0)
	if !from.IsZero() {
		f = from
	}
	if !to.IsZero() {
		t = to
	}
	if !t.After(f) {
		return f, t, fault.Invalidf("to", "bad_range", "the end must be after the start")
	}
	return f, t, nil
}

// CourierDay reports the couriers' workload and revenue for the pickups
// booked at a branch ("": this one) on day ("YYYY-MM-DD"; "": today), and
// the day reported.
func (s *Pickups) CourierDay(_ context.Context, c app.Caller, branch, day string) ([]pickup.CourierStat, time.Time, error) {
	if err := c.Require(Readers...); err != nil {
		return nil, time.Time{}, err
	}
	branch, err := s.branch(branch)
	if err != nil {
		return nil, time.Time{}, err
	}
	t := s.now()
	if day != "" {
		if t, err = time.ParseInLocation("2006-01-02", day, s.loc()); err != nil {
			return nil, time.Time{}, fault.Invalidf("day", "bad_day", "%q is not a day (YYYY-MM-DD)", day)
		}
	}
	stats, err := app.Read(s.Store, func(views replication.Tx) ([]pickup.CourierStat, error) {
		return pickup.CourierDay(views, branch, t)
	})
	return stats, t, err
}

// CustomerVolume reports per customer the pickups booked at a branch ("":
// this one) in [from, to) (zero: this month).
func (s *Pickups) CustomerVolume(_ context.Context, c app.Caller, branch string, from, to time.Time) ([]pickup.CustomerStat, error) {
	if err := c.Require(Readers...); err != nil {
		return nil, err
	}
	branch, err := s.branch(branch)
	if err != nil {
		return nil, err
	}
	if from, to, err = s.period(from, to); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) ([]pickup.CustomerStat, error) {
		return pickup.CustomerVolume(views, branch, from, to)
	})
}

// Summary counts every branch's pickups booked in [from, to) (zero: this
// month) as this replica holds them.
func (s *Pickups) Summary(_ context.Context, c app.Caller, from, to time.Time) (*pickup.Totals, error) {
	if err := c.Require(Readers...); err != nil {
		return nil, err
	}
	from, to, err := s.period(from, to)
	if err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) (*pickup.Totals, error) {
		return pickup.Summary(views, from, to, s.loc())
	})
}
