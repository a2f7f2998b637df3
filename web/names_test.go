package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// textOf is the text of the element with id in page, tags left out.
func textOf(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(dd|td|span|tr|li|small)>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no #%s on the page", id)
	}
	return strings.Join(strings.Fields(visibleText(m[1])), " ")
}

// TestBranchNamesOnPages: an administrator names a branch on the
// branches page; from then on pages show the branch by that name, not by
// its node id — the header, a pickup, the customer card, the hub's branch
// health and pickups by branch — and a bad id is refused at its field.
func TestBranchNamesOnPages(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	pk := s.book(t, "文件")
	admin := signedIn(t, s.n.URL(), "admin", webPassword, "/admin/branches")

	code, body := admin.post("/admin/branches", url.Values{"branch": {"BR WEB"}, "display_name": {"浦东"}})
	admin.expect("a bad branch id", code, http.StatusUnprocessableEntity, body, `class="invalid"`)
	if !strings.Contains(body, "小写字母、数字和 -") {
		t.Errorf("the refusal does not say what a branch id is: %s", pageMessages(body))
	}
	code, loc := admin.post("/admin/branches", url.Values{"branch": {"br-web"}, "display_name": {"上海浦东营业部"}})
	admin.expect("naming the branch", code, http.StatusSeeOther, loc)
	_, body = admin.get("/admin/branches")
	if !regexp.MustCompile(`(?s)data-branch="br-web".*?上海浦东营业部`).MatchString(body) {
		t.Errorf("the branches page does not list br-web as 上海浦东营业部: %.3000s", body)
	}

	get := pageClient(t, s.n.URL())
	for _, c := range []struct {
		path, what string
		check      func(page string) string
	}{
		{"/customers", "header", func(page string) string {
			return regexp.MustCompile(`(?s)<a class="brand"[^>]*>.*?</a>`).FindString(page)
		}},
		{"/pickups/" + pk.GetId(), "pickup's branch", func(page string) string { return textOf(t, page, "pickup-branch") }},
		{"/customers/" + cust, "customer card's creation", func(page string) string {
			return regexp.MustCompile(`(?s)<p class="muted small">[^<]*</p>`).FindString(page)
		}},
	} {
		code, page := get(c.path, "zh-CN")
		if code != http.StatusOK {
			t.Fatalf("%s: %d", c.path, code)
		}
		if got := c.check(page); !strings.Contains(got, "上海浦东营业部") || strings.Contains(visibleText(got), "br-web") {
			t.Errorf("%s (%s) = %q, want the branch's name and not its id", c.what, c.path, got)
		}
	}

	hub := startHubDashboard(t, s.n.Store(), "br-web", "bj-chaoyang")
	hubGet := pageClient(t, hub)
	_, page := hubGet("/branches", "zh-CN")
	row := regexp.MustCompile(`(?s)<tr data-node="br-web">.*?</tr>`).FindString(page)
	if !strings.Contains(row, "上海浦东营业部") || !strings.Contains(row, "br-web") {
		t.Errorf("hub branch health row = %q, want the name and, for the administrator, the id", visibleText(row))
	}
	_, page = hubGet("/pickups?days=7", "zh-CN")
	row = regexp.MustCompile(`(?s)<tr data-branch="br-web">.*?</tr>`).FindString(page)
	if th := regexp.MustCompile(`(?s)<th scope="row"[^>]*>(.*?)</th>`).FindStringSubmatch(row); th == nil || th[1] != "上海浦东营业部" {
		t.Errorf("hub pickups by branch: row heading %q, want 上海浦东营业部", th)
	}
	if _, csv := hubGet("/pickups.csv?days=7", "zh-CN"); !strings.Contains(csv, "\n上海浦东营业部,") {
		t.Errorf("hub pickups CSV does not name the branch: %q", csv)
	}

	// Head office names a branch on the branch health page.
	hq := signedIn(t, hub, "admin", webPassword, "/branches")
	code, body = hq.post("/branches", url.Values{"branch": {"bj-chaoyang"}, "display_name": {strings.Repeat("朝", 101)}})
	hq.expect("a name too long", code, http.StatusUnprocessableEntity, body, `class="invalid"`)
	code, loc = hq.post("/branches", url.Values{"branch": {"bj-chaoyang"}, "display_name": {"北京朝阳营业部"}})
	hq.expect("naming a branch at head office", code, http.StatusSeeOther, loc)
	_, page = hubGet("/branches", "zh-CN")
	if row := regexp.MustCompile(`(?s)<tr data-node="bj-chaoyang">.*?</tr>`).FindString(page); !strings.Contains(row, "北京朝阳营业部") {
		t.Errorf("hub branch health row of bj-chaoyang = %q, want its new name", visibleText(row))
	}
}
