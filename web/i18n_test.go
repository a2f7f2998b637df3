package web

import (
	"io/fs"
	"os"
	"regexp"
	"testing"

	"branchline/crm"
)

// TestCatalogComplete checks that every message key the templates and
// handlers use exists in every language, and that both languages have the
// same keys.
func TestCatalogComplete(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Langs[1:] {
		for k := range cat[Langs[0]] {
			if _, ok := cat[l][k]; !ok {
				t.Errorf("%s lacks %q", l, k)
			}
		}
		for k := range cat[l] {
			if _, ok := cat[Langs[0]][k]; !ok {
				t.Errorf("%s lacks %q", Langs[0], k)
			}
		}
	}
	used := regexp.MustCompile(`\.T "([a-z_.]+)"|p\.T\("([a-z_.]*[a-z_])"|page\([^,]+, "[a-z_]*", "([a-z_.]+)"\)`)
	check := func(name string, b []byte) {
		for _, m := range used.FindAllSubmatch(b, -1) {
			for _, k := range m[1:] {
				if len(k) == 0 {
					continue
				}
				for _, l := range Langs {
					if _, ok := cat[l][string(k)]; !ok {
						t.Errorf("%s uses %q, missing in %s", name, k, l)
					}
				}
			}
		}
	}
	tmpls, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range tmpls {
		b, _ := fs.ReadFile(templateFS, n)
		check(n, b)
	}
	gofiles, _ := fs.Glob(os.DirFS("."), "*.go")
	for _, n := range gofiles {
		b, _ := os.ReadFile(n)
		check(n, b)
	}
}

func TestLangOf(t *testing.T) {
	cases := []struct{ accept, cookie, want string }{
		{"", "", "zh-CN"},
		{"en-US,en;q=0.9", "", "en"},
		{"zh-TW,zh;q=0.9", "", "zh-CN"},
		{"fr-FR", "", "zh-CN"},
		{"en-US", "zh-CN", "zh-CN"},
		{"zh-CN", "en", "en"},
		{"en", "klingon", "en"},
	}
	for _, c := range cases {
		r := httptestRequest(c.accept, c.cookie)
		if got := langOf(r); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", c.accept, c.cookie, got, c.want)
		}
	}
}

// TestCatalogFields checks that every customer field has a label.
func TestCatalogFields(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range crm.Fields {
		for _, l := range Langs {
			if _, ok := cat[l]["field."+f.Name]; !ok {
				t.Errorf("no %s label for customer field %s", l, f.Name)
			}
		}
	}
}
