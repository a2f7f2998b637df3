package web_test

import (
	"image"
	"image/color"
	"image/draw"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"

	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/node"
	"branchline/replication"
	"branchline/web/label"
)

// The printouts over plain HTTP (issue 15 part 6): pickup slips, shipping
// labels and printed lists, and product labels — who may print what,
// phone numbers masked as on the pages, barcodes that read back as the
// number they carry, and bad links answered with a clear 404 or 400 that
// changes nothing.

var (
	svgBarcodeRe = regexp.MustCompile(`<svg class="barcode"[^>]*viewBox="0 0 (\d+) \d+"[^>]*data-text="([^"]*)"><path d="([^"]*)"/></svg>`)
	svgBarRe     = regexp.MustCompile(`M(\d+) 0h(\d+)`)
	hanRe        = regexp.MustCompile(`\p{Han}+`)
)

// decodeCode128 reads a Code 128 symbol from img, as a scanner would.
func decodeCode128(t *testing.T, img image.Image) (string, error) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := oned.NewCode128Reader().Decode(bmp, nil)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// pageBarcodes reads every barcode SVG of a page: the bars drawn, 3
// pixels a module, read back with a Code 128 reader; and the text its
// data-text says it carries.
func pageBarcodes(t *testing.T, page string) (read, said []string) {
	t.Helper()
	for _, m := range svgBarcodeRe.FindAllStringSubmatch(page, -1) {
		w, _ := strconv.Atoi(m[1])
		img := image.NewGray(image.Rect(0, 0, 3*w, 40))
		draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		for _, b := range svgBarRe.FindAllStringSubmatch(m[3], -1) {
			x, _ := strconv.Atoi(b[1])
			bw, _ := strconv.Atoi(b[2])
			draw.Draw(img, image.Rect(3*x, 0, 3*(x+bw), 40), image.NewUniform(color.Black), image.Point{}, draw.Src)
		}
		text, err := decodeCode128(t, img)
		if err != nil {
			t.Fatalf("barcode of %q does not read: %v", m[2], err)
		}
		read, said = append(read, text), append(said, m[2])
	}
	return read, said
}

