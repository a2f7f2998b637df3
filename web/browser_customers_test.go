package web_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/rpc"
)

// customerNode is a node with Connect clients acting as its administrator,
// to set up users and data the browser then works with.
type customerNode struct {
	base      string
	cust      crmv1connect.CustomerServiceClient
	access    accessv1connect.AccessServiceClient
	blacklist crmv1connect.BlacklistServiceClient
	members   crmv1connect.MemberServiceClient
}

func startCustomerNode(t *testing.T) *customerNode {
	t.Helper()
	n := startNode(t)
	hc := rpc.NewHTTPClient()
	resp, err := authv1connect.NewAuthServiceClient(hc, n.URL()).Login(context.Background(),
		connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: webPassword}))
	if err != nil {
		t.Fatal(err)
	}
	bearer := rpc.WithBearer(resp.Msg.GetToken())
	return &customerNode{
		base:      n.URL(),
		cust:      crmv1connect.NewCustomerServiceClient(hc, n.URL(), bearer),
		access:    accessv1connect.NewAccessServiceClient(hc, n.URL(), bearer),
		blacklist: crmv1connect.NewBlacklistServiceClient(hc, n.URL(), bearer),
		members:   crmv1connect.NewMemberServiceClient(hc, n.URL(), bearer),
	}
}

// addAgent creates a user whose role may read and write customers but not
// see their phone numbers.
func (cn *customerNode) addAgent(t *testing.T, username string) {
	t.Helper()
	ctx := context.Background()
	role, err := cn.access.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: "坐席",
		Permissions: []*accessv1.Permission{
			{Permission: "customer.read", Scope: accessv1.Scope_SCOPE_ALL},
			{Permission: "customer.write", Scope: accessv1.Scope_SCOPE_ALL},
		},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := cn.access.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: username, DisplayName: "王坐席"}, Password: webPassword,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cn.access.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()})); err != nil {
		t.Fatal(err)
	}
}

// defineFields defines two custom fields: a choice and a date.
func (cn *customerNode) defineFields(t *testing.T) {
	t.Helper()
	for _, f := range []*crmv1.CustomField{
		{Key: "vip", Label: "VIP 卡", Kind: crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE, Options: []string{"金卡", "银卡"}},
		{Key: "contract_date", Label: "签约日期", Kind: crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_DATE},
	} {
		if _, err := cn.cust.DefineCustomField(context.Background(), connect.NewRequest(&crmv1.DefineCustomFieldRequest{Field: f})); err != nil {
			t.Fatal(err)
		}
	}
}

func (cn *customerNode) create(t *testing.T, c *crmv1.Customer) string {
	t.Helper()
	resp, err := cn.cust.CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: c, AllowDuplicate: true}))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(resp.Msg.GetName(), "customers/")
}

// lastPart is the id at the end of a customer page's address.
func lastPart(loc string) string {
	loc, _, _ = strings.Cut(loc, "#")
	loc, _, _ = strings.Cut(loc, "?")
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

// acceptConfirms makes window.confirm say yes on the current page.
func acceptConfirms() step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`window.confirm = () => true`)(ctx, tg)
		return err
	})
}

// suggests waits until the type-ahead list shows text: it follows the
// typing, so answers for what was typed first may show before.
func suggests(text string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](`[...document.querySelectorAll("#suggest li a")].some(a => a.textContent.includes(`+strconv.Quote(text)+`))`,
			chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return err
	})
}

func noSideScroll(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	var overflow bool
	run(t, ctx, "measure "+page, into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)))
	if overflow {
		t.Errorf("%s scrolls sideways", page)
	}
}

