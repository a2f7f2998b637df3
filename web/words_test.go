package web_test

import (
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"branchline/api"
	"branchline/app"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
	"branchline/warehouse/warehouseapp"
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
	"/stock/warehouses", "/desk", "/supervisor", "/calls", "/admin/users", "/admin/users/new", "/admin/roles",
	"/admin/roles/new", "/admin/departments", "/admin/branches", "/admin/audit", "/admin/params", "/admin/fields", "/admin/tokens",
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

// recordSite is a node holding records whose user data is Chinese — a
// customer, a pickup with its zone and courier, stock of products in a
// warehouse, a named branch, audit entries of edits — for the tests that
// read the pages that show records.
type recordSite struct {
	base string
	// paths are the record pages: a customer card, a pickup, the audit
	// log, a stock product, and lists and tracking holding them.
	paths []string
	// userData is every text the records hold: a page may show it, in
	// either language.
	userData []string
}

func startRecordSite(t *testing.T) *recordSite {
	t.Helper()
	s := startPickupSite(t)
	cust := s.setUp(t)
	pk := s.book(t, "文件")
	if _, err := s.cust.UpdateCustomer(s.admin, connect.NewRequest(&crmv1.UpdateCustomerRequest{
		Customer:   &crmv1.Customer{Name: "customers/" + cust, Mobile: "139 0013 9000", City: "上海"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"mobile", "city"}},
	})); err != nil {
		t.Fatal(err)
	}
	admin, err := app.CallerOf(s.admin, app.AccessGrants(s.n.Store(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.access.App.NameBranch(s.admin, admin, "br-web", "上海浦东营业部"); err != nil {
		t.Fatal(err)
	}
	stock := &stockSite{n: s.n, base: s.n.URL(), at: time.Now(), admin: s.admin}
	stock.stock = &api.WarehouseService{App: &warehouseapp.Stock{Store: s.n.Store(), IDs: replication.NewIDs(), Node: "br-web",
		Now: func() time.Time { return stock.at }}, Grants: app.AccessGrants(s.n.Store(), nil)}
	stock.setUp(t)
	return &recordSite{base: s.n.URL(),
		paths: []string{"/customers/" + cust, "/customers", "/pickups/" + pk.GetId(), "/pickups", "/track?waybill=" + pk.GetWaybill(),
			"/admin/audit", "/stock/products/" + milk, "/stock", "/stock/moves"},
		userData: []string{
			// the customer
			"上海浦东叫件测试贸易有限公司", "上海市浦东新区世纪大道 100 号", "上海",
			// users, their roles, zones and the pickup
			"王客服", "李师傅", "赵师傅", "浦东新区", "徐汇区", "浦东", "徐汇", "陈先生", "上海市浦东新区张江路 88 号", "张江小店", "刘女士",
			"北京市朝阳区建国路 1 号", "北京", "文件",
			// the branch, warehouses, bins and products
			"上海浦东营业部", "上海一号仓", "拣货区", "存储区", "次品区", "北京仓", "光明鲜牛奶 1L", "乳品", "不锈钢保温杯", "日用品", "早餐礼盒", "礼盒",
			// numbers made of the branch's id, as everyone writes them
			pk.GetNumber(), pk.GetWaybill(),
		}}
}

// recordWords are what the pages of records must not show besides the
// catalog's developer terms: the id of a branch that has a name
// (br-web), field names (display_name) and key=value dumps of a record.
var recordWords = regexp.MustCompile(`\bbr-web\b|\b[a-z]+(?:_[a-z]+)+\b|[a-z_.]+=`)

// withoutUserData is text with the site's user data taken out, longest
// first (so that a name inside a longer one goes with it).
func (rs *recordSite) withoutUserData(text string) string {
	data := slices.Clone(rs.userData)
	slices.SortFunc(data, func(a, b string) int { return len(b) - len(a) })
	for _, d := range data {
		text = strings.ReplaceAll(text, d, " ")
	}
	return text
}

// TestNoDeveloperTermsOnUserPages walks the pages of a node and of the
// hub's dashboard in both languages, and the pages of records.
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
				checkTerms(t, lang, p, visibleText(page), terms)
			}
		}
	}
	// The pages of records, the audit log too: its entries are read by
	// managers as well as administrators; there records show by their
	// names, not their ids or fields' names.
	rs := startRecordSite(t)
	get := pageClient(t, rs.base)
	for _, p := range rs.paths {
		for lang, terms := range developerTerms {
			code, page := get(p, lang)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d", lang, p, code)
				continue
			}
			body := rs.withoutUserData(visibleText(page))
			checkTerms(t, lang, p, body, terms)
			for _, m := range recordWords.FindAllStringIndex(body, 5) {
				t.Errorf("%s %s shows %q: …%s…", lang, p, body[m[0]:m[1]], body[max(0, m[0]-60):min(len(body), m[1]+60)])
			}
		}
	}
}

// checkTerms fails t for each developer term body shows.
func checkTerms(t *testing.T, lang, path, body string, terms []string) {
	t.Helper()
	for _, term := range terms {
		if i := strings.Index(body, term); i >= 0 {
			t.Errorf("%s %s shows %q: …%s…", lang, path, term, body[max(0, i-80):min(len(body), i+80)])
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
// for Chinese; on the pages of records whose user data is Chinese, none
// outside that data.
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
	rs := startRecordSite(t)
	get := pageClient(t, rs.base)
	for _, p := range rs.paths {
		code, page := get(p, "en")
		if code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
			continue
		}
		body := rs.withoutUserData(strings.ReplaceAll(visibleText(page), "中文", ""))
		for _, m := range han.FindAllStringIndex(body, 5) {
			t.Errorf("en %s shows Chinese outside user data: %q in …%s…", p, body[m[0]:m[1]], body[max(0, m[0]-60):min(len(body), m[1]+60)])
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
