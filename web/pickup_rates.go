package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"connectrpc.com/connect"

	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// Rate plans (报价): the standard tariff by destination area and weight, a
// plan per big customer (its own rows and/or a percentage) and the monthly
// volume discount tiers. Each table is edited as a whole, as the domain
// keeps it (one register per plan).

// rateRowView is one tariff row as the form shows it: kilograms and yuan.
type rateRowView struct {
	Area, FirstKg, FirstYuan, StepKg, StepYuan string
	Err                                        string
}

// planView is a rate plan in the form.
type planView struct {
	ID       string // "standard" or the customer id
	Customer string // the customer's name
	Percent  string
	Rows     []rateRowView
	Err      string
}

// tierView is a volume discount tier in the form.
type tierView struct {
	MinCount, Percent string
	Err               string
}

// ratesData is what pickup_rates.html shows.
type ratesData struct {
	pickupPageData
	Standard planView
	Plans    []planView
	// Edit is the customer plan in the form; nil offers to choose one.
	Edit    *planView
	Tiers   []tierView
	TierErr string
}

// blankRows are the empty rows each table offers for adding.
const blankRows = 3

func viewPlan(p *pickupv1.RatePlan) planView {
	v := planView{ID: p.GetId()}
	if p.GetPercent() != 0 {
		v.Percent = strconv.Itoa(int(p.GetPercent()))
	}
	for _, r := range p.GetRows() {
		v.Rows = append(v.Rows, rateRowView{Area: r.GetArea(), FirstKg: kgText(r.GetFirstGrams()), FirstYuan: yuanText(r.GetFirstFen()),
			StepKg: kgText(r.GetStepGrams()), StepYuan: yuanText(r.GetStepFen())})
	}
	return v
}

// withBlanks adds the empty rows for adding.
func (v planView) withBlanks() planView {
	v.Rows = append(v.Rows[:len(v.Rows):len(v.Rows)], make([]rateRowView, blankRows)...)
	return v
}

func (s *Server) ratePlans(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.rates.title")
	s.renderRates(w, r, p, r.URL.Query().Get("plan"), nil, nil, http.StatusOK)
}

