package crm

import (
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Conflicts of memberships: what concurrent offline work left
// inconsistent — a counter overdrawn by spends at two nodes, a coupon
// redeemed at two — listed for staff while it lasts (see member.go for the
// merge rules).

var conflictPrefix = replication.Prefix("crm", "conflict")

// Conflict is one thing concurrent offline work made inconsistent, for
// staff to settle.
type Conflict struct {
	Key      string // opaque, for paging
	Kind     crmv1.MemberConflictKind
	Customer string
	Coupon   *Coupon // coupon conflicts
	Amount   int64   // overdrafts: the negative total
}

// ListConflicts returns up to limit conflicts after the one whose Key is
// after, in key order.
func ListConflicts(views replication.Tx, after string, limit int, now time.Time) ([]Conflict, error) {
	var start []byte
	if after != "" {
		rest, err := hex.DecodeString(after)
		if err != nil || len(rest) == 0 {
			return nil, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
		}
		start = append(append(append([]byte(nil), conflictPrefix...), rest...), 0)
	}
	var keys [][]byte
	if err := views.Scan(conflictPrefix, start, func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k[len(conflictPrefix):]...))
		return len(keys) < limit, nil
	}); err != nil {
		return nil, err
	}
	var out []Conflict
	for _, rest := range keys {
		parts := strings.Split(string(rest), "\x00")
		c := Conflict{Key: hex.EncodeToString(rest)}
		switch {
		case len(parts) == 2 && parts[0] == "coupon":
			cp, err := GetCoupon(views, parts[1], now)
			if errors.Is(err, errNoSuchCoupon) {
				// Redeemed here before its issue arrived: show what we have.
				cp = &Coupon{CouponRecord: &crmv1.CouponRecord{Code: parts[1]}}
			} else if err != nil {
				return nil, err
			}
			c.Kind, c.Coupon, c.Customer = crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_COUPON_REDEEMED_TWICE, cp, cp.Customer
		case len(parts) == 3 && parts[0] == "overdraw":
			n, err := replication.GetCounter(views, counterKey(parts[1], parts[2]))
			if err != nil {
				return nil, err
			}
			c.Kind, c.Customer, c.Amount = crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_BALANCE_OVERDRAWN, parts[1], n
			if parts[2] == counterPoints {
				c.Kind = crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_POINTS_OVERDRAWN
			}
		default:
			continue // a kind of a newer version
		}
		out = append(out, c)
	}
	return out, nil
}
