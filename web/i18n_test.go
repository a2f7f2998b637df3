package web

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
	used := regexp.MustCompile(`\.[TN] "([a-z_.]+)"|p\.[TN]\("([a-z_.]*[a-z_])"|[pP]age\([^,]+, "[a-z_]*", "([a-z_.]+)"\)`)
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
	// The kernel's and every page package's templates and Go files.
	err = fs.WalkDir(os.DirFS("."), ".", func(n string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := path.Ext(n); ext == ".go" || ext == ".html" && path.Base(path.Dir(n)) == "templates" {
			b, err := os.ReadFile(n)
			if err != nil {
				return err
			}
			check(n, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

// TestCatalogPlural checks that a count picks the plural form of the
// language: English has "1 existing customer" and "2 existing customers",
// Chinese one text for both, and an int64 count counts like an int.
func TestCatalogPlural(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		lang string
		n    any
		want string
	}{
		{"en", 1, "1 existing customer looks like this one."},
		{"en", 2, "2 existing customers look like this one."},
		{"en", int64(1), "1 existing customer looks"},
		{"en", 0, "0 existing customers look"},
		{"zh-CN", 1, "有 1 个现有客户"},
		{"zh-CN", 2, "有 2 个现有客户"},
	}
	for _, c := range cases {
		if got := cat.N(c.lang, "customer.duplicates_found", c.n); !strings.Contains(got, c.want) {
			t.Errorf("%s, %v: %q, want %q in it", c.lang, c.n, got, c.want)
		}
	}
	// Arguments after the count keep their place in every form.
	if got := cat.N("en", "import.summary", 1, "a.csv", cat.N("en", "import.skipped", 2)); got != "a.csv: 1 customer imported, 2 rows skipped (errors, or duplicates not ticked)." {
		t.Errorf("summary: %q", got)
	}
	if got := cat.N("zh-CN", "import.summary", 4, "a.csv", cat.N("zh-CN", "import.skipped", 1)); !strings.Contains(got, "已导入 4 个客户") || !strings.Contains(got, "跳过 1 行") {
		t.Errorf("summary: %q", got)
	}
}

// TestCatalogPluralVerbs checks that every form of a plural message, in
// every language, takes the same arguments: a form that dropped or
// swapped one would show "%!d(MISSING)" for some counts only.
func TestCatalogPluralVerbs(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%(?:\[(\d+)\])?[-+# 0]*\d*(?:\.\d+)?([a-zA-Z%])`)
	args := func(s string) string {
		var out []string
		next := 1
		for _, m := range verb.FindAllStringSubmatch(s, -1) {
			if m[2] == "%" {
				continue
			}
			if m[1] != "" {
				next, _ = strconv.Atoi(m[1])
			}
			out = append(out, fmt.Sprintf("%d%s", next, m[2]))
			next++
		}
		slices.Sort(out)
		return strings.Join(slices.Compact(out), ",")
	}
	for k, m := range cat[Langs[0]] {
		plural := m.forms != nil
		for _, l := range Langs[1:] {
			plural = plural || cat[l][k].forms != nil
		}
		if !plural {
			continue
		}
		want := ""
		for _, l := range Langs {
			texts := []string{cat[l][k].text}
			if fs := cat[l][k].forms; fs != nil {
				texts = texts[:0]
				for _, s := range fs {
					texts = append(texts, s)
				}
			}
			for _, s := range texts {
				got := args(s)
				if want == "" {
					want = got
				}
				if got != want {
					t.Errorf("%s %q: %q takes %s, another form %s", l, k, s, got, want)
				}
			}
		}
	}
}