// TestBrowserCustomerPages walks through the customer pages of issue 3 at
// desktop size: entry with a duplicate warning, type-ahead, the card with
// contacts, notes and timeline, merging, the recycle bin, import, export,
// languages, and phone masking for an agent.
func TestBrowserCustomerPages(t *testing.T) {
	cn := startCustomerNode(t)
	base := cn.base
	cn.addAgent(t, "agent.wang")
	cn.defineFields(t)
	ctx := browser(t, 1366, 768)
	login(t, ctx, base, "admin", webPassword)

	// Create a customer through the form.
	var loc, name, mobile string
	run(t, ctx, "create a customer",
		chromedp.Navigate(base+"/customers/new"),
		chromedp.WaitVisible(css(`#customer-form`)),
		chromedp.SendKeys(css(`input[name=display_name]`), "上海浦东速递有限公司"),
		chromedp.SendKeys(css(`input[name=code]`), "SH-0001"),
		chromedp.SendKeys(css(`input[name=mobile]`), "138 1234 5678"),
		chromedp.SendKeys(css(`input[name=city]`), "上海"),
		chromedp.SendKeys(css(`input[name=credit_level]`), "C"),
		chromedp.SendKeys(css(`input[name=address]`), "上海市浦东新区张江路 88 号"),
		chromedp.SetValue(css(`select[name="custom.vip"]`), "金卡"),
		chromedp.SetValue(css(`input[name="custom.contract_date"]`), "2026-03-01"),
		chromedp.Submit(css(`#customer-form`)),
		chromedp.WaitVisible(css(`#customer dl.fields`)),
		into(&loc, chromedp.Location()),
		into(&name, chromedp.Text(css(`#customer h1`))),
		into(&mobile, chromedp.Text(css(`dd.f-mobile`))),
	)
	first := lastPart(loc)
	if !strings.Contains(name, "上海浦东速递有限公司") || strings.ReplaceAll(mobile, " ", "") != "13812345678" {
		t.Fatalf("new card shows %q / %q", name, mobile)
	}
	var vip, since string
	run(t, ctx, "custom fields on the card",
		into(&vip, chromedp.Text(css(`dd[class="f-custom.vip"]`))),
		into(&since, chromedp.Text(css(`dd[class="f-custom.contract_date"]`))),
	)
	if vip != "金卡" || since != "2026-03-01" {
		t.Fatalf("custom fields read %q, %q", vip, since)
	}

	// Type part of the Chinese name: the type-ahead finds it.
	var hit string
	run(t, ctx, "type-ahead by part of the name",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`input#q`)),
		chromedp.SendKeys(css(`input#q`), "浦东"),
		suggests("上海浦东速递有限公司"),
		into(&hit, chromedp.Text(css(`#suggest li a`))),
		shot(t, "customers-typeahead"),
	)
	if !strings.Contains(hit, "上海浦东速递有限公司") {
		t.Fatalf("typing 浦东 suggests %q", hit)
	}

	// Entering the same mobile again warns, listing the existing customer;
	// "create anyway" creates it.
	var warning, dupLink string
	run(t, ctx, "duplicate at entry",
		chromedp.Navigate(base+"/customers/new"),
		chromedp.WaitVisible(css(`#customer-form`)),
		chromedp.SendKeys(css(`input[name=display_name]`), "浦东速递"),
		chromedp.SendKeys(css(`input[name=mobile]`), "13812345678"),
		chromedp.SendKeys(css(`input[name=phone]`), "021 6234 5678"),
		chromedp.Submit(css(`#customer-form`)),
		chromedp.WaitVisible(css(`#duplicate-warning`)),
		into(&warning, chromedp.Text(css(`#duplicate-warning`))),
		into(&dupLink, chromedp.JavascriptAttribute[string](css(`#duplicate-warning a`), "href")),
		shot(t, "customer-duplicate-warning"),
	)
	if !strings.Contains(warning, "上海浦东速递有限公司") || !strings.HasSuffix(dupLink, "/customers/"+first) {
		t.Fatalf("duplicate warning reads %q, links %q", warning, dupLink)
	}
	run(t, ctx, "create anyway",
		chromedp.Click(css(`#allow-duplicate`)),
		chromedp.Submit(css(`#customer-form`)),
		chromedp.WaitVisible(css(`#customer dl.fields`)),
		into(&loc, chromedp.Location()),
		into(&name, chromedp.Text(css(`#customer h1`))),
	)
	second := lastPart(loc)
	if second == first || !strings.Contains(name, "浦东速递") {
		t.Fatalf("create anyway landed on %s (%q)", loc, name)
	}

	// The card lists the first customer as a duplicate; merge them, keeping
	// the first customer with the second one's phone.
	var mergeRows int
	run(t, ctx, "open the merge page from the card",
		chromedp.WaitVisible(css(`#duplicates`)),
		clickJS(`#duplicates a.button`),
		chromedp.WaitVisible(css(`#merge-form`)),
		into(&mergeRows, chromedp.Evaluate[int](`document.querySelectorAll('#merge-form tr.differ').length`)),
		shot(t, "customer-merge"),
	)
	if mergeRows < 3 { // name, code, phone, address, city, credit level differ
		t.Fatalf("merge page shows %d differing fields", mergeRows)
	}
	run(t, ctx, "merge",
		chromedp.Click(css(`input[name=winner][value=b]`)),
		chromedp.Click(css(`input[name="pick.display_name"][value=b]`)),
		chromedp.Click(css(`input[name="pick.phone"][value=a]`)),
		clickJS(`#merge-submit`),
		chromedp.WaitVisible(css(`#customer dl.fields`)),
		into(&loc, chromedp.Location()),
		into(&name, chromedp.Text(css(`#customer h1`))),
	)
	var phone string
	run(t, ctx, "read the survivor", into(&phone, chromedp.Text(css(`dd.f-phone`))))
	if lastPart(loc) != first || !strings.Contains(name, "上海浦东速递有限公司") || !strings.Contains(strings.ReplaceAll(phone, " ", ""), "62345678") {
		t.Fatalf("after the merge: %s shows %q, phone %q", loc, name, phone)
	}
	var flash string
	run(t, ctx, "the loser's address shows the survivor",
		chromedp.Navigate(base+"/customers/"+second),
		chromedp.WaitVisible(css(`#customer dl.fields`)),
		into(&loc, chromedp.Location()),
		into(&flash, chromedp.Text(css(`p.flash`))),
	)
	if lastPart(loc) != first || flash == "" {
		t.Fatalf("the loser's address led to %s, notice %q", loc, flash)
	}

	// Contacts and notes; the timeline tells what happened in words.
	var contacts, timeline string
	run(t, ctx, "add a contact",
		chromedp.Click(css(`#add-contact`)),
		chromedp.WaitVisible(css(`#contact-form`)),
		chromedp.SendKeys(css(`#contact-form input[name=display_name]`), "李经理"),
		chromedp.SendKeys(css(`#contact-form input[name=title]`), "采购经理"),
		chromedp.SendKeys(css(`#contact-form input[name=mobile]`), "139 0000 1111"),
		chromedp.Submit(css(`#contact-form`)),
		chromedp.WaitVisible(css(`#contact-list`)),
	)
	run(t, ctx, "edit the contact",
		chromedp.Click(css(`#contact-list a.edit-contact`)),
		chromedp.WaitVisible(css(`#contact-form`)),
		chromedp.SetValue(css(`#contact-form input[name=title]`), "总经理"),
		chromedp.Submit(css(`#contact-form`)),
		chromedp.WaitVisible(css(`#contact-list`)),
		into(&contacts, chromedp.Text(css(`#contact-list`))),
	)
	if !strings.Contains(contacts, "李经理") || !strings.Contains(contacts, "总经理") {
		t.Fatalf("contacts read %q", contacts)
	}
	run(t, ctx, "add a note",
		chromedp.SendKeys(css(`#note-form textarea`), "客户要求每周一上午取件"),
		chromedp.Submit(css(`#note-form`)),
		chromedp.WaitVisible(css(`#timeline-list .tl-customer\.note`)),
		into(&timeline, chromedp.Text(css(`#timeline-list`))),
		shot(t, "customer-card"),
	)
	for _, want := range []string{"客户要求每周一上午取件", "合并客户", "添加联系人", "修改联系人", "创建客户"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	var warnings string
	run(t, ctx, "credit warning", into(&warnings, chromedp.Text(css(`#warnings`))))
	if !strings.Contains(warnings, "信用等级") {
		t.Errorf("no credit warning for level C: %q", warnings)
	}

	// Editing writes only the fields changed: phones shown in national
	// format and left alone are not rewritten.
	var latest string
	run(t, ctx, "edit one field",
		chromedp.Click(css(`#edit`)),
		chromedp.WaitVisible(css(`#customer-form`)),
		chromedp.SetValue(css(`input[name=city]`), "上海市"),
		chromedp.Submit(css(`#customer-form`)),
		chromedp.WaitVisible(css(`#timeline-list`)),
		into(&latest, chromedp.Text(css(`#timeline-list li:first-child`))),
	)
	if !strings.Contains(latest, "修改了 城市") || strings.Contains(latest, "手机") {
		t.Fatalf("the edit's timeline entry reads %q", latest)
	}

	var noContacts string
	run(t, ctx, "remove the contact",
		acceptConfirms(),
		clickJS(`#contact-list button.remove-contact`),
		chromedp.WaitVisible(css(`p.flash`)),
		chromedp.WaitNotPresent(css(`#contact-list`)),
		into(&noContacts, chromedp.Text(css(`#contacts`))),
	)
	if !strings.Contains(noContacts, "暂无联系人") {
		t.Fatalf("after removing the contact: %q", noContacts)
	}

	// English and back, on the card and the list.
	var h2 string
	run(t, ctx, "card in English",
		clickJS(`button[data-lang=en]`),
		chromedp.WaitReady(css(`html[lang=en]`)),
		chromedp.WaitVisible(css(`#timeline`)),
		into(&h2, chromedp.Text(css(`#timeline h2`))),
		into(&timeline, chromedp.Text(css(`#timeline-list`))),
		shot(t, "customer-card-en"),
	)
	if h2 != "Timeline" || !strings.Contains(timeline, "Merged") || !strings.Contains(timeline, "Contact changed") {
		t.Fatalf("English card: %q / %q", h2, timeline)
	}
	var head string
	run(t, ctx, "list in English",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`#customer-list`)),
		into(&head, chromedp.Text(css(`#customer-list thead`))),
		shot(t, "customers-en"),
		clickJS(`button[data-lang=zh-CN]`),
		chromedp.WaitReady(css(`html[lang=zh-CN]`)),
		chromedp.WaitVisible(css(`#customer-list`)),
	)
	if !strings.Contains(head, "Mobile") {
		t.Fatalf("English list header %q", head)
	}

	// Advanced search by a field; phones show unmasked to the admin.
	var row, listPhone string
	run(t, ctx, "advanced search",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`#search-form`)),
		chromedp.Click(css(`details.filters summary`)),
		chromedp.SetValue(css(`.filter-row:first-of-type select[name=ff]`), "city"),
		chromedp.SetValue(css(`.filter-row:first-of-type select[name=fo]`), "contains"),
		chromedp.SendKeys(css(`.filter-row:first-of-type input[name=fv]`), "上海"),
		chromedp.SetValue(css(`.filter-row:nth-of-type(2) select[name=ff]`), "custom.vip"),
		chromedp.SetValue(css(`.filter-row:nth-of-type(2) select[name=fo]`), "equals"),
		chromedp.SendKeys(css(`.filter-row:nth-of-type(2) input[name=fv]`), "金卡"),
		chromedp.Submit(css(`#search-form`)),
		chromedp.WaitVisible(css(`#customer-list[data-conditions="2"]`)),
		into(&row, chromedp.Text(css(`#customer-list tbody`))),
		into(&listPhone, chromedp.Text(css(`#customer-list tbody td.phone`))),
		shot(t, "customers-search"),
	)
	if !strings.Contains(row, "上海浦东速递有限公司") || strings.ReplaceAll(listPhone, " ", "") != "13812345678" {
		t.Fatalf("search by city shows %q, phone %q", row, listPhone)
	}

	// Export streams the search as a file.
	var export []string
	run(t, ctx, "export",
		into(&export, chromedp.Evaluate[[]string](`fetch(document.getElementById("export-csv").href).then(async r => [String(r.status), r.headers.get("Content-Disposition") || "", await r.text()])`, chromedp.EvalAwaitPromise)),
	)
	if len(export) != 3 || export[0] != "200" || !strings.Contains(export[1], "attachment") || !strings.Contains(export[2], "上海浦东速递有限公司") || !strings.Contains(strings.ReplaceAll(export[2], " ", ""), "13812345678") {
		t.Fatalf("export answered %q", export)
	}

	// Recycle bin: delete, find it there with who and when, restore.
	binned := cn.create(t, &crmv1.Customer{DisplayName: "回收站测试客户", City: "杭州"})
	var bin string
	var kept bool
	run(t, ctx, "delete, answering no",
		chromedp.Navigate(base+"/customers/"+binned),
		chromedp.WaitVisible(css(`#delete`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`window.confirm = () => false`)(ctx, tg)
			return err
		}),
		clickJS(`#delete`),
		into(&kept, chromedp.Evaluate[bool](`!!document.getElementById("delete") && !document.querySelector("p.flash")`)),
	)
	if got, err := cn.cust.GetCustomer(context.Background(), connect.NewRequest(&crmv1.GetCustomerRequest{Name: "customers/" + binned})); err != nil || got.Msg.GetDeleted() {
		kept = false
	}
	if !kept {
		t.Fatal("declining the confirmation still deleted the customer")
	}
	run(t, ctx, "delete",
		acceptConfirms(),
		clickJS(`#delete`),
		chromedp.WaitVisible(css(`p.flash`)),
		chromedp.Navigate(base+"/customers/deleted"),
		chromedp.WaitVisible(css(`#recycle-list`)),
		into(&bin, chromedp.Text(css(`#recycle-list tr[data-id="`+binned+`"]`))),
		shot(t, "customers-recycle"),
	)
	if !strings.Contains(bin, "回收站测试客户") || !strings.Contains(bin, "admin") {
		t.Fatalf("recycle bin row reads %q", bin)
	}
	var leftBin, banner bool
	run(t, ctx, "restore",
		clickJS(`#recycle-list tr[data-id="`+binned+`"] button.restore`),
		chromedp.WaitVisible(css(`p.flash`)),
		into(&leftBin, chromedp.Evaluate[bool](`!document.querySelector('tr[data-id="`+binned+`"]')`)),
		chromedp.Navigate(base+"/customers/"+binned),
		chromedp.WaitVisible(css(`#customer`)),
		into(&banner, chromedp.Evaluate[bool](`!!document.getElementById("deleted-banner")`)),
	)
	if !leftBin || banner {
		t.Fatalf("after restoring: gone from the bin %v, card marked deleted %v", leftBin, banner)
	}

	// Import an XLSX with one bad row and one row duplicating a stored
	// customer: the preview marks both, the commit imports the good rows
	// and the duplicate ticked "import anyway".
	xlsx := filepath.Join(t.TempDir(), "customers.xlsx")
	writeXLSX(t, xlsx, [][]any{
		{"客户名称", "移动电话", "所在城市", "电子邮箱"},
		{"苏州工业园区物流中心", "13911112222", "苏州", "ops@sip-logistics.cn"},
		{"南京鼓楼快运", "12345", "南京", ""},
		{"无锡新区仓储有限公司", "13933334444", "无锡", ""},
		{"浦东速递二部", "138 1234 5678", "上海", ""},
		{"杭州滨江配送站", "13977778888", "杭州", ""},
	})
	var badRow, dupRow, summary string
	var okRows int
	run(t, ctx, "import preview",
		chromedp.Navigate(base+"/customers/import"),
		chromedp.WaitVisible(css(`#import-form`)),
		chromedp.SetUploadFiles(css(`#import-form input[type=file]`), []string{xlsx}),
		chromedp.Submit(css(`#import-form`)),
		chromedp.WaitVisible(css(`#import-preview`)),
		into(&badRow, chromedp.Text(css(`tr[data-line="3"]`))),
		into(&dupRow, chromedp.Text(css(`tr[data-line="5"]`))),
		into(&okRows, chromedp.Evaluate[int](`document.querySelectorAll('#import-preview tr.row-ok').length`)),
		shot(t, "customers-import-preview"),
	)
	if !strings.Contains(badRow, "电话号码无效") || !strings.Contains(dupRow, "上海浦东速递有限公司") || okRows != 3 {
		t.Fatalf("preview: line 3 reads %q, line 5 %q; %d rows ok", badRow, dupRow, okRows)
	}
	run(t, ctx, "import commit",
		chromedp.Click(css(`tr[data-line="5"] input[name=anyway]`)),
		clickJS(`#import-submit`),
		chromedp.WaitVisible(css(`#import-done`)),
		into(&summary, chromedp.Text(css(`#import-done .summary`))),
		shot(t, "customers-import-done"),
	)
	if !strings.Contains(summary, "已导入 4 个客户") || !strings.Contains(summary, "跳过 1 行") {
		t.Fatalf("import summary %q", summary)
	}
	for q, want := range map[string]int{"苏州工业园区": 1, "杭州滨江": 1, "浦东速递二部": 1, "南京鼓楼": 0} {
		resp, err := cn.cust.SearchCustomers(context.Background(), connect.NewRequest(&crmv1.SearchCustomersRequest{Query: q}))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(resp.Msg.GetCustomers()); got != want {
			t.Errorf("after the import, %s finds %d customers, want %d", q, got, want)
		}
	}

	// An agent without the phone permission sees numbers masked, in the
	// list, the card and the type-ahead.
	run(t, ctx, "log out", clickJS(`#logout`), chromedp.WaitVisible(css(`#login-form`)))
	login(t, ctx, base, "agent.wang", webPassword)
	var cardPhone string
	run(t, ctx, "agent's list",
		chromedp.Navigate(base+"/customers?q="+"浦东"),
		chromedp.WaitVisible(css(`#customer-list`)),
		into(&listPhone, chromedp.Text(css(`#customer-list tbody td.phone`))),
		shot(t, "customers-agent"),
		chromedp.Navigate(base+"/customers/"+first),
		chromedp.WaitVisible(css(`#customer dl.fields`)),
		into(&cardPhone, chromedp.Text(css(`dd.f-mobile`))),
		shot(t, "customer-card-agent"),
	)
	if listPhone != "138****5678" || cardPhone != "138****5678" {
		t.Fatalf("agent sees %q in the list and %q on the card, want 138****5678", listPhone, cardPhone)
	}
	run(t, ctx, "agent's type-ahead by phone",
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`input#q`)),
		chromedp.SendKeys(css(`input#q`), "13812345678"),
		suggests("上海浦东速递有限公司"),
		into(&hit, chromedp.Text(css(`#suggest`))),
	)
	if !strings.Contains(hit, "138****5678") || strings.Contains(hit, "1234") {
		t.Fatalf("agent's type-ahead shows %q", hit)
	}
	var exportLinks, hasDelete bool
	run(t, ctx, "agent's buttons",
		into(&hasDelete, chromedp.Evaluate[bool](`!!document.getElementById("delete")`)),
		chromedp.Navigate(base+"/customers"),
		chromedp.WaitVisible(css(`#customer-list`)),
		into(&exportLinks, chromedp.Evaluate[bool](`!!document.getElementById("export-csv")`)),
	)
	if hasDelete || exportLinks {
		t.Errorf("agent is offered delete (%v) or export (%v)", hasDelete, exportLinks)
	}
}

