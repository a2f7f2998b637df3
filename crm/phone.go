package crm

import (
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"branchline/fault"
)

// DefaultRegion is the region numbers without a country code belong to.
const DefaultRegion = "CN"

// maxPhoneLen bounds, in characters, what NormalizePhone parses.
const maxPhoneLen = 32

// NormalizePhone turns a phone number as people type it ("138 0013 8000",
// "+86-10-8888 8888", "010 88888888") into E.164 ("+8613800138000").
// Numbers that are not valid for their region are refused, so lookups
// and duplicate checks compare like with like.
func NormalizePhone(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	// Characters, not bytes: people type full-width digits ("１３８…",
	// three bytes each) that phonenumbers reads like ASCII ones.
	if utf8.RuneCountInString(s) > maxPhoneLen {
		return "", fault.Invalidf("", "bad_phone", "phone number %q… is too long", string([]rune(s)[:maxPhoneLen]))
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", fault.Invalidf("", "bad_phone", "%q is not a valid phone number", s)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// FormatPhone shows an E.164 number the way people of region write it:
// nationally for numbers of the region, internationally otherwise.
func FormatPhone(e164, region string) string {
	n, err := phonenumbers.Parse(e164, region)
	if err != nil {
		return e164
	}
	if phonenumbers.GetRegionCodeForNumber(n) == region {
		return phonenumbers.Format(n, phonenumbers.NATIONAL)
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// DialString is how a switch of the default region dials a stored E.164
// number: the digits of its national form for a number of the region
// (13800138000, 02155556666), as the trunks expect, and the E.164 form
// for a number abroad.
func DialString(e164 string) string {
	n, err := phonenumbers.Parse(e164, DefaultRegion)
	if err != nil || phonenumbers.GetRegionCodeForNumber(n) != DefaultRegion {
		return e164
	}
	return digitsOf(phonenumbers.Format(n, phonenumbers.NATIONAL))
}

// isE164 reports whether s has the form of an E.164 number: "+", a digit
// 1-9, then 6 to 14 more digits.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
