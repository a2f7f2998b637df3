package adminui

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"branchline/access"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/web"
)

// System parameters (系统参数): the blacklist's threshold and default
// policy, and the member level rules. Each section shows to those who may
// change it.

// levelRow is one rule of the level rules editor; amounts in yuan.
type levelRow struct {
	Prefix string // "rules[0]", as the API names the rule's fields
	Level  string
	Spend  string // minimum spend in yuan
	Tenure string // minimum tenure in months
	Err    string
}

// Name is the name of the row's input for field.
func (l levelRow) Name(field string) string { return l.Prefix + "." + field }

type paramsData struct {
	adminPage
	Blacklist *crmapp.Params // nil: not the user's to change
	Levels    bool           // the user may change the level rules
	Rules     []levelRow
	RulesBy   string
	RulesAt   time.Time
	Policies  []string
}

// maxLevelRows bounds the rule rows read from a form.
const maxLevelRows = 64

// blankLevelRows are the empty rows offered for new rules.
const blankLevelRows = 3

func (s *Pages) paramsPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.params.title")
	s.showParams(w, r, p, nil, http.StatusOK)
}

// showParams renders the parameters; rules, when not nil, are the posted
// level rules to show again.
func (s *Pages) showParams(w http.ResponseWriter, r *http.Request, p *web.Page, rules []levelRow, status int) {
	ctx, c := r.Context(), web.CallerOf(r)
	data := paramsData{adminPage: adminNav(p, "params"), Policies: policies}
	if p.Grant.Can(access.BlacklistManage) {
		params, err := s.cfg.Blacklist.Params(ctx, c)
		if err != nil {
			s.Render(w, r, "error", s.Failed(p, err), p)
			return
		}
		data.Blacklist = &params
		if _, posted := p.Form["threshold"]; !posted {
			p.Form.Set("threshold", strconv.Itoa(params.Threshold))
			p.Form.Set("default_policy", string(params.Policy))
		}
	}
	if data.Levels = p.Grant.Can(access.FieldAdmin); data.Levels {
		lr, err := s.cfg.Members.LevelRules(ctx, c)
		if err != nil {
			s.Render(w, r, "error", s.Failed(p, err), p)
			return
		}
		data.RulesBy, data.RulesAt = lr.UpdatedBy, lr.Updated
		if rules == nil {
			for i, rule := range lr.Rules {
				rules = append(rules, levelRow{
					Prefix: fmt.Sprintf("rules[%d]", i), Level: rule.Level,
					Spend: blankZero(rule.MinSpend, fenToYuan), Tenure: blankZero(int64(rule.MinTenure), func(n int64) string { return strconv.FormatInt(n, 10) }),
				})
			}
		}
		for i := range rules {
			var msgs []string
			for k, v := range p.Errors {
				if strings.HasPrefix(k, rules[i].Prefix+".") {
					msgs = append(msgs, v)
				}
			}
			rules[i].Err = strings.Join(msgs, " ")
		}
		for range blankLevelRows {
			rules = append(rules, levelRow{Prefix: fmt.Sprintf("rules[%d]", len(rules))})
		}
		data.Rules = rules
	}
	p.Data = data
	s.Render(w, r, "admin_params", status, p)
}

// policies are the blacklist policies the form offers.
var policies = []string{string(crm.PolicyWarn), string(crm.PolicyReject)}

func (s *Pages) paramsBlacklist(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.params.title")
	if !web.ReadForm(w, r, p, 4<<10) {
		s.showParams(w, r, p, nil, http.StatusRequestEntityTooLarge)
		return
	}
	n, err := strconv.Atoi(p.Value("threshold"))
	if err != nil || n < 1 {
		s.showParams(w, r, p, nil, s.formFailed(p, fault.Invalidf("threshold", "bad_threshold", "not a whole number"), "threshold"))
		return
	}
	change := crmapp.ParamsChange{Threshold: min(n, 1<<30)}
	if v := p.Value("default_policy"); slices.Contains(policies, v) {
		change.Policy = crm.Policy(v)
	}
	if _, err = s.cfg.Blacklist.SetParams(r.Context(), web.CallerOf(r), change); err != nil {
		s.showParams(w, r, p, nil, s.formFailed(p, err, "threshold", "default_policy"))
		return
	}
	web.Redirect(w, r, "/admin/params", p.T("admin.saved"))
}

// paramsLevels replaces the level rules with the rows of the form that
// are not blank, in their order.
func (s *Pages) paramsLevels(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.params.title")
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showParams(w, r, p, nil, http.StatusRequestEntityTooLarge)
		return
	}
	var rows []levelRow
	for i := range maxLevelRows {
		pre := fmt.Sprintf("rules[%d].", i)
		row := levelRow{Level: p.Value(pre + "level"), Spend: p.Value(pre + "min_spend_fen"), Tenure: p.Value(pre + "min_tenure_months")}
		if row.Level == "" && row.Spend == "" && row.Tenure == "" {
			continue
		}
		row.Prefix = fmt.Sprintf("rules[%d]", len(rows))
		rows = append(rows, row)
	}
	var rules []crmapp.LevelRule
	for _, row := range rows {
		rule := crmapp.LevelRule{Level: row.Level}
		fen, err := web.YuanToFen(row.Name("min_spend_fen"), row.Spend)
		if err == nil && row.Tenure != "" {
			var t int
			if t, err = strconv.Atoi(row.Tenure); err != nil || t < 0 || t > 1200 {
				err = fault.Invalidf(row.Name("min_tenure_months"), "out_of_range", "not a number of months")
			}
			rule.MinTenure = int32(t)
		}
		if err != nil {
			s.showParams(w, r, p, rows, s.formFailed(p, err, "rules*"))
			return
		}
		rule.MinSpend = fen
		rules = append(rules, rule)
	}
	if _, err := s.cfg.Members.DefineLevelRules(r.Context(), web.CallerOf(r), rules); err != nil {
		s.showParams(w, r, p, rows, s.formFailed(p, err, "rules*"))
		return
	}
	web.Redirect(w, r, "/admin/params", p.T("admin.saved"))
}

// blankZero writes n with format, and 0 (no condition) as blank.
func blankZero(n int64, format func(int64) string) string {
	if n == 0 {
		return ""
	}
	return format(n)
}

// fenToYuan writes an amount in fen as yuan: 1234 → "12.34", 1200 → "12".
func fenToYuan(fen int64) string {
	if fen%100 == 0 {
		return strconv.FormatInt(fen/100, 10)
	}
	return fmt.Sprintf("%d.%02d", fen/100, fen%100)
}
