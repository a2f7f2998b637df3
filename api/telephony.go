package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

// Switch is what TelephonyService needs of the node's SIP switch
// (*pbx.Server).
type Switch interface {
	Login(user, ext string, ready bool) (pbx.AgentInfo, error)
	Logout(user string) (pbx.AgentInfo, error)
	SetAgentState(user string, st telephony.AgentState, reason string) (pbx.AgentInfo, error)
	Agent(user string) pbx.AgentInfo
	Dial(ctx context.Context, user, number string) (string, error)
	Hangup(ctx context.Context, id, by string) error
	Hold(ctx context.Context, id string, on bool, by string) error
	Transfer(ctx context.Context, id, target, by string) error
	Call(id string) (pbx.CallInfo, bool)
	Board() pbx.Board
	Registrations() map[string][]pbx.Binding
	SendMessage(ctx context.Context, actor, ext, text string) (*telephony.Message, error)
	Message(id string) (*telephony.Message, error)
	ConfigChanged()
}

// TelephonyService implements branchline.telephony.v1.TelephonyService on
// a node. Configuration, records and callbacks are served from the views
// even when the node runs without SIP (Switch nil); agent and call
// commands then fail with Unavailable.
//
// Configuration needs access.TelephonyAdmin (its lists access.Supervise
// too); the agent's own calls, records and callbacks access.CallAgent;
// everyone's access.Supervise. Every call checks the caller's permission
// before it looks at the request.
type TelephonyService struct {
	Store    Store
	Switch   Switch
	Grants   Grants
	Location *time.Location // the node's time zone for days; default time.Local
	Log      *slog.Logger
}

var _ telephonyv1connect.TelephonyServiceHandler = (*TelephonyService)(nil)

var errNoSwitch = connect.NewError(connect.CodeUnavailable, errors.New("this node runs without SIP (--sip)"))

func (s *TelephonyService) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

// agent is the verified user making the call, who must hold
// access.CallAgent: agent commands act on the caller's own desk.
func (s *TelephonyService) agent(ctx context.Context) (string, error) {
	g, err := Require(ctx, s.Grants, access.CallAgent)
	if err != nil {
		return "", err
	}
	return g.User, nil
}

// change runs a configuration command and tells the switch.
func (s *TelephonyService) change(ctx context.Context, cmd replication.Command) error {
	if _, err := s.Store.Exec(ctx, actor(ctx), cmd); err != nil {
		return err
	}
	if s.Switch != nil {
		s.Switch.ConfigChanged()
	}
	return nil
}

