package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// recorder is a testing.TB that keeps what Axe reports instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) { r.TB.Logf(format, args...) }

// TestAxe proves the check sees violations of each kind the pages had
// (contrast, a table header with no text, a scrollable region out of
// keyboard reach, no h1) at the viewport where they show, and passes a
// page that has none.
func TestAxe(t *testing.T) {
	pages := map[string]string{
		"/clean": `<!doctype html><html lang="en"><head><title>Clean</title></head><body>
<header><a href="/">Home</a></header><main><h1>Clean</h1><p>Text and <a href="/x">a link</a>.</p></main></body></html>`,
		"/contrast": `<!doctype html><html lang="en"><head><title>Contrast</title></head><body><main><h1>Contrast</h1>
<p style="color:#a0a0a0;background:#fff">Too light grey on white.</p></main></body></html>`,
		"/header": `<!doctype html><html lang="en"><head><title>Header</title></head><body><main><h1>Header</h1>
<table><thead><tr><th>Name</th><th></th></tr></thead><tbody><tr><td>a</td><td>b</td></tr></tbody></table></main></body></html>`,
		"/no-h1": `<!doctype html><html lang="en"><head><title>No h1</title></head><body><main><h2>Only a subheading</h2></main></body></html>`,
		// Wide only on a phone: the wrapper scrolls there and not on the desktop.
		"/scroll": `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Scroll</title>
<style>.w{overflow-x:auto} .t{white-space:nowrap} @media (min-width:900px){.t{white-space:normal}}</style></head>
<body><main><h1>Scroll</h1><div class="w"><p class="t">A long line of text that is wider than a phone, and wider, and wider still, on one line.</p></div></main></body></html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, pages[r.URL.Path])
	}))
	defer srv.Close()
	ctx := New(t, 1366, 768, 60*time.Second)

	for _, tc := range []struct {
		path  string
		rules []string // violated, at one viewport or both
		n     int      // reports: one per viewport with violations
	}{
		{"/clean", nil, 0},
		{"/contrast", []string{"color-contrast"}, 2},
		{"/header", []string{"empty-table-header"}, 2},
		{"/no-h1", []string{"page-has-heading-one"}, 2},
		{"/scroll", []string{"scrollable-region-focusable"}, 1},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := &recorder{TB: t}
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+tc.path), Axe(rec)); err != nil {
				t.Fatal(err)
			}
			if len(rec.errors) != tc.n {
				t.Fatalf("%d reports, want %d: %q", len(rec.errors), tc.n, rec.errors)
			}
			for _, rule := range tc.rules {
				if !slices.ContainsFunc(rec.errors, func(e string) bool { return strings.Contains(e, "  "+rule+" (") }) {
					t.Errorf("no %s in %q", rule, rec.errors)
				}
			}
			// Checked once: the same page unchanged is not checked again.
			rec.errors = nil
			if err := chromedp.Do(ctx, Axe(rec)); err != nil {
				t.Fatal(err)
			}
			if len(rec.errors) != 0 {
				t.Errorf("checked again: %q", rec.errors)
			}
			var w int
			if err := chromedp.Do(ctx, Into(&w, chromedp.Evaluate[int](`innerWidth`))); err != nil {
				t.Fatal(err)
			}
			if w != 1366 {
				t.Errorf("viewport left %d px wide, want 1366 as before", w)
			}
		})
	}
}
