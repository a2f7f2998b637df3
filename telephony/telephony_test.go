package telephony_test

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/telephony"
)

// replica is one store's views in memory with one origin, running
// commands as node.Store does: decide, stamp, scope on the batch's views,
// check as the hub would, apply.
type replica struct {
	reg    *replication.Registry
	m      *reptest.Mem
	views  *replication.Views
	origin string
	seq    uint64
	hlc    replication.HLC
	ids    *replication.IDs
}

func newReplica(t *testing.T) *replica {
	t.Helper()
	reg := replication.NewRegistry()
	telephony.Register(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &replica{reg: reg, m: m, views: v, origin: "sh-pudong", hlc: replication.MakeHLC(reptest.BaseMillis, 0), ids: replication.NewIDs()}
}

func (r *replica) read() replication.Tx { return replication.ReadViews(r.m) }

func (r *replica) record(t *testing.T, d replication.Draft, err error) *replication.Event {
	t.Helper()
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	body, err := proto.Marshal(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.seq++
	r.hlc++
	ev := &replication.Event{Origin: r.origin, Seq: r.seq, HLC: r.hlc, Kind: d.Kind, Entity: d.Entity, Actor: "alice", Body: body}
	b := r.views.Begin(r.m)
	if ev.Scopes, err = r.reg.Scopes(b.Views(), ev); err != nil {
		t.Fatalf("scopes of %s: %v", ev, err)
	}
	if err := r.reg.Check(ev); err != nil {
		t.Fatalf("the hub would refuse the event the command made: %v", err)
	}
	if out, err := b.Apply(ev); err != nil || out != replication.Applied {
		t.Fatalf("apply %s: outcome %d, %v", ev, out, err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	return ev
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	inv, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("want an invalid %s, got %v", field, err)
	}
	if inv.Field != field {
		t.Fatalf("want invalid field %s, got %s (%v)", field, inv.Field, err)
	}
}

func TestExtensions(t *testing.T) {
	r := newReplica(t)
	d, err := telephony.SetExtension(r.read(), telephony.Extension{Number: "8001", User: "zhang", DisplayName: "张三"}, "secret1")
	r.record(t, d, err)
	e, ok, err := telephony.GetExtension(r.read(), "8001")
	if err != nil || !ok {
		t.Fatalf("GetExtension: %v %v", ok, err)
	}
	if e.User != "zhang" || e.DisplayName != "张三" || e.HA1 != telephony.HA1("8001", "secret1") {
		t.Fatalf("extension = %+v", e)
	}
	// Updating without a password keeps the secret.
	d, err = telephony.SetExtension(r.read(), telephony.Extension{Number: "8001", User: "li"}, "")
	r.record(t, d, err)
	e, _, _ = telephony.GetExtension(r.read(), "8001")
	if e.User != "li" || e.HA1 != telephony.HA1("8001", "secret1") {
		t.Fatalf("after update: %+v", e)
	}
	if x, ok, _ := telephony.ExtensionOf(r.read(), "li"); !ok || x.Number != "8001" {
		t.Fatalf("ExtensionOf(li) = %+v %v", x, ok)
	}
	d, err = telephony.RemoveExtension(r.read(), "8001")
	r.record(t, d, err)
	if _, ok, _ := telephony.GetExtension(r.read(), "8001"); ok {
		t.Fatal("removed extension still there")
	}
	if es, _ := telephony.ListExtensions(r.read()); len(es) != 0 {
		t.Fatalf("list after remove: %+v", es)
	}

	for name, tc := range map[string]struct {
		e     telephony.Extension
		pw    string
		field string
	}{
		"bad number":       {telephony.Extension{Number: "80a1"}, "secret1", "number"},
		"new without pass": {telephony.Extension{Number: "8002"}, "", "password"},
		"short password":   {telephony.Extension{Number: "8002"}, "x", "password"},
		"bad user":         {telephony.Extension{Number: "8002", User: "a b"}, "secret1", "user"},
		"newline in name":  {telephony.Extension{Number: "8002", DisplayName: "a\r\nVia: x"}, "secret1", "display_name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := telephony.SetExtension(r.read(), tc.e, tc.pw)
			wantInvalid(t, err, tc.field)
		})
	}
	if _, err := telephony.RemoveExtension(r.read(), "9999"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("remove missing: %v", err)
	}
}

func TestTrunks(t *testing.T) {
	r := newReplica(t)
	srcs, err := telephony.ParseSources([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := telephony.SetTrunk(telephony.Trunk{Name: "carrier", Sources: srcs, DIDs: []string{"4001", "4000"},
		Proxy: "192.0.2.7:5060", Transport: "UDP", Username: "gw"}, "pw")
	r.record(t, d, err)
	tr, ok, err := telephony.GetTrunk(r.read(), "carrier")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if !tr.Allows(netip.MustParseAddr("10.1.2.3")) || !tr.Allows(netip.MustParseAddr("192.0.2.7")) ||
		tr.Allows(netip.MustParseAddr("192.0.2.8")) {
		t.Fatalf("Allows wrong for %v", tr.Sources)
	}
	if !tr.Allows(netip.MustParseAddr("::ffff:10.0.0.1")) {
		t.Fatal("an IPv4-mapped address is the IPv4 address")
	}
	if !slices.Equal(tr.DIDs, []string{"4000", "4001"}) || !tr.Delivers("4001") || tr.Delivers("5000") {
		t.Fatalf("DIDs %v", tr.DIDs)
	}
	if tr.Transport != "udp" || tr.HA1 != telephony.HA1("gw", "pw") {
		t.Fatalf("trunk %+v", tr)
	}
	if _, err := telephony.ParseSources([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
	_, err = telephony.SetTrunk(telephony.Trunk{Name: "x", Proxy: "nohost"}, "")
	wantInvalid(t, err, "proxy")
	_, err = telephony.SetTrunk(telephony.Trunk{Name: "x"}, "pw")
	wantInvalid(t, err, "username")
	_, err = telephony.SetTrunk(telephony.Trunk{Name: "Bad Name"}, "")
	wantInvalid(t, err, "name")
}

func TestQueueValidation(t *testing.T) {
	r := newReplica(t)
	d, err := telephony.SetQueue(r.read(), telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}})
	r.record(t, d, err)
	d, err = telephony.SetQueue(r.read(), telephony.Queue{Name: "service", Strategy: telephony.RoundRobin,
		OverflowQueue: "sales", OverflowAfter: 30 * time.Second, RingTimeout: 10 * time.Second, MaxWait: time.Minute})
	r.record(t, d, err)

	for name, tc := range map[string]struct {
		q     telephony.Queue
		field string
	}{
		"no strategy":       {telephony.Queue{Name: "a"}, "strategy"},
		"bad strategy":      {telephony.Queue{Name: "a", Strategy: "random"}, "strategy"},
		"bad name":          {telephony.Queue{Name: "A!", Strategy: telephony.TopDown}, "name"},
		"self overflow":     {telephony.Queue{Name: "a", Strategy: telephony.TopDown, OverflowQueue: "a"}, "overflow_queue"},
		"missing overflow":  {telephony.Queue{Name: "a", Strategy: telephony.TopDown, OverflowQueue: "nope"}, "overflow_queue"},
		"after, no queue":   {telephony.Queue{Name: "a", Strategy: telephony.TopDown, OverflowAfter: time.Second}, "overflow_queue"},
		"fallback caller":   {telephony.Queue{Name: "a", Strategy: telephony.CallerBased, Fallback: telephony.CallerBased}, "fallback"},
		"fractional secs":   {telephony.Queue{Name: "a", Strategy: telephony.TopDown, RingTimeout: 1500 * time.Millisecond}, "queue"},
		"negative":          {telephony.Queue{Name: "a", Strategy: telephony.TopDown, WrapUp: -time.Second}, "queue"},
		"overflow loop":     {telephony.Queue{Name: "sales", Strategy: telephony.TopDown, OverflowQueue: "service"}, "overflow_queue"},
		"bad did":           {telephony.Queue{Name: "a", Strategy: telephony.TopDown, DIDs: []string{"40x"}}, "dids"},
		"too long max wait": {telephony.Queue{Name: "a", Strategy: telephony.TopDown, MaxWait: 48 * time.Hour}, "queue"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := telephony.SetQueue(r.read(), tc.q)
			wantInvalid(t, err, tc.field)
		})
	}

	q, ok, err := telephony.QueueForDID(r.read(), "4000")
	if err != nil || !ok || q.Name != "sales" {
		t.Fatalf("QueueForDID(4000) = %+v %v %v", q, ok, err)
	}
	q, _, _ = telephony.GetQueue(r.read(), "service")
	if q.OverflowQueue != "sales" || q.OverflowAfter != 30*time.Second || q.RingTimeout != 10*time.Second || q.MaxWait != time.Minute {
		t.Fatalf("service = %+v", q)
	}
	e := (telephony.Queue{Name: "x", Strategy: telephony.CallerBased}).Effective()
	if e.Fallback != telephony.LongestIdle || e.RingTimeout != telephony.DefaultRingTimeout ||
		e.MaxWait != telephony.DefaultMaxWait || e.ServiceLevel != 20*time.Second {
		t.Fatalf("Effective = %+v", e)
	}
}

// TestNoAnswerPause: a queue's pause after a missed ring is seconds or
// manual, kept as set, with a default; anything else is refused.
func TestNoAnswerPause(t *testing.T) {
	r := newReplica(t)
	for name, pause := range map[string]time.Duration{"timed": 45 * time.Second, "manual": telephony.ManualPause, "default": 0} {
		d, err := telephony.SetQueue(r.read(), telephony.Queue{Name: name, Strategy: telephony.TopDown, NoAnswerPause: pause})
		r.record(t, d, err)
		q, _, err := telephony.GetQueue(r.read(), name)
		if err != nil || q.NoAnswerPause != pause {
			t.Fatalf("%s: NoAnswerPause = %v (%v), want %v", name, q.NoAnswerPause, err, pause)
		}
	}
	if e := (telephony.Queue{Name: "x", Strategy: telephony.TopDown}).Effective(); e.NoAnswerPause != telephony.DefaultNoAnswerPause {
		t.Fatalf("default pause = %v", e.NoAnswerPause)
	}
	_, err := telephony.SetQueue(r.read(), telephony.Queue{Name: "a", Strategy: telephony.TopDown, NoAnswerPause: -5 * time.Second})
	wantInvalid(t, err, "no_answer_pause")
	for _, v := range []string{"soon", "-1", "86401"} {
		if _, err := telephony.ParsePause(v); err == nil {
			t.Fatalf("ParsePause(%q) accepted", v)
		}
	}
	if d, err := telephony.ParsePause("manual"); err != nil || d != telephony.ManualPause {
		t.Fatalf("ParsePause(manual) = %v, %v", d, err)
	}
}

func TestMembersAndWindows(t *testing.T) {
	r := newReplica(t)
	d, err := telephony.SetQueue(r.read(), telephony.Queue{Name: "sales", Strategy: telephony.PriorityFirst})
	r.record(t, d, err)
	w, err := telephony.ParseWindow("1-5 08:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	d, err = telephony.AddMember(r.read(), "sales", telephony.Member{User: "zhang", Priority: 2, Windows: []telephony.Window{w}})
	r.record(t, d, err)
	d, err = telephony.AddMember(r.read(), "sales", telephony.Member{User: "li", Priority: 1})
	r.record(t, d, err)
	q, _, _ := telephony.GetQueue(r.read(), "sales")
	if len(q.Members) != 2 || q.Members[0].User != "li" || q.Members[1].Priority != 2 || len(q.Members[1].Windows) != 1 {
		t.Fatalf("members = %+v", q.Members)
	}
	// Re-adding updates the priority.
	d, err = telephony.AddMember(r.read(), "sales", telephony.Member{User: "zhang", Priority: 5})
	r.record(t, d, err)
	q, _, _ = telephony.GetQueue(r.read(), "sales")
	if q.Members[1].Priority != 5 || len(q.Members[1].Windows) != 0 {
		t.Fatalf("after re-add: %+v", q.Members[1])
	}
	d, err = telephony.RemoveMember(r.read(), "sales", "zhang")
	r.record(t, d, err)
	q, _, _ = telephony.GetQueue(r.read(), "sales")
	if len(q.Members) != 1 || q.Members[0].User != "li" {
		t.Fatalf("after remove: %+v", q.Members)
	}
	if _, err := telephony.RemoveMember(r.read(), "sales", "zhang"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	if _, err := telephony.AddMember(r.read(), "nope", telephony.Member{User: "li", Priority: 1}); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("member of missing queue: %v", err)
	}
	_, err = telephony.AddMember(r.read(), "sales", telephony.Member{User: "li", Priority: 0})
	wantInvalid(t, err, "priority")

	loc := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		window string
		at     time.Time
		in     bool
		canon  string
	}{
		{"1-5 08:00-18:00", time.Date(2026, 1, 5, 9, 0, 0, 0, loc), true, "1-5 08:00-18:00"}, // Monday
		{"1-5 08:00-18:00", time.Date(2026, 1, 4, 9, 0, 0, 0, loc), false, ""},               // Sunday
		{"1-5 08:00-18:00", time.Date(2026, 1, 5, 18, 0, 0, 0, loc), false, ""},
		{"22:00-06:00", time.Date(2026, 1, 5, 23, 30, 0, 0, loc), true, "22:00-06:00"},
		{"22:00-06:00", time.Date(2026, 1, 5, 5, 59, 0, 0, loc), true, ""},
		{"22:00-06:00", time.Date(2026, 1, 5, 12, 0, 0, 0, loc), false, ""},
		{"1,3,6-7 00:00-24:00", time.Date(2026, 1, 10, 12, 0, 0, 0, loc), true, "1,3,6-7 00:00-24:00"},
		{"1-7 09:00-10:00", time.Date(2026, 1, 10, 9, 30, 0, 0, loc), true, "09:00-10:00"},
	} {
		w, err := telephony.ParseWindow(tc.window)
		if err != nil {
			t.Fatalf("ParseWindow(%q): %v", tc.window, err)
		}
		if got := w.Contains(tc.at); got != tc.in {
			t.Errorf("%q contains %v = %v, want %v", tc.window, tc.at, got, tc.in)
		}
		if tc.canon != "" && w.String() != tc.canon {
			t.Errorf("String(%q) = %q, want %q", tc.window, w.String(), tc.canon)
		}
	}
	for _, bad := range []string{"", "8-18", "0-5 08:00-18:00", "1-8 08:00-18:00", "08:00-08:00", "25:00-26:00", "8:00-18:00", "5-1 08:00-09:00"} {
		if _, err := telephony.ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}

func TestStrategies(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	cands := []telephony.Candidate{
		{User: "a1", Priority: 2, Answered: 5, IdleSince: t0.Add(3 * time.Minute)},
		{User: "a2", Priority: 1, Answered: 9, IdleSince: t0.Add(1 * time.Minute)},
		{User: "a3", Priority: 3, Answered: 1, IdleSince: t0.Add(2 * time.Minute)},
		{User: "a4", Priority: 1, Answered: 1, IdleSince: t0.Add(5 * time.Minute)},
	}
	for _, tc := range []struct {
		name     string
		s        telephony.Strategy
		fallback telephony.Strategy
		hint     telephony.Hint
		want     []string
	}{
		{"top down by priority then name", telephony.TopDown, "", telephony.Hint{}, []string{"a2", "a4", "a1", "a3"}},
		{"top down ignores the last offered", telephony.TopDown, "", telephony.Hint{LastOffered: "a2"}, []string{"a2", "a4", "a1", "a3"}},
		{"round robin from the start", telephony.RoundRobin, "", telephony.Hint{}, []string{"a1", "a2", "a3", "a4"}},
		{"round robin after a2", telephony.RoundRobin, "", telephony.Hint{LastOffered: "a2"}, []string{"a3", "a4", "a1", "a2"}},
		{"round robin wraps", telephony.RoundRobin, "", telephony.Hint{LastOffered: "a4"}, []string{"a1", "a2", "a3", "a4"}},
		{"round robin, last offered gone", telephony.RoundRobin, "", telephony.Hint{LastOffered: "a1x"}, []string{"a2", "a3", "a4", "a1"}},
		{"fewest answered, ties by idle", telephony.FewestAnswered, "", telephony.Hint{}, []string{"a3", "a4", "a1", "a2"}},
		{"longest idle", telephony.LongestIdle, "", telephony.Hint{}, []string{"a2", "a3", "a1", "a4"}},
		{"priority, ties by idle", telephony.PriorityFirst, "", telephony.Hint{}, []string{"a2", "a4", "a1", "a3"}},
		{"caller based: previous first", telephony.CallerBased, telephony.LongestIdle, telephony.Hint{Previous: "a4"}, []string{"a4", "a2", "a3", "a1"}},
		{"caller based: previous gone, fallback", telephony.CallerBased, telephony.FewestAnswered, telephony.Hint{Previous: "zz"}, []string{"a3", "a4", "a1", "a2"}},
		{"caller based: no fallback is longest idle", telephony.CallerBased, "", telephony.Hint{}, []string{"a2", "a3", "a1", "a4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(cands)
			got := telephony.Order(tc.s, tc.fallback, in, tc.hint)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Order = %v, want %v", got, tc.want)
			}
			if !slices.Equal(in, cands) {
				t.Fatal("Order changed its argument")
			}
		})
	}
	if got := telephony.Order(telephony.RoundRobin, "", nil, telephony.Hint{LastOffered: "x"}); len(got) != 0 {
		t.Fatalf("no candidates: %v", got)
	}
}

func rec(id string, q, first string, d telephony.Disposition, arrive time.Time, wait, talk time.Duration) *telephony.Record {
	r := &telephony.Record{ID: id, Direction: telephony.Inbound, Caller: "13800000000", Queue: q, FirstQueue: first,
		Disposition: d, Arrive: arrive, HangupBy: telephony.ByCaller}
	switch d {
	case telephony.Answered:
		r.Agent, r.Answer, r.End = "zhang", arrive.Add(wait), arrive.Add(wait+talk)
	default:
		r.End = arrive.Add(wait)
	}
	return r
}

func TestRecordsAndKPIs(t *testing.T) {
	r := newReplica(t)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	ids := make([]string, 6)
	for i := range ids {
		ids[i] = r.ids.New(t0)
	}
	recs := []*telephony.Record{
		rec(ids[0], "sales", "", telephony.Answered, t0, 10*time.Second, 100*time.Second),
		rec(ids[1], "sales", "", telephony.Answered, t0.Add(time.Minute), 30*time.Second, 200*time.Second),
		rec(ids[2], "sales", "", telephony.Abandoned, t0.Add(2*time.Minute), 40*time.Second, 0),
		rec(ids[3], "sales", "service", telephony.Answered, t0.Add(3*time.Minute), 5*time.Second, 60*time.Second),
		rec(ids[4], "", "", telephony.Blacklisted, t0.Add(4*time.Minute), 0, 0),
		rec(ids[5], "sales", "", telephony.NoAgent, t0.Add(25*time.Hour), 300*time.Second, 0),
	}
	for _, x := range recs {
		d, err := telephony.EndCall(x)
		r.record(t, d, err)
	}
	d, err := telephony.EndWrapUp(r.read(), ids[0], 20*time.Second)
	r.record(t, d, err)

	got, err := telephony.GetRecord(r.read(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.WrapUp != 20*time.Second || got.Wait() != 10*time.Second || got.Talk() != 100*time.Second || got.Origin != "sh-pudong" {
		t.Fatalf("record = %+v", got)
	}
	if a, _ := telephony.LastAgent(r.read(), "13800000000"); a != "zhang" {
		t.Fatalf("LastAgent = %q", a)
	}

	var day []*telephony.Record
	start, end := telephony.Day(t0, time.UTC)
	if err := telephony.Records(r.read(), start, end, false, func(x *telephony.Record) bool { day = append(day, x); return true }); err != nil {
		t.Fatal(err)
	}
	if len(day) != 5 || day[0].ID != ids[0] || day[4].ID != ids[4] {
		t.Fatalf("records of the day: %d", len(day))
	}
	var newest []string
	telephony.Records(r.read(), start, end, true, func(x *telephony.Record) bool { newest = append(newest, x.ID); return len(newest) < 2 })
	if !slices.Equal(newest, []string{ids[4], ids[3]}) {
		t.Fatalf("newest first = %v", newest)
	}

	k := telephony.ComputeKPIs(day, "", 0)
	if k.CallsIn != 4 || k.Answered != 3 || k.Abandoned != 1 || k.Rejected != 1 {
		t.Fatalf("KPIs counts = %+v", k)
	}
	if k.AbandonRate != 0.25 || k.ASA != 15*time.Second || k.ServiceLevel != 0.5 {
		t.Fatalf("KPIs rates = %+v", k)
	}
	if k.AHT != (100+200+60+20)*time.Second/3 || k.AvgAbandon != 40*time.Second || k.AvgWrapUp != 20*time.Second/3 {
		t.Fatalf("KPIs times = %+v", k)
	}
	ks := telephony.ComputeKPIs(day, "service", 0)
	if ks.CallsIn != 0 || ks.Overflowed != 1 {
		t.Fatalf("service KPIs = %+v", ks)
	}
	if k0 := telephony.ComputeKPIs(nil, "", 0); k0.AbandonRate != 0 || k0.ASA != 0 {
		t.Fatalf("empty KPIs = %+v", k0)
	}

	bad := *recs[0]
	bad.End = bad.Arrive.Add(-time.Second)
	_, err = telephony.EndCall(&bad)
	wantInvalid(t, err, "end_ms")
	bad = *recs[0]
	bad.Disposition = "weird"
	_, err = telephony.EndCall(&bad)
	wantInvalid(t, err, "disposition")
	bad = *recs[0]
	bad.Caller = "1\r\nX: y"
	_, err = telephony.EndCall(&bad)
	wantInvalid(t, err, "caller")
	if _, err := telephony.EndWrapUp(r.read(), r.ids.New(t0), time.Second); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("wrap-up of a missing call: %v", err)
	}
}

func TestCallbacks(t *testing.T) {
	r := newReplica(t)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	id1, id2 := r.ids.New(t0), r.ids.New(t0)
	d, err := telephony.CreateCallback(id1, "13800000001", "", "sales", telephony.ReasonAbandoned, t0)
	r.record(t, d, err)
	d, err = telephony.CreateCallback(id2, "13800000002", "", "sales", telephony.ReasonMaxWait, t0)
	r.record(t, d, err)
	d, err = telephony.AssignCallback(r.read(), id1, "zhang")
	r.record(t, d, err)
	cb, err := telephony.GetCallback(r.read(), id1)
	if err != nil || cb.Status != telephony.CallbackAssigned || cb.Agent != "zhang" || cb.AssignedBy != "alice" {
		t.Fatalf("assigned callback = %+v %v", cb, err)
	}
	d, err = telephony.CompleteCallback(r.read(), id1, "called back, parcel found")
	r.record(t, d, err)
	cb, _ = telephony.GetCallback(r.read(), id1)
	if cb.Status != telephony.CallbackDone || cb.Note != "called back, parcel found" || cb.DoneBy != "alice" || cb.Conflict {
		t.Fatalf("done callback = %+v", cb)
	}
	if _, err := telephony.AssignCallback(r.read(), id1, "li"); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("assign a done callback: %v", err)
	}
	open, _ := telephony.ListCallbacks(r.read(), true, 10)
	if len(open) != 1 || open[0].ID != id2 {
		t.Fatalf("open callbacks = %+v", open)
	}
	all, _ := telephony.ListCallbacks(r.read(), false, 10)
	if len(all) != 2 || all[0].ID != id2 {
		t.Fatalf("all callbacks, newest first = %+v", all)
	}
	mine, _ := telephony.CallbacksOf(r.read(), "zhang", 10)
	if len(mine) != 1 || mine[0].ID != id1 {
		t.Fatalf("zhang's callbacks = %+v", mine)
	}
	_, err = telephony.CreateCallback(r.ids.New(t0), "", "", "", telephony.ReasonAbandoned, t0)
	wantInvalid(t, err, "number")
	_, err = telephony.CreateCallback(r.ids.New(t0), "1", "", "", "whim", t0)
	wantInvalid(t, err, "reason")
}

func TestMessages(t *testing.T) {
	r := newReplica(t)
	d, err := telephony.SetExtension(r.read(), telephony.Extension{Number: "8001"}, "secret1")
	r.record(t, d, err)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	id := r.ids.New(t0)
	d, err = telephony.QueueMessage(r.read(), id, "8001", "取件: 浦东新区 1 号")
	r.record(t, d, err)
	if p, _ := telephony.PendingMessages(r.read(), "8001"); !slices.Equal(p, []string{id}) {
		t.Fatalf("pending = %v", p)
	}
	d, err = telephony.SetMessageStatus(id, telephony.MessageFailed, "488 Not Acceptable Here", t0)
	r.record(t, d, err)
	d, err = telephony.SetMessageStatus(id, telephony.MessageDelivered, "200 OK", t0.Add(time.Second))
	r.record(t, d, err)
	d, err = telephony.SetMessageStatus(id, telephony.MessageFailed, "408", t0.Add(2*time.Second))
	r.record(t, d, err)
	m, err := telephony.GetMessage(r.read(), id)
	if err != nil || m.Status != telephony.MessageDelivered || m.Detail != "200 OK" || m.Text != "取件: 浦东新区 1 号" {
		t.Fatalf("message = %+v %v", m, err)
	}
	if p, _ := telephony.PendingMessages(r.read(), "8001"); len(p) != 0 {
		t.Fatalf("pending after delivery = %v", p)
	}
	if _, err := telephony.QueueMessage(r.read(), r.ids.New(t0), "8009", "x"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("message to a missing extension: %v", err)
	}
	_, err = telephony.QueueMessage(r.read(), r.ids.New(t0), "8001", string(make([]byte, telephony.MaxMessageText+1)))
	wantInvalid(t, err, "text")
	_, err = telephony.QueueMessage(r.read(), r.ids.New(t0), "8001", "\xff")
	wantInvalid(t, err, "text")
}

// TestRefusedCalls: calls refused under overload are counted per minute;
// counts of a minute add up across events, and a day's sum covers the
// minutes that start in it.
func TestRefusedCalls(t *testing.T) {
	r := newReplica(t)
	m1 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		minute time.Time
		n      int
	}{{m1, 120}, {m1, 30}, {m1.Add(time.Minute), 7}, {m1.Add(24 * time.Hour), 1000}} {
		d, err := telephony.RecordRefused(c.minute, telephony.RefusedOverload, c.n)
		r.record(t, d, err)
	}
	got, err := telephony.RefusedCalls(r.read(), m1, m1.Add(time.Hour))
	if err != nil || got[telephony.RefusedOverload] != 157 {
		t.Fatalf("refused in the hour = %v, %v; want 157", got, err)
	}
	for name, c := range map[string]struct {
		minute time.Time
		reason string
		n      int
	}{
		"not a minute": {m1.Add(time.Second), telephony.RefusedOverload, 1},
		"no calls":     {m1, telephony.RefusedOverload, 0},
		"bad reason":   {m1, "whim", 1},
	} {
		if _, err := telephony.RecordRefused(c.minute, c.reason, c.n); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
}
