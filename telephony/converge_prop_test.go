package telephony_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/telephony"
)

// TestConvergeProp checks merge rules of every telephony kind: replicas
// that apply the same events of several origins, each origin's in its
// order but the origins interleaved differently, end with identical
// views (the digest covers every view key and value).
func TestConvergeProp(t *testing.T) {
	origins := []string{"sh-pudong", "bj-haidian", "hub"}
	rapid.Check(t, func(t *rapid.T) {
		reg := replication.NewRegistry()
		telephony.Register(reg)
		ids := replication.NewIDs()
		t0 := time.UnixMilli(reptest.BaseMillis)
		// A few shared ids so that events of different origins meet.
		calls := []string{ids.New(t0), ids.New(t0), ids.New(t0)}
		callbacks := []string{ids.New(t0), ids.New(t0)}
		msgs := []string{ids.New(t0), ids.New(t0)}
		users := []string{"zhang", "li", "wang"}

		streams := make([][]*replication.Event, len(origins))
		clocks := make([]replication.HLC, len(origins))
		n := rapid.IntRange(1, 40).Draw(t, "events")
		for range n {
			o := rapid.IntRange(0, len(origins)-1).Draw(t, "origin")
			d := drawDraft(t, calls, callbacks, msgs, users, t0)
			if d == nil {
				continue
			}
			body, err := proto.Marshal(d.Body)
			if err != nil {
				t.Fatal(err)
			}
			if rapid.Bool().Draw(t, "observe") {
				p := rapid.IntRange(0, len(origins)-1).Draw(t, "peer")
				clocks[o] = max(clocks[o], clocks[p])
			}
			wall := replication.MakeHLC(reptest.BaseMillis+int64(rapid.IntRange(0, 3).Draw(t, "ms")), 0)
			clocks[o] = max(clocks[o]+1, wall)
			ev := &replication.Event{Origin: origins[o], Seq: uint64(len(streams[o]) + 1), HLC: clocks[o],
				Kind: d.Kind, Entity: d.Entity, Actor: rapid.SampledFrom(users).Draw(t, "actor"), Body: body}
			if err := reg.Check(ev); err != nil {
				t.Fatalf("generated event refused: %v", err)
			}
			streams[o] = append(streams[o], ev)
		}
		a := applyAll(t, reg, interleave(t, streams, "a"))
		b := applyAll(t, reg, interleave(t, streams, "b"))
		if a != b {
			t.Fatalf("replicas diverged: %v != %v", a, b)
		}
	})
}

func interleave(t *rapid.T, streams [][]*replication.Event, label string) []*replication.Event {
	next := make([]int, len(streams))
	var out []*replication.Event
	for {
		var open []int
		for i, s := range streams {
			if next[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		o := rapid.SampledFrom(open).Draw(t, label)
		out = append(out, streams[o][next[o]])
		if next[o] > 0 && rapid.IntRange(0, 5).Draw(t, label+"-dup") == 0 {
			out = append(out, streams[o][next[o]-1]) // a redelivery is dropped
		}
		next[o]++
	}
}

func applyAll(t *rapid.T, reg *replication.Registry, evs []*replication.Event) replication.Digest {
	m := reptest.NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	for len(evs) > 0 {
		k := min(len(evs), rapid.IntRange(1, 5).Draw(t, "batch"))
		b := views.Begin(m)
		for _, ev := range evs[:k] {
			if _, err := b.Apply(ev); err != nil {
				t.Fatalf("apply %s: %v", ev, err)
			}
		}
		if err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		b.Commit()
		evs = evs[k:]
	}
	d, err := replication.DigestOf(m, replication.ViewPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if d != views.Digest() {
		t.Fatalf("incremental digest %v != digest of the views %v", views.Digest(), d)
	}
	// The read side must cope with whatever the events left.
	rv := replication.ReadViews(m)
	if _, err := telephony.ListCallbacks(rv, false, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := telephony.ListQueues(rv); err != nil {
		t.Fatal(err)
	}
	return d
}

// drawDraft draws one event body of any telephony kind, made without
// reading views (appliers must cope with events made anywhere, in any
// order); nil when the draw is not valid.
func drawDraft(t *rapid.T, calls, callbacks, msgs, users []string, t0 time.Time) *replication.Draft {
	var d replication.Draft
	var err error
	pick := func(xs []string, label string) string { return rapid.SampledFrom(xs).Draw(t, label) }
	switch rapid.IntRange(0, 11).Draw(t, "kind") {
	case 0:
		d, err = telephony.SetTrunk(telephony.Trunk{Name: "carrier", Proxy: rapid.SampledFrom([]string{"", "10.0.0.1:5060"}).Draw(t, "proxy"),
			DIDs: rapid.SampledFrom([][]string{nil, {"4000"}, {"4000", "4001"}}).Draw(t, "dids")}, "")
	case 1:
		d, err = telephony.SetQueue(reptest.NewMem(), telephony.Queue{Name: "sales",
			Strategy:    rapid.SampledFrom(telephony.Strategies).Draw(t, "strategy"),
			RingTimeout: time.Duration(rapid.IntRange(0, 30).Draw(t, "ring")) * time.Second})
	case 2:
		// Removal of something that may not exist yet here: made as the
		// remote origin would have.
		d = replication.Draft{Kind: "telephony.queue.removed", Entity: telephony.QueueEntity("sales"), Body: removedBody()}
	case 3:
		d = memberAdded(pick(users, "user"), rapid.IntRange(1, 3).Draw(t, "prio"))
	case 4:
		d = memberRemoved(pick(users, "user"), rapid.SampledFrom([]string{"sh-pudong", "bj-haidian", "hub"}).Draw(t, "tagorigin"), uint64(rapid.IntRange(1, 20).Draw(t, "tagseq")))
	case 5:
		ans := rapid.Bool().Draw(t, "answered")
		r := &telephony.Record{ID: pick(calls, "call"), Direction: telephony.Inbound, Caller: "1380000000" + pick([]string{"1", "2"}, "caller"),
			Queue: "sales", Arrive: t0, End: t0.Add(time.Minute), Disposition: telephony.Abandoned, HangupBy: telephony.ByCaller}
		if ans {
			r.Disposition, r.Agent = telephony.Answered, pick(users, "agent")
			r.Answer = t0.Add(time.Duration(rapid.IntRange(0, 59).Draw(t, "answer")) * time.Second)
		}
		d, err = telephony.EndCall(r)
	case 6:
		d = wrapUp(pick(calls, "call"), rapid.IntRange(0, 60).Draw(t, "wrap"))
	case 7:
		d, err = telephony.CreateCallback(pick(callbacks, "cb"), "13800000001", "", "sales", telephony.ReasonAbandoned, t0)
	case 8:
		d = replication.Draft{Kind: telephony.KindCallbackAssigned, Entity: telephony.CallbackEntity(pick(callbacks, "cb")), Body: assigned(pick(users, "agent"))}
	case 9:
		d = replication.Draft{Kind: telephony.KindCallbackDone, Entity: telephony.CallbackEntity(pick(callbacks, "cb")), Body: done("ok")}
	case 10:
		d = replication.Draft{Kind: telephony.KindMessageQueued, Entity: telephony.MessageEntity(pick(msgs, "msg")), Body: queued("8001", "hi")}
	case 11:
		d, err = telephony.SetMessageStatus(pick(msgs, "msg"), rapid.SampledFrom([]string{telephony.MessageDelivered, telephony.MessageFailed}).Draw(t, "status"), "x", t0)
	}
	if err != nil {
		return nil
	}
	return &d
}
