package telephonyapp

import (
	"context"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/telephony"
)

// The call-record list (话单): a window of time, filtered, searched by a
// number, sorted by a column, a page at a time, with the exact number of
// calls the filter keeps.
//
// What a page costs is bounded by the window, not by the store: the
// window is at most MaxCallWindow long, and the list reads the keys of
// the time index in it (WindowCalls: keys only, no records) — its total
// when nothing else filters and the list is in time order, when the
// page's records alone are read. A filter on the record (queue, agent,
// outcome, direction, part of a number) or another order reads the
// window's records and orders them in memory. A window of more than
// maxListedCalls calls is refused with a request to narrow it. A whole
// number or a customer reads the number index instead (NumberCalls):
// the calls of those numbers only, whatever the window holds.

// Columns of the call list.
const (
	CallByTime      = "time"
	CallByQueue     = "queue"
	CallByAgent     = "agent"
	CallByDirection = "direction"
	CallByOutcome   = "outcome"
	CallByWait      = "wait"
	CallByTalk      = "talk"
)

// CallColumns are the columns the call list sorts by; time first, its
// default order newest first.
var CallColumns = []string{CallByTime, CallByQueue, CallByAgent, CallByDirection, CallByOutcome, CallByWait, CallByTalk}

// Outcomes are the outcomes a call record holds, as the list filters
// them.
var Outcomes = []telephony.Disposition{telephony.Answered, telephony.Abandoned, telephony.NoAgent,
	telephony.NotAnswered, telephony.Blacklisted, telephony.Rejected}

// Directions are the directions of calls, as the list filters them.
var Directions = []string{telephony.Inbound, telephony.Outbound, telephony.Internal}

// MaxCallWindow is the longest window a call list reads.
const MaxCallWindow = 31 * 24 * time.Hour

// maxListedCalls bounds the calls of a window the list reads.
var maxListedCalls = 20000

// CallList asks for a page of the call list: the calls that arrived in
// [From, To) (zero: today, in the business time zone), of a queue, an
// agent, a direction and an outcome when set, of a number (Number: a
// whole number in any notation, or some of its digits) or of a
// customer's numbers (Customer: its id), in Order.
type CallList struct {
	From, To                         time.Time
	Queue, Agent, Direction, Outcome string
	Number, Customer                 string
	keyset.Order
	Limit int
}

// CallPage is a page of the call list and the number of calls it lists.
type CallPage struct {
	Records    []Record
	Total      int
	Prev, Next string
	// From and To are the window read.
	From, To time.Time
	// Mine says the list holds the caller's own calls only (an agent's).
	Mine bool
	// Customer is the name of the customer whose calls are listed.
	Customer string
}

// Calls reads a page of the call list: every call for supervisors, their
// own for agents (as Records). A number search needs the phone
// permission: a reader who sees numbers masked cannot find a call by its
// number; the calls of a customer they may read they can list, the
// numbers masked.
func (s *Telephony) Calls(_ context.Context, c app.Caller, q CallList) (CallPage, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return CallPage{}, err
	}
	var err error
	if q.Limit, err = app.PageSize(q.Limit, 50); err != nil {
		return CallPage{}, err
	}
	if err := app.CheckList(q.Sort, CallColumns, q.Number); err != nil {
		return CallPage{}, err
	}
	out := CallPage{Mine: !c.Can(access.Supervise)}
	if out.Mine {
		q.Agent = c.User
	}
	if out.From, out.To, err = s.window(q.From, q.To); err != nil {
		return CallPage{}, err
	}
	q.From, q.To = out.From, out.To
	if q.Direction != "" && !slices.Contains(Directions, q.Direction) {
		return CallPage{}, fault.Invalidf("direction", "bad_direction", "%q is not a direction", q.Direction)
	}
	if q.Outcome != "" && !slices.Contains(Outcomes, telephony.Disposition(q.Outcome)) {
		return CallPage{}, fault.Invalidf("outcome", "bad_outcome", "%q is not an outcome", q.Outcome)
	}
	if q.Number != "" {
		if !c.Can(access.PhoneView) {
			return CallPage{}, fault.Invalidf("q", "number_hidden", "you may not search calls by number")
		}
		if telephony.NumberKey(q.Number) == "" {
			return CallPage{}, fault.Invalidf("q", "bad_number", "%q holds no digits", q.Number)
		}
	}
	err = s.Store.View(func(views replication.Tx) error {
		page, err := listCalls(views, c, q, maxListedCalls)
		out.Records, out.Total, out.Prev, out.Next, out.Customer = page.Records, page.Total, page.Prev, page.Next, page.Customer
		return err
	})
	return out, err
}

