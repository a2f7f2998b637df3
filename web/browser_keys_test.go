package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserKeyboardShortcuts (issue 15, part 7): "?" lists the
// shortcuts and Esc closes the list; "/" goes to the search box; Alt+N
// opens a new pickup, Alt+C a new customer; Ctrl+S saves the page's form —
// an agent creates a customer without the mouse.
func TestBrowserKeyboardShortcuts(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	ctx := browser(t, 1366, 900)
	loginAs(t, ctx, s.base, agentUser, "/customers", `#q`)
	var open, closed, searchFocused bool
	var help string
	run(t, ctx, "help overlay",
		js(`document.activeElement.blur()`),
		chromedp.KeyEvent("?"),
		chromedp.WaitVisible(css(`#shortcuts`)),
		into(&open, chromedp.Evaluate[bool](`document.activeElement.id === 'shortcuts-close'`)),
		into(&help, chromedp.Text(css(`#shortcuts`))),
		shot(t, "shortcuts"),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(css(`#shortcuts`)),
		into(&closed, chromedp.Evaluate[bool](`document.getElementById('shortcuts').hidden`)),
		chromedp.KeyEvent("/"),
		into(&searchFocused, chromedp.Evaluate[bool](`document.activeElement.id === 'q'`)),
	)
	if !open || !closed || !searchFocused || !strings.Contains(help, "新建叫件") || !strings.Contains(help, "Ctrl") {
		t.Fatalf("overlay opened with focus %v, closed %v, search focused %v, lists %q", open, closed, searchFocused, help)
	}
	run(t, ctx, "Alt+N: a new pickup",
		js(`document.activeElement.blur()`),
		chromedp.KeyEvent("n", chromedp.KeyModifiers(chromedp.ModifierAlt)),
		chromedp.WaitVisible(css(`#pickup-form`)),
	)
	var loc, name string
	run(t, ctx, "Alt+C, type, Ctrl+S: a new customer",
		chromedp.KeyEvent("c", chromedp.KeyModifiers(chromedp.ModifierAlt)),
		chromedp.WaitVisible(css(`#customer-form`)),
		chromedp.Focus(css(`input[name=display_name]`)),
		chromedp.KeyEvent("Keyboard Only Ltd"),
		chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitVisible(css(`#customer dl.fields`)),
		into(&loc, chromedp.Location()),
		into(&name, chromedp.Text(css(`#customer h1`))),
	)
	if !strings.Contains(loc, "/customers/") || !strings.Contains(name, "Keyboard Only Ltd") {
		t.Fatalf("after Ctrl+S: at %s, card %q", loc, name)
	}
}
