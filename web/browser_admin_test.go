package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser tests of the administration and blacklist pages: an
// administrator sets up a department, a role and a user; the user sees
// only what the role allows; two users' reports blacklist a number and an
// administrator takes it off again; the audit log shows what happened.

// submitForm submits a form from script (bypassing the confirm dialogs
// of admin.js) and waits until the answer page has loaded.
func adSubmit(sel string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Evaluate[any](`window.__blOld = 1; HTMLFormElement.prototype.submit.call(document.querySelector(`+strconv.Quote(sel)+`))`)(ctx, tg); err != nil {
			return fmt.Errorf("submit %s: %w", sel, err)
		}
		return adWaitNewPage(ctx, tg)
	})
}

// waitNewPage polls until the document that set window.__blOld was
// replaced by a loaded one.
func adWaitNewPage(ctx context.Context, tg *chromedp.Target) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		done, err := chromedp.Evaluate[bool](`window.__blOld === undefined && document.readyState === "complete"`)(ctx, tg)
		if err == nil && done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no new page after submitting (last error %v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(40 * time.Millisecond):
		}
	}
}

// js runs a script for its effect.
func adJS(expr string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, tg)
		return err
	})
}

// selectText chooses the option of a select whose text contains text.
func adSelect(sel, text string) step {
	return adJS(`(() => { const s = document.querySelector(` + strconv.Quote(sel) + `);
		const o = [...s.options].find(o => o.text.includes(` + strconv.Quote(text) + `));
		if (!o) throw new Error("no option " + ` + strconv.Quote(text) + `);
		s.value = o.value; })()`)
}

// tick checks the checkbox inside the label whose text contains text,
// below the element sel.
func adTick(sel, text string) step {
	return adJS(`(() => { const l = [...document.querySelectorAll(` + strconv.Quote(sel+" label") + `)].find(l => l.textContent.includes(` + strconv.Quote(text) + `));
		if (!l) throw new Error("no label " + ` + strconv.Quote(text) + `);
		const b = l.querySelector("input[type=checkbox]"); if (!b.checked) b.click(); })()`)
}

// status fetches path and returns the HTTP status, as the logged-in user.
func adStatus(t *testing.T, ctx context.Context, path string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+strconv.Quote(path)+`, {credentials: "same-origin"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch %s: %v", path, err)
	}
	return n
}

func adText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func adLogout(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "log out", adJS(`window.__blOld = 1; document.querySelector("#logout").click()`), chromedp.Func(adWaitNewPage), chromedp.WaitVisible(css(`#login-form`)))
}

const adAgentPassword = "agent-pass-2024"