func writeXLSX(t *testing.T, path string, rows [][]any) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserCustomerPagesPhone renders the customer pages at a phone's
// size, in Chinese and English, and checks none scrolls sideways.
func TestBrowserCustomerPagesPhone(t *testing.T) {
	cn := startCustomerNode(t)
	base := cn.base
	cn.defineFields(t)
	a := cn.create(t, &crmv1.Customer{Custom: map[string]string{"vip": "银卡", "contract_date": "2025-12-01"}, DisplayName: "北京朝阳国际货运代理有限公司", Code: "BJ-0042", Mobile: "13600001234", Phone: "010 8888 6666",
		City: "北京", Address: "北京市朝阳区建国路 93 号万达广场 B 座 1808 室", Industry: "物流", CreditLevel: "D", CreditLimit: "50000"})
	b := cn.create(t, &crmv1.Customer{DisplayName: "北京朝阳国际货运代理", Mobile: "13600001234", City: "北京"})
	if _, err := cn.cust.AddNote(context.Background(), connect.NewRequest(&crmv1.AddNoteRequest{Parent: "customers/" + a, Text: "月结客户，对账日每月 25 日"})); err != nil {
		t.Fatal(err)
	}
	// A blacklisted number and a membership give the card its warnings.
	if _, err := cn.blacklist.Blacklist(context.Background(), connect.NewRequest(&crmv1.BlacklistNumberRequest{
		Number: "010 8888 6666", Reason: "多次恶意骚扰", Policy: crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT,
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := cn.members.TopUp(context.Background(), connect.NewRequest(&crmv1.TopUpRequest{Customer: "customers/" + a, AmountFen: 123456})); err != nil {
		t.Fatal(err)
	}
	binned := cn.create(t, &crmv1.Customer{DisplayName: "深圳南山科技园快递服务部", City: "深圳"})
	if _, err := cn.cust.DeleteCustomer(context.Background(), connect.NewRequest(&crmv1.DeleteCustomerRequest{Name: "customers/" + binned})); err != nil {
		t.Fatal(err)
	}
	csvFile := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(csvFile, []byte("客户名称,移动电话,所在城市,办公地址,电子邮箱\n"+
		"广州天河快运有限公司,13800009999,广州,广州市天河区体育西路 191 号中石化大厦 B 塔 2301 室,service@tianhe-express.cn\n"+
		"佛山顺德物流,not a phone,佛山,,\n"+
		"北京朝阳国际货运代理有限公司,136 0000 1234,北京,,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 390, 844)
	// Headless Chromium keeps windows at least 500 pixels wide; emulate
	// the phone's viewport instead.
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	login(t, ctx, base, "admin", webPassword)
	var warnings, member string
	run(t, ctx, "card warnings",
		chromedp.Navigate(base+"/customers/"+a),
		chromedp.WaitVisible(css(`#warnings`)),
		into(&warnings, chromedp.Text(css(`#warnings`))),
		into(&member, chromedp.Text(css(`#member`))),
	)
	if !strings.Contains(warnings, "010 8888 6666 在黑名单中：来电将被拒接") || !strings.Contains(warnings, "信用等级 D：请勿赊账") || !strings.Contains(member, "¥1234.56") {
		t.Errorf("card warnings %q, membership %q", warnings, member)
	}
	pages := []struct{ name, path, ready string }{
		{"customers", "/customers", `#customer-list`},
		{"customer-card", "/customers/" + a, `#timeline`},
		{"customer-form", "/customers/" + a + "/edit", `#customer-form`},
		{"customer-merge", "/customers/merge?a=" + a + "&b=" + b, `#merge-form`},
		{"customers-import", "/customers/import", `#import-form`},
		{"customers-recycle", "/customers/deleted", `main .card`},
	}
	// Ticking two search results opens the merge page for them.
	var pair []string
	run(t, ctx, "merge from the search results",
		chromedp.Navigate(base+"/customers?q="+url.QueryEscape("朝阳国际")),
		chromedp.WaitVisible(css(`#customer-list`)),
		chromedp.Click(css(`input[name=pick][value="`+a+`"]`)),
		chromedp.Click(css(`input[name=pick][value="`+b+`"]`)),
		chromedp.WaitEnabled(css(`#merge-selected`)),
		clickJS(`#merge-selected`),
		chromedp.WaitVisible(css(`#merge-form`)),
		into(&pair, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#merge-form input[name=a], #merge-form input[name=b]')].map(i => i.value)`)),
	)
	if len(pair) != 2 || pair[0] == pair[1] || (pair[0] != a && pair[0] != b) || (pair[1] != a && pair[1] != b) {
		t.Fatalf("merge page for %v, want %s and %s", pair, a, b)
	}

	// The browser asks for Chinese; then the user switches to English.
	for _, lang := range []string{"zh-CN", "en"} {
		if lang != "zh-CN" {
			run(t, ctx, "language "+lang,
				chromedp.Navigate(base+"/customers"),
				chromedp.WaitVisible(css(`#search-form`)),
				clickJS(`button[data-lang="`+lang+`"]`),
				chromedp.WaitReady(css(`html[lang="`+lang+`"]`)),
			)
		}
		for _, pg := range pages {
			run(t, ctx, pg.name,
				chromedp.Navigate(base+pg.path),
				chromedp.WaitVisible(css(pg.ready)),
				shot(t, "phone-"+pg.name+"-"+lang),
			)
			noSideScroll(t, ctx, pg.name+" ("+lang+")")
		}
		run(t, ctx, "import preview",
			chromedp.Navigate(base+"/customers/import"),
			chromedp.WaitVisible(css(`#import-form`)),
			chromedp.SetUploadFiles(css(`#import-form input[type=file]`), []string{csvFile}),
			chromedp.Submit(css(`#import-form`)),
			chromedp.WaitVisible(css(`#import-preview`)),
			shot(t, "phone-customers-import-preview-"+lang),
		)
		noSideScroll(t, ctx, "import preview ("+lang+")")
	}
}
