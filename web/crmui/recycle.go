package crmui

import (
	"net/http"
	"net/url"
	"time"

	"branchline/access"
	"branchline/fault"
	"branchline/web"
)

type recycleData struct {
	Customers []deletedView
	Next      string
}

type deletedView struct {
	customerView
	DeleteUser string
	DeleteTime time.Time
}

// recycleBin lists the customers in the recycle bin with who deleted them
// and when; each can be restored.
func (s *Pages) recycleBin(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "deleted", "recycle.title")
	if !p.Can(string(access.CustomerDelete)) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return
	}
	page, err := s.cfg.Customers.ListDeleted(r.Context(), web.CallerOf(r), 50, r.URL.Query().Get("after"))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	d := &recycleData{}
	for _, c := range page.Items {
		d.Customers = append(d.Customers, deletedView{customerView: viewCustomer(p, nil, c), DeleteUser: c.DeletedBy, DeleteTime: c.DeletedAt})
	}
	if page.Next != "" {
		d.Next = "/customers/deleted?" + url.Values{"after": {page.Next}}.Encode()
	}
	p.Data = d
	s.Render(w, r, "recycle", http.StatusOK, p)
}
