package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// get fetches url with the given request headers (no transparent
// decompression: the test reads what the server sent).
func getRaw(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestStaticAssetsByContent: pages link static files under names that
// carry their content's hash, served for a year; the plain names still
// work but are revalidated; an unchanged file answers 304.
func TestStaticAssetsByContent(t *testing.T) {
	n := startNode(t)
	_, page := getRaw(t, n.URL()+"/login", nil)
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(links) < 2 {
		t.Fatalf("login page links %d static files, want app.css and app.js:\n%s", len(links), page)
	}
	for _, l := range links {
		url := l[1]
		if !regexp.MustCompile(`^/static/[a-z_-]+\.[0-9a-f]{10}\.(css|js)$`).MatchString(url) {
			t.Fatalf("static URL %q carries no content hash", url)
		}
		res, body := getRaw(t, n.URL()+url, nil)
		if res.StatusCode != http.StatusOK || len(body) == 0 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Fatalf("%s: %d, %d bytes, Cache-Control %q", url, res.StatusCode, len(body), res.Header.Get("Cache-Control"))
		}
		plain := regexp.MustCompile(`\.[0-9a-f]{10}\.`).ReplaceAllString(url, ".")
		pres, pbody := getRaw(t, n.URL()+plain, nil)
		if pres.StatusCode != http.StatusOK || !bytes.Equal(pbody, body) || pres.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: %d, same body %v, Cache-Control %q", plain, pres.StatusCode, bytes.Equal(pbody, body), pres.Header.Get("Cache-Control"))
		}
		again, _ := getRaw(t, n.URL()+plain, map[string]string{"If-None-Match": res.Header.Get("ETag")})
		if again.StatusCode != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d, want 304", plain, again.StatusCode)
		}
	}
	for _, url := range []string{"/static/app.0000000000.css", "/static/nothing.css"} {
		if res, _ := getRaw(t, n.URL()+url, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", url, res.StatusCode)
		}
	}
}

// TestResponsesCompressed: pages and assets go gzip-encoded to a client
// that accepts it, several times smaller, and plain to one that does not.
func TestResponsesCompressed(t *testing.T) {
	n := startNode(t)
	_, page := getRaw(t, n.URL()+"/login", nil)
	css := regexp.MustCompile(`href="(/static/app\.[0-9a-f]+\.css)"`).FindStringSubmatch(string(page))
	if css == nil {
		t.Fatal("login page links no app.css")
	}
	for _, url := range []string{"/login", css[1]} {
		plainRes, plain := getRaw(t, n.URL()+url, nil)
		if enc := plainRes.Header.Get("Content-Encoding"); enc != "" {
			t.Fatalf("%s without Accept-Encoding: Content-Encoding %q", url, enc)
		}
		res, body := getRaw(t, n.URL()+url, map[string]string{"Accept-Encoding": "gzip"})
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s with Accept-Encoding gzip: Content-Encoding %q", url, res.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		// The login page carries a fresh form token each time: compare sizes
		// and the start, not the bytes.
		if len(unzipped) < len(plain)*9/10 || !bytes.HasPrefix(unzipped, plain[:min(len(plain), 64)]) {
			t.Fatalf("%s: gzip body unzips to %d bytes, plain is %d", url, len(unzipped), len(plain))
		}
		if len(body)*2 > len(plain) {
			t.Fatalf("%s: %d bytes gzip for %d plain: not worth it", url, len(body), len(plain))
		}
	}
}
