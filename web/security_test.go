package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// langCookie returns the value of the "lang" cookie the jar holds for base.
func langCookie(t *testing.T, jar http.CookieJar, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range jar.Cookies(u) {
		if c.Name == "lang" {
			return c.Value
		}
	}
	return ""
}

// TestLanguageSwitchNeedsItsToken: POST /lang is refused without the
// page's token (the session's, or the login form's), changes nothing then,
// and sends the browser back only to a path of this site.
func TestLanguageSwitchNeedsItsToken(t *testing.T) {
	n := startNode(t)
	base := n.URL()

	// No token, a forged one: refused, no cookie set.
	anon, loginTok := loginClient(t, base)
	jar := anon.hc.Jar
	for name, form := range map[string]url.Values{
		"no token":     {"lang": {"en"}, "next": {"/customers"}},
		"forged token": {"lang": {"en"}, "next": {"/customers"}, "_csrf": {"forged"}},
	} {
		code, body := anon.postRaw("/lang", form)
		if code != http.StatusForbidden || !strings.Contains(body, "刷新页面") {
			t.Fatalf("%s: status %d, %q; want 403 with the translated reason", name, code, body)
		}
		if l := langCookie(t, jar, base); l != "" {
			t.Fatalf("%s: the language was set to %q", name, l)
		}
	}

	// On the login page, its form's token switches the language.
	code, loc := anon.postRaw("/lang", url.Values{"lang": {"en"}, "next": {"/login?next=%2Fcustomers"}, "_csrf": {loginTok}})
	if code != http.StatusSeeOther || loc != "/login?next=%2Fcustomers" || langCookie(t, jar, base) != "en" {
		t.Fatalf("switch on the login page: %d to %q, lang %q", code, loc, langCookie(t, jar, base))
	}
	// Refused in the chosen language.
	if _, body := anon.postRaw("/lang", url.Values{"lang": {"zh-CN"}}); !strings.Contains(body, "reload the page") {
		t.Fatalf("refusal in English reads %q", body)
	}

	// Signed in, the session's token; the switch only goes back to a path
	// of this site.
	c := newAdminClient(t, base, "admin", webPassword)
	for _, tc := range []struct{ next, want string }{
		{"/customers?q=%E4%B8%8A%E6%B5%B7", "/customers?q=%E4%B8%8A%E6%B5%B7"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"/\t/evil.example/", "/"},
		{"/\n/evil.example/", "/"},
		{" //evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
	} {
		code, loc := c.post("/lang", url.Values{"lang": {"zh-CN"}, "next": {tc.next}})
		if code != http.StatusSeeOther || loc != tc.want {
			t.Fatalf("next %q: %d to %q, want 303 to %q", tc.next, code, loc, tc.want)
		}
	}
}

// TestWebLoginLockoutSparesTheSharedAddress: a branch's staff share one
// address. 20 failed logins of made-up names from it leave the
// administrator's correct password working; failures of the administrator's
// own name lock that name out there; the failures are in the audit log.
func TestWebLoginLockoutSparesTheSharedAddress(t *testing.T) {
	n := startNode(t)
	base := n.URL()
	c, tok := loginClient(t, base)
	for i := range 20 {
		code, body := c.postRaw("/login", url.Values{"username": {fmt.Sprintf("made.up%d", i)}, "password": {"not-a-password"}, "_csrf": {tok}})
		if code != http.StatusUnauthorized || !strings.Contains(body, "用户名或密码错误") {
			t.Fatalf("made-up user %d: status %d; %s", i, code, pageMessages(body))
		}
	}
	if code, body := c.postRaw("/login", url.Values{"username": {"admin"}, "password": {webPassword}, "_csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("the administrator after 20 failures of made-up names from the same address: status %d; %s", code, pageMessages(body))
	}
	_, audit := c.get("/admin/audit?action=login_failed")
	for _, u := range []string{"made.up0", "made.up19"} {
		if !strings.Contains(audit, ">"+u+"<") {
			t.Fatalf("the audit log lacks the failed login of %s", u)
		}
	}

	// The administrator's own name, failed from this address: locked out
	// with the right password too, told when to try again.
	c2, tok2 := loginClient(t, base)
	for i := range 5 {
		if code, _ := c2.postRaw("/login", url.Values{"username": {"admin"}, "password": {"not-the-password"}, "_csrf": {tok2}}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d", i, code)
		}
	}
	code, body := c2.postRaw("/login", url.Values{"username": {"admin"}, "password": {webPassword}, "_csrf": {tok2}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "失败次数过多") {
		t.Fatalf("the right password after 5 failures of the same name from the same address: status %d; %s", code, pageMessages(body))
	}
}

// TestMustChangePasswordComesFirst: a user whose administrator set
// must_change_password is sent to the password page from every page and
// refused every post until they have set a new one; the page refuses bad
// input with translated messages and changes nothing then.
func TestMustChangePasswordComesFirst(t *testing.T) {
	n := startNode(t)
	base := n.URL()
	admin := newAdminClient(t, base, "admin", webPassword)
	code, body := admin.post("/admin/users", url.Values{"username": {"li.lei"}, "display_name": {"李雷"},
		"password": {"first-password"}, "must_change_password": {"1"}})
	admin.expect("create li.lei", code, http.StatusSeeOther, body)

	c := signedIn(t, base, "li.lei", "first-password", "/password")
	for _, path := range []string{"/customers", "/desk", "/admin/users", "/"} {
		if code, loc := c.get(path); code != http.StatusSeeOther || loc != "/password" {
			t.Fatalf("GET %s: %d to %q, want 303 to /password", path, code, loc)
		}
	}
	if code, body := c.post("/customers/new", url.Values{"display_name": {"不该建成"}}); code != http.StatusForbidden || !strings.Contains(body, "请先修改密码") {
		t.Fatalf("a post before the change: %d %q", code, body)
	}
	code, page := c.get("/password")
	if code != http.StatusOK || !strings.Contains(page, `id="must-change"`) {
		t.Fatalf("the password page: %d %s", code, pageMessages(page))
	}
	for _, bad := range []struct {
		name string
		form url.Values
		msg  string
	}{
		{"mismatch", url.Values{"current_password": {"first-password"}, "new_password": {"second-password"}, "confirm_password": {"second-passw0rd"}}, "两次输入的新密码不一致"},
		{"wrong current", url.Values{"current_password": {"not-it"}, "new_password": {"second-password"}, "confirm_password": {"second-password"}}, "当前密码不正确"},
		{"same", url.Values{"current_password": {"first-password"}, "new_password": {"first-password"}, "confirm_password": {"first-password"}}, "新密码不能与当前密码相同"},
		{"short", url.Values{"current_password": {"first-password"}, "new_password": {"short"}, "confirm_password": {"short"}}, "密码至少 8 个字符"},
	} {
		code, body := c.post("/password", bad.form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, bad.msg) {
			t.Fatalf("%s: %d; %s", bad.name, code, pageMessages(body))
		}
	}
	if code, loc := c.get("/customers"); code != http.StatusSeeOther || loc != "/password" {
		t.Fatalf("after refused changes: %d to %q", code, loc)
	}
	code, loc := c.post("/password", url.Values{"current_password": {"first-password"}, "new_password": {"second-password"}, "confirm_password": {"second-password"}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("the change: %d to %q", code, loc)
	}
	if code, body := c.get("/password"); code != http.StatusOK || strings.Contains(body, `id="must-change"`) {
		t.Fatalf("after the change the page still asks for one: %d", code)
	}
	if code, loc := c.get("/admin/users"); code == http.StatusSeeOther && loc == "/password" {
		t.Fatal("still sent to the password page after the change")
	}
	signedIn(t, base, "li.lei", "second-password", "/password")
}