// noChange is the node's state for telling that requests changed nothing:
// its last own event and the digest of its views.
func noChange(t *testing.T, st *node.Store) func() {
	t.Helper()
	digest := func() replication.Digest {
		d, err := st.ViewsDigest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	seq, d := st.Progress().LastSeq, digest()
	return func() {
		t.Helper()
		if st.Progress().LastSeq != seq || digest() != d {
			t.Fatal("printing wrote to the store")
		}
	}
}

func TestPickupPrintouts(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	pk := s.book(t, "合同文件") // 李师傅's, in Pudong
	theirs, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "周女士", Phone: "138 0000 1111", Address: "上海市徐汇区漕溪北路 1 号"},
		Destination: "杭州", Goods: "衣服", WeightGrams: 800, Payment: "collect"}))
	if err != nil {
		t.Fatal(err)
	}
	other := theirs.Msg.GetPickup() // 赵师傅's, in Xuhui, collect on delivery
	s.user(t, "sun.masked", "孙客服", "pickup.write")
	s.user(t, "plain.user", "只读客服", "customer.read")
	agent := newAdminClient(t, s.base, agentUser, webPassword)
	masked := newAdminClient(t, s.base, "sun.masked", webPassword)
	courier := newAdminClient(t, s.base, courierUser, webPassword)
	plain := newAdminClient(t, s.base, "plain.user", webPassword)
	unchanged := noChange(t, s.n.Store())

	// The slip and the label: the number as a barcode that reads back as
	// it, the sender's and receiver's details, nothing to click.
	for _, c := range []struct{ name, path string }{
		{"slip", "/pickups/" + pk.GetId() + "/slip"},
		{"label", "/pickups/" + pk.GetId() + "/label"},
		{"label by number", "/pickups/" + pk.GetNumber() + "/label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := agent.get(c.path)
			agent.expect(c.name, code, http.StatusOK, body, pk.GetNumber(), pk.GetWaybill(), "陈先生", "张江小店", "刘女士",
				"北京市朝阳区建国路 1 号", "合同文件", `class="printout paper-`, `id="print-now"`)
			read, said := pageBarcodes(t, body)
			if len(read) != 1 || read[0] != pk.GetNumber() || said[0] != pk.GetNumber() {
				t.Fatalf("%s: barcodes read %q (said %q), want the pickup number %s", c.name, read, said, pk.GetNumber())
			}
			if !fullNumber(body, "13912345678") || !fullNumber(body, "01088886666") {
				t.Fatalf("%s: the agent with customer.phone does not see the numbers", c.name)
			}
			if strings.Contains(body, "tel:") || strings.Contains(body, "<form") || strings.Contains(body, `class="nav"`) {
				t.Fatalf("%s: a dial link, a form or the menu on paper", c.name)
			}
		})
	}
	code, body := agent.get("/pickups/" + pk.GetId() + "/label")
	if !strings.Contains(body, "paper-shipping") {
		t.Fatalf("the label is not laid out on a shipping label: %d", code)
	}
	// The pages link them.
	code, body = agent.get("/pickups/" + pk.GetId())
	agent.expect("pickup page", code, http.StatusOK, body, `href="/pickups/`+pk.GetId()+`/slip"`, `href="/pickups/`+pk.GetId()+`/label"`)
	code, body = agent.get("/pickups?status=assigned")
	agent.expect("pickup list", code, http.StatusOK, body, `href="/pickups/print?status=assigned"`, `href="/pickups/labels?status=assigned"`)

	// Collect on delivery: the label says what to collect.
	code, body = agent.get("/pickups/" + other.GetId() + "/label")
	agent.expect("collect label", code, http.StatusOK, body, "到付 "+yuanOf(other.GetPriceFen()))

	// The list as filtered, and its labels: one label a pickup, each
	// barcode its own pickup's number.
	code, body = agent.get("/pickups/print")
	agent.expect("printed list", code, http.StatusOK, body, pk.GetNumber(), other.GetNumber(), "共 2 件", "最近 7 天")
	code, body = agent.get("/pickups/print?courier=" + otherUser)
	agent.expect("printed list of a courier", code, http.StatusOK, body, other.GetNumber(), "赵师傅")
	if strings.Contains(body, pk.GetNumber()) {
		t.Fatal("the list filtered by 赵师傅 prints 李师傅's pickup")
	}
	code, body = agent.get("/pickups/labels")
	agent.expect("labels of the list", code, http.StatusOK, body)
	read, _ := pageBarcodes(t, body)
	if strings.Join(read, " ") != other.GetNumber()+" "+pk.GetNumber() {
		t.Fatalf("labels of the list read %q, want the newest first: %s %s", read, other.GetNumber(), pk.GetNumber())
	}

	// Without customer.phone the numbers print masked, as the pages show
	// them.
	for _, path := range []string{"/pickups/" + pk.GetId() + "/slip", "/pickups/" + pk.GetId() + "/label", "/pickups/labels"} {
		code, body := masked.get(path)
		masked.expect("masked "+path, code, http.StatusOK, body, "****")
		if fullNumber(body, "13912345678") || fullNumber(body, "01088886666") || fullNumber(body, "13800001111") {
			t.Fatalf("%s prints a full number for a user without customer.phone", path)
		}
	}

	// Who may not open a pickup may not print it: a courier prints their
	// own only, a user without pickup permissions nothing.
	for _, c := range []struct {
		who  *adminClient
		path string
		want int
	}{
		{courier, "/pickups/" + pk.GetId() + "/slip", http.StatusOK},
		{courier, "/pickups/" + pk.GetId() + "/label", http.StatusOK},
		{courier, "/pickups/" + other.GetId() + "/slip", http.StatusForbidden},
		{courier, "/pickups/" + other.GetId() + "/label", http.StatusForbidden},
		{courier, "/pickups/" + other.GetNumber() + "/label", http.StatusForbidden},
		{plain, "/pickups/" + pk.GetId() + "/slip", http.StatusForbidden},
		{plain, "/pickups/" + pk.GetId() + "/label", http.StatusForbidden},
		{plain, "/pickups/print", http.StatusForbidden},
		{plain, "/pickups/labels", http.StatusForbidden},
	} {
		if code, body := c.who.get(c.path); code != c.want {
			t.Errorf("%s: status %d, want %d; %s", c.path, code, c.want, pageMessages(body))
		} else if c.want != http.StatusOK && strings.Contains(body, "陈先生") {
			t.Errorf("%s: refused, yet shows the pickup", c.path)
		}
	}
	code, body = courier.get("/pickups/labels")
	courier.expect("courier's labels", code, http.StatusOK, body, pk.GetNumber())
	if strings.Contains(body, other.GetNumber()) {
		t.Fatal("a courier prints another courier's label")
	}
	// Asking for another courier's list prints their own, as the list
	// page shows.
	code, body = courier.get("/pickups/print?courier=" + otherUser)
	courier.expect("courier's list", code, http.StatusOK, body, pk.GetNumber())
	if strings.Contains(body, other.GetNumber()) {
		t.Fatal("a courier prints another courier's list")
	}

	// Bad links: a clear 404 or 400 with its message.
	for _, c := range []struct {
		path, msg string
		want      int
	}{
		{"/pickups/NOPE/slip", "未找到", http.StatusNotFound},
		{"/pickups/NOPE/label", "未找到", http.StatusNotFound},
		{"/pickups/" + strings.Repeat("0", 26) + "/slip", "未找到", http.StatusNotFound},
		{"/pickups/P-br-web-000000-1/label", "未找到", http.StatusNotFound},
		{"/pickups/%3Cscript%3E/label", "未找到", http.StatusNotFound},
		{"/pickups/print?day=2026-13-45", "日期无效", http.StatusBadRequest},
		{"/pickups/labels?day=yesterday", "日期无效", http.StatusBadRequest},
		{"/pickups/print?status=lost", "状态无效", http.StatusBadRequest},
		{"/pickups/labels?status=%3Cb%3E", "状态无效", http.StatusBadRequest},
	} {
		code, body := agent.get(c.path)
		if code != c.want || !strings.Contains(pageMessages(body), c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.path, code, pageMessages(body), c.want, c.msg)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "<svg") {
			t.Errorf("%s: an error page with a barcode or unescaped input", c.path)
		}
	}
	unchanged()
}

