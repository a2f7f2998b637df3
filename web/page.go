package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
)

// Page is what every template gets.
type Page struct {
	Lang   string
	Title  string
	Site   string
	User   string
	Grant  *access.Grant
	CSRF   string
	Active string
	Flash  string
	// Warn is a one-time warning carried over a redirect, such as a
	// booking past the customer's deposit.
	Warn string
	// Errors maps a form field to its message; "" is for the whole form.
	Errors map[string]string
	Form   url.Values
	Data   any
	// Alerts are the site's current alerts, translated.
	Alerts   []string
	cat      catalog
	features map[string]bool
	loc      *time.Location
	branches func() map[string]string // read once, when a branch is shown
}

// NameFirstError makes the form's banner name its first error: of fields,
// in the form's order, the first with a message, as "please correct
// <label>: <message>" (label gives a field's label), so that a user whose
// error is below the fold reads what is wrong without looking for it. A
// banner of its own (an error that is not a field's) is kept.
func (p *Page) NameFirstError(label func(field string) string, fields ...string) {
	if b := p.Errors[""]; b != "" && b != p.T("form.fix_errors") {
		return
	}
	for _, f := range fields {
		if msg := p.Errors[f]; msg != "" {
			p.Errors[""] = p.T("form.fix_first", label(f), msg)
			return
		}
	}
}

// TimeText shows a time to the minute in the business zone; zero shows
// nothing.
func (p *Page) TimeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.loc).Format("2006-01-02 15:04")
}

// DateText shows a time as a date in the business zone; zero shows
// nothing.
func (p *Page) DateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.loc).Format("2006-01-02")
}

// Alert is a condition of the site every page shows until it clears: a
// catalog key and its arguments.
type Alert struct {
	Key  string
	Args []any // an Alert among them is translated too
}

// alertText translates an alert, and the alerts among its arguments (the
// part of a sentence that varies, in words).
func (p *Page) alertText(a Alert) string {
	args := make([]any, len(a.Args))
	for i, x := range a.Args {
		if sub, ok := x.(Alert); ok {
			x = p.alertText(sub)
		}
		args[i] = x
	}
	return p.T(a.Key, args...)
}

// T translates key into the page's language.
func (p *Page) T(key string, args ...any) string { return p.cat.T(p.Lang, key, args...) }

// HTML translates key into the page's language as markup: the text is
// escaped, and so is every argument but those that are template.HTML
// already (a link, a name in <strong>), which stay as they are.
func (p *Page) HTML(key string, args ...any) template.HTML {
	m, _, ok := p.cat.lookup(p.Lang, key)
	if !ok {
		return template.HTML(template.HTMLEscapeString(key))
	}
	text := m.text
	if m.forms != nil {
		text = m.forms["other"]
	}
	safe := make([]any, len(args))
	for i, a := range args {
		if h, ok := a.(template.HTML); ok {
			safe[i] = string(h)
		} else {
			safe[i] = template.HTMLEscapeString(fmt.Sprint(a))
		}
	}
	return template.HTML(format(template.HTMLEscapeString(text), safe))
}

// N translates key into the page's language in the plural form for the
// count n (zh-CN has one form, English "one" and "other"); n is the first
// argument of the text. n may be of any integer type, as templates pass
// the fields they show (int, int64); anything else takes the "other"
// form.
func (p *Page) N(key string, n any, args ...any) string {
	return p.cat.N(p.Lang, key, n, args...)
}

// Can reports whether the user holds perm (for menus and buttons).
func (p *Page) Can(perm string) bool { return p.Grant.Can(access.Perm(perm)) }

// CanAny reports whether the user holds one of perms.
func (p *Page) CanAny(perms ...string) bool {
	return slices.ContainsFunc(perms, p.Can)
}

// Has reports whether the UI serves a part ("hub", "pickups", "stock",
// "telephony"): for menus and links to other packages' pages.
func (p *Page) Has(feature string) bool { return p.features[feature] }

// Branch is what people call the branch whose node is id: its name, or
// the id while it has none (and for what is not a branch, such as a hub
// member).
func (p *Page) Branch(id string) string {
	if p.branches == nil || id == "" {
		return id
	}
	if n := p.branches()[id]; n != "" {
		return n
	}
	return id
}

// BranchNames maps node ids to the names of their branches, for pages
// that name branches in text they build.
func (p *Page) BranchNames() map[string]string {
	if p.branches == nil {
		return nil
	}
	return p.branches()
}

// Value returns the submitted value of a form field, for re-rendering.
func (p *Page) Value(field string) string { return p.Form.Get(field) }

// Langs lists the UI languages.
func (p *Page) Langs() []string { return Langs }

