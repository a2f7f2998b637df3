package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

func agentToProto(a pbx.AgentInfo) *telv1.Agent {
	return &telv1.Agent{User: a.User, Extension: a.Extension, State: string(a.State), Reason: a.Reason,
		Since: ts(a.Since), Call: a.Call, Answered: int32(a.Answered), Registered: a.Registered}
}

// agentCmd runs fn for the calling agent on the switch.
func (s *TelephonyService) agentCmd(ctx context.Context, fn func(user string) (pbx.AgentInfo, error)) (*connect.Response[telv1.Agent], error) {
	user, err := s.agent(ctx)
	if err != nil {
		return nil, err
	}
	if s.Switch == nil {
		return nil, errNoSwitch
	}
	a, err := fn(user)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(agentToProto(a)), nil
}

// AgentLogin implements TelephonyService.AgentLogin: an agent, for
// themselves, at an extension that is theirs or nobody's.
func (s *TelephonyService) AgentLogin(ctx context.Context, req *connect.Request[telv1.AgentLoginRequest]) (*connect.Response[telv1.Agent], error) {
	return s.agentCmd(ctx, func(user string) (pbx.AgentInfo, error) {
		return s.Switch.Login(user, req.Msg.GetExtension(), !req.Msg.GetNotReady())
	})
}

// AgentLogout implements TelephonyService.AgentLogout.
func (s *TelephonyService) AgentLogout(ctx context.Context, _ *connect.Request[telv1.AgentLogoutRequest]) (*connect.Response[telv1.Agent], error) {
	return s.agentCmd(ctx, func(user string) (pbx.AgentInfo, error) { return s.Switch.Logout(user) })
}

// SetAgentState implements TelephonyService.SetAgentState.
func (s *TelephonyService) SetAgentState(ctx context.Context, req *connect.Request[telv1.SetAgentStateRequest]) (*connect.Response[telv1.Agent], error) {
	reason := strings.TrimSpace(req.Msg.GetReason())
	return s.agentCmd(ctx, func(user string) (pbx.AgentInfo, error) {
		if len(reason) > 64 || strings.ContainsAny(reason, "\r\n\x00") {
			return pbx.AgentInfo{}, fault.Invalidf("reason", "too_long", "at most 64 bytes on one line")
		}
		return s.Switch.SetAgentState(user, telephony.AgentState(req.Msg.GetState()), reason)
	})
}

// GetAgent implements TelephonyService.GetAgent.
func (s *TelephonyService) GetAgent(ctx context.Context, _ *connect.Request[telv1.GetAgentRequest]) (*connect.Response[telv1.Agent], error) {
	return s.agentCmd(ctx, func(user string) (pbx.AgentInfo, error) { return s.Switch.Agent(user), nil })
}

// Dial implements TelephonyService.Dial (click-to-dial): the caller's
// phone rings, then the number the request names.
func (s *TelephonyService) Dial(ctx context.Context, req *connect.Request[telv1.DialRequest]) (*connect.Response[telv1.DialResponse], error) {
	g, err := Require(ctx, s.Grants, access.CallAgent)
	if err != nil {
		return nil, err
	}
	if s.Switch == nil {
		return nil, errNoSwitch
	}
	number, err := s.dialTarget(g, req.Msg)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	id, err := s.Switch.Dial(ctx, g.User, number)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.DialResponse{Call: id}), nil
}