func one(d replication.Draft, err error) ([]replication.Draft, error) {
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// SetExtension implements TelephonyService.SetExtension.
func (s *TelephonyService) SetExtension(ctx context.Context, req *connect.Request[telv1.SetExtensionRequest]) (*connect.Response[telv1.Extension], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetExtension()
	e := telephony.Extension{Number: in.GetNumber(), User: in.GetUser(), DisplayName: in.GetDisplayName()}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.SetExtension(views, e, req.Msg.GetPassword()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.Extension{Number: e.Number, User: e.User, DisplayName: e.DisplayName}), nil
}

// DeleteExtension implements TelephonyService.DeleteExtension.
func (s *TelephonyService) DeleteExtension(ctx context.Context, req *connect.Request[telv1.DeleteExtensionRequest]) (*connect.Response[telv1.DeleteExtensionResponse], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.RemoveExtension(views, req.Msg.GetNumber()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.DeleteExtensionResponse{}), nil
}

// ListExtensions implements TelephonyService.ListExtensions.
func (s *TelephonyService) ListExtensions(ctx context.Context, _ *connect.Request[telv1.ListExtensionsRequest]) (*connect.Response[telv1.ListExtensionsResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, access.TelephonyAdmin, access.Supervise); err != nil {
		return nil, err
	}
	var exts []telephony.Extension
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		exts, err = telephony.ListExtensions(views)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	var regs map[string][]pbx.Binding
	if s.Switch != nil {
		regs = s.Switch.Registrations()
	}
	resp := &telv1.ListExtensionsResponse{}
	for _, e := range exts {
		pe := &telv1.Extension{Number: e.Number, User: e.User, DisplayName: e.DisplayName}
		for _, b := range regs[e.Number] {
			pe.Contacts = append(pe.Contacts, &telv1.Contact{Uri: b.URI.String(), Transport: b.Transport,
				Source: b.Source, ExpireTime: ts(b.Expires), UserAgent: b.UserAgent})
		}
		resp.Extensions = append(resp.Extensions, pe)
	}
	return connect.NewResponse(resp), nil
}

func trunkToProto(t telephony.Trunk) *telv1.Trunk {
	out := &telv1.Trunk{Name: t.Name, Username: t.Username, Dids: t.DIDs, Proxy: t.Proxy, Transport: t.Transport}
	for _, p := range t.Sources {
		out.Sources = append(out.Sources, p.String())
	}
	return out
}

// SetTrunk implements TelephonyService.SetTrunk.
func (s *TelephonyService) SetTrunk(ctx context.Context, req *connect.Request[telv1.SetTrunkRequest]) (*connect.Response[telv1.Trunk], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetTrunk()
	srcs, err := telephony.ParseSources(in.GetSources())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	t := telephony.Trunk{Name: in.GetName(), Sources: srcs, Username: in.GetUsername(), DIDs: in.GetDids(),
		Proxy: in.GetProxy(), Transport: in.GetTransport()}
	if err := s.change(ctx, func(replication.Tx) ([]replication.Draft, error) {
		return one(telephony.SetTrunk(t, req.Msg.GetPassword()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	var saved telephony.Trunk
	if err := s.Store.View(func(views replication.Tx) error {
		saved, _, err = telephony.GetTrunk(views, t.Name)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(trunkToProto(saved)), nil
}

// DeleteTrunk implements TelephonyService.DeleteTrunk.
func (s *TelephonyService) DeleteTrunk(ctx context.Context, req *connect.Request[telv1.DeleteTrunkRequest]) (*connect.Response[telv1.DeleteTrunkResponse], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.RemoveTrunk(views, req.Msg.GetName()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.DeleteTrunkResponse{}), nil
}

// ListTrunks implements TelephonyService.ListTrunks.
func (s *TelephonyService) ListTrunks(ctx context.Context, _ *connect.Request[telv1.ListTrunksRequest]) (*connect.Response[telv1.ListTrunksResponse], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	var trunks []telephony.Trunk
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		trunks, err = telephony.ListTrunks(views)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &telv1.ListTrunksResponse{}
	for _, t := range trunks {
		resp.Trunks = append(resp.Trunks, trunkToProto(t))
	}
	return connect.NewResponse(resp), nil
}

func secs(d time.Duration) int32 { return int32(d / time.Second) }
func dur(n int32) time.Duration  { return time.Duration(n) * time.Second }

func queueToProto(q telephony.Queue, live pbx.QueueInfo) *telv1.Queue {
	out := &telv1.Queue{Name: q.Name, DisplayName: q.DisplayName, Strategy: string(q.Strategy), Fallback: string(q.Fallback),
		RingTimeoutSecs: secs(q.RingTimeout), WrapUpSecs: secs(q.WrapUp), OverflowQueue: q.OverflowQueue,
		OverflowAfterSecs: secs(q.OverflowAfter), MaxWaitSecs: secs(q.MaxWait), Dids: q.DIDs,
		ServiceLevelSecs: secs(q.ServiceLevel), Waiting: int32(live.Waiting), LongestWaitSecs: secs(live.LongestWait),
		NoAnswerPause: telephony.FormatPause(q.NoAnswerPause)}
	for _, m := range q.Members {
		pm := &telv1.Member{User: m.User, Priority: int32(m.Priority)}
		for _, w := range m.Windows {
			pm.Windows = append(pm.Windows, w.String())
		}
		out.Members = append(out.Members, pm)
	}
	return out
}

func (s *TelephonyService) queue(name string) (*connect.Response[telv1.Queue], error) {
	var q telephony.Queue
	var ok bool
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		q, ok, err = telephony.GetQueue(views, name)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	if !ok {
		return nil, Error(s.Log, fault.ErrNotFound)
	}
	return connect.NewResponse(queueToProto(q, s.liveQueues()[name])), nil
}

func (s *TelephonyService) liveQueues() map[string]pbx.QueueInfo {
	out := map[string]pbx.QueueInfo{}
	if s.Switch != nil {
		for _, q := range s.Switch.Board().Queues {
			out[q.Name] = q
		}
	}
	return out
}

// SetQueue implements TelephonyService.SetQueue.
func (s *TelephonyService) SetQueue(ctx context.Context, req *connect.Request[telv1.SetQueueRequest]) (*connect.Response[telv1.Queue], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetQueue()
	for _, n := range []int32{in.GetRingTimeoutSecs(), in.GetWrapUpSecs(), in.GetOverflowAfterSecs(), in.GetMaxWaitSecs(), in.GetServiceLevelSecs()} {
		if n < 0 {
			return nil, Error(s.Log, fault.Invalidf("queue", "negative", "durations must not be negative"))
		}
	}
	pause, err := telephony.ParsePause(in.GetNoAnswerPause())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	q := telephony.Queue{Name: in.GetName(), DisplayName: in.GetDisplayName(), Strategy: telephony.Strategy(in.GetStrategy()),
		Fallback: telephony.Strategy(in.GetFallback()), RingTimeout: dur(in.GetRingTimeoutSecs()), WrapUp: dur(in.GetWrapUpSecs()),
		OverflowQueue: in.GetOverflowQueue(), OverflowAfter: dur(in.GetOverflowAfterSecs()), MaxWait: dur(in.GetMaxWaitSecs()),
		DIDs: in.GetDids(), ServiceLevel: dur(in.GetServiceLevelSecs()), NoAnswerPause: pause}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.SetQueue(views, q))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.queue(q.Name)
}

// DeleteQueue implements TelephonyService.DeleteQueue.
func (s *TelephonyService) DeleteQueue(ctx context.Context, req *connect.Request[telv1.DeleteQueueRequest]) (*connect.Response[telv1.DeleteQueueResponse], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.RemoveQueue(views, req.Msg.GetName()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&telv1.DeleteQueueResponse{}), nil
}

// ListQueues implements TelephonyService.ListQueues.
func (s *TelephonyService) ListQueues(ctx context.Context, _ *connect.Request[telv1.ListQueuesRequest]) (*connect.Response[telv1.ListQueuesResponse], error) {
	if _, err := RequireAny(ctx, s.Grants, access.TelephonyAdmin, access.Supervise); err != nil {
		return nil, err
	}
	var qs []telephony.Queue
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		qs, err = telephony.ListQueues(views)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	live := s.liveQueues()
	resp := &telv1.ListQueuesResponse{}
	for _, q := range qs {
		resp.Queues = append(resp.Queues, queueToProto(q, live[q.Name]))
	}
	return connect.NewResponse(resp), nil
}

// AddQueueMember implements TelephonyService.AddQueueMember.
func (s *TelephonyService) AddQueueMember(ctx context.Context, req *connect.Request[telv1.AddQueueMemberRequest]) (*connect.Response[telv1.Queue], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetMember()
	m := telephony.Member{User: in.GetUser(), Priority: int(in.GetPriority())}
	if m.Priority == 0 {
		m.Priority = 1
	}
	if len(in.GetWindows()) > 16 {
		return nil, Error(s.Log, fault.Invalidf("windows", "too_many", "at most 16"))
	}
	for _, w := range in.GetWindows() {
		pw, err := telephony.ParseWindow(w)
		if err != nil {
			return nil, Error(s.Log, err)
		}
		m.Windows = append(m.Windows, pw)
	}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.AddMember(views, req.Msg.GetQueue(), m))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.queue(req.Msg.GetQueue())
}

// RemoveQueueMember implements TelephonyService.RemoveQueueMember.
func (s *TelephonyService) RemoveQueueMember(ctx context.Context, req *connect.Request[telv1.RemoveQueueMemberRequest]) (*connect.Response[telv1.Queue], error) {
	if _, err := Require(ctx, s.Grants, access.TelephonyAdmin); err != nil {
		return nil, err
	}
	if err := s.change(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		return one(telephony.RemoveMember(views, req.Msg.GetQueue(), req.Msg.GetUser()))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.queue(req.Msg.GetQueue())
}
