package web

import (
	"fmt"
	"html/template"
	"strings"
)

// Bar charts drawn on the server as inline SVG: no chart library, no
// script, nothing from a CDN, and they print. Colours come from app
// CSS classes (.chart .s0, .s1…), so the SVG carries no style attribute
// (the pages' CSP forbids inline styles).

// Series is one measure of a chart: its legend and a value per category.
type Series struct {
	Name   string
	Values []int64
}

// Chart is a bar chart of categories, one bar per series in each.
type Chart struct {
	Title      string
	Categories []string
	Series     []Series
	// Format writes a value as its label; nil writes the number.
	Format func(int64) string
}

func (c Chart) label(v int64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return fmt.Sprint(v)
}

func (c Chart) max() int64 {
	var m int64
	for _, s := range c.Series {
		for _, v := range s.Values {
			m = max(m, v)
		}
	}
	return m
}

// esc escapes text for SVG.
func esc(s string) string { return template.HTMLEscapeString(s) }

// Sizes of the charts, in SVG units: pages draw them at most maxWidth
// CSS pixels wide (pickup.css), so text stays legible from a phone to a
// desktop.
const (
	chartWidth = 440
	fontSize   = 13 // of labels; .chart text in pickup.css
)

// textWidth estimates the width of s at fontSize: CJK characters are
// square, others about half as wide.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		if r >= 0x2E80 {
			w += fontSize
		} else {
			w += fontSize * 6 / 10
		}
	}
	return w
}

// Fit cuts s with an ellipsis to at most width units.
func Fit(s string, width int) string {
	if textWidth(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && textWidth(string(r))+fontSize > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// head opens the SVG with the chart's title and legend.
func (c Chart) head(b *strings.Builder, width, height int) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width, height, esc(c.Title))
	fmt.Fprintf(b, `<title>%s</title><text x="0" y="16" class="title">%s</text>`, esc(c.Title), esc(c.Title))
	c.legend(b, 0, 38)
}

// legendH is the height the legend takes: none for one series.
func (c Chart) legendH() int {
	if len(c.Series) < 2 {
		return 0
	}
	return 20
}

// legend writes the series' legend at y, under the title.
func (c Chart) legend(b *strings.Builder, x, y int) {
	if len(c.Series) < 2 {
		return
	}
	for i, s := range c.Series {
		fmt.Fprintf(b, `<rect class="s%d" x="%d" y="%d" width="10" height="10"/><text x="%d" y="%d" class="legend">%s</text>`,
			i, x, y-9, x+14, y, esc(s.Name))
		x += 30 + textWidth(s.Name)
	}
}

// HBars draws the chart with a horizontal bar per category and series:
// labels on the left, which suits names (branches, couriers, customers)
// and narrow screens.
func (c Chart) HBars() template.HTML {
	const (
		width = chartWidth
		barH  = 15
		gap   = 10
	)
	// The label column fits the longest label, up to a third of the width.
	labelW := 40
	for _, cat := range c.Categories {
		labelW = max(labelW, textWidth(cat)+10)
	}
	labelW = min(labelW, width/3)
	valueW := 20
	for _, s := range c.Series {
		for _, v := range s.Values {
			valueW = max(valueW, textWidth(c.label(v))+10)
		}
	}
	top := 30 + c.legendH()
	n := len(c.Series)
	rowH := n*barH + gap
	height := top + len(c.Categories)*rowH + 4
	m := c.max()
	var b strings.Builder
	c.head(&b, width, height)
	span := width - labelW - valueW
	for i, cat := range c.Categories {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, labelW-8, y+n*barH/2+4, esc(Fit(cat, labelW-10)))
		for k, s := range c.Series {
			v := s.Values[i]
			w := 0
			if m > 0 {
				w = int(float64(v) / float64(m) * float64(span))
			}
			if v > 0 && w < 2 {
				w = 2
			}
			by := y + k*barH
			fmt.Fprintf(&b, `<rect class="s%d" x="%d" y="%d" width="%d" height="%d" rx="2"><title>%s · %s: %s</title></rect>`,
				k, labelW, by, w, barH-2, esc(cat), esc(s.Name), esc(c.label(v)))
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%s</text>`, labelW+w+5, by+barH-3, esc(c.label(v)))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, labelW, top-4, labelW, height-4)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// VBars draws the chart with vertical bars, categories along the bottom:
// for days.
func (c Chart) VBars() template.HTML {
	const (
		width  = chartWidth
		height = 220
		bottom = 24
		left   = 4
		maxBar = 30 // a bar's widest, so that a short range does not draw slabs
	)
	top := 40 + c.legendH()
	n := len(c.Series)
	cats := len(c.Categories)
	m := c.max()
	var b strings.Builder
	c.head(&b, width, height)
	plotH := height - top - bottom
	if cats > 0 {
		slot := float64(width-2*left) / float64(cats)
		barW := min((slot*0.7)/float64(n), maxBar)
		group := barW * float64(n)
		// Label every every-th category, and the values when they fit.
		widest := 0
		for _, cat := range c.Categories {
			widest = max(widest, textWidth(cat)+6)
		}
		every := max(1, int(float64(widest)/slot)+1)
		values := barW >= float64(textWidth(c.label(m)))*0.8
		for i, cat := range c.Categories {
			x0 := float64(left) + slot*float64(i) + (slot-group)/2
			for k, s := range c.Series {
				v := s.Values[i]
				h := 0.0
				if m > 0 {
					h = float64(v) / float64(m) * float64(plotH)
				}
				if v > 0 && h < 2 {
					h = 2
				}
				x := x0 + barW*float64(k)
				y := float64(top+plotH) - h
				fmt.Fprintf(&b, `<rect class="s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2"><title>%s · %s: %s</title></rect>`,
					k, x, y, barW-1, h, esc(cat), esc(s.Name), esc(c.label(v)))
				if v > 0 && values {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="value" text-anchor="middle">%s</text>`, x+barW/2, y-4, esc(c.label(v)))
				}
			}
			if (cats-1-i)%every == 0 { // the last day always
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="label" text-anchor="middle">%s</text>`, x0+group/2, height-6, esc(cat))
			}
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, top+plotH, width-left, top+plotH)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