// NewPage starts the page a handler renders: the caller, the language,
// the title (a catalog key), the menu entry that is on, and the one-time
// messages a redirect carried.
func (s *Server) NewPage(r *http.Request, active, titleKey string) *Page {
	p := &Page{Lang: langOf(r), Site: s.cfg.Site, Active: active, Errors: map[string]string{}, Form: url.Values{}, cat: s.cat, features: s.features, loc: s.cfg.Location,
		branches: s.branchNames()}
	p.Title = p.T(titleKey)
	if s.cfg.Alerts != nil {
		for _, a := range s.cfg.Alerts() {
			p.Alerts = append(p.Alerts, p.alertText(a))
		}
	}
	if sess := sessionFrom(r.Context()); sess != nil {
		p.User, p.Grant, p.CSRF = sess.User, sess.caller.Grant, sess.CSRF
	}
	if c, err := r.Cookie("flash"); err == nil {
		if v, err := url.QueryUnescape(c.Value); err == nil {
			p.Flash = v
		}
	}
	if c, err := r.Cookie("flash_warn"); err == nil {
		if v, err := url.QueryUnescape(c.Value); err == nil {
			p.Warn = v
		}
	}
	return p
}

// Scratch is a page for working out messages without showing them: the
// language and catalog of p, no errors yet.
func (p *Page) Scratch() *Page {
	return &Page{Lang: p.Lang, cat: p.cat, features: p.features, loc: p.loc, branches: p.branches, Errors: map[string]string{}, Form: url.Values{}}
}

// branchNames is a page's reader of the branch names: once, on first use;
// a failure shows ids.
func (s *Server) branchNames() func() map[string]string {
	if s.cfg.Branches == nil {
		return nil
	}
	return sync.OnceValue(func() map[string]string {
		m, err := s.cfg.Branches()
		if err != nil {
			s.cfg.Log.Warn("branch names", "err", err)
		}
		return m
	})
}

