package crm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Credit warnings: the credit level (信用等级) and unsettled amount of a
// customer graded by the system parameters' policy, and amounts of yuan
// as staff type and read them.

var yuanRe = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,4})?$`)

// CreditLevel grades a credit warning.
type CreditLevel int

// Credit warning grades, mildest first.
const (
	CreditNone CreditLevel = iota
	CreditCaution
	CreditDanger
)

// Proto converts the grade for the API.
func (l CreditLevel) Proto() crmv1.CreditWarningLevel {
	return crmv1.CreditWarningLevel(int32(l) + 1)
}

// CreditPolicy says which credit levels (信用等级) call for a warning.
// Levels compare case-insensitively.
type CreditPolicy struct {
	Low []string // caution
	Bad []string // danger
}

// DefaultCreditPolicy warns on level C and alarms on level D.
var DefaultCreditPolicy = CreditPolicy{Low: []string{"C"}, Bad: []string{"D"}}

// CreditPolicyOf reads the policy from the system parameters
// credit.low_levels and credit.bad_levels.
func CreditPolicyOf(views replication.Tx) (CreditPolicy, error) {
	low, err := GetParam(views, ParamCreditLowLevels, strings.Join(DefaultCreditPolicy.Low, ","))
	if err != nil {
		return CreditPolicy{}, err
	}
	bad, err := GetParam(views, ParamCreditBadLevels, strings.Join(DefaultCreditPolicy.Bad, ","))
	if err != nil {
		return CreditPolicy{}, err
	}
	split := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	return CreditPolicy{Low: split(low), Bad: split(bad)}, nil
}

// CreditWarning grades customer c with the default policy; see
// CreditPolicy.Warning.
func CreditWarning(c *Customer, unsettledFen int64) (CreditLevel, string) {
	return DefaultCreditPolicy.Warning(c, unsettledFen)
}

// Warning grades customer c by credit level and, when unsettledFen is
// known (>= 0; pass -1 when it is not), by the unsettled amount against
// the credit limit: over the limit is danger, 80% of it caution. The
// message is English for logs and API clients; the UI translates by
// level and shows the amounts itself.
func (p CreditPolicy) Warning(c *Customer, unsettledFen int64) (CreditLevel, string) {
	level := CreditNone
	var msgs []string
	raise := func(l CreditLevel, msg string) {
		level = max(level, l)
		msgs = append(msgs, msg)
	}
	cl := strings.TrimSpace(c.Get("credit_level"))
	has := func(set []string) bool {
		for _, s := range set {
			if strings.EqualFold(s, cl) {
				return true
			}
		}
		return false
	}
	switch {
	case cl == "":
	case has(p.Bad):
		raise(CreditDanger, fmt.Sprintf("credit level %s: do not extend credit", cl))
	case has(p.Low):
		raise(CreditCaution, fmt.Sprintf("low credit level %s", cl))
	}
	if limit, ok := parseFen(c.Get("credit_limit")); ok && unsettledFen >= 0 {
		limit = max(limit, 0)
		switch {
		case unsettledFen > limit:
			raise(CreditDanger, fmt.Sprintf("unsettled %s exceeds the credit limit %s", Yuan(unsettledFen), Yuan(limit)))
		case limit > 0 && unsettledFen*10 >= limit*8:
			raise(CreditCaution, fmt.Sprintf("unsettled %s is %d%% of the credit limit %s", Yuan(unsettledFen), unsettledFen*100/limit, Yuan(limit)))
		}
	}
	return level, strings.Join(msgs, "; ")
}

// parseFen reads a decimal amount of yuan ("5000", "5000.5", "-12.34")
// into fen, dropping digits beyond the fen.
func parseFen(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if !yuanRe.MatchString(s) {
		return 0, false
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	y, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || y > MaxAmount {
		return 0, false
	}
	n := y*100 + f
	if neg {
		n = -n
	}
	return n, true
}

// Yuan formats an amount in fen as "¥1234.56" (negative: "-¥1.50").
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, fen/100, fen%100)
}