func TestBrowserAdministration(t *testing.T) {
	n := startNode(t)
	ctx := browser(t, 1366, 768)
	base := n.URL()
	login(t, ctx, base, "admin", webPassword)

	// Departments: a tree of two.
	run(t, ctx, "departments",
		chromedp.Navigate(base+"/admin/departments"),
		chromedp.WaitVisible(css(`#department-form`)),
		chromedp.SendKeys(css(`#department-form input[name=display_name]`), "华东区"),
		adSubmit(`#department-form`),
		chromedp.SendKeys(css(`#department-form input[name=display_name]`), "上海浦东营业部"),
		adSelect(`#department-form select[name=parent]`, "华东区"),
		adSubmit(`#department-form`),
		chromedp.WaitVisible(css(`#departments`)),
		shot(t, "admin-departments"),
	)
	if tree := adText(t, ctx, `#departments`); !strings.Contains(tree, "华东区") || !strings.Contains(tree, "└上海浦东营业部") {
		t.Fatalf("department tree reads %q", tree)
	}

	// A role 坐席 (agent): customers read and write, reporting numbers; no
	// phone numbers.
	run(t, ctx, "role",
		chromedp.Navigate(base+"/admin/roles/new"),
		chromedp.WaitVisible(css(`#role-form`)),
		chromedp.SendKeys(css(`#role-form input[name=display_name]`), "坐席"),
		chromedp.SendKeys(css(`#role-form input[name=description]`), "呼叫中心一线坐席"),
		adTick(`#perms`, "查看客户"),
		adTick(`#perms`, "编辑客户"),
		adTick(`#perms`, "举报骚扰号码"),
		chromedp.SetValue(css(`select[name="scope.customer.read"]`), "all"),
		chromedp.SetValue(css(`select[name="scope.customer.write"]`), "all"),
		shot(t, "admin-role-form"),
		adSubmit(`#role-form`),
		chromedp.WaitVisible(css(`#roles`)),
		shot(t, "admin-roles"),
	)
	if roles := adText(t, ctx, `#roles`); !strings.Contains(roles, "坐席") || !strings.Contains(roles, "查看客户 · 全部") || strings.Contains(roles, "查看完整号码") {
		t.Fatalf("role list reads %q", roles)
	}

	// A role with a bad time window is refused at the window.
	run(t, ctx, "role with a bad window",
		chromedp.Navigate(base+"/admin/roles/new"),
		chromedp.WaitVisible(css(`#role-form`)),
		chromedp.SendKeys(css(`#role-form input[name=display_name]`), "夜班"),
		adTick(`#windows`, "周六"),
		chromedp.SendKeys(css(`input[name="windows[0].start_time"]`), "25:00"),
		chromedp.SendKeys(css(`input[name="windows[0].end_time"]`), "08:00"),
		adSubmit(`#role-form`),
		chromedp.WaitVisible(css(`.window .field-error`)),
		shot(t, "admin-role-errors"),
	)

	// A user: first with mistakes, each shown at its field (the API
	// reports one at a time: the password first).
	run(t, ctx, "user with mistakes",
		chromedp.Navigate(base+"/admin/users/new"),
		chromedp.WaitVisible(css(`#user-form`)),
		chromedp.SendKeys(css(`#user-form input[name=username]`), "Zhang San"),
		chromedp.SendKeys(css(`#user-form input[name=display_name]`), "张三"),
		chromedp.SendKeys(css(`#user-form input[name=password]`), "short"),
		adSubmit(`#user-form`),
		chromedp.WaitVisible(css(`label.invalid .field-error`)),
	)
	if msg := adText(t, ctx, `label.invalid .field-error`); !strings.Contains(msg, "至少 8 个字符") {
		t.Fatalf("short password says %q", msg)
	}
	run(t, ctx, "user with a bad name",
		chromedp.SendKeys(css(`#user-form input[name=password]`), adAgentPassword),
		adSubmit(`#user-form`),
		chromedp.WaitVisible(css(`label.invalid .field-error`)),
		shot(t, "admin-user-errors"),
	)
	if msg := adText(t, ctx, `label.invalid .field-error`); !strings.Contains(msg, "小写字母") {
		t.Fatalf("bad username says %q", msg)
	}
	run(t, ctx, "create user",
		chromedp.SetValue(css(`#user-form input[name=username]`), "zhangsan"),
		chromedp.SetValue(css(`#user-form input[name=password]`), adAgentPassword),
		chromedp.SendKeys(css(`#user-form input[name=extension]`), "8001"),
		adSelect(`#user-form select[name=department]`, "上海浦东营业部"),
		adTick(`#user-roles`, "坐席"),
		adSubmit(`#user-form`),
		chromedp.WaitVisible(css(`#password-form`)),
		shot(t, "admin-user-edit"),
	)
	if flash := adText(t, ctx, `p.flash`); !strings.Contains(flash, "zhangsan") {
		t.Fatalf("after creating a user: %q", flash)
	}
	run(t, ctx, "user list", chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(css(`#users`)), shot(t, "admin-users"))
	if users := adText(t, ctx, `#users`); !strings.Contains(users, "zhangsan") || !strings.Contains(users, "坐席") || !strings.Contains(users, "上海浦东营业部") {
		t.Fatalf("user list reads %q", users)
	}

	// An API token: its secret is shown once.
	var secret string
	run(t, ctx, "token",
		chromedp.Navigate(base+"/admin/tokens"),
		chromedp.WaitVisible(css(`#token-form`)),
		adSelect(`#token-form select[name=user]`, "zhangsan"),
		chromedp.SendKeys(css(`#token-form input[name=display_name]`), "ERP 导入"),
		adSubmit(`#token-form`),
		chromedp.WaitVisible(css(`#token-secret`)),
		into(&secret, chromedp.Text(css(`#token-secret`))),
		shot(t, "admin-tokens"),
	)
	if !strings.HasPrefix(secret, "blp_") {
		t.Fatalf("token secret %q", secret)
	}

	// A custom field of choices, and parameters: two reports blacklist.
	run(t, ctx, "custom field",
		chromedp.Navigate(base+"/admin/fields"),
		chromedp.WaitVisible(css(`#field-form`)),
		chromedp.SendKeys(css(`#field-form input[name=label]`), "客户来源"),
		chromedp.SendKeys(css(`#field-form input[name=key]`), "source"),
		chromedp.SetValue(css(`#field-form select[name=kind]`), "choice"),
		chromedp.SendKeys(css(`#field-form textarea[name=options]`), "电话\n网站\n门店"),
		adSubmit(`#field-form`),
		chromedp.WaitVisible(css(`#fields`)),
		shot(t, "admin-fields"),
	)
	if fields := adText(t, ctx, `#fields`); !strings.Contains(fields, "客户来源") || !strings.Contains(fields, "电话 / 网站 / 门店") {
		t.Fatalf("custom fields read %q", fields)
	}
	run(t, ctx, "parameters",
		chromedp.Navigate(base+"/admin/params"),
		chromedp.WaitVisible(css(`#blacklist-params`)),
		chromedp.SetValue(css(`#blacklist-params input[name=threshold]`), "2"),
		adSubmit(`#blacklist-params`),
		chromedp.WaitVisible(css(`#level-rules`)),
		chromedp.SendKeys(css(`input[name="rules[0].level"]`), "金卡"),
		chromedp.SendKeys(css(`input[name="rules[0].min_spend_fen"]`), "10000"),
		chromedp.SendKeys(css(`input[name="rules[1].level"]`), "银卡"),
		chromedp.SendKeys(css(`input[name="rules[1].min_spend_fen"]`), "2000.5"),
		chromedp.SendKeys(css(`input[name="rules[1].min_tenure_months"]`), "12"),
		adSubmit(`#level-rules`),
		chromedp.WaitVisible(css(`#level-rules`)),
		shot(t, "admin-params"),
	)
	var threshold, silver string
	run(t, ctx, "read parameters",
		into(&threshold, chromedp.Value(css(`#blacklist-params input[name=threshold]`))),
		into(&silver, chromedp.Value(css(`input[name="rules[1].min_spend_fen"]`))),
	)
	if threshold != "2" || silver != "2000.50" {
		t.Fatalf("parameters read back threshold %q, silver spend %q", threshold, silver)
	}

	// The administrator reports a number: one of two.
	const nuisance = "139 1234 5678"
	run(t, ctx, "admin reports a number",
		chromedp.Navigate(base+"/blacklist"),
		chromedp.WaitVisible(css(`#flag-form`)),
		chromedp.SendKeys(css(`#flag-form input[name="flag.number"]`), nuisance),
		chromedp.SendKeys(css(`#flag-form input[name="flag.reason"]`), "推销电话"),
		adSubmit(`#flag-form`),
		chromedp.WaitVisible(css(`#bl-status`)),
	)
	if st := adText(t, ctx, `#bl-status`); !strings.Contains(st, "1 / 2") {
		t.Fatalf("after one report the number is %q", st)
	}
	adLogout(t, ctx)

	// The agent: a wrong password first, then in.
	run(t, ctx, "agent's failed login",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`#login-form`)),
		chromedp.SendKeys(css(`input[name=username]`), "zhangsan"),
		chromedp.SendKeys(css(`input[name=password]`), "wrong-password"),
		adSubmit(`#login-form`),
		chromedp.WaitVisible(css(`p.error`)),
	)
	login(t, ctx, base, "zhangsan", adAgentPassword)
	nav := adText(t, ctx, `nav.nav`)
	for _, want := range []string{"客户", "新建客户", "黑名单"} {
		if !strings.Contains(nav, want) {
			t.Errorf("the agent's menu %q lacks %s", nav, want)
		}
	}
	for _, not := range []string{"系统管理", "审计日志", "导入", "回收站"} {
		if strings.Contains(nav, not) {
			t.Errorf("the agent's menu %q offers %s", nav, not)
		}
	}
	if code := adStatus(t, ctx, "/admin/users"); code != 403 {
		t.Errorf("the agent opening /admin/users: status %d, want 403", code)
	}
	run(t, ctx, "agent is refused administration",
		chromedp.Navigate(base+"/admin/users"),
		chromedp.WaitVisible(css(`p.error`)),
		shot(t, "agent-denied"),
	)
	if msg := adText(t, ctx, `p.error`); !strings.Contains(msg, "没有执行此操作的权限") {
		t.Errorf("denied page says %q", msg)
	}

	// The agent's report is the second: the number is blacklisted, and
	// shown masked (the role may not see numbers).
	run(t, ctx, "agent reports the number",
		chromedp.Navigate(base+"/blacklist"),
		chromedp.WaitVisible(css(`#flag-form`)),
		chromedp.SendKeys(css(`#flag-form input[name="flag.number"]`), "13912345678"),
		chromedp.SendKeys(css(`#flag-form input[name="flag.reason"]`), "一天打了十次"),
		adSubmit(`#flag-form`),
		chromedp.WaitVisible(css(`#bl-status`)),
		shot(t, "blacklist-agent-listed"),
	)
	if st, num := adText(t, ctx, `#bl-status`), adText(t, ctx, `#bl-entry .number`); st != "已列入黑名单" || !strings.Contains(num, "****") {
		t.Fatalf("after two reports the agent sees %q %q", num, st)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#bl-history tbody tr").length`)); err != nil || n != 2 {
		t.Errorf("history has %d rows after two reports (%v)", n, err)
	}
	adLogout(t, ctx)

	// The administrator un-blacklists it with a reason; the history keeps it.
	login(t, ctx, base, "admin", webPassword)
	run(t, ctx, "blacklist",
		chromedp.Navigate(base+"/blacklist"),
		chromedp.WaitVisible(css(`#blacklist`)),
		shot(t, "blacklist"),
	)
	if list := adText(t, ctx, `#blacklist`); !strings.Contains(list, "139 1234 5678") || !strings.Contains(list, "已列入黑名单") {
		t.Fatalf("blacklist reads %q", list)
	}
	run(t, ctx, "un-blacklist",
		chromedp.SendKeys(css(`#bl-search input[name=number]`), "13912345678"),
		adSubmit(`#bl-search`),
		chromedp.WaitVisible(css(`#unlist-form`)),
		adSubmit(`#unlist-form`),
		chromedp.WaitVisible(css(`#unlist-form label.invalid`)),
		chromedp.SendKeys(css(`#unlist-form input[name="unlist.reason"]`), "客户投诉误报，已核实"),
		adSubmit(`#unlist-form`),
		chromedp.WaitVisible(css(`#bl-history`)),
		shot(t, "blacklist-history"),
	)
	if st := adText(t, ctx, `#bl-status`); st != "未列入黑名单" {
		t.Errorf("after un-blacklisting the number is %q", st)
	}
	if hist := adText(t, ctx, `#bl-history`); !strings.Contains(hist, "移出黑名单") || !strings.Contains(hist, "客户投诉误报") || !strings.Contains(hist, "zhangsan") {
		t.Errorf("history reads %q", hist)
	}
	run(t, ctx, "blacklist empty", chromedp.Navigate(base+"/blacklist"), chromedp.WaitVisible(css(`#flag-form`)))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#blacklist tbody tr").length`)); err != nil || n != 0 {
		t.Errorf("blacklist still lists %d numbers (%v)", n, err)
	}

	// The audit log: logins, the failed login, the user's creation.
	run(t, ctx, "audit log",
		chromedp.Navigate(base+"/admin/audit"),
		chromedp.WaitVisible(css(`#audit`)),
		shot(t, "admin-audit"),
	)
	audit := adText(t, ctx, `#audit`)
	for _, want := range []string{"登录", "登录失败", "创建用户", "zhangsan", "分配角色", "修改角色权限", "创建 API 令牌"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	run(t, ctx, "audit filter",
		chromedp.SetValue(css(`#audit-filter select[name=action]`), "login_failed"),
		adSubmit(`#audit-filter`),
		chromedp.WaitVisible(css(`#audit`)),
	)
	if rows := adText(t, ctx, `#audit tbody`); strings.Count(rows, "登录失败") != 1 || !strings.Contains(rows, "zhangsan") || strings.Contains(rows, "创建用户") {
		t.Errorf("failed logins: %q", rows)
	}

	// The same pages in English.
	run(t, ctx, "English", chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(css(`#users`)),
		adJS(`window.__blOld = 1; document.querySelector("button[data-lang=en]").click()`), chromedp.Func(adWaitNewPage),
		chromedp.WaitReady(css(`html[lang=en]`)), shot(t, "admin-users-en"))
	if sub := adText(t, ctx, `nav.subnav`); !strings.Contains(sub, "Departments") || !strings.Contains(sub, "API tokens") {
		t.Errorf("English sub-navigation reads %q", sub)
	}
	for _, page := range []struct{ path, wait, name string }{
		{"/admin/roles/new", "#role-form", "admin-role-form-en"},
		{"/admin/departments", "#departments", "admin-departments-en"},
		{"/admin/params", "#level-rules", "admin-params-en"},
		{"/admin/audit", "#audit", "admin-audit-en"},
		{"/blacklist/status?number=13912345678", "#bl-history", "blacklist-history-en"},
	} {
		run(t, ctx, page.name, chromedp.Navigate(base+page.path), chromedp.WaitVisible(css(page.wait)), shot(t, page.name))
		// The page's own words (not the data): a missing message shows as
		// its key.
		chrome, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main :is(h1, h2, th, label, legend, button, .hint, .subnav a, option)")].map(e => e.textContent).join("\n")`))
		if err != nil || strings.Contains(chrome, "admin.") || strings.Contains(chrome, "blacklist.") {
			t.Errorf("%s shows an untranslated key (%v): %q", page.path, err, chrome)
		}
	}

	// Lists with data, at a phone's size.
	run(t, ctx, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, page := range []struct{ path, wait, name string }{
		{"/admin/audit", "#audit", "phone-admin-audit-data-en"},
		{"/admin/users", "#users", "phone-admin-users-data-en"},
		{"/blacklist/status?number=13912345678", "#bl-history", "phone-blacklist-history-en"},
	} {
		var overflow bool
		run(t, ctx, page.name, chromedp.Navigate(base+page.path), chromedp.WaitVisible(css(page.wait)),
			into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)), shot(t, page.name))
		if overflow {
			t.Errorf("%s scrolls sideways on a phone", page.path)
		}
	}
}

