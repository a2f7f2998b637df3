package crm

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// MaskPhone shows a stored (E.164) number with its middle digits hidden, as
// the people who may not see numbers read it: the number as dialled in
// the default region, keeping the trunk prefix and area or mobile network
// code and the last four digits. "+8613812345678" → "138****5678",
// "+862162345678" → "021****5678", "+8675512345678" → "0755****5678".
// Numbers of other regions keep their country code: "+1 650****0000".
// Text that is not a number keeps only its last two characters.
func MaskPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	n, err := phonenumbers.Parse(e164, DefaultRegion)
	if err != nil {
		return maskMiddle(e164, 0, 2)
	}
	nsn := phonenumbers.GetNationalSignificantNumber(n)
	ndc := phonenumbers.GetLengthOfNationalDestinationCode(n)
	if phonenumbers.GetRegionCodeForNumber(n) == DefaultRegion {
		digits := phoneDigits(e164)
		trunk := len(digits) - len(nsn) // the national prefix, "0" for landlines
		if trunk < 0 {
			trunk = 0
		}
		return maskMiddle(digits, trunk+ndc, 4)
	}
	cc := phonenumbers.GetCountryCodeForRegion(phonenumbers.GetRegionCodeForNumber(n))
	prefix := "+" + strconv.Itoa(cc) + " "
	return prefix + maskMiddle(nsn, ndc, 4)
}

// maskMiddle keeps the first keep and last tail characters of s and
// replaces what is between with as many '*'. When too little would be
// hidden, it hides more of the beginning.
func maskMiddle(s string, keep, tail int) string {
	rs := []rune(s)
	if tail > len(rs)/2 {
		tail = len(rs) / 2
	}
	if keep+tail > len(rs)-2 {
		keep = max(0, len(rs)-tail-4)
	}
	if keep+tail >= len(rs) {
		keep = 0
	}
	return string(rs[:keep]) + strings.Repeat("*", len(rs)-keep-tail) + string(rs[len(rs)-tail:])
}
