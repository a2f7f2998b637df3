package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestStockScanRedirects: every post of the move form that succeeds — a
// scan, a product typed, a move recorded — answers with a redirect to a
// page (POST-redirect-GET), so that reloading the page after it reads the
// page again and never posts a scan or a move twice.
func TestStockScanRedirects(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	s := startStockSite(t)
	s.setUp(t)
	w := signIn(t, s.base, "admin")
	before := s.moves(t)
	for _, tc := range []struct {
		name  string
		form  url.Values
		moved int
	}{
		{"a scan", url.Values{"barcode": {cupBarcode}, "warehouse": {stockWH}, "type": {"receipt.purchase"}, "bin": {"A02"}}, 0},
		{"a product typed", url.Values{"product": {cup}, "warehouse": {stockWH}, "type": {"receipt.purchase"}, "bin": {"A02"}}, 0},
		{"a move", url.Values{"product": {cup}, "barcode": {cupBarcode}, "scanned": {cupBarcode}, "quantity": {"3"},
			"warehouse": {stockWH}, "type": {"receipt.purchase"}, "bin": {"A02"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := s.moves(t)
			status, page, final := postFollow(t, w, "/stock/moves/new", "/stock/moves", tc.form)
			if status != http.StatusOK || final.Method != http.MethodGet || final.URL.Path != "/stock/moves/new" {
				t.Fatalf("the post ended with %d from %s %s; want a redirect to the form", status, final.Method, final.URL)
			}
			if tc.moved == 0 && (!strings.Contains(page, `id="product" value="`+cup+`"`) || !strings.Contains(page, `enterkeyhint="done" autofocus`)) {
				t.Fatal("after the redirect the form should show the cup and focus the quantity")
			}
			// Reloading the page it landed on reads it again.
			if code, again := w.get(t, final.URL.RequestURI()); code != http.StatusOK || (tc.moved == 0 && !strings.Contains(again, `id="product" value="`+cup+`"`)) {
				t.Fatalf("reload: status %d", code)
			}
			if got := s.moves(t) - n; got != tc.moved {
				t.Fatalf("%d moves recorded, want %d", got, tc.moved)
			}
		})
	}
	if got := s.moves(t) - before; got != 1 {
		t.Fatalf("%d moves in all, want 1", got)
	}
}

// postFollow posts form as w.post does and returns the final answer's
// status and body and the request that fetched it (a GET after a
// redirect).
func postFollow(t *testing.T, w *webClient, from, path string, form url.Values) (int, string, *http.Request) {
	t.Helper()
	_, page := w.get(t, from)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("_csrf", m[1])
	resp, err := w.c.PostForm(w.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.String(), resp.Request
}
