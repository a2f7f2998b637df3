package pickup

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// Event kinds of rate plans (报价).
const (
	KindRatePlanSet = "crm.rateplan.set"
	KindTiersSet    = "crm.rateplan.tiers_set"
)

// StandardPlan is the id of the standard tariff; a customer's plan has the
// customer's id.
const StandardPlan = "standard"

// AnyArea is the area of the default tariff row.
const AnyArea = "*"

// Bounds of rate plans.
const (
	maxRows        = 500
	maxTiers       = 20
	maxPlanPercent = 1000
)

// Row is a tariff row: to destinations matching Area, the first
// FirstGrams cost FirstFen, and each further StepGrams or part of it
// StepFen.
type Row struct {
	Area       string
	FirstGrams int64
	FirstFen   int64
	StepGrams  int64
	StepFen    int64
}

// Plan is the standard tariff or a big customer's plan (大客户报价): its own
// rows (none: the standard rows) and/or a percentage of the price (0:
// 100%).
type Plan struct {
	ID      string
	Rows    []Row
	Percent int32
}

// DefaultTariff is the standard tariff until finance sets one, so that a
// new company can book at once: anywhere, the first kilogram ¥12.00, each
// further kilogram or part ¥5.00.
var DefaultTariff = []Row{{Area: AnyArea, FirstGrams: 1000, FirstFen: 1200, StepGrams: 1000, StepFen: 500}}

// Tier is a monthly volume discount: once a customer's pickups of a month
// reach MinCount, prices are Percent of the plan's.
type Tier struct {
	MinCount int64
	Percent  int32
}

// Breakdown is how a price was computed; Final is the price.
type Breakdown struct {
	Destination     string
	WeightGrams     int64
	Area            string // the tariff row matched
	Plan            string // StandardPlan or the customer whose rows priced it
	Base            int64  // fen, by the tariff row
	PlanPercent     int32  // the customer plan's percentage; 100 when none
	Planned         int64  // Base at PlanPercent
	Volume          int64  // the customer's pickups this month, this one included
	DiscountPercent int32  // the volume tier's percentage; 100 when none
	Final           int64
}

// RatePlanEntity is the entity of plan id.
func RatePlanEntity(id string) string { return "rateplan/" + id }

// Views:
//
//	pk \0 rp \0 id              -> register: RatePlanSet
//	pk \0 tiers                 -> register: DiscountTiersSet
//	pk \0 vol \0 customer \0 yyyyMM -> counter: pickups booked
func planKey(id string) []byte { return replication.Key("pk", "rp", id) }

var (
	plansPrefix = replication.Prefix("pk", "rp")
	tiersKey    = replication.Key("pk", "tiers")
)

func volumeKey(customer, month string) []byte { return replication.Key("pk", "vol", customer, month) }

func validPlanID(id string) bool { return id == StandardPlan || replication.ValidULID(id) }

// checkPlan validates p's rows and percentage and returns its body.
func checkPlan(p Plan) (*pickupv1.RatePlanSet, error) {
	if len(p.Rows) > maxRows {
		return nil, fault.Invalidf("rows", "too_many", "%d rows, at most %d", len(p.Rows), maxRows)
	}
	if p.Percent < 0 || p.Percent > maxPlanPercent || (p.ID == StandardPlan && p.Percent != 0) {
		return nil, fault.Invalidf("percent", "bad_percent", "a customer plan's percentage is 1 to %d (0: none); the standard plan has none", maxPlanPercent)
	}
	b := &pickupv1.RatePlanSet{Percent: p.Percent}
	seen := map[string]bool{}
	for i, r := range p.Rows {
		area, err := line(fmt.Sprintf("rows[%d].area", i), r.Area, 32, true)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(area)
		if seen[key] {
			return nil, fault.Invalidf(fmt.Sprintf("rows[%d].area", i), "duplicate", "area %q has two rows", area)
		}
		seen[key] = true
		switch {
		case r.FirstGrams <= 0 || r.FirstGrams > MaxWeightGrams:
			return nil, fault.Invalidf(fmt.Sprintf("rows[%d].first_grams", i), "bad_weight", "must be 1 to %d grams", MaxWeightGrams)
		case r.StepGrams <= 0 || r.StepGrams > MaxWeightGrams:
			return nil, fault.Invalidf(fmt.Sprintf("rows[%d].step_grams", i), "bad_weight", "must be 1 to %d grams", MaxWeightGrams)
		case r.FirstFen < 0 || r.FirstFen > MaxFen:
			return nil, fault.Invalidf(fmt.Sprintf("rows[%d].first_fen", i), "bad_amount", "must be 0 to %d fen", MaxFen)
		case r.StepFen < 0 || r.StepFen > MaxFen:
			return nil, fault.Invalidf(fmt.Sprintf("rows[%d].step_fen", i), "bad_amount", "must be 0 to %d fen", MaxFen)
		}
		b.Rows = append(b.Rows, &pickupv1.RateRow{Area: area, FirstGrams: r.FirstGrams, FirstFen: r.FirstFen,
			StepGrams: r.StepGrams, StepFen: r.StepFen})
	}
	slices.SortFunc(b.Rows, func(x, y *pickupv1.RateRow) int { return strings.Compare(x.Area, y.Area) })
	return b, nil
}

