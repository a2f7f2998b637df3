package api

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/replication"
)

// BlacklistService implements branchline.crm.v1.BlacklistService on a
// node. Flag needs access.BlacklistFlag; Blacklist, Unblacklist and
// SetParams access.BlacklistManage; reads access.CustomerRead. Numbers are
// masked unless the caller has access.PhoneView.
type BlacklistService struct {
	Store  Store
	Grants Grants
	IDs    *replication.IDs // unused; kept so that every service is built alike
	Log    *slog.Logger
	// Now is the clock time windows are judged by; nil means time.Now.
	Now func() time.Time
}

var _ crmv1connect.BlacklistServiceHandler = (*BlacklistService)(nil)

const (
	blacklistNamePrefix = "blacklist/"
	blacklistHistoryLen = 20
)

func (s *BlacklistService) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// blacklistTS converts a stamp's time, nil for none.
func blacklistTS(h replication.HLC) *timestamppb.Timestamp {
	if h == 0 {
		return nil
	}
	return timestamppb.New(h.Time())
}

func blacklistEntryToProto(st crm.Status, g *access.Grant) *crmv1.BlacklistEntry {
	out := &crmv1.BlacklistEntry{
		Name: blacklistNamePrefix + crm.BlacklistKey(st.Number), Number: st.Number,
		Listed: st.Listed, Direct: st.Direct, Flags: int32(st.Flags), Threshold: int32(st.Threshold),
		Policy: st.Policy.Proto(), Active: st.Active, Rejects: st.Rejects(), Reason: st.Reason, Windows: st.Windows,
	}
	out.Number, out.NumberMasked = phoneFor(g, st.Number)
	if u := st.Unlisted; u != nil {
		out.UnlistedBy, out.UnlistReason, out.UnlistTime = u.Actor, u.Reason, blacklistTS(u.At)
	}
	return out
}

// blacklistTarget returns the number a request names by number or by
// entry name (exactly one of them).
func blacklistTarget(views replication.Tx, number, name string) (string, error) {
	switch {
	case number != "" && name != "":
		return "", fault.Invalidf("name", "both", "give the number or the name, not both")
	case name != "":
		key, ok := strings.CutPrefix(name, blacklistNamePrefix)
		if !ok {
			return "", fault.Invalidf("name", "bad_name", "%q is not a blacklist entry name (blacklist/{key})", name)
		}
		return crm.BlacklistNumberByKey(views, key)
	case number == "":
		return "", fault.Invalidf("number", "required", "is required")
	}
	return number, nil
}

