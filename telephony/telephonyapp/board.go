package telephonyapp

import (
	"context"
	"fmt"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

// phoneFor is a number as c may see it.
var phoneFor = crmapp.PhoneFor

// KPIs are a day's call centre figures (of one queue, or all).
type KPIs struct {
	Day string // YYYY-MM-DD
	telephony.KPIs
}

// kpis computes the KPIs of day (YYYY-MM-DD, "" today) for queue.
func (s *Telephony) kpis(day, queue string) (KPIs, error) {
	t := s.Now.Time().In(s.loc())
	if day != "" {
		var err error
		if t, err = time.ParseInLocation("2006-01-02", day, s.loc()); err != nil {
			return KPIs{}, fault.Invalidf("day", "bad_day", "%q is not YYYY-MM-DD", day)
		}
	}
	start, end := telephony.Day(t, s.loc())
	var recs []*telephony.Record
	var refused map[string]int
	sl := time.Duration(0)
	err := s.Store.View(func(views replication.Tx) error {
		// Refused calls reached no queue: they count for all queues only.
		if queue == "" {
			var err error
			if refused, err = telephony.RefusedCalls(views, start, end); err != nil {
				return err
			}
		}
		if queue != "" {
			q, ok, err := telephony.GetQueue(views, queue)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("queue %s: %w", queue, fault.ErrNotFound)
			}
			sl = q.Effective().ServiceLevel
		}
		return telephony.Records(views, start, end, false, func(r *telephony.Record) bool {
			recs = append(recs, r)
			return true
		})
	})
	if err != nil {
		return KPIs{}, err
	}
	k := telephony.ComputeKPIs(recs, queue, sl)
	k.Refused = refused[telephony.RefusedOverload]
	return KPIs{Day: start.Format("2006-01-02"), KPIs: k}, nil
}

// KPIs computes a day's figures (YYYY-MM-DD, "" today) of a queue ("":
// all).
func (s *Telephony) KPIs(_ context.Context, c app.Caller, day, queue string) (KPIs, error) {
	if err := c.Require(access.Supervise); err != nil {
		return KPIs{}, err
	}
	return s.kpis(day, queue)
}

// LiveCall is a call in progress as the caller may see it.
type LiveCall struct {
	pbx.CallInfo
	NumberMasked bool
}

// Board is the live board: queues, agents and calls now, and today's
// figures.
type Board struct {
	Today         KPIs
	Queues        []pbx.QueueInfo
	Agents        []pbx.AgentInfo
	Calls         []LiveCall
	ActiveDialogs int
}

// Board reads the live board.
func (s *Telephony) Board(_ context.Context, c app.Caller) (Board, error) {
	if err := c.Require(access.Supervise); err != nil {
		return Board{}, err
	}
	sw, err := s.sw()
	if err != nil {
		return Board{}, err
	}
	b := sw.Board()
	k, err := s.kpis("", "")
	if err != nil {
		return Board{}, err
	}
	out := Board{Today: k, Queues: b.Queues, Agents: b.Agents, ActiveDialogs: b.ActiveDialogs}
	for _, call := range b.Calls {
		lc := LiveCall{CallInfo: call}
		lc.Caller, lc.DID, lc.NumberMasked = CallNumbers(c, call.Direction, call.Caller, call.DID)
		out.Calls = append(out.Calls, lc)
	}
	return out, nil
}

// SendMessage sends a text to an extension's phone (SIP MESSAGE), now or
// when it next registers.
func (s *Telephony) SendMessage(ctx context.Context, c app.Caller, ext, text string) (*telephony.Message, error) {
	if err := c.Require(access.Supervise); err != nil {
		return nil, err
	}
	sw, err := s.sw()
	if err != nil {
		return nil, err
	}
	return sw.SendMessage(ctx, c.User, ext, text)
}

// Message reads a message and how its delivery went.
func (s *Telephony) Message(_ context.Context, c app.Caller, id string) (*telephony.Message, error) {
	if err := c.Require(access.Supervise); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) (*telephony.Message, error) { return telephony.GetMessage(views, id) })
}

// ScreenPop is what an agent's desk shows of a call ringing at their
// phone, as that agent may see it: the caller's number masked unless they
// may see phone numbers, and the caller's customer cards they may read.
// The node sends it to the agent's browsers as the SSE event "call.ring".
type ScreenPop struct {
	Call   string `json:"call"`
	Caller string `json:"caller"`
	// CallerMasked says Caller is masked: links that would carry the
	// number (a new customer, a pickup for the caller) leave it out.
	CallerMasked bool          `json:"caller_masked,omitempty"`
	Name         string        `json:"caller_name,omitempty"`
	DID          string        `json:"did"`
	Queue        string        `json:"queue,omitempty"`
	Extension    string        `json:"extension"`
	Warned       bool          `json:"blacklist_warning"`
	VIP          int           `json:"priority"`
	At           time.Time     `json:"at"`
	Customers    []PopCustomer `json:"customers"`
}

// PopCustomer is a customer card in a screen pop.
type PopCustomer struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Level       string `json:"level,omitempty"`
	CreditLevel string `json:"credit_level,omitempty"`
	CreditLimit string `json:"credit_limit,omitempty"`
}

// ScreenPop is the pop of call for the agent c, who must take calls. A
// number that does not parse pops as unknown, with no customer.
func (s *Telephony) ScreenPop(_ context.Context, c app.Caller, call pbx.CallInfo, now time.Time) (*ScreenPop, error) {
	if err := c.Require(access.CallAgent); err != nil {
		return nil, err
	}
	caller, did, masked := CallNumbers(c, call.Direction, call.Caller, call.DID)
	pop := &ScreenPop{Call: call.ID, Caller: caller, CallerMasked: masked, Name: call.CallerName, DID: did, Queue: call.Queue,
		Extension: call.Extension, Warned: call.Warned, VIP: call.Priority, At: now, Customers: []PopCustomer{}}
	err := s.Store.View(func(views replication.Tx) error {
		cs, err := crm.LookupByPhone(views, call.Caller)
		if _, bad := fault.AsInvalid(err); bad {
			return nil // not a number customers are found by: an unknown caller
		}
		for _, cu := range cs {
			if !c.Reaches(access.CustomerRead, cu.Get("owner"), cu.Get("department")) {
				continue
			}
			pop.Customers = append(pop.Customers, PopCustomer{ID: cu.ID, Name: cu.Get("display_name"),
				Level: cu.Get("level"), CreditLevel: cu.Get("credit_level"), CreditLimit: cu.Get("credit_limit")})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return pop, nil
}
