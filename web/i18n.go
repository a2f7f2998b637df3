package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

//go:embed i18n
var catalogFS embed.FS

// Langs are the UI languages, the default first.
var Langs = []string{"zh-CN", "en"}

// catalog maps language → message key → text (fmt verbs for arguments).
type catalog map[string]map[string]string

func loadCatalog() (catalog, error) {
	c := catalog{}
	for _, l := range Langs {
		// One file per area of the UI (i18n/<lang>/<area>.json); a key
		// defined in two files is a mistake.
		files, err := fs.Glob(catalogFS, "i18n/"+l+"/*.json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, f := range files {
			b, err := fs.ReadFile(catalogFS, f)
			if err != nil {
				return nil, err
			}
			part := map[string]string{}
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

// T returns the text of key in lang, formatted with args. A missing key
// shows as the key itself (tests check that none is missing).
func (c catalog) T(lang, key string, args ...any) string {
	s, ok := c[lang][key]
	if !ok {
		if s, ok = c[Langs[0]][key]; !ok {
			return key
		}
	}
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

// isZH reports whether lang is Chinese.
func isZH(lang string) bool { return strings.HasPrefix(lang, "zh") }