// SetRatePlan decides the event setting plan p: the standard tariff
// (p.ID StandardPlan) or the plan of customer p.ID, who must exist. A
// customer plan with no rows and no percentage removes the plan.
func SetRatePlan(views replication.Tx, p Plan) (replication.Draft, error) {
	if p.ID != StandardPlan {
		id, err := customerRef(views, "id", p.ID)
		if err != nil {
			return replication.Draft{}, err
		}
		p.ID = id
	}
	b, err := checkPlan(p)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindRatePlanSet, Entity: RatePlanEntity(p.ID), Body: b}, nil
}

func planFrom(id string, b *pickupv1.RatePlanSet) Plan {
	p := Plan{ID: id, Percent: b.GetPercent()}
	for _, r := range b.GetRows() {
		p.Rows = append(p.Rows, Row{Area: r.GetArea(), FirstGrams: r.GetFirstGrams(), FirstFen: r.GetFirstFen(),
			StepGrams: r.GetStepGrams(), StepFen: r.GetStepFen()})
	}
	return p
}

// GetRatePlan reads plan id; ok is false when there is none.
func GetRatePlan(views replication.Tx, id string) (Plan, bool, error) {
	if !validPlanID(id) {
		return Plan{}, false, nil
	}
	reg, ok, err := replication.GetRegister(views, planKey(id))
	if err != nil || !ok {
		return Plan{}, false, err
	}
	var b pickupv1.RatePlanSet
	if err := proto.Unmarshal(reg.Value, &b); err != nil {
		return Plan{}, false, fmt.Errorf("rate plan %s: %w", id, err)
	}
	p := planFrom(id, &b)
	return p, len(p.Rows) > 0 || p.Percent != 0 || id == StandardPlan, nil
}

