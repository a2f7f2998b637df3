package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	"branchline/auth"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// TestBrowserCourierAnnouncements (issue 15, part 5): on the courier's
// phone a new dispatch is announced — a banner naming it, the pickup
// marked, a vibration — the list is sorted by state then time, the
// address opens the phone's map app and the button says what it does.
func TestBrowserCourierAnnouncements(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	first := s.book(t, "文件一袋")
	if first.GetCourier() != courierUser {
		t.Fatalf("pickup in Pudong assigned to %q", first.GetCourier())
	}
	asCourier := auth.WithPrincipal(context.Background(), &auth.Principal{User: courierUser})
	if _, err := s.pickups.AcceptPickup(asCourier, connect.NewRequest(&pickupv1.AcceptPickupRequest{Id: first.GetId()})); err != nil {
		t.Fatalf("the courier accepts the first pickup: %v", err)
	}
	ctx := browser(t, 390, 844)
	loginAs(t, ctx, s.base, courierUser, "/courier", `#courier-pickups`)
	var hidden bool
	run(t, ctx, "stream open, vibration recorded",
		pollTrue(`window.branchlineEvents && window.branchlineEvents.readyState === 1`),
		js(`(() => { window.vibrated = []; Object.defineProperty(navigator, 'vibrate', {configurable: true, value: p => { window.vibrated.push(p); return true; }}); })()`),
		into(&hidden, chromedp.Evaluate[bool](`document.getElementById('courier-new').hidden`)),
	)
	if !hidden {
		t.Fatal("the banner shows before anything new came")
	}

	second := s.book(t, "样品两箱")
	s.pages.Changed(second.GetId())
	item := `[data-pickup="` + second.GetNumber() + `"]`
	var banner, order, mapHref, button string
	var vibrations int
	run(t, ctx, "the new dispatch",
		chromedp.WaitVisible(css(item)),
		chromedp.WaitVisible(css(`#courier-new`)),
		into(&banner, chromedp.Text(css(`#courier-new`))),
		into(&order, chromedp.Evaluate[string](`[...document.querySelectorAll('#courier-pickups [data-pickup]')].map(a => a.dataset.status + ':' + a.dataset.pickup).join(' ')`)),
		into(&vibrations, chromedp.Evaluate[int](`window.vibrated.length`)),
		into(&mapHref, chromedp.Evaluate[string](`document.querySelector('`+item+` a.map').getAttribute('href')`)),
		into(&button, chromedp.Text(css(item+` button[data-action=pickup]`))),
		pollTrue(`document.querySelector('`+item+`').classList.contains('new') && !document.querySelector('[data-pickup="`+first.GetNumber()+`"]').classList.contains('new')`),
		shot(t, "courier-phone-new-job"),
	)
	if !strings.Contains(banner, second.GetNumber()) || !strings.Contains(banner, "新派件") {
		t.Fatalf("banner %q, want the new pickup %s announced", banner, second.GetNumber())
	}
	if vibrations != 1 {
		t.Fatalf("the phone vibrated %d times, want once", vibrations)
	}
	if want := "assigned:" + second.GetNumber() + " accepted:" + first.GetNumber(); order != want {
		t.Fatalf("list order %q, want %q (to answer first, then accepted)", order, want)
	}
	if want := "geo:0,0?q=" + url.QueryEscape(second.GetSender().GetAddress()); mapHref != want {
		t.Fatalf("address link %q, want %q", mapHref, want)
	}
	if button != "确认取件" {
		t.Fatalf("pick-up button says %q", button)
	}
	noSideScroll(t, ctx, "the courier page with a banner")
}

// TestBrowserBoardUpdatesInPlace (issue 15, part 8): the supervisor's
// board brings itself up to date without reloading the page, which moved
// focus and scroll every 5 seconds.
func TestBrowserBoardUpdatesInPlace(t *testing.T) {
	n := startNode(t)
	ctx := browser(t, 1366, 900)
	login(t, ctx, n.URL(), "admin", webPassword)
	var first string
	run(t, ctx, "supervisor page",
		chromedp.Navigate(n.URL()+"/supervisor"),
		chromedp.WaitVisible(css(`#board-time`)),
		js(`window.samePage = true; window.scrollTo(0, 40)`),
		into(&first, chromedp.Evaluate[string](`document.getElementById('board-time').dataset.at`)),
	)
	var same bool
	run(t, ctx, "a refresh later",
		pollTrue(`document.getElementById('board-time').dataset.at !== '`+first+`'`),
		into(&same, chromedp.Evaluate[bool](`window.samePage === true`)),
	)
	if !same {
		t.Fatal("the board reloaded the page instead of updating in place")
	}
}
