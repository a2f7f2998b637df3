package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, vendored from npm with its licence (see
// testdata/axe-core/README.md) so that the checks run offline.
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// AxeTags are the axe-core rule tags every checked page must pass: WCAG 2
// levels A and AA, and Deque's best practices.
var AxeTags = []string{"wcag2a", "wcag2aa", "best-practice"}

// The two viewports every page is checked at: the desktop the tests use
// and a phone (390×844, mobile), as in issue 15.
const (
	deskWidth, deskHeight   = 1366, 768
	phoneWidth, phoneHeight = 390, 844
)

// axeViolation is what the check reads back of one axe-core violation.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  json.RawMessage `json:"target"`
		HTML    string          `json:"html"`
		Summary string          `json:"summary"`
	} `json:"nodes"`
}

// axeState is the page as the check finds it.
type axeState struct {
	Href  string `json:"href"`
	Ready string `json:"ready"`
	W     int64  `json:"w"`
	H     int64  `json:"h"`
	Print bool   `json:"print"`
	Seen  bool   `json:"seen"`
}

// The state script also remembers, in the page, which states of it were
// checked already — a signature of its URL, viewport and markup — so that
// a page shown again unchanged (several steps on one page) is not checked
// twice. A new page starts with an empty memory.
const axeStateJS = `(() => {
  const html = document.documentElement ? document.documentElement.outerHTML : "";
  let h = 0x811c9dc5;
  for (let i = 0; i < html.length; i++) { h ^= html.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  const sig = location.href + " " + innerWidth + "x" + innerHeight + " " + (h >>> 0) + " " + html.length;
  const seen = !!(window.__axeSeen && window.__axeSeen[sig]);
  return {href: location.href, ready: document.readyState, w: innerWidth, h: innerHeight,
    print: matchMedia("print").matches, seen: seen, sig: sig};
})()`

const axeMarkJS = `(() => {
  const html = document.documentElement.outerHTML;
  let h = 0x811c9dc5;
  for (let i = 0; i < html.length; i++) { h ^= html.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  const sig = location.href + " " + innerWidth + "x" + innerHeight + " " + (h >>> 0) + " " + html.length;
  (window.__axeSeen = window.__axeSeen || {})[sig] = true;
  return true;
})()`

// Axe checks the page the browser shows with axe-core, at the viewport it
// has and at those of the phone (390×844) and the desktop (1366×768) it
// does not have, then puts the viewport back. Every violation of AxeTags fails the test
// (without stopping it) with its rule, impact, and the selectors and markup
// of the elements concerned. Pages while print media is emulated are not
// checked: paper is not what assistive technology reads, and the tests
// show the same pages on the screen too. A page that is still loading is
// waited for; one
// that goes away while it is checked (a navigation the test started) is
// skipped with a log line: the page it goes to is checked at the next step.
//
// Shot and Run call it, so every page a browser test looks at is checked.
func Axe(t testing.TB) Step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		return axeCheck(ctx, tg, t)
	})
}

func axeCheck(ctx context.Context, tg *chromedp.Target, t testing.TB) error {
	st, err := axeSettled(ctx, tg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.Logf("axe: page not checked, it went away: %v", err)
		return nil
	}
	if st.Seen || st.Print || !strings.HasPrefix(st.Href, "http") {
		return nil
	}
	// The page as the test has it, then at whichever of the phone and the
	// desktop it is not (both, for a window between them: headless
	// Chromium keeps windows at least 500 px wide, so a test asking for a
	// phone's window without emulating one gets 500 px).
	type size struct {
		w, h   int64
		mobile bool
	}
	phone := st.W == phoneWidth // emulated, as the phone tests do
	sizes := []size{{st.W, st.H, phone}}
	if !phone {
		sizes = append(sizes, size{phoneWidth, phoneHeight, true})
	}
	if st.W < 1024 {
		sizes = append(sizes, size{deskWidth, deskHeight, false})
	}
	for i, sz := range sizes {
		if i > 0 {
			if err := axeViewport(ctx, tg, sz.w, sz.h, sz.mobile); err != nil {
				return fmt.Errorf("axe: viewport %dx%d: %w", sz.w, sz.h, err)
			}
		}
		vs, err := axeRun(ctx, tg)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.Logf("axe: %s at %dx%d not checked, it went away: %v", st.Href, sz.w, sz.h, err)
			break
		}
		t.Logf("axe: checked %s at %dx%d: %d rules violated", st.Href, sz.w, sz.h, len(vs))
		if len(vs) > 0 {
			t.Errorf("axe: %d rules violated on %s at %dx%d:\n%s", len(vs), st.Href, sz.w, sz.h, axeReport(vs))
		}
	}
	if len(sizes) > 1 {
		// Back to what the test had.
		if err := axeViewport(ctx, tg, st.W, st.H, phone); err != nil {
			return fmt.Errorf("axe: restore viewport %dx%d: %w", st.W, st.H, err)
		}
	}
	return nil
}

