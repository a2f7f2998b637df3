package adminui

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	"branchline/fault"
	"branchline/web"
)

// tokenView is a personal API token in the list.
type tokenView struct {
	ID      string
	Label   string
	User    string // username
	UserID  string
	Created time.Time
	Expires time.Time
	Revoked bool
}

type tokensData struct {
	adminPage
	Tokens      []tokenView
	Users       []userRef // for the owner select: ID is the user's name
	User        string    // filter: "users/{id}"
	ShowRevoked bool
	// Secret is the new token's bearer secret, shown on this page only.
	Secret string
	New    *tokenView
}

// userChoices lists the enabled users for a select (the first
// app.MaxPageSize of them), and every user's username by resource name.
func (s *Pages) userChoices(ctx context.Context, c app.Caller) ([]userRef, map[string]string, error) {
	page, err := s.cfg.Access.Users(ctx, c, accessapp.UserQuery{Size: app.MaxPageSize, ShowDisabled: true})
	if err != nil {
		return nil, nil, err
	}
	var refs []userRef
	names := map[string]string{}
	for _, u := range page.Items {
		names[userRes+u.ID] = u.Username
		if !u.Disabled {
			refs = append(refs, userRef{ID: userRes + u.ID, Label: u.DisplayName + " (" + u.Username + ")"})
		}
	}
	return refs, names, nil
}

func (s *Pages) tokenList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.tokens.title")
	p.Form.Set("user", r.URL.Query().Get("user"))
	s.showTokens(w, r, p, nil, "", http.StatusOK)
}

// showTokens renders the token list; created and secret are set right
// after a token was made.
func (s *Pages) showTokens(w http.ResponseWriter, r *http.Request, p *web.Page, created *access.Token, secret string, status int) {
	ctx, c := r.Context(), web.CallerOf(r)
	q := r.URL.Query()
	data := tokensData{adminPage: adminNav(p, "tokens"), User: q.Get("user"), ShowRevoked: q.Get("revoked") == "1", Secret: secret}
	users, names, err := s.userChoices(ctx, c)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data.Users = users
	tokens, err := s.cfg.Access.Tokens(ctx, c, idOf(userRes, data.User), data.ShowRevoked)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	view := func(t *access.Token) tokenView {
		v := tokenView{
			ID: t.ID, Label: t.Name, User: names[userRes+t.User], UserID: t.User, Created: app.When(t.Created),
			Expires: t.Expires, Revoked: t.Revoked,
		}
		if v.User == "" {
			v.User = userRes + t.User
		}
		return v
	}
	for _, t := range tokens {
		data.Tokens = append(data.Tokens, view(t))
	}
	if created != nil {
		v := view(created)
		data.New = &v
	}
	p.Data = data
	s.Render(w, r, "admin_tokens", status, p)
}

// tokenCreate makes a token and shows its secret on the answer page
// itself: a redirect would have to carry the secret in a cookie or URL.
func (s *Pages) tokenCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.tokens.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.showTokens(w, r, p, nil, "", http.StatusRequestEntityTooLarge)
		return
	}
	in := accessapp.TokenCreate{User: idOf(userRes, p.Value("user")), Name: p.Value("display_name")}
	if in.User == "" {
		p.Errors["user"] = p.T("invalid.required")
		p.Errors[""] = p.T("form.fix_errors")
		s.showTokens(w, r, p, nil, "", http.StatusUnprocessableEntity)
		return
	}
	if v := p.Value("expire"); v != "" {
		day, err := time.ParseInLocation(time.DateOnly, v, s.Location())
		if err != nil {
			s.showTokens(w, r, p, nil, "", s.formFailed(p, fault.Invalidf("expire", "bad_date", "not a date"), "expire"))
			return
		}
		// The token works through the whole day chosen.
		in.Expires = day.AddDate(0, 0, 1)
	}
	t, secret, err := s.cfg.Access.CreateToken(r.Context(), web.CallerOf(r), in)
	if err != nil {
		if inv, ok := fault.AsInvalid(err); ok {
			switch inv.Field {
			case "token.user":
				inv.Field = "user"
			case "token.expire_time":
				inv.Field = "expire"
			}
		}
		s.showTokens(w, r, p, nil, "", s.formFailed(p, err, "user", "display_name", "expire"))
		return
	}
	p.Form = url.Values{}
	p.Flash = p.T("admin.tokens.created", t.Name)
	s.showTokens(w, r, p, t, secret, http.StatusOK)
}

func (s *Pages) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.tokens.title")
	t, err := s.cfg.Access.RevokeToken(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	web.Redirect(w, r, "/admin/tokens", p.T("admin.tokens.revoked", t.Name))
}
