package web_test

import (
	"encoding/csv"
	"net/http"
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
	getPage := pageClient(t, hub)
	get := func(path, lang string) string {
		t.Helper()
		code, body := getPage(path, lang)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
		return body
	}
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
