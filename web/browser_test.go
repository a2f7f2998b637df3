package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	bt "branchline/internal/browsertest"
	"branchline/node"
	"branchline/wiring"
)

// The browser tests drive a real Chromium (Debian's chromium, installed by
// test.sh) against a real node, and save screenshots of the pages they
// visit under $BRANCHLINE_ARTIFACTS (default: artifacts/ at the repo root).

const webPassword = "browser-test-pw"

func startNode(t *testing.T) *wiring.Node {
	t.Helper()
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-web", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminPassword: webPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// The chromedp helpers every browser test uses, shared with e2e.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	return bt.New(t, width, height, 90*time.Second)
}

func shot(t *testing.T, name string) step { return bt.Shot(t, name) }

type step = bt.Step

func run(t *testing.T, ctx context.Context, what string, steps ...step) {
	t.Helper()
	bt.Run(t, ctx, what, steps...)
}

// into stores the value of a reading action, as a step.
func into[T any](dst *T, a chromedp.Action[T]) step { return bt.Into(dst, a) }

type css = bt.CSS

// clickJS clicks an element from script: a button that submits a form
// navigates away, which a synthesized mouse click would wait on.
func clickJS(sel string) step { return bt.ClickJS(sel) }

func login(t *testing.T, ctx context.Context, base, user, pw string) {
	t.Helper()
	run(t, ctx, "log in",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`#login-form`)),
		chromedp.SendKeys(css(`input[name=username]`), user),
		chromedp.SendKeys(css(`input[name=password]`), pw),
		chromedp.Submit(css(`#login-form`)),
		chromedp.WaitVisible(css(`input#q`)),
	)
}

func TestBrowserCustomerFlow(t *testing.T) {
	n := startNode(t)
	ctx := browser(t, 1366, 768)
	base := n.URL()

	var loc string
	run(t, ctx, "open the login page",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`#login-form`)),
		into(&loc, chromedp.Location()),
		shot(t, "login"),
	)
	if !strings.Contains(loc, "/login?next=") {
		t.Fatalf("unauthenticated visit landed on %s, want the login page", loc)
	}

	// A wrong password shows an error and no session.
	var msg string
	run(t, ctx, "wrong password",
		chromedp.SendKeys(css(`input[name=username]`), "admin"),
		chromedp.SendKeys(css(`input[name=password]`), "not-the-password"),
		chromedp.Submit(css(`#login-form`)),
		chromedp.WaitVisible(css(`p.error`)),
		into(&msg, chromedp.Text(css(`p.error`))),
	)
	if !strings.Contains(msg, "密码错误") {
		t.Fatalf("wrong password message %q", msg)
	}

	login(t, ctx, base, "admin", webPassword)

	// Invalid input is refused with a field-level message.
	var fieldErr string
	run(t, ctx, "bad phone",
		chromedp.Navigate(base+"/customers/new"),
		chromedp.WaitVisible(css(`#customer-form`)),
		chromedp.SendKeys(css(`input[name=display_name]`), "号码有误的客户"),
		chromedp.SendKeys(css(`input[name=mobile]`), "12345"),
		chromedp.Submit(css(`#customer-form`)),
		chromedp.WaitVisible(css(`.field-error`)),
		into(&fieldErr, chromedp.Text(css(`label.invalid .field-error`))),
		shot(t, "customer-form-errors"),
	)
	if fieldErr == "" {
		t.Fatal("no field error for a bad mobile number")
	}

	// Create a customer.
	var name, mobile string
	run(t, ctx, "create a customer",
		chromedp.Navigate(base+"/customers/new"),
		chromedp.WaitVisible(css(`#customer-form`)),
		chromedp.SendKeys(css(`input[name=display_name]`), "上海浦东测试物流有限公司"),
		chromedp.SendKeys(css(`input[name=mobile]`), "138 0013 8000"),
		chromedp.SendKeys(css(`input[name=city]`), "上海"),
		chromedp.SendKeys(css(`input[name=address]`), "上海市浦东新区世纪大道 100 号"),
		chromedp.Submit(css(`#customer-form`)),
		chromedp.WaitVisible(css(`dl.fields`)),
		into(&name, chromedp.Text(css(`h1`))),
		into(&mobile, chromedp.Text(css(`dd.f-mobile`))),
		shot(t, "customer-card"),
	)
	if name != "上海浦东测试物流有限公司" || !strings.Contains(strings.ReplaceAll(mobile, " ", ""), "13800138000") {
		t.Fatalf("card shows %q / %q", name, mobile)
	}

	// Find it by typing: the type-ahead lists it.
	run(t, ctx, "type-ahead",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`input#q`)),
		chromedp.SendKeys(css(`input#q`), "13800138000"),
		suggests("上海浦东测试物流有限公司"),
		shot(t, "customer-search"),
	)

	// Switch to English and back.
	var nav string
	run(t, ctx, "switch to English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		into(&nav, chromedp.Text(css(`nav.nav`))),
		shot(t, "customers-en"),
	)
	if !strings.Contains(nav, "Customers") {
		t.Fatalf("English navigation reads %q", nav)
	}
	run(t, ctx, "switch to Chinese",
		clickJS(`button[data-lang=zh-CN]`),
		chromedp.WaitReady(css(`html[lang=zh-CN]`)),
		into(&nav, chromedp.Text(css(`nav.nav`))),
	)
	if !strings.Contains(nav, "客户") {
		t.Fatalf("Chinese navigation reads %q", nav)
	}

	// Log out: the session is gone.
	run(t, ctx, "log out",
		clickJS(`#logout`),
		chromedp.WaitVisible(css(`#login-form`)),
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`#login-form`)),
	)
}

// TestBrowserPhoneLayout renders the main pages at a phone's size.
func TestBrowserPhoneLayout(t *testing.T) {
	n := startNode(t)
	ctx := browser(t, 390, 844)
	login(t, ctx, n.URL(), "admin", webPassword)
	var overflow bool
	var width int
	// Headless Chromium keeps windows at least 500 px wide: emulate the phone.
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		into(&width, chromedp.Evaluate[int](`window.innerWidth`)))
	if width != 390 {
		t.Fatalf("viewport is %d px wide, want 390", width)
	}
	run(t, ctx, "phone layout",
		chromedp.Navigate(n.URL()+"/customers/new"),
		chromedp.WaitVisible(css(`#customer-form`)),
		into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)),
		shot(t, "phone-customer-form"),
	)
	if overflow {
		t.Error("the customer form scrolls sideways on a phone")
	}
}