// status reads the entry of number after a change, or for GetStatus.
func (s *BlacklistService) status(g *access.Grant, number string, history bool) (*connect.Response[crmv1.BlacklistEntry], error) {
	now := s.now()
	var out *crmv1.BlacklistEntry
	err := s.Store.View(func(views replication.Tx) error {
		st, err := crm.BlacklistStatus(views, number, now)
		if err != nil {
			return err
		}
		out = blacklistEntryToProto(st, g)
		if !history {
			return nil
		}
		hist, err := crm.BlacklistHistory(views, st.Number, blacklistHistoryLen)
		for _, h := range hist {
			out.History = append(out.History, &crmv1.BlacklistEvent{Action: h.Action, Actor: h.Actor, Reason: h.Reason, Origin: h.Origin, Time: blacklistTS(h.At)})
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// Flag implements BlacklistService.Flag.
func (s *BlacklistService) Flag(ctx context.Context, req *connect.Request[crmv1.FlagNumberRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	g, err := Require(ctx, s.Grants, access.BlacklistFlag)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		d, ok, err := crm.FlagNumber(views, g.User, req.Msg.GetNumber(), req.Msg.GetReason())
		if err != nil || !ok {
			return nil, err
		}
		return []replication.Draft{d}, nil
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.status(g, req.Msg.GetNumber(), false)
}

// Blacklist implements BlacklistService.Blacklist.
func (s *BlacklistService) Blacklist(ctx context.Context, req *connect.Request[crmv1.BlacklistNumberRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	g, err := Require(ctx, s.Grants, access.BlacklistManage)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.BlacklistNumber(views, m.GetNumber(), m.GetReason(), crm.PolicyOf(m.GetPolicy()), m.GetWindows())
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.status(g, m.GetNumber(), false)
}

// Unblacklist implements BlacklistService.Unblacklist.
func (s *BlacklistService) Unblacklist(ctx context.Context, req *connect.Request[crmv1.UnblacklistNumberRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	g, err := Require(ctx, s.Grants, access.BlacklistManage)
	if err != nil {
		return nil, err
	}
	var number string
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		n, err := blacklistTarget(views, req.Msg.GetNumber(), req.Msg.GetName())
		if err != nil {
			return nil, err
		}
		number = n
		d, err := crm.UnblacklistNumber(views, n, req.Msg.GetReason())
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.status(g, number, false)
}

// GetStatus implements BlacklistService.GetStatus.
func (s *BlacklistService) GetStatus(ctx context.Context, req *connect.Request[crmv1.GetBlacklistStatusRequest]) (*connect.Response[crmv1.BlacklistEntry], error) {
	g, err := Require(ctx, s.Grants, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	var number string
	if err := s.Store.View(func(views replication.Tx) error {
		number, err = blacklistTarget(views, req.Msg.GetNumber(), req.Msg.GetName())
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.status(g, number, true)
}

// List implements BlacklistService.List.
func (s *BlacklistService) List(ctx context.Context, req *connect.Request[crmv1.ListBlacklistRequest]) (*connect.Response[crmv1.ListBlacklistResponse], error) {
	g, err := Require(ctx, s.Grants, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	after := req.Msg.GetPageToken()
	if after != "" && (len(after) != 32 || strings.Trim(after, "0123456789abcdef") != "") {
		return nil, Error(s.Log, fault.Invalidf("page_token", "bad_token", "not a page token of this list"))
	}
	now := s.now()
	var sts []crm.Status
	if err := s.Store.View(func(views replication.Tx) error {
		sts, err = crm.ListBlacklist(views, after, size+1, req.Msg.GetIncludeFlagged(), now)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &crmv1.ListBlacklistResponse{}
	if len(sts) > size {
		sts = sts[:size]
		resp.NextPageToken = crm.BlacklistKey(sts[size-1].Number)
	}
	for _, st := range sts {
		resp.Entries = append(resp.Entries, blacklistEntryToProto(st, g))
	}
	return connect.NewResponse(resp), nil
}

func (s *BlacklistService) params() (*connect.Response[crmv1.BlacklistParams], error) {
	out := &crmv1.BlacklistParams{}
	err := s.Store.View(func(views replication.Tx) error {
		t, err := crm.GetParam(views, crm.ParamBlacklistThreshold, strconv.Itoa(crm.DefaultBlacklistThreshold))
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			n = crm.DefaultBlacklistThreshold
		}
		p, err := crm.GetParam(views, crm.ParamBlacklistPolicy, string(crm.DefaultBlacklistPolicy))
		out.Threshold, out.DefaultPolicy = int32(n), crm.Policy(p).Proto()
		if out.DefaultPolicy == crmv1.BlacklistPolicy_BLACKLIST_POLICY_UNSPECIFIED {
			out.DefaultPolicy = crm.DefaultBlacklistPolicy.Proto()
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// SetParams implements BlacklistService.SetParams.
func (s *BlacklistService) SetParams(ctx context.Context, req *connect.Request[crmv1.SetBlacklistParamsRequest]) (*connect.Response[crmv1.BlacklistParams], error) {
	g, err := Require(ctx, s.Grants, access.BlacklistManage)
	if err != nil {
		return nil, err
	}
	set := map[string]string{}
	switch t := req.Msg.GetThreshold(); {
	case t < 0:
		return nil, Error(s.Log, fault.Invalidf("threshold", "bad_threshold", "must be a whole number from 1 to %d", crm.MaxBlacklistThreshold))
	case t > 0:
		set[crm.ParamBlacklistThreshold] = strconv.Itoa(int(t))
	}
	switch p := req.Msg.GetDefaultPolicy(); {
	case crm.PolicyOf(p) != "":
		set[crm.ParamBlacklistPolicy] = string(crm.PolicyOf(p))
	case p != crmv1.BlacklistPolicy_BLACKLIST_POLICY_UNSPECIFIED:
		return nil, Error(s.Log, fault.Invalidf("default_policy", "bad_policy", "unknown policy %d", p))
	}
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		var out []replication.Draft
		for _, k := range []string{crm.ParamBlacklistThreshold, crm.ParamBlacklistPolicy} {
			v, ok := set[k]
			if !ok {
				continue
			}
			d, changed, err := crm.SetParam(views, k, v)
			if err != nil {
				return nil, err
			}
			if changed {
				out = append(out, d)
			}
		}
		return out, nil
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.params()
}

// GetParams implements BlacklistService.GetParams.
func (s *BlacklistService) GetParams(ctx context.Context, _ *connect.Request[crmv1.GetBlacklistParamsRequest]) (*connect.Response[crmv1.BlacklistParams], error) {
	if _, err := Require(ctx, s.Grants, access.CustomerRead); err != nil {
		return nil, err
	}
	return s.params()
}

// GetCustomerStatus implements BlacklistService.GetCustomerStatus. The
// numbers are read on the server, so a caller without the phone
// permission gets the warnings too, with the numbers masked.
func (s *BlacklistService) GetCustomerStatus(ctx context.Context, req *connect.Request[crmv1.GetCustomerBlacklistStatusRequest]) (*connect.Response[crmv1.GetCustomerBlacklistStatusResponse], error) {
	g, err := Require(ctx, s.Grants, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	id, err := customerID(req.Msg.GetCustomer())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	now := s.now()
	out := &crmv1.GetCustomerBlacklistStatusResponse{}
	err = s.Store.View(func(views replication.Tx) error {
		rep, err := crm.Resolve(views, id)
		if err != nil {
			return err
		}
		c, err := crm.GetCustomer(views, rep)
		if err != nil {
			return err
		}
		if !g.Reaches(access.CustomerRead, c.Get("owner"), c.Get("department")) {
			return fault.ErrDenied
		}
		var numbers []string
		add := func(fields map[string]string, names ...string) {
			for _, n := range names {
				if v := fields[n]; v != "" && !slices.Contains(numbers, v) {
					numbers = append(numbers, v)
				}
			}
		}
		add(c.Fields, "mobile", "phone", "finance_phone")
		contacts, err := crm.Contacts(views, rep)
		if err != nil {
			return err
		}
		for _, ct := range contacts {
			for name := range ct.Fields {
				if crm.IsPhoneField(name) {
					add(ct.Fields, name)
				}
			}
		}
		for _, n := range numbers {
			st, err := crm.BlacklistStatus(views, n, now)
			if _, bad := fault.AsInvalid(err); bad {
				continue // not a number the blacklist keys (stored before normalisation rules changed)
			}
			if err != nil {
				return err
			}
			if st.Listed || st.Flags > 0 {
				out.Entries = append(out.Entries, blacklistEntryToProto(st, g))
			}
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}
