package web

import (
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	crmv1 "branchline/gen/branchline/crm/v1"
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
func (s *Server) recycleBin(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "deleted", "recycle.title")
	if !p.Can(string(access.CustomerDelete)) {
		s.render(w, r, "error", s.failed(p, errDeniedPage), p)
		return
	}
	resp, err := s.cfg.Customers.ListDeletedCustomers(r.Context(), connect.NewRequest(&crmv1.ListDeletedCustomersRequest{
		PageSize: 50, PageToken: r.URL.Query().Get("after"),
	}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	d := &recycleData{}
	for _, c := range resp.Msg.GetCustomers() {
		v := deletedView{customerView: viewCustomer(p, nil, c), DeleteUser: c.GetDeleteUser()}
		if t := c.GetDeleteTime(); t != nil {
			v.DeleteTime = t.AsTime()
		}
		d.Customers = append(d.Customers, v)
	}
	if next := resp.Msg.GetNextPageToken(); next != "" {
		d.Next = "/customers/deleted?" + url.Values{"after": {next}}.Encode()
	}
	p.Data = d
	s.render(w, r, "recycle", http.StatusOK, p)
}
