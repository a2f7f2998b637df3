// Package label draws the machine-readable part of what Branchline prints
// — pickup slips, 100×150 mm shipping labels, product barcode labels and,
// later, order documents — and lays copies of a label out on sheets.
//
// A barcode is drawn as inline SVG, vectors in the page itself: no image
// file, no font, no script and no network, so that a branch cut off from
// the internet prints as well as one that is not, and a printer gets
// sharp bars whatever its resolution. The page it sits in (the web
// kernel's print layout, templates/print.html and static/print.css) gives
// it its size on paper.
//
// The package depends on no domain and no web package: the page packages
// call it (through the kernel's "barcode" template function and Sheets),
// never the other way round.
package label

import (
	"fmt"
	"html/template"
	"image/color"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/code128"

	"branchline/fault"
)

// QuietZone is the blank margin, in modules, drawn on each side of the
// bars: a scanner finds a symbol's ends by it (ISO/IEC 15417 asks for 10).
const QuietZone = 10

// height is the bars' height in the SVG's own units (one unit is a
// module): the aspect a barcode has where the page sets no height. The
// print stylesheet sets the height it prints at.
const height = 40

// Barcode is a Code 128 symbol: the text it carries and its modules, the
// width of the narrowest bar each, dark or light, quiet zones included.
type Barcode struct {
	Text    string
	modules []bool
}

// Code128 encodes text as a Code 128 symbol. Text is printable ASCII
// (space to ~), which every number Branchline prints is (pickup and
// waybill numbers, product codes and barcodes); anything else — empty,
// control characters, Chinese — cannot be carried by Code 128 and is an
// invalid input.
func Code128(text string) (*Barcode, error) {
	if text == "" {
		return nil, fault.Invalidf("barcode", "required", "nothing to encode")
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < ' ' || c > '~' {
			return nil, fault.Invalidf("barcode", "not_code128", "%q is not printable ASCII: Code 128 cannot carry it", text)
		}
	}
	sym, err := code128.Encode(text)
	if err != nil {
		return nil, fmt.Errorf("code 128 %q: %w", text, err)
	}
	w := sym.Bounds().Dx()
	b := &Barcode{Text: text, modules: make([]bool, w+2*QuietZone)}
	for x := range w {
		b.modules[QuietZone+x] = color.GrayModel.Convert(sym.At(x, 0)).(color.Gray).Y < 128
	}
	return b, nil
}

// Modules is the symbol's width in modules, quiet zones included: what a
// page divides the printed width by to know a module's width.
func (b *Barcode) Modules() int { return len(b.modules) }

// SVG draws the symbol as an inline SVG element of class "barcode": one
// path of dark bars in a viewBox one unit per module, stretched to the
// width and height the stylesheet gives it (preserveAspectRatio none),
// with crisp edges so that a bar never blurs into its neighbour. Its
// accessible name and its data-text attribute are the text it carries.
func (b *Barcode) SVG() template.HTML {
	var sb strings.Builder
	text := template.HTMLEscapeString(b.Text)
	fmt.Fprintf(&sb, `<svg class="barcode" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" preserveAspectRatio="none" shape-rendering="crispEdges" role="img" aria-label="%s" data-text="%s"><path d="`,
		len(b.modules), height, text, text)
	for x := 0; x < len(b.modules); {
		if !b.modules[x] {
			x++
			continue
		}
		w := 1
		for x+w < len(b.modules) && b.modules[x+w] {
			w++
		}
		sb.WriteString("M" + strconv.Itoa(x) + " 0h" + strconv.Itoa(w) + "v" + strconv.Itoa(height) + "h-" + strconv.Itoa(w) + "z")
		x += w
	}
	sb.WriteString(`"/></svg>`)
	return template.HTML(sb.String())
}

// SVG draws text as a Code 128 barcode (Barcode.SVG); text that Code 128
// cannot carry is shown as plain text in a box of class "barcode none"
// instead, so that a printout is never refused for its barcode: the text
// printed under it can still be typed in. It is the print templates'
// "barcode" function.
func SVG(text string) template.HTML {
	b, err := Code128(text)
	if err != nil {
		return template.HTML(`<span class="barcode none" data-text="` + template.HTMLEscapeString(text) + `">` + template.HTMLEscapeString(text) + `</span>`)
	}
	return b.SVG()
}
