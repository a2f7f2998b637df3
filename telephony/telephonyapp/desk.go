package telephonyapp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

// The agent's desk: log in and out, states, click-to-dial and call
// control, acting on the caller's own desk.

// agent runs fn for the calling agent on the switch.
func (s *Telephony) agent(c app.Caller, fn func(sw Switch) (pbx.AgentInfo, error)) (pbx.AgentInfo, error) {
	if err := c.Require(access.CallAgent); err != nil {
		return pbx.AgentInfo{}, err
	}
	sw, err := s.sw()
	if err != nil {
		return pbx.AgentInfo{}, err
	}
	return fn(sw)
}

// Login logs the caller in as an agent at an extension that is theirs or
// nobody's, ready or not.
func (s *Telephony) Login(_ context.Context, c app.Caller, ext string, ready bool) (pbx.AgentInfo, error) {
	return s.agent(c, func(sw Switch) (pbx.AgentInfo, error) { return sw.Login(c.User, ext, ready) })
}

// Logout logs the caller out of the queues.
func (s *Telephony) Logout(_ context.Context, c app.Caller) (pbx.AgentInfo, error) {
	return s.agent(c, func(sw Switch) (pbx.AgentInfo, error) { return sw.Logout(c.User) })
}

// SetState sets the caller's agent state, with a reason of at most 64
// bytes on one line.
func (s *Telephony) SetState(_ context.Context, c app.Caller, st telephony.AgentState, reason string) (pbx.AgentInfo, error) {
	reason = strings.TrimSpace(reason)
	return s.agent(c, func(sw Switch) (pbx.AgentInfo, error) {
		if len(reason) > 64 || strings.ContainsAny(reason, "\r\n\x00") {
			return pbx.AgentInfo{}, fault.Invalidf("reason", "too_long", "at most 64 bytes on one line")
		}
		return sw.SetAgentState(c.User, st, reason)
	})
}

// Agent reads the caller's agent state.
func (s *Telephony) Agent(_ context.Context, c app.Caller) (pbx.AgentInfo, error) {
	return s.agent(c, func(sw Switch) (pbx.AgentInfo, error) { return sw.Agent(c.User), nil })
}

// DialTarget names what click-to-dial calls: exactly one of a number, a
// callback, a call record or a customer (whose number is read here and
// never answered, so that an agent without the phone permission calls
// back without learning the number).
type DialTarget struct {
	Number, Callback, CallRecord, Customer string
}

// Dial rings the caller's phone, then the target; it returns the call's
// id.
func (s *Telephony) Dial(ctx context.Context, c app.Caller, t DialTarget) (string, error) {
	if err := c.Require(access.CallAgent); err != nil {
		return "", err
	}
	sw, err := s.sw()
	if err != nil {
		return "", err
	}
	number, err := s.dialTarget(c, t)
	if err != nil {
		return "", err
	}
	return sw.Dial(ctx, c.User, number)
}

func (s *Telephony) dialTarget(c app.Caller, t DialTarget) (string, error) {
	named := 0
	for _, v := range []string{t.Number, t.Callback, t.CallRecord, t.Customer} {
		if strings.TrimSpace(v) != "" {
			named++
		}
	}
	if named != 1 {
		return "", fault.Invalidf("number", "one_target", "name exactly one of number, callback, call_record and customer")
	}
	if n := strings.TrimSpace(t.Number); n != "" {
		return n, nil
	}
	supervisor := c.Can(access.Supervise)
	return app.Read(s.Store, func(views replication.Tx) (string, error) {
		switch {
		case t.Callback != "":
			cb, err := telephony.GetCallback(views, t.Callback)
			if err != nil {
				return "", err
			}
			// What Callbacks shows an agent: the open ones and their own.
			if !supervisor && cb.Agent != c.User && cb.Status == telephony.CallbackDone {
				return "", fmt.Errorf("%w: callback %s is %s's", fault.ErrDenied, cb.ID, cb.Agent)
			}
			return cb.Number, nil
		case t.CallRecord != "":
			r, err := telephony.GetRecord(views, t.CallRecord)
			if err != nil {
				return "", err
			}
			if !supervisor && r.Agent != c.User {
				return "", fmt.Errorf("%w: call %s is not %s's", fault.ErrDenied, r.ID, c.User)
			}
			if r.Party() == "" {
				return "", fault.Invalidf("call_record", "no_number", "an internal call has no outside number to call")
			}
			return r.Party(), nil
		default:
			if !replication.ValidULID(t.Customer) {
				return "", fault.Invalidf("customer", "bad_name", "%q is not a customer", t.Customer)
			}
			cu, err := crm.GetCustomer(views, t.Customer)
			if err != nil {
				return "", err
			}
			if !c.Reaches(access.CustomerRead, cu.Get("owner"), cu.Get("department")) {
				return "", fmt.Errorf("%w: customer %s is outside your data scope for %s", fault.ErrDenied, cu.ID, access.CustomerRead)
			}
			for _, f := range []string{"mobile", "phone"} {
				if v := cu.Get(f); v != "" {
					return crm.DialString(v), nil
				}
			}
			return "", fault.Invalidf("customer", "no_number", "the customer has no phone number")
		}
	})
}

