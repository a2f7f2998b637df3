package web_test

import (
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Developer terms no user page may show (issue 15): what they mean is said
// in words a manager or clerk uses. The hub's cluster page, for
// administrators only, keeps the technical view.
var developerTerms = map[string][]string{
	"zh-CN": {"已持久序号", "日志位置", "提交索引", "Leader", "Follower", "托管", "销售节点", "副本", "事件"},
	"en":    {"log position", "commit index", "Leader", "Follower", "scrow", "Durable seq", "replica", "Events behind", "Outbox"},
}

// nodePages are the pages of a node a test walks: every page that needs
// no record's id.
var nodePages = []string{"/customers", "/customers/new", "/customers/deleted", "/customers/import", "/blacklist",
	"/pickups", "/pickups/new", "/pickups/couriers", "/pickups/zones", "/pickups/rates", "/pickups/reports",
	"/pickups/conflicts", "/pickups/print", "/pickups/labels", "/track", "/stock", "/stock/moves", "/stock/moves/new", "/stock/products",
	"/stock/products/new", "/stock/reservations", "/stock/stocktakes", "/stock/transfers", "/stock/purchases",
	"/stock/warehouses", "/desk", "/supervisor", "/admin/users", "/admin/users/new", "/admin/roles",
	"/admin/roles/new", "/admin/departments", "/admin/audit", "/admin/params", "/admin/fields", "/admin/tokens",
	"/password"}

// visibleText is what a page shows: its markup and scripts left out.
func visibleText(html string) string {
	html = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`).ReplaceAllString(html, " ")
	return regexp.MustCompile(`<[^>]*>`).ReplaceAllString(html, " ")
}

// pageClient signs admin in at base through the login form.
func pageClient(t *testing.T, base string) func(path, lang string) (int, string) {
	t.Helper()
	return pageClientAs(t, base, "admin")
}

// pageClientAs signs user in at base through the login form.
func pageClientAs(t *testing.T, base, user string) func(path, lang string) (int, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	get := func(path, lang string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Language", lang)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(b)
	}
	_, page := get("/login", "zh-CN")
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on %s/login", base)
	}
	res, err := c.PostForm(base+"/login", url.Values{"_csrf": {m[1]}, "username": {user}, "password": {webPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path == "/login" {
		t.Fatalf("%s could not sign in at %s", user, base)
	}
	return get
}

// TestNoDeveloperTermsOnUserPages walks the pages of a node and of the
// hub's dashboard in both languages.
func TestNoDeveloperTermsOnUserPages(t *testing.T) {
	n := startNode(t)
	hub := startHubDashboard(t, n.Store(), "br-web")
	sites := []struct {
		base  string
		paths []string
	}{
		{n.URL(), nodePages},
		{hub, []string{"/branches", "/pickups", "/stock"}},
	}
	for _, site := range sites {
		get := pageClient(t, site.base)
		for _, p := range site.paths {
			if strings.HasPrefix(p, "/admin/") {
				continue // administrators' pages may say what things are technically
			}
			for lang, terms := range developerTerms {
				code, page := get(p, lang)
				if code != http.StatusOK {
					t.Errorf("%s %s: %d", lang, p, code)
					continue
				}
				body := visibleText(page)
				for _, term := range terms {
					if strings.Contains(body, term) {
						i := strings.Index(body, term)
						t.Errorf("%s %s shows %q: …%s…", lang, p, term, body[max(0, i-80):min(len(body), i+80)])
					}
				}
			}
		}
	}
}

// TestPickupShowsNames: the pickup page names its zone and its courier,
// not their ids.
func TestPickupShowsNames(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	pk := s.book(t, "文件") // in Pudong: zone "pudong" (浦东), auto-assigned to 李师傅
	if pk.GetZone() != "pudong" || pk.GetCourier() != courierUser {
		t.Fatalf("booked in zone %q for %q, want pudong, %s", pk.GetZone(), pk.GetCourier(), courierUser)
	}
	get := pageClientAs(t, s.base, agentUser)
	code, page := get("/pickups/"+pk.GetId(), "zh-CN")
	if code != http.StatusOK {
		t.Fatalf("pickup page: %d", code)
	}
	for id, want := range map[string]string{"pickup-zone": "浦东", "pickup-courier": "李师傅 (" + courierUser + ")"} {
		m := regexp.MustCompile(`id="` + id + `">([^<]*)`).FindStringSubmatch(page)
		if m == nil || strings.TrimSpace(m[1]) != want {
			t.Errorf("#%s = %q, want %q", id, m, want)
		}
	}
}

// TestEnglishPagesHaveNoChinese: on a node holding no user data, no page
// in English shows a Han character but the language switch's own name
// for Chinese.
func TestEnglishPagesHaveNoChinese(t *testing.T) {
	n := startNode(t)
	hub := startHubDashboard(t, n.Store(), "br-web")
	han := regexp.MustCompile(`\p{Han}+`)
	for _, site := range []struct {
		base  string
		paths []string
	}{
		{n.URL(), nodePages},
		{hub, []string{"/branches", "/cluster", "/pickups", "/stock"}},
	} {
		get := pageClient(t, site.base)
		for _, p := range site.paths {
			code, page := get(p, "en")
			if code != http.StatusOK {
				t.Errorf("%s: %d", p, code)
				continue
			}
			body := strings.ReplaceAll(visibleText(page), "中文", "")
			if m := han.FindAllString(body, 5); m != nil {
				t.Errorf("en %s shows Chinese: %q", p, m)
			}
		}
	}
}

// TestPagesAccessibleStructure (issue 15, part 8): on every page a
// scrollable table wrapper can be reached by keyboard, no table has an
// empty header cell, and the page has one h1; the courier's phone page too.
func TestPagesAccessibleStructure(t *testing.T) {
	n := startNode(t)
	get := pageClient(t, n.URL())
	emptyTH := regexp.MustCompile(`<th[^>]*>\s*</th>`)
	scroll := regexp.MustCompile(`<div class="scroll"[^>]*>`)
	h1 := regexp.MustCompile(`<h1[\s>]`)
	for _, p := range append(nodePages, "/courier") {
		for _, lang := range []string{"zh-CN", "en"} {
			code, page := get(p, lang)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d", lang, p, code)
				continue
			}
			if m := emptyTH.FindString(page); m != "" {
				t.Errorf("%s %s: empty header cell %s", lang, p, m)
			}
			for _, m := range scroll.FindAllString(page, -1) {
				if !strings.Contains(m, `tabindex="0"`) {
					t.Errorf("%s %s: %s cannot be reached by keyboard", lang, p, m)
				}
			}
			if c := len(h1.FindAllString(page, -1)); c != 1 {
				t.Errorf("%s %s: %d h1 elements, want 1", lang, p, c)
			}
		}
	}
}

// TestColourContrast: the colour tokens of the stylesheet meet WCAG AA
// (4.5:1) as text on the backgrounds they are used on.
func TestColourContrast(t *testing.T) {
	css, err := os.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		m := regexp.MustCompile(`--` + name + `:\s*(#[0-9a-fA-F]{6})`).FindSubmatch(css)
		if m == nil {
			t.Fatalf("no token --%s in app.css", name)
		}
		return string(m[1])
	}
	lum := func(hex string) float64 {
		var rgb [3]float64
		for i := range rgb {
			v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
			c := float64(v) / 255
			if c <= 0.03928 {
				rgb[i] = c / 12.92
			} else {
				rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
	}
	ratio := func(a, b string) float64 {
		la, lb := lum(a), lum(b)
		return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
	}
	for _, c := range []struct{ fg, bg string }{
		{token("fg"), token("bg")}, {token("muted"), "#ffffff"}, {token("muted"), token("bg")},
		{token("accent"), "#ffffff"}, {token("accent"), token("bg")},
		{token("warn"), "#ffffff"}, {token("warn"), "#fff3cd"}, {token("warn"), "#fff8e1"},
		{token("ok"), "#ffffff"}, {token("ok"), "#e6f4ea"}, {token("danger"), "#fdecea"},
	} {
		if r := ratio(c.fg, c.bg); r < 4.5 {
			t.Errorf("%s on %s: %.2f:1, want ≥ 4.5:1", c.fg, c.bg, r)
		}
	}
}
