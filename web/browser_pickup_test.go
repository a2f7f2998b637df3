package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"branchline/auth"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// The pickup pages in a real Chromium: the agent's form with its live
// price, the courier's phone page updated over SSE, tracking, the other
// pickup pages, and the head office dashboard. Screenshots go to
// artifacts/web/.

// loginAs logs user in from the login page next redirects to, and waits
// for wait on the page it lands on.
func loginAs(t *testing.T, ctx context.Context, base, user, next, wait string) {
	t.Helper()
	run(t, ctx, "log in as "+user,
		chromedp.Navigate(base+next),
		chromedp.WaitVisible(css(`#login-form`)),
		chromedp.SendKeys(css(`input[name=username]`), user),
		chromedp.SendKeys(css(`input[name=password]`), webPassword),
		chromedp.Submit(css(`#login-form`)),
		chromedp.WaitVisible(css(wait)),
	)
}

// yuanOf formats fen as the pages do.
func yuanOf(fen int64) string { return fmt.Sprintf("¥%d.%02d", fen/100, fen%100) }

// asUser is a service context of a replicated user.
func asUser(user string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{User: user})
}

// js runs a script on the page, as a step.
func js(expr string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, tg)
		return err
	})
}

// emulateMedia makes CSS media queries see media ("print"; "" for the
// screen again).
func emulateMedia(media string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media})
		return err
	})
}

// phone emulates a phone's viewport (headless Chromium keeps windows at
// least 500 px wide).
func phone(t *testing.T, ctx context.Context) {
	t.Helper()
	var width int
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		into(&width, chromedp.Evaluate[int](`window.innerWidth`)))
	if width != 390 {
		t.Fatalf("viewport is %d px wide, want 390", width)
	}
}

