package telephonyapp

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/telephony"
)

// memStore runs commands on in-memory views as a node's store does.
type memStore struct {
	mu    sync.Mutex
	reg   *replication.Registry
	m     *reptest.Mem
	views *replication.Views
	seq   uint64
	clock *replication.Clock
}

func newMemStore(t testing.TB) *memStore {
	t.Helper()
	reg := replication.NewRegistry()
	telephony.Register(reg)
	crm.RegisterCustomers(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &memStore{reg: reg, m: m, views: v, clock: replication.NewClock(nil, 0, 0)}
}

func (s *memStore) Exec(_ context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
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

func (s *memStore) View(fn func(views replication.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(replication.ReadViews(s.m))
}

func (s *memStore) do(t testing.TB, cmd func(views replication.Tx) (replication.Draft, error)) {
	t.Helper()
	if _, err := s.Exec(context.Background(), "admin", func(views replication.Tx) ([]replication.Draft, error) { return app.One(cmd(views)) }); err != nil {
		t.Fatal(err)
	}
}

func grant(user string, perms ...access.Perm) app.Caller {
	g := &access.Grant{User: user, Scopes: map[access.Perm]access.Scope{}}
	for _, p := range perms {
		g.Scopes[p] = access.ScopeAll
	}
	return app.Caller{Grant: g}
}

var (
	day0       = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	supervisor = grant("sup", access.Supervise, access.PhoneView, access.CustomerRead)
	masked     = grant("sup2", access.Supervise, access.CustomerRead)
	agentZhang = grant("zhang", access.CallAgent, access.PhoneView, access.CustomerRead)
)

// callFixture is a call a test records.
type callFixture struct {
	queue, agent, direction string
	outcome                 telephony.Disposition
	number                  string
	at, wait, talk          time.Duration
}

func recordCall(t testing.TB, s *memStore, ids *replication.IDs, f callFixture) string {
	t.Helper()
	arrive := day0.Add(f.at)
	id := ids.New(arrive)
	r := &telephony.Record{ID: id, Direction: f.direction, Queue: f.queue, Agent: f.agent, Disposition: f.outcome,
		Arrive: arrive, End: arrive.Add(f.wait + f.talk)}
	switch f.direction {
	case telephony.Inbound:
		r.Caller, r.DID = f.number, "02188880000"
	case telephony.Outbound:
		r.Caller, r.DID = "8001", f.number
	default:
		r.Caller, r.DID = "8001", "8002"
	}
	if f.outcome == telephony.Answered {
		r.Answer = arrive.Add(f.wait)
	}
	s.do(t, func(replication.Tx) (replication.Draft, error) { return telephony.EndCall(r) })
	return id
}

func TestCalls(t *testing.T) {
	s := newMemStore(t)
	ids := replication.NewIDs()
	h := time.Hour
	calls := []callFixture{
		{"sales", "zhang", telephony.Inbound, telephony.Answered, "13800138000", 9 * h, 10 * time.Second, 2 * time.Minute},
		{"sales", "", telephony.Inbound, telephony.Abandoned, "+8613800138000", 10 * h, 40 * time.Second, 0},
		{"service", "li", telephony.Inbound, telephony.Answered, "02155556666", 11 * h, 5 * time.Second, time.Minute},
		{"", "zhang", telephony.Outbound, telephony.Answered, "13800138000", 12 * h, 3 * time.Second, 30 * time.Second},
		{"", "zhang", telephony.Internal, telephony.NotAnswered, "", 13 * h, 20 * time.Second, 0},
		{"sales", "li", telephony.Inbound, telephony.Answered, "13900139000", 24*h + 9*h, time.Second, time.Minute},
	}
	var id []string
	for _, c := range calls {
		id = append(id, recordCall(t, s, ids, c))
	}
	cust := ids.New(day0)
	s.do(t, func(views replication.Tx) (replication.Draft, error) {
		return crm.CreateCustomer(views, cust, map[string]string{"display_name": "上海某某贸易", "mobile": "13800138000"})
	})
	tel := &Telephony{Store: s, Location: time.UTC, Now: func() time.Time { return day0.Add(15 * h) }}
	tests := []struct {
		name   string
		c      app.Caller
		q      CallList
		want   []int // indexes of calls, in order
		total  int
		field  string // of the error, when refused
		masked bool
	}{
		{"today, newest first", supervisor, CallList{}, []int{4, 3, 2, 1, 0}, 5, "", false},
		{"oldest first", supervisor, CallList{Order: keyset.Order{Desc: false, Sort: CallByTime}}, []int{4, 3, 2, 1, 0}, 5, "", false},
		{"by wait", supervisor, CallList{Order: keyset.Order{Sort: CallByWait}}, []int{3, 2, 0, 4, 1}, 5, "", false},
		{"by talk, longest first", supervisor, CallList{Order: keyset.Order{Sort: CallByTalk, Desc: true}}, []int{0, 2, 3, 4, 1}, 5, "", false},
		{"a queue", supervisor, CallList{Queue: "sales"}, []int{1, 0}, 2, "", false},
		{"an outcome", supervisor, CallList{Outcome: "abandoned"}, []int{1}, 1, "", false},
		{"a direction", supervisor, CallList{Direction: "outbound"}, []int{3}, 1, "", false},
		{"an agent", supervisor, CallList{Agent: "li"}, []int{2}, 1, "", false},
		{"two days", supervisor, CallList{From: day0, To: day0.Add(48 * h), Queue: "sales"}, []int{5, 1, 0}, 3, "", false},
		{"a whole number in any notation", supervisor, CallList{Number: "138 0013 8000"}, []int{3, 1, 0}, 3, "", false},
		{"digits of a number", supervisor, CallList{Number: "5555"}, []int{2}, 1, "", false},
		{"a customer", supervisor, CallList{Customer: cust}, []int{3, 1, 0}, 3, "", false},
		{"a customer, numbers masked", masked, CallList{Customer: cust}, []int{3, 1, 0}, 3, "", true},
		{"an agent sees their own", agentZhang, CallList{}, []int{4, 3, 0}, 3, "", false},
		{"an agent asking for another's", agentZhang, CallList{Agent: "li"}, []int{4, 3, 0}, 3, "", false},
		{"a number without the phone permission", masked, CallList{Number: "13800138000"}, nil, 0, "q", false},
		{"a number without digits", supervisor, CallList{Number: "abc"}, nil, 0, "q", false},
		{"an unknown column", supervisor, CallList{Order: keyset.Order{Sort: "secret"}}, nil, 0, "sort", false},
		{"a bad cursor", supervisor, CallList{Order: keyset.Order{Cursor: "!!"}}, nil, 0, "page_token", false},
		{"a window too long", supervisor, CallList{From: day0, To: day0.Add(40 * 24 * h)}, nil, 0, "to", false},
		{"a window ending first", supervisor, CallList{From: day0, To: day0.Add(-h)}, nil, 0, "to", false},
		{"an unknown outcome", supervisor, CallList{Outcome: "won"}, nil, 0, "outcome", false},
		{"an unknown direction", supervisor, CallList{Direction: "up"}, nil, 0, "direction", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Sort == "" && tc.name != "oldest first" {
				tc.q.Desc = true
			}
			page, err := tel.Calls(context.Background(), tc.c, tc.q)
			if tc.field != "" {
				if inv, ok := fault.AsInvalid(err); !ok || inv.Field != tc.field {
					t.Fatalf("error %v, want one on %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, id[i])
			}
			if tc.name == "oldest first" {
				slices.Reverse(want)
			}
			var got []string
			for _, r := range page.Records {
				got = append(got, r.ID)
				if r.NumberMasked != (tc.masked && r.Party() != "") || tc.masked && strings.Contains(r.Caller+r.DID, "13800138000") {
					t.Errorf("record %s: caller %q did %q masked %v", r.ID, r.Caller, r.DID, r.NumberMasked)
				}
			}
			if !slices.Equal(got, want) || page.Total != tc.total {
				t.Errorf("got %v of %d, want %v of %d", got, page.Total, want, tc.total)
			}
		})
	}
	if _, err := tel.Calls(context.Background(), grant("nobody", access.CustomerRead), CallList{}); !errors.Is(err, fault.ErrDenied) {
		t.Errorf("without a call permission: %v", err)
	}
	// A window with more calls than a list reads is refused, not read.
	defer func(n int) { maxListedCalls = n }(maxListedCalls)
	maxListedCalls = 2
	if _, err := tel.Calls(context.Background(), supervisor, CallList{}); err == nil {
		t.Error("a window of 5 calls read with a bound of 2")
	} else if inv, ok := fault.AsInvalid(err); !ok || inv.Code != "too_many" {
		t.Errorf("too many calls: %v", err)
	}
}

func TestCustomerCalls(t *testing.T) {
	s := newMemStore(t)
	ids := replication.NewIDs()
	h := time.Hour
	a := recordCall(t, s, ids, callFixture{"sales", "zhang", telephony.Inbound, telephony.Answered, "13800138000", 9 * h, time.Second, time.Minute})
	b := recordCall(t, s, ids, callFixture{"sales", "li", telephony.Inbound, telephony.Answered, "+8613800138000", 10 * h, time.Second, time.Minute})
	c := recordCall(t, s, ids, callFixture{"", "zhang", telephony.Outbound, telephony.Answered, "02155556666", 11 * h, time.Second, time.Minute})
	recordCall(t, s, ids, callFixture{"sales", "zhang", telephony.Inbound, telephony.Answered, "13900139000", 12 * h, time.Second, time.Minute})
	cust, contact := ids.New(day0), ids.New(day0)
	s.do(t, func(views replication.Tx) (replication.Draft, error) {
		return crm.CreateCustomer(views, cust, map[string]string{"display_name": "上海某某贸易", "mobile": "13800138000"})
	})
	s.do(t, func(views replication.Tx) (replication.Draft, error) {
		return crm.AddContact(views, cust, contact, map[string]string{"display_name": "王经理", "phone": "021 5555 6666"})
	})
	cb1, cb2 := ids.New(day0.Add(9*h)), ids.New(day0.Add(10*h))
	s.do(t, func(replication.Tx) (replication.Draft, error) {
		return telephony.CreateCallback(cb1, "13800138000", b, "sales", telephony.ReasonAbandoned, day0.Add(9*h))
	})
	s.do(t, func(replication.Tx) (replication.Draft, error) {
		return telephony.CreateCallback(cb2, "02155556666", "", "sales", telephony.ReasonAbandoned, day0.Add(10*h))
	})
	s.do(t, func(views replication.Tx) (replication.Draft, error) {
		return telephony.CompleteCallback(views, cb2, "done")
	})
	tel := &Telephony{Store: s, Location: time.UTC}
	tests := []struct {
		name      string
		c         app.Caller
		calls     []string
		total     int
		callbacks []string
		masked    bool
	}{
		{"a supervisor: every call of its and its contacts' numbers", supervisor, []string{c, b, a}, 3, []string{cb1, cb2}, false},
		{"numbers masked", masked, []string{c, b, a}, 3, []string{cb1, cb2}, true},
		{"an agent: their own calls, open callbacks", agentZhang, []string{c, a}, 2, []string{cb1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tel.CustomerCalls(context.Background(), tc.c, cust, 10)
			if err != nil {
				t.Fatal(err)
			}
			var calls, cbs []string
			for _, r := range got.Calls {
				calls = append(calls, r.ID)
				if r.NumberMasked != tc.masked {
					t.Errorf("call %s masked %v", r.ID, r.NumberMasked)
				}
			}
			for _, cb := range got.Callbacks {
				cbs = append(cbs, cb.ID)
				if cb.NumberMasked != tc.masked || tc.masked && strings.Contains(cb.Number, "5555666") {
					t.Errorf("callback %s: %q masked %v", cb.ID, cb.Number, cb.NumberMasked)
				}
			}
			if !slices.Equal(calls, tc.calls) || got.Total != tc.total || !slices.Equal(cbs, tc.callbacks) {
				t.Errorf("calls %v of %d, callbacks %v; want %v of %d, %v", calls, got.Total, cbs, tc.calls, tc.total, tc.callbacks)
			}
		})
	}
	if got, err := tel.CustomerCalls(context.Background(), supervisor, cust, 1); err != nil || len(got.Calls) != 1 || got.Total != 3 {
		t.Errorf("the latest call only: %+v, %v", got, err)
	}
	if _, err := tel.CustomerCalls(context.Background(), grant("clerk", access.CustomerRead), cust, 10); !errors.Is(err, fault.ErrDenied) {
		t.Errorf("without a call permission: %v", err)
	}
	if _, err := tel.CustomerCalls(context.Background(), supervisor, "nonsense", 10); err == nil {
		t.Error("a customer id that is none")
	}
}

// TestCallPagesMatchRecords: whatever calls there are and whatever a
// list asks for, its total is the number of records the filter keeps and
// walking its pages forward from the first, or back from the last, gives
// those records in the column's order (ties by id), as a brute-force
// filter and sort of every record does.
func TestCallPagesMatchRecords(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newMemStore(t)
		ids := replication.NewIDs()
		queues := []string{"", "sales", "service"}
		agents := []string{"", "zhang", "li"}
		numbers := []string{"13800138000", "+8613800138000", "02155556666", "13900139000"}
		n := rapid.IntRange(0, 30).Draw(rt, "calls")
		for range n {
			recordCall(t, s, ids, callFixture{
				queue: rapid.SampledFrom(queues).Draw(rt, "queue"), agent: rapid.SampledFrom(agents).Draw(rt, "agent"),
				direction: rapid.SampledFrom(Directions).Draw(rt, "direction"),
				outcome:   rapid.SampledFrom([]telephony.Disposition{telephony.Answered, telephony.Abandoned, telephony.NoAgent}).Draw(rt, "outcome"),
				number:    rapid.SampledFrom(numbers).Draw(rt, "number"),
				at:        time.Duration(rapid.IntRange(0, 47).Draw(rt, "hour")) * time.Hour,
				wait:      time.Duration(rapid.IntRange(0, 3).Draw(rt, "wait")) * time.Second,
				talk:      time.Duration(rapid.IntRange(0, 3).Draw(rt, "talk")) * time.Second,
			})
		}
		q := CallList{From: day0.Add(time.Duration(rapid.IntRange(0, 24).Draw(rt, "from")) * time.Hour),
			Queue: rapid.SampledFrom(queues).Draw(rt, "f-queue"), Agent: rapid.SampledFrom(agents).Draw(rt, "f-agent"),
			Outcome: rapid.SampledFrom([]string{"", "answered", "abandoned"}).Draw(rt, "f-outcome"),
			Number:  rapid.SampledFrom([]string{"", "13800138000", "5555", "139"}).Draw(rt, "f-number"),
			Order:   keyset.Order{Sort: rapid.SampledFrom(CallColumns).Draw(rt, "sort"), Desc: rapid.Bool().Draw(rt, "desc")},
			Limit:   rapid.IntRange(1, 7).Draw(rt, "limit")}
		q.To = q.From.Add(time.Duration(rapid.IntRange(1, 30).Draw(rt, "hours")) * time.Hour)
		// Brute force: every record, filtered and sorted.
		var all []*telephony.Record
		err := s.View(func(views replication.Tx) error {
			return telephony.Records(views, time.Time{}, day0.Add(100*time.Hour), false, func(r *telephony.Record) bool {
				all = append(all, r)
				return true
			})
		})
		if err != nil {
			rt.Fatal(err)
		}
		digits := telephony.NumberKey(q.Number)
		var want []*telephony.Record
		for _, r := range all {
			party := telephony.NumberKey(r.Party())
			whole := q.Number == "13800138000" && (party == "13800138000" || party == "8613800138000")
			part := q.Number != "13800138000" && strings.Contains(party, digits)
			if r.Arrive.Before(q.From) || !r.Arrive.Before(q.To) || q.Queue != "" && r.Queue != q.Queue && r.FirstQueue != q.Queue ||
				q.Agent != "" && r.Agent != q.Agent || q.Outcome != "" && string(r.Disposition) != q.Outcome ||
				q.Number != "" && !whole && !part || q.Number != "" && party == "" {
				continue
			}
			want = append(want, r)
		}
		slices.SortFunc(want, func(a, b *telephony.Record) int {
			c := bytes.Compare(keyset.VarKey(callSortValue(a, q.Sort), a.ID), keyset.VarKey(callSortValue(b, q.Sort), b.ID))
			if q.Desc {
				return -c
			}
			return c
		})
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, r.ID)
		}
		tel := &Telephony{Store: s, Location: time.UTC}
		var fwd []string
		for pages := 0; ; pages++ {
			page, err := tel.Calls(context.Background(), supervisor, q)
			if err != nil {
				rt.Fatal(err)
			}
			if page.Total != len(want) {
				rt.Fatalf("total %d, want %d", page.Total, len(want))
			}
			for _, r := range page.Records {
				fwd = append(fwd, r.ID)
			}
			if page.Next == "" || pages > 40 {
				break
			}
			q.Cursor, q.Back = page.Next, false
		}
		if !slices.Equal(fwd, wantIDs) {
			rt.Fatalf("forward pages %v, want %v", fwd, wantIDs)
		}
		q.Cursor, q.Back, q.Last = "", false, true
		var back []string
		for pages := 0; ; pages++ {
			page, err := tel.Calls(context.Background(), supervisor, q)
			if err != nil {
				rt.Fatal(err)
			}
			var ids []string
			for _, r := range page.Records {
				ids = append(ids, r.ID)
			}
			back = append(ids, back...)
			if page.Prev == "" || pages > 40 {
				break
			}
			q.Last, q.Cursor, q.Back = false, page.Prev, true
		}
		if !slices.Equal(back, wantIDs) {
			rt.Fatalf("backward pages %v, want %v", back, wantIDs)
		}
	})
}
