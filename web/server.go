package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/web/label"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the web UI needs from the node or hub it runs in.
type Config struct {
	// Site names the node or hub member in the page header.
	Site string
	// Home is where "/" sends a signed-in user.
	Home string
	// Hub says the UI is a hub member's: the head office menu.
	Hub bool
	// Location is the business time zone every page shows times and
	// reads dates in (nil: app.DefaultTimeZone), the one exports use: never
	// the computer's own zone.
	Location *time.Location
	// Login checks a user's password (the same directory as the API's).
	Login func(ctx context.Context, user, password string) (*auth.Principal, error)
	// Throttle, when set, is asked before each login attempt and told
	// its outcome.
	Throttle app.Throttle
	// Audit, when set, records logins, failed logins and logouts.
	Audit    func(ctx context.Context, user, action, detail string)
	Sessions Sessions
	// Grants resolves what a signed-in user may do, on every request.
	Grants app.Grants
	// Passwords serves the page where users change their own password;
	// nil: no such page (a hub's cluster administrator).
	Passwords *accessapp.Admin
	// Pages are the page packages the UI serves (crmui, pickupui, …).
	Pages []Pages
	// Alerts, when set, says what is wrong with this node or member right
	// now (its disk is full, its clock is off); every page shows it.
	Alerts func() []Alert
	// Branches, when set, reads the names of the branches (node id →
	// name, access.BranchNames): pages show a branch by its name, and its
	// node id only where an administrator needs it. It is read once per
	// page that shows a branch.
	Branches func() (map[string]string, error)
	Broker   *Broker
	Log      *slog.Logger
}

// Pages is a set of pages a package adds to the UI: it registers its
// templates (Templates) and routes (Page, Action, …) on the server it is
// mounted on.
type Pages interface {
	Mount(s *Server) error
}

// Server serves the web UI: the kernel every page package shares —
// sessions and sign-in, CSRF, the layout, the message catalog, rendering
// and the one mapping of failures to page messages (Failed).
type Server struct {
	cfg      Config
	cat      catalog
	pages    map[string]*template.Template
	mux      *http.ServeMux
	root     http.Handler // mux, its answers compressed
	features map[string]bool
	topics   []func(g *access.Grant) []string
	homes    []home
}

// home is a page that "/" may send a user to: the first, by rank, whose
// perms the user holds any of.
type home struct {
	rank  int
	path  string
	perms []access.Perm
}

// New parses the templates and catalog, mounts cfg.Pages and builds the
// routes.
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
	cfg.Location = app.Zone(cfg.Location)
	s := &Server{cfg: cfg, cat: cat, pages: map[string]*template.Template{}, mux: http.NewServeMux(), features: map[string]bool{}}
	s.root = compress(s.mux)
	if cfg.Hub {
		s.features["hub"] = true
	}
	if err := s.Templates(templateFS); err != nil {
		return nil, err
	}
	s.routes()
	for _, p := range cfg.Pages {
		if err := p.Mount(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// funcs are the templates' functions; times show in the business zone.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"join":     strings.Join,
		"datetime": s.TimeText,
		// pair passes two values to a template: {{template "x" (pair $ .)}}.
		"pair": func(a, b any) []any { return []any{a, b} },
		"tel":  telHref,
		// phone shows a stored (E.164) number as people write it.
		"phone": DisplayPhone,
		// masked says a phone number is shown masked (no dial link).
		"masked": func(phone string) bool { return strings.Contains(phone, "*") },
		"day":    DayText,
		"yuan":   crm.Yuan,
		"kg":     KgText,
		"date":   s.DateText,
		// asset is a static file's URL, named by its content.
		"asset": assetURL,
		// barcode draws a text as a Code 128 barcode, for printouts.
		"barcode": label.SVG,
	}
}

// Location is the business time zone the pages show times in.
func (s *Server) Location() *time.Location { return s.cfg.Location }

// TimeText shows a time to the minute in the business zone; zero shows
// nothing.
func (s *Server) TimeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.cfg.Location).Format("2006-01-02 15:04")
}

// Templates parses the page templates of fsys (the *.html files of its
// templates directory, as a page package embeds them, each named by its
// base name), each inside the layout but the standalone ones (whole
// documents of their own, such as the courier's phone page) and the
// printouts: a template named print_*.html is laid out on paper, inside
// the print layout (see Printout). A page package calls it from Mount.
func (s *Server) Templates(fsys fs.FS, standalone ...string) error {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "print" || base == "list" {
			continue
		}
		if _, dup := s.pages[base]; dup {
			return fmt.Errorf("template %s: defined twice", base)
		}
		t := template.New(path.Base(n)).Funcs(s.funcs())
		if !slices.Contains(standalone, base) {
			layout := "layout.html"
			if strings.HasPrefix(base, "print_") {
				layout = "print.html"
			}
			if t, err = template.New(layout).Funcs(s.funcs()).ParseFS(templateFS, "templates/"+layout, "templates/list.html"); err != nil {
				return fmt.Errorf("%s: %w", layout, err)
			}
		}
		if t, err = t.ParseFS(fsys, n); err != nil {
			return fmt.Errorf("template %s: %w", base, err)
		}
		s.pages[base] = t
	}
	return nil
}

