package deskui

import (
	"net/http"
	"time"

	"branchline/access"
	"branchline/fault"
	"branchline/telephony"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

// callListSpec is what the call list sorts and filters by: a day, or
// dates from and to (both included); a queue, an agent, a direction, an
// outcome; a customer's numbers. Its search text (q) is a number.
var callListSpec = web.ListSpec{Sorts: telephonyapp.CallColumns, DefaultDesc: true,
	Filters: []string{"day", "from", "to", "queue", "agent", "direction", "outcome", "customer"}}

// callListData is what calls.html shows.
type callListData struct {
	List  web.List
	Pager web.Pager
	Rows  []callRow
	// Window is the window listed, as dates ("2026-01-05 – 2026-01-06").
	From, To string
	Queues   []web.Option
	// QueueText is the queue typed, for readers who cannot list queues.
	QueueText  string
	Directions []web.Option
	Outcomes   []web.Option
	// Mine says the list holds the reader's own calls (an agent's).
	Mine bool
	// CanSearchNumber says the reader sees numbers whole and may search
	// by them.
	CanSearchNumber bool
	Customer        string
	CustomerName    string
}

// callRow is one call of the list.
type callRow struct {
	R               telephonyapp.Record
	Number, Tel     string
	Direction, Kind string
	Outcome, Badge  string
	Wait, Talk      string
}

// secs shows a duration as "1:05" or "12 s"; "" for none.
func secs(v time.Duration) string {
	if v <= 0 {
		return ""
	}
	return (&supervisorData{}).Secs(v)
}

// outcomeBadge is the badge colour of an outcome.
func outcomeBadge(d telephony.Disposition) string {
	switch d {
	case telephony.Answered:
		return "green"
	case telephony.Abandoned, telephony.NoAgent, telephony.NotAnswered:
		return "amber"
	}
	return "red"
}

// callRowOf shows record r: its outside party's number with a tel: link
// when shown whole.
func callRowOf(p *web.Page, r telephonyapp.Record) callRow {
	row := callRow{R: r, Direction: p.T("calls.direction." + r.Direction), Outcome: p.T("calls.outcome." + string(r.Disposition)),
		Badge: outcomeBadge(r.Disposition), Wait: secs(r.Wait()), Talk: secs(r.Talk())}
	row.Number = r.Party()
	if r.Direction == telephony.Internal {
		row.Number = r.Caller + " → " + r.DID
	} else if !r.NumberMasked && row.Number != "" {
		row.Tel = row.Number
	}
	return row
}

// callList lists call records (话单): a window of days, filtered by queue,
// agent, direction and outcome, searched by number (for readers who see
// numbers), or a customer's calls (the card's link), sorted by a column,
// a page at a time with the total. Supervisors list every call, agents
// their own.
func (s *Pages) callList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "calls", "calls.title")
	l := web.ParseList("/calls", r.URL.Query(), callListSpec)
	c := web.CallerOf(r)
	d := &callListData{List: l, CanSearchNumber: p.Grant.Can(access.PhoneView), Customer: l.Filter("customer")}
	p.Data = d
	p.Form.Set("q", l.Text)
	q := telephonyapp.CallList{Queue: l.Filter("queue"), Agent: l.Filter("agent"), Direction: l.Filter("direction"),
		Outcome: l.Filter("outcome"), Customer: d.Customer, Order: l.Order}
	// The window: a day, or dates from and to, both included; an
	// unreadable date is marked and left out.
	day := func(field string) (time.Time, time.Time) {
		v := l.Filter(field)
		if v == "" {
			return time.Time{}, time.Time{}
		}
		from, to, ok := s.DayBounds(v)
		if !ok {
			p.Errors[field] = p.T("calls.invalid.bad_date")
			l.Filters.Del(field)
		}
		return from, to
	}
	if from, to := day("day"); !from.IsZero() {
		q.From, q.To = from, to
	} else {
		q.From, _ = day("from")
		_, q.To = day("to")
	}
	badDate := len(p.Errors) > 0
	if badDate {
		p.Errors[""] = p.T("form.fix_errors")
	}
	if d.CanSearchNumber {
		q.Number = l.Text
	} else if l.Text != "" {
		// Numbers are masked for this reader: no search by one, and the
		// number typed is not kept in the page's links.
		p.Errors[""] = p.T("calls.invalid.number_hidden")
		l.Text = ""
		p.Form.Del("q")
	}
	d.List = l
	d.Directions = []web.Option{{Value: "", Label: p.T("calls.all")}}
	for _, v := range telephonyapp.Directions {
		d.Directions = append(d.Directions, web.Option{Value: v, Label: p.T("calls.direction." + v), On: v == q.Direction})
	}
	d.Outcomes = []web.Option{{Value: "", Label: p.T("calls.all")}}
	for _, v := range telephonyapp.Outcomes {
		d.Outcomes = append(d.Outcomes, web.Option{Value: string(v), Label: p.T("calls.outcome." + string(v)), On: string(v) == q.Outcome})
	}
	if qs, err := s.tel.Queues(r.Context(), c); err == nil {
		d.Queues = []web.Option{{Value: "", Label: p.T("calls.all")}}
		for _, x := range qs {
			d.Queues = append(d.Queues, web.Option{Value: x.Name, Label: x.Name, On: x.Name == q.Queue})
		}
	} else {
		d.QueueText = q.Queue
	}
	page, err := s.tel.Calls(r.Context(), c, q)
	if inv, ok := fault.AsInvalid(err); ok && inv.Field == "page_token" {
		// A page that is no longer there (or a hand-made cursor): the
		// first page, saying so.
		q.Cursor, q.Back, q.Last = "", false, false
		p.Errors[""] = p.T("calls.invalid.bad_token")
		page, err = s.tel.Calls(r.Context(), c, q)
	}
	if err != nil {
		status := s.FailedOn(p, err, "calls", "q", "from", "to")
		s.Render(w, r, "calls", status, p)
		return
	}
	d.Mine, d.CustomerName = page.Mine, page.Customer
	d.From, d.To = p.DateText(page.From), p.DateText(page.To.Add(-time.Millisecond))
	for _, rec := range page.Records {
		d.Rows = append(d.Rows, callRowOf(p, rec))
	}
	d.Pager = l.Pager(page.Total, page.Prev, page.Next)
	status := http.StatusOK
	if badDate {
		status = http.StatusUnprocessableEntity
	}
	s.Render(w, r, "calls", status, p)
}
