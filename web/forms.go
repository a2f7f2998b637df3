package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"branchline/crm"
	"branchline/fault"
)

// The notations forms and pages share: money in yuan, weights in
// kilograms, days, phone numbers.

// KgText shows grams as kilograms: 1500 → "1.5".
func KgText(grams int64) string {
	s := strconv.FormatFloat(float64(grams)/1000, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// KgToGrams reads a weight in kilograms ("2", "1.5", "0.25") as grams. A
// minus sign is kept, so that the domain refuses a negative weight with
// its own message; blank is 0.
func KgToGrams(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	bad := fault.Invalidf(field, "bad_number", "%q is not a weight in kilograms", s)
	if (whole == "" && frac == "") || len(whole) > 7 || len(frac) > 3 ||
		strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, bad
	}
	n, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.Atoi((frac + "000")[:3])
	g := n*1000 + int64(f)
	if neg {
		g = -g
	}
	return g, nil
}

// YuanText writes fen as yuan for an input's value: 1250 → "12.50".
func YuanText(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// YuanToFen reads an amount in yuan ("12", "12.5", "12.34") as fen; blank
// is 0.
func YuanToFen(field, s string) (int64, error) {
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

// DayText writes a day kept as "yyyyMMdd" as "yyyy-MM-dd".
func DayText(d string) string {
	if len(d) == 8 {
		return d[:4] + "-" + d[4:6] + "-" + d[6:]
	}
	return d
}

// DateText shows a time as a date in the business zone; zero shows
// nothing.
func (s *Server) DateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.cfg.Location).Format("2006-01-02")
}

// ParseDay reads a date ("2006-01-02") in the business zone; blank is
// zero.
func (s *Server) ParseDay(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, s.cfg.Location)
	if err != nil {
		return time.Time{}, fault.Invalidf(field, "bad_date", "%q is not a date", v)
	}
	return t, nil
}

// DayBounds returns the day d ("2006-01-02") of the business zone as
// [from, to).
func (s *Server) DayBounds(d string) (time.Time, time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02", d, s.cfg.Location)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return t, t.AddDate(0, 0, 1), true
}

// telHref is the tel: link of a phone number as typed ("139 1234-5678").
// A stored E.164 number dials as the default region's phones dial it
// (crm.DialString): nationally for a number of the region.
func telHref(phone string) template.URL {
	n := strings.Map(func(r rune) rune {
		if r == '+' || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, phone)
	if strings.HasPrefix(n, "+") {
		n = crm.DialString(n)
	}
	return template.URL("tel:" + n)
}

// DisplayPhone shows an E.164 number in national format; a masked number
// (138****5678) is shown as it is.
func DisplayPhone(v string) string {
	if v == "" || strings.Contains(v, "*") {
		return v
	}
	return crm.FormatPhone(v, crm.DefaultRegion)
}
