package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/telephony"
	"branchline/telephony/pbx"
	"branchline/telephony/telephonyapp"
)

// telStore runs commands on in-memory views as the node's store does.
type telStore struct {
	mu    sync.Mutex
	reg   *replication.Registry
	m     *reptest.Mem
	views *replication.Views
	seq   uint64
	clock *replication.Clock
}

func newTelStore(t *testing.T) *telStore {
	reg := replication.NewRegistry()
	telephony.Register(reg)
	crm.RegisterCustomers(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &telStore{reg: reg, m: m, views: v, clock: replication.NewClock(nil, 0, 0)}
}

func (s *telStore) Exec(_ context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drafts, err := cmd(replication.ReadViews(s.m))
	if err != nil {
		return nil, err
	}
	b := s.views.Begin(s.m)
	var out []*replication.Event
	for _, d := range drafts {
		body, err := proto.Marshal(d.Body)
		if err != nil {
			return nil, err
		}
		s.seq++
		ev := &replication.Event{Origin: "sh-pudong", Seq: s.seq, HLC: s.clock.Now(), Kind: d.Kind, Entity: d.Entity, Actor: actor, Body: body}
		if err := s.reg.Check(ev); err != nil {
			return nil, err
		}
		if _, err := b.Apply(ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	if err := b.Finish(); err != nil {
		return nil, err
	}
	b.Commit()
	return out, nil
}

func (s *telStore) View(fn func(views replication.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(replication.ReadViews(s.m))
}

// telGrants: admin may do everything, sup supervises, agent1 and agent2
// take calls, agent.phone too and sees phone numbers, agent.crm too and
// reads customers, others nothing.
func telGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	switch p.User {
	case "admin":
		return access.Superuser(p.User), nil
	case "sup":
		return &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{access.Supervise: access.ScopeAll}}, nil
	case "agent1", "agent2":
		return &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{access.CallAgent: access.ScopeAll}}, nil
	case "agent.phone":
		return &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{access.CallAgent: access.ScopeAll, access.PhoneView: access.ScopeOwn}}, nil
	case "agent.crm":
		return &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{access.CallAgent: access.ScopeAll, access.CustomerRead: access.ScopeAll}}, nil
	}
	return &access.Grant{User: p.User}, nil
}

func asUser(user string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{User: user})
}

func wantTelCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("want %v, got %v", code, err)
	}
}

// fakeSwitch records what the service asks of the switch.
type fakeSwitch struct {
	calls   map[string]pbx.CallInfo
	hung    []string
	dialled []string // "user number" of each Dial
}

func (f *fakeSwitch) Login(user, ext string, ready bool) (pbx.AgentInfo, error) {
	return pbx.AgentInfo{User: user, Extension: ext, State: telephony.Ready}, nil
}
func (f *fakeSwitch) Logout(user string) (pbx.AgentInfo, error) {
	return pbx.AgentInfo{User: user, State: telephony.LoggedOut}, nil
}
func (f *fakeSwitch) SetAgentState(user string, st telephony.AgentState, reason string) (pbx.AgentInfo, error) {
	if st != telephony.Ready && st != telephony.NotReady {
		return pbx.AgentInfo{}, fault.Invalidf("state", "bad_state", "no")
	}
	return pbx.AgentInfo{User: user, State: st, Reason: reason}, nil
}
func (f *fakeSwitch) Agent(user string) pbx.AgentInfo { return pbx.AgentInfo{User: user} }
func (f *fakeSwitch) Dial(_ context.Context, user, number string) (string, error) {
	f.dialled = append(f.dialled, user+" "+number)
	return "01J0000000000000000000000A", nil
}
func (f *fakeSwitch) Hangup(_ context.Context, id, by string) error {
	f.hung = append(f.hung, id+" by "+by)
	return nil
}
func (f *fakeSwitch) Hold(context.Context, string, bool, string) error       { return nil }
func (f *fakeSwitch) Transfer(context.Context, string, string, string) error { return nil }
func (f *fakeSwitch) Call(id string) (pbx.CallInfo, bool) {
	c, ok := f.calls[id]
	return c, ok
}
func (f *fakeSwitch) Board() pbx.Board {
	return pbx.Board{Queues: []pbx.QueueInfo{{Name: "sales", Waiting: 2}}}
}
func (f *fakeSwitch) Registrations() map[string][]pbx.Binding { return nil }
func (f *fakeSwitch) SendMessage(context.Context, string, string, string) (*telephony.Message, error) {
	return nil, errors.New("not used")
}
func (f *fakeSwitch) Message(string) (*telephony.Message, error) { return nil, errors.New("not used") }
func (f *fakeSwitch) ConfigChanged()                             {}