// TestPrintoutsInEnglish: a printout in English shows no Chinese but the
// user's own data, which here is in English too.
func TestPrintoutsInEnglish(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	resp, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "Mr Chen", Phone: "139 1234 5678", Address: "88 Zhangjiang Road, Pudong", Company: "Corner Shop"},
		Receiver:    &pickupv1.Party{Name: "Ms Liu", Phone: "010 8888 6666", Address: "1 Jianguo Road, Beijing"},
		Destination: "Beijing", Goods: "Contracts", WeightGrams: 1500, Payment: "collect", Zone: "pudong",
	}))
	if err != nil {
		t.Fatal(err)
	}
	pk := resp.Msg.GetPickup()
	get := pageClientAs(t, s.base, agentUser)
	for _, path := range []string{"/pickups/" + pk.GetId() + "/slip", "/pickups/" + pk.GetId() + "/label", "/pickups/print", "/pickups/labels"} {
		code, page := get(path, "en")
		if code != http.StatusOK {
			t.Errorf("%s: %d", path, code)
			continue
		}
		// The zone's and the courier's names are the set-up's, in Chinese.
		body := strings.NewReplacer("中文", "", "浦东", "", "李师傅", "").Replace(visibleText(page))
		if m := hanRe.FindAllString(body, 5); m != nil {
			t.Errorf("en %s shows Chinese: %q", path, m)
		}
		if !strings.Contains(body, "Print") {
			t.Errorf("en %s has no print button", path)
		}
	}
}

