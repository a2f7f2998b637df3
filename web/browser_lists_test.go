package web_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	crmv1 "branchline/gen/branchline/crm/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// The lists people work with (issue 15 part 2) in a real Chromium: the
// pickup list's total, sorting, pages, search and bulk actions, and the
// customer list's total, sorting and pages, in Chinese and English, on a
// desktop and a phone.

// listPickups books n pickups in Pudong, pickup i from sender 寄件人i
// with phone 139 1234 56ii and weighing 1000 + 10·i grams, and returns
// their numbers in booking order.
func (s *pickupSite) listPickups(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		resp, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
			Sender: &pickupv1.Party{Name: fmt.Sprintf("寄件人%02d", i), Phone: fmt.Sprintf("139 1234 %04d", 5600+i),
				Address: "上海市浦东新区张江路 88 号"},
			Receiver:    &pickupv1.Party{Name: "刘女士", Phone: "010 8888 6666", Address: "北京市朝阳区建国路 1 号"},
			Destination: "北京", Goods: "文件", WeightGrams: int64(1000 + 10*i), Payment: "cash",
		}))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.Msg.GetPickup().GetNumber())
	}
	return out
}

// rowsOf reads the pickup numbers of the list's rows, in order.
func rowsOf(dst *[]string) step {
	return into(dst, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#pickups tbody tr')).map(r => r.dataset.pickup)`))
}

// reversed returns a reversed copy.
func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestBrowserPickupList(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	numbers := s.listPickups(t, 55) // more than a page of 50
	byNumber := map[string]string{}
	resp, err := s.pickups.ListPickups(s.admin, connect.NewRequest(&pickupv1.ListPickupsRequest{PageSize: 100}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Msg.GetPickups() {
		byNumber[p.GetNumber()] = p.GetId()
	}
	ctx := browser(t, 1366, 768)
	loginAs(t, ctx, s.base, agentUser, "/pickups", `#pickups`)

	// The total, the newest first, and the pages.
	var total string
	var rows []string
	run(t, ctx, "first page",
		into(&total, chromedp.Text(css(`#list-total`))),
		rowsOf(&rows),
		shot(t, "pickup-list"),
	)
	if total != "共 55 条" || !slices.Equal(rows, reversed(numbers)[:50]) {
		t.Fatalf("first page: total %q, rows %v", total, rows)
	}
	run(t, ctx, "next page",
		clickJS(`#page-next`),
		chromedp.WaitVisible(css(`#page-prev`)),
		rowsOf(&rows),
		into(&total, chromedp.Text(css(`#list-total`))),
	)
	if total != "共 55 条" || !slices.Equal(rows, reversed(numbers)[50:]) {
		t.Fatalf("second page: total %q, rows %v", total, rows)
	}
	run(t, ctx, "previous page", clickJS(`#page-prev`), chromedp.WaitVisible(css(`#page-next`)), rowsOf(&rows))
	if !slices.Equal(rows, reversed(numbers)[:50]) {
		t.Fatalf("back to the first page: %v", rows)
	}
	// The last page is the last 50, read backwards from the end (keyset
	// pages have no fixed boundaries); the page before it is the rest.
	run(t, ctx, "last page", clickJS(`#page-last`), chromedp.WaitVisible(css(`#page-first`)), rowsOf(&rows))
	if !slices.Equal(rows, reversed(numbers)[5:]) {
		t.Fatalf("last page: %v", rows)
	}
	run(t, ctx, "before the last page", clickJS(`#page-prev`), chromedp.WaitVisible(css(`#page-next`)), rowsOf(&rows))
	if !slices.Equal(rows, reversed(numbers)[:5]) {
		t.Fatalf("before the last page: %v", rows)
	}

	// Sorting by weight: the lightest first, then the heaviest.
	var loc string
	run(t, ctx, "sort by weight",
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#pickups`)),
		clickJS(`#pickups th a[href*="sort=weight"]`),
		chromedp.WaitVisible(css(`#pickups th[aria-sort=ascending] a[href*="sort=weight"]`)),
		rowsOf(&rows),
		into(&loc, chromedp.Location()),
	)
	if !slices.Equal(rows, numbers[:50]) || !strings.Contains(loc, "sort=weight") {
		t.Fatalf("by weight at %s: %v", loc, rows)
	}
	run(t, ctx, "sort by weight, heaviest first",
		clickJS(`#pickups th[aria-sort=ascending] a`),
		chromedp.WaitVisible(css(`#pickups th[aria-sort=descending] a[href*="sort=weight"]`)),
		rowsOf(&rows),
		shot(t, "pickup-list-by-weight"),
	)
	if !slices.Equal(rows, reversed(numbers)[:50]) {
		t.Fatalf("by weight, descending: %v", rows)
	}

	// Search by waybill number, phone and name, with the order kept.
	for _, q := range []struct{ text, want string }{
		{numbers[7], numbers[7]},
		{"1234 5617", numbers[17]},
		{"寄件人33", numbers[33]},
	} {
		run(t, ctx, "search "+q.text,
			chromedp.Navigate(s.base+"/pickups?sort=sender"),
			chromedp.WaitVisible(css(`#pickup-q`)),
			chromedp.SendKeys(css(`#pickup-q`), q.text),
			js(`document.body.dataset.old = "1"`), // gone once the results load
			chromedp.Submit(css(`#pickup-filter`)),
			chromedp.WaitVisible(css(`body:not([data-old]) #pickups tbody tr[data-pickup="`+q.want+`"]`)),
			rowsOf(&rows),
			into(&total, chromedp.Text(css(`#list-total`))),
			into(&loc, chromedp.Location()),
		)
		if !slices.Equal(rows, []string{q.want}) || total != "共 1 条" || !strings.Contains(loc, "sort=sender") {
			t.Fatalf("search %q at %s: total %q, rows %v", q.text, loc, total, rows)
		}
	}

	// Bulk reassign three pickups of the sender-sorted list; the list
	// comes back as it was.
	run(t, ctx, "tick and reassign",
		chromedp.Navigate(s.base+"/pickups?sort=sender&status=assigned"),
		chromedp.WaitVisible(css(`#pickups`)),
		js(`for (const n of ["`+numbers[0]+`","`+numbers[1]+`","`+numbers[2]+`"]) document.querySelector('tr[data-pickup="'+n+'"] input[name=id]').checked = true`),
		chromedp.SetValue(css(`#bulk-courier`), otherUser),
		clickJS(`#bulk-reassign`),
		chromedp.WaitVisible(css(`p.flash`)),
		into(&total, chromedp.Text(css(`p.flash`))),
		into(&loc, chromedp.Location()),
		shot(t, "pickup-bulk-reassigned"),
	)
	if total != "已改派 3 个取件。" || !strings.Contains(loc, "sort=sender") || !strings.Contains(loc, "status=assigned") {
		t.Fatalf("after reassigning: %q at %s", total, loc)
	}
	for _, n := range numbers[:3] {
		if c := s.get(t, byNumber[n]).GetCourier(); c != otherUser {
			t.Fatalf("%s is with %q, want %s", n, c, otherUser)
		}
	}

	// Bulk cancel of two open pickups and one cancelled already: two
	// done, one refused and named.
	if _, err := s.pickups.CancelPickup(s.admin, connect.NewRequest(&pickupv1.CancelPickupRequest{Id: byNumber[numbers[5]], Reason: "客户取消"})); err != nil {
		t.Fatal(err)
	}
	var warn string
	run(t, ctx, "tick and cancel",
		chromedp.Navigate(s.base+"/pickups?sort=sender"),
		chromedp.WaitVisible(css(`#pickups`)),
		js(`for (const n of ["`+numbers[3]+`","`+numbers[4]+`","`+numbers[5]+`"]) document.querySelector('tr[data-pickup="'+n+'"] input[name=id]').checked = true`),
		chromedp.SendKeys(css(`#bulk-reason`), "重复下单"),
		clickJS(`#bulk-cancel`),
		chromedp.WaitVisible(css(`#flash-warn`)),
		into(&total, chromedp.Text(css(`p.flash`))),
		into(&warn, chromedp.Text(css(`#flash-warn`))),
		shot(t, "pickup-bulk-cancelled"),
	)
	if total != "已取消 2 个取件。" || !strings.HasPrefix(warn, "1 个未执行：") || !strings.Contains(warn, numbers[5]) {
		t.Fatalf("after cancelling: %q, warning %q", total, warn)
	}
	for _, n := range numbers[3:5] {
		if st := s.get(t, byNumber[n]).GetStatus(); st != "cancelled" {
			t.Fatalf("%s is %q after the bulk cancel", n, st)
		}
	}

	// Bulk print: the labels of the ticked pickups, and nothing else.
	var labels []string
	run(t, ctx, "tick and print labels",
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#pickups`)),
		js(`for (const n of ["`+numbers[10]+`","`+numbers[11]+`"]) document.querySelector('tr[data-pickup="'+n+'"] input[name=id]').checked = true`),
		clickJS(`#bulk-labels`),
		chromedp.WaitVisible(css(`article.sheet`)),
		into(&labels, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('article.sheet')).map(a => a.dataset.pickup)`)),
	)
	slices.Sort(labels)
	if !slices.Equal(labels, []string{numbers[10], numbers[11]}) {
		t.Fatalf("printed labels %v", labels)
	}

	// Nothing ticked: said so, nothing done.
	run(t, ctx, "nothing ticked",
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#pickups`)),
		clickJS(`#bulk-cancel`),
		chromedp.WaitVisible(css(`#flash-warn`)),
		into(&warn, chromedp.Text(css(`#flash-warn`))),
	)
	if warn != "请先勾选要处理的取件。" {
		t.Fatalf("nothing ticked: %q", warn)
	}

	// The customer's card links to the customer's pickups.
	own, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{Customer: cust,
		Sender:      &pickupv1.Party{Name: "陈先生", Phone: "139 1234 5678", Address: "上海市浦东新区张江路 88 号"},
		Receiver:    &pickupv1.Party{Name: "刘女士", Phone: "010 8888 6666", Address: "北京市朝阳区建国路 1 号"},
		Destination: "北京", Goods: "文件", WeightGrams: 500, Payment: "cash"}))
	if err != nil {
		t.Fatal(err)
	}
	var tel string
	run(t, ctx, "the customer's pickups",
		chromedp.Navigate(s.base+"/customers/"+cust),
		chromedp.WaitVisible(css(`#customer-pickups`)),
		into(&tel, chromedp.Evaluate[string](`document.querySelector('dd.f-mobile a.tel').getAttribute('href')`)),
		clickJS(`#customer-pickups`),
		chromedp.WaitVisible(css(`#customer-filter`)),
		rowsOf(&rows),
		into(&total, chromedp.Text(css(`#list-total`))),
	)
	if total != "共 1 条" || !slices.Equal(rows, []string{own.Msg.GetPickup().GetNumber()}) {
		t.Fatalf("the customer's pickups: %q, %v", total, rows)
	}
	if !strings.HasPrefix(tel, "tel:") || !strings.HasSuffix(tel, "13800138000") {
		t.Fatalf("the card's mobile dials %q", tel)
	}

	// Tracking by a phone number finds the pickup, then its history.
	var found []string
	var tracked string
	run(t, ctx, "track by phone",
		chromedp.Navigate(s.base+"/track"),
		chromedp.WaitVisible(css(`#track-form`)),
		chromedp.SendKeys(css(`#track-form input[name=waybill]`), "139 1234 5633"),
		chromedp.Submit(css(`#track-form`)),
		chromedp.WaitVisible(css(`#track-found`)),
		into(&found, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#track-found tbody tr')).map(r => r.dataset.waybill)`)),
		clickJS(`#track-found tbody a`),
		chromedp.WaitVisible(css(`#tracking`)),
		into(&tracked, chromedp.Evaluate[string](`document.getElementById("tracking").dataset.waybill`)),
	)
	if want := s.get(t, byNumber[numbers[33]]).GetWaybill(); !slices.Equal(found, []string{want}) || tracked != want {
		t.Fatalf("tracking 139 1234 5633 found %v, tracked %q; want %s", found, tracked, want)
	}

	// In English: plural totals.
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/pickups"),
		chromedp.WaitVisible(css(`#list-total`)),
		into(&total, chromedp.Text(css(`#list-total`))),
	)
	if total != "56 results" {
		t.Fatalf("English total %q", total)
	}
	run(t, ctx, "English, one result",
		chromedp.Navigate(s.base+"/pickups?q="+url.QueryEscape(numbers[20])),
		chromedp.WaitVisible(css(`#list-total`)),
		into(&total, chromedp.Text(css(`#list-total`))),
		shot(t, "pickup-list-en"),
	)
	if total != "1 result" {
		t.Fatalf("English total of one %q", total)
	}

	// On a phone: the pager, sorting by a link and the bulk form work.
	phone(t, ctx)
	var overflow bool
	run(t, ctx, "phone",
		clickJS(`button[data-lang=zh-CN]`),
		chromedp.WaitReady(css(`html[lang=zh-CN]`)),
		chromedp.Navigate(s.base+"/pickups?sort=weight"),
		chromedp.WaitVisible(css(`#pickups`)),
		rowsOf(&rows),
		into(&total, chromedp.Text(css(`#list-total`))),
		into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)),
		shot(t, "phone-pickup-list"),
	)
	// The customer's pickup is the lightest.
	if total != "共 56 条" || !slices.Equal(rows[1:], numbers[:49]) {
		t.Fatalf("phone: total %q, rows %v", total, rows)
	}
	if overflow {
		t.Error("the pickup list scrolls sideways on a phone")
	}
	run(t, ctx, "phone, next page",
		clickJS(`#page-next`),
		chromedp.WaitVisible(css(`#page-prev`)),
		rowsOf(&rows),
	)
	if !slices.Equal(rows, numbers[49:]) {
		t.Fatalf("phone, second page: %v", rows)
	}
}