// axeSettled waits until the page has loaded, and reads its state.
func axeSettled(ctx context.Context, tg *chromedp.Target) (axeState, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := chromedp.Evaluate[axeState](axeStateJS)(ctx, tg)
		if err == nil && st.Ready == "complete" {
			return st, nil
		}
		if err == nil {
			err = fmt.Errorf("document %s is %s", st.Href, st.Ready)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// axeRun injects axe-core when the page does not have it yet, runs it,
// and marks the page's current state as checked. A document that is
// loading when the run starts — a navigation the test started (a form
// posted) committed since the page settled — is waited for again: axe
// run on a document still empty reported a login page with no heading
// and no main landmark (TestPickupOffline, once).
func axeRun(ctx context.Context, tg *chromedp.Target) ([]axeViolation, error) {
	tags, _ := json.Marshal(AxeTags) // a []string always encodes
	script := `document.readyState !== "complete" ? {loading: true} :
  axe.run(document, {runOnly: {type: "tag", values: ` + string(tags) + `}, resultTypes: ["violations"]})
  .then(r => ({violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 240), summary: n.failureSummary || ""}))}))}))`
	for tries := 0; ; tries++ {
		has, err := chromedp.Evaluate[bool](`typeof window.axe === "object" && typeof window.axe.run === "function"`)(ctx, tg)
		if err != nil {
			return nil, err
		}
		if !has {
			if _, err := chromedp.Evaluate[chromedp.Void](axeSource)(ctx, tg); err != nil {
				return nil, fmt.Errorf("inject axe-core: %w", err)
			}
		}
		res, err := chromedp.Evaluate[struct {
			Loading    bool           `json:"loading"`
			Violations []axeViolation `json:"violations"`
		}](script, chromedp.EvalAwaitPromise)(ctx, tg)
		if err != nil {
			return nil, err
		}
		if res.Loading {
			if tries == 5 {
				return nil, errors.New("the document kept loading")
			}
			if _, err := axeSettled(ctx, tg); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := chromedp.Evaluate[bool](axeMarkJS)(ctx, tg); err != nil {
			return nil, err
		}
		return res.Violations, nil
	}
}

// axeViewport sets the viewport and waits for the page to lay out at it.
func axeViewport(ctx context.Context, tg *chromedp.Target, w, h int64, mobile bool) error {
	p := emulation.SetDeviceMetricsOverrideParams{Width: w, Height: h, DeviceScaleFactor: 1, Mobile: mobile}
	if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, p); err != nil {
		return err
	}
	_, err := chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)(ctx, tg)
	return err
}

// axeReport lists violations as "rule (impact): help" with the elements
// concerned under each.
func axeReport(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s (%s): %s\n", v.ID, v.Impact, v.Help)
		for i, n := range v.Nodes {
			if i == 8 {
				fmt.Fprintf(&b, "      … and %d more\n", len(v.Nodes)-i)
				break
			}
			fmt.Fprintf(&b, "      %s  %s\n", n.Target, n.HTML)
			if s := strings.TrimSpace(n.Summary); s != "" && i == 0 {
				fmt.Fprintf(&b, "        %s\n", strings.ReplaceAll(s, "\n", " "))
			}
		}
	}
	return b.String()
}