// TestBrowserPickupForm: the agent opens the form from a customer, sees
// the price before saving, books, and lands on the pickup with the
// deposit warning; bad input (a negative weight, an unknown zone) shows a
// translated message at the field and books nothing.
func TestBrowserPickupForm(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, agentUser, "/pickups/new?customer="+cust, `#pickup-form`)

	var address, phoneNo, payment, customer string
	run(t, ctx, "sender prefilled from the customer",
		into(&address, chromedp.Value(css(`input[name=sender_address]`))),
		into(&phoneNo, chromedp.Value(css(`input[name=sender_phone]`))),
		into(&payment, chromedp.Evaluate[string](`document.querySelector('input[name=payment]:checked').value`)),
		into(&customer, chromedp.Text(css(`#customer-name`))),
	)
	if address != "上海市浦东新区世纪大道 100 号" || !strings.Contains(strings.ReplaceAll(phoneNo, " ", ""), "13800138000") ||
		payment != "monthly" || customer != "上海浦东叫件测试贸易有限公司" {
		t.Fatalf("prefilled sender: %q %q %q %q", address, phoneNo, payment, customer)
	}

	// The price shows as the destination and weight are typed.
	var price, lines string
	run(t, ctx, "live price",
		chromedp.SendKeys(css(`input[name=receiver_name]`), "刘女士"),
		chromedp.SendKeys(css(`input[name=receiver_address]`), "北京市朝阳区建国路 1 号"),
		chromedp.SendKeys(css(`input[name=destination]`), "北京市朝阳区"),
		chromedp.SendKeys(css(`input[name=goods]`), "合同文件"),
		chromedp.SendKeys(css(`input[name=weight_kg]`), "2.5"),
		chromedp.WaitVisible(css(`#quote[data-state=ok]`)),
		into(&price, chromedp.Text(css(`#quote-final`))),
		into(&lines, chromedp.Text(css(`#quote-lines`))),
		shot(t, "pickup-form"),
	)
	q, err := s.pickups.Quote(s.admin, connect.NewRequest(&pickupv1.QuoteRequest{Customer: cust, Destination: "北京市朝阳区", WeightGrams: 2500}))
	if err != nil {
		t.Fatal(err)
	}
	if want := yuanOf(q.Msg.GetFinalFen()); price != want || q.Msg.GetFinalFen() == 0 || !strings.Contains(lines, "本月第 1 件") {
		t.Fatalf("the form quotes %q (%q), the service %s", price, lines, want)
	}
	if n := s.count(t); n != 0 {
		t.Fatalf("%d pickups booked before saving", n)
	}

	var status, warn, flash, shown string
	run(t, ctx, "book",
		clickJS(`#book`),
		chromedp.WaitVisible(css(`#pickup`)),
		into(&status, chromedp.Text(css(`#pickup-status`))),
		into(&shown, chromedp.Text(css(`#pickup-price`))),
		into(&flash, chromedp.Text(css(`p.flash`))),
		into(&warn, chromedp.Text(css(`#flash-warn`))),
		shot(t, "pickup-page"),
	)
	if status != "已派单" || shown != price || !strings.Contains(flash, "已派给 "+courierUser) || !strings.Contains(warn, "超出押金") {
		t.Fatalf("after booking: status %q, price %q (quoted %q), flash %q, warning %q", status, shown, price, flash, warn)
	}
	if n := s.count(t); n != 1 {
		t.Fatalf("%d pickups booked, want 1", n)
	}

	// Bad input: a negative weight.
	var msg string
	run(t, ctx, "negative weight",
		chromedp.Navigate(s.base+"/pickups/new"),
		chromedp.WaitVisible(css(`#pickup-form`)),
		chromedp.SendKeys(css(`input[name=sender_name]`), "陈先生"),
		chromedp.SendKeys(css(`input[name=sender_phone]`), "139 1234 5678"),
		chromedp.SendKeys(css(`input[name=sender_address]`), "上海市徐汇区漕溪北路 1 号"),
		chromedp.SendKeys(css(`input[name=destination]`), "广州"),
		chromedp.SendKeys(css(`input[name=goods]`), "样品"),
		chromedp.SendKeys(css(`input[name=weight_kg]`), "-2"),
		clickJS(`#book`),
		chromedp.WaitVisible(css(`#weight-error`)),
		into(&msg, chromedp.Text(css(`#weight-error`))),
	)
	if msg != "重量必须大于 0，且不超过 1000 公斤。" {
		t.Fatalf("negative weight: %q", msg)
	}
	// An unknown zone (one removed since the form was loaded).
	run(t, ctx, "unknown zone",
		chromedp.SetValue(css(`input[name=weight_kg]`), "2"),
		js(`(() => { const s = document.querySelector('select[name=zone]'); s.add(new Option('已撤销片区', 'gone-zone')); s.value = 'gone-zone'; })()`),
		clickJS(`#book`),
		chromedp.WaitVisible(css(`#zone-error`)),
		into(&msg, chromedp.Text(css(`#zone-error`))),
		shot(t, "pickup-form-errors"),
	)
	if msg != "没有这个片区。" {
		t.Fatalf("unknown zone: %q", msg)
	}
	if n := s.count(t); n != 1 {
		t.Fatalf("bad input booked: %d pickups, want 1", n)
	}

	// In English, the price and the messages are English.
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/pickups/new?customer="+cust),
		chromedp.WaitVisible(css(`#pickup-form`)),
		chromedp.SendKeys(css(`input[name=destination]`), "北京"),
		chromedp.SendKeys(css(`input[name=goods]`), "Documents"),
		chromedp.SendKeys(css(`input[name=weight_kg]`), "0.8"),
		chromedp.WaitVisible(css(`#quote[data-state=ok]`)),
		into(&lines, chromedp.Text(css(`#quote-lines`))),
		shot(t, "pickup-form-en"),
	)
	if !strings.Contains(lines, "Pickup no. 2 this month") {
		t.Fatalf("English quote lines: %q", lines)
	}

	// On a phone the form is one column.
	phone(t, ctx)
	run(t, ctx, "phone form", chromedp.Navigate(s.base+"/pickups/new?customer="+cust), chromedp.WaitVisible(css(`#pickup-form`)),
		shot(t, "phone-pickup-form-en"))
	noSideScroll(t, ctx, "the pickup form")
}

