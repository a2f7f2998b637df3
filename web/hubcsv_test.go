package web_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestHubPickupCSVHeaders: the hub's pickup export names its columns in
// the reader's language, each once (the status "picked up" and the count
// of pickups picked up were both "picked_up").
func TestHubPickupCSVHeaders(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	s.book(t, "文件")
	hub := startHubDashboard(t, s.n.Store(), "br-web")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	get := func(path, lang string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, hub+path, nil)
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
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d, %v", path, res.StatusCode, err)
		}
		return string(b)
	}
	m := csrfInput.FindStringSubmatch(get("/login", "en"))
	if m == nil {
		t.Fatal("no CSRF token on the hub's login page")
	}
	res, err := c.PostForm(hub+"/login", url.Values{"_csrf": {m[1]}, "username": {"admin"}, "password": {webPassword}, "next": {"/pickups"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, tc := range []struct {
		lang, path, head string
	}{
		{"en", "/pickups.csv?days=7", "Branch,New,Assigned,Notified,Accepted,Picked up,Checked,Cancelled,Failed,Total,Picked up (checked included),Revenue (yuan)"},
		{"zh-CN", "/pickups.csv?days=7", "网点,新建,已派单,已通知,已接单,已取件,已核对,已取消,取件失败,合计,已取件（含已核对）,收入（元）"},
		{"en", "/pickups.csv?days=7&by=status", "Status,Pickups,Picked up (checked included),Revenue (yuan)"},
		{"zh-CN", "/pickups.csv?days=7&by=courier", "快递员,叫件数,已取件（含已核对）,收入（元）"},
	} {
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(get(tc.path, tc.lang), "\ufeff"))).ReadAll()
		if err != nil || len(rows) < 2 {
			t.Fatalf("%s %s: %d rows, %v", tc.lang, tc.path, len(rows), err)
		}
		if got := strings.Join(rows[0], ","); got != tc.head {
			t.Errorf("%s %s header:\n got %s\nwant %s", tc.lang, tc.path, got, tc.head)
		}
		if u := slices.Compact(slices.Sorted(slices.Values(rows[0]))); len(u) != len(rows[0]) {
			t.Errorf("%s %s: a column name repeats: %v", tc.lang, tc.path, rows[0])
		}
	}
}
