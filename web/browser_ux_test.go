package web_test

import (
	"strings"
	"testing"

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