// TestBrowserCourierPage: on a phone, the courier's page shows a pickup
// dispatched to them within a second of PickupsChanged, without a reload;
// accept and picked up work from its buttons; a courier cannot act on
// another courier's pickup nor open the agents' pages.
func TestBrowserCourierPage(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, courierUser, "/courier", `#courier-pickups`)
	phone(t, ctx)
	var none string
	run(t, ctx, "empty list, stream open",
		into(&none, chromedp.Text(css(`#courier-pickups .none`))),
		pollTrue(`window.branchlineEvents && window.branchlineEvents.readyState === 1`),
		shot(t, "courier-phone-empty"),
	)
	if !strings.Contains(none, "暂无待取件") {
		t.Fatalf("empty courier page: %q", none)
	}

	pk := s.book(t, "样品两箱")
	if pk.GetCourier() != courierUser {
		t.Fatalf("pickup in Pudong assigned to %q", pk.GetCourier())
	}
	start := time.Now()
	s.pages.Changed(pk.GetId())
	item := `[data-pickup="` + pk.GetNumber() + `"]`
	liveCtx, cancel := context.WithTimeout(ctx, time.Second)
	err := chromedp.Do(liveCtx, chromedp.WaitVisible(css(item+`[data-status=assigned]`)))
	cancel()
	if err != nil {
		t.Fatalf("the new pickup did not show within a second: %v", err)
	}
	t.Logf("courier page showed the dispatch %v after PickupsChanged", time.Since(start).Round(time.Millisecond))
	var text, weight, price, tel string
	run(t, ctx, "the dispatched pickup",
		into(&text, chromedp.Text(css(item))),
		into(&weight, chromedp.Value(css(item+` input[name=weight_kg]`))),
		into(&price, chromedp.Value(css(item+` input[name=price_yuan]`))),
		into(&tel, chromedp.Evaluate[string](`document.querySelector('`+item+` a.tel').getAttribute('href')`)),
		shot(t, "courier-phone"),
	)
	if !strings.Contains(text, "上海市浦东新区张江路 88 号") || !strings.Contains(text, "陈先生") || weight != "1.5" ||
		price != strings.TrimPrefix(yuanOf(pk.GetPriceFen()), "¥") || tel != "tel:13912345678" {
		t.Fatalf("courier sees %q, weight %q, price %q, tel %q", text, weight, price, tel)
	}
	noSideScroll(t, ctx, "the courier page")

	run(t, ctx, "accept",
		clickJS(item+` button[data-action=accept]`),
		chromedp.WaitVisible(css(item+`[data-status=accepted]`)),
		shot(t, "courier-phone-accepted"),
	)
	run(t, ctx, "picked up",
		chromedp.SetValue(css(item+` input[name=weight_kg]`), "1.8"),
		chromedp.SetValue(css(item+` input[name=price_yuan]`), "20.50"),
		clickJS(item+` button[data-action=pickup]`),
		chromedp.WaitVisible(css(`p.flash`)),
		pollTrue(`!document.querySelector('`+item+`')`),
	)
	got := s.get(t, pk.GetId())
	if got.GetStatus() != "picked_up" || got.GetActualWeightGrams() != 1800 || got.GetActualPriceFen() != 2050 || got.GetPickedUpBy() != courierUser {
		t.Fatalf("after picking up: %s %d g %d fen by %s", got.GetStatus(), got.GetActualWeightGrams(), got.GetActualPriceFen(), got.GetPickedUpBy())
	}

	// Another courier's pickup: refused, unchanged.
	other, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "周女士", Phone: "138 0000 1111", Address: "上海市徐汇区漕溪北路 1 号"},
		Destination: "杭州", Goods: "衣服", WeightGrams: 800, Payment: "collect"}))
	if err != nil {
		t.Fatal(err)
	}
	op := other.Msg.GetPickup()
	if op.GetCourier() != otherUser {
		t.Fatalf("pickup in Xuhui assigned to %q", op.GetCourier())
	}
	var refused string
	run(t, ctx, "accept another courier's pickup",
		js(`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/courier/`+op.GetId()+`/accept';
			const c = document.createElement('input'); c.type = 'hidden'; c.name = '_csrf'; c.value = document.querySelector('input[name=_csrf]').value;
			f.appendChild(c); document.body.appendChild(f); f.submit(); })()`),
		chromedp.WaitVisible(css(`#flash-warn`)),
		into(&refused, chromedp.Text(css(`#flash-warn`))),
	)
	if !strings.Contains(refused, "无权操作") {
		t.Fatalf("another courier's pickup: %q", refused)
	}
	if st := s.get(t, op.GetId()).GetStatus(); st != "assigned" {
		t.Fatalf("another courier's pickup is %s after the refused accept", st)
	}
	var denied string
	run(t, ctx, "agents' pages",
		chromedp.Navigate(s.base+"/pickups/new"),
		chromedp.WaitVisible(css(`p.error`)),
		into(&denied, chromedp.Text(css(`p.error`))),
	)
	if !strings.Contains(denied, "权限") {
		t.Fatalf("a courier opening the pickup form sees %q", denied)
	}

	// English.
	run(t, ctx, "English",
		chromedp.Navigate(s.base+"/courier"),
		chromedp.WaitVisible(css(`#courier-pickups`)),
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.WaitVisible(css(`#courier-pickups`)),
	)
	p2 := s.book(t, "Spare parts")
	s.pages.Changed(p2.GetId())
	run(t, ctx, "English list",
		chromedp.WaitVisible(css(`[data-pickup="`+p2.GetNumber()+`"]`)),
		shot(t, "courier-phone-en"),
	)
}

