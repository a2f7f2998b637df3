package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/replication"
)

// webClient is a signed-in HTTP client of a node's web UI, for the page
// tests that need no browser.
type webClient struct {
	c    *http.Client
	base string
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn logs user in through the login form.
func signIn(t *testing.T, base, user string) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &webClient{c: &http.Client{Jar: jar}, base: base}
	_, body := w.get(t, "/login")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	resp, err := w.c.PostForm(base+"/login", url.Values{"_csrf": {m[1]}, "username": {user}, "password": {webPassword}, "next": {"/stock"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/stock" {
		t.Fatalf("login landed on %s", resp.Request.URL)
	}
	return w
}

func (w *webClient) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := w.c.Get(w.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// post submits a form of the page at from (which carries the CSRF token)
// to path.
func (w *webClient) post(t *testing.T, from, path string, form url.Values) (int, string) {
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// fieldError is the message the page shows at input field, "" for none.
func fieldError(page, field string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(field) + `-error">([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestStockMoveBadInput posts bad moves to the move form: each is refused
// with a translated message at its input, the form keeps what was typed,
// and nothing is recorded.
func TestStockMoveBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	s := startStockSite(t)
	s.setUp(t)
	w := signIn(t, s.base, "admin")
	move := func(kv ...string) url.Values {
		v := url.Values{"warehouse": {stockWH}, "type": {"issue.order"}, "bin": {"A01"}, "product": {milk}, "quantity": {"5"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name         string
		form         url.Values
		field, error string
	}{
		{"negative quantity", move("quantity", "-3"), "quantity", "必须大于 0。"},
		{"not a number", move("quantity", "5箱"), "quantity", "不是有效的整数。"},
		{"issue beyond stock", move("quantity", "71"), "quantity", "库存不足：该货位只有 70 件。"},
		{"beyond a pinned batch", move("quantity", "31", "batch", newBatch), "quantity", "库存不足：该货位只有 30 件。"},
		{"unknown product", move("product", "NO-SUCH"), "product", "没有这个商品。"},
		{"unknown bin", move("bin", "Z99"), "bin", "该仓库没有这个货位。"},
		{"receipt into an unknown bin", move("type", "receipt.purchase", "bin", "Z99", "batch", "B9"), "bin", "该仓库没有这个货位。"},
		{"receipt without its batch", move("type", "receipt.purchase"), "batch", "必填。"},
		{"expiry before production", move("type", "receipt.purchase", "batch", "B9", "produced", "2026-03-01", "expires", "2026-02-01"), "expires", "到期日早于生产日期。"},
		{"a batch of a product without batches", move("product", cup, "bin", "A02", "batch", "B9"), "batch", "该商品不分批次，请不要填写批次。"},
		{"bin move to the same bin", move("type", "bin_move", "to_bin", "A01"), "to_bin", "移出和移入是同一个货位。"},
		{"unknown barcode", move("barcode", "1234", "scanned", ""), "barcode", "没有条码为 1234 的商品。"},
	}
	before := s.moves(t)
	batches, total := s.batches(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, page := w.post(t, "/stock/moves/new", "/stock/moves", c.form)
			if status != http.StatusUnprocessableEntity {
				t.Errorf("status %d, want 422", status)
			}
			if got := fieldError(page, c.field); got != c.error {
				t.Errorf("at %s: %q, want %q", c.field, got, c.error)
			}
			if !strings.Contains(page, `value="`+html.EscapeString(c.form.Get("quantity"))+`"`) {
				t.Error("the form lost the quantity typed")
			}
		})
	}
	b, n := s.batches(t)
	if s.moves(t) != before || n != total || b[oldBatch] != batches[oldBatch] || b[newBatch] != batches[newBatch] {
		t.Fatalf("bad input changed the stock: %v (%d), %d moves; was %v (%d), %d moves", b, n, s.moves(t), batches, total, before)
	}

	// A scan of a known barcode asks for the quantity and records nothing.
	status, page := w.post(t, "/stock/moves/new", "/stock/moves", url.Values{"barcode": {cupBarcode}, "warehouse": {stockWH}, "type": {"receipt.purchase"}})
	if status != http.StatusOK || !strings.Contains(page, `id="quantity" value="" inputmode="numeric" autocomplete="off" enterkeyhint="done" autofocus`) ||
		!strings.Contains(page, `id="product" value="`+cup+`"`) {
		t.Fatalf("a scan: status %d; the page should show the cup and focus the quantity", status)
	}
	if s.moves(t) != before {
		t.Fatal("a scan recorded a move")
	}
}

// TestStockPagesRender opens every warehouse page, and checks that a
// user without the stock permissions gets none of them.
func TestStockPagesRender(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	s := startStockSite(t)
	s.setUp(t)
	w := signIn(t, s.base, "admin")
	for _, path := range []string{"/stock", "/stock?warehouse=SH1", "/stock/products", "/stock/products/new", "/stock/products/" + milk,
		"/stock/products/GIFT-BOX", "/stock/products/" + milk + "/edit", "/stock/moves/new", "/stock/moves", "/stock/moves?type=receipt.purchase&from=2020-01-01",
		"/stock/stocktakes", "/stock/transfers", "/stock/reservations", "/stock/purchases", "/stock/warehouses", "/stock/warehouses/SH1"} {
		if status, page := w.get(t, path); status != http.StatusOK || !strings.Contains(page, `class="subnav"`) {
			t.Errorf("%s: status %d", path, status)
		}
	}
	// A clerk who may only read stock sees the pages but no form to move
	// or change anything, and is refused when posting one.
	users := &pickupSite{n: s.n, admin: s.admin, access: &api.AccessService{App: &accessapp.Admin{Store: s.n.Store(),
		IDs: replication.NewIDs(), Node: "br-web"}, Grants: app.AccessGrants(s.n.Store(), nil)}}
	users.user(t, "zhou.clerk", "周文员", "stock.read")
	clerk := signIn(t, s.base, "zhou.clerk")
	if status, page := clerk.get(t, "/stock"); status != http.StatusOK || strings.Contains(page, `href="/stock/moves/new"`) {
		t.Errorf("a reader's overview: status %d, offers the move form: %v", status, strings.Contains(page, `href="/stock/moves/new"`))
	}
	if status, page := clerk.get(t, "/stock/products/"+milk); status != http.StatusOK || strings.Contains(page, "product-limits") {
		t.Errorf("a reader's product page: status %d, limit forms shown: %v", status, strings.Contains(page, "product-limits"))
	}
	if status, _ := clerk.get(t, "/stock/moves/new"); status != http.StatusForbidden {
		t.Errorf("a reader opens the move form: status %d", status)
	}
	if status, _ := clerk.post(t, "/stock", "/stock/moves", url.Values{"warehouse": {stockWH}, "type": {"receipt.other"}, "bin": {"A01"},
		"product": {cup}, "quantity": {"1"}}); status != http.StatusForbidden {
		t.Errorf("a reader posts a move: status %d", status)
	}
	// The hub's page, one warehouse in detail.
	hub := signIn(t, startHubDashboard(t, s.n.Store(), "br-web"), "admin")
	if status, page := hub.get(t, "/stock?warehouse="+stockWH); status != http.StatusOK || !strings.Contains(page, `id="hub-stock-table"`) ||
		!strings.Contains(page, `data-product="`+milk+`"`) {
		t.Errorf("the hub's stock of %s: status %d", stockWH, status)
	}
	for path, want := range map[string]int{"/stock/products/NOPE": http.StatusNotFound, "/stock/moves?from=yesterday": http.StatusUnprocessableEntity,
		"/stock/stocktakes/01HZX5Q8W3T0000000007Q3K9M": http.StatusNotFound} {
		if status, _ := w.get(t, path); status != want {
			t.Errorf("%s: status %d, want %d", path, status, want)
		}
	}
}
