package telephony_test

import (
	"testing"

	"branchline/telephony"
)

// FuzzParseWindow: any text parses or is refused without panic, and a
// window that parses reads back from its canonical form.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"08:00-18:00", "1-5 08:00-18:00", "1,3,6-7 22:00-06:00", "24:00-01:00", "7-1 x", "1-7 09:00-10:00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := telephony.ParseWindow(s)
		if err != nil {
			return
		}
		w2, err := telephony.ParseWindow(w.String())
		if err != nil || w2 != w {
			t.Fatalf("%q -> %q -> %+v, %v", s, w.String(), w2, err)
		}
	})
}
