package pickupui

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/web"
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

func viewPlan(p pickup.Plan) planView {
	v := planView{ID: p.ID}
	if p.Percent != 0 {
		v.Percent = strconv.Itoa(int(p.Percent))
	}
	for _, r := range p.Rows {
		v.Rows = append(v.Rows, rateRowView{Area: r.Area, FirstKg: web.KgText(r.FirstGrams), FirstYuan: web.YuanText(r.FirstFen),
			StepKg: web.KgText(r.StepGrams), StepYuan: web.YuanText(r.StepFen)})
	}
	return v
}

// withBlanks adds the empty rows for adding.
func (v planView) withBlanks() planView {
	v.Rows = append(v.Rows[:len(v.Rows):len(v.Rows)], make([]rateRowView, blankRows)...)
	return v
}

func (s *Pages) ratePlans(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.rates.title")
	s.renderRates(w, r, p, r.URL.Query().Get("plan"), nil, nil, http.StatusOK)
}

// renderRates shows the plans as stored, except the plan or tiers whose
// post failed (failedPlan, failedTiers), which show what was posted.
func (s *Pages) renderRates(w http.ResponseWriter, r *http.Request, p *web.Page, edit string, failedPlan *planView, failedTiers []tierView, status int) {
	t, err := s.cfg.Pickups.RatePlans(r.Context(), web.CallerOf(r), "")
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	d := &ratesData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/rates")}, Standard: planView{ID: "standard"}}
	for _, pl := range t.Plans {
		v := viewPlan(pl)
		if pl.ID == "standard" {
			d.Standard = v
			continue
		}
		v.Customer = s.customerLabel(r, pl.ID)
		d.Plans = append(d.Plans, v)
		if pl.ID == edit {
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
		for _, t := range t.Tiers {
			d.Tiers = append(d.Tiers, tierView{MinCount: strconv.FormatInt(t.MinCount, 10), Percent: strconv.Itoa(int(t.Percent))})
		}
	}
	d.Tiers = append(d.Tiers, make([]tierView, blankRows)...)
	p.Data = d
	s.Render(w, r, "pickup_rates", status, p)
}

// rowField finds the row an API field names ("rows[2].first_fen").
var rowField = regexp.MustCompile(`^(?:rows|tiers)\[(\d+)\]`)

// ratePlanSet saves the standard tariff or a customer's plan from its
// table; blank rows are left out.
func (s *Pages) ratePlanSet(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.rates.title")
	if !web.ReadForm(w, r, p, 256<<10) {
		s.renderRates(w, r, p, "", nil, nil, http.StatusRequestEntityTooLarge)
		return
	}
	f := p.Form
	v := planView{ID: p.Value("plan"), Percent: p.Value("percent")}
	plan := pickup.Plan{ID: v.ID}
	var at []int // the form row of each plan row
	var err error
	for i := range f["area"] {
		row := rateRowView{Area: f["area"][i], FirstKg: web.Nth(f["first_kg"], i), FirstYuan: web.Nth(f["first_yuan"], i),
			StepKg: web.Nth(f["step_kg"], i), StepYuan: web.Nth(f["step_yuan"], i)}
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
		_, err = s.cfg.Pickups.SetRatePlan(r.Context(), web.CallerOf(r), plan)
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
	web.Redirect(w, r, "/pickups/rates", p.T("pickup.rates.saved", who))
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

// parseRateRow reads row i of a table in kilograms and yuan.
func parseRateRow(i int, v rateRowView) (pickup.Row, error) {
	field := func(f string) string { return fmt.Sprintf("rows[%d].%s", i, f) }
	fg, err := web.KgToGrams(field("first_grams"), v.FirstKg)
	if err != nil {
		return pickup.Row{}, err
	}
	sg, err := web.KgToGrams(field("step_grams"), v.StepKg)
	if err != nil {
		return pickup.Row{}, err
	}
	ff, err := web.YuanToFen(field("first_fen"), v.FirstYuan)
	if err != nil {
		return pickup.Row{}, err
	}
	sf, err := web.YuanToFen(field("step_fen"), v.StepYuan)
	if err != nil {
		return pickup.Row{}, err
	}
	return pickup.Row{Area: v.Area, FirstGrams: fg, FirstFen: ff, StepGrams: sg, StepFen: sf}, nil
}

// rateTiersSet saves the monthly volume discount tiers.
func (s *Pages) rateTiersSet(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.rates.title")
	if !web.ReadForm(w, r, p, 16<<10) {
		s.renderRates(w, r, p, "", nil, nil, http.StatusRequestEntityTooLarge)
		return
	}
	f := p.Form
	var views []tierView
	var tiers []pickup.Tier
	var at []int
	var err error
	for i := range f["min_count"] {
		v := tierView{MinCount: f["min_count"][i], Percent: web.Nth(f["tier_percent"], i)}
		views = append(views, v)
		if v.MinCount == "" && v.Percent == "" {
			continue
		}
		n, nerr := strconv.ParseInt(v.MinCount, 10, 64)
		pc, perr := strconv.Atoi(v.Percent)
		if (nerr != nil || perr != nil) && err == nil {
			err = fault.Invalidf(fmt.Sprintf("tiers[%d]", len(tiers)), "bad_tier", "%q / %q", v.MinCount, v.Percent)
		}
		tiers = append(tiers, pickup.Tier{MinCount: n, Percent: int32(pc)})
		at = append(at, i)
	}
	if err == nil {
		_, err = s.cfg.Pickups.SetTiers(r.Context(), web.CallerOf(r), tiers)
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
	web.Redirect(w, r, "/pickups/rates", p.T("pickup.rates.tiers_saved"))
}