// window is the window [from, to) a list reads: today when both are zero,
// the day from starts when to is zero; at most MaxCallWindow long.
func (s *Telephony) window(from, to time.Time) (time.Time, time.Time, error) {
	switch {
	case from.IsZero() && to.IsZero():
		from, to = telephony.Day(s.Now.Time(), s.loc())
	case to.IsZero():
		to = from.AddDate(0, 0, 1)
	case from.IsZero():
		from = to.AddDate(0, 0, -1)
	}
	if !from.Before(to) {
		return from, to, fault.Invalidf("to", "before_start", "the window ends before it starts")
	}
	if to.Sub(from) > MaxCallWindow {
		return from, to, fault.Invalidf("to", "window_too_long", "at most %d days", MaxCallWindow/(24*time.Hour))
	}
	return from, to, nil
}

// Notations are the notations a switch may record an E.164 number in,
// as the number index keys them: the E.164 digits (8613800138000), with
// 00 before them, and the national digits (13800138000, 02155556666) for
// a number of the default region.
func Notations(e164 string) []string {
	out := []string{telephony.NumberKey(e164), "00" + telephony.NumberKey(e164)}
	if n := telephony.NumberKey(crm.DialString(e164)); !slices.Contains(out, n) {
		out = append(out, n)
	}
	return out
}

