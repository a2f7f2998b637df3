package api

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"branchline/app"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/telephony"
	"branchline/telephony/telephonyapp"
)

// TelephonyService implements branchline.telephony.v1.TelephonyService on
// a node over the call centre's use cases (telephonyapp.Telephony).
type TelephonyService struct {
	App    *telephonyapp.Telephony
	Grants app.Grants
	Log    *slog.Logger
}

var _ telephonyv1connect.TelephonyServiceHandler = (*TelephonyService)(nil)

func secs(d time.Duration) int32 { return int32(d / time.Second) }
func dur(n int32) time.Duration  { return time.Duration(n) * time.Second }

func extensionPB(e telephony.Extension) *telv1.Extension {
	return &telv1.Extension{Number: e.Number, User: e.User, DisplayName: e.DisplayName}
}

// SetExtension implements TelephonyService.SetExtension.
func (s *TelephonyService) SetExtension(ctx context.Context, req *connect.Request[telv1.SetExtensionRequest]) (*connect.Response[telv1.Extension], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.SetExtensionRequest) (*telv1.Extension, error) {
		in := m.GetExtension()
		e := telephony.Extension{Number: in.GetNumber(), User: in.GetUser(), DisplayName: in.GetDisplayName()}
		return pb(extensionPB)(s.App.SetExtension(ctx, c, e, m.GetPassword()))
	})
}

// DeleteExtension implements TelephonyService.DeleteExtension.
func (s *TelephonyService) DeleteExtension(ctx context.Context, req *connect.Request[telv1.DeleteExtensionRequest]) (*connect.Response[telv1.DeleteExtensionResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.DeleteExtensionRequest) (*telv1.DeleteExtensionResponse, error) {
		return &telv1.DeleteExtensionResponse{}, s.App.DeleteExtension(ctx, c, m.GetNumber())
	})
}

// ListExtensions implements TelephonyService.ListExtensions.
func (s *TelephonyService) ListExtensions(ctx context.Context, req *connect.Request[telv1.ListExtensionsRequest]) (*connect.Response[telv1.ListExtensionsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *telv1.ListExtensionsRequest) (*telv1.ListExtensionsResponse, error) {
		return pb(func(exts []telephonyapp.Extension) *telv1.ListExtensionsResponse {
			out := &telv1.ListExtensionsResponse{}
			for _, e := range exts {
				pe := extensionPB(e.Extension)
				for _, b := range e.Contacts {
					pe.Contacts = append(pe.Contacts, &telv1.Contact{Uri: b.URI.String(), Transport: b.Transport,
						Source: b.Source, ExpireTime: ts(b.Expires), UserAgent: b.UserAgent})
				}
				out.Extensions = append(out.Extensions, pe)
			}
			return out
		})(s.App.Extensions(ctx, c))
	})
}

func trunkPB(t telephony.Trunk) *telv1.Trunk {
	out := &telv1.Trunk{Name: t.Name, Username: t.Username, Dids: t.DIDs, Proxy: t.Proxy, Transport: t.Transport}
	for _, p := range t.Sources {
		out.Sources = append(out.Sources, p.String())
	}
	return out
}

// SetTrunk implements TelephonyService.SetTrunk.
func (s *TelephonyService) SetTrunk(ctx context.Context, req *connect.Request[telv1.SetTrunkRequest]) (*connect.Response[telv1.Trunk], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.SetTrunkRequest) (*telv1.Trunk, error) {
		in := m.GetTrunk()
		t := telephony.Trunk{Name: in.GetName(), Username: in.GetUsername(), DIDs: in.GetDids(), Proxy: in.GetProxy(), Transport: in.GetTransport()}
		return pb(trunkPB)(s.App.SetTrunk(ctx, c, t, in.GetSources(), m.GetPassword()))
	})
}

// DeleteTrunk implements TelephonyService.DeleteTrunk.
func (s *TelephonyService) DeleteTrunk(ctx context.Context, req *connect.Request[telv1.DeleteTrunkRequest]) (*connect.Response[telv1.DeleteTrunkResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.DeleteTrunkRequest) (*telv1.DeleteTrunkResponse, error) {
		return &telv1.DeleteTrunkResponse{}, s.App.DeleteTrunk(ctx, c, m.GetName())
	})
}

