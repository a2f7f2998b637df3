package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"branchline/access"
	"branchline/api"
	"branchline/auth"
	"branchline/crm"
	"branchline/fault"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the web UI needs from the node or hub it runs in.
type Config struct {
	// Site names the node or hub member in the page header.
	Site string
	// Login checks a user's password (the same directory as the API's).
	Login func(ctx context.Context, user, password string) (*auth.Principal, error)
	// Throttle, when set, is asked before each login attempt and told
	// its outcome.
	Throttle Throttle
	// Audit, when set, records logins, failed logins and logouts.
	Audit    func(ctx context.Context, user, action, detail string)
	Sessions Sessions
	Grants   api.Grants
	// The APIs the node's pages call in process.
	Customers *api.CustomerService
	Access    *api.AccessService
	Blacklist *api.BlacklistService
	Members   *api.MemberService
	// Telephony serves the agent desk and the supervisor page; nil: no
	// such pages.
	Telephony *api.TelephonyService
	// Pickups serves the pickup, dispatch, tracking, rate plan, account
	// and courier pages; nil: no such pages.
	Pickups pickupv1connect.PickupServiceHandler
	// Warehouse serves the stock pages (进销存); nil: no such pages. The
	// move forms offer the warehouses whose owner is Site, the node's id.
	Warehouse warehousev1connect.WarehouseServiceHandler
	// Cluster feeds the hub's dashboard (hub members).
	Cluster Cluster
	// Alerts, when set, says what is wrong with this node or member right
	// now (its disk is full, its clock is off); every page shows it.
	Alerts func() []Alert
	Broker *Broker
	Log    *slog.Logger
}

// Throttle slows down password guessing.
type Throttle = api.Throttle

func (s *Server) audit(ctx context.Context, user, action, detail string) {
	if s.cfg.Audit != nil {
		s.cfg.Audit(ctx, user, action, detail)
	}
}

// Server serves the web UI.
type Server struct {
	cfg   Config
	cat   catalog
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New parses the templates and catalog and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Broker == nil {
		cfg.Broker = NewBroker()
	}
	cat, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, cat: cat, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	if err := s.parse(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04")
	},
	// pair passes two values to a template: {{template "x" (pair $ .)}}.
	"pair": func(a, b any) []any { return []any{a, b} },
	"ts":   tsText,
	"tel":  telHref,
	"day":  dayText,
	"yuan": crm.Yuan,
	"kg":   kgText,
	"date": dayOf,
}

// standalone are the pages that are whole documents of their own, outside
// the desktop layout: the courier's phone page, kept light.
var standalone = map[string]bool{"courier": true}

func (s *Server) parse() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		files, root := []string{"templates/layout.html", n}, "layout.html"
		if standalone[base] {
			files, root = []string{n}, base+".html"
		}
		t, err := template.New(root).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return fmt.Errorf("template %s: %w", base, err)
		}
		s.pages[base] = t
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

// Broker returns the server's SSE broker.
func (s *Server) Broker() *Broker { return s.cfg.Broker }

// Routes are registered on the mux by method and path; pages that need a
// login go through s.auth, state-changing ones through s.csrf as well.
func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheForever(http.FileServerFS(static))))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /lang", s.setLang)
	s.mux.Handle("POST /logout", s.auth(s.csrf(http.HandlerFunc(s.logout))))
	s.mux.Handle("GET /events", s.auth(http.HandlerFunc(s.events)))
	s.passwordRoutes()
	if s.cfg.Cluster != nil {
		s.hubRoutes()
		s.hubPickupRoutes()
		return
	}
	s.mux.Handle("GET /{$}", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/customers", http.StatusSeeOther)
	})))
	s.customerRoutes()
	s.adminRoutes()
	s.blacklistRoutes()
	s.deskRoutes()
	s.pickupRoutes()
	s.stockRoutes()
}

func cacheForever(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

type reqSession struct {
	Session
	id    string
	grant *access.Grant
}

func sessionFrom(ctx context.Context) *reqSession {
	s, _ := ctx.Value(sessionKey{}).(*reqSession)
	return s
}

// session returns the live session the request's cookie names, and the
// cookie's value (the session's id).
func (s *Server) session(r *http.Request) (Session, string, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return Session{}, "", ErrNoSession
	}
	sess, err := s.cfg.Sessions.Get(r.Context(), c.Value)
	if err != nil {
		return Session{}, "", err
	}
	if time.Now().After(sess.Expires) {
		return Session{}, "", ErrNoSession
	}
	return sess, c.Value, nil
}