// ListRatePlans returns the standard plan (when set) and every customer
// plan, by id.
func ListRatePlans(views replication.Tx) ([]Plan, error) {
	var out []Plan
	err := views.Scan(plansPrefix, nil, func(k, v []byte) (bool, error) {
		id := string(k[len(plansPrefix):])
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, err
		}
		var b pickupv1.RatePlanSet
		if err := proto.Unmarshal(r.Value, &b); err != nil {
			return false, fmt.Errorf("rate plan %s: %w", id, err)
		}
		if p := planFrom(id, &b); len(p.Rows) > 0 || p.Percent != 0 || id == StandardPlan {
			out = append(out, p)
		}
		return true, nil
	})
	// The standard plan first.
	slices.SortStableFunc(out, func(a, b Plan) int {
		switch {
		case a.ID == b.ID:
			return 0
		case a.ID == StandardPlan:
			return -1
		case b.ID == StandardPlan:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

func checkTiers(tiers []Tier) (*pickupv1.DiscountTiersSet, error) {
	if len(tiers) > maxTiers {
		return nil, fault.Invalidf("tiers", "too_many", "%d tiers, at most %d", len(tiers), maxTiers)
	}
	b := &pickupv1.DiscountTiersSet{}
	seen := map[int64]bool{}
	for i, t := range tiers {
		switch {
		case t.MinCount <= 0:
			return nil, fault.Invalidf(fmt.Sprintf("tiers[%d].min_count", i), "bad_count", "must be at least 1")
		case t.Percent <= 0 || t.Percent > 100:
			return nil, fault.Invalidf(fmt.Sprintf("tiers[%d].percent", i), "bad_percent", "must be 1 to 100")
		case seen[t.MinCount]:
			return nil, fault.Invalidf(fmt.Sprintf("tiers[%d].min_count", i), "duplicate", "two tiers start at %d", t.MinCount)
		}
		seen[t.MinCount] = true
		b.Tiers = append(b.Tiers, &pickupv1.DiscountTier{MinCount: t.MinCount, Percent: t.Percent})
	}
	slices.SortFunc(b.Tiers, func(x, y *pickupv1.DiscountTier) int { return cmp.Compare(x.MinCount, y.MinCount) })
	return b, nil
}

// SetTiers decides the event setting the monthly volume discount tiers
// (e.g. {10000, 95}: from the 10,000th pickup of a month, 95%); none
// removes the discounts.
func SetTiers(tiers []Tier) (replication.Draft, error) {
	b, err := checkTiers(tiers)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindTiersSet, Entity: RatePlanEntity(StandardPlan), Body: b}, nil
}

// Tiers reads the volume discount tiers, by MinCount.
func Tiers(views replication.Tx) ([]Tier, error) {
	reg, ok, err := replication.GetRegister(views, tiersKey)
	if err != nil || !ok {
		return nil, err
	}
	var b pickupv1.DiscountTiersSet
	if err := proto.Unmarshal(reg.Value, &b); err != nil {
		return nil, fmt.Errorf("discount tiers: %w", err)
	}
	var out []Tier
	for _, t := range b.GetTiers() {
		out = append(out, Tier{MinCount: t.GetMinCount(), Percent: t.GetPercent()})
	}
	return out, nil
}

// customerRef checks that customer id exists and is not deleted, and
// returns the id it resolves to (a merged customer's winner).
func customerRef(views replication.Tx, field, id string) (string, error) {
	if !replication.ValidULID(id) {
		return "", fault.Invalidf(field, "bad_id", "%q is not a customer id", id)
	}
	c, err := crm.GetCustomer(views, id)
	if errors.Is(err, fault.ErrNotFound) {
		return "", fault.Invalidf(field, "unknown_customer", "no customer %s", id)
	}
	if err != nil {
		return "", err
	}
	if c.Deleted {
		return "", fault.Invalidf(field, "deleted_customer", "customer %s is in the recycle bin", id)
	}
	return c.ID, nil
}

// matchRow returns the row for destination: the row whose area is the
// longest one contained in it (case-insensitive), else the AnyArea row.
func matchRow(rows []Row, destination string) (Row, bool) {
	dest := strings.ToLower(destination)
	var best Row
	found := false
	for _, r := range rows {
		if r.Area == AnyArea {
			continue
		}
		if strings.Contains(dest, strings.ToLower(r.Area)) && (!found || len(r.Area) > len(best.Area)) {
			best, found = r, true
		}
	}
	if found {
		return best, true
	}
	for _, r := range rows {
		if r.Area == AnyArea {
			return r, true
		}
	}
	return Row{}, false
}

// rowPrice prices weight by row.
func rowPrice(r Row, weight int64) int64 {
	p := r.FirstFen
	if extra := weight - r.FirstGrams; extra > 0 {
		p += (extra + r.StepGrams - 1) / r.StepGrams * r.StepFen
	}
	return p
}

// percentOf is p% of amount, rounded half up.
func percentOf(amount int64, p int32) int64 { return (amount*int64(p) + 50) / 100 }

// planPrice is the price of weight to destination by customer's plan,
// before the volume discount.
func planPrice(views replication.Tx, customer, destination string, weight int64) (Breakdown, error) {
	b := Breakdown{Destination: destination, WeightGrams: weight, Plan: StandardPlan, PlanPercent: 100, DiscountPercent: 100}
	var rows []Row
	if customer != "" {
		cp, ok, err := GetRatePlan(views, customer)
		if err != nil {
			return Breakdown{}, err
		}
		if ok {
			if len(cp.Rows) > 0 {
				rows, b.Plan = cp.Rows, customer
			}
			if cp.Percent != 0 {
				b.PlanPercent = cp.Percent
			}
		}
	}
	row, ok := matchRow(rows, destination)
	if !ok {
		std, set, err := GetRatePlan(views, StandardPlan)
		if err != nil {
			return Breakdown{}, err
		}
		if !set {
			std.Rows = DefaultTariff
		}
		if row, ok = matchRow(std.Rows, destination); !ok {
			return Breakdown{}, fault.Invalidf("destination", "no_rate", "no tariff row for %q and no default (*) row", destination)
		}
		b.Plan = StandardPlan
	}
	b.Area = row.Area
	b.Base = rowPrice(row, weight)
	b.Planned = percentOf(b.Base, b.PlanPercent)
	return b, nil
}

// discount returns the percentage of the highest tier volume reaches.
func discount(tiers []Tier, volume int64) int32 {
	p := int32(100)
	for _, t := range tiers { // by MinCount
		if volume >= t.MinCount {
			p = t.Percent
		}
	}
	return p
}

// Quote prices a pickup of weightGrams to destination for customer
// (optional) booked at now: the tariff row of the customer's plan or the
// standard tariff, the plan's percentage, then the volume discount of the
// tier the customer's pickups of now's month reach with this one. Create
// uses it, so what the agent is shown before saving is what is booked.
func Quote(views replication.Tx, customer, destination string, weightGrams int64, now time.Time) (Breakdown, error) {
	dest, err := line("destination", destination, maxDest, true)
	if err != nil {
		return Breakdown{}, err
	}
	if weightGrams <= 0 || weightGrams > MaxWeightGrams {
		return Breakdown{}, fault.Invalidf("weight_grams", "bad_weight", "must be 1 to %d grams", MaxWeightGrams)
	}
	if customer != "" {
		if customer, err = customerRef(views, "customer", customer); err != nil {
			return Breakdown{}, err
		}
	}
	b, err := planPrice(views, customer, dest, weightGrams)
	if err != nil {
		return Breakdown{}, err
	}
	b.Final = b.Planned
	if customer != "" {
		n, err := replication.GetCounter(views, volumeKey(customer, now.Format("200601")))
		if err != nil {
			return Breakdown{}, err
		}
		b.Volume = n + 1
		tiers, err := Tiers(views)
		if err != nil {
			return Breakdown{}, err
		}
		b.DiscountPercent = discount(tiers, b.Volume)
		b.Final = percentOf(b.Planned, b.DiscountPercent)
	}
	return b, nil
}

func breakdownToProto(b Breakdown) *pickupv1.PriceQuote {
	return &pickupv1.PriceQuote{Area: b.Area, Plan: b.Plan, BaseFen: b.Base, PlanPercent: b.PlanPercent,
		PlannedFen: b.Planned, Volume: b.Volume, DiscountPercent: b.DiscountPercent, FinalFen: b.Final}
}

func breakdownFrom(dest string, weight int64, q *pickupv1.PriceQuote) Breakdown {
	return Breakdown{Destination: dest, WeightGrams: weight, Area: q.GetArea(), Plan: q.GetPlan(), Base: q.GetBaseFen(),
		PlanPercent: q.GetPlanPercent(), Planned: q.GetPlannedFen(), Volume: q.GetVolume(),
		DiscountPercent: q.GetDiscountPercent(), Final: q.GetFinalFen()}
}

func planID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "rateplan/")
	return id, ok && validPlanID(id)
}

