package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The administration pages' actions over plain HTTP, as a browser without
// script would post them: each answers with the page or redirect it
// should, refuses posts without the session's CSRF token, and shows a
// refused change at its field.

// adminClient is a cookie-keeping HTTP adminClient logged in to a node.
type adminClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

var adCSRFRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func newAdminClient(t *testing.T, base, user, pw string) *adminClient {
	t.Helper()
	return signedIn(t, base, user, pw, "/admin/users")
}

// loginClient is a cookie-keeping client that has opened the login page,
// and the login form's token.
func loginClient(t *testing.T, base string) (*adminClient, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &adminClient{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, body := c.get("/login")
	m := adCSRFRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	return c, m[1]
}

// signedIn is a client logged in as user, holding the session's token
// from page.
func signedIn(t *testing.T, base, user, pw, page string) *adminClient {
	t.Helper()
	c, tok := loginClient(t, base)
	if code, body := c.postRaw("/login", url.Values{"username": {user}, "password": {pw}, "_csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("login as %s: status %d; %s", user, code, pageMessages(body))
	}
	_, body := c.get(page)
	m := adCSRFRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on %s", page)
	}
	c.csrf = m[1]
	return c
}

func (c *adminClient) do(req *http.Request) (int, string) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

func (c *adminClient) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

// post sends a form with the session's CSRF token; the answer's body, or
// its Location for a redirect.
func (c *adminClient) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	if form.Get("_csrf") == "" {
		form.Set("_csrf", c.csrf)
	}
	return c.postRaw(path, form)
}

func (c *adminClient) postRaw(path string, form url.Values) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *adminClient) expect(what string, code, want int, body string, contains ...string) {
	c.t.Helper()
	if code != want {
		c.t.Fatalf("%s: status %d, want %d; %s", what, code, want, pageMessages(body))
	}
	for _, s := range contains {
		if !strings.Contains(body, s) {
			c.t.Fatalf("%s: answer lacks %q: %.2000s", what, s, body)
		}
	}
}

var adULIDRe = `([0-9A-HJKMNP-TV-Z]{26})`

// adIDOf finds the id in the link to prefix+id in the table row that
// shows text.
func adIDOf(t *testing.T, body, prefix, text string) string {
	t.Helper()
	i := strings.Index(body, ">"+text+"<")
	if i < 0 {
		t.Fatalf("no %q in the page", text)
	}
	start := strings.LastIndex(body[:i], "<tr")
	end := i + strings.Index(body[i:], "</tr>")
	if start < 0 || end < i {
		t.Fatalf("%q is not in a table row", text)
	}
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + adULIDRe).FindStringSubmatch(body[start:end])
	if m == nil {
		t.Fatalf("no link %s… in the row of %q", prefix, text)
	}
	return m[1]
}

