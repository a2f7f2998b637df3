package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// Static assets are served under names that carry a hash of their content
// ("app.3f2a9c1b04.css", from {{asset "app.css"}} in a template) and
// cached for a year: a release that changes a file changes its URL, so no
// browser keeps the old one. The plain names still work, revalidated on
// each use, for anything that kept one.
type staticAsset struct {
	body  []byte
	ctype string
	etag  string
	url   string // /static/<hashed name>
}

// assetSet holds the embedded assets by served name: each by its hashed
// name (immutable) and by its plain one.
type assetSet struct {
	hashed map[string]*staticAsset
	plain  map[string]*staticAsset
}

var assets = mustLoadAssets()

func mustLoadAssets() assetSet {
	set, err := loadAssets(staticFS, "static")
	if err != nil {
		panic(err) // the files are embedded: only a broken build gets here
	}
	return set
}

func loadAssets(fsys fs.FS, dir string) (assetSet, error) {
	set := assetSet{hashed: map[string]*staticAsset{}, plain: map[string]*staticAsset{}}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, dir+"/")
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:5])
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + h + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = http.DetectContentType(body)
		}
		a := &staticAsset{body: body, ctype: ctype, etag: `"` + h + `"`, url: "/static/" + hashed}
		set.hashed[hashed] = a
		set.plain[name] = a
		return nil
	})
	return set, err
}

// assetURL is the template function "asset": the URL of a static file
// under its hashed name.
func assetURL(name string) (string, error) {
	a, ok := assets.plain[name]
	if !ok {
		return "", fmt.Errorf("no static asset %q", name)
	}
	return a.url, nil
}

// serveAsset serves GET /static/{name}.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a, immutable := assets.hashed[name]
	if !immutable {
		if a = assets.plain[name]; a == nil {
			http.NotFound(w, r)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}

// compress sends responses gzip- or zstd-encoded to clients that accept
// it (pages and assets shrink 3–4×), but the live event stream, which
// must reach the browser as each event is written.
func compress(h http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.ExceptContentTypes([]string{"text/event-stream"}), gzhttp.SuffixETag("-c"))
	if err != nil {
		panic(err) // fixed options: only a broken build gets here
	}
	z := wrap(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			h.ServeHTTP(w, r)
			return
		}
		z.ServeHTTP(w, r)
	})
}
