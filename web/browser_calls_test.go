package web_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The lists issue 15 moved onto the list kernel last, in a real
// Chromium: the call records (and the customer card's calls and
// callbacks), the stock moves and the audit log — totals, sorting, pages,
// search and filters kept in the URL, in Chinese and English, on a
// desktop and a phone, each page checked by axe-core (run does).

// callRows reads the call ids of the call list's rows, in order.
func callRows(dst *[]string) step {
	return into(dst, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#calls tbody tr')).map(r => r.dataset.call)`))
}

// viewports are the sizes every list is checked at.
var viewports = []struct {
	name string
	w, h int
}{{"desktop", 1366, 768}, {"phone", 390, 844}}

func TestBrowserCallList(t *testing.T) {
	s := startCallSite(t)
	s.setUpCalls(t, 55) // a call a minute; 37 of the customer's, 19 answered by the agent
	all := slices.Clone(s.calls)
	var answered, customers []string
	for i, id := range all {
		if i%3 != 2 {
			customers = append(customers, id)
			if i%2 == 0 {
				answered = append(answered, id)
			}
		}
	}
	for _, size := range viewports {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t, 1366, 768)
			loginAs(t, ctx, s.base, callSupervisor, "/calls?"+window(), `#calls`)
			if size.w < 500 {
				phone(t, ctx)
			}
			var total, loc string
			var rows []string
			var overflow bool
			run(t, ctx, "newest first",
				chromedp.Navigate(s.base+"/calls?"+window()),
				chromedp.WaitVisible(css(`#calls`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				callRows(&rows),
				into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)),
				shot(t, "call-list-"+size.name),
			)
			if total != "共 55 条" || !slices.Equal(rows, reversed(all)[:50]) {
				t.Fatalf("newest first: %q, %v", total, rows)
			}
			if overflow {
				t.Error("the call list scrolls sideways")
			}
			run(t, ctx, "next page", clickJS(`#page-next`), chromedp.WaitVisible(css(`#page-prev`)), callRows(&rows))
			if !slices.Equal(rows, reversed(all)[50:]) {
				t.Fatalf("second page: %v", rows)
			}
			// By wait, shortest first: a call waited as many seconds as it
			// is calls after the first, so the oldest first.
			run(t, ctx, "sort by wait",
				chromedp.Navigate(s.base+"/calls?"+window()),
				chromedp.WaitVisible(css(`#calls`)),
				clickJS(`#calls th a[href*="sort=wait"]`),
				chromedp.WaitReady(css(`#calls th[aria-sort=ascending] a[href*="sort=wait"]`)),
				callRows(&rows),
				into(&loc, chromedp.Location()),
			)
			if !slices.Equal(rows, all[:50]) || !strings.Contains(loc, "sort=wait") || !strings.Contains(loc, "from=") {
				t.Fatalf("by wait at %s: %v", loc, rows)
			}
			// A filter from the form, kept with the order in the URL.
			run(t, ctx, "answered only",
				chromedp.SetValue(css(`#call-filter select[name=outcome]`), "answered"),
				js(`document.body.dataset.old = "1"`),
				chromedp.Submit(css(`#call-filter`)),
				chromedp.WaitVisible(css(`body:not([data-old]) #calls`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				callRows(&rows),
				into(&loc, chromedp.Location()),
			)
			if total != fmt.Sprintf("共 %d 条", len(answered)) || !slices.Equal(rows, answered) || !strings.Contains(loc, "outcome=answered") || !strings.Contains(loc, "sort=wait") {
				t.Fatalf("answered at %s: %q, %v", loc, total, rows)
			}
			// The customer's card: its latest calls with tel: links, its
			// callbacks open first, and the way to all its calls.
			var cardCalls, states []string
			var tel string
			run(t, ctx, "the card",
				chromedp.Navigate(s.base+"/customers/"+s.customer),
				chromedp.WaitVisible(css(`#card-calls`)),
				into(&cardCalls, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#card-calls tbody tr')).map(r => r.dataset.call)`)),
				into(&states, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#card-callbacks tbody tr')).map(r => r.dataset.status)`)),
				into(&tel, chromedp.Evaluate[string](`document.querySelector('#card-calls a.tel').getAttribute('href')`)),
				into(&total, chromedp.Text(css(`#customer-calls`))),
				shot(t, "card-calls-"+size.name),
			)
			if !slices.Equal(cardCalls, reversed(customers)[:10]) || !slices.Equal(states, []string{"open", "done"}) ||
				tel != "tel:"+callerNumber || total != fmt.Sprintf("全部 %d 次通话", len(customers)) {
				t.Fatalf("card: calls %v, callbacks %v, tel %q, link %q", cardCalls, states, tel, total)
			}
			run(t, ctx, "the customer's calls",
				clickJS(`#customer-calls`),
				chromedp.WaitVisible(css(`#customer-filter`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				callRows(&rows),
			)
			if total != fmt.Sprintf("共 %d 条", len(customers)) || !slices.Equal(rows, reversed(customers)) {
				t.Fatalf("the customer's calls: %q, %v", total, rows)
			}
		})
	}

	// In English: plural totals, words for outcomes.
	ctx := browser(t, 1366, 768)
	loginAs(t, ctx, s.base, callSupervisor, "/calls?"+window(), `#calls`)
	var total, outcome, cbState string
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/calls?q="+otherNumber+"&"+window()),
		chromedp.WaitVisible(css(`#calls`)),
		into(&total, chromedp.Text(css(`#list-total`))),
		into(&outcome, chromedp.Text(css(`#calls tbody tr td .badge`))),
		shot(t, "call-list-en"),
	)
	if total != "18 results" || outcome != "Caller hung up" {
		t.Fatalf("English: %q, %q", total, outcome)
	}
	run(t, ctx, "English card",
		chromedp.Navigate(s.base+"/customers/"+s.customer),
		chromedp.WaitVisible(css(`#card-callbacks`)),
		into(&total, chromedp.Text(css(`#customer-calls`))),
		into(&cbState, chromedp.Text(css(`#card-callbacks tbody tr .badge`))),
	)
	if total != fmt.Sprintf("All %d calls", len(customers)) || cbState != "Open" {
		t.Fatalf("English card: %q, %q", total, cbState)
	}

	// An agent who may not see numbers: their own calls, masked, no
	// number search, no tel: links, on the list and the card alike.
	s.record(t, time.Now().Add(-30*time.Second), callerNumber, "sales", callMasked, false, time.Second, time.Minute)
	ctx = browser(t, 390, 844)
	loginAs(t, ctx, s.base, callMasked, "/calls?"+window(), `#calls`)
	phone(t, ctx)
	var text string
	var tels int
	run(t, ctx, "masked list",
		chromedp.Navigate(s.base+"/calls?"+window()),
		chromedp.WaitVisible(css(`#calls`)),
		into(&total, chromedp.Text(css(`#list-total`))),
		into(&text, chromedp.Text(css(`#call-list`))),
		into(&tels, chromedp.Evaluate[int](`document.querySelectorAll('a[href^="tel:"], #call-q').length`)),
		shot(t, "call-list-masked"),
	)
	if total != "共 1 条" || fullNumber(text, callerNumber) || !strings.Contains(text, "138****8000") || tels != 0 {
		t.Fatalf("masked list: %q, %d tel links or a number search: %s", total, tels, text)
	}
	run(t, ctx, "masked card",
		chromedp.Navigate(s.base+"/customers/"+s.customer),
		chromedp.WaitVisible(css(`#calls`)),
		into(&text, chromedp.Text(css(`main`))),
		into(&tels, chromedp.Evaluate[int](`document.querySelectorAll('a[href^="tel:"]').length`)),
	)
	if fullNumber(text, callerNumber) || tels != 0 {
		t.Fatalf("masked card shows a number whole (%d tel links)", tels)
	}
}

// moveRows reads the move ids of the move list's rows, in order.
func moveRows(dst *[]string) step {
	return into(dst, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#moves tbody tr')).map(r => r.dataset.move)`))
}

func TestBrowserMoveList(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t) // two receipts, 20 and 5 days ago
	s.receiveMany(t, 53)
	for _, size := range viewports {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t, 1366, 768)
			loginAs(t, ctx, s.base, "admin", "/stock/moves", `#moves`)
			if size.w < 500 {
				phone(t, ctx)
			}
			var total, loc string
			var first, rows []string
			run(t, ctx, "newest first",
				chromedp.Navigate(s.base+"/stock/moves"),
				chromedp.WaitVisible(css(`#moves`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				moveRows(&first),
				shot(t, "move-list-"+size.name),
			)
			if total != "共 55 条" || len(first) != 50 {
				t.Fatalf("newest first: %q, %d rows", total, len(first))
			}
			run(t, ctx, "last page", clickJS(`#page-last`), chromedp.WaitVisible(css(`#page-first`)), moveRows(&rows))
			if len(rows) != 50 || !slices.Equal(rows[:45], first[5:]) {
				t.Fatalf("last page: %v", rows)
			}
			run(t, ctx, "sort by type",
				clickJS(`#moves th a[href*="sort=type"]`),
				chromedp.WaitReady(css(`#moves th[aria-sort=ascending] a[href*="sort=type"]`)),
				into(&loc, chromedp.Location()),
			)
			if !strings.Contains(loc, "sort=type") {
				t.Fatalf("sorted by type at %s", loc)
			}
			run(t, ctx, "search a reference",
				chromedp.SendKeys(css(`#move-q`), "LIST-042"),
				js(`document.body.dataset.old = "1"`),
				chromedp.Submit(css(`#move-filter`)),
				chromedp.WaitVisible(css(`body:not([data-old]) #moves`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				into(&loc, chromedp.Location()),
			)
			if total != "共 1 条" || !strings.Contains(loc, "q=LIST-042") || !strings.Contains(loc, "sort=type") {
				t.Fatalf("search at %s: %q", loc, total)
			}
		})
	}
	ctx := browser(t, 1366, 768)
	loginAs(t, ctx, s.base, "admin", "/stock/moves", `#moves`)
	var total string
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/stock/moves?product="+milk),
		chromedp.WaitVisible(css(`#moves`)),
		into(&total, chromedp.Text(css(`#list-total`))),
		shot(t, "move-list-en"),
	)
	if total != "2 results" {
		t.Fatalf("English: %q", total)
	}
}

func TestBrowserAuditList(t *testing.T) {
	s := startCallSite(t) // three users created: entries of the log
	for i := range 52 {
		s.user(t, fmt.Sprintf("user.%02d", i), fmt.Sprintf("用户%02d", i))
	}
	for _, size := range viewports {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t, 1366, 768)
			loginAs(t, ctx, s.base, "admin", "/admin/audit?action=user_created", `#audit`)
			if size.w < 500 {
				phone(t, ctx)
			}
			var total, loc string
			var n int
			run(t, ctx, "users created",
				chromedp.Navigate(s.base+"/admin/audit?action=user_created"),
				chromedp.WaitVisible(css(`#audit`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				into(&n, chromedp.Evaluate[int](`document.querySelectorAll('#audit tbody tr').length`)),
				shot(t, "audit-list-"+size.name),
			)
			if total != "共 55 条" || n != 50 {
				t.Fatalf("users created: %q, %d rows", total, n)
			}
			run(t, ctx, "next page", clickJS(`#page-next`), chromedp.WaitVisible(css(`#page-prev`)),
				into(&n, chromedp.Evaluate[int](`document.querySelectorAll('#audit tbody tr').length`)))
			if n != 5 {
				t.Fatalf("second page: %d rows", n)
			}
			run(t, ctx, "sort by action",
				chromedp.Navigate(s.base+"/admin/audit"),
				chromedp.WaitVisible(css(`#audit`)),
				clickJS(`#audit th a[href*="sort=action"]`),
				chromedp.WaitReady(css(`#audit th[aria-sort=ascending] a[href*="sort=action"]`)),
				into(&loc, chromedp.Location()),
			)
			if !strings.Contains(loc, "sort=action") {
				t.Fatalf("sorted at %s", loc)
			}
			run(t, ctx, "search",
				chromedp.SendKeys(css(`#audit-q`), "user.07"),
				js(`document.body.dataset.old = "1"`),
				chromedp.Submit(css(`#audit-filter`)),
				chromedp.WaitVisible(css(`body:not([data-old]) #audit`)),
				into(&total, chromedp.Text(css(`#list-total`))),
				into(&loc, chromedp.Location()),
			)
			if !strings.HasPrefix(total, "共 ") || total == "共 0 条" || !strings.Contains(loc, "q=user.07") || !strings.Contains(loc, "sort=action") {
				t.Fatalf("search at %s: %q", loc, total)
			}
		})
	}
	ctx := browser(t, 1366, 768)
	loginAs(t, ctx, s.base, "admin", "/admin/audit", `#audit`)
	var total string
	run(t, ctx, "English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.Navigate(s.base+"/admin/audit?action=user_created"),
		chromedp.WaitVisible(css(`#audit`)),
		into(&total, chromedp.Text(css(`#list-total`))),
		shot(t, "audit-list-en"),
	)
	if total != "55 results" {
		t.Fatalf("English: %q", total)
	}
}
