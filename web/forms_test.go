package web

import (
	"strings"
	"testing"
)

func TestKgToGrams(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"2", 2000, false},
		{"1.5", 1500, false},
		{"0.25", 250, false},
		{".5", 500, false},
		{"0.001", 1, false},
		{"-2", -2000, false}, // the domain refuses it with its own message
		{"", 0, false},
		{"1.2345", 0, true},
		{"1,5", 0, true},
		{"abc", 0, true},
		{"12345678", 0, true},
		{".", 0, true},
	}
	for _, c := range cases {
		got, err := KgToGrams("weight_kg", c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("KgToGrams(%q) = %d, %v; want %d, bad %v", c.in, got, err, c.want, c.bad)
		}
	}
	for _, g := range []int64{1500, 2000, 1, 250} {
		back, err := KgToGrams("w", KgText(g))
		if err != nil || back != g {
			t.Errorf("KgText(%d) = %q reads back as %d, %v", g, KgText(g), back, err)
		}
	}
}

// TestChartEscapes: labels are text in the SVG, never markup.
func TestChartEscapes(t *testing.T) {
	c := Chart{Title: `<b>"t"</b>`, Categories: []string{`<script>alert(1)</script>`, "br-2"},
		Series: []Series{{Name: "a&b", Values: []int64{3, 0}}}}
	for _, svg := range []string{string(c.HBars()), string(c.VBars())} {
		if strings.Contains(svg, "<script>") || strings.Contains(svg, `<b>`) || !strings.Contains(svg, "&lt;script&gt;") {
			t.Fatalf("unescaped chart:\n%s", svg)
		}
		if !strings.HasPrefix(svg, "<svg") || strings.Contains(svg, "style=") {
			t.Fatalf("chart is not a styled-by-class SVG:\n%s", svg)
		}
	}
}
