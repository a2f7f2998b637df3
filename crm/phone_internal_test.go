package crm

import "testing"

// phoneDigits' fast path for Chinese numbers gives what formatting with
// phonenumbers gives, but for service numbers, which gain a leading 0
// (every substring of the digits is indexed, so searches find them alike).
func TestPhoneDigitsFastPath(t *testing.T) {
	for _, raw := range []string{"13800138000", "19912345678", "010 8888 8888", "021 6234 5678", "0755 8765 4321",
		"0571 8888 1234", "0898 6666 7777", "17012345678"} {
		e, err := NormalizePhone(raw, DefaultRegion)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got, want := phoneDigits(e), digitsOf(FormatPhone(e, DefaultRegion)); got != want {
			t.Errorf("phoneDigits(%s) = %s, phonenumbers formats %s", e, got, want)
		}
	}
	if e, err := NormalizePhone("400 810 8888", DefaultRegion); err == nil {
		if got, want := phoneDigits(e), digitsOf(FormatPhone(e, DefaultRegion)); got != "0"+want && got != want {
			t.Errorf("phoneDigits(%s) = %s, want %s or 0%s", e, got, want, want)
		}
	}
}