// ListTrunks implements TelephonyService.ListTrunks.
func (s *TelephonyService) ListTrunks(ctx context.Context, req *connect.Request[telv1.ListTrunksRequest]) (*connect.Response[telv1.ListTrunksResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *telv1.ListTrunksRequest) (*telv1.ListTrunksResponse, error) {
		return pb(func(ts []telephony.Trunk) *telv1.ListTrunksResponse {
			return &telv1.ListTrunksResponse{Trunks: each(ts, trunkPB)}
		})(s.App.Trunks(ctx, c))
	})
}

func queuePB(q telephonyapp.Queue) *telv1.Queue {
	out := &telv1.Queue{Name: q.Name, DisplayName: q.DisplayName, Strategy: string(q.Strategy), Fallback: string(q.Fallback),
		RingTimeoutSecs: secs(q.RingTimeout), WrapUpSecs: secs(q.WrapUp), OverflowQueue: q.OverflowQueue,
		OverflowAfterSecs: secs(q.OverflowAfter), MaxWaitSecs: secs(q.MaxWait), Dids: q.DIDs,
		ServiceLevelSecs: secs(q.ServiceLevel), Waiting: int32(q.Live.Waiting), LongestWaitSecs: secs(q.Live.LongestWait),
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

// SetQueue implements TelephonyService.SetQueue.
func (s *TelephonyService) SetQueue(ctx context.Context, req *connect.Request[telv1.SetQueueRequest]) (*connect.Response[telv1.Queue], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.SetQueueRequest) (*telv1.Queue, error) {
		in := m.GetQueue()
		q := telephony.Queue{Name: in.GetName(), DisplayName: in.GetDisplayName(), Strategy: telephony.Strategy(in.GetStrategy()),
			Fallback: telephony.Strategy(in.GetFallback()), RingTimeout: dur(in.GetRingTimeoutSecs()), WrapUp: dur(in.GetWrapUpSecs()),
			OverflowQueue: in.GetOverflowQueue(), OverflowAfter: dur(in.GetOverflowAfterSecs()), MaxWait: dur(in.GetMaxWaitSecs()),
			DIDs: in.GetDids(), ServiceLevel: dur(in.GetServiceLevelSecs())}
		return pb(queuePB)(s.App.SetQueue(ctx, c, q, in.GetNoAnswerPause()))
	})
}

// DeleteQueue implements TelephonyService.DeleteQueue.
func (s *TelephonyService) DeleteQueue(ctx context.Context, req *connect.Request[telv1.DeleteQueueRequest]) (*connect.Response[telv1.DeleteQueueResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.DeleteQueueRequest) (*telv1.DeleteQueueResponse, error) {
		return &telv1.DeleteQueueResponse{}, s.App.DeleteQueue(ctx, c, m.GetName())
	})
}

// ListQueues implements TelephonyService.ListQueues.
func (s *TelephonyService) ListQueues(ctx context.Context, req *connect.Request[telv1.ListQueuesRequest]) (*connect.Response[telv1.ListQueuesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *telv1.ListQueuesRequest) (*telv1.ListQueuesResponse, error) {
		return pb(func(qs []telephonyapp.Queue) *telv1.ListQueuesResponse {
			return &telv1.ListQueuesResponse{Queues: each(qs, queuePB)}
		})(s.App.Queues(ctx, c))
	})
}

// AddQueueMember implements TelephonyService.AddQueueMember.
func (s *TelephonyService) AddQueueMember(ctx context.Context, req *connect.Request[telv1.AddQueueMemberRequest]) (*connect.Response[telv1.Queue], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.AddQueueMemberRequest) (*telv1.Queue, error) {
		in := m.GetMember()
		return pb(queuePB)(s.App.AddMember(ctx, c, m.GetQueue(), telephonyapp.MemberInput{User: in.GetUser(),
			Priority: int(in.GetPriority()), Windows: in.GetWindows()}))
	})
}

// RemoveQueueMember implements TelephonyService.RemoveQueueMember.
func (s *TelephonyService) RemoveQueueMember(ctx context.Context, req *connect.Request[telv1.RemoveQueueMemberRequest]) (*connect.Response[telv1.Queue], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *telv1.RemoveQueueMemberRequest) (*telv1.Queue, error) {
		return pb(queuePB)(s.App.RemoveMember(ctx, c, m.GetQueue(), m.GetUser()))
	})
}
