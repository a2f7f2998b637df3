package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/app"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/telephony"
	"branchline/telephony/pbx"
	"branchline/telephony/telephonyapp"
)

func agentPB(a pbx.AgentInfo) *telv1.Agent {
	return &telv1.Agent{User: a.User, Extension: a.Extension, State: string(a.State), Reason: a.Reason,
		Since: ts(a.Since), Call: a.Call, Answered: int32(a.Answered), Registered: a.Registered}
}

// AgentLogin implements TelephonyService.AgentLogin.
func (s *TelephonyService) AgentLogin(ctx context.Context, req *connect.Request[telv1.AgentLoginRequest]) (*connect.Response[telv1.Agent], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.AgentLoginRequest) (*telv1.Agent, error) {
		return pb(agentPB)(s.App.Login(ctx, c, m.GetExtension(), !m.GetNotReady()))
	})
}

// AgentLogout implements TelephonyService.AgentLogout.
func (s *TelephonyService) AgentLogout(ctx context.Context, req *connect.Request[telv1.AgentLogoutRequest]) (*connect.Response[telv1.Agent], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *telv1.AgentLogoutRequest) (*telv1.Agent, error) {
		return pb(agentPB)(s.App.Logout(ctx, c))
	})
}

// SetAgentState implements TelephonyService.SetAgentState.
func (s *TelephonyService) SetAgentState(ctx context.Context, req *connect.Request[telv1.SetAgentStateRequest]) (*connect.Response[telv1.Agent], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.SetAgentStateRequest) (*telv1.Agent, error) {
		return pb(agentPB)(s.App.SetState(ctx, c, telephony.AgentState(m.GetState()), m.GetReason()))
	})
}

// GetAgent implements TelephonyService.GetAgent.
func (s *TelephonyService) GetAgent(ctx context.Context, req *connect.Request[telv1.GetAgentRequest]) (*connect.Response[telv1.Agent], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *telv1.GetAgentRequest) (*telv1.Agent, error) {
		return pb(agentPB)(s.App.Agent(ctx, c))
	})
}

// Dial implements TelephonyService.Dial (click-to-dial).
func (s *TelephonyService) Dial(ctx context.Context, req *connect.Request[telv1.DialRequest]) (*connect.Response[telv1.DialResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.DialRequest) (*telv1.DialResponse, error) {
		id, err := s.App.Dial(ctx, c, telephonyapp.DialTarget{Number: m.GetNumber(), Callback: m.GetCallback(),
			CallRecord: m.GetCallRecord(), Customer: optionalID(customerPrefix, m.GetCustomer())})
		return &telv1.DialResponse{Call: id}, err
	})
}

// Hangup implements TelephonyService.Hangup.
func (s *TelephonyService) Hangup(ctx context.Context, req *connect.Request[telv1.HangupRequest]) (*connect.Response[telv1.HangupResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.HangupRequest) (*telv1.HangupResponse, error) {
		return &telv1.HangupResponse{}, s.App.Hangup(ctx, c, m.GetCall())
	})
}

// Hold implements TelephonyService.Hold.
func (s *TelephonyService) Hold(ctx context.Context, req *connect.Request[telv1.HoldRequest]) (*connect.Response[telv1.HoldResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.HoldRequest) (*telv1.HoldResponse, error) {
		return &telv1.HoldResponse{}, s.App.Hold(ctx, c, m.GetCall(), m.GetHold())
	})
}

// Transfer implements TelephonyService.Transfer.
func (s *TelephonyService) Transfer(ctx context.Context, req *connect.Request[telv1.TransferRequest]) (*connect.Response[telv1.TransferResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.TransferRequest) (*telv1.TransferResponse, error) {
		return &telv1.TransferResponse{}, s.App.Transfer(ctx, c, m.GetCall(), m.GetTarget())
	})
}

func recordPB(r telephonyapp.Record) *telv1.CallRecord {
	return &telv1.CallRecord{Id: r.ID, SipCallId: r.SIPCallID, Direction: r.Direction, Caller: r.Caller, Did: r.DID, NumberMasked: r.NumberMasked,
		Trunk: r.Trunk, Queue: r.Queue, FirstQueue: r.FirstQueue, Agent: r.Agent, Extension: r.Extension,
		ArriveTime: ts(r.Arrive), RingTime: ts(r.Ring), AnswerTime: ts(r.Answer), EndTime: ts(r.End),
		WaitSecs: secs(r.Wait()), TalkSecs: secs(r.Talk()), WrapUpSecs: secs(r.WrapUp),
		Disposition: string(r.Disposition), HangupBy: r.HangupBy, Cause: r.Cause, Origin: r.Origin}
}

// ListCallRecords implements TelephonyService.ListCallRecords.
func (s *TelephonyService) ListCallRecords(ctx context.Context, req *connect.Request[telv1.ListCallRecordsRequest]) (*connect.Response[telv1.ListCallRecordsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.ListCallRecordsRequest) (*telv1.ListCallRecordsResponse, error) {
		return pb(func(p telephonyapp.RecordPage) *telv1.ListCallRecordsResponse {
			return &telv1.ListCallRecordsResponse{Records: each(p.Records, recordPB), NextPageToken: p.Next}
		})(s.App.Records(ctx, c, telephonyapp.RecordQuery{From: timeOf(m.GetFrom()), To: timeOf(m.GetTo()),
			Size: int(m.GetPageSize()), After: m.GetPageToken()}))
	})
}

