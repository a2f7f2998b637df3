package pickupui

import (
	"net/http"
	"strings"

	"branchline/crm/pickup"
	"branchline/web"
)

// trackData is what track.html shows: a waybill's status history (查件),
// without the parties' personal data, as a caller may be told it.
type trackData struct {
	pickupPageData
	Waybill string
	T       *pickup.Tracking
	Status  string
	Badge   string
	Steps   []stepView
}

func (s *Pages) trackPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "track", "track.title")
	d := &trackData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/track")}, Waybill: strings.TrimSpace(r.URL.Query().Get("waybill"))}
	p.Data = d
	if d.Waybill == "" {
		s.Render(w, r, "track", http.StatusOK, p)
		return
	}
	t, err := s.cfg.Pickups.Track(r.Context(), web.CallerOf(r), d.Waybill)
	if err != nil {
		status := s.pickupFailed(p, err, "waybill")
		if status == http.StatusNotFound {
			p.Errors[""] = p.T("track.not_found", d.Waybill)
		}
		s.Render(w, r, "track", status, p)
		return
	}
	d.T = t
	d.Status, d.Badge = p.T("pickup.status."+t.Status), statusBadge(t.Status)
	d.Steps = viewSteps(p, t.History)
	s.Render(w, r, "track", http.StatusOK, p)
}