// dialTarget is the number a DialRequest names: the number given, or the
// one of a callback, call record or customer that g's holder may see,
// read on the server and never answered, so that an agent without the
// phone permission calls back without learning the number.
func (s *TelephonyService) dialTarget(g *access.Grant, m *telv1.DialRequest) (string, error) {
	named := 0
	for _, v := range []string{m.GetNumber(), m.GetCallback(), m.GetCallRecord(), m.GetCustomer()} {
		if strings.TrimSpace(v) != "" {
			named++
		}
	}
	if named != 1 {
		return "", fault.Invalidf("number", "one_target", "name exactly one of number, callback, call_record and customer")
	}
	if n := strings.TrimSpace(m.GetNumber()); n != "" {
		return n, nil
	}
	supervisor := g.Can(access.Supervise)
	return viewResult(s.Store, func(views replication.Tx) (string, error) {
		switch {
		case m.GetCallback() != "":
			cb, err := telephony.GetCallback(views, m.GetCallback())
			if err != nil {
				return "", err
			}
			// What ListCallbacks shows an agent: the open ones and their own.
			if !supervisor && cb.Agent != g.User && cb.Status == telephony.CallbackDone {
				return "", fmt.Errorf("%w: callback %s is %s's", fault.ErrDenied, cb.ID, cb.Agent)
			}
			return cb.Number, nil
		case m.GetCallRecord() != "":
			r, err := telephony.GetRecord(views, m.GetCallRecord())
			if err != nil {
				return "", err
			}
			if !supervisor && r.Agent != g.User {
				return "", fmt.Errorf("%w: call %s is not %s's", fault.ErrDenied, r.ID, g.User)
			}
			if r.Party() == "" {
				return "", fault.Invalidf("call_record", "no_number", "an internal call has no outside number to call")
			}
			return r.Party(), nil
		default:
			id, err := customerIDOf("customer", m.GetCustomer())
			if err != nil {
				return "", err
			}
			if id, err = crm.Resolve(views, id); err != nil {
				return "", err
			}
			c, err := scopedCustomer(views, g, access.CustomerRead, id)
			if err != nil {
				return "", err
			}
			for _, f := range []string{"mobile", "phone"} {
				if v := c.Get(f); v != "" {
					return crm.DialString(v), nil
				}
			}
			return "", fault.Invalidf("customer", "no_number", "the customer has no phone number")
		}
	})
}

// ownCall checks that the caller may control call id: it is their call
// and they take calls, or they supervise.
func (s *TelephonyService) ownCall(ctx context.Context, id string) (string, error) {
	g, err := RequireAny(ctx, s.Grants, access.CallAgent, access.Supervise)
	if err != nil {
		return "", err
	}
	if s.Switch == nil {
		return "", errNoSwitch
	}
	c, ok := s.Switch.Call(id)
	if !ok {
		return "", Error(s.Log, fmt.Errorf("call %s: %w", id, fault.ErrNotFound))
	}
	if !(c.Agent == g.User && g.Can(access.CallAgent)) && !g.Can(access.Supervise) {
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: call %s is not %s's", fault.ErrDenied, id, g.User))
	}
	return g.User, nil
}

// Hangup implements TelephonyService.Hangup.
func (s *TelephonyService) Hangup(ctx context.Context, req *connect.Request[telv1.HangupRequest]) (*connect.Response[telv1.HangupResponse], error) {
	user, err := s.ownCall(ctx, req.Msg.GetCall())
	if err != nil {
		return nil, err
	}
	if err := s.Switch.Hangup(ctx, req.Msg.GetCall(), user); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.HangupResponse{}), nil
}

// Hold implements TelephonyService.Hold.
func (s *TelephonyService) Hold(ctx context.Context, req *connect.Request[telv1.HoldRequest]) (*connect.Response[telv1.HoldResponse], error) {
	user, err := s.ownCall(ctx, req.Msg.GetCall())
	if err != nil {
		return nil, err
	}
	if err := s.Switch.Hold(ctx, req.Msg.GetCall(), req.Msg.GetHold(), user); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.HoldResponse{}), nil
}

// Transfer implements TelephonyService.Transfer.
func (s *TelephonyService) Transfer(ctx context.Context, req *connect.Request[telv1.TransferRequest]) (*connect.Response[telv1.TransferResponse], error) {
	user, err := s.ownCall(ctx, req.Msg.GetCall())
	if err != nil {
		return nil, err
	}
	if err := s.Switch.Transfer(ctx, req.Msg.GetCall(), strings.TrimSpace(req.Msg.GetTarget()), user); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.TransferResponse{}), nil
}

