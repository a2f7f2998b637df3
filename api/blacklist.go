package api

import (
	"context"
	"log/slog"
	"strconv"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
)

// BlacklistService implements branchline.crm.v1.BlacklistService on a
// node over the blacklist use cases (crmapp.Blacklist).
type BlacklistService struct {
	App    *crmapp.Blacklist
	Grants app.Grants
	Log    *slog.Logger
}

var _ crmv1connect.BlacklistServiceHandler = (*BlacklistService)(nil)

const blacklistNamePrefix = "blacklist/"

func blacklistEntryPB(e crmapp.Entry) *crmv1.BlacklistEntry {
	out := &crmv1.BlacklistEntry{
		Name: blacklistNamePrefix + e.Key, Number: e.Number, NumberMasked: e.NumberMasked,
		Listed: e.Listed, Direct: e.Direct, Flags: int32(e.Flags), Threshold: int32(e.Threshold),
		Policy: e.Policy.Proto(), Active: e.Active, Rejects: e.Rejects, Reason: e.Reason,
		UnlistedBy: e.UnlistedBy, UnlistReason: e.UnlistReason, UnlistTime: ts(e.UnlistedAt),
	}
	if len(e.Windows.Windows) > 0 || e.Windows.TimeZone != "" {
		out.Windows = &crmv1.BlacklistWindows{TimeZone: e.Windows.TimeZone}
		for _, w := range e.Windows.Windows {
			out.Windows.Windows = append(out.Windows.Windows, &crmv1.BlacklistWindow{Days: w.Days, Start: w.Start, End: w.End})
		}
	}
	for _, h := range e.History {
		out.History = append(out.History, &crmv1.BlacklistEvent{Action: h.Action, Actor: h.Actor, Reason: h.Reason, Origin: h.Origin, Time: ts(h.Time)})
	}
	return out
}

// target is the number a request names by number or by entry name.
func target(number, name string) crmapp.Target {
	t := crmapp.Target{Number: number}
	if name != "" {
		t.Key = nameID(blacklistNamePrefix, name)
	}
	return t
}

// Flag implements BlacklistService.Flag.
func (s *BlacklistService) Flag(ctx context.Context, req *connect.Request[crmv1.FlagNumberRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.FlagNumberRequest) (*crmv1.BlacklistEntry, error) {
		return pb(blacklistEntryPB)(s.App.Flag(ctx, c, m.GetNumber(), m.GetReason()))
	})
}

// Blacklist implements BlacklistService.Blacklist.
func (s *BlacklistService) Blacklist(ctx context.Context, req *connect.Request[crmv1.BlacklistNumberRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.BlacklistNumberRequest) (*crmv1.BlacklistEntry, error) {
		l := crmapp.Listing{Number: m.GetNumber(), Reason: m.GetReason(), Policy: crm.PolicyOf(m.GetPolicy()),
			Windows: crmapp.Windows{TimeZone: m.GetWindows().GetTimeZone()}}
		for _, w := range m.GetWindows().GetWindows() {
			l.Windows.Windows = append(l.Windows.Windows, crmapp.Window{Days: w.GetDays(), Start: w.GetStart(), End: w.GetEnd()})
		}
		return pb(blacklistEntryPB)(s.App.List(ctx, c, l))
	})
}

// Unblacklist implements BlacklistService.Unblacklist.
func (s *BlacklistService) Unblacklist(ctx context.Context, req *connect.Request[crmv1.UnblacklistNumberRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.UnblacklistNumberRequest) (*crmv1.BlacklistEntry, error) {
		return pb(blacklistEntryPB)(s.App.Unlist(ctx, c, target(m.GetNumber(), m.GetName()), m.GetReason()))
	})
}

// GetStatus implements BlacklistService.GetStatus.
func (s *BlacklistService) GetStatus(ctx context.Context, req *connect.Request[crmv1.GetBlacklistStatusRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.GetBlacklistStatusRequest) (*crmv1.BlacklistEntry, error) {
		return pb(blacklistEntryPB)(s.App.Status(ctx, c, target(m.GetNumber(), m.GetName())))
	})
}

// List implements BlacklistService.List.
func (s *BlacklistService) List(ctx context.Context, req *connect.Request[crmv1.ListBlacklistRequest]) (*connect.Response[crmv1.ListBlacklistResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ListBlacklistRequest) (*crmv1.ListBlacklistResponse, error) {
		return pb(func(p app.Page[crmapp.Entry]) *crmv1.ListBlacklistResponse {
			return &crmv1.ListBlacklistResponse{Entries: each(p.Items, blacklistEntryPB), NextPageToken: p.Next}
		})(s.App.Entries(ctx, c, m.GetIncludeFlagged(), int(m.GetPageSize()), m.GetPageToken()))
	})
}

func paramsPB(p crmapp.Params) *crmv1.BlacklistParams {
	return &crmv1.BlacklistParams{Threshold: int32(p.Threshold), DefaultPolicy: p.Policy.Proto()}
}

// SetParams implements BlacklistService.SetParams.
func (s *BlacklistService) SetParams(ctx context.Context, req *connect.Request[crmv1.SetBlacklistParamsRequest]) (*connect.Response[crmv1.BlacklistParams], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.SetBlacklistParamsRequest) (*crmv1.BlacklistParams, error) {
		ch := crmapp.ParamsChange{Threshold: int(m.GetThreshold()), Policy: crm.PolicyOf(m.GetDefaultPolicy())}
		if p := m.GetDefaultPolicy(); ch.Policy == "" && p != crmv1.BlacklistPolicy_BLACKLIST_POLICY_UNSPECIFIED {
			ch.BadPolicy = strconv.Itoa(int(p))
		}
		return pb(paramsPB)(s.App.SetParams(ctx, c, ch))
	})
}

// GetParams implements BlacklistService.GetParams.
func (s *BlacklistService) GetParams(ctx context.Context, req *connect.Request[crmv1.GetBlacklistParamsRequest]) (*connect.Response[crmv1.BlacklistParams], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *crmv1.GetBlacklistParamsRequest) (*crmv1.BlacklistParams, error) {
		return pb(paramsPB)(s.App.Params(ctx, c))
	})
}

// GetCustomerStatus implements BlacklistService.GetCustomerStatus.
func (s *BlacklistService) GetCustomerStatus(ctx context.Context, req *connect.Request[crmv1.GetCustomerBlacklistStatusRequest]) (*connect.Response[crmv1.GetCustomerBlacklistStatusResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.GetCustomerBlacklistStatusRequest) (*crmv1.GetCustomerBlacklistStatusResponse, error) {
		return pb(func(es []crmapp.Entry) *crmv1.GetCustomerBlacklistStatusResponse {
			return &crmv1.GetCustomerBlacklistStatusResponse{Entries: each(es, blacklistEntryPB)}
		})(s.App.CustomerStatus(ctx, c, nameID(customerPrefix, m.GetCustomer())))
	})
}
