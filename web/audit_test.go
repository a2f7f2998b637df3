package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
	"branchline/web"
)

// auditRows are the entries of an audit page, each as its visible text.
func auditRows(page string) []string {
	var out []string
	body := regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`).FindStringSubmatch(page)
	if body == nil {
		return nil
	}
	inline := regexp.MustCompile(`</?(a|strong|span)\b[^>]*>`)
	for _, row := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(body[1], -1) {
		out = append(out, strings.Join(strings.Fields(visibleText(inline.ReplaceAllString(row[1], ""))), " "))
	}
	return out
}

// rowWith is the first row holding every one of parts, or "".
func rowWith(rows []string, parts ...string) string {
	for _, r := range rows {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r, p)
		}
		if ok {
			return r
		}
	}
	return ""
}

// TestAuditSentences: the audit log says each entry as a sentence in the
// reader's language — who did what to what — with each value an edit
// changed from what to what; a customer's phone numbers are masked for a
// reader without the phone permission, as on every page.
func TestAuditSentences(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t) // 上海浦东叫件测试贸易有限公司, mobile 13800138000
	s.user(t, "zhao.audit", "赵审计", "admin.audit")
	if _, err := s.cust.UpdateCustomer(s.admin, connect.NewRequest(&crmv1.UpdateCustomerRequest{
		Customer:   &crmv1.Customer{Name: "customers/" + cust, Mobile: "139 0013 9000", City: "上海"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"mobile", "city"}},
	})); err != nil {
		t.Fatal(err)
	}
	admin := signedIn(t, s.n.URL(), "admin", webPassword, "/admin/branches")
	if code, loc := admin.post("/admin/branches", url.Values{"branch": {"br-web"}, "display_name": {"上海浦东营业部"}}); code != http.StatusSeeOther {
		t.Fatalf("naming the branch: %d %s", code, loc)
	}
	if code, loc := admin.post("/admin/departments", url.Values{"display_name": {"华东"}}); code != http.StatusSeeOther {
		t.Fatalf("a department: %d %s", code, loc)
	}
	_, depts := admin.get("/admin/departments")
	dept := adIDOf(t, depts, "/admin/departments/", "华东")
	if code, loc := admin.post("/admin/departments/"+dept, url.Values{"display_name": {"华东区"}}); code != http.StatusSeeOther {
		t.Fatalf("renaming the department: %d %s", code, loc)
	}
	was, now := web.DisplayPhone("+8613800138000"), web.DisplayPhone("+8613900139000")

	get := pageClient(t, s.n.URL())
	for _, c := range []struct {
		lang string
		want []string
	}{
		{"zh-CN", []string{
			"admin 修改了客户 上海浦东叫件测试贸易有限公司：",
			"手机由「" + was + "」改为「" + now + "」", "城市设为「上海」",
		}},
		{"en", []string{
			"admin changed customer 上海浦东叫件测试贸易有限公司:",
			"Mobile from " + was + " to " + now, "City set to 上海",
		}},
	} {
		code, page := get("/admin/audit?action=customer.update", c.lang)
		if code != http.StatusOK {
			t.Fatalf("%s audit page: %d", c.lang, code)
		}
		if row := rowWith(auditRows(page), c.want...); row == "" {
			t.Errorf("%s: no entry says %q; entries: %q", c.lang, c.want, auditRows(page))
		}
	}
	_, page := get("/admin/audit", "zh-CN")
	rows := auditRows(page)
	for _, want := range [][]string{
		{"admin 设置了网点 上海浦东营业部的名称：", "名称设为「上海浦东营业部」"},
		{"admin 修改了部门 华东区：", "名称由「华东」改为「华东区」"},
		{"admin 新建了部门 华东区：", "名称设为「华东」"},
		{"admin 登录了系统（网页）"},
	} {
		if rowWith(rows, want...) == "" {
			t.Errorf("no entry says %q; entries: %q", want, rows)
		}
	}
	if strings.Contains(page, "renamed to") || strings.Contains(page, "display_name=") {
		t.Errorf("the audit page shows the log's words for developers: %q", rows)
	}

	// An auditor without the phone permission reads the numbers masked.
	_, page = pageClientAs(t, s.n.URL(), "zhao.audit")("/admin/audit?action=customer.update", "zh-CN")
	if row := rowWith(auditRows(page), "手机由「138****8000」改为「139****9000」"); row == "" {
		t.Errorf("the auditor's entry: %q", auditRows(page))
	}
	for _, full := range []string{"13800138000", "13900139000", was, now} {
		if strings.Contains(page, full) {
			t.Errorf("the auditor without the phone permission sees %s", full)
		}
	}
}

// TestAuditSentencesOfDetails (issue 15, part 4): a customer's contacts,
// notes and membership, and the blacklist, show in the audit log as
// sentences with each value from what to what, in both languages; the
// actor by their display name, with their username in its title for a
// reader who administers users.
func TestAuditSentencesOfDetails(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t) // 上海浦东叫件测试贸易有限公司
	st := s.n.Store()
	agent, err := app.CallerOf(auth.WithPrincipal(context.Background(), &auth.Principal{User: agentUser}), app.AccessGrants(st, nil))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := app.CallerOf(s.admin, app.AccessGrants(st, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cs := &crmapp.Customers{Store: st, IDs: replication.NewIDs(), Node: "br-web"}
	ms := &crmapp.Members{Store: st, Node: "br-web"}
	bl := &crmapp.Blacklist{Store: st, Node: "br-web"}
	ct, err := cs.AddContact(ctx, agent, crmapp.ContactAdd{Customer: cust, Fields: map[string]string{"display_name": "李经理", "title": "经理"}})
	if err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"contact": func() error {
			_, _, err := cs.UpdateContact(ctx, agent, crmapp.ContactUpdate{Customer: cust, Contact: ct.ID, Fields: map[string]string{"title": "总监"}})
			return err
		}(),
		"note": func() error { _, err := cs.AddNote(ctx, agent, cust, "客户来电询问运费"); return err }(),
		"top-up": func() error {
			_, err := ms.TopUp(ctx, agent, crmapp.Movement{Customer: cust, Amount: 10000, Note: "预存"})
			return err
		}(),
		"blacklist": func() error {
			_, err := bl.List(ctx, admin, crmapp.Listing{Number: "021-6234 5678", Reason: "诈骗电话", Policy: crm.PolicyReject})
			return err
		}(),
	} {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	get := pageClient(t, s.n.URL())
	for _, c := range []struct {
		action, lang string
		want         []string
	}{
		{crmapp.ActionContactAdd, "zh-CN", []string{"王客服 给客户 上海浦东叫件测试贸易有限公司添加了联系人 李经理：", "姓名设为「李经理」", "职务设为「经理」"}},
		{crmapp.ActionContactUpdate, "zh-CN", []string{"王客服 修改了客户 上海浦东叫件测试贸易有限公司的联系人 李经理：", "职务由「经理」改为「总监」"}},
		{crmapp.ActionContactUpdate, "en", []string{"王客服 changed the contact 李经理 of customer 上海浦东叫件测试贸易有限公司:", "Position from 经理 to 总监"}},
		{crmapp.ActionNoteAdd, "zh-CN", []string{"王客服 给客户 上海浦东叫件测试贸易有限公司添加了备注：", "备注设为「客户来电询问运费」"}},
		{"member.balance_top_up", "zh-CN", []string{"王客服 为客户 上海浦东叫件测试贸易有限公司充值了余额：", "余额由「¥0.00」改为「¥100.00」", "说明设为「预存」"}},
		{"member.balance_top_up", "en", []string{"王客服 topped up the balance of customer 上海浦东叫件测试贸易有限公司:", "Balance from ¥0.00 to ¥100.00"}},
		{crmapp.ActionBlacklistList, "zh-CN", []string{"admin 把一个号码加入了黑名单：", "号码设为「" + web.DisplayPhone("+862162345678") + "」", "原因设为「诈骗电话」", "处理方式设为「拒接来电」"}},
		{crmapp.ActionBlacklistList, "en", []string{"admin put a number on the blacklist:", "Reason set to 诈骗电话"}},
	} {
		code, page := get("/admin/audit?action="+c.action, c.lang)
		if code != http.StatusOK {
			t.Fatalf("%s audit page of %s: %d", c.lang, c.action, code)
		}
		if row := rowWith(auditRows(page), c.want...); row == "" {
			t.Errorf("%s: no entry of %s says %q; entries: %q", c.lang, c.action, c.want, auditRows(page))
		}
		if c.action == crmapp.ActionNoteAdd && !strings.Contains(page, `<strong class="actor" title="`+agentUser+`">王客服</strong>`) {
			t.Errorf("the administrator does not see the actor's username in the title of their name")
		}
	}

	// An auditor who may not administer users reads names too, without
	// the usernames.
	s.user(t, "zhao.audit", "赵审计", "admin.audit")
	_, page := pageClientAs(t, s.n.URL(), "zhao.audit")("/admin/audit?action="+crmapp.ActionNoteAdd, "zh-CN")
	if !strings.Contains(page, `<strong class="actor">王客服</strong>`) {
		t.Errorf("the auditor's page names the actor otherwise: %q", auditRows(page))
	}
}
