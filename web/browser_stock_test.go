package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	whv1 "branchline/gen/branchline/warehouse/v1"
)

// The warehouse pages in a real Chromium: a receipt by barcode as a
// scanner types it (the code and Enter), an issue that takes the oldest
// batch first, bad input that changes nothing, and the hub's stock page.
// Screenshots go to artifacts/web/.

// scan types a barcode and Enter into the move form, as a scanner does,
// and waits for the page that comes back.
func scan(code, wait string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		return chromedp.Do(ctx,
			chromedp.WaitVisible(css(`#barcode`)),
			chromedp.SendKeys(css(`#barcode`), code+"\r"),
			chromedp.WaitVisible(css(wait)),
		)
	})
}

// activeID is the id of the focused element.
func activeID(dst *string) step {
	return into(dst, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
}

// moveType chooses the move form's type as a user does (the page's script
// shows that type's inputs on change).
func moveType(v string) step {
	return js(`(() => { const s = document.querySelector('#move-type'); s.value = ` + strconv.Quote(v) + `; s.dispatchEvent(new Event('change')); })()`)
}

func TestBrowserStockMoves(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t)
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, "admin", "/stock/moves/new", `#move-form`)

	// The barcode input has the focus; a scan shows the product and moves
	// the focus to the quantity.
	var focus, name, onHand string
	run(t, ctx, "focus on the barcode", activeID(&focus))
	if focus != "barcode" {
		t.Fatalf("the move form focuses %q, want the barcode", focus)
	}
	run(t, ctx, "scan the milk",
		scan(milkBarcode, `#move-product-name`),
		into(&name, chromedp.Text(css(`#move-product-name`))),
		into(&onHand, chromedp.Text(css(`#move-on-hand`))),
		activeID(&focus),
		shot(t, "stock-move-scanned"),
	)
	if name != "光明鲜牛奶 1L" || onHand != "70" || focus != "quantity" {
		t.Fatalf("after the scan: product %q, on hand %q, focus %q", name, onHand, focus)
	}

	// A receipt of a new batch: quantity, batch and expiry, Enter.
	var done, lines string
	run(t, ctx, "receive 12 of a new batch",
		chromedp.SendKeys(css(`#batch`), scannedBatch),
		chromedp.SetValue(css(`input[name=expires]`), dayFromNow(45).AsTime().Local().Format("2006-01-02")),
		chromedp.SendKeys(css(`#quantity`), "12\r"),
		chromedp.WaitVisible(css(`#move-done`)),
		into(&done, chromedp.Text(css(`#move-done-text`))),
		into(&lines, chromedp.Text(css(`#move-done-lines tbody`))),
		activeID(&focus),
		shot(t, "stock-receipt-done"),
	)
	if !strings.Contains(done, "采购入库 12 件") || !strings.Contains(lines, scannedBatch) || !strings.Contains(lines, "+12") {
		t.Fatalf("receipt success line %q, lines %q", done, lines)
	}
	var code string
	run(t, ctx, "ready for the next scan", into(&code, chromedp.Value(css(`#barcode`))))
	if focus != "barcode" || code != "" {
		t.Fatalf("after saving: focus %q, barcode %q; want an empty, focused barcode", focus, code)
	}
	if b, total := s.batches(t); total != 82 || b[scannedBatch] != 12 {
		t.Fatalf("after the receipt: %v, %d on hand", b, total)
	}

	// The stock page shows it, with the alerts on top.
	var stockOnHand, alerts string
	run(t, ctx, "stock overview",
		chromedp.Navigate(s.base+"/stock"),
		chromedp.WaitVisible(css(`#stock-overview`)),
		into(&stockOnHand, chromedp.Text(css(`#stock-SH1 tr[data-product="MILK-1L"] td.on-hand`))),
		into(&alerts, chromedp.Text(css(`#stock-alerts`))),
		shot(t, "stock-overview"),
	)
	if stockOnHand != "82" || !strings.Contains(alerts, "临期") || !strings.Contains(alerts, oldBatch) || !strings.Contains(alerts, "低于最低库存") {
		t.Fatalf("overview: milk on hand %q, alerts %q", stockOnHand, alerts)
	}

	// An issue takes the oldest batch (received 20 days ago) and leaves
	// the newer ones untouched.
	var taken []string
	run(t, ctx, "issue 15",
		chromedp.Navigate(s.base+"/stock/moves/new"),
		chromedp.WaitVisible(css(`#move-form`)),
		moveType("issue.order"),
		scan(milkBarcode, `#move-product-name`),
		chromedp.SendKeys(css(`#quantity`), "15\r"),
		chromedp.WaitVisible(css(`#move-done`)),
		into(&done, chromedp.Text(css(`#move-done-text`))),
		into(&taken, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#move-done-lines tbody tr')].map(r => r.dataset.batch + ' ' + r.dataset.qty)`)),
		shot(t, "stock-issue-done"),
	)
	if !strings.Contains(done, "订单出库 15 件") || len(taken) != 1 || taken[0] != oldBatch+" -15" {
		t.Fatalf("issue success line %q, batches taken %v; want %s -15 only", done, taken, oldBatch)
	}
	b, total := s.batches(t)
	if b[oldBatch] != 25 || b[newBatch] != 30 || b[scannedBatch] != 12 || total != 67 {
		t.Fatalf("after the issue: %v, %d on hand", b, total)
	}
	var rows []string
	run(t, ctx, "the product page",
		chromedp.Navigate(s.base+"/stock/products/"+milk),
		chromedp.WaitVisible(css(`#product-stock`)),
		into(&rows, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#batches-SH1 tbody tr')].map(r => r.dataset.batch + ' ' + r.dataset.qty)`)),
		shot(t, "stock-product"),
	)
	if strings.Join(rows, ",") != oldBatch+" 25,"+newBatch+" 30,"+scannedBatch+" 12" {
		t.Fatalf("product page batches (oldest receipt first): %v", rows)
	}

	// Bad input: an issue beyond the stock shows the error at the
	// quantity and records nothing; an unknown barcode, at the barcode.
	before := s.moves(t)
	var msg string
	run(t, ctx, "issue beyond stock",
		chromedp.Navigate(s.base+"/stock/moves/new?type=issue.order"),
		chromedp.WaitVisible(css(`#move-form`)),
		scan(milkBarcode, `#move-product-name`),
		chromedp.SendKeys(css(`#quantity`), "1000\r"),
		chromedp.WaitVisible(css(`#quantity-error`)),
		into(&msg, chromedp.Text(css(`#quantity-error`))),
		activeID(&focus),
		shot(t, "stock-move-error"),
	)
	if msg != "库存不足：该货位只有 67 件。" || focus != "quantity" {
		t.Fatalf("issue beyond stock: %q, focus %q", msg, focus)
	}
	run(t, ctx, "unknown barcode",
		chromedp.Navigate(s.base+"/stock/moves/new"),
		scan("0000000000000", `#barcode-error`),
		into(&msg, chromedp.Text(css(`#barcode-error`))),
	)
	if msg != "没有条码为 0000000000000 的商品。" {
		t.Fatalf("unknown barcode: %q", msg)
	}
	if b, total := s.batches(t); total != 67 || b[oldBatch] != 25 || s.moves(t) != before {
		t.Fatalf("bad input changed the stock: %v, %d on hand, %d moves (was %d)", b, total, s.moves(t), before)
	}

	// In English once.
	var h1 string
	run(t, ctx, "English",
		chromedp.Navigate(s.base+"/stock"),
		chromedp.WaitVisible(css(`#stock-overview`)),
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.WaitVisible(css(`#stock-overview`)),
		into(&h1, chromedp.Text(css(`#stock-overview h1`))),
		into(&alerts, chromedp.Text(css(`#stock-alerts`))),
		shot(t, "stock-overview-en"),
		clickJS(`button[data-lang=zh-CN]`),
		chromedp.WaitReady(css(`html[lang=zh-CN]`)),
	)
	if h1 != "Stock" || !strings.Contains(alerts, "Expiring soon") {
		t.Fatalf("English overview: %q, alerts %q", h1, alerts)
	}

	// On a phone the move form is one column and does not scroll sideways.
	phone(t, ctx)
	run(t, ctx, "phone move form",
		chromedp.Navigate(s.base+"/stock/moves/new"),
		scan(cupBarcode, `#move-product-name`),
		shot(t, "phone-stock-move-form"),
	)
	noSideScroll(t, ctx, "the move form")

	// The head office sees the stock of every warehouse.
	// (It logs in at another port of the same host, which replaces the
	// node's session cookie: it comes last.)
	hub := startHubDashboard(t, s.n.Store(), "br-web")
	var cell, hubAlerts string
	run(t, ctx, "desktop viewport", chromedp.EmulateViewport(1366, 900))
	loginAs(t, ctx, hub, "admin", "/stock", `#hub-stock`)
	run(t, ctx, "hub stock",
		into(&cell, chromedp.Text(css(`#hub-stock-matrix tr[data-product="MILK-1L"] td.total strong`))),
		into(&hubAlerts, chromedp.Text(css(`#hub-alerts`))),
		shot(t, "hub-stock"),
	)
	if cell != "67" || !strings.Contains(hubAlerts, "低于最低库存") {
		t.Fatalf("hub: milk across warehouses %q, alerts %q", cell, hubAlerts)
	}
}

// TestBrowserStockPages walks the other warehouse pages at desktop size:
// a stocktake counted and posted, a transfer shipped and received short,
// a reservation made and shipped, a purchase order, a bin added, a
// product refused for a barcode another product has, the history.
func TestBrowserStockPages(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t)
	ok := noErr(t)
	ok(s.stock.SetWarehouse(s.admin, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{Id: "SH2", Name: "上海二号仓", Owner: "br-web"}})))
	ok(s.stock.SetBin(s.admin, connect.NewRequest(&whv1.SetBinRequest{Warehouse: "SH2", Bin: &whv1.Bin{Id: "A01", Name: "收货区", Kind: "good"}})))
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, "admin", "/stock/stocktakes", `#stocktakes`)

	// A count sheet of bin A01: two fewer of the old batch than the book.
	var status, delta string
	run(t, ctx, "open a count sheet",
		chromedp.SetValue(css(`#stocktake-form select[name=bin]`), "A01"),
		clickJS(`#open-stocktake`),
		chromedp.WaitVisible(css(`#count-sheet`)),
		chromedp.SendKeys(css(`#count-sheet tr[data-batch="`+oldBatch+`"] input[name=lc]`), "38"),
		shot(t, "stock-stocktake-open"),
		clickJS(`#post-stocktake`),
		// Posting asks once more (issue 15: confirm before posting).
		chromedp.WaitVisible(css(`#confirm-post`)),
		clickJS(`#confirm-post-stocktake`),
		chromedp.WaitVisible(css(`#stocktake[data-status=posted]`)),
		into(&status, chromedp.Text(css(`#stocktake-status`))),
		into(&delta, chromedp.Text(css(`#count-sheet tr[data-batch="`+oldBatch+`"] td.delta`))),
		shot(t, "stock-stocktake"),
		chromedp.Navigate(s.base+"/stock/stocktakes"),
		chromedp.WaitVisible(css(`#sheets`)),
		shot(t, "stock-stocktakes"),
	)
	if b, _ := s.batches(t); status != "已过账" || delta != "-2" || b[oldBatch] != 38 || b[newBatch] != 30 {
		t.Fatalf("stocktake: status %q, delta %q, stock %v", status, delta, b)
	}

	// A transfer to SH2, received one short.
	var diff string
	run(t, ctx, "ship a transfer",
		chromedp.Navigate(s.base+"/stock/transfers"),
		chromedp.WaitVisible(css(`#transfer-form`)),
		chromedp.SetValue(css(`#transfer-form select[name=to]`), "SH2"),
		chromedp.SendKeys(css(`#transfer-lines input[name=tp]`), milk),
		chromedp.SendKeys(css(`#transfer-lines input[name=tq]`), "10"),
		clickJS(`#ship-transfer`),
		chromedp.WaitVisible(css(`#transfer[data-status=in_transit]`)),
		chromedp.SetValue(css(`#receive-form input[name=rq]`), "9"),
		chromedp.SendKeys(css(`#receive-form input[name=note]`), "少到一盒"),
		shot(t, "stock-transfer-receive"),
		clickJS(`#receive-transfer`),
		chromedp.WaitVisible(css(`#transfer[data-status=received]`)),
		into(&diff, chromedp.Text(css(`#transfer-lines tbody tr td.diff`))),
		chromedp.WaitVisible(css(`#transfer-discrepancy`)),
		shot(t, "stock-transfer"),
		chromedp.Navigate(s.base+"/stock/transfers"),
		chromedp.WaitVisible(css(`#transfer-list`)),
		shot(t, "stock-transfers"),
	)
	if b, _ := s.batches(t); diff != "1" || b[oldBatch] != 28 {
		t.Fatalf("transfer: difference %q, SH1 stock %v (the old batch goes first)", diff, b)
	}

	// A reservation lowers the available stock; shipping issues it.
	var resStatus string
	run(t, ctx, "reserve and ship",
		chromedp.Navigate(s.base+"/stock/reservations"),
		chromedp.WaitVisible(css(`#reserve-form`)),
		chromedp.SendKeys(css(`#reserve-form input[name=product]`), milk),
		chromedp.SendKeys(css(`#reserve-form input[name=quantity]`), "5"),
		chromedp.SendKeys(css(`#reserve-form input[name=ref]`), "SO-1001"),
		clickJS(`#reserve`),
		chromedp.WaitVisible(css(`#reservation-list tr[data-status=active]`)),
		shot(t, "stock-reservations"),
		clickJS(`#reservation-list tr[data-status=active] form[action$="/ship"] button`),
		chromedp.WaitVisible(css(`#reservation-list tr[data-status=shipped]`)),
		into(&resStatus, chromedp.Text(css(`p.flash`))),
	)
	if b, total := s.batches(t); !strings.Contains(resStatus, "SO-1001") || total != 53 || b[oldBatch] != 23 {
		t.Fatalf("reservation: %q, stock %v (%d)", resStatus, b, total)
	}

	// A purchase order, received from its page through the move form.
	var po string
	run(t, ctx, "purchase order",
		chromedp.Navigate(s.base+"/stock/purchases"),
		chromedp.WaitVisible(css(`#purchase-form`)),
		chromedp.SendKeys(css(`#purchase-form input[name=supplier]`), "光明乳业华东分公司"),
		chromedp.SendKeys(css(`#purchase-lines input[name=pp]`), milk),
		chromedp.SendKeys(css(`#purchase-lines input[name=pq]`), "100"),
		chromedp.SendKeys(css(`#purchase-lines input[name=pc]`), "9.00"),
		clickJS(`#create-purchase`),
		chromedp.WaitVisible(css(`#purchase[data-status=open]`)),
		shot(t, "stock-purchase"),
		clickJS(`#receive-purchase`),
		chromedp.WaitVisible(css(`#move-form`)),
		into(&po, chromedp.Value(css(`#move-form input[name=purchase_order]`))),
	)
	if po == "" {
		t.Fatal("the purchase order's receive link does not fill the order in")
	}

	// A defective bin added to SH1.
	var bins string
	run(t, ctx, "add a bin",
		chromedp.Navigate(s.base+"/stock/warehouses/"+stockWH),
		chromedp.WaitVisible(css(`#bin-form`)),
		chromedp.SendKeys(css(`#bin-form input[name=bin_id]`), "D02"),
		chromedp.SendKeys(css(`#bin-form input[name=bin_name]`), "退货区"),
		chromedp.SetValue(css(`#bin-form select[name=bin_kind]`), "defective"),
		clickJS(`#save-bin`),
		chromedp.WaitVisible(css(`#bin-list tr[data-bin=D02]`)),
		into(&bins, chromedp.Text(css(`#bin-list`))),
		shot(t, "stock-warehouse"),
	)
	if !strings.Contains(bins, "退货区") {
		t.Fatalf("bins: %q", bins)
	}

	// A new product with the milk's barcode is refused at the barcode.
	var msg string
	run(t, ctx, "duplicate barcode",
		chromedp.Navigate(s.base+"/stock/products/new"),
		chromedp.WaitVisible(css(`#product-form`)),
		chromedp.SendKeys(css(`#product-form input[name=id]`), "MILK-2L"),
		chromedp.SendKeys(css(`#product-form input[name=name]`), "光明鲜牛奶 2L"),
		chromedp.SendKeys(css(`#product-form input[name=barcode]`), milkBarcode),
		chromedp.SendKeys(css(`#product-form input[name=retail_yuan]`), "23.50"),
		clickJS(`#save-product`),
		chromedp.WaitVisible(css(`#barcode-error`)),
		into(&msg, chromedp.Text(css(`#barcode-error`))),
		shot(t, "stock-product-form-error"),
	)
	if msg != "该条码已被其他商品使用。" {
		t.Fatalf("duplicate barcode: %q", msg)
	}

	// The history shows every kind of move, newest first.
	var kinds []string
	run(t, ctx, "move history",
		chromedp.Navigate(s.base+"/stock/moves?warehouse="+stockWH),
		chromedp.WaitVisible(css(`#moves`)),
		into(&kinds, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#moves tbody tr')].map(r => r.dataset.direction)`)),
		shot(t, "stock-moves"),
	)
	if strings.Join(kinds, ",") != "issue,transfer_out,stocktake,receipt,receipt" {
		t.Fatalf("history of SH1: %v", kinds)
	}
	run(t, ctx, "products and warehouses",
		chromedp.Navigate(s.base+"/stock/products"),
		chromedp.WaitVisible(css(`#products`)),
		shot(t, "stock-products"),
		chromedp.Navigate(s.base+"/stock/warehouses"),
		chromedp.WaitVisible(css(`#warehouse-list`)),
		shot(t, "stock-warehouses"),
	)
}
