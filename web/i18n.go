package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"reflect"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed i18n
var catalogFS embed.FS

// Langs are the UI languages, the default first.
var Langs = []string{"zh-CN", "en"}

// langTags are the languages' tags, for their plural rules.
var langTags = map[string]language.Tag{"zh-CN": language.SimplifiedChinese, "en": language.English}

// message is a catalog entry: a text, or, for a text about a count, one
// text per plural form of the language ("one", "other" in English; only
// "other" in Chinese, which has no plural), chosen by the count (N). In
// the files a plural message is an object: {"one": "…", "other": "…"}.
type message struct {
	text  string
	forms map[string]string
}

// pluralForms are the CLDR plural categories a catalog may name.
var pluralForms = map[plural.Form]string{
	plural.Zero: "zero", plural.One: "one", plural.Two: "two", plural.Few: "few", plural.Many: "many", plural.Other: "other",
}

func (m *message) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &m.text); err == nil {
		return nil
	}
	if err := json.Unmarshal(b, &m.forms); err != nil {
		return fmt.Errorf("a message is a text or an object of plural forms: %w", err)
	}
	if m.forms["other"] == "" {
		return fmt.Errorf("plural message without its \"other\" form")
	}
	for f := range m.forms {
		known := false
		for _, name := range pluralForms {
			known = known || f == name
		}
		if !known {
			return fmt.Errorf("%q is not a plural form", f)
		}
	}
	return nil
}

// catalog maps language → message key → message (fmt verbs for
// arguments).
type catalog map[string]map[string]message

func loadCatalog() (catalog, error) {
	c := catalog{}
	for _, l := range Langs {
		// One file per area of the UI (i18n/<lang>/<area>.json); a key
		// defined in two files is a mistake.
		files, err := fs.Glob(catalogFS, "i18n/"+l+"/*.json")
		if err != nil {
			return nil, err
		}
		m := map[string]message{}
		for _, f := range files {
			b, err := fs.ReadFile(catalogFS, f)
			if err != nil {
				return nil, err
			}
			part := map[string]message{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("catalog %s: %w", f, err)
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("catalog %s: %q is defined twice", f, k)
				}
				m[k] = v
			}
		}
		c[l] = m
	}
	return c, nil
}

// lookup finds key in lang, else in the default language.
func (c catalog) lookup(lang, key string) (message, string, bool) {
	if m, ok := c[lang][key]; ok {
		return m, lang, true
	}
	m, ok := c[Langs[0]][key]
	return m, Langs[0], ok
}

// T returns the text of key in lang, formatted with args; a plural
// message gives its "other" form. A missing key shows as the key itself
// (tests check that none is missing).
func (c catalog) T(lang, key string, args ...any) string {
	m, _, ok := c.lookup(lang, key)
	if !ok {
		return key
	}
	s := m.text
	if m.forms != nil {
		s = m.forms["other"]
	}
	return format(s, args)
}

// N returns the text of key in lang in the plural form of count n, which
// is the first argument of the text, formatted with the others after it.
// A plain message is used whatever n.
func (c catalog) N(lang, key string, n any, args ...any) string {
	m, in, ok := c.lookup(lang, key)
	if !ok {
		return key
	}
	args = append([]any{n}, args...)
	if m.forms == nil {
		return format(m.text, args)
	}
	form := "other"
	if i, ok := whole(n); ok {
		form = pluralForms[plural.Cardinal.MatchPlural(langTags[in], i, 0, 0, 0, 0)]
	}
	s, ok := m.forms[form]
	if !ok {
		s = m.forms["other"]
	}
	return format(s, args)
}

// whole reads n as an int when it is of an integer type; a count beyond
// an int's range is plural whatever its digits, so it is clamped.
func whole(n any) (int, bool) {
	v := reflect.ValueOf(n)
	switch {
	case v.CanInt():
		return int(max(min(v.Int(), math.MaxInt32), math.MinInt32)), true
	case v.CanUint():
		return int(min(v.Uint(), math.MaxInt32)), true
	}
	return 0, false
}

func format(s string, args []any) string {
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

var langMatcher = language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})

// langOf picks the user's language: the "lang" cookie, else the best match
// of Accept-Language, else Chinese.
func langOf(r *http.Request) string {
	if c, err := r.Cookie("lang"); err == nil {
		for _, l := range Langs {
			if c.Value == l {
				return l
			}
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return Langs[0]
	}
	_, i, conf := langMatcher.Match(tags...)
	if conf == language.No {
		return Langs[0]
	}
	if i == 1 {
		return "en"
	}
	return "zh-CN"
}
