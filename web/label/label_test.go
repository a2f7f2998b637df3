package label_test

import (
	"errors"
	"html"
	"image"
	"image/color"
	"image/draw"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"

	"branchline/fault"
	"branchline/web/label"
)

var (
	viewBox = regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`)
	bar     = regexp.MustCompile(`M(\d+) 0h(\d+)v\d+h-\d+z`)
)

// raster draws the bars of an SVG that Barcode.SVG made, scale pixels a
// module, as a printer would: what a scanner would see.
func raster(t *testing.T, svg string, scale int) image.Image {
	t.Helper()
	m := viewBox.FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no viewBox in %.200s", svg)
	}
	w, _ := strconv.Atoi(m[1])
	img := image.NewGray(image.Rect(0, 0, w*scale, 60))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	bars := bar.FindAllStringSubmatch(svg, -1)
	if len(bars) == 0 {
		t.Fatalf("no bars in %.200s", svg)
	}
	for _, b := range bars {
		x, _ := strconv.Atoi(b[1])
		bw, _ := strconv.Atoi(b[2])
		draw.Draw(img, image.Rect(x*scale, 0, (x+bw)*scale, 60), image.NewUniform(color.Black), image.Point{}, draw.Src)
	}
	return img
}

// decode reads a Code 128 symbol from img with ZXing's reader, as a
// scanner would.
func decode(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := oned.NewCode128Reader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("no Code 128 read: %v", err)
	}
	return res.GetText()
}

// TestCode128Decodes: what the SVG draws reads back, with a Code 128
// reader, as the text it was given — numbers of every kind the pages
// print, and text needing escapes in HTML.
func TestCode128Decodes(t *testing.T) {
	for _, c := range []struct{ name, text string }{
		{"pickup number", "P-br-web-260106-12"},
		{"waybill", "br-web-260106-12"},
		{"EAN-13 digits", "6901234567892"},
		{"odd digits", "1234567"},
		{"product code", "MILK-1L"},
		{"one character", "A"},
		{"lower case and punctuation", "sku_a.b-c~d"},
		{"HTML characters", `A"<B>&'C`},
		{"spaces", "X 1 2"},
		{"longest barcode", strings.Repeat("7A", 32)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := label.Code128(c.text)
			if err != nil {
				t.Fatal(err)
			}
			svg := string(b.SVG())
			if got := decode(t, raster(t, svg, 3)); got != c.text {
				t.Fatalf("the barcode of %q reads %q", c.text, got)
			}
			if got := decode(t, raster(t, string(label.SVG(c.text)), 2)); got != c.text {
				t.Fatalf("label.SVG(%q) reads %q", c.text, got)
			}
			// Its name and data-text carry the text, escaped.
			esc := html.EscapeString(c.text)
			if !strings.Contains(svg, `aria-label="`+esc+`"`) || !strings.Contains(svg, `data-text="`+esc+`"`) {
				t.Fatalf("the SVG does not name %q: %.300s", c.text, svg)
			}
			if strings.Contains(svg, "<B") {
				t.Fatalf("unescaped text in the SVG: %s", svg)
			}
			// Quiet zones: no bar within 10 modules of either end.
			bars := bar.FindAllStringSubmatch(svg, -1)
			first, _ := strconv.Atoi(bars[0][1])
			lx, _ := strconv.Atoi(bars[len(bars)-1][1])
			lw, _ := strconv.Atoi(bars[len(bars)-1][2])
			if first != label.QuietZone || b.Modules()-(lx+lw) != label.QuietZone {
				t.Fatalf("bars from module %d to %d of %d: quiet zones of %d wanted", first, lx+lw, b.Modules(), label.QuietZone)
			}
		})
	}
}

// TestCode128Refuses: text Code 128 cannot carry is an invalid input, and
// label.SVG shows it as text, with no bars.
func TestCode128Refuses(t *testing.T) {
	for _, c := range []struct{ name, text, code string }{
		{"empty", "", "required"},
		{"Chinese", "取件单", "not_code128"},
		{"tab", "A\tB", "not_code128"},
		{"new line", "A\n", "not_code128"},
		{"delete", "A\x7f", "not_code128"},
		{"Latin-1", "café", "not_code128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := label.Code128(c.text)
			inv, ok := fault.AsInvalid(err)
			if !ok || inv.Code != c.code {
				t.Fatalf("Code128(%q): %v, want invalid %s", c.text, err, c.code)
			}
			out := string(label.SVG(c.text))
			if strings.Contains(out, "<svg") || !strings.Contains(out, `class="barcode none"`) || !strings.Contains(out, html.EscapeString(c.text)) {
				t.Fatalf("label.SVG(%q) = %s", c.text, out)
			}
		})
	}
	if out := string(label.SVG(`取<script>`)); strings.Contains(out, "<script>") {
		t.Fatalf("unescaped fallback: %s", out)
	}
}

// TestDifferentTextsDifferentBars: the bars depend on the text (a
// constant drawing would read back as one text only).
func TestDifferentTextsDifferentBars(t *testing.T) {
	a, err := label.Code128("P-br-web-260106-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := label.Code128("P-br-web-260106-2")
	if err != nil {
		t.Fatal(err)
	}
	if a.SVG() == b.SVG() {
		t.Fatal("two numbers draw the same bars")
	}
}

func TestCopies(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 1, true}, {" 3 ", 3, true}, {"1", 1, true}, {strconv.Itoa(label.MaxCopies), label.MaxCopies, true},
		{"0", 0, false}, {"-2", 0, false}, {strconv.Itoa(label.MaxCopies + 1), 0, false}, {"two", 0, false},
		{"1.5", 0, false}, {"1e3", 0, false}, {"99999999999999999999", 0, false},
	} {
		n, err := label.Copies(c.in)
		if c.ok != (err == nil) || n != c.want {
			t.Errorf("Copies(%q) = %d, %v; want %d, ok %v", c.in, n, err, c.want, c.ok)
		}
		if err != nil {
			var inv *fault.Invalid
			if !errors.As(err, &inv) || inv.Field != "copies" || inv.Code != "bad_copies" {
				t.Errorf("Copies(%q): %v, want invalid copies", c.in, err)
			}
		}
	}
}

func TestSheets(t *testing.T) {
	items := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	for _, c := range []struct {
		n, per int
		sizes  []int
	}{
		{0, 21, nil}, {1, 21, []int{1}}, {21, 21, []int{21}}, {22, 21, []int{21, 1}}, {50, 21, []int{21, 21, 8}},
		{3, 0, []int{1, 1, 1}},
	} {
		sheets := label.Sheets(items(c.n), c.per)
		var sizes []int
		next := 0
		for _, s := range sheets {
			sizes = append(sizes, len(s))
			for _, v := range s {
				if v != next {
					t.Fatalf("%d in %d: item %d where %d was due", c.n, c.per, v, next)
				}
				next++
			}
		}
		if !slices.Equal(sizes, c.sizes) {
			t.Errorf("%d items, %d a sheet: sheets of %v, want %v", c.n, c.per, sizes, c.sizes)
		}
	}
	// A sheet is its own slice: appending to one does not write the next.
	s := label.Sheets(items(4), 2)
	_ = append(s[0], 99) // the result is thrown away: only s[1] matters
	if s[1][0] != 2 {
		t.Fatalf("appending to sheet 1 overwrote sheet 2: %v", s)
	}
}