// ownCall checks that c may control call id: it is their call and they
// take calls, or they supervise.
func (s *Telephony) ownCall(c app.Caller, id string) (Switch, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return nil, err
	}
	sw, err := s.sw()
	if err != nil {
		return nil, err
	}
	call, ok := sw.Call(id)
	if !ok {
		return nil, fmt.Errorf("call %s: %w", id, fault.ErrNotFound)
	}
	if !(call.Agent == c.User && c.Can(access.CallAgent)) && !c.Can(access.Supervise) {
		return nil, fmt.Errorf("%w: call %s is not %s's", fault.ErrDenied, id, c.User)
	}
	return sw, nil
}

// Hangup ends a call of the caller's (or any, for a supervisor).
func (s *Telephony) Hangup(ctx context.Context, c app.Caller, id string) error {
	sw, err := s.ownCall(c, id)
	if err != nil {
		return err
	}
	return sw.Hangup(ctx, id, c.User)
}

// Hold puts a call on hold, or takes it off.
func (s *Telephony) Hold(ctx context.Context, c app.Caller, id string, on bool) error {
	sw, err := s.ownCall(c, id)
	if err != nil {
		return err
	}
	return sw.Hold(ctx, id, on, c.User)
}

// Transfer transfers a call to an extension or number.
func (s *Telephony) Transfer(ctx context.Context, c app.Caller, id, target string) error {
	sw, err := s.ownCall(c, id)
	if err != nil {
		return err
	}
	return sw.Transfer(ctx, id, strings.TrimSpace(target), c.User)
}

// Records and callbacks.

// Record is a call record as the caller may see it: the outside party's
// number masked unless they may see phone numbers.
type Record struct {
	telephony.Record
	NumberMasked bool
}

func recordOf(c app.Caller, r *telephony.Record) Record {
	out := Record{Record: *r}
	out.Caller, out.DID, out.NumberMasked = CallNumbers(c, r.Direction, r.Caller, r.DID)
	return out
}

// RecordQuery selects call records: arrived in [From, To) (zero: today),
// a page at a time, newest first.
type RecordQuery struct {
	From, To time.Time
	Size     int
	After    string
}

// RecordPage is a page of call records and the token of the next.
type RecordPage struct {
	Records []Record
	Next    string
}

// parsePageToken reads "<arrive ms>.<id>", the last record of a page.
func parsePageToken(tok string) (int64, string, error) {
	msStr, id, ok := strings.Cut(tok, ".")
	ms, err := strconv.ParseInt(msStr, 10, 64)
	if !ok || err != nil || !replication.ValidULID(id) {
		return 0, "", fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return ms, id, nil
}

// Records lists call records: every one for supervisors, the caller's own
// calls for agents.
func (s *Telephony) Records(_ context.Context, c app.Caller, q RecordQuery) (RecordPage, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return RecordPage{}, err
	}
	all := c.Can(access.Supervise)
	size, err := app.PageSize(q.Size, 50)
	if err != nil {
		return RecordPage{}, err
	}
	from, to := telephony.Day(s.Now.Time(), s.loc())
	if !q.From.IsZero() {
		from = q.From
	}
	if !q.To.IsZero() {
		to = q.To
	}
	var lastMs int64
	var lastID string
	if q.After != "" {
		if lastMs, lastID, err = parsePageToken(q.After); err != nil {
			return RecordPage{}, err
		}
		to = time.UnixMilli(lastMs + 1)
	}
	var out RecordPage
	var last *telephony.Record
	err = s.Store.View(func(views replication.Tx) error {
		return telephony.Records(views, from, to, true, func(r *telephony.Record) bool {
			if lastID != "" && r.Arrive.UnixMilli() == lastMs && r.ID >= lastID {
				return true
			}
			if !all && r.Agent != c.User {
				return true
			}
			if len(out.Records) == size {
				out.Next = strconv.FormatInt(last.Arrive.UnixMilli(), 10) + "." + last.ID
				return false
			}
			out.Records = append(out.Records, recordOf(c, r))
			last = r
			return true
		})
	})
	return out, err
}

