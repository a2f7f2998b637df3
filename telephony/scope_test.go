package telephony_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/telephony"
)

// receive applies events made elsewhere, as a pull does.
func (r *replica) receive(t *testing.T, evs ...*replication.Event) {
	t.Helper()
	b := r.views.Begin(r.m)
	for _, ev := range evs {
		if _, err := b.Apply(ev); err != nil {
			t.Fatalf("apply %s: %v", ev, err)
		}
		r.hlc = max(r.hlc, ev.HLC)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
}

// TestScopes makes every telephony kind where it is made — the branch
// sh-pudong that takes the calls, another branch bj-haidian that works
// its callbacks and delivers its messages, the hub — and checks the
// scopes: what doc.go's table says.
func TestScopes(t *testing.T) {
	pd, hd, hub := newReplica(t), newReplica(t), newReplica(t)
	hd.origin, hub.origin = "bj-haidian", replication.HubOrigin
	t0 := time.UnixMilli(reptest.BaseMillis)
	call, cb, toCourier, toDesk := pd.ids.New(t0), pd.ids.New(t0), pd.ids.New(t0), pd.ids.New(t0)
	company := []string{}
	home := []string{"b:sh-pudong"}
	steps := []struct {
		name string
		at   *replica
		cmd  func(v replication.Tx) (replication.Draft, error)
		want []string
	}{
		{"an extension is company-wide", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.SetExtension(v, telephony.Extension{Number: "8001", User: "li.wei"}, "secret1")
		}, company},
		{"", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.SetExtension(v, telephony.Extension{Number: "8002"}, "secret2")
		}, company},
		{"a trunk is company-wide", hub, func(replication.Tx) (replication.Draft, error) {
			return telephony.SetTrunk(telephony.Trunk{Name: "carrier", DIDs: []string{"4000"}}, "")
		}, company},
		{"a queue is company-wide", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.SetQueue(v, telephony.Queue{Name: "sales", Strategy: telephony.CallerBased, DIDs: []string{"4000"}})
		}, company},
		{"so is its membership", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.AddMember(v, "sales", telephony.Member{User: "zhang", Priority: 1})
		}, company},
		{"", pd, func(v replication.Tx) (replication.Draft, error) { return telephony.RemoveMember(v, "sales", "zhang") }, company},
		{"a call is the branch's that took it", pd, func(replication.Tx) (replication.Draft, error) {
			return telephony.EndCall(&telephony.Record{ID: call, Direction: telephony.Inbound, Caller: "13800000001", Queue: "sales",
				Agent: "zhang", Arrive: t0, Answer: t0.Add(time.Second), End: t0.Add(time.Minute), Disposition: telephony.Answered})
		}, home},
		{"its wrap-up too, from the record", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.EndWrapUp(v, call, 30*time.Second)
		}, home},
		{"so are the calls a switch refused", pd, func(replication.Tx) (replication.Draft, error) {
			return telephony.RecordRefused(t0.Truncate(time.Minute), telephony.RefusedOverload, 7)
		}, home},
		{"a callback is the branch's that lost the call", pd, func(replication.Tx) (replication.Draft, error) {
			return telephony.CreateCallback(cb, "13800000002", "", "sales", telephony.ReasonAbandoned, t0)
		}, home},
		{"worked elsewhere, it stays that branch's", hd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.AssignCallback(v, cb, "wang")
		}, home},
		{"", hd, func(v replication.Tx) (replication.Draft, error) { return telephony.CompleteCallback(v, cb, "done") }, home},
		{"a message to a user's phone follows the user", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.QueueMessage(v, toCourier, "8001", "pick up at No. 5")
		}, []string{"b:sh-pudong", "c:li.wei"}},
		{"one to an extension of no user stays with the branch", pd, func(v replication.Tx) (replication.Draft, error) {
			return telephony.QueueMessage(v, toDesk, "8002", "hello")
		}, home},
		{"delivered elsewhere, its status goes where the message went", hd, func(replication.Tx) (replication.Draft, error) {
			return telephony.SetMessageStatus(toCourier, telephony.MessageDelivered, "200 OK", t0)
		}, []string{"b:sh-pudong", "c:li.wei"}},
		{"", hd, func(replication.Tx) (replication.Draft, error) {
			return telephony.SetMessageStatus(toDesk, telephony.MessageFailed, "404", t0)
		}, home},
		{"the hub is no branch", hub, func(replication.Tx) (replication.Draft, error) {
			return telephony.CreateCallback(hub.ids.New(t0), "13800000003", "", "", telephony.ReasonManual, t0)
		}, company},
	}
	for i, s := range steps {
		name := s.name
		if name == "" {
			name = steps[i-1].name + " (cont.)"
		}
		d, err := s.cmd(s.at.read())
		ev := s.at.record(t, d, err)
		if got := ev.Scopes; !slices.Equal(got, s.want) {
			t.Fatalf("%s: %s has scopes %q; want %q", name, ev.Kind, got, s.want)
		}
		for _, r := range []*replica{pd, hd, hub} {
			if r != s.at {
				r.receive(t, ev)
			}
		}
	}
}

