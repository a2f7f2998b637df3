package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/fault"
)

// Sign-in, sessions and CSRF: every page behind auth knows its caller
// (CallerOf), resolved once per request.

type sessionKey struct{}

type reqSession struct {
	Session
	id     string
	caller app.Caller
}

func sessionFrom(ctx context.Context) *reqSession {
	s, _ := ctx.Value(sessionKey{}).(*reqSession)
	return s
}

// CallerOf is the signed-in user of a request behind the kernel's sign-in
// check (Page, Action, Upload), as the use cases take them: their grant
// and their address. Outside it, the caller has no grant and may do
// nothing.
func CallerOf(r *http.Request) app.Caller {
	if sess := sessionFrom(r.Context()); sess != nil {
		return sess.caller
	}
	return app.Caller{}
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

// remoteHost is the client's address, as the API records its callers'.
func remoteHost(r *http.Request) string { return auth.RemoteHost(r.RemoteAddr) }

// auth lets requests with a live session through, carrying the session,
// the caller's principal and address (as the API interceptor would) and
// the caller the use cases take, and sends others to the login page.
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
		ctx := auth.WithRemoteAddr(auth.WithPrincipal(r.Context(), p), remoteHost(r))
		c, err := app.CallerOf(ctx, s.cfg.Grants)
		if err != nil {
			// The account was disabled or removed since login.
			s.cfg.Sessions.Delete(ctx, id)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if c.MustChangePassword && !passwordChangePaths[r.URL.Path] {
			// Nothing else until the user has set a new password.
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/password", http.StatusSeeOther)
				return
			}
			http.Error(w, s.cat.T(langOf(r), "error.must_change_password"), http.StatusForbidden)
			return
		}
		rs := &reqSession{Session: sess, id: id, caller: c}
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
	return FormValue(r, csrfField)
}

// refuseCSRF answers a post that does not carry its page's token: it
// changes nothing, and tells the user, in their language, what to do.
func (s *Server) refuseCSRF(w http.ResponseWriter, r *http.Request) {
	http.Error(w, s.cat.T(langOf(r), "error.csrf"), http.StatusForbidden)
}

func (s *Server) audit(ctx context.Context, user, action, detail string) {
	if s.cfg.Audit != nil {
		s.cfg.Audit(ctx, user, action, detail)
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "", "login.title")
	p.CSRF = randomToken()
	setCookie(w, r, preCSRFCookie, p.CSRF, 0)
	p.Form.Set("next", r.URL.Query().Get("next"))
	s.Render(w, r, "login", http.StatusOK, p)
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

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "", "login.title")
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
			p.Errors[""] = p.N("login.throttled", int(wait.Round(time.Second).Seconds()))
			s.Render(w, r, "login", http.StatusTooManyRequests, p)
			return
		}
	}
	if user == "" || pw == "" {
		p.Errors[""] = p.T("login.required")
		s.Render(w, r, "login", http.StatusUnprocessableEntity, p)
		return
	}
	principal, err := s.cfg.Login(r.Context(), user, pw)
	if s.cfg.Throttle != nil {
		s.cfg.Throttle.Result(user, remote, err == nil, now)
	}
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			s.cfg.Log.Warn("failed web login", "user", user, "remote", remote)
			s.audit(auth.WithRemoteAddr(r.Context(), remote), user, "login_failed", "web")
			p.Errors[""] = p.T("login.bad")
			s.Render(w, r, "login", http.StatusUnauthorized, p)
			return
		}
		s.Render(w, r, "login", s.Failed(p, err), p)
		return
	}
	sess := Session{User: principal.User, Roles: principal.Roles, CSRF: randomToken(), Created: now, Expires: now.Add(SessionTTL), Remote: remote}
	id, err := s.cfg.Sessions.New(r.Context(), sess)
	if err != nil {
		s.Render(w, r, "login", s.Failed(p, err), p)
		return
	}
	setCookie(w, r, sessionCookie, id, SessionTTL)
	setCookie(w, r, preCSRFCookie, "", -1)
	s.cfg.Log.Info("web login", "user", principal.User, "remote", remote)
	s.audit(auth.WithRemoteAddr(r.Context(), remote), principal.User, "login", "web")
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	if err := s.cfg.Sessions.Delete(r.Context(), sess.id); err != nil {
		s.cfg.Log.Error("logout", "err", err)
	}
	setCookie(w, r, sessionCookie, "", -1)
	s.cfg.Log.Info("web logout", "user", sess.User)
	s.audit(auth.WithRemoteAddr(r.Context(), remoteHost(r)), sess.User, "logout", "web")
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

// events streams the user's live events (screen pop, agent state) and
// the topics the page packages add for what their grant allows
// (dispatch, for pickup staff).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	topics := []string{"user:" + sess.User}
	for _, fn := range s.topics {
		topics = append(topics, fn(sess.caller.Grant)...)
	}
	s.cfg.Broker.serveSSE(w, r, topics...)
}

// passwordPage shows the form where users set their own password; Data
// says the user must change it.
func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "", "password.title")
	p.Data = CallerOf(r).MustChangePassword
	s.Render(w, r, "password", http.StatusOK, p)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "", "password.title")
	c := CallerOf(r)
	p.Data = c.MustChangePassword
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	// Passwords are taken as typed: spaces are part of them.
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	var err error
	if next != r.PostFormValue("confirm_password") {
		err = fault.Invalidf("confirm_password", "mismatch", "the two new passwords differ")
	} else {
		err = s.cfg.Passwords.ChangeOwnPassword(r.Context(), c, current, next)
	}
	if err != nil {
		status := s.Failed(p, err)
		if inv, ok := fault.AsInvalid(err); ok {
			if t := p.T("password.invalid." + inv.Code); t != "password.invalid."+inv.Code {
				p.Errors[inv.Field] = t
			}
		}
		s.Render(w, r, "password", status, p)
		return
	}
	Redirect(w, r, "/", p.T("password.changed"))
}

// errDenied is shown to users whose grant lacks a page's permission.
var errDenied = fault.ErrDenied

// HasAny reports whether g holds one of perms: for topics and menus.
func HasAny(g *access.Grant, perms ...access.Perm) bool {
	return app.Caller{Grant: g}.Require(perms...) == nil
}
