package web_test

import (
	"encoding/csv"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	crmv1 "branchline/gen/branchline/crm/v1"
)

// csvExports are every CSV export of the pages, by route, with a query
// that asks for CSV and the names of its columns that are user data
// (custom fields' labels), which stay as the users wrote them.
var csvExports = map[string][]string{
	"/customers/export?format=csv":   {"城市", "来源渠道"},
	"/pickups.csv?days=7":            nil,
	"/pickups.csv?days=7&by=courier": nil,
	"/pickups.csv?days=7&by=status":  nil,
	"/pickups.csv?days=7&by=day":     nil,
}

// TestEveryCSVExport: every CSV download names its columns in the
// reader's language, each once — also when a custom field is labelled
// like a built-in column — and the list above holds every export route
// the pages register.
func TestEveryCSVExport(t *testing.T) {
	// Every route that hands out a file is in csvExports.
	routeRe := regexp.MustCompile(`\.Page\("(/[^"]*(?:\.csv|export)[^"]*)"`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		for _, m := range routeRe.FindAllStringSubmatch(string(b), -1) {
			if !slices.ContainsFunc(slices.Collect(maps.Keys(csvExports)), func(k string) bool { return strings.HasPrefix(k, m[1]+"?") }) {
				t.Errorf("%s registers %s, an export this test does not check", path, m[1])
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	s := startPickupSite(t)
	s.setUp(t)
	s.book(t, "文件")
	admin := signedIn(t, s.n.URL(), "admin", webPassword, "/admin/fields")
	for key, label := range map[string]string{"town": "城市", "channel": "来源渠道"} {
		if code, body := admin.post("/admin/fields", url.Values{"key": {key}, "label": {label}, "kind": {"text"}}); code != http.StatusSeeOther {
			t.Fatalf("custom field %s: %d; %s", key, code, pageMessages(body))
		}
	}
	hub := startHubDashboard(t, s.n.Store(), "br-web")
	han := regexp.MustCompile(`\p{Han}`)
	headers := map[string]map[string][]string{} // route → language → header
	for route, userData := range csvExports {
		base := s.n.URL()
		if strings.HasPrefix(route, "/pickups.csv") {
			base = hub
		}
		get := pageClient(t, base)
		headers[route] = map[string][]string{}
		for _, lang := range []string{"zh-CN", "en"} {
			code, body := get(route, lang)
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d", lang, route, code)
			}
			rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
			if err != nil || len(rows) < 2 {
				t.Fatalf("%s %s: %d rows, %v", lang, route, len(rows), err)
			}
			head := rows[0]
			headers[route][lang] = head
			if strings.HasPrefix(route, "/customers/export") {
				// An import reads the file back, whatever its language.
				resp, err := s.cust.PreviewImport(s.admin, connect.NewRequest(&crmv1.PreviewImportRequest{Content: []byte(body), Format: crmv1.FileFormat_FILE_FORMAT_CSV}))
				if err != nil {
					t.Errorf("%s export read back: %v", lang, err)
				} else if u := resp.Msg.GetUnknownColumns(); len(u) > 0 {
					t.Errorf("%s export read back: unknown columns %q", lang, u)
				}
			}
			seen := map[string]bool{}
			for _, h := range head {
				if seen[strings.ToLower(h)] {
					t.Errorf("%s %s: the column %q is there twice: %q", lang, route, h, head)
				}
				seen[strings.ToLower(h)] = true
				if lang == "en" && han.MatchString(h) && !slices.Contains(userData, h) {
					t.Errorf("en %s: column %q is not in English", route, h)
				}
			}
		}
		// Translated: the built-in columns read differently in each
		// language.
		zh, en := headers[route]["zh-CN"], headers[route]["en"]
		if len(zh) != len(en) {
			t.Errorf("%s: %d columns in zh-CN, %d in en", route, len(zh), len(en))
			continue
		}
		for i := range zh {
			if zh[i] == en[i] && !slices.Contains(userData, zh[i]) && !strings.HasPrefix(zh[i], "custom.") {
				t.Errorf("%s: column %d is %q in both languages", route, i, zh[i])
			}
		}
	}
}