// renderRates shows the plans as stored, except the plan or tiers whose
// post failed (failedPlan, failedTiers), which show what was posted.
func (s *Server) renderRates(w http.ResponseWriter, r *http.Request, p *Page, edit string, failedPlan *planView, failedTiers []tierView, status int) {
	resp, err := s.cfg.Pickups.GetRatePlans(apiCtx(r), connect.NewRequest(&pickupv1.GetRatePlansRequest{}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	d := &ratesData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/rates")}, Standard: planView{ID: "standard"}}
	for _, pl := range resp.Msg.GetPlans() {
		v := viewPlan(pl)
		if pl.GetId() == "standard" {
			d.Standard = v
			continue
		}
		v.Customer = s.customerLabel(r, pl.GetId())
		d.Plans = append(d.Plans, v)
		if pl.GetId() == edit {
			e := v
			d.Edit = &e
		}
	}
	if edit != "" && edit != "standard" && d.Edit == nil {
		d.Edit = &planView{ID: edit, Customer: s.customerLabel(r, edit)}
	}
	switch {
	case failedPlan == nil:
	case failedPlan.ID == "standard":
		d.Standard = *failedPlan
	default:
		failedPlan.Customer = s.customerLabel(r, failedPlan.ID)
		d.Edit = failedPlan
	}
	d.Standard = d.Standard.withBlanks()
	if d.Edit != nil {
		e := d.Edit.withBlanks()
		d.Edit = &e
	}
	if failedTiers != nil {
		d.Tiers = failedTiers
	} else {
		for _, t := range resp.Msg.GetTiers() {
			d.Tiers = append(d.Tiers, tierView{MinCount: strconv.FormatInt(t.GetMinCount(), 10), Percent: strconv.Itoa(int(t.GetPercent()))})
		}
	}
	d.Tiers = append(d.Tiers, make([]tierView, blankRows)...)
	p.Data = d
	s.render(w, r, "pickup_rates", status, p)
}

// rowField finds the row an API field names ("rows[2].first_fen").
var rowField = regexp.MustCompile(`^(?:rows|tiers)\[(\d+)\]`)

// ratePlanSet saves the standard tariff or a customer's plan from its
// table; blank rows are left out.
func (s *Server) ratePlanSet(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.rates.title")
	if !readAdminForm(w, r, p, 256<<10) {
		s.renderRates(w, r, p, "", nil, nil, http.StatusRequestEntityTooLarge)
		return
	}
	f := p.Form
	v := planView{ID: p.Value("plan"), Percent: p.Value("percent")}
	plan := &pickupv1.RatePlan{Id: v.ID}
	var at []int // the form row of each plan row
	var err error
	for i := range f["area"] {
		row := rateRowView{Area: f["area"][i], FirstKg: at0(f["first_kg"], i), FirstYuan: at0(f["first_yuan"], i),
			StepKg: at0(f["step_kg"], i), StepYuan: at0(f["step_yuan"], i)}
		v.Rows = append(v.Rows, row)
		if row == (rateRowView{}) {
			continue
		}
		rr, rerr := parseRateRow(len(plan.Rows), row)
		if rerr != nil && err == nil {
			err = rerr
		}
		plan.Rows = append(plan.Rows, rr)
		at = append(at, i)
	}
	if err == nil && v.Percent != "" {
		n, perr := strconv.Atoi(v.Percent)
		if perr != nil {
			err = fault.Invalidf("percent", "bad_percent", "%q is not a percentage", v.Percent)
		}
		plan.Percent = int32(n)
	}
	if err == nil {
		_, err = s.cfg.Pickups.SetRatePlan(apiCtx(r), connect.NewRequest(&pickupv1.SetRatePlanRequest{Plan: plan}))
	}
	if err != nil {
		msg, status := s.pickupErr(p, err)
		if i, ok := formRow(err, at); ok {
			v.Rows[i].Err = msg
		} else {
			v.Err = msg
		}
		p.Errors[""] = p.T("form.fix_errors")
		s.renderRates(w, r, p, v.ID, &v, nil, status)
		return
	}
	who := p.T("pickup.rates.standard")
	if v.ID != "standard" {
		who = s.customerLabel(r, v.ID)
	}
	redirect(w, r, "/pickups/rates", p.T("pickup.rates.saved", who))
}

// formRow is the row of the form whose table row err names ("rows[2].…"),
// where at maps the rows sent to the form's rows (blank ones are not
// sent).
func formRow(err error, at []int) (int, bool) {
	inv, ok := fault.AsInvalid(err)
	if !ok {
		return 0, false
	}
	m := rowField.FindStringSubmatch(inv.Field)
	if m == nil {
		return 0, false
	}
	k, _ := strconv.Atoi(m[1])
	if k >= len(at) {
		return 0, false
	}
	return at[k], true
}

// at0 is vs[i], "" past its end.
func at0(vs []string, i int) string {
	if i < len(vs) {
		return vs[i]
	}
	return ""
}

// parseRateRow reads row i of a table in kilograms and yuan.
func parseRateRow(i int, v rateRowView) (*pickupv1.RateRow, error) {
	field := func(f string) string { return fmt.Sprintf("rows[%d].%s", i, f) }
	fg, err := kgToGrams(field("first_grams"), v.FirstKg)
	if err != nil {
		return nil, err
	}
	sg, err := kgToGrams(field("step_grams"), v.StepKg)
	if err != nil {
		return nil, err
	}
	ff, err := yuanToFen(field("first_fen"), v.FirstYuan)
	if err != nil {
		return nil, err
	}
	sf, err := yuanToFen(field("step_fen"), v.StepYuan)
	if err != nil {
		return nil, err
	}
	return &pickupv1.RateRow{Area: v.Area, FirstGrams: fg, FirstFen: ff, StepGrams: sg, StepFen: sf}, nil
}

// rateTiersSet saves the monthly volume discount tiers.
func (s *Server) rateTiersSet(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.rates.title")
	if !readAdminForm(w, r, p, 16<<10) {
		s.renderRates(w, r, p, "", nil, nil, http.StatusRequestEntityTooLarge)
		return
	}
	f := p.Form
	var views []tierView
	var tiers []*pickupv1.DiscountTier
	var at []int
	var err error
	for i := range f["min_count"] {
		v := tierView{MinCount: f["min_count"][i], Percent: at0(f["tier_percent"], i)}
		views = append(views, v)
		if v.MinCount == "" && v.Percent == "" {
			continue
		}
		n, nerr := strconv.ParseInt(v.MinCount, 10, 64)
		pc, perr := strconv.Atoi(v.Percent)
		if (nerr != nil || perr != nil) && err == nil {
			err = fault.Invalidf(fmt.Sprintf("tiers[%d]", len(tiers)), "bad_tier", "%q / %q", v.MinCount, v.Percent)
		}
		tiers = append(tiers, &pickupv1.DiscountTier{MinCount: n, Percent: int32(pc)})
		at = append(at, i)
	}
	if err == nil {
		_, err = s.cfg.Pickups.SetDiscountTiers(apiCtx(r), connect.NewRequest(&pickupv1.SetDiscountTiersRequest{Tiers: tiers}))
	}
	if err != nil {
		msg, status := s.pickupErr(p, err)
		p.Errors[""] = msg
		if i, ok := formRow(err, at); ok {
			views[i].Err = msg
			p.Errors[""] = p.T("form.fix_errors")
		}
		s.renderRates(w, r, p, "", nil, views, status)
		return
	}
	redirect(w, r, "/pickups/rates", p.T("pickup.rates.tiers_saved"))
}
