package crm

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Member levels: the rules an administrator defines, and a customer's
// level and tenure evaluated from them when asked (see member.go for
// the merge rules).

var levelRulesKey = replication.Key("crm", "memrules")

// DefineLevelRules decides the event that replaces the level rules. Rules
// are tried in order; the first that matches gives the level, so list the
// highest level first.
func DefineLevelRules(views replication.Tx, rules []*crmv1.LevelRule) (replication.Draft, error) {
	out, err := normalizeRules(rules)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindLevelRulesSet, Entity: "memrules", Body: &crmv1.LevelRulesSet{Rules: out}}, nil
}

func normalizeRules(rules []*crmv1.LevelRule) ([]*crmv1.LevelRule, error) {
	if len(rules) > maxLevelRules {
		return nil, fault.Invalidf("rules", "too_many", "%d rules, at most %d", len(rules), maxLevelRules)
	}
	seen := map[string]bool{}
	var out []*crmv1.LevelRule
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		level, err := checkFreeText(field+".level", r.GetLevel(), maxLevelLen, true)
		if err != nil {
			return nil, err
		}
		if seen[level] {
			return nil, fault.Invalidf(field+".level", "duplicate", "level %q appears twice", level)
		}
		seen[level] = true
		if err := checkAmount(field+".min_spend_fen", r.GetMinSpendFen(), true); err != nil {
			return nil, err
		}
		if t := r.GetMinTenureMonths(); t < 0 || t > maxTenureMonths {
			return nil, fault.Invalidf(field+".min_tenure_months", "out_of_range", "must be 0 to %d", maxTenureMonths)
		}
		out = append(out, &crmv1.LevelRule{Level: level, MinSpendFen: r.GetMinSpendFen(), MinTenureMonths: r.GetMinTenureMonths()})
	}
	return out, nil
}

// GetLevelRules returns the level rules (UpdatedBy set) and the stamp of
// their last change.
func GetLevelRules(views replication.Tx) (*crmv1.LevelRules, replication.Stamp, error) {
	r, ok, err := replication.GetRegister(views, levelRulesKey)
	if err != nil || !ok {
		return &crmv1.LevelRules{}, replication.Stamp{}, err
	}
	out := &crmv1.LevelRules{}
	if err := proto.Unmarshal(r.Value, out); err != nil {
		return nil, replication.Stamp{}, fmt.Errorf("level rules: %w", err)
	}
	return out, r.Stamp, nil
}

// EvaluateLevel returns the level the rules give a customer with the
// given counted spend, created at created, at time now, and the customer's
// tenure in whole months. A rule matches when spend reaches its minimum
// or tenure reaches its minimum (a minimum of 0 is no condition; a rule
// with neither matches everyone). Pure and deterministic.
func EvaluateLevel(rules []*crmv1.LevelRule, spentFen int64, created, now time.Time) (level string, tenure int) {
	tenure = TenureMonths(created, now)
	for _, r := range rules {
		spendOK := r.GetMinSpendFen() > 0 && spentFen >= r.GetMinSpendFen()
		tenureOK := r.GetMinTenureMonths() > 0 && tenure >= int(r.GetMinTenureMonths())
		if spendOK || tenureOK || r.GetMinSpendFen() == 0 && r.GetMinTenureMonths() == 0 {
			return r.GetLevel(), tenure
		}
	}
	return "", tenure
}

// TenureMonths counts the whole calendar months from created to now in
// China time: 15 January to 15 March is two months, to 14 March one.
func TenureMonths(created, now time.Time) int {
	loc := tzLocation(DefaultTimeZone)
	a, b := created.In(loc), now.In(loc)
	if !b.After(a) {
		return 0
	}
	m := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
	clock := func(t time.Time) time.Duration {
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
			time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	}
	if b.Day() < a.Day() || b.Day() == a.Day() && clock(b) < clock(a) {
		m--
	}
	return max(m, 0)
}

func checkLevelRules(_ *replication.Event, b *crmv1.LevelRulesSet) error {
	out, err := normalizeRules(b.GetRules())
	if err != nil {
		return err
	}
	if !proto.Equal(&crmv1.LevelRulesSet{Rules: out}, b) {
		return fault.Invalidf("rules", "not_canonical", "rules are not in canonical form")
	}
	return nil
}

func applyLevelRules(tx replication.Tx, ev *replication.Event, b *crmv1.LevelRulesSet) error {
	v, err := marshalRecord(&crmv1.LevelRules{Rules: b.GetRules(), UpdatedBy: ev.Actor})
	if err != nil {
		return err
	}
	_, _, err = replication.SetRegister(tx, levelRulesKey, v, replication.StampOf(ev))
	return err
}