// TestBrowserAdminPhone renders the administration and blacklist pages at
// a phone's size, in both languages: nothing may scroll sideways.
func TestBrowserAdminPhone(t *testing.T) {
	n := startNode(t)
	ctx := browser(t, 390, 844)
	base := n.URL()
	// Headless Chromium keeps its window at least 500 px wide; a phone's
	// viewport takes emulation.
	var width int
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/login"),
		into(&width, chromedp.Evaluate[int](`window.innerWidth`)))
	if width != 390 {
		t.Fatalf("viewport is %d px wide, want 390", width)
	}
	login(t, ctx, base, "admin", webPassword)
	pages := []struct{ path, wait, name string }{
		{"/admin/users", "#new-user", "admin-users"},
		{"/admin/users/new", "#user-form", "admin-user-form"},
		{"/admin/departments", "#department-form", "admin-departments"},
		{"/admin/roles/new", "#role-form", "admin-role-form"},
		{"/admin/tokens", "#token-form", "admin-tokens"},
		{"/admin/fields", "#field-form", "admin-fields"},
		{"/admin/params", "#level-rules", "admin-params"},
		{"/admin/audit", "#audit", "admin-audit"},
		{"/blacklist", "#flag-form", "blacklist"},
		{"/blacklist/status?number=13800138000", "#bl-entry", "blacklist-number"},
	}
	for _, lang := range []string{"zh-CN", "en"} {
		if lang == "en" {
			run(t, ctx, "English", adJS(`window.__blOld = 1; document.querySelector("button[data-lang=en]").click()`), chromedp.Func(adWaitNewPage), chromedp.WaitReady(css(`html[lang=en]`)))
		}
		for _, pg := range pages {
			var overflow bool
			run(t, ctx, pg.name,
				chromedp.Navigate(base+pg.path),
				chromedp.WaitVisible(css(pg.wait)),
				into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)),
				shot(t, "phone-"+pg.name+"-"+lang),
			)
			if overflow {
				t.Errorf("%s (%s) scrolls sideways on a phone", pg.path, lang)
			}
		}
	}
}