func TestAdminActions(t *testing.T) {
	n := startNode(t)
	c := newAdminClient(t, n.URL(), "admin", webPassword)

	// Every post needs the session's token.
	code, body := c.postRaw("/admin/departments", url.Values{"display_name": {"无令牌"}})
	c.expect("post without CSRF token", code, http.StatusForbidden, body)
	code, body = c.postRaw("/admin/departments", url.Values{"display_name": {"错令牌"}, "_csrf": {"forged"}})
	c.expect("post with a wrong CSRF token", code, http.StatusForbidden, body)

	// Departments: create two, move and rename one; the parent cannot be
	// retired while the child is active.
	code, body = c.post("/admin/departments", url.Values{"display_name": {""}})
	c.expect("nameless department", code, http.StatusUnprocessableEntity, body, `class="invalid"`, "必填")
	for _, name := range []string{"华南区", "深圳营业部"} {
		code, body = c.post("/admin/departments", url.Values{"display_name": {name}})
		c.expect("create "+name, code, http.StatusSeeOther, body)
	}
	_, body = c.get("/admin/departments")
	south := adIDOf(t, body, "/admin/departments/", "华南区")
	shenzhen := adIDOf(t, body, "/admin/departments/", "深圳营业部")
	code, body = c.post("/admin/departments/"+shenzhen, url.Values{"display_name": {"深圳南山营业部"}, "parent": {"departments/" + south}})
	c.expect("rename and move", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/departments/" + shenzhen)
	c.expect("moved department", http.StatusOK, http.StatusOK, body, `value="深圳南山营业部"`, `<option value="departments/`+south+`" selected>华南区</option>`)
	_, body = c.get("/admin/departments/" + south)
	if strings.Contains(body, `value="departments/`+shenzhen+`"`) {
		t.Error("a department may be moved below its own child")
	}
	code, body = c.post("/admin/departments/"+south+"/retire", url.Values{"retired": {"1"}})
	c.expect("retire a parent", code, http.StatusUnprocessableEntity, body, "请先撤销或移走其下级部门")
	code, body = c.post("/admin/departments/"+shenzhen+"/retire", url.Values{"retired": {"1"}})
	c.expect("retire the child", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/departments")
	if strings.Contains(body, ">深圳南山营业部<") {
		t.Error("a retired department is listed by default")
	}
	_, body = c.get("/admin/departments?retired=1")
	c.expect("retired departments", http.StatusOK, http.StatusOK, body, "深圳南山营业部", "已撤销")

	// A role with a working-hours window, then edited.
	code, body = c.post("/admin/roles", url.Values{
		"display_name": {"白班班长"}, "perm": {"customer.read", "admin.audit"}, "scope.customer.read": {"department"},
		"windows[0].days": {"1", "2", "3", "4", "5"}, "windows[0].start_time": {"08:00"}, "windows[0].end_time": {"18:00"},
		"windows[1].days": nil, "windows[1].start_time": {""}, "windows[1].end_time": {""},
	})
	c.expect("create role", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/roles")
	c.expect("roles", http.StatusOK, http.StatusOK, body, "查看客户 · 本部门", "查看审计日志 · 全部", "周一、周二、周三、周四、周五 08:00–18:00")
	role := adIDOf(t, body, "/admin/roles/", "白班班长")
	_, body = c.get("/admin/roles/" + role)
	c.expect("role editor", http.StatusOK, http.StatusOK, body, `name="perm" value="customer.read" checked`, `<option value="department" selected>`, `name="windows[0].start_time" value="08:00"`)
	code, body = c.post("/admin/roles/"+role, url.Values{"display_name": {"白班班长"}, "description": {"早八晚六"}, "perm": {"customer.read"}, "scope.customer.read": {"department"},
		"windows[0].days": {"1", "2", "3", "4", "5"}, "windows[0].start_time": {"08:00"}, "windows[0].end_time": {"18:00"}})
	c.expect("edit role", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/roles")
	if !strings.Contains(body, "早八晚六") || strings.Contains(body, "查看审计日志") {
		t.Errorf("after editing, the role list reads %s", body)
	}

	// A user: password rules at the password field; disable and enable.
	code, body = c.post("/admin/users", url.Values{"username": {"lisi"}, "display_name": {"李四"}, "password": {"long-enough-pw"}, "role": {"roles/" + role}, "department": {"departments/" + south}})
	c.expect("create user", code, http.StatusSeeOther, body)
	user := strings.TrimPrefix(body, "/admin/users/")
	code, body = c.post("/admin/users", url.Values{"username": {"lisi"}, "display_name": {"另一个李四"}, "password": {"long-enough-pw"}})
	c.expect("taken username", code, http.StatusUnprocessableEntity, body, "该用户名已被使用")
	code, body = c.post("/admin/users/"+user+"/password", url.Values{"password": {"short"}})
	c.expect("short password", code, http.StatusUnprocessableEntity, body, "至少 8 个字符")
	code, body = c.post("/admin/users/"+user+"/password", url.Values{"password": {"another-good-pw"}, "pw_must_change": {"1"}})
	c.expect("set password", code, http.StatusSeeOther, body)
	code, body = c.post("/admin/users/"+user, url.Values{"username": {"lisi"}, "display_name": {"李四"}, "extension": {"12a"}, "department": {"departments/" + south}, "role": {"roles/" + role}})
	c.expect("bad extension", code, http.StatusUnprocessableEntity, body, "只能包含数字")
	code, body = c.post("/admin/users/"+user, url.Values{"username": {"lisi"}, "display_name": {"李四（组长）"}, "extension": {"8002"}, "department": {"departments/" + south}})
	c.expect("edit user, take the role away", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/users/" + user)
	if !strings.Contains(body, `value="李四（组长）"`) || strings.Contains(body, `value="roles/`+role+`" checked`) {
		t.Errorf("after editing, the user form reads %s", body)
	}
	code, body = c.post("/admin/users/"+user+"/disable", url.Values{})
	c.expect("disable", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/users")
	if strings.Contains(body, "lisi") {
		t.Error("a disabled user is listed by default")
	}
	_, body = c.get("/admin/users?disabled=1&department=departments/" + south)
	c.expect("disabled users of a department", http.StatusOK, http.StatusOK, body, "lisi", "已停用")
	code, body = c.post("/admin/users/"+user+"/enable", url.Values{})
	c.expect("enable", code, http.StatusSeeOther, body)

	// Tokens: the secret shows once; revoked tokens leave the list.
	code, body = c.post("/admin/tokens", url.Values{"user": {""}, "display_name": {"无主"}})
	c.expect("token without a user", code, http.StatusUnprocessableEntity, body, "必填")
	code, body = c.post("/admin/tokens", url.Values{"user": {"users/" + user}, "display_name": {"报表导出"}, "expire": {"2000-01-01"}})
	c.expect("token expiring in the past", code, http.StatusUnprocessableEntity, body, "必须是将来的日期")
	code, body = c.post("/admin/tokens", url.Values{"user": {"users/" + user}, "display_name": {"报表导出"}})
	c.expect("create token", code, http.StatusOK, body, "blp_", "只显示这一次")
	token := adIDOf(t, body, "/admin/tokens/", "报表导出")
	code, body = c.post("/admin/tokens/"+token+"/revoke", url.Values{})
	c.expect("revoke token", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/tokens")
	if strings.Contains(body, ">报表导出<") {
		t.Error("a revoked token is listed by default")
	}
	_, body = c.get("/admin/tokens?revoked=1")
	c.expect("revoked tokens", http.StatusOK, http.StatusOK, body, "报表导出", "已吊销")

	// Custom fields: bad key at its field, edit, retire.
	code, body = c.post("/admin/fields", url.Values{"key": {"Bad Key"}, "label": {"坏字段"}, "kind": {"text"}})
	c.expect("bad key", code, http.StatusUnprocessableEntity, body, "请使用小写字母")
	code, body = c.post("/admin/fields", url.Values{"key": {"grade"}, "label": {"客户评级"}, "kind": {"choice"}, "options": {"A\r\nB\r\n\r\nC"}})
	c.expect("define field", code, http.StatusSeeOther, body)
	code, body = c.post("/admin/fields/grade", url.Values{"label": {"客户评级"}, "options": {"A\nB\nC\nD"}})
	c.expect("edit field", code, http.StatusSeeOther, body)
	_, body = c.get("/admin/fields")
	c.expect("fields", http.StatusOK, http.StatusOK, body, "A / B / C / D")
	code, body = c.post("/admin/fields/grade/retire", url.Values{})
	c.expect("retire field", code, http.StatusSeeOther, body)

	// Parameters: a bad threshold and a bad amount at their fields.
	code, body = c.post("/admin/params/blacklist", url.Values{"threshold": {"0"}, "default_policy": {"reject"}})
	c.expect("bad threshold", code, http.StatusUnprocessableEntity, body, "1 到 1000 之间的整数")
	code, body = c.post("/admin/params/levels", url.Values{"rules[0].level": {"金卡"}, "rules[0].min_spend_fen": {"12.345"}})
	c.expect("bad amount", code, http.StatusUnprocessableEntity, body, `<tr class="invalid">`, `value="12.345"`)

	// The audit log names what the ids stand for, and filters by actor.
	_, body = c.get("/admin/audit?actor=admin&action=role_changed")
	c.expect("audit of role changes", http.StatusOK, http.StatusOK, body, "分配角色", "lisi", "白班班长")
	code, body = c.get("/admin/audit?from=2020-01-02&to=2020-01-01")
	c.expect("audit with the range reversed", code, http.StatusUnprocessableEntity, body, "不能早于开始日期")

	// Blacklisting directly, rejecting calls at night; a bad time is shown
	// at its window.
	code, body = c.post("/blacklist/list", url.Values{"back": {"number"}, "typed": {"021-6234 5678"}, "list.number": {"021-6234 5678"}, "list.reason": {"诈骗电话"},
		"list.policy": {"reject"}, "windows[0].days": {"6", "7"}, "windows[0].start": {"22:00"}, "windows[0].end": {"8:0"}})
	c.expect("blacklist with a bad window", code, http.StatusUnprocessableEntity, body, `<div class="window invalid">`, "时间格式为 HH:MM", `value="22:00"`)
	code, body = c.post("/blacklist/list", url.Values{"back": {"number"}, "typed": {"021-6234 5678"}, "list.number": {"021-6234 5678"}, "list.reason": {"诈骗电话"},
		"list.policy": {"reject"}, "windows[0].days": {"6", "7"}, "windows[0].start": {"22:00"}, "windows[0].end": {"08:00"}})
	c.expect("blacklist at night", code, http.StatusSeeOther, body)
	_, body = c.get(body)
	c.expect("number page", http.StatusOK, http.StatusOK, body, "已列入黑名单", "直接列入", "拒接来电", "周六、周日 22:00–08:00", "诈骗电话")
	code, body = c.post("/blacklist/unlist", url.Values{"back": {"number"}, "typed": {"021-6234 5678"}, "unlist.reason": {""}})
	c.expect("un-blacklist without a reason", code, http.StatusUnprocessableEntity, body, `name="unlist.reason"`, "必填")

	// The audit log a page at a time.
	for i := range 50 {
		code, body = c.post("/admin/departments", url.Values{"display_name": {"部门" + strconv.Itoa(i)}})
		c.expect("create a department", code, http.StatusSeeOther, body)
	}
	_, body = c.get("/admin/audit?action=department_changed")
	next := regexp.MustCompile(`href="(/admin/audit\?[^"]*after=[^"]+)" id="page-next"`).FindStringSubmatch(body)
	if next == nil || strings.Count(body, "<tr>") != 51 {
		t.Fatalf("first audit page: %d rows, next %v", strings.Count(body, "<tr>")-1, next)
	}
	_, body = c.get(html.UnescapeString(next[1]))
	if rows := strings.Count(body, "<tr>") - 1; rows != 5 || !strings.Contains(body, `id="page-first"`) || strings.Contains(body, `id="page-next"`) {
		t.Errorf("second audit page has %d rows: %s", rows, pageMessages(body))
	}

	// A path naming no user is no page.
	code, body = c.get("/admin/users/NOTANID")
	if code == http.StatusOK {
		t.Errorf("a user page for a bad id: status %d", code)
	}
}

var adMessageRe = regexp.MustCompile(`<(?:p class="(?:error|flash)"|span class="field-error")[^>]*>([^<]*)<`)

// pageMessages are the messages a page shows, for failures.
func pageMessages(body string) string {
	var out []string
	for _, m := range adMessageRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 && len(body) > 300 {
		return body[:300]
	}
	return strings.Join(out, " | ")
}