// TestProductLabels: a product's barcode labels, as many copies as asked,
// 21 to an A4 sheet; its barcode (else its code) reads back from each.
func TestProductLabels(t *testing.T) {
	s := startStockSite(t)
	s.setUp(t)
	users := &pickupSite{n: s.n, admin: s.admin, access: &api.AccessService{App: &accessapp.Admin{Store: s.n.Store(),
		IDs: replication.NewIDs(), Node: "br-web"}, Grants: app.AccessGrants(s.n.Store(), nil)}}
	users.user(t, "zhou.clerk", "周文员", "stock.read")
	users.user(t, "plain.user", "只读客服", "customer.read")
	admin := signIn(t, s.base, "admin")
	clerk := signIn(t, s.base, "zhou.clerk")
	plain := newAdminClient(t, s.base, "plain.user", webPassword)
	get := pageClientAs(t, s.base, "admin")
	unchanged := noChange(t, s.n.Store()) // signing in is audited: sign everyone in first

	status, page := clerk.get(t, "/stock/products/"+milk)
	if status != http.StatusOK || !strings.Contains(page, `action="/stock/products/`+milk+`/labels"`) {
		t.Fatalf("the product page (%d) offers no labels to print", status)
	}
	sheets := regexp.MustCompile(`<section class="sheet">`)
	for _, c := range []struct {
		name, path, code string
		labels, sheets   int
	}{
		{"one by default", "/stock/products/" + milk + "/labels", milkBarcode, 1, 1},
		{"three", "/stock/products/" + milk + "/labels?copies=3", milkBarcode, 3, 1},
		{"a sheet", "/stock/products/" + cup + "/labels?copies=21", cupBarcode, 21, 1},
		{"a sheet and one", "/stock/products/" + cup + "/labels?copies=22", cupBarcode, 22, 2},
		{"no barcode: the product code", "/stock/products/GIFT-BOX/labels?copies=2", "GIFT-BOX", 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, page := clerk.get(t, c.path)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if n := strings.Count(page, `class="product-label"`); n != c.labels {
				t.Fatalf("%d labels, want %d", n, c.labels)
			}
			if n := len(sheets.FindAllString(page, -1)); n != c.sheets {
				t.Fatalf("%d sheets, want %d", n, c.sheets)
			}
			read, _ := pageBarcodes(t, page)
			if len(read) != c.labels {
				t.Fatalf("%d barcodes read, want %d", len(read), c.labels)
			}
			for _, r := range read {
				if r != c.code {
					t.Fatalf("a label's barcode reads %q, want %q", r, c.code)
				}
			}
			if !strings.Contains(page, "paper-sheet") {
				t.Fatal("not laid out on label sheets")
			}
		})
	}
	if status, page := clerk.get(t, "/stock/products/"+milk+"/labels"); status != http.StatusOK || !strings.Contains(page, "光明鲜牛奶 1L") ||
		!strings.Contains(page, "商品编码 "+milk) {
		t.Fatalf("the milk's label (%d) does not name it and its code", status)
	}

	// Bad links: a clear 404 or 400, in the user's words.
	for _, c := range []struct {
		path, msg string
		want      int
	}{
		{"/stock/products/NOPE/labels", "未找到", http.StatusNotFound},
		{"/stock/products/%3Cb%3E/labels", "未找到", http.StatusNotFound},
		{"/stock/products/" + milk + "/labels?copies=0", "打印份数须为 1 至 " + strconv.Itoa(label.MaxCopies), http.StatusBadRequest},
		{"/stock/products/" + milk + "/labels?copies=" + strconv.Itoa(label.MaxCopies+1), "打印份数", http.StatusBadRequest},
		{"/stock/products/" + milk + "/labels?copies=-3", "打印份数", http.StatusBadRequest},
		{"/stock/products/" + milk + "/labels?copies=many", "打印份数", http.StatusBadRequest},
	} {
		status, page := admin.get(t, c.path)
		if status != c.want || !strings.Contains(pageMessages(page), c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.path, status, pageMessages(page), c.want, c.msg)
		}
		if strings.Contains(page, "<svg") {
			t.Errorf("%s: refused, yet prints labels", c.path)
		}
	}
	if status, page := get("/stock/products/"+milk+"/labels?copies=0", "en"); status != http.StatusBadRequest ||
		!strings.Contains(page, "Print 1 to "+strconv.Itoa(label.MaxCopies)+" copies") {
		t.Errorf("English: %d %q", status, pageMessages(page))
	}
	// A user who may not read the stock may not print its labels.
	if status, page := plain.get("/stock/products/" + milk + "/labels"); status != http.StatusForbidden || strings.Contains(page, milkBarcode) {
		t.Errorf("a user without stock.read: %d", status)
	}
	unchanged()
}
