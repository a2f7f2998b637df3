package web

import (
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	telv1 "branchline/gen/branchline/telephony/v1"
)

// supervisorData is what supervisor.html shows: the switch's live board
// and today's KPIs. The page reloads itself every 5 s (data-refresh).
type supervisorData struct {
	Board   *telv1.Board
	KPIs    *telv1.KPIs
	Unavail string
	Now     time.Time
}

// secsText shows a duration in seconds as "1:05" or "12 s".
func secsText(v float64) string {
	d := time.Duration(v * float64(time.Second)).Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	return fmt.Sprintf("%d:%02d", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// pct shows a ratio 0..1 as a percentage.
func pct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }

// Since shows how long ago a timestamp was, for the agent board.
func (d *supervisorData) Since(t interface{ AsTime() time.Time }) string {
	at := t.AsTime()
	if at.IsZero() || at.Unix() <= 0 {
		return ""
	}
	return secsText(d.Now.Sub(at).Seconds())
}

// Secs formats seconds for the template.
func (d *supervisorData) Secs(v float64) string { return secsText(v) }

// IntSecs formats whole seconds for the template.
func (d *supervisorData) IntSecs(v int32) string { return secsText(float64(v)) }

// Pct formats a ratio for the template.
func (d *supervisorData) Pct(v float64) string { return pct(v) }

func (s *Server) supervisor(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "supervisor", "supervisor.title")
	data := &supervisorData{Now: time.Now()}
	p.Data = data
	tel := s.cfg.Telephony
	b, err := tel.GetBoard(apiCtx(r), connect.NewRequest(&telv1.GetBoardRequest{}))
	switch {
	case err == nil:
		data.Board, data.KPIs = b.Msg, b.Msg.GetToday()
	case connect.CodeOf(err) == connect.CodeUnavailable:
		data.Unavail = p.T("desk.no_sip")
		k, err := tel.GetKPIs(apiCtx(r), connect.NewRequest(&telv1.GetKPIsRequest{}))
		if err != nil {
			s.render(w, r, "error", s.failed(p, err), p)
			return
		}
		data.KPIs = k.Msg
	default:
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	s.render(w, r, "supervisor", http.StatusOK, p)
}
