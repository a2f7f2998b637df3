package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	bt "branchline/internal/browsertest"
)

// TestBrowserBlindStocktake (issue 15, part 5): a blind count sheet hides
// the book quantities and the deltas while open; posting asks once more,
// saying what it will do, and changes nothing until confirmed; once
// posted the sheet shows book and deltas.
func TestBrowserBlindStocktake(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t)
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, "admin", "/stock/stocktakes", `#stocktakes`)
	row := `#count-sheet tr[data-batch="` + oldBatch + `"]`
	var book, delta, progress, hint string
	run(t, ctx, "open a blind count of bin A01",
		chromedp.SetValue(css(`#stocktake-form select[name=bin]`), "A01"),
		clickJS(`#st-blind`),
		bt.ClickNav(`#open-stocktake`),
		chromedp.WaitVisible(css(`#count-sheet`)),
		chromedp.WaitVisible(css(`#blind-hint`)),
		chromedp.SendKeys(css(row+` input[name=lc]`), "38"),
		bt.ClickNav(`#save-counts`),
		chromedp.WaitVisible(css(`p.flash`)),
		into(&book, chromedp.Text(css(row+` td.book`))),
		into(&delta, chromedp.Text(css(row+` td.delta`))),
		into(&progress, chromedp.Text(css(`#stocktake dl.facts`))),
		into(&hint, chromedp.Text(css(`#blind-hint`))),
		shot(t, "stock-stocktake-blind"),
	)
	if book != "—" || strings.TrimSpace(delta) != "" || strings.Contains(progress, "差异") || !strings.Contains(hint, "盲盘") {
		t.Fatalf("blind sheet shows book %q, delta %q, progress %q, hint %q", book, delta, progress, hint)
	}
	before, _ := s.batches(t)

	var confirm string
	run(t, ctx, "post asks first",
		bt.ClickNav(`#post-stocktake`),
		chromedp.WaitVisible(css(`#confirm-post`)),
		into(&confirm, chromedp.Text(css(`#confirm-post`))),
		shot(t, "stock-stocktake-confirm"),
	)
	if !strings.Contains(confirm, "确认过账") || strings.Contains(confirm, "差异") {
		t.Fatalf("confirmation %q: want the question, and no deltas on a blind sheet", confirm)
	}
	if b, _ := s.batches(t); b[oldBatch] != before[oldBatch] {
		t.Fatalf("stock changed before the post was confirmed: %v → %v", before, b)
	}
	var status string
	run(t, ctx, "confirm",
		bt.ClickNav(`#confirm-post-stocktake`),
		chromedp.WaitVisible(css(`#stocktake[data-status=posted]`)),
		into(&status, chromedp.Text(css(`#stocktake-status`))),
		into(&book, chromedp.Text(css(row+` td.book`))),
		into(&delta, chromedp.Text(css(row+` td.delta`))),
	)
	if b, _ := s.batches(t); status != "已过账" || book != "40" || delta != "-2" || b[oldBatch] != 38 {
		t.Fatalf("posted: status %q, book %q, delta %q, stock %v", status, book, delta, b)
	}
}

// TestBrowserStocktakeScan: on a count sheet each scan of a product's
// barcode adds one to its line; a code the sheet lacks goes to the found
// line; nothing is saved until the clerk saves.
func TestBrowserStocktakeScan(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t)
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, "admin", "/stock/stocktakes", `#stocktakes`)
	var count, found, note string
	run(t, ctx, "scan on a count sheet",
		chromedp.SetValue(css(`#stocktake-form select[name=bin]`), "A01"),
		clickJS(`#open-stocktake`),
		chromedp.WaitVisible(css(`#count-scan`)),
		js(`window.samePage = true`),
		chromedp.SendKeys(css(`#count-scan`), milkBarcode+"\r"),
		chromedp.SendKeys(css(`#count-scan`), milkBarcode+"\r"),
		chromedp.SendKeys(css(`#count-scan`), milk+"\r"),
		chromedp.SendKeys(css(`#count-scan`), "NOPE-1\r"),
		into(&count, chromedp.Value(css(`#count-sheet tr[data-product="`+milk+`"] input[name=lc]`))),
		into(&found, chromedp.Value(css(`#count-sheet tr.found input[name=fp]`))),
		into(&note, chromedp.Text(css(`#count-scan-note`))),
		shot(t, "stock-stocktake-scan"),
	)
	var same bool
	run(t, ctx, "same page", into(&same, chromedp.Evaluate[bool](`window.samePage === true`)))
	if !same {
		t.Fatal("a scan submitted the sheet")
	}
	if count != "3" || found != "NOPE-1" || !strings.Contains(note, "NOPE-1") {
		t.Fatalf("after three scans of milk and one unknown: milk %q, found line %q, note %q", count, found, note)
	}
	var saved string
	run(t, ctx, "save",
		clickJS(`#save-counts`), // the found line has no quantity: only milk's count is saved
		chromedp.WaitVisible(css(`p.flash`)),
		into(&saved, chromedp.Value(css(`#count-sheet tr[data-product="`+milk+`"] input[name=lc]`))),
	)
	if saved != "3" {
		t.Fatalf("saved count %q, want 3", saved)
	}
}
