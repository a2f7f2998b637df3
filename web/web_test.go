package web

import (
	"net/http"
	"net/http/httptest"
)

func httptestRequest(acceptLang, langCookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if acceptLang != "" {
		r.Header.Set("Accept-Language", acceptLang)
	}
	if langCookie != "" {
		r.AddCookie(&http.Cookie{Name: "lang", Value: langCookie})
	}
	return r
}
