package dialplan

import "testing"

func TestNames(t *testing.T) {
	for _, c := range []struct {
		s         string
		ext, user bool
	}{
		{"8101", true, true},
		{"12", true, true},
		{"1", false, true},
		{"12345678901", false, true},
		{"li.courier", false, true},
		{"wang@sh-pudong", false, true},
		{"", false, false},
		{"李师傅", false, false},
		{"a b", false, false},
		{string(make([]byte, 65)), false, false},
	} {
		if got := ValidExtension(c.s); got != c.ext {
			t.Errorf("ValidExtension(%q) = %v", c.s, got)
		}
		if got := ValidUser(c.s); got != c.user {
			t.Errorf("ValidUser(%q) = %v", c.s, got)
		}
	}
}