// listCalls reads the page q asks for; q is checked and its window set.
func listCalls(views replication.Tx, c app.Caller, q CallList, maxCalls int) (CallPage, error) {
	var (
		refs     []telephony.CallRef
		partial  string // digits a number holds, when q.Number is not a whole number
		masked   bool   // the customer's numbers are masked for c
		err      error
		numbered bool
		name     string // the customer's
	)
	switch {
	case q.Customer != "":
		var phones []string
		if phones, masked, err = crmapp.CustomerPhones(views, c, q.Customer); err != nil {
			return CallPage{}, err
		}
		var keys []string
		for _, p := range phones {
			keys = append(keys, Notations(p)...)
		}
		refs, err = telephony.NumberCalls(views, keys, q.From, q.To)
		numbered = true
		if cu, cerr := crm.GetCustomer(views, q.Customer); cerr == nil {
			name = cu.Get("display_name")
		}
		if err == nil && q.Number != "" {
			partial = telephony.NumberKey(q.Number)
		}
	case q.Number != "":
		if e164, nerr := crm.NormalizePhone(q.Number, crm.DefaultRegion); nerr == nil && e164 != "" {
			refs, err = telephony.NumberCalls(views, Notations(e164), q.From, q.To)
			numbered = true
		} else {
			partial = telephony.NumberKey(q.Number)
		}
	}
	if err != nil {
		return CallPage{}, err
	}
	if !numbered {
		var more bool
		if refs, more, err = telephony.WindowCalls(views, q.From, q.To, maxCalls); err != nil {
			return CallPage{}, err
		}
		if more {
			return CallPage{}, fault.Invalidf("from", "too_many", "more than %d calls in this window: narrow it", maxCalls)
		}
	}
	byRecord := q.Queue != "" || q.Agent != "" || q.Direction != "" || q.Outcome != "" || partial != "" ||
		q.Sort != "" && q.Sort != CallByTime
	show := func(r *telephony.Record) Record {
		out := recordOf(c, r)
		if masked && !out.NumberMasked {
			out.Caller, out.DID, out.NumberMasked = maskedNumbers(r)
		}
		return out
	}
	if !byRecord {
		// In time order without a filter on the records: the refs are
		// the list; read the page's records only.
		f, err := keyset.InMemory(refs, func(r telephony.CallRef) []byte {
			return keyset.VarKey(keyset.Uint(uint64(r.Arrive)), r.ID)
		}, q.Order, q.Limit)
		if err != nil {
			return CallPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
		}
		page := CallPage{Total: f.Total, Prev: f.Prev, Next: f.Next, Customer: name}
		for _, ref := range f.Items {
			r, err := telephony.GetRecord(views, ref.ID)
			if err != nil {
				return CallPage{}, err
			}
			page.Records = append(page.Records, show(r))
		}
		return page, nil
	}
	var recs []*telephony.Record
	for _, ref := range refs {
		r, err := telephony.GetRecord(views, ref.ID)
		if err != nil {
			return CallPage{}, err
		}
		if q.Queue != "" && r.Queue != q.Queue && r.FirstQueue != q.Queue || q.Agent != "" && r.Agent != q.Agent ||
			q.Direction != "" && r.Direction != q.Direction || q.Outcome != "" && string(r.Disposition) != q.Outcome ||
			partial != "" && !strings.Contains(telephony.NumberKey(r.Party()), partial) {
			continue
		}
		recs = append(recs, r)
	}
	f, err := keyset.InMemory(recs, func(r *telephony.Record) []byte { return keyset.VarKey(callSortValue(r, q.Sort), r.ID) }, q.Order, q.Limit)
	if err != nil {
		return CallPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	page := CallPage{Total: f.Total, Prev: f.Prev, Next: f.Next, Customer: name}
	for _, r := range f.Items {
		page.Records = append(page.Records, show(r))
	}
	return page, nil
}

// callSortValue is what column col orders record r by.
func callSortValue(r *telephony.Record, col string) []byte {
	dur := func(d time.Duration) []byte { return keyset.Int(int64(d)) }
	switch col {
	case CallByQueue:
		return keyset.Text(r.Queue)
	case CallByAgent:
		return keyset.Text(r.Agent)
	case CallByDirection:
		return []byte(r.Direction)
	case CallByOutcome:
		return []byte(r.Disposition)
	case CallByWait:
		return dur(r.Wait())
	case CallByTalk:
		return dur(r.Talk())
	}
	return keyset.Int(r.Arrive.UnixMilli())
}

// CustomerCalls is what a customer card shows of the customer's calls and
// callbacks.
type CustomerCalls struct {
	// Calls are the latest calls of the customer's numbers, newest
	// first; Total how many calls those numbers have had in all.
	Calls []Record
	Total int
	// Callbacks are the customer's callbacks, open ones first, each
	// group newest first.
	Callbacks []Callback
	// Mine says Calls are the caller's own calls only (an agent's).
	Mine bool
}

// CustomerCalls reads the latest calls (at most size) and the callbacks
// of a customer's numbers and its contacts' — the calls whose outside
// party (the caller of an inbound call, the number an outbound one
// dialled) is one of them, found by the number index: its cost is that
// customer's calls, not all calls. Supervisors see every call and
// callback; agents their own calls, the open callbacks and theirs (as
// Records and Callbacks). The numbers are masked as the card masks the
// customer's.
func (s *Telephony) CustomerCalls(_ context.Context, c app.Caller, customer string, size int) (CustomerCalls, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return CustomerCalls{}, err
	}
	size, err := app.PageSize(size, 10)
	if err != nil {
		return CustomerCalls{}, err
	}
	supervisor := c.Can(access.Supervise)
	out := CustomerCalls{Mine: !supervisor}
	err = s.Store.View(func(views replication.Tx) error {
		phones, masked, err := crmapp.CustomerPhones(views, c, customer)
		if err != nil {
			return err
		}
		var keys []string
		for _, p := range phones {
			keys = append(keys, Notations(p)...)
		}
		refs, err := telephony.NumberCalls(views, keys, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		for i := len(refs) - 1; i >= 0; i-- {
			r, err := telephony.GetRecord(views, refs[i].ID)
			if err != nil {
				return err
			}
			if !supervisor && r.Agent != c.User {
				continue
			}
			out.Total++
			if len(out.Calls) < size {
				rec := recordOf(c, r)
				if masked && !rec.NumberMasked {
					rec.Caller, rec.DID, rec.NumberMasked = maskedNumbers(r)
				}
				out.Calls = append(out.Calls, rec)
			}
		}
		cbs, err := telephony.NumberCallbacks(views, keys)
		if err != nil {
			return err
		}
		var done []Callback
		for _, cb := range cbs {
			if !supervisor && cb.Status == telephony.CallbackDone && cb.Agent != c.User {
				continue
			}
			v := callbackOf(c, cb)
			if masked && !v.NumberMasked {
				v.Number, v.NumberMasked = crmapp.ShowPhone(cb.Number, true), true
			}
			if cb.Status == telephony.CallbackDone {
				done = append(done, v)
			} else {
				out.Callbacks = append(out.Callbacks, v)
			}
		}
		out.Callbacks = append(out.Callbacks, done...)
		return nil
	})
	return out, err
}

// maskedNumbers are r's caller and did with the outside party's number
// masked, as CallNumbers shows them to a reader without the phone
// permission: for the numbers of a customer whose numbers the reader
// sees masked.
func maskedNumbers(r *telephony.Record) (string, string, bool) {
	party := r.Party()
	if party == "" {
		return r.Caller, r.DID, false
	}
	shown := crmapp.ShowPhone(party, true)
	if r.Direction == telephony.Inbound {
		return shown, r.DID, true
	}
	return r.Caller, shown, true
}