func newTelService(t *testing.T) (*TelephonyService, *telStore) {
	st := newTelStore(t)
	return &TelephonyService{App: &telephonyapp.Telephony{Store: st, Location: time.UTC}, Grants: telGrants,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, st
}

func TestTelephonyConfig(t *testing.T) {
	s, _ := newTelService(t)
	_, err := s.SetExtension(asUser("agent1"), connect.NewRequest(&telv1.SetExtensionRequest{
		Extension: &telv1.Extension{Number: "8001", User: "agent1"}, Password: "secret1"}))
	wantTelCode(t, err, connect.CodePermissionDenied)
	if _, err := s.SetExtension(asUser("admin"), connect.NewRequest(&telv1.SetExtensionRequest{
		Extension: &telv1.Extension{Number: "8001", User: "agent1"}, Password: "secret1"})); err != nil {
		t.Fatal(err)
	}
	_, err = s.SetExtension(asUser("admin"), connect.NewRequest(&telv1.SetExtensionRequest{Extension: &telv1.Extension{Number: "x"}, Password: "secret1"}))
	wantTelCode(t, err, connect.CodeInvalidArgument)
	tr, err := s.SetTrunk(asUser("admin"), connect.NewRequest(&telv1.SetTrunkRequest{Trunk: &telv1.Trunk{
		Name: "carrier", Sources: []string{"10.0.0.0/8"}, Dids: []string{"4000"}, Proxy: "10.0.0.1:5060"}}))
	if err != nil || tr.Msg.GetSources()[0] != "10.0.0.0/8" || tr.Msg.GetProxy() != "10.0.0.1:5060" {
		t.Fatalf("SetTrunk = %v, %v", tr, err)
	}
	q, err := s.SetQueue(asUser("admin"), connect.NewRequest(&telv1.SetQueueRequest{Queue: &telv1.Queue{
		Name: "sales", Strategy: "round_robin", RingTimeoutSecs: 10, Dids: []string{"4000"}}}))
	if err != nil || q.Msg.GetRingTimeoutSecs() != 10 {
		t.Fatalf("SetQueue = %v, %v", q, err)
	}
	_, err = s.SetQueue(asUser("admin"), connect.NewRequest(&telv1.SetQueueRequest{Queue: &telv1.Queue{Name: "bad", Strategy: "random"}}))
	wantTelCode(t, err, connect.CodeInvalidArgument)
	q, err = s.AddQueueMember(asUser("admin"), connect.NewRequest(&telv1.AddQueueMemberRequest{Queue: "sales",
		Member: &telv1.Member{User: "agent1", Priority: 2, Windows: []string{"1-5 08:00-18:00"}}}))
	if err != nil || len(q.Msg.GetMembers()) != 1 || q.Msg.GetMembers()[0].GetWindows()[0] != "1-5 08:00-18:00" {
		t.Fatalf("AddQueueMember = %v, %v", q, err)
	}
	_, err = s.AddQueueMember(asUser("admin"), connect.NewRequest(&telv1.AddQueueMemberRequest{Queue: "nope", Member: &telv1.Member{User: "a"}}))
	wantTelCode(t, err, connect.CodeNotFound)
	// Supervisors may look, not change.
	if l, err := s.ListQueues(asUser("sup"), connect.NewRequest(&telv1.ListQueuesRequest{})); err != nil || len(l.Msg.GetQueues()) != 1 {
		t.Fatalf("ListQueues = %v, %v", l, err)
	}
	_, err = s.DeleteQueue(asUser("sup"), connect.NewRequest(&telv1.DeleteQueueRequest{Name: "sales"}))
	wantTelCode(t, err, connect.CodePermissionDenied)
	if _, err := s.RemoveQueueMember(asUser("admin"), connect.NewRequest(&telv1.RemoveQueueMemberRequest{Queue: "sales", User: "agent1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteExtension(asUser("admin"), connect.NewRequest(&telv1.DeleteExtensionRequest{Number: "8001"})); err != nil {
		t.Fatal(err)
	}
	l, err := s.ListExtensions(asUser("admin"), connect.NewRequest(&telv1.ListExtensionsRequest{}))
	if err != nil || len(l.Msg.GetExtensions()) != 0 {
		t.Fatalf("ListExtensions after delete = %v, %v", l, err)
	}
}

func TestTelephonyAgentsAndCalls(t *testing.T) {
	s, _ := newTelService(t)
	_, err := s.AgentLogin(asUser("agent1"), connect.NewRequest(&telv1.AgentLoginRequest{Extension: "8001"}))
	wantTelCode(t, err, connect.CodeUnavailable) // no --sip
	sw := &fakeSwitch{calls: map[string]pbx.CallInfo{"c1": {ID: "c1", Agent: "agent1"}}}
	s.App.Switch = sw
	a, err := s.AgentLogin(asUser("agent1"), connect.NewRequest(&telv1.AgentLoginRequest{Extension: "8001"}))
	if err != nil || a.Msg.GetUser() != "agent1" || a.Msg.GetState() != "ready" {
		t.Fatalf("AgentLogin = %v, %v", a, err)
	}
	_, err = s.SetAgentState(asUser("agent1"), connect.NewRequest(&telv1.SetAgentStateRequest{State: "not_ready", Reason: "lunch\r\nX"}))
	wantTelCode(t, err, connect.CodeInvalidArgument)
	// Only the call's agent or a supervisor controls a call.
	_, err = s.Hangup(asUser("agent2"), connect.NewRequest(&telv1.HangupRequest{Call: "c1"}))
	wantTelCode(t, err, connect.CodePermissionDenied)
	if _, err := s.Hangup(asUser("agent1"), connect.NewRequest(&telv1.HangupRequest{Call: "c1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hangup(asUser("sup"), connect.NewRequest(&telv1.HangupRequest{Call: "c1"})); err != nil {
		t.Fatal(err)
	}
	_, err = s.Hangup(asUser("sup"), connect.NewRequest(&telv1.HangupRequest{Call: "nope"}))
	wantTelCode(t, err, connect.CodeNotFound)
	if fmt.Sprint(sw.hung) != "[c1 by agent1 c1 by sup]" {
		t.Fatalf("hung up %v", sw.hung)
	}
	_, err = s.GetBoard(asUser("agent1"), connect.NewRequest(&telv1.GetBoardRequest{}))
	wantTelCode(t, err, connect.CodePermissionDenied)
	b, err := s.GetBoard(asUser("sup"), connect.NewRequest(&telv1.GetBoardRequest{}))
	if err != nil || b.Msg.GetQueues()[0].GetWaiting() != 2 || b.Msg.GetToday() == nil {
		t.Fatalf("GetBoard = %v, %v", b, err)
	}
}

func TestTelephonyRecordsAndCallbacks(t *testing.T) {
	s, st := newTelService(t)
	ids := replication.NewIDs()
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var callIDs []string
	for i := range 5 {
		arrive := day.Add(time.Duration(9*60+i) * time.Minute)
		agent := "agent1"
		if i%2 == 1 {
			agent = "agent2"
		}
		r := &telephony.Record{ID: ids.New(arrive), Direction: telephony.Inbound, Caller: "1380000000" + fmt.Sprint(i),
			Queue: "sales", Agent: agent, Arrive: arrive, Answer: arrive.Add(10 * time.Second), End: arrive.Add(70 * time.Second),
			Disposition: telephony.Answered, HangupBy: telephony.ByCaller}
		callIDs = append(callIDs, r.ID)
		if _, err := st.Exec(context.Background(), "", func(replication.Tx) ([]replication.Draft, error) {
			return app.One(telephony.EndCall(r))
		}); err != nil {
			t.Fatal(err)
		}
	}
	from, to := timestamppb.New(day), timestamppb.New(day.Add(24*time.Hour))
	var got []string
	tok := ""
	for {
		resp, err := s.ListCallRecords(asUser("sup"), connect.NewRequest(&telv1.ListCallRecordsRequest{From: from, To: to, PageSize: 2, PageToken: tok}))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Msg.GetRecords() {
			got = append(got, r.GetId())
		}
		if tok = resp.Msg.GetNextPageToken(); tok == "" {
			break
		}
	}
	if len(got) != 5 || got[0] != callIDs[4] || got[4] != callIDs[0] {
		t.Fatalf("pages, newest first = %v", got)
	}
	mine, err := s.ListCallRecords(asUser("agent2"), connect.NewRequest(&telv1.ListCallRecordsRequest{From: from, To: to}))
	if err != nil || len(mine.Msg.GetRecords()) != 2 {
		t.Fatalf("agent2's records = %v, %v", mine, err)
	}
	k, err := s.GetKPIs(asUser("sup"), connect.NewRequest(&telv1.GetKPIsRequest{Day: "2026-01-05"}))
	if err != nil || k.Msg.GetCallsIn() != 5 || k.Msg.GetAsaSecs() != 10 || k.Msg.GetServiceLevel() != 1 {
		t.Fatalf("KPIs = %v, %v", k, err)
	}
	_, err = s.GetKPIs(asUser("sup"), connect.NewRequest(&telv1.GetKPIsRequest{Day: "5.1.2026"}))
	wantTelCode(t, err, connect.CodeInvalidArgument)

	cbID := ids.New(day)
	if _, err := st.Exec(context.Background(), "", func(replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.CreateCallback(cbID, "13800000009", callIDs[0], "sales", telephony.ReasonAbandoned, day))
	}); err != nil {
		t.Fatal(err)
	}
	open, err := s.ListCallbacks(asUser("agent1"), connect.NewRequest(&telv1.ListCallbacksRequest{Status: "open"}))
	if err != nil || len(open.Msg.GetCallbacks()) != 1 {
		t.Fatalf("open callbacks for an agent = %v, %v", open, err)
	}
	_, err = s.AssignCallback(asUser("agent1"), connect.NewRequest(&telv1.AssignCallbackRequest{Id: cbID, Agent: "agent2"}))
	wantTelCode(t, err, connect.CodePermissionDenied)
	cb, err := s.AssignCallback(asUser("agent1"), connect.NewRequest(&telv1.AssignCallbackRequest{Id: cbID}))
	if err != nil || cb.Msg.GetAgent() != "agent1" || cb.Msg.GetStatus() != "assigned" {
		t.Fatalf("assign to self = %v, %v", cb, err)
	}
	_, err = s.CompleteCallback(asUser("agent2"), connect.NewRequest(&telv1.CompleteCallbackRequest{Id: cbID}))
	wantTelCode(t, err, connect.CodePermissionDenied)
	cb, err = s.CompleteCallback(asUser("agent1"), connect.NewRequest(&telv1.CompleteCallbackRequest{Id: cbID, Note: "called back"}))
	if err != nil || cb.Msg.GetStatus() != "done" || cb.Msg.GetDoneBy() != "agent1" {
		t.Fatalf("complete = %v, %v", cb, err)
	}
	_, err = s.CompleteCallback(asUser("agent1"), connect.NewRequest(&telv1.CompleteCallbackRequest{Id: cbID}))
	wantTelCode(t, err, connect.CodeAlreadyExists)
}

// TestTelephonyMasksNumbers: callers without the phone permission see the
// outside party's number of records, callbacks and live calls masked, and
// still call it back by the record's or callback's id.
func TestTelephonyMasksNumbers(t *testing.T) {
	s, st := newTelService(t)
	sw := &fakeSwitch{}
	s.App.Switch = sw
	ids := replication.NewIDs()
	day := time.Now().Add(-time.Hour)
	exec := func(d replication.Draft, err error) {
		t.Helper()
		if _, err := st.Exec(context.Background(), "", func(replication.Tx) ([]replication.Draft, error) { return app.One(d, err) }); err != nil {
			t.Fatal(err)
		}
	}
	in := &telephony.Record{ID: ids.New(day), Direction: telephony.Inbound, Caller: "13800138000", DID: "4000", Agent: "agent1",
		Arrive: day, End: day.Add(time.Minute), Disposition: telephony.Answered, HangupBy: telephony.ByCaller}
	out := &telephony.Record{ID: ids.New(day.Add(time.Second)), Direction: telephony.Outbound, Caller: "8001", DID: "13900139000", Agent: "agent2",
		Arrive: day.Add(time.Second), End: day.Add(time.Minute), Disposition: telephony.Answered, HangupBy: telephony.ByAgent}
	internal := &telephony.Record{ID: ids.New(day.Add(2 * time.Second)), Direction: telephony.Internal, Caller: "8001", DID: "8002", Agent: "agent1",
		Arrive: day.Add(2 * time.Second), End: day.Add(time.Minute), Disposition: telephony.Answered, HangupBy: telephony.ByAgent}
	for _, r := range []*telephony.Record{in, out, internal} {
		exec(telephony.EndCall(r))
	}
	cbID := ids.New(day)
	exec(telephony.CreateCallback(cbID, "13700137000", in.ID, "sales", telephony.ReasonAbandoned, day))
	custID := ids.New(day)
	exec(crm.CreateCustomer(replication.ReadViews(st.m), custID, map[string]string{"display_name": "上海回拨测试", "mobile": "13600136000"}))

	// Records: the outside number masked, extensions and DIDs as they are.
	span := &telv1.ListCallRecordsRequest{From: timestamppb.New(day.Add(-time.Hour)), To: timestamppb.New(day.Add(time.Hour))}
	recs, err := s.ListCallRecords(asUser("sup"), connect.NewRequest(span))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*telv1.CallRecord{}
	for _, r := range recs.Msg.GetRecords() {
		byID[r.GetId()] = r
	}
	if r := byID[in.ID]; r.GetCaller() != "138****8000" || r.GetDid() != "4000" || !r.GetNumberMasked() {
		t.Errorf("inbound record for a supervisor without the phone permission: %v", r)
	}
	if r := byID[out.ID]; r.GetCaller() != "8001" || r.GetDid() != "139****9000" || !r.GetNumberMasked() {
		t.Errorf("outbound record: %v", r)
	}
	if r := byID[internal.ID]; r.GetCaller() != "8001" || r.GetDid() != "8002" || r.GetNumberMasked() {
		t.Errorf("internal record: %v", r)
	}
	recs, err = s.ListCallRecords(asUser("admin"), connect.NewRequest(span))
	if err != nil || len(recs.Msg.GetRecords()) != 3 || recs.Msg.GetRecords()[2].GetCaller() != "13800138000" {
		t.Fatalf("records for the phone permission: %v, %v", recs, err)
	}

	// Callbacks, in lists and in answers to commands.
	cbs, err := s.ListCallbacks(asUser("agent1"), connect.NewRequest(&telv1.ListCallbacksRequest{Status: "open"}))
	if err != nil || len(cbs.Msg.GetCallbacks()) != 1 || cbs.Msg.GetCallbacks()[0].GetNumber() != "137****7000" || !cbs.Msg.GetCallbacks()[0].GetNumberMasked() {
		t.Fatalf("open callbacks for agent1: %v, %v", cbs, err)
	}
	cbs, err = s.ListCallbacks(asUser("agent.phone"), connect.NewRequest(&telv1.ListCallbacksRequest{Status: "open"}))
	if err != nil || cbs.Msg.GetCallbacks()[0].GetNumber() != "13700137000" || cbs.Msg.GetCallbacks()[0].GetNumberMasked() {
		t.Fatalf("open callbacks for an agent with the phone permission: %v, %v", cbs, err)
	}
	cb, err := s.AssignCallback(asUser("agent1"), connect.NewRequest(&telv1.AssignCallbackRequest{Id: cbID}))
	if err != nil || cb.Msg.GetNumber() != "137****7000" {
		t.Fatalf("assigned callback: %v, %v", cb, err)
	}

	// Calling back by id dials the real number and answers none.
	for _, c := range []struct {
		name string
		user string
		req  *telv1.DialRequest
		want string
		code connect.Code
	}{
		{"callback", "agent1", &telv1.DialRequest{Callback: cbID}, "agent1 13700137000", 0},
		{"own record", "agent1", &telv1.DialRequest{CallRecord: in.ID}, "agent1 13800138000", 0},
		{"own outbound record", "agent2", &telv1.DialRequest{CallRecord: out.ID}, "agent2 13900139000", 0},
		{"another's record", "agent2", &telv1.DialRequest{CallRecord: in.ID}, "", connect.CodePermissionDenied},
		{"internal record", "agent1", &telv1.DialRequest{CallRecord: internal.ID}, "", connect.CodeInvalidArgument},
		{"unknown callback", "agent1", &telv1.DialRequest{Callback: ids.New(day)}, "", connect.CodeNotFound},
		{"two targets", "agent1", &telv1.DialRequest{Number: "13800138000", Callback: cbID}, "", connect.CodeInvalidArgument},
		{"no target", "agent1", &telv1.DialRequest{}, "", connect.CodeInvalidArgument},
		{"not an agent", "sup", &telv1.DialRequest{Callback: cbID}, "", connect.CodePermissionDenied},
		{"customer", "agent.crm", &telv1.DialRequest{Customer: "customers/" + custID}, "agent.crm 13600136000", 0},
		{"customer without reading customers", "agent1", &telv1.DialRequest{Customer: "customers/" + custID}, "", connect.CodePermissionDenied},
		{"not a customer name", "agent.crm", &telv1.DialRequest{Customer: custID}, "", connect.CodeInvalidArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			sw.dialled = nil
			resp, err := s.Dial(asUser(c.user), connect.NewRequest(c.req))
			if c.code != 0 {
				if connect.CodeOf(err) != c.code || len(sw.dialled) != 0 {
					t.Fatalf("err %v, dialled %v; want %v and no call", err, sw.dialled, c.code)
				}
				return
			}
			if err != nil || len(sw.dialled) != 1 || sw.dialled[0] != c.want {
				t.Fatalf("dialled %v (%v), want %q", sw.dialled, err, c.want)
			}
			if b, _ := proto.Marshal(resp.Msg); strings.Contains(string(b), strings.Fields(c.want)[1]) {
				t.Fatalf("the answer carries the number: %v", resp.Msg)
			}
		})
	}

	// The live board.
	sw.calls = nil
	board := &boardSwitch{fakeSwitch: sw, calls: []pbx.CallInfo{
		{ID: "c1", Direction: telephony.Inbound, Caller: "13800138000", DID: "4000", State: pbx.StateQueued},
		{ID: "c2", Direction: telephony.Outbound, Caller: "8001", DID: "13900139000", State: pbx.StateDialing},
	}}
	s.App.Switch = board
	b, err := s.GetBoard(asUser("sup"), connect.NewRequest(&telv1.GetBoardRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if c := b.Msg.GetCalls(); len(c) != 2 || c[0].GetCaller() != "138****8000" || c[0].GetDid() != "4000" || !c[0].GetNumberMasked() ||
		c[1].GetCaller() != "8001" || c[1].GetDid() != "139****9000" {
		t.Fatalf("live calls for a supervisor without the phone permission: %v", c)
	}
}

// boardSwitch is a fakeSwitch with live calls on its board.
type boardSwitch struct {
	*fakeSwitch
	calls []pbx.CallInfo
}

func (b *boardSwitch) Board() pbx.Board {
	bd := b.fakeSwitch.Board()
	bd.Calls = b.calls
	return bd
}
