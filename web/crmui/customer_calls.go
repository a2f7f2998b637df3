package crmui

import (
	"fmt"
	"net/http"
	"time"

	"branchline/telephony"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

// cardCallsShown is how many of its latest calls a card shows.
const cardCallsShown = 10

// cardCalls is the card's calls and callbacks sections: the latest calls
// of the customer's numbers and its callbacks, open ones first.
type cardCalls struct {
	Calls     []cardCall
	Total     int
	Callbacks []cardCallback
	// All is the call list of the customer's calls of the last 31 days.
	All string
	// Mine says the calls are the reader's own only (an agent's).
	Mine bool
}

// cardCall is one call on the card; Tel is set when the reader may see
// (and dial) the number.
type cardCall struct {
	R                         telephonyapp.Record
	Number, Tel               string
	Direction, Outcome, Badge string
	Talk                      string
}

// cardCallback is one callback on the card.
type cardCallback struct {
	CB                    telephonyapp.Callback
	Number, Tel           string
	Status, Badge, Reason string
}

// callText shows a duration as "1:05" or "12 s"; "" for none.
func callText(v time.Duration) string {
	v = v.Round(time.Second)
	switch {
	case v <= 0:
		return ""
	case v < time.Minute:
		return fmt.Sprintf("%d s", int(v/time.Second))
	}
	return fmt.Sprintf("%d:%02d", int(v/time.Minute), int(v%time.Minute/time.Second))
}

// cardCallsOf reads what the card shows of customer id's calls, for
// readers who take or supervise calls on a node with phones; nil for
// others, or when the read fails (logged: the card shows the rest).
func (s *Pages) cardCallsOf(r *http.Request, p *web.Page, id string) *cardCalls {
	if s.cfg.Calls == nil || !p.Has("telephony") || !p.CanAny("call.agent", "call.supervise") {
		return nil
	}
	cc, err := s.cfg.Calls.CustomerCalls(r.Context(), web.CallerOf(r), id, cardCallsShown)
	if err != nil {
		s.Log().Warn("card: calls", "customer", id, "err", err)
		return nil
	}
	today := time.Now().In(s.Location())
	out := &cardCalls{Total: cc.Total, Mine: cc.Mine, All: web.LinkWith("/calls", "customer", id,
		"from", today.AddDate(0, 0, -30).Format(time.DateOnly), "to", today.Format(time.DateOnly))}
	for _, rec := range cc.Calls {
		c := cardCall{R: rec, Number: rec.Party(), Direction: p.T("calls.direction." + rec.Direction),
			Outcome: p.T("calls.outcome." + string(rec.Disposition)), Badge: "green", Talk: callText(rec.Talk())}
		if rec.Disposition != telephony.Answered {
			c.Badge = "amber"
		}
		if !rec.NumberMasked {
			c.Tel = c.Number
		}
		out.Calls = append(out.Calls, c)
	}
	for _, cb := range cc.Callbacks {
		v := cardCallback{CB: cb, Number: cb.Number, Status: p.T("card.cb.status." + cb.Status), Badge: "amber",
			Reason: p.T("card.cb.reason." + cb.Reason)}
		if cb.Status == telephony.CallbackDone {
			v.Badge = "green"
		}
		if !cb.NumberMasked {
			v.Tel = v.Number
		}
		out.Callbacks = append(out.Callbacks, v)
	}
	return out
}
