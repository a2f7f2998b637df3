package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	bt "branchline/internal/browsertest"
)

// The printouts in a real Chromium (issue 15 part 6): the agent opens a
// pickup's slip and label from its page, and the list's printouts; a
// scanner's reader (ZXing's Code 128) reads the barcode off a screenshot
// of the page; and Chromium's own PDF printing lays each out on A4, A5
// and 100 × 150 mm paper, where a label must take exactly one page.
// Screenshots and PDFs go to artifacts/web/.

// mm is a length on paper in inches, as PDF printing takes it.
func mm(v float64) float64 { return v / 25.4 }

// Papers the tests print on.
var (
	paperLabel = chromedp.PaperSize{Width: mm(100), Height: mm(150)}
	paperA4    = chromedp.PaperA4
	paperA5    = chromedp.PaperA5
)

var (
	pdfPageRe     = regexp.MustCompile(`/Type\s*/Page\b[^s]`)
	pdfMediaBoxRe = regexp.MustCompile(`/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]`)
)

// pdfPage is a page's size in points (1/72 inch).
type pdfPage struct{ w, h float64 }

// pdfPages reads the pages of a PDF Chromium printed: its page objects
// (which it writes uncompressed) and their media boxes.
func pdfPages(t *testing.T, pdf []byte) []pdfPage {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.20q", pdf)
	}
	var pages []pdfPage
	for _, m := range pdfMediaBoxRe.FindAllSubmatch(pdf, -1) {
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(string(m[i+1]), 64)
		}
		pages = append(pages, pdfPage{v[2] - v[0], v[3] - v[1]})
	}
	if n := len(pdfPageRe.FindAll(pdf, -1)); n != len(pages) {
		t.Fatalf("%d page objects, %d media boxes", n, len(pages))
	}
	return pages
}