// recordToProto is r as g's holder may see it.
func recordToProto(r *telephony.Record, g *access.Grant) *telv1.CallRecord {
	caller, did, masked := callNumbers(g, r.Direction, r.Caller, r.DID)
	return &telv1.CallRecord{Id: r.ID, SipCallId: r.SIPCallID, Direction: r.Direction, Caller: caller, Did: did, NumberMasked: masked,
		Trunk: r.Trunk, Queue: r.Queue, FirstQueue: r.FirstQueue, Agent: r.Agent, Extension: r.Extension,
		ArriveTime: ts(r.Arrive), RingTime: ts(r.Ring), AnswerTime: ts(r.Answer), EndTime: ts(r.End),
		WaitSecs: secs(r.Wait()), TalkSecs: secs(r.Talk()), WrapUpSecs: secs(r.WrapUp),
		Disposition: string(r.Disposition), HangupBy: r.HangupBy, Cause: r.Cause, Origin: r.Origin}
}

// pageToken is "<arrive ms>.<id>" of the last record of a page.
func parsePageToken(tok string) (int64, string, error) {
	msStr, id, ok := strings.Cut(tok, ".")
	ms, err := strconv.ParseInt(msStr, 10, 64)
	if !ok || err != nil || !replication.ValidULID(id) {
		return 0, "", fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return ms, id, nil
}

// ListCallRecords implements TelephonyService.ListCallRecords: every
// record for supervisors, the caller's own calls for agents.
func (s *TelephonyService) ListCallRecords(ctx context.Context, req *connect.Request[telv1.ListCallRecordsRequest]) (*connect.Response[telv1.ListCallRecordsResponse], error) {
	g, err := RequireAny(ctx, s.Grants, access.CallAgent, access.Supervise)
	if err != nil {
		return nil, err
	}
	user, all := g.User, g.Can(access.Supervise)
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	from, to := telephony.Day(time.Now(), s.loc())
	if req.Msg.GetFrom() != nil {
		from = req.Msg.GetFrom().AsTime()
	}
	if req.Msg.GetTo() != nil {
		to = req.Msg.GetTo().AsTime()
	}
	var lastMs int64
	var lastID string
	if tok := req.Msg.GetPageToken(); tok != "" {
		if lastMs, lastID, err = parsePageToken(tok); err != nil {
			return nil, Error(s.Log, err)
		}
		to = time.UnixMilli(lastMs + 1)
	}
	resp := &telv1.ListCallRecordsResponse{}
	var last *telephony.Record
	err = s.Store.View(func(views replication.Tx) error {
		return telephony.Records(views, from, to, true, func(r *telephony.Record) bool {
			if lastID != "" && r.Arrive.UnixMilli() == lastMs && r.ID >= lastID {
				return true
			}
			if !all && r.Agent != user {
				return true
			}
			if len(resp.Records) == size {
				resp.NextPageToken = strconv.FormatInt(last.Arrive.UnixMilli(), 10) + "." + last.ID
				return false
			}
			resp.Records = append(resp.Records, recordToProto(r, g))
			last = r
			return true
		})
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// callbackToProto is cb as g's holder may see it.
func callbackToProto(cb *telephony.Callback, g *access.Grant) *telv1.Callback {
	number, masked := phoneFor(g, cb.Number)
	return &telv1.Callback{Id: cb.ID, Number: number, NumberMasked: masked, Call: cb.Call, Queue: cb.Queue, Reason: cb.Reason,
		CreateTime: ts(cb.Created), Status: cb.Status, Agent: cb.Agent, AssignedBy: cb.AssignedBy,
		DoneBy: cb.DoneBy, DoneTime: ts(cb.Done), Note: cb.Note, Conflict: cb.Conflict}
}

// ListCallbacks implements TelephonyService.ListCallbacks. Agents see
// every open callback (to pick one up, on the desk) and their own;
// supervisors every one.
func (s *TelephonyService) ListCallbacks(ctx context.Context, req *connect.Request[telv1.ListCallbacksRequest]) (*connect.Response[telv1.ListCallbacksResponse], error) {
	g, err := RequireAny(ctx, s.Grants, access.CallAgent, access.Supervise)
	if err != nil {
		return nil, err
	}
	user, supervisor := g.User, g.Can(access.Supervise)
	status := req.Msg.GetStatus()
	if status != "" && status != "open" && status != telephony.CallbackDone {
		return nil, Error(s.Log, fault.Invalidf("status", "bad_status", "open, done or empty"))
	}
	size := int(req.Msg.GetPageSize())
	if size <= 0 || size > MaxPageSize {
		size = 100
	}
	mine := req.Msg.GetMine() || (!supervisor && status != "open")
	var cbs []*telephony.Callback
	err = s.Store.View(func(views replication.Tx) error {
		var err error
		if mine {
			cbs, err = telephony.CallbacksOf(views, user, MaxPageSize)
		} else {
			cbs, err = telephony.ListCallbacks(views, status == "open", MaxPageSize)
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &telv1.ListCallbacksResponse{}
	for _, cb := range cbs {
		switch {
		case len(resp.Callbacks) == size:
		case status == "open" && cb.Status == telephony.CallbackDone:
		case status == telephony.CallbackDone && cb.Status != telephony.CallbackDone:
		default:
			resp.Callbacks = append(resp.Callbacks, callbackToProto(cb, g))
		}
	}
	return connect.NewResponse(resp), nil
}

// callback answers callback id as g's holder may see it.
func (s *TelephonyService) callback(id string, g *access.Grant) (*connect.Response[telv1.Callback], error) {
	var cb *telephony.Callback
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		cb, err = telephony.GetCallback(views, id)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(callbackToProto(cb, g)), nil
}

// AssignCallback implements TelephonyService.AssignCallback: to oneself
// for agents, to anyone for supervisors.
func (s *TelephonyService) AssignCallback(ctx context.Context, req *connect.Request[telv1.AssignCallbackRequest]) (*connect.Response[telv1.Callback], error) {
	g, err := RequireAny(ctx, s.Grants, access.CallAgent, access.Supervise)
	if err != nil {
		return nil, err
	}
	user := g.User
	agent := req.Msg.GetAgent()
	if agent == "" {
		agent = user
	}
	if agent != user {
		if _, err := Require(ctx, s.Grants, access.Supervise); err != nil {
			return nil, err
		}
	}
	if _, err := s.Store.Exec(ctx, user, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.AssignCallback(views, req.Msg.GetId(), agent))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.callback(req.Msg.GetId(), g)
}

// CompleteCallback implements TelephonyService.CompleteCallback: by the
// agent it is assigned to (or anyone, when unassigned), or a supervisor.
func (s *TelephonyService) CompleteCallback(ctx context.Context, req *connect.Request[telv1.CompleteCallbackRequest]) (*connect.Response[telv1.Callback], error) {
	g, err := RequireAny(ctx, s.Grants, access.CallAgent, access.Supervise)
	if err != nil {
		return nil, err
	}
	user, supervisor := g.User, g.Can(access.Supervise)
	if _, err := s.Store.Exec(ctx, user, func(views replication.Tx) ([]replication.Draft, error) {
		cb, err := telephony.GetCallback(views, req.Msg.GetId())
		if err != nil {
			return nil, err
		}
		if !supervisor && cb.Agent != "" && cb.Agent != user {
			return nil, fmt.Errorf("callback %s is %s's: %w", cb.ID, cb.Agent, fault.ErrDenied)
		}
		return one(telephony.CompleteCallback(views, cb.ID, req.Msg.GetNote()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.callback(req.Msg.GetId(), g)
}

func kpisToProto(day string, k telephony.KPIs) *telv1.KPIs {
	return &telv1.KPIs{Day: day, CallsIn: int32(k.CallsIn), Answered: int32(k.Answered), Abandoned: int32(k.Abandoned),
		AbandonRate: k.AbandonRate, AsaSecs: k.ASA.Seconds(), AhtSecs: k.AHT.Seconds(), AvgTalkSecs: k.AvgTalk.Seconds(),
		AvgWrapUpSecs: k.AvgWrapUp.Seconds(), AvgAbandonSecs: k.AvgAbandon.Seconds(), ServiceLevel: k.ServiceLevel,
		ServiceLevelSecs: secs(k.SLThreshold), NoAgent: int32(k.NoAgent), Rejected: int32(k.Rejected), Overflowed: int32(k.Overflowed),
		Refused: int32(k.Refused)}
}

// kpis computes the KPIs of day (YYYY-MM-DD, "" today) for queue.
func (s *TelephonyService) kpis(day, queue string) (*telv1.KPIs, error) {
	t := time.Now().In(s.loc())
	if day != "" {
		var err error
		if t, err = time.ParseInLocation("2006-01-02", day, s.loc()); err != nil {
			return nil, fault.Invalidf("day", "bad_day", "%q is not YYYY-MM-DD", day)
		}
	}
	start, end := telephony.Day(t, s.loc())
	var recs []*telephony.Record
	var refused map[string]int
	sl := time.Duration(0)
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		if queue == "" {
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
		return nil, err
	}
	k := telephony.ComputeKPIs(recs, queue, sl)
	k.Refused = refused[telephony.RefusedOverload]
	return kpisToProto(start.Format("2006-01-02"), k), nil
}

// GetKPIs implements TelephonyService.GetKPIs.
func (s *TelephonyService) GetKPIs(ctx context.Context, req *connect.Request[telv1.GetKPIsRequest]) (*connect.Response[telv1.KPIs], error) {
	if _, err := Require(ctx, s.Grants, access.Supervise); err != nil {
		return nil, err
	}
	k, err := s.kpis(req.Msg.GetDay(), req.Msg.GetQueue())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(k), nil
}

// GetBoard implements TelephonyService.GetBoard.
func (s *TelephonyService) GetBoard(ctx context.Context, _ *connect.Request[telv1.GetBoardRequest]) (*connect.Response[telv1.Board], error) {
	g, err := Require(ctx, s.Grants, access.Supervise)
	if err != nil {
		return nil, err
	}
	if s.Switch == nil {
		return nil, errNoSwitch
	}
	b := s.Switch.Board()
	k, err := s.kpis("", "")
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &telv1.Board{Today: k, ActiveDialogs: int32(b.ActiveDialogs)}
	for _, q := range b.Queues {
		resp.Queues = append(resp.Queues, &telv1.Queue{Name: q.Name, Waiting: int32(q.Waiting), LongestWaitSecs: secs(q.LongestWait)})
	}
	for _, a := range b.Agents {
		resp.Agents = append(resp.Agents, agentToProto(a))
	}
	for _, c := range b.Calls {
		caller, did, masked := callNumbers(g, c.Direction, c.Caller, c.DID)
		resp.Calls = append(resp.Calls, &telv1.LiveCall{Id: c.ID, Caller: caller, Did: did, NumberMasked: masked, Queue: c.Queue,
			Agent: c.Agent, State: c.State, ArriveTime: ts(c.Arrive), Priority: int32(c.Priority)})
	}
	return connect.NewResponse(resp), nil
}

func messageToProto(m *telephony.Message) *telv1.Message {
	return &telv1.Message{Id: m.ID, Extension: m.Extension, Text: m.Text, Status: m.Status, Detail: m.Detail,
		CreateTime: ts(m.Created), StatusTime: ts(m.StatusAt)}
}

// SendMessage implements TelephonyService.SendMessage.
func (s *TelephonyService) SendMessage(ctx context.Context, req *connect.Request[telv1.SendMessageRequest]) (*connect.Response[telv1.Message], error) {
	if _, err := Require(ctx, s.Grants, access.Supervise); err != nil {
		return nil, err
	}
	if s.Switch == nil {
		return nil, errNoSwitch
	}
	m, err := s.Switch.SendMessage(ctx, actor(ctx), req.Msg.GetExtension(), req.Msg.GetText())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(messageToProto(m)), nil
}

// GetMessage implements TelephonyService.GetMessage.
func (s *TelephonyService) GetMessage(ctx context.Context, req *connect.Request[telv1.GetMessageRequest]) (*connect.Response[telv1.Message], error) {
	if _, err := Require(ctx, s.Grants, access.Supervise); err != nil {
		return nil, err
	}
	var m *telephony.Message
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		m, err = telephony.GetMessage(views, req.Msg.GetId())
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(messageToProto(m)), nil
}