// TestBrowserPickupPages: the agent's other pages — the list, a pickup
// with a conflict record, the conflicts, tracking, zones, couriers, rate
// plans, the account and its printable statement, the reports.
func TestBrowserPickupPages(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	courier := asUser(courierUser)

	// One picked up and checked, one cancelled by the branch while the
	// courier picked it up elsewhere (a conflict), one waiting, one for
	// the customer's account.
	done := s.book(t, "文件")
	if _, err := s.pickups.AcceptPickup(courier, connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: done.GetId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pickups.PickUp(courier, connect.NewRequest(&pickupv1.PickUpRequest{Id: done.GetId(), WeightGrams: 1700})); err != nil {
		t.Fatal(err)
	}
	lost := s.book(t, "电脑配件")
	if _, err := s.pickups.CancelPickup(asUser(agentUser), connect.NewRequest(&pickupv1.CancelPickupRequest{Id: lost.GetId(), Reason: "客户来电取消"})); err != nil {
		t.Fatal(err)
	}
	s.pickedUpElsewhere(t, lost.GetId(), courierUser, "br-field")
	s.book(t, "茶叶")
	acct, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "孙经理", Phone: "13800138000", Address: "上海市浦东新区世纪大道 100 号"},
		Destination: "深圳", Goods: "样品", WeightGrams: 3000, Payment: "monthly", Customer: cust}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pickups.RecordPayment(s.admin, connect.NewRequest(&pickupv1.RecordPaymentRequest{Customer: cust, Kind: "deposit", AmountFen: 50000, Note: "押金"})); err != nil {
		t.Fatal(err)
	}

	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, agentUser, "/pickups", `#pickups`)
	var rows int
	run(t, ctx, "list", into(&rows, chromedp.Evaluate[int](`document.querySelectorAll('#pickups tbody tr').length`)), shot(t, "pickups"))
	if rows != 4 {
		t.Fatalf("the list shows %d pickups, want 4", rows)
	}
	// The list follows changes without a reload.
	late := s.book(t, "鲜花")
	s.pages.Changed(late.GetId())
	run(t, ctx, "live list", chromedp.WaitVisible(css(`#pickups tr[data-pickup="`+late.GetNumber()+`"]`)))

	var status, conflict string
	run(t, ctx, "the pickup with a conflict",
		chromedp.Navigate(s.base+"/pickups/"+lost.GetId()),
		chromedp.WaitVisible(css(`#pickup-conflicts`)),
		into(&status, chromedp.Text(css(`#pickup-status`))),
		into(&conflict, chromedp.Text(css(`#pickup-conflicts`))),
		shot(t, "pickup-conflict"),
	)
	if status != "已取件" || !strings.Contains(conflict, "已取消") {
		t.Fatalf("pickup picked up elsewhere after a cancel: status %q, conflicts %q", status, conflict)
	}
	run(t, ctx, "conflicts",
		chromedp.Navigate(s.base+"/pickups/conflicts"),
		chromedp.WaitVisible(css(`#conflicts tr[data-pickup="`+lost.GetNumber()+`"]`)),
		shot(t, "pickup-conflicts"),
	)

	// Check the picked-up one from its page.
	run(t, ctx, "check",
		chromedp.Navigate(s.base+"/pickups/"+done.GetId()),
		chromedp.WaitVisible(css(`#check-form`)),
		clickJS(`#check`),
		chromedp.WaitVisible(css(`#pickup[data-status=checked]`)),
	)

	// Tracking by waybill: the history, no personal data.
	var steps []string
	var trackText string
	run(t, ctx, "track",
		chromedp.Navigate(s.base+"/track"),
		chromedp.WaitVisible(css(`#track-form`)),
		chromedp.SendKeys(css(`#track-form input[name=waybill]`), done.GetWaybill()),
		chromedp.Submit(css(`#track-form`)),
		chromedp.WaitVisible(css(`#track-history`)),
		into(&steps, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#track-history li')].map(li => li.dataset.step)`)),
		into(&trackText, chromedp.Text(css(`#tracking`))),
		shot(t, "track"),
	)
	if strings.Join(steps, ",") != "new,assigned,accepted,picked_up,checked" || strings.Contains(trackText, "陈先生") {
		t.Fatalf("tracking %s shows steps %v: %q", done.GetWaybill(), steps, trackText)
	}
	var notFound string
	run(t, ctx, "track an unknown waybill",
		chromedp.Navigate(s.base+"/track?waybill=NO-SUCH-1"),
		chromedp.WaitVisible(css(`p.error`)),
		into(&notFound, chromedp.Text(css(`p.error`))),
	)
	if !strings.Contains(notFound, "NO-SUCH-1") {
		t.Fatalf("unknown waybill: %q", notFound)
	}

	// Dispatch administration.
	run(t, ctx, "zones",
		chromedp.Navigate(s.base+"/pickups/zones"),
		chromedp.WaitVisible(css(`#zone-form`)),
		chromedp.SendKeys(css(`#zone-form input[name=id]`), "minhang"),
		chromedp.SendKeys(css(`#zone-form input[name=name]`), "闵行"),
		chromedp.SendKeys(css(`#zone-form textarea[name=districts]`), "闵行区"),
		chromedp.SendKeys(css(`#zone-form textarea[name=keywords]`), "莘庄，七宝"),
		clickJS(`#zone-save`),
		chromedp.WaitVisible(css(`#zones tr[data-zone=minhang]`)),
		shot(t, "pickup-zones"),
	)
	var duty string
	run(t, ctx, "couriers",
		chromedp.Navigate(s.base+"/pickups/couriers"),
		chromedp.WaitVisible(css(`#couriers tr[data-courier="`+otherUser+`"]`)),
		clickJS(`#couriers tr[data-courier="`+otherUser+`"] button[data-duty=off]`),
		chromedp.WaitVisible(css(`#couriers tr[data-courier="`+otherUser+`"] button[data-duty=on]`)),
		into(&duty, chromedp.Text(css(`p.flash`))),
		shot(t, "pickup-couriers"),
	)
	if !strings.Contains(duty, "已下岗") {
		t.Fatalf("off duty: %q", duty)
	}

	// Rate plans: a standard row, a customer plan at 90%, a volume tier.
	run(t, ctx, "rates",
		chromedp.Navigate(s.base+"/pickups/rates"),
		chromedp.WaitVisible(css(`#standard-form`)),
		js(`(() => { const r = [...document.querySelectorAll('#standard-form tbody tr')].find(tr => !tr.querySelector('input[name=area]').value);
			r.querySelector('input[name=area]').value = '新疆'; r.querySelector('input[name=first_kg]').value = '1'; r.querySelector('input[name=first_yuan]').value = '25';
			r.querySelector('input[name=step_kg]').value = '1'; r.querySelector('input[name=step_yuan]').value = '18'; })()`),
		clickJS(`#standard-save`),
		chromedp.WaitVisible(css(`p.flash`)),
		chromedp.Navigate(s.base+"/pickups/rates?plan="+cust),
		chromedp.WaitVisible(css(`#plan-save`)),
		chromedp.SetValue(css(`#customer-plans input[name=percent]`), "90"),
		clickJS(`#plan-save`),
		chromedp.WaitVisible(css(`#plans tr[data-plan="`+cust+`"]`)),
		chromedp.SetValue(css(`#tiers-form input[name=min_count]`), "10000"),
		chromedp.SetValue(css(`#tiers-form input[name=tier_percent]`), "95"),
		clickJS(`#tiers-save`),
		chromedp.WaitVisible(css(`p.flash`)),
		shot(t, "pickup-rates"),
	)
	plans, err := s.pickups.GetRatePlans(s.admin, connect.NewRequest(&pickupv1.GetRatePlansRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var std, mine string
	for _, p := range plans.Msg.GetPlans() {
		switch p.GetId() {
		case "standard":
			for _, r := range p.GetRows() {
				if r.GetArea() == "新疆" {
					std = fmt.Sprintf("%d/%d/%d/%d", r.GetFirstGrams(), r.GetFirstFen(), r.GetStepGrams(), r.GetStepFen())
				}
			}
		case cust:
			mine = strconv.Itoa(int(p.GetPercent()))
		}
	}
	if std != "1000/2500/1000/1800" || mine != "90" || len(plans.Msg.GetTiers()) != 1 || plans.Msg.GetTiers()[0].GetPercent() != 95 {
		t.Fatalf("rate plans after the form: standard 新疆 %q, customer %q, tiers %v", std, mine, plans.Msg.GetTiers())
	}

	// The account: a payment, then the printable statement.
	var unsettled string
	run(t, ctx, "account",
		chromedp.Navigate(s.base+"/accounts/"+cust),
		chromedp.WaitVisible(css(`#payment-form`)),
		chromedp.SetValue(css(`#payment-form select[name=kind]`), "payment"),
		chromedp.SendKeys(css(`#payment-form input[name=amount_yuan]`), "5.5"),
		chromedp.SendKeys(css(`#payment-form input[name=note]`), "转账"),
		clickJS(`#record`),
		chromedp.WaitVisible(css(`p.flash`)),
		into(&unsettled, chromedp.Text(css(`#unsettled`))),
		shot(t, "account"),
	)
	if want := yuanOf(acct.Msg.GetPickup().GetPriceFen() - 550); unsettled != want {
		t.Fatalf("unsettled %q after a ¥5.50 payment, want %s", unsettled, want)
	}
	var navShown bool
	var lineCount int
	run(t, ctx, "statement",
		chromedp.Navigate(s.base+"/accounts/"+cust+"/statement"),
		chromedp.WaitVisible(css(`#statement`)),
		into(&lineCount, chromedp.Evaluate[int](`document.querySelectorAll('#statement-lines tbody tr').length`)),
		shot(t, "statement"),
		emulateMedia("print"),
		into(&navShown, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('header.top')).display !== 'none'`)),
		shot(t, "statement-print"),
		emulateMedia(""),
	)
	if lineCount != 1 || navShown {
		t.Fatalf("statement: %d lines, navigation printed %v", lineCount, navShown)
	}

	run(t, ctx, "reports",
		chromedp.Navigate(s.base+"/pickups/reports"),
		chromedp.WaitVisible(css(`#courier-day`)),
		chromedp.WaitVisible(css(`#customer-report svg.chart`)),
		shot(t, "pickup-reports"),
	)
	var picked string
	run(t, ctx, "courier workload", into(&picked, chromedp.Text(css(`#courier-day tr[data-courier="`+courierUser+`"]`))))
	if !strings.Contains(picked, "李师傅") {
		t.Fatalf("courier workload row: %q", picked)
	}

	// The pages in English and on a phone.
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#pickups`)),
		shot(t, "pickups-en"),
		chromedp.Navigate(s.base+"/pickups/"+lost.GetId()),
		chromedp.WaitVisible(css(`#pickup-conflicts`)),
		shot(t, "pickup-conflict-en"),
	)
	phone(t, ctx)
	for _, pg := range []struct{ path, wait, name string }{
		{"/pickups", "#pickups", "phone-pickups-en"},
		{"/pickups/" + lost.GetId(), "#pickup", "phone-pickup-en"},
		{"/track?waybill=" + done.GetWaybill(), "#track-history", "phone-track-en"},
		{"/pickups/rates", "#standard-form", "phone-rates-en"},
	} {
		run(t, ctx, pg.name, chromedp.Navigate(s.base+pg.path), chromedp.WaitVisible(css(pg.wait)), shot(t, pg.name))
		noSideScroll(t, ctx, pg.path)
	}
}

// TestBrowserHubPickups: head office sees the branches' pickups by branch
// and status, with charts, and each branch's conflict records on the
// branch health page. The dashboard reads a node's store holding the
// pickup events, as a hub member's views hold every branch's.
func TestBrowserHubPickups(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	courier := asUser(courierUser)
	for i := range 3 {
		p := s.book(t, fmt.Sprintf("货物 %d", i+1))
		if i == 0 {
			if _, err := s.pickups.PickUp(courier, connect.NewRequest(&pickupv1.PickUpRequest{Id: p.GetId(), WeightGrams: 1500, PriceFen: 2000})); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1 {
			if _, err := s.pickups.CancelPickup(s.admin, connect.NewRequest(&pickupv1.CancelPickupRequest{Id: p.GetId(), Reason: "客户取消"})); err != nil {
				t.Fatal(err)
			}
			s.pickedUpElsewhere(t, p.GetId(), courierUser, "br-field")
		}
	}
	hub := startHubDashboard(t, s.n.Store(), "br-web", "bj-chaoyang")

	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, hub, "admin", "/pickups", `#by-branch`)
	cell := func(branch, sel string) string {
		var v string
		run(t, ctx, "read "+branch+" "+sel, into(&v, chromedp.Text(css(`#by-branch tr[data-branch="`+branch+`"] `+sel))))
		return v
	}
	if total, picked, assigned := cell("br-web", `[data-col=total]`), cell("br-web", `[data-status=picked_up]`), cell("br-web", `[data-status=assigned]`); total != "3" || picked != "2" || assigned != "1" {
		t.Fatalf("br-web: total %q, picked up %q, assigned %q; want 3, 2, 1", total, picked, assigned)
	}
	if total := cell("bj-chaoyang", `[data-col=total]`); total != "0" {
		t.Fatalf("bj-chaoyang total %q, want 0", total)
	}
	var charts int
	var csvHref chromedp.AttributeResult
	run(t, ctx, "charts",
		into(&charts, chromedp.Evaluate[int](`document.querySelectorAll('#charts svg.chart rect').length`)),
		into(&csvHref, chromedp.AttributeValue(css(`#csv`), "href")),
		shot(t, "hub-pickups"),
	)
	if charts < 4 || csvHref.Value != "/pickups.csv?days=1" {
		t.Fatalf("%d bars in the charts, CSV link %q", charts, csvHref.Value)
	}
	var csvText string
	run(t, ctx, "CSV", into(&csvText, chromedp.Evaluate[string](`fetch('/pickups.csv?days=7').then(r => r.text())`, chromedp.EvalAwaitPromise)))
	// Column names in the reader's language, each once (issue 15: the
	// status and the count were both "picked_up").
	if !strings.Contains(csvText, "网点,新建,已派单,已通知,已接单,已取件,已核对,已取消,取件失败,合计,已取件（含已核对）,收入（元）") ||
		!strings.Contains(csvText, "br-web,0,1,0,0,2,0,0,0,3,2,") {
		t.Fatalf("CSV export:\n%s", csvText)
	}
	run(t, ctx, "seven days", clickJS(`button[data-days="7"]`), chromedp.WaitVisible(css(`button.primary[data-days="7"]`)),
		shot(t, "hub-pickups-7d"))

	var conflicts string
	run(t, ctx, "branch health",
		chromedp.Navigate(hub+"/branches"),
		chromedp.WaitVisible(css(`#branches`)),
		into(&conflicts, chromedp.Text(css(`tr[data-node=br-web] [data-col=conflicts]`))),
		shot(t, "hub-branches-conflicts"),
	)
	if conflicts != "1" {
		t.Fatalf("br-web conflicts %q, want 1", conflicts)
	}
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(hub+"/pickups?days=7"),
		chromedp.WaitVisible(css(`#by-branch`)),
		shot(t, "hub-pickups-en"),
	)
	phone(t, ctx)
	run(t, ctx, "phone", chromedp.Navigate(hub+"/pickups"), chromedp.WaitVisible(css(`#by-branch`)), shot(t, "phone-hub-pickups-en"))
	noSideScroll(t, ctx, "the hub dashboard")
}
