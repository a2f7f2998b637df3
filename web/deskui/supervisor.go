package deskui

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"branchline/fault"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

// supervisorData is what supervisor.html shows: the switch's live board
// and today's KPIs. Its live part is brought up to date in place every
// 5 s (data-refresh, app.js), keeping focus and scroll.
type supervisorData struct {
	Board   *telephonyapp.Board
	KPIs    *telephonyapp.KPIs
	Unavail string
	Now     time.Time
}

// Secs shows a duration as "1:05" or "12 s".
func (d *supervisorData) Secs(v time.Duration) string {
	v = v.Round(time.Second)
	if v < time.Minute {
		return fmt.Sprintf("%d s", int(v/time.Second))
	}
	return fmt.Sprintf("%d:%02d", int(v/time.Minute), int(v%time.Minute/time.Second))
}

// Whole is a duration in whole seconds.
func (d *supervisorData) Whole(v time.Duration) int { return int(v / time.Second) }

// Since shows how long ago t was, for the agent board.
func (d *supervisorData) Since(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	return d.Secs(d.Now.Sub(t))
}

// Pct shows a ratio 0..1 as a percentage.
func (d *supervisorData) Pct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }

func (s *Pages) supervisor(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "supervisor", "supervisor.title")
	data := &supervisorData{Now: time.Now()}
	p.Data = data
	ctx, c := r.Context(), web.CallerOf(r)
	b, err := s.tel.Board(ctx, c)
	switch {
	case err == nil:
		data.Board, data.KPIs = &b, &b.Today
	case errors.Is(err, fault.ErrUnavailable):
		data.Unavail = p.T("desk.no_sip")
		k, err := s.tel.KPIs(ctx, c, "", "")
		if err != nil {
			s.Render(w, r, "error", s.Failed(p, err), p)
			return
		}
		data.KPIs = &k
	default:
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	s.Render(w, r, "supervisor", http.StatusOK, p)
}