// A rule that needs what the views do not hold refuses the event, rather
// than send it nowhere.
func TestScopeRulesRefuse(t *testing.T) {
	r := newReplica(t)
	id := r.ids.New(time.UnixMilli(reptest.BaseMillis))
	body := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name     string
		ev       replication.Event
		notFound bool
	}{
		{"wrap-up of an unknown call", replication.Event{Kind: telephony.KindWrapUpEnded, Entity: telephony.CallEntity(id), Body: body(&telv1.WrapUpEnded{Secs: 3})}, true},
		{"assignment of an unknown callback", replication.Event{Kind: telephony.KindCallbackAssigned, Entity: telephony.CallbackEntity(id), Body: body(assigned("zhang"))}, true},
		{"done of an unknown callback", replication.Event{Kind: telephony.KindCallbackDone, Entity: telephony.CallbackEntity(id), Body: body(done(""))}, true},
		{"status of an unknown message", replication.Event{Kind: telephony.KindMessageStatus, Entity: telephony.MessageEntity(id), Body: body(&telv1.MessageStatus{Status: telephony.MessageDelivered})}, true},
		{"a message body that does not decode", replication.Event{Kind: telephony.KindMessageQueued, Entity: telephony.MessageEntity(id), Body: []byte{0xff, 0xff}}, false},
		{"a callback of no id", replication.Event{Kind: telephony.KindCallbackDone, Entity: "callback/x", Body: body(done(""))}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.ev.Origin, c.ev.Seq = "sh-pudong", 1
			got, err := r.reg.Scopes(r.read(), &c.ev)
			if err == nil {
				t.Fatalf("scopes %q; want an error", got)
			}
			if errors.Is(err, fault.ErrNotFound) != c.notFound {
				t.Fatalf("error %v; not found: want %v", err, c.notFound)
			}
		})
	}
}

// A dispatch message queued at one branch waits, pending, at a node that
// holds only the courier's scope (the courier's phone registers there),
// and the status that node records reaches the branch: delivery decides
// as it did when every node held every message.
func TestScopedMessageFollowsCourier(t *testing.T) {
	pd, hd := newReplica(t), newReplica(t)
	hd.origin = "bj-haidian"
	t0 := time.UnixMilli(reptest.BaseMillis)
	d, err := telephony.SetExtension(pd.read(), telephony.Extension{Number: "8001", User: "li.wei"}, "secret1")
	ext := pd.record(t, d, err)
	msg := pd.ids.New(t0)
	d, err = telephony.QueueMessage(pd.read(), msg, "8001", "pick up at No. 5")
	queued := pd.record(t, d, err)
	d, err = telephony.EndCall(&telephony.Record{ID: pd.ids.New(t0), Direction: telephony.Inbound, Caller: "13800000001",
		Arrive: t0, End: t0.Add(time.Minute), Disposition: telephony.Abandoned})
	other := pd.record(t, d, err)
	held := []string{"b:bj-haidian", "c:li.wei"}
	for _, ev := range []*replication.Event{ext, queued, other} {
		if replication.InScopes(ev.Scopes, held) {
			hd.receive(t, ev)
		}
	}
	if _, err := telephony.GetRecord(hd.read(), other.Entity[len("call/"):]); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("bj-haidian holds sh-pudong's call: %v", err)
	}
	if ids, err := telephony.PendingMessages(hd.read(), "8001"); err != nil || !slices.Equal(ids, []string{msg}) {
		t.Fatalf("pending at bj-haidian: %q, %v", ids, err)
	}
	d, err = telephony.SetMessageStatus(msg, telephony.MessageDelivered, "200 OK", t0)
	status := hd.record(t, d, err)
	if !replication.InScopes(status.Scopes, []string{"b:sh-pudong"}) {
		t.Fatalf("the status (scopes %q) does not reach sh-pudong", status.Scopes)
	}
	pd.receive(t, status)
	if m, err := telephony.GetMessage(pd.read(), msg); err != nil || m.Status != telephony.MessageDelivered {
		t.Fatalf("at sh-pudong: %+v, %v", m, err)
	}
}
