package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
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

func tsTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// userChoices lists the enabled users for a select (the first
// api.MaxPageSize of them), and every user's username by name.
func (s *Server) userChoices(ctx context.Context) ([]userRef, map[string]string, error) {
	resp, err := s.cfg.Access.ListUsers(ctx, connect.NewRequest(&accessv1.ListUsersRequest{PageSize: 500, ShowDisabled: true}))
	if err != nil {
		return nil, nil, err
	}
	var refs []userRef
	names := map[string]string{}
	for _, u := range resp.Msg.GetUsers() {
		names[u.GetName()] = u.GetUsername()
		if !u.GetDisabled() {
			refs = append(refs, userRef{ID: u.GetName(), Label: u.GetDisplayName() + " (" + u.GetUsername() + ")"})
		}
	}
	return refs, names, nil
}

func (s *Server) tokenList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.tokens.title")
	p.Form.Set("user", r.URL.Query().Get("user"))
	s.showTokens(w, r, p, nil, "", http.StatusOK)
}

// showTokens renders the token list; created and secret are set right
// after a token was made.
func (s *Server) showTokens(w http.ResponseWriter, r *http.Request, p *Page, created *accessv1.APIToken, secret string, status int) {
	ctx := r.Context()
	q := r.URL.Query()
	data := tokensData{adminPage: adminNav(p, "tokens"), User: q.Get("user"), ShowRevoked: q.Get("revoked") == "1", Secret: secret}
	users, names, err := s.userChoices(ctx)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data.Users = users
	resp, err := s.cfg.Access.ListAPITokens(ctx, connect.NewRequest(&accessv1.ListAPITokensRequest{User: data.User, ShowRevoked: data.ShowRevoked}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	view := func(t *accessv1.APIToken) tokenView {
		v := tokenView{
			ID: strings.TrimPrefix(t.GetName(), "tokens/"), Label: t.GetDisplayName(), User: names[t.GetUser()],
			UserID: strings.TrimPrefix(t.GetUser(), "users/"), Created: tsTime(t.GetCreateTime()),
			Expires: tsTime(t.GetExpireTime()), Revoked: t.GetRevoked(),
		}
		if v.User == "" {
			v.User = t.GetUser()
		}
		return v
	}
	for _, t := range resp.Msg.GetTokens() {
		data.Tokens = append(data.Tokens, view(t))
	}
	if created != nil {
		v := view(created)
		data.New = &v
	}
	p.Data = data
	s.render(w, r, "admin_tokens", status, p)
}

// tokenCreate makes a token and shows its secret on the answer page
// itself: a redirect would have to carry the secret in a cookie or URL.
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.tokens.title")
	if !readAdminForm(w, r, p, 8<<10) {
		s.showTokens(w, r, p, nil, "", http.StatusRequestEntityTooLarge)
		return
	}
	in := &accessv1.APIToken{User: p.Value("user"), DisplayName: p.Value("display_name")}
	if in.User == "" {
		p.Errors["user"] = p.T("invalid.required")
		p.Errors[""] = p.T("form.fix_errors")
		s.showTokens(w, r, p, nil, "", http.StatusUnprocessableEntity)
		return
	}
	if v := p.Value("expire"); v != "" {
		day, err := time.ParseInLocation(time.DateOnly, v, time.Local)
		if err != nil {
			s.showTokens(w, r, p, nil, "", s.formFailed(p, fault.Invalidf("expire", "bad_date", "not a date"), "expire"))
			return
		}
		// The token works through the whole day chosen.
		in.ExpireTime = timestamppb.New(day.AddDate(0, 0, 1))
	}
	resp, err := s.cfg.Access.CreateAPIToken(apiCtx(r), connect.NewRequest(&accessv1.CreateAPITokenRequest{Token: in}))
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
	p.Flash = p.T("admin.tokens.created", resp.Msg.GetToken().GetDisplayName())
	s.showTokens(w, r, p, resp.Msg.GetToken(), resp.Msg.GetSecret(), http.StatusOK)
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.tokens.title")
	resp, err := s.cfg.Access.RevokeAPIToken(apiCtx(r), connect.NewRequest(&accessv1.RevokeAPITokenRequest{Name: "tokens/" + r.PathValue("id")}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/admin/tokens", p.T("admin.tokens.revoked", resp.Msg.GetDisplayName()))
}