func checkRatePlanSet(ev *replication.Event, b *pickupv1.RatePlanSet) error {
	id, ok := planID(ev)
	if !ok {
		return fmt.Errorf("entity %q is not a rate plan", ev.Entity)
	}
	p := planFrom(id, b)
	canon, err := checkPlan(p)
	if err != nil {
		return err
	}
	if !proto.Equal(canon, b) {
		return fault.Invalidf("rows", "not_canonical", "rows are not in canonical form")
	}
	return nil
}

func applyRatePlanSet(tx replication.Tx, ev *replication.Event, b *pickupv1.RatePlanSet) error {
	id, ok := planID(ev)
	if !ok {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	_, _, err = replication.SetRegister(tx, planKey(id), enc, replication.StampOf(ev))
	return err
}

func checkTiersSet(ev *replication.Event, b *pickupv1.DiscountTiersSet) error {
	if id, ok := planID(ev); !ok || id != StandardPlan {
		return fmt.Errorf("entity %q is not the standard rate plan", ev.Entity)
	}
	var tiers []Tier
	for _, t := range b.GetTiers() {
		tiers = append(tiers, Tier{MinCount: t.GetMinCount(), Percent: t.GetPercent()})
	}
	canon, err := checkTiers(tiers)
	if err != nil {
		return err
	}
	if !proto.Equal(canon, b) {
		return fault.Invalidf("tiers", "not_canonical", "tiers are not in canonical form")
	}
	return nil
}

func applyTiersSet(tx replication.Tx, ev *replication.Event, b *pickupv1.DiscountTiersSet) error {
	if id, ok := planID(ev); !ok || id != StandardPlan {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	_, _, err = replication.SetRegister(tx, tiersKey, enc, replication.StampOf(ev))
	return err
}
