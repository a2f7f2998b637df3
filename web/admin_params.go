package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
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
	Blacklist *crmv1.BlacklistParams // nil: not the user's to change
	Levels    bool                   // the user may change the level rules
	Rules     []levelRow
	RulesBy   string
	RulesAt   time.Time
	Policies  []string
}

// maxLevelRows bounds the rule rows read from a form.
const maxLevelRows = 64

// blankLevelRows are the empty rows offered for new rules.
const blankLevelRows = 3

func (s *Server) paramsPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.params.title")
	s.showParams(w, r, p, nil, http.StatusOK)
}

// showParams renders the parameters; rules, when not nil, are the posted
// level rules to show again.
func (s *Server) showParams(w http.ResponseWriter, r *http.Request, p *Page, rules []levelRow, status int) {
	ctx := r.Context()
	data := paramsData{adminPage: adminNav(p, "params"), Policies: policies.names()}
	if p.Grant.Can(access.BlacklistManage) {
		resp, err := s.cfg.Blacklist.GetParams(ctx, connect.NewRequest(&crmv1.GetBlacklistParamsRequest{}))
		if err != nil {
			s.render(w, r, "error", s.failed(p, err), p)
			return
		}
		data.Blacklist = resp.Msg
		if _, posted := p.Form["threshold"]; !posted {
			p.Form.Set("threshold", strconv.Itoa(int(resp.Msg.GetThreshold())))
			p.Form.Set("default_policy", policies.name(resp.Msg.GetDefaultPolicy()))
		}
	}
	if data.Levels = p.Grant.Can(access.FieldAdmin); data.Levels {
		resp, err := s.cfg.Members.GetLevelRules(ctx, connect.NewRequest(&crmv1.GetLevelRulesRequest{}))
		if err != nil {
			s.render(w, r, "error", s.failed(p, err), p)
			return
		}
		data.RulesBy, data.RulesAt = resp.Msg.GetUpdatedBy(), tsTime(resp.Msg.GetUpdateTime())
		if rules == nil {
			for i, rule := range resp.Msg.GetRules() {
				rules = append(rules, levelRow{
					Prefix: fmt.Sprintf("rules[%d]", i), Level: rule.GetLevel(),
					Spend: blankZero(rule.GetMinSpendFen(), fenToYuan), Tenure: blankZero(int64(rule.GetMinTenureMonths()), func(n int64) string { return strconv.FormatInt(n, 10) }),
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
	s.render(w, r, "admin_params", status, p)
}

func (s *Server) paramsBlacklist(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.params.title")
	if !readAdminForm(w, r, p, 4<<10) {
		s.showParams(w, r, p, nil, http.StatusRequestEntityTooLarge)
		return
	}
	n, err := strconv.Atoi(p.Value("threshold"))
	if err != nil || n < 1 {
		s.showParams(w, r, p, nil, s.formFailed(p, fault.Invalidf("threshold", "bad_threshold", "not a whole number"), "threshold"))
		return
	}
	_, err = s.cfg.Blacklist.SetParams(apiCtx(r), connect.NewRequest(&crmv1.SetBlacklistParamsRequest{
		Threshold: int32(min(n, 1<<30)), DefaultPolicy: policies.value(p.Value("default_policy")),
	}))
	if err != nil {
		s.showParams(w, r, p, nil, s.formFailed(p, err, "threshold", "default_policy"))
		return
	}
	redirect(w, r, "/admin/params", p.T("admin.saved"))
}

// paramsLevels replaces the level rules with the rows of the form that
// are not blank, in their order.
func (s *Server) paramsLevels(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.params.title")
	if !readAdminForm(w, r, p, 64<<10) {
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
	var rules []*crmv1.LevelRule
	for _, row := range rows {
		rule := &crmv1.LevelRule{Level: row.Level}
		fen, err := yuanToFen(row.Name("min_spend_fen"), row.Spend)
		if err == nil && row.Tenure != "" {
			var t int
			if t, err = strconv.Atoi(row.Tenure); err != nil || t < 0 || t > 1200 {
				err = fault.Invalidf(row.Name("min_tenure_months"), "out_of_range", "not a number of months")
			}
			rule.MinTenureMonths = int32(t)
		}
		if err != nil {
			s.showParams(w, r, p, rows, s.formFailed(p, err, "rules*"))
			return
		}
		rule.MinSpendFen = fen
		rules = append(rules, rule)
	}
	if _, err := s.cfg.Members.DefineLevelRules(apiCtx(r), connect.NewRequest(&crmv1.DefineLevelRulesRequest{Rules: rules})); err != nil {
		s.showParams(w, r, p, rows, s.formFailed(p, err, "rules*"))
		return
	}
	redirect(w, r, "/admin/params", p.T("admin.saved"))
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

// yuanToFen reads an amount in yuan ("12", "12.5", "12.34") as fen; blank
// is 0.
func yuanToFen(field, s string) (int64, error) {
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return 0, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	bad := fault.Invalidf(field, "bad_decimal", "%q is not an amount in yuan", s)
	if whole == "" || len(whole) > 12 || len(frac) > 2 || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, bad
	}
	f, _ := strconv.Atoi((frac + "00")[:2])
	return n*100 + int64(f), nil
}
