package crm

import (
	"maps"
	"slices"
	"strings"
	"unicode"

	"branchline/fault"
	"branchline/replication"
)

// legalSuffixes are endings of company names that do not tell companies
// apart (folded, without punctuation), longest first.
var legalSuffixes = []string{
	"股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司",
	"coltd", "limited", "ltd", "inc",
}

// NormalizeName is the form of a customer name duplicate detection
// compares: folded (see Fold), without punctuation and symbols, and
// without a trailing legal form, so that "上海浦东速递有限公司" and
// "上海 浦东速递公司" compare equal.
func NormalizeName(name string) string {
	n := strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsSymbol(r) {
			return -1
		}
		return r
	}, Fold(name))
	for _, s := range legalSuffixes {
		if base, ok := strings.CutSuffix(n, s); ok && base != "" {
			return base
		}
	}
	return n
}

// Duplicate is a stored customer that a customer being entered may
// duplicate, and why: the names of the entered fields that matched
// ("phone", "mobile", "finance_phone", "name").
type Duplicate struct {
	Customer *Customer
	Reasons  []string
}

// maxDuplicates bounds the candidates FindDuplicates reports.
const maxDuplicates = 50

// FindDuplicates lists the customers (not in the recycle bin) that share a
// phone number with fields (in any phone field of theirs or of their
// contacts), or whose normalised name equals the name in fields and whose
// city is the same when both have one. fields holds raw or canonical
// values by field name; a bad phone number is reported as *fault.Invalid.
// The result is in id order.
func FindDuplicates(views replication.Tx, fields map[string]string) ([]Duplicate, error) {
	reasons := map[string][]string{}
	for _, f := range Fields {
		raw := fields[f.Name]
		if f.typ != phoneField || strings.TrimSpace(raw) == "" {
			continue
		}
		e164, err := NormalizePhone(raw, DefaultRegion)
		if err != nil {
			if inv, ok := fault.AsInvalid(err); ok {
				inv.Field = f.Name
			}
			return nil, err
		}
		ids, err := scanIDs(views, phonePrefix(e164), maxDuplicates)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			reasons[id] = append(reasons[id], f.Name)
		}
	}
	if n := NormalizeName(fields["display_name"]); n != "" {
		city := Fold(fields["city"])
		p := namePrefix(n)
		err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
			if city == "" || len(v) == 0 || string(v) == city {
				id := string(k[len(p):])
				reasons[id] = append(reasons[id], "name")
			}
			return len(reasons) < 2*maxDuplicates, nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out []Duplicate
	for _, id := range slices.Sorted(maps.Keys(reasons)) {
		c, err := readCustomer(views, id)
		if err != nil {
			return nil, err
		}
		if c == nil || c.Deleted {
			continue
		}
		out = append(out, Duplicate{Customer: c, Reasons: slices.Compact(reasons[id])})
		if len(out) == maxDuplicates {
			break
		}
	}
	return out, nil
}