// Render writes a page; template errors become a 500 without a half page.
func (s *Server) Render(w http.ResponseWriter, r *http.Request, name string, status int, p *Page) {
	t, ok := s.pages[name]
	if !ok {
		s.cfg.Log.Error("no such template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		s.cfg.Log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if p.Flash != "" {
		setCookie(w, r, "flash", "", -1)
	}
	if p.Warn != "" {
		setCookie(w, r, "flash_warn", "", -1)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// Redirect sends the browser to url with a one-time message.
func Redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		setCookie(w, r, "flash", url.QueryEscape(flash), time.Minute)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// RedirectWarn is Redirect with a one-time warning besides the message.
func RedirectWarn(w http.ResponseWriter, r *http.Request, to, flash, warn string) {
	if warn != "" {
		setCookie(w, r, "flash_warn", url.QueryEscape(warn), time.Minute)
	}
	Redirect(w, r, to, flash)
}

// pageFailures are the kinds of failure (package fault) a page shows with
// a message of its own, and the status it answers with.
var pageFailures = []struct {
	err    error
	key    string
	status int
}{
	{fault.ErrDenied, "error.denied", http.StatusForbidden},
	{fault.ErrNotFound, "error.not_found", http.StatusNotFound},
	{fault.ErrConflict, "error.conflict", http.StatusConflict},
	{fault.ErrTooMany, "error.too_many", http.StatusTooManyRequests},
	{fault.ErrPasswordChange, "error.must_change_password", http.StatusForbidden},
	{fault.ErrExhausted, "error.disk_full", http.StatusInsufficientStorage},
	{fault.ErrUnavailable, "error.unavailable", http.StatusServiceUnavailable},
}

// Failed fills p with err's message: a field's message for invalid input,
// a page-level message otherwise. It returns the HTTP status to answer.
// It is the one place the UI maps failures (package fault) to messages.
func (s *Server) Failed(p *Page, err error) int {
	if inv, ok := fault.AsInvalid(err); ok {
		p.Errors[inv.Field] = p.InvalidText("invalid", inv)
		p.Errors[""] = p.T("form.fix_errors")
		return http.StatusUnprocessableEntity
	}
	for _, f := range pageFailures {
		if errors.Is(err, f.err) {
			p.Errors[""] = p.T(f.key)
			return f.status
		}
	}
	s.cfg.Log.Error("web", "err", err)
	p.Errors[""] = p.T("error.internal")
	return http.StatusInternalServerError
}

// InvalidText translates a validation failure by its code under prefix
// ("invalid.<code>", "stock.invalid.<code>"); a code the catalog lacks
// shows the domain's English detail.
func (p *Page) InvalidText(prefix string, inv *fault.Invalid) string {
	key := prefix + "." + inv.Code
	if t := p.T(key); t != key {
		return t
	}
	return inv.Detail
}

// Forms.

// MaxUpload bounds an uploaded form (an import file).
const MaxUpload = 12 << 20

// FormValue reads a form field of a urlencoded or multipart body.
func FormValue(r *http.Request, name string) string {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if r.MultipartForm == nil {
			if err := r.ParseMultipartForm(MaxUpload); err != nil {
				return ""
			}
		}
	}
	return r.FormValue(name)
}

// ReadForm parses a posted form of at most max bytes into p.Form, values
// trimmed; false means it was too large, and p carries the message.
func ReadForm(w http.ResponseWriter, r *http.Request, p *Page, max int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseForm(); err != nil {
		p.Errors[""] = p.T("form.too_large")
		return false
	}
	for k, vs := range r.PostForm {
		if k == csrfField {
			continue
		}
		for _, v := range vs {
			p.Form.Add(k, strings.TrimSpace(v))
		}
	}
	return true
}

// Nth is vs[i], "" past its end: row i of a form's repeated inputs,
// which a browser leaves out when the row is blank.
func Nth(vs []string, i int) string {
	if i < len(vs) {
		return vs[i]
	}
	return ""
}

// Option is an entry of a select.
type Option struct {
	Value, Label string
	On           bool
}

// NavLink is an entry of a section's sub-navigation.
type NavLink struct {
	Href, Key string
	On        bool
}

// LinkWith builds a link with a query string from pairs of names and
// values, leaving out empty values.
func LinkWith(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// EnumNames maps the values of an enum to the names forms and message
// keys use, in the order forms offer them.
type EnumNames[E comparable] []struct {
	Name  string
	Value E
}

// Name returns v's name, "" for a value the list lacks.
func (n EnumNames[E]) Name(v E) string {
	for _, x := range n {
		if x.Value == v {
			return x.Name
		}
	}
	return ""
}

// Value returns the value named s, the zero value for an unknown name.
func (n EnumNames[E]) Value(s string) E {
	for _, x := range n {
		if x.Name == s {
			return x.Value
		}
	}
	var zero E
	return zero
}

// Names lists the names, for a select.
func (n EnumNames[E]) Names() []string {
	out := make([]string, len(n))
	for i, x := range n {
		out[i] = x.Name
	}
	return out
}

// RandomToken is a random token for a URL or form: 256 bits, base64url.
func RandomToken() string { return randomToken() }

// FailedOn is Failed for a form whose inputs fields names (a name ending
// in "*" stands for every field it prefixes): a validation code is
// translated under area+".invalid.<code>" when the catalog has it, so that
// areas cannot clash, and the message of a field the form has no input
// for is shown at the top of the form instead.
func (s *Server) FailedOn(p *Page, err error, area string, fields ...string) int {
	status := s.Failed(p, err)
	inv, ok := fault.AsInvalid(err)
	if !ok {
		return status
	}
	msg := p.Errors[inv.Field]
	if t := p.T(area + ".invalid." + inv.Code); t != area+".invalid."+inv.Code {
		msg = t
	}
	known := slices.ContainsFunc(fields, func(f string) bool {
		if pre, ok := strings.CutSuffix(f, "*"); ok {
			return strings.HasPrefix(inv.Field, pre)
		}
		return f == inv.Field
	})
	if known {
		p.Errors[inv.Field] = msg
		return status
	}
	delete(p.Errors, inv.Field)
	p.Errors[""] = msg
	return status
}

// PlaceFailure is Failed for the pages of one area (pickup, stock): an
// invalid input's message, translated under <area>.invalid.<code>, goes
// next to the form's input for the field (as formField names it) when the
// form has one, else at the top; a conflict (done already, or the state
// changed meanwhile) or a denial by the use case (a record of another
// branch, courier or node) gets the area's message.
func (s *Server) PlaceFailure(p *Page, err error, area string, formField func(string) string, fields []string) int {
	status := s.Failed(p, err)
	inv, ok := fault.AsInvalid(err)
	if !ok {
		switch {
		case errors.Is(err, fault.ErrConflict):
			p.Errors[""] = p.T(area + ".error.conflict")
		case errors.Is(err, fault.ErrDenied):
			p.Errors[""] = p.T(area + ".error.denied")
		}
		return status
	}
	delete(p.Errors, inv.Field)
	msg := p.InvalidText(area+".invalid", inv)
	if field := formField(inv.Field); slices.Contains(fields, field) {
		p.Errors[field] = msg
		return status
	}
	p.Errors[""] = msg
	return status
}

// LangPage is a page in lang outside any request and for no user: to word
// text the way pages do, in tests and in jobs.
func LangPage(lang string) (*Page, error) {
	cat, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	return &Page{Lang: lang, cat: cat, features: map[string]bool{}, loc: app.Zone(nil), Errors: map[string]string{}, Form: url.Values{}}, nil
}

// HasText reports whether the catalog has a text for key in the page's
// language.
func (p *Page) HasText(key string) bool {
	_, ok := p.cat[p.Lang][key]
	return ok
}

// ErrorText is err's message as Failed words it, for a message away from
// a form (after a redirect): an invalid input's translated text, or the
// page-level message of the failure's kind.
func (s *Server) ErrorText(p *Page, err error) string {
	tmp := p.Scratch()
	s.Failed(tmp, err)
	if inv, ok := fault.AsInvalid(err); ok {
		return tmp.Errors[inv.Field]
	}
	return tmp.Errors[""]
}

// RenderPart writes the template name that page's file defines, alone:
// a fragment a page's script fetches to refresh part of the page.
func (s *Server) RenderPart(w http.ResponseWriter, page, name string, p *Page) {
	t, ok := s.pages[page]
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, p); err != nil {
		s.cfg.Log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	buf.WriteTo(w)
}