// Enable turns on a part of the menu and of the pages that link to other
// packages' pages: "pickups", "stock", "telephony" (Page.Has).
func (s *Server) Enable(feature string) { s.features[feature] = true }

// Topics adds the live event topics a signed-in user's browser subscribes
// to, besides their own ("user:<name>"), from what their grant allows.
func (s *Server) Topics(fn func(g *access.Grant) []string) { s.topics = append(s.topics, fn) }

// Log is the server's logger.
func (s *Server) Log() *slog.Logger { return s.cfg.Log }

// Site is the id of the node or hub member the UI runs in.
func (s *Server) Site() string { return s.cfg.Site }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	s.root.ServeHTTP(w, r)
}

// Broker returns the server's SSE broker.
func (s *Server) Broker() *Broker { return s.cfg.Broker }

// routes registers the kernel's own routes: assets, sign-in and out, the
// language switch, live events, the home page and the password page.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /static/{name}", serveAsset)
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /lang", s.setLang)
	s.mux.Handle("POST /logout", s.auth(s.csrf(http.HandlerFunc(s.logout))))
	s.mux.Handle("GET /events", s.auth(http.HandlerFunc(s.events)))
	s.mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.home)))
	if s.cfg.Passwords != nil {
		s.Page("/password", s.passwordPage)
		s.Action("/password", s.changePassword)
	}
}

// Home offers path as the page "/" sends a signed-in user to who holds
// any of perms: of the pages offered, the one of lowest rank whose perms
// the user holds, so that each role lands where it works (a courier on
// the courier page, a clerk on the stock) rather than on a page it may
// not open. A page package calls it from Mount. Config.Home is the page
// for a user no offered page fits.
func (s *Server) Home(rank int, path string, perms ...access.Perm) {
	s.homes = append(s.homes, home{rank: rank, path: path, perms: perms})
	slices.SortStableFunc(s.homes, func(a, b home) int { return a.rank - b.rank })
}

// Ranks of the home pages, for Home: the pages of the people with the
// broadest work first, so that a user with many permissions (an
// administrator) lands where most work is done.
const (
	HomeCustomers = 10
	HomeDesk      = 20
	HomeBoard     = 30
	HomePickups   = 40
	HomeStock     = 50
	HomeCourier   = 60
	HomeAdmin     = 70
)

// homeOf is where "/" sends the caller of r; "" when nowhere.
func (s *Server) homeOf(r *http.Request) string {
	c := CallerOf(r)
	for _, h := range s.homes {
		if c.Require(h.perms...) == nil {
			return h.path
		}
	}
	return s.cfg.Home
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	to := s.homeOf(r)
	if to == "" {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// Page registers a page (GET path) that needs a signed-in user holding
// one of perms (none: any signed-in user).
func (s *Server) Page(path string, h http.HandlerFunc, perms ...access.Perm) {
	s.mux.Handle("GET "+path, s.auth(s.need(h, perms)))
}

// Action registers a state-changing action (POST path): a signed-in user
// holding one of perms, and the page's CSRF token.
func (s *Server) Action(path string, h http.HandlerFunc, perms ...access.Perm) {
	s.mux.Handle("POST "+path, s.auth(s.csrf(s.need(h, perms))))
}

// Upload is Action for a multipart upload of at most limit bytes, bounded
// before the CSRF check reads the body.
func (s *Server) Upload(path string, limit int64, h http.HandlerFunc, perms ...access.Perm) {
	s.mux.Handle("POST "+path, s.auth(limitBody(limit, s.csrf(s.need(h, perms)))))
}

// limitBody bounds the request body to n bytes.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// need answers 403 with the error page unless the user's grant holds one
// of perms, so that a user without them gets a 403 page rather than a
// form whose every action fails; the use cases check again.
func (s *Server) need(next http.HandlerFunc, perms []access.Perm) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(perms) == 0 || CallerOf(r).Require(perms...) == nil {
			next(w, r)
			return
		}
		p := s.NewPage(r, "", "admin.denied")
		s.Render(w, r, "error", s.Failed(p, errDenied), p)
	})
}