// printPDF prints the page in the browser to PDF on paper, saved as
// name.pdf among the artifacts, and returns its pages. With css the page's
// own @page size decides (as a browser printing to the paper the page
// asks for); without, paper does and the page's margins (@page) apply.
func printPDF(t *testing.T, ctx context.Context, name string, paper chromedp.PaperSize, css bool) []pdfPage {
	t.Helper()
	opts := []chromedp.PDFOption{chromedp.PDFPaper(paper)}
	if css {
		opts = append(opts, chromedp.PDFPreferCSSPageSize())
	}
	var pdf []byte
	run(t, ctx, "print "+name, into(&pdf, chromedp.PrintToPDF(opts...)))
	if err := os.WriteFile(filepath.Join(bt.ArtifactsDir(t), name+".pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return pdfPages(t, pdf)
}

// onePage fails unless pages is one page of w × h mm (0: any size).
func onePage(t *testing.T, what string, pages []pdfPage, w, h float64) {
	t.Helper()
	if len(pages) != 1 {
		t.Fatalf("%s prints on %d pages, want 1", what, len(pages))
	}
	pt := func(v float64) float64 { return v / 25.4 * 72 }
	if w > 0 && (math.Abs(pages[0].w-pt(w)) > 1.5 || math.Abs(pages[0].h-pt(h)) > 1.5) {
		t.Fatalf("%s prints on a page of %.1f × %.1f pt, want %g × %g mm", what, pages[0].w, pages[0].h, w, h)
	}
}

// readBarcode screenshots the element sel at 4 device pixels a CSS pixel
// (saved as name.png) and reads it with ZXing's Code 128 reader.
func readBarcode(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	var buf []byte
	run(t, ctx, "screenshot "+sel, into(&buf, chromedp.ScreenshotScale(css(sel), 4)))
	if err := os.WriteFile(filepath.Join(bt.ArtifactsDir(t), name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	text, err := decodeCode128(t, img)
	if err != nil {
		t.Fatalf("no Code 128 read off %s (%s.png): %v", sel, name, err)
	}
	return text
}

// fitsWidth reports whether the page, seen as print media at width px
// (the paper's width less its margins, at 96 px an inch), has nothing
// wider than the paper.
func fitsWidth(t *testing.T, ctx context.Context, width int64) bool {
	t.Helper()
	var fits bool
	run(t, ctx, "fits the paper",
		chromedp.EmulateViewport(width, 1000),
		emulateMedia("print"),
		into(&fits, chromedp.Evaluate[bool](fmt.Sprintf(`document.documentElement.scrollWidth <= %d &&
			[...document.querySelectorAll("table")].every(t => t.getBoundingClientRect().right <= %d + 0.5)`, width, width))),
	)
	return fits
}

// hiddenInPrint reports whether every element sel matches is hidden when
// the page is printed (there is at least one).
func hiddenInPrint(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	var hidden bool
	run(t, ctx, "hidden in print "+sel, emulateMedia("print"),
		into(&hidden, chromedp.Evaluate[bool](`(() => {
			const shown = e => { for (; e; e = e.parentElement) if (getComputedStyle(e).display === "none") return false; return true; };
			const els = [...document.querySelectorAll(`+strconv.Quote(sel)+`)];
			return els.length > 0 && !els.some(shown); })()`)),
		emulateMedia(""))
	return hidden
}

// paperShot saves a screenshot of the page as printed on paper of w × h
// mm (at 96 px an inch, the paper's margins left out) as name.png, then
// shows the page on the screen again.
func paperShot(t *testing.T, ctx context.Context, name string, w, h float64) {
	t.Helper()
	px := func(v float64) int64 { return int64(math.Round(mm(v) * 96)) }
	run(t, ctx, "print preview "+name, chromedp.EmulateViewport(px(w), px(h)), emulateMedia("print"), shot(t, name),
		emulateMedia(""), chromedp.EmulateViewport(1366, 900))
}

// A4's width less the margins the pages print with, in CSS px: 186 mm
// (12 mm margins) for a page printed as it is, 190 mm (10 mm) for a
// printout on plain paper.
const (
	pageWidthPx     = 703 // 186 mm
	printoutWidthPx = 718 // 190 mm
)

func TestBrowserPickupPrintouts(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	pk := s.book(t, "合同文件")
	second := s.book(t, "样品")
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, agentUser, "/pickups/"+pk.GetId(), `#pickup`)

	// The slip, from the pickup page.
	run(t, ctx, "open the slip",
		bt.ClickNav(`#print-slip`),
		chromedp.WaitVisible(css(`#slip`)),
		shot(t, "print-pickup-slip"),
	)
	if got := readBarcode(t, ctx, `#slip-code svg.barcode`, "print-pickup-slip-barcode"); got != pk.GetNumber() {
		t.Fatalf("the slip's barcode reads %q, want %s", got, pk.GetNumber())
	}
	if !hiddenInPrint(t, ctx, `.print-bar`) {
		t.Fatal("the slip's print bar prints")
	}
	paperShot(t, ctx, "print-pickup-slip-paper-a5", 148, 210)
	onePage(t, "the slip on A4", printPDF(t, ctx, "print-pickup-slip-a4", paperA4, false), 210, 297)
	onePage(t, "the slip on A5", printPDF(t, ctx, "print-pickup-slip-a5", paperA5, false), 148, 210)

	// Back, and the label.
	run(t, ctx, "back to the pickup, open the label",
		bt.ClickNav(`#print-back`),
		chromedp.WaitVisible(css(`#pickup`)),
		bt.ClickNav(`#print-label`),
		chromedp.WaitVisible(css(`.ship-code svg.barcode`)),
		shot(t, "print-pickup-label"),
	)
	if got := readBarcode(t, ctx, `.ship-code svg.barcode`, "print-pickup-label-barcode"); got != pk.GetNumber() {
		t.Fatalf("the label's barcode reads %q, want %s", got, pk.GetNumber())
	}
	paperShot(t, ctx, "print-pickup-label-paper", 100, 150)
	onePage(t, "the label at its own size", printPDF(t, ctx, "print-pickup-label-100x150", paperA4, true), 100, 150)
	onePage(t, "the label on 100 × 150 mm paper", printPDF(t, ctx, "print-pickup-label-100x150-paper", paperLabel, false), 100, 150)
	onePage(t, "the label on A4", printPDF(t, ctx, "print-pickup-label-a4", paperA4, false), 210, 297)

	// The list's labels: one page each, the newest first.
	run(t, ctx, "the list's labels",
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#pickups`)),
		bt.ClickNav(`#print-labels`),
		chromedp.WaitVisible(css(`article.sheet`)),
		shot(t, "print-pickup-labels"),
	)
	if pages := printPDF(t, ctx, "print-pickup-labels", paperA4, true); len(pages) != 2 {
		t.Fatalf("2 labels print on %d pages", len(pages))
	}
	if got := readBarcode(t, ctx, `article.sheet:first-of-type .ship-code svg.barcode`, "print-pickup-labels-first"); got != second.GetNumber() {
		t.Fatalf("the first label reads %q, want the newest pickup %s", got, second.GetNumber())
	}

	// The printed list fits A4's width, on one page.
	run(t, ctx, "the printed list",
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#pickups`)),
		bt.ClickNav(`#print-list`),
		chromedp.WaitVisible(css(`#print-rows`)),
		shot(t, "print-pickup-list"),
	)
	onePage(t, "the printed list of 2", printPDF(t, ctx, "print-pickup-list-a4", paperA4, false), 210, 297)
	if !fitsWidth(t, ctx, printoutWidthPx) {
		t.Fatal("the printed pickup list is wider than A4")
	}
	run(t, ctx, "screen again", emulateMedia(""), chromedp.EmulateViewport(1366, 900))

	// The list page itself, printed with the browser's Print: no menu,
	// filters or buttons, the table within A4.
	run(t, ctx, "the list page", chromedp.Navigate(s.base+"/pickups"), chromedp.WaitVisible(css(`#pickups`)))
	for _, sel := range []string{`header.top`, `#pickup-filter`, `#print-list`, `.subnav`} {
		if !hiddenInPrint(t, ctx, sel) {
			t.Errorf("the pickup list prints %s", sel)
		}
	}
	if !fitsWidth(t, ctx, pageWidthPx) {
		t.Error("the pickup list page is wider than A4 when printed")
	}
	run(t, ctx, "print preview of the list", shot(t, "print-pickups-page"), emulateMedia(""), chromedp.EmulateViewport(1366, 900))
}

func TestBrowserStockPrintouts(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t)
	ctx := browser(t, 1366, 900)
	login(t, ctx, s.base, "admin", webPassword)

	// A product's labels, from its page: as many as asked, 21 a sheet.
	var labels int
	run(t, ctx, "product labels",
		chromedp.Navigate(s.base+"/stock/products/"+milk),
		chromedp.WaitVisible(css(`#print-labels-form`)),
		chromedp.SetValue(css(`#label-copies`), "5"),
		bt.ClickNav(`#print-labels`),
		chromedp.WaitVisible(css(`.product-label svg.barcode`)),
		into(&labels, chromedp.Evaluate[int](`document.querySelectorAll(".product-label").length`)),
		shot(t, "print-product-labels"),
	)
	if labels != 5 {
		t.Fatalf("%d labels for 5 copies", labels)
	}
	if got := readBarcode(t, ctx, `.product-label[data-copy="5"] svg.barcode`, "print-product-label-barcode"); got != milkBarcode {
		t.Fatalf("the product label reads %q, want %s", got, milkBarcode)
	}
	paperShot(t, ctx, "print-product-labels-paper", 210, 297)
	onePage(t, "5 product labels", printPDF(t, ctx, "print-product-labels-a4", paperA4, true), 210, 297)
	run(t, ctx, "a sheet and one",
		chromedp.Navigate(s.base+"/stock/products/"+milk+"/labels?copies=22"),
		chromedp.WaitVisible(css(`.product-label[data-copy="22"]`)),
	)
	if pages := printPDF(t, ctx, "print-product-labels-22", paperA4, true); len(pages) != 2 {
		t.Fatalf("22 labels, 21 a sheet, print on %d pages", len(pages))
	}

	// The stock list, printed with the browser's Print.
	run(t, ctx, "stock list",
		chromedp.Navigate(s.base+"/stock"),
		chromedp.WaitVisible(css(`#print-stock`)),
	)
	for _, sel := range []string{`header.top`, `#stock-filter`, `#print-stock`, `.subnav`} {
		if !hiddenInPrint(t, ctx, sel) {
			t.Errorf("the stock list prints %s", sel)
		}
	}
	if !fitsWidth(t, ctx, pageWidthPx) {
		t.Error("the stock list is wider than A4 when printed")
	}
	run(t, ctx, "print preview of the stock list", shot(t, "print-stock-page"), emulateMedia(""), chromedp.EmulateViewport(1366, 900))
	var pages []pdfPage
	pages = printPDF(t, ctx, "print-stock-a4", paperA4, false)
	if len(pages) < 1 {
		t.Fatal("the stock list prints nothing")
	}
}