// auth lets requests with a live session through, carrying the session and
// the caller's principal (as the API interceptor would), and sends others
// to the login page.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, id, err := s.session(r)
		if err != nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/events") && !strings.HasPrefix(r.URL.Path, "/ui/") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		p := &auth.Principal{User: sess.User, Roles: sess.Roles}
		ctx := api.WithPrincipal(r.Context(), p)
		g, err := s.cfg.Grants(ctx, p)
		if err != nil {
			// The account was disabled or removed since login.
			s.cfg.Sessions.Delete(ctx, id)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if g.MustChangePassword && !passwordChangePaths[r.URL.Path] {
			// Nothing else until the user has set a new password.
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/password", http.StatusSeeOther)
				return
			}
			http.Error(w, s.cat.T(langOf(r), "error.must_change_password"), http.StatusForbidden)
			return
		}
		rs := &reqSession{Session: sess, id: id, grant: g}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, sessionKey{}, rs)))
	})
}

// passwordChangePaths are what a user who must change their password may
// still reach: the page that changes it, and logging out.
var passwordChangePaths = map[string]bool{"/password": true, "/logout": true}

// csrf refuses state-changing requests without the session's token in the
// form or the X-CSRF-Token header (synchronizer token pattern).
func (s *Server) csrf(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		if sess == nil || !sameToken(submittedToken(r), sess.CSRF) {
			s.refuseCSRF(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// submittedToken is the CSRF token a request carries, in the X-CSRF-Token
// header or the form.
func submittedToken(r *http.Request) string {
	if tok := r.Header.Get(csrfHeader); tok != "" {
		return tok
	}
	return formValue(r, csrfField)
}

// refuseCSRF answers a post that does not carry its page's token: it
// changes nothing, and tells the user, in their language, what to do.
func (s *Server) refuseCSRF(w http.ResponseWriter, r *http.Request) {
	http.Error(w, s.cat.T(langOf(r), "error.csrf"), http.StatusForbidden)
}

// errDeniedPage is shown to users whose grant lacks a page's permission.
var errDeniedPage = fault.ErrDenied

// formValue reads a form field of a urlencoded or multipart body.
func formValue(r *http.Request, name string) string {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if r.MultipartForm == nil {
			if err := r.ParseMultipartForm(maxUpload); err != nil {
				return ""
			}
		}
	}
	return r.FormValue(name)
}

const maxUpload = 12 << 20

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
	// Hub is set on hub members' pages, which have their own menu.
	Hub bool
	// Pickups is set when the node serves the pickup pages.
	Pickups bool
	// Stock is set when the node serves the warehouse pages.
	Stock bool
	// Telephony is set when the node serves the agent desk.
	Telephony bool
	// Alerts are the site's current alerts, translated.
	Alerts []string
	cat    catalog
}

// Alert is a condition of the site every page shows until it clears: a
// catalog key and its arguments.
type Alert struct {
	Key  string
	Args []any
}

// T translates key into the page's language.
func (p *Page) T(key string, args ...any) string { return p.cat.T(p.Lang, key, args...) }

// Can reports whether the user holds perm (for menus and buttons).
func (p *Page) Can(perm string) bool { return p.Grant.Can(access.Perm(perm)) }

// CanAny reports whether the user holds one of perms.
func (p *Page) CanAny(perms ...string) bool {
	return slices.ContainsFunc(perms, p.Can)
}

// Value returns the submitted value of a form field, for re-rendering.
func (p *Page) Value(field string) string { return p.Form.Get(field) }

// Langs lists the UI languages.
func (p *Page) Langs() []string { return Langs }

func (s *Server) page(r *http.Request, active, titleKey string) *Page {
	p := &Page{Lang: langOf(r), Site: s.cfg.Site, Active: active, Errors: map[string]string{}, Form: url.Values{}, Hub: s.cfg.Cluster != nil, Pickups: s.cfg.Pickups != nil, Stock: s.cfg.Warehouse != nil, Telephony: s.cfg.Telephony != nil, cat: s.cat}
	p.Title = p.T(titleKey)
	if s.cfg.Alerts != nil {
		for _, a := range s.cfg.Alerts() {
			p.Alerts = append(p.Alerts, p.T(a.Key, a.Args...))
		}
	}
	if sess := sessionFrom(r.Context()); sess != nil {
		p.User, p.Grant, p.CSRF = sess.User, sess.grant, sess.CSRF
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

// render writes a page; template errors become a 500 without a half page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, status int, p *Page) {
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

// redirect sends the browser to url with a one-time message.
func redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		setCookie(w, r, "flash", url.QueryEscape(flash), time.Minute)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// redirectWarn is redirect with a one-time warning besides the message.
func redirectWarn(w http.ResponseWriter, r *http.Request, to, flash, warn string) {
	if warn != "" {
		setCookie(w, r, "flash_warn", url.QueryEscape(warn), time.Minute)
	}
	redirect(w, r, to, flash)
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
}

// failed fills p with err's message: a field's message for invalid input,
// a page-level message otherwise. It returns the HTTP status to answer.
func (s *Server) failed(p *Page, err error) int {
	if inv, ok := fault.AsInvalid(err); ok {
		p.Errors[inv.Field] = s.invalidText(p.Lang, inv)
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

// invalidText translates a validation failure: the catalog has texts for
// the common codes; others show the domain's English detail.
func (s *Server) invalidText(lang string, inv *fault.Invalid) string {
	if t := s.cat.T(lang, "invalid."+inv.Code); t != "invalid."+inv.Code {
		return t
	}
	return inv.Detail
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "", "login.title")
	p.CSRF = randomToken()
	setCookie(w, r, preCSRFCookie, p.CSRF, 0)
	p.Form.Set("next", r.URL.Query().Get("next"))
	s.render(w, r, "login", http.StatusOK, p)
}

// safeNext returns next when it is a path on this site, and "/" otherwise,
// so that a link cannot send a user from a login or a language switch to
// another site. Browsers ignore tabs and line breaks inside URLs and read
// a backslash as a slash, so "/\t/evil.example" would be "//evil.example":
// any control character, space or backslash is refused.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// remoteHost is the client's address, as the API records its callers'.
func remoteHost(r *http.Request) string { return api.RemoteHost(r.RemoteAddr) }

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "", "login.title")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(preCSRFCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), c.Value) {
		s.refuseCSRF(w, r)
		return
	}
	user, pw := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	p.Form.Set("username", user)
	p.Form.Set("next", r.PostFormValue("next"))
	p.CSRF = c.Value
	now := time.Now()
	remote := remoteHost(r)
	if s.cfg.Throttle != nil {
		if wait := s.cfg.Throttle.Allow(user, remote, now); wait > 0 {
			p.Errors[""] = p.T("login.throttled", int(wait.Round(time.Second).Seconds()))
			s.render(w, r, "login", http.StatusTooManyRequests, p)
			return
		}
	}
	if user == "" || pw == "" {
		p.Errors[""] = p.T("login.required")
		s.render(w, r, "login", http.StatusUnprocessableEntity, p)
		return
	}
	principal, err := s.cfg.Login(r.Context(), user, pw)
	if s.cfg.Throttle != nil {
		s.cfg.Throttle.Result(user, remote, err == nil, now)
	}
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			s.cfg.Log.Warn("failed web login", "user", user, "remote", remote)
			s.audit(api.WithRemoteAddr(r.Context(), remote), user, "login_failed", "web")
			p.Errors[""] = p.T("login.bad")
			s.render(w, r, "login", http.StatusUnauthorized, p)
			return
		}
		s.render(w, r, "login", s.failed(p, err), p)
		return
	}
	sess := Session{User: principal.User, Roles: principal.Roles, CSRF: randomToken(), Created: now, Expires: now.Add(SessionTTL), Remote: remote}
	id, err := s.cfg.Sessions.New(r.Context(), sess)
	if err != nil {
		s.render(w, r, "login", s.failed(p, err), p)
		return
	}
	setCookie(w, r, sessionCookie, id, SessionTTL)
	setCookie(w, r, preCSRFCookie, "", -1)
	s.cfg.Log.Info("web login", "user", principal.User, "remote", remote)
	s.audit(api.WithRemoteAddr(r.Context(), remote), principal.User, "login", "web")
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	if err := s.cfg.Sessions.Delete(r.Context(), sess.id); err != nil {
		s.cfg.Log.Error("logout", "err", err)
	}
	setCookie(w, r, sessionCookie, "", -1)
	s.cfg.Log.Info("web logout", "user", sess.User)
	s.audit(api.WithRemoteAddr(r.Context(), remoteHost(r)), sess.User, "logout", "web")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setLang sets the language cookie and goes back to the page the switch
// was on. Like every post it needs its page's token: the session's, or,
// on the login page, the login form's double-submit cookie.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	tok := submittedToken(r)
	sess, _, err := s.session(r)
	pre, perr := r.Cookie(preCSRFCookie)
	if !(err == nil && sameToken(tok, sess.CSRF)) && !(perr == nil && sameToken(tok, pre.Value)) {
		s.refuseCSRF(w, r)
		return
	}
	lang := r.PostFormValue("lang")
	for _, l := range Langs {
		if l == lang {
			setCookie(w, r, "lang", l, 365*24*time.Hour)
		}
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// events streams the user's live events (screen pop, agent state) and,
// for users holding a pickup permission, the pickups topic (dispatch).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	topics := []string{"user:" + sess.User}
	if s.cfg.Pickups != nil && slices.ContainsFunc(pickupViewers, sess.grant.Can) {
		topics = append(topics, pickupsTopic)
	}
	s.cfg.Broker.serveSSE(w, r, topics...)
}
