package web

import (
	"net/http"

	"branchline/fault"
)

// passwordRoutes registers the page where signed-in users set their own
// password (AccessService.ChangeOwnPassword), which is where s.auth sends
// a user who must change theirs before anything else. A hub, whose only
// account is the cluster admin, has none.
func (s *Server) passwordRoutes() {
	if s.cfg.Access == nil {
		return
	}
	s.getPage("/password", s.passwordPage)
	s.postAction("/password", s.changePassword)
}

// passwordPage shows the form; Data says the user must change it.
func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "", "password.title")
	p.Data = sessionFrom(r.Context()).grant.MustChangePassword
	s.render(w, r, "password", http.StatusOK, p)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "", "password.title")
	p.Data = sessionFrom(r.Context()).grant.MustChangePassword
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	// Passwords are taken as typed: spaces are part of them.
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	var err error
	if next != r.PostFormValue("confirm_password") {
		err = fault.Invalidf("confirm_password", "mismatch", "the two new passwords differ")
	} else {
		err = s.cfg.Access.ChangeOwnPassword(apiCtx(r), current, next)
	}
	if err != nil {
		status := s.failed(p, err)
		if inv, ok := fault.AsInvalid(err); ok {
			if t := p.T("password.invalid." + inv.Code); t != "password.invalid."+inv.Code {
				p.Errors[inv.Field] = t
			}
		}
		s.render(w, r, "password", status, p)
		return
	}
	redirect(w, r, "/", p.T("password.changed"))
}
