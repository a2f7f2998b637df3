package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	crmv1 "branchline/gen/branchline/crm/v1"
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
