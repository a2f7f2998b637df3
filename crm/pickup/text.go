package pickup

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"branchline/dialplan"
	"branchline/fault"
)

// Bounds of text fields, in characters.
const (
	maxName    = 64
	maxAddress = 200
	maxCompany = 100
	maxDest    = 64
	maxGoods   = 100
	maxNote    = 200
	maxReason  = 200
)

// Bounds of quantities.
const (
	// MaxWeightGrams is the heaviest pickup: one tonne.
	MaxWeightGrams = 1_000_000
	// MaxPieces is the most pieces of one pickup.
	MaxPieces = 9999
	// MaxFen bounds any single amount of money: ten million yuan.
	MaxFen = 1_000_000_000
)

var (
	phoneRe    = regexp.MustCompile(`^\+?[0-9][0-9 -]{2,30}$`)
	postcodeRe = regexp.MustCompile(`^[0-9A-Za-z-]{1,10}$`)
	zoneRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	dayRe      = regexp.MustCompile(`^[0-9]{8}$`)
)

// ValidUser reports whether s can name a courier: a courier is a user who
// may take calls and messages, named as the phone system names its users
// (dialplan).
func ValidUser(s string) bool { return dialplan.ValidUser(s) }

// ValidZoneID reports whether s can name a zone: 1-32 of a-z, 0-9 and
// '-', not starting with '-'.
func ValidZoneID(s string) bool { return zoneRe.MatchString(s) }

// line checks a single-line text field and returns it trimmed: valid
// UTF-8, no NUL, CR or LF, at most max characters, and not empty when
// required.
func line(field, v string, max int, required bool) (string, error) {
	if !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n") {
		return "", fault.Invalidf(field, "bad_text", "not valid single-line UTF-8 text")
	}
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n > max {
		return "", fault.Invalidf(field, "too_long", "%d characters, at most %d", n, max)
	}
	if required && v == "" {
		return "", fault.Invalidf(field, "required", "is required")
	}
	return v, nil
}

// phone checks a phone number: digits, spaces and '-', optionally after
// a '+'.
func phone(field, v string, required bool) (string, error) {
	v, err := line(field, v, 32, required)
	if err != nil || v == "" {
		return v, err
	}
	if !phoneRe.MatchString(v) {
		return "", fault.Invalidf(field, "bad_phone", "%q is not a phone number", v)
	}
	return v, nil
}

func postcode(field, v string) (string, error) {
	v, err := line(field, v, 10, false)
	if err != nil || v == "" {
		return v, err
	}
	if !postcodeRe.MatchString(v) {
		return "", fault.Invalidf(field, "bad_postcode", "%q is not a postcode", v)
	}
	return v, nil
}

// validDay reports whether s is a real date written "yyyyMMdd".
func validDay(s string) bool {
	if !dayRe.MatchString(s) {
		return false
	}
	_, err := time.Parse("20060102", s)
	return err == nil
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
