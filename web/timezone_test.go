package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"branchline/node"
	"branchline/wiring"
)

// TestBusinessTimeZone: the customer card and the customer export show a
// customer's creation time alike, in the node's business time zone, when
// the process's own zone (time.Local) is another: Asia/Shanghai by
// default, or the zone the node is configured with.
func TestBusinessTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		loc  *time.Location // the node's configured zone; nil: the default
		want *time.Location
	}{
		{"default", nil, sh},
		{"configured", ny, ny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if off := func(l *time.Location) int { _, o := time.Now().In(l).Zone(); return o }; off(time.Local) == off(tc.want) {
				t.Skipf("the process's zone %s has the offset of %s: nothing to tell apart", time.Local, tc.want)
			}
			n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-tz", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminPassword: webPassword}, Location: tc.loc})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			c := signedIn(t, n.URL(), "admin", webPassword, "/customers/new")
			before := time.Now()
			code, loc := c.post("/customers", url.Values{"display_name": {"时区测试有限公司"}, "city": {"上海"}, "allow_duplicate": {"1"}})
			if code != http.StatusSeeOther {
				t.Fatalf("create: status %d; %s", code, pageMessages(loc))
			}
			after := time.Now()
			_, card := c.get(loc)
			m := regexp.MustCompile(`创建于 ([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2})`).FindStringSubmatch(card)
			if m == nil {
				t.Fatalf("the card shows no creation time: %.3000s", card)
			}
			shown := m[1]
			code, body := c.get("/customers/export?format=csv")
			if code != http.StatusOK {
				t.Fatalf("export: status %d", code)
			}
			rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("export: %d rows, %v", len(rows), err)
			}
			exported := rows[1][len(rows[1])-1]
			if shown != exported {
				t.Fatalf("the card shows %s, the export %s", shown, exported)
			}
			// And it is the time in the business zone (the minute of
			// creation, which may have turned during the request).
			if a, b := before.In(tc.want).Format("2006-01-02 15:04"), after.In(tc.want).Format("2006-01-02 15:04"); shown != a && shown != b {
				t.Fatalf("the card shows %s, want %s in %s", shown, a, tc.want)
			}
		})
	}
}
