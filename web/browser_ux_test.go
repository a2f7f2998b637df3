package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	bt "branchline/internal/browsertest"

	"github.com/chromedp/chromedp"
)

// Browser tests of the usability bugs of issue 15: each failed before its
// fix.

// maskedAgent may book pickups and read customers, but not see their full
// phone numbers.
const maskedAgent = "sun.agent"

// TestBrowserMaskedAgentBooksForCustomer: an agent without the phone
// permission opens the form from an existing customer, sees the sender's
// number masked and not required, books, and the pickup carries the
// customer's real number, taken from the record by the server.
func TestBrowserMaskedAgentBooksForCustomer(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	s.user(t, maskedAgent, "孙客服", "customer.read", "pickup.write")
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, maskedAgent, "/pickups/new?customer="+cust, `#pickup-form`)

	var value, shown string
	var required bool
	run(t, ctx, "sender's number masked",
		into(&value, chromedp.Value(css(`input[name=sender_phone]`))),
		into(&required, chromedp.Evaluate[bool](`document.querySelector('input[name=sender_phone]').required`)),
		into(&shown, chromedp.Text(css(`#sender-phone-masked`))),
		shot(t, "pickup-form-masked"),
	)
	if value != "" || required || !strings.Contains(shown, "****") || strings.Contains(shown, "0013") {
		t.Fatalf("masked agent's form: value %q, required %v, shown %q", value, required, shown)
	}

	var status, id string
	run(t, ctx, "book",
		chromedp.SendKeys(css(`input[name=receiver_name]`), "刘女士"),
		chromedp.SendKeys(css(`input[name=receiver_address]`), "北京市朝阳区建国路 1 号"),
		chromedp.SendKeys(css(`input[name=destination]`), "北京市朝阳区"),
		chromedp.SendKeys(css(`input[name=goods]`), "合同文件"),
		chromedp.SendKeys(css(`input[name=weight_kg]`), "1"),
		clickJS(`#book`),
		chromedp.WaitVisible(css(`#pickup`)),
		into(&status, chromedp.Text(css(`#pickup-status`))),
		into(&id, chromedp.Evaluate[string](`location.pathname.split('/').pop()`)),
	)
	if status == "" {
		t.Fatal("no status on the booked pickup's page")
	}
	p := s.get(t, id)
	if got := p.GetSender().GetPhone(); got != "+8613800138000" {
		t.Fatalf("the pickup's sender phone is %q, want the customer's +8613800138000", got)
	}
}

// TestBrowserRoleHome: each role that logs in at the site root lands on
// its own home page, not on a page it may not open: a courier on the
// courier page, a warehouse clerk on the stock, an agent on the
// customers, a supervisor on the live board.
func TestBrowserRoleHome(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	s.user(t, "qian.clerk", "钱库管", "stock.read", "stock.move")
	s.user(t, "zhou.super", "周主管", "call.supervise")
	base := s.n.URL() // the node's own UI, with every page package
	for _, tc := range []struct {
		user, path, wait string
	}{
		{courierUser, "/courier", `#courier-pickups`},
		{"qian.clerk", "/stock", `main`},
		{agentUser, "/customers", `input#q`},
		{"zhou.super", "/supervisor", `main`},
	} {
		t.Run(tc.user, func(t *testing.T) {
			ctx := browser(t, 1366, 900)
			var loc, title string
			run(t, ctx, "log in at the root",
				chromedp.Navigate(base+"/"),
				chromedp.WaitVisible(css(`#login-form`)),
				chromedp.SendKeys(css(`input[name=username]`), tc.user),
				chromedp.SendKeys(css(`input[name=password]`), webPassword),
				chromedp.Submit(css(`#login-form`)),
				leftLogin(),
				into(&loc, chromedp.Evaluate[string](`location.pathname`)),
				into(&title, chromedp.Evaluate[string](`document.title`)),
				shot(t, "home-"+tc.user),
			)
			if loc != tc.path {
				t.Fatalf("%s landed on %s (%q), want %s", tc.user, loc, title, tc.path)
			}
			run(t, ctx, "the home page shows", chromedp.WaitVisible(css(tc.wait)))
		})
	}
}

// leftLogin waits, through the navigations of a sign-in, until the page
// is a loaded page other than the login page.
func leftLogin() step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](`location.pathname !== '/login' && document.readyState === 'complete'`)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("still on the login page after 10s (last error: %v)", err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// TestBrowserDepositWarningInQuote: booking monthly for a customer whose
// unsettled amount with this pickup passes the deposit, the live quote
// warns before saving; paying cash, it does not.
func TestBrowserDepositWarningInQuote(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t) // no deposit: any monthly pickup passes it
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, agentUser, "/pickups/new?customer="+cust, `#pickup-form`)
	var warn string
	run(t, ctx, "monthly quote",
		chromedp.SendKeys(css(`input[name=destination]`), "北京市朝阳区"),
		chromedp.SendKeys(css(`input[name=weight_kg]`), "2"),
		chromedp.WaitVisible(css(`#quote[data-state=ok]`)),
		chromedp.WaitVisible(css(`#quote-warning`)),
		into(&warn, chromedp.Text(css(`#quote-warning`))),
		shot(t, "pickup-quote-deposit"),
	)
	if !strings.Contains(warn, "超出押金") {
		t.Fatalf("the quote warns %q", warn)
	}
	if n := s.count(t); n != 0 {
		t.Fatalf("%d pickups booked before saving", n)
	}
	run(t, ctx, "cash quote",
		chromedp.Click(css(`input[name=payment][value=cash]`)),
		chromedp.WaitNotVisible(css(`#quote-warning`)),
	)
}

// TestBrowserFirstErrorInView: a refused booking whose only error is the
// zone, below the fold of a 1366×768 screen, names the zone in the banner
// and scrolls to and focuses the zone's input.
func TestBrowserFirstErrorInView(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	ctx := browser(t, 1366, 768)
	loginAs(t, ctx, s.base, agentUser, "/pickups/new?customer="+cust, `#pickup-form`)
	var banner, focused string
	var inView bool
	run(t, ctx, "unknown zone",
		chromedp.SendKeys(css(`input[name=destination]`), "北京"),
		chromedp.SendKeys(css(`input[name=goods]`), "样品"),
		chromedp.SendKeys(css(`input[name=weight_kg]`), "2"),
		js(`(() => { const s = document.querySelector('select[name=zone]'); s.add(new Option('已撤销片区', 'gone-zone')); s.value = 'gone-zone'; })()`),
		// The refused form is another page: nothing is asked of the old
		// one while it goes (a flake under load: "Could not find node").
		bt.ClickNav(`#book`),
		chromedp.WaitVisible(css(`#zone-error`)),
		pollTrue(`document.activeElement && document.activeElement.name === 'zone'`),
		into(&banner, chromedp.Text(css(`main p.error`))),
		into(&focused, chromedp.Evaluate[string](`document.activeElement.name`)),
		into(&inView, chromedp.Evaluate[bool](`(() => { const r = document.querySelector('select[name=zone]').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })()`)),
		shot(t, "pickup-form-zone-error"),
	)
	if !strings.Contains(banner, "片区") || !strings.Contains(banner, "没有这个片区") || focused != "zone" || !inView {
		t.Fatalf("banner %q, focus %q, zone input in view %v", banner, focused, inView)
	}
	if n := s.count(t); n != 0 {
		t.Fatalf("%d pickups booked", n)
	}
}