func callbackPB(cb telephonyapp.Callback) *telv1.Callback {
	return &telv1.Callback{Id: cb.ID, Number: cb.Number, NumberMasked: cb.NumberMasked, Call: cb.Call, Queue: cb.Queue, Reason: cb.Reason,
		CreateTime: ts(cb.Created), Status: cb.Status, Agent: cb.Agent, AssignedBy: cb.AssignedBy,
		DoneBy: cb.DoneBy, DoneTime: ts(cb.Done), Note: cb.Note, Conflict: cb.Conflict}
}

// ListCallbacks implements TelephonyService.ListCallbacks.
func (s *TelephonyService) ListCallbacks(ctx context.Context, req *connect.Request[telv1.ListCallbacksRequest]) (*connect.Response[telv1.ListCallbacksResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.ListCallbacksRequest) (*telv1.ListCallbacksResponse, error) {
		return pb(func(cbs []telephonyapp.Callback) *telv1.ListCallbacksResponse {
			return &telv1.ListCallbacksResponse{Callbacks: each(cbs, callbackPB)}
		})(s.App.Callbacks(ctx, c, telephonyapp.CallbackQuery{Status: m.GetStatus(), Mine: m.GetMine(), Size: int(m.GetPageSize())}))
	})
}

// AssignCallback implements TelephonyService.AssignCallback.
func (s *TelephonyService) AssignCallback(ctx context.Context, req *connect.Request[telv1.AssignCallbackRequest]) (*connect.Response[telv1.Callback], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.AssignCallbackRequest) (*telv1.Callback, error) {
		return pb(callbackPB)(s.App.AssignCallback(ctx, c, m.GetId(), m.GetAgent()))
	})
}

// CompleteCallback implements TelephonyService.CompleteCallback.
func (s *TelephonyService) CompleteCallback(ctx context.Context, req *connect.Request[telv1.CompleteCallbackRequest]) (*connect.Response[telv1.Callback], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.CompleteCallbackRequest) (*telv1.Callback, error) {
		return pb(callbackPB)(s.App.CompleteCallback(ctx, c, m.GetId(), m.GetNote()))
	})
}

func kpisPB(k telephonyapp.KPIs) *telv1.KPIs {
	return &telv1.KPIs{Day: k.Day, CallsIn: int32(k.CallsIn), Answered: int32(k.Answered), Abandoned: int32(k.Abandoned),
		AbandonRate: k.AbandonRate, AsaSecs: k.ASA.Seconds(), AhtSecs: k.AHT.Seconds(), AvgTalkSecs: k.AvgTalk.Seconds(),
		AvgWrapUpSecs: k.AvgWrapUp.Seconds(), AvgAbandonSecs: k.AvgAbandon.Seconds(), ServiceLevel: k.ServiceLevel,
		ServiceLevelSecs: secs(k.SLThreshold), NoAgent: int32(k.NoAgent), Rejected: int32(k.Rejected), Overflowed: int32(k.Overflowed),
		Refused: int32(k.Refused)}
}

// GetKPIs implements TelephonyService.GetKPIs.
func (s *TelephonyService) GetKPIs(ctx context.Context, req *connect.Request[telv1.GetKPIsRequest]) (*connect.Response[telv1.KPIs], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.GetKPIsRequest) (*telv1.KPIs, error) {
		return pb(kpisPB)(s.App.KPIs(ctx, c, m.GetDay(), m.GetQueue()))
	})
}

// GetBoard implements TelephonyService.GetBoard.
func (s *TelephonyService) GetBoard(ctx context.Context, req *connect.Request[telv1.GetBoardRequest]) (*connect.Response[telv1.Board], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *telv1.GetBoardRequest) (*telv1.Board, error) {
		return pb(func(b telephonyapp.Board) *telv1.Board {
			out := &telv1.Board{Today: kpisPB(b.Today), ActiveDialogs: int32(b.ActiveDialogs)}
			for _, q := range b.Queues {
				out.Queues = append(out.Queues, &telv1.Queue{Name: q.Name, Waiting: int32(q.Waiting), LongestWaitSecs: secs(q.LongestWait)})
			}
			for _, a := range b.Agents {
				out.Agents = append(out.Agents, agentPB(a))
			}
			for _, lc := range b.Calls {
				out.Calls = append(out.Calls, &telv1.LiveCall{Id: lc.ID, Caller: lc.Caller, Did: lc.DID, NumberMasked: lc.NumberMasked,
					Queue: lc.Queue, Agent: lc.Agent, State: lc.State, ArriveTime: ts(lc.Arrive), Priority: int32(lc.Priority)})
			}
			return out
		})(s.App.Board(ctx, c))
	})
}

func messagePB(m *telephony.Message) *telv1.Message {
	return &telv1.Message{Id: m.ID, Extension: m.Extension, Text: m.Text, Status: m.Status, Detail: m.Detail,
		CreateTime: ts(m.Created), StatusTime: ts(m.StatusAt)}
}

// SendMessage implements TelephonyService.SendMessage.
func (s *TelephonyService) SendMessage(ctx context.Context, req *connect.Request[telv1.SendMessageRequest]) (*connect.Response[telv1.Message], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.SendMessageRequest) (*telv1.Message, error) {
		return pb(messagePB)(s.App.SendMessage(ctx, c, m.GetExtension(), m.GetText()))
	})
}

// GetMessage implements TelephonyService.GetMessage.
func (s *TelephonyService) GetMessage(ctx context.Context, req *connect.Request[telv1.GetMessageRequest]) (*connect.Response[telv1.Message], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.GetMessageRequest) (*telv1.Message, error) {
		return pb(messagePB)(s.App.Message(ctx, c, m.GetId()))
	})
}
