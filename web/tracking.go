package web

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// trackData is what track.html shows: a waybill's status history (查件),
// without the parties' personal data, as a caller may be told it.
type trackData struct {
	pickupPageData
	Waybill string
	T       *pickupv1.Tracking
	Status  string
	Badge   string
	Steps   []stepView
}

func (s *Server) trackPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "track", "track.title")
	d := &trackData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/track")}, Waybill: strings.TrimSpace(r.URL.Query().Get("waybill"))}
	p.Data = d
	if d.Waybill == "" {
		s.render(w, r, "track", http.StatusOK, p)
		return
	}
	resp, err := s.cfg.Pickups.Track(apiCtx(r), connect.NewRequest(&pickupv1.TrackRequest{Waybill: d.Waybill}))
	if err != nil {
		status := s.pickupFailed(p, err, "waybill")
		if status == http.StatusNotFound {
			p.Errors[""] = p.T("track.not_found", d.Waybill)
		}
		s.render(w, r, "track", status, p)
		return
	}
	d.T = resp.Msg
	d.Status, d.Badge = p.T("pickup.status."+d.T.GetStatus()), statusBadge(d.T.GetStatus())
	d.Steps = viewSteps(p, d.T.GetHistory())
	s.render(w, r, "track", http.StatusOK, p)
}
