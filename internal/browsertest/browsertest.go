// Package browsertest starts a real headless Chromium for tests (web's
// page tests and e2e's process tests) and holds the few chromedp steps
// they share. Run and Shot check every page they leave the browser on
// with axe-core (axe.go), so that a page no test visits is the only page
// not checked. It is imported by tests only.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Step is a chromedp action that yields nothing.
type Step = chromedp.Action[chromedp.Void]

// CSS selects by CSS selector.
type CSS = chromedp.CSS

// ChromiumPath finds the browser, failing the test when there is none.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run ./test.sh, which installs it (apt-get install chromium)")
	return ""
}

// New returns a chromedp context for a fresh headless Chromium with the
// given window size and zh-CN as its language, closed when the test ends;
// its actions run under a deadline of timeout, doubled for the axe-core
// checks Run and Shot add (on a loaded machine they take about as long as
// the steps themselves). Tests using it are skipped with -short.
func New(t testing.TB, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped with -short")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("accept-lang", "zh-CN,zh"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	// The first run starts the browser and must not carry a deadline;
	// the test's actions run under one derived from it.
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 2*timeout)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return tctx
}

// Tab opens a tab in a new browser context of ctx's browser — its own
// cookies, like a private window, so another user can sign in — closed
// when the test ends.
func Tab(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tab); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(cancel)
	return tab
}

// ArtifactsDir is where screenshots go: $BRANCHLINE_ARTIFACTS/web, or
// artifacts/web at the repository's top (tests run in a package folder).
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BRANCHLINE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Shot saves a full-page screenshot as name.png in ArtifactsDir, then
// checks the page with axe-core (see Axe).
func Shot(t testing.TB, name string) Step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(ArtifactsDir(t), name+".png"), buf, 0o644); err != nil {
			return err
		}
		return axeCheck(ctx, tg, t)
	})
}

// Run runs steps, failing the test with what on error, then checks the
// page they leave the browser on with axe-core (see Axe): so every page a
// test goes through is checked, whether or not it takes a screenshot.
func Run(t testing.TB, ctx context.Context, what string, steps ...Step) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := chromedp.Do(ctx, Axe(t)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Into stores the value of a reading action, as a step.
func Into[T any](dst *T, a chromedp.Action[T]) Step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := a(ctx, tg)
		*dst = v
		return err
	})
}

// ClickJS clicks an element from script: a button that submits a form
// navigates away, which a synthesized mouse click would wait on.
func ClickJS(sel string) Step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`document.querySelector(`+strconv.Quote(sel)+`).click()`)(ctx, tg)
		return err
	})
}

// ClickNav clicks, from script, an element that loads another page (a
// form's submit button) and waits until that page has loaded. Queries
// made while the old page goes away fail ("Cannot find context with
// specified id", "No node with given id found"): the next step must not
// start before the new page is there.
func ClickNav(sel string) Step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Evaluate[any](`window.__leaving = true; document.querySelector(`+strconv.Quote(sel)+`).click()`)(ctx, tg); err != nil {
			return err
		}
		for {
			// Errors are the old page going away: ask again.
			if loaded, err := chromedp.Evaluate[bool](`!window.__leaving && document.readyState === "complete"`)(ctx, tg); err == nil && loaded {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// Login signs user in through the login form of the site at base, starting
// from path (which needs a session), and waits until ready is visible.
func Login(t testing.TB, ctx context.Context, base, path, user, pw, ready string) {
	t.Helper()
	Run(t, ctx, "open the login form",
		chromedp.Navigate(base+path),
		chromedp.WaitVisible(CSS(`#login-form`)),
		chromedp.SendKeys(CSS(`input[name=username]`), user),
		chromedp.SendKeys(CSS(`input[name=password]`), pw),
		chromedp.Submit(CSS(`#login-form`)),
	)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(CSS(ready))); err != nil {
		var loc, text string
		_ = chromedp.Do(ctx, Into(&loc, chromedp.Location()), Into(&text, chromedp.Text(CSS(`body`))), Shot(t, "login-failed-"+user))
		if len(text) > 500 {
			text = text[:500]
		}
		t.Fatalf("log in as %s at %s%s: %s not shown (%v); the browser is at %s showing:\n%s", user, base, path, ready, err, loc, text)
	}
}
