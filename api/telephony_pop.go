package api

import (
	"context"
	"time"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
	"branchline/telephony/pbx"
)

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

// ScreenPop returns the pop of call c for the agent of ctx, who must take
// calls (access.CallAgent). A number that does not parse pops as unknown,
// with no customer.
func (s *TelephonyService) ScreenPop(ctx context.Context, c pbx.CallInfo, now time.Time) (*ScreenPop, error) {
	g, err := Require(ctx, s.Grants, access.CallAgent)
	if err != nil {
		return nil, err
	}
	caller, did, masked := callNumbers(g, c.Direction, c.Caller, c.DID)
	pop := &ScreenPop{Call: c.ID, Caller: caller, CallerMasked: masked, Name: c.CallerName, DID: did, Queue: c.Queue,
		Extension: c.Extension, Warned: c.Warned, VIP: c.Priority, At: now, Customers: []PopCustomer{}}
	err = s.Store.View(func(views replication.Tx) error {
		cs, err := crm.LookupByPhone(views, c.Caller)
		if _, bad := fault.AsInvalid(err); bad {
			return nil // not a number customers are found by: an unknown caller
		}
		for _, cu := range cs {
			if !reachesCustomer(g, access.CustomerRead, cu) {
				continue
			}
			pop.Customers = append(pop.Customers, PopCustomer{ID: cu.ID, Name: cu.Get("display_name"),
				Level: cu.Get("level"), CreditLevel: cu.Get("credit_level"), CreditLimit: cu.Get("credit_limit")})
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return pop, nil
}