// customerRows reads the customer names of the list's rows, in order.
func customerRows(dst *[]string) step {
	return into(dst, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#customer-list tbody tr td:nth-child(1) a, #customer-list tbody tr td.pick + td a')).map(a => a.textContent)`))
}

func TestBrowserCustomerList(t *testing.T) {
	s := startPickupSite(t)
	s.user(t, "list.agent", "列表客服", "customer.read", "customer.merge")
	// 52 customers: codes C00…C51, names in pinyin order reversed to the
	// codes (so that the two orders differ), a third of them in 北京.
	var names []string
	for i := range 52 {
		name := fmt.Sprintf("客户%02d", 51-i)
		city := "上海"
		if i%3 == 0 {
			city = "北京"
		}
		if _, err := s.cust.CreateCustomer(s.admin, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{
			DisplayName: name, Code: fmt.Sprintf("C%02d", i), City: city}, AllowDuplicate: true})); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	byName := slices.Sorted(slices.Values(names))
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1366, 768}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t, 1366, 768)
			loginAs(t, ctx, s.base, "list.agent", "/customers", `input#q`)
			if size.w < 500 {
				phone(t, ctx)
			}
			var total string
			var rows []string
			run(t, ctx, "by name",
				chromedp.Navigate(s.base+"/customers"),
				chromedp.WaitVisible(css(`#customer-list`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				customerRows(&rows),
				shot(t, "customer-list-"+size.name),
			)
			if total != "共 52 条" || !slices.Equal(rows, byName[:50]) {
				t.Fatalf("by name: %q, %v", total, rows)
			}
			run(t, ctx, "last page", clickJS(`#page-last`), chromedp.WaitVisible(css(`#page-first`)), customerRows(&rows))
			if !slices.Equal(rows, byName[2:]) {
				t.Fatalf("last page by name: %v", rows)
			}
			// By code, descending: C51 first, which is 客户00.
			run(t, ctx, "by code descending",
				chromedp.Navigate(s.base+"/customers?sort=code&dir=desc"),
				chromedp.WaitVisible(css(`#customer-list`)),
				customerRows(&rows),
			)
			if len(rows) != 50 || rows[0] != "客户00" || rows[49] != "客户49" {
				t.Fatalf("by code descending: %v", rows)
			}
			// A filter kept in the URL, with its total.
			run(t, ctx, "filtered by city",
				chromedp.Navigate(s.base+"/customers?ff=city&fo=equals&fv=北京&sort=code"),
				chromedp.WaitVisible(css(`#customer-list`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				customerRows(&rows),
			)
			if total != "共 18 条" || len(rows) != 18 || rows[0] != "客户51" {
				t.Fatalf("in 北京 by code: %q, %v", total, rows)
			}
		})
	}
	ctx := browser(t, 1366, 768)
	loginAs(t, ctx, s.base, "list.agent", "/customers", `input#q`)
	var total, header string
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/customers?q=%E5%AE%A2%E6%88%B707"),
		chromedp.WaitVisible(css(`#list-total`)),
		into(&total, chromedp.Text(css(`#list-total`))),
		into(&header, chromedp.Text(css(`#customer-list th[aria-sort=ascending]`))),
	)
	if total != "1 result" || !strings.HasPrefix(header, "Name") {
		t.Fatalf("English: %q, sorted header %q", total, header)
	}
}
