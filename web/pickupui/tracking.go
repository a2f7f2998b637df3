package pickupui

import (
	"errors"
	"net/http"
	"strings"

	"branchline/crm/pickup"
	"branchline/crm/pickup/pickupapp"
	"branchline/fault"
	"branchline/web"
)

// trackData is what track.html shows: a waybill's status history (查件),
// without the parties' personal data, as a caller may be told it; or,
// for a phone number or a name, the pickups it finds.
type trackData struct {
	pickupPageData
	Waybill string
	T       *pickup.Tracking
	Status  string
	Badge   string
	Steps   []stepView
	// Found are the pickups of the last 7 days whose sender or receiver
	// has the phone or name typed, when it is not a waybill: the caller
	// picks theirs.
	Found []trackHit
}

// trackHit is a pickup found by phone or name: what tracking may show.
type trackHit struct {
	Waybill, Number, Destination, Status, Badge string
	Entered                                     string
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
	if errors.Is(err, fault.ErrNotFound) {
		// Not a waybill: a phone number or a name.
		found, ferr := s.cfg.Pickups.Sorted(r.Context(), web.CallerOf(r), pickupapp.SortedQuery{Text: d.Waybill, Query: pickupapp.Query{Size: 20}})
		if ferr == nil && len(found.Items) > 0 {
			for _, pk := range found.Items {
				d.Found = append(d.Found, trackHit{Waybill: pk.Waybill, Number: pk.Number, Destination: pk.Destination,
					Status: p.T("pickup.status." + pk.Status), Badge: statusBadge(pk.Status), Entered: p.TimeText(pk.Entered)})
			}
			s.Render(w, r, "track", http.StatusOK, p)
			return
		}
	}
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