// Callback is a callback as the caller may see it.
type Callback struct {
	telephony.Callback
	NumberMasked bool
}

func callbackOf(c app.Caller, cb *telephony.Callback) Callback {
	out := Callback{Callback: *cb}
	out.Number, out.NumberMasked = phoneFor(c, cb.Number)
	return out
}

// CallbackQuery selects callbacks: Status "open", "done" or "" (all);
// Mine only the caller's.
type CallbackQuery struct {
	Status string
	Mine   bool
	Size   int
}

// Callbacks lists callbacks. Agents see every open callback (to pick one
// up) and their own; supervisors every one.
func (s *Telephony) Callbacks(_ context.Context, c app.Caller, q CallbackQuery) ([]Callback, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return nil, err
	}
	supervisor := c.Can(access.Supervise)
	if q.Status != "" && q.Status != "open" && q.Status != telephony.CallbackDone {
		return nil, fault.Invalidf("status", "bad_status", "open, done or empty")
	}
	size := q.Size
	if size <= 0 || size > app.MaxPageSize {
		size = 100
	}
	mine := q.Mine || (!supervisor && q.Status != "open")
	cbs, err := app.Read(s.Store, func(views replication.Tx) ([]*telephony.Callback, error) {
		if mine {
			return telephony.CallbacksOf(views, c.User, app.MaxPageSize)
		}
		return telephony.ListCallbacks(views, q.Status == "open", app.MaxPageSize)
	})
	if err != nil {
		return nil, err
	}
	var out []Callback
	for _, cb := range cbs {
		switch {
		case len(out) == size:
		case q.Status == "open" && cb.Status == telephony.CallbackDone:
		case q.Status == telephony.CallbackDone && cb.Status != telephony.CallbackDone:
		default:
			out = append(out, callbackOf(c, cb))
		}
	}
	return out, nil
}

func (s *Telephony) callback(c app.Caller, id string) (Callback, error) {
	cb, err := app.Read(s.Store, func(views replication.Tx) (*telephony.Callback, error) { return telephony.GetCallback(views, id) })
	if err != nil {
		return Callback{}, err
	}
	return callbackOf(c, cb), nil
}

// AssignCallback assigns a callback: to oneself for agents, to anyone
// ("": oneself) for supervisors.
func (s *Telephony) AssignCallback(ctx context.Context, c app.Caller, id, agent string) (Callback, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return Callback{}, err
	}
	if agent == "" {
		agent = c.User
	}
	if agent != c.User {
		if err := c.Require(access.Supervise); err != nil {
			return Callback{}, err
		}
	}
	if _, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.AssignCallback(views, id, agent))
	}); err != nil {
		return Callback{}, err
	}
	return s.callback(c, id)
}

// CompleteCallback records a callback done: by the agent it is assigned
// to (or anyone, when unassigned), or a supervisor.
func (s *Telephony) CompleteCallback(ctx context.Context, c app.Caller, id, note string) (Callback, error) {
	if err := c.Require(access.CallAgent, access.Supervise); err != nil {
		return Callback{}, err
	}
	supervisor := c.Can(access.Supervise)
	if _, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		cb, err := telephony.GetCallback(views, id)
		if err != nil {
			return nil, err
		}
		if !supervisor && cb.Agent != "" && cb.Agent != c.User {
			return nil, fmt.Errorf("callback %s is %s's: %w", cb.ID, cb.Agent, fault.ErrDenied)
		}
		return app.One(telephony.CompleteCallback(views, cb.ID, note))
	}); err != nil {
		return Callback{}, err
	}
	return s.callback(c, id)
}
