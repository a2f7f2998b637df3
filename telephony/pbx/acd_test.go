package pbx

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/replication"
	"branchline/telephony"
)

// TestACDWindowsAndVIP checks, without SIP traffic, two things the sipp
// tests do not: a member outside their time-of-day window is not rung,
// and VIP callers go ahead of earlier callers in the line.
func TestACDWindowsAndVIP(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 1, 5, 20, 0, 0, 0, loc) // a Monday evening
	store := newMemStore(t)
	srv, err := Start(Config{UDPAddr: "127.0.0.1:0", Store: store, Location: loc, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	day, _ := telephony.ParseWindow("1-5 08:00-18:00")
	night, _ := telephony.ParseWindow("18:00-08:00")
	for _, cmd := range []replication.Command{
		func(v replication.Tx) ([]replication.Draft, error) {
			return one(telephony.SetQueue(v, telephony.Queue{Name: "q", Strategy: telephony.TopDown}))
		},
		func(v replication.Tx) ([]replication.Draft, error) {
			return one(telephony.AddMember(v, "q", telephony.Member{User: "day", Priority: 1, Windows: []telephony.Window{day}}))
		},
		func(v replication.Tx) ([]replication.Draft, error) {
			return one(telephony.AddMember(v, "q", telephony.Member{User: "night", Priority: 2, Windows: []telephony.Window{night}}))
		},
	} {
		if _, err := store.Exec(t.Context(), "admin", cmd); err != nil {
			t.Fatal(err)
		}
	}
	for i, user := range []string{"day", "night"} {
		ext := "80" + string(rune('1'+i)) + "0"
		if _, err := store.Exec(t.Context(), "admin", func(v replication.Tx) ([]replication.Draft, error) {
			return one(telephony.SetExtension(v, telephony.Extension{Number: ext, User: user}, "secret1"))
		}); err != nil {
			t.Fatal(err)
		}
		srv.reg.mu.Lock()
		srv.reg.byExt[ext] = []*Binding{{Extension: ext, URI: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 9}, Transport: "udp", Expires: now.Add(time.Hour)}}
		srv.reg.mu.Unlock()
		srv.ConfigChanged()
		if _, err := srv.Login(user, ext, true); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := srv.dir.get()
	if err != nil {
		t.Fatal(err)
	}
	srv.acd.mu.Lock()
	cands := srv.acd.candidates(snap.queues["q"], now)
	srv.acd.mu.Unlock()
	if len(cands) != 1 || cands[0].User != "night" {
		t.Fatalf("candidates at 20:00 = %+v, want only the night shift", cands)
	}

	// The line: a VIP who came later is ahead of an ordinary earlier caller.
	// (Calls that are not running cannot take offers, so they stay in line.)
	srv.acd.mu.Lock()
	srv.acd.stopped = true // no dispatching: only the order is looked at
	srv.acd.mu.Unlock()
	mk := func(prio int, arrive time.Time) *Call {
		c := srv.newCall(telephony.Inbound)
		c.closed = true
		srv.acd.enqueue(&waiter{call: c, queue: "q", arrive: arrive, enqueued: arrive, prio: prio})
		return c
	}
	first := mk(0, now.Add(-time.Minute))
	vip := mk(3, now)
	second := mk(0, now.Add(-30*time.Second))
	srv.acd.mu.Lock()
	var order []*Call
	for _, w := range srv.acd.waiting {
		order = append(order, w.call)
	}
	srv.acd.mu.Unlock()
	if !slices.Equal(order, []*Call{vip, first, second}) {
		t.Fatal("the line is not VIP first, then by arrival")
	}
}

func one(d replication.Draft, err error) ([]replication.Draft, error) {
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

// TestPauseManual: with a timed pause the agent is ready again when it
// ends; with ManualPause the agent stays not ready, also after a timed
// pause begun later has long ended.
func TestPauseManual(t *testing.T) {
	store := newMemStore(t)
	srv, err := Start(Config{UDPAddr: "127.0.0.1:0", Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a := srv.acd
	ring := func(user string) {
		a.mu.Lock()
		a.agents[user] = &agent{user: user, ext: user, state: telephony.Ringing, call: "c-" + user}
		a.mu.Unlock()
	}
	ring("manual")
	ring("timed")
	a.offerMissed("manual", "c-manual", telephony.ReasonNoAnswer, telephony.ManualPause)
	a.offerMissed("timed", "c-timed", telephony.ReasonNoAnswer, 20*time.Millisecond)
	eventually(t, 5*time.Second, "the timed pause to end", func() bool {
		i, _ := a.info("timed")
		return i.State == telephony.Ready
	})
	if i, _ := a.info("manual"); i.State != telephony.NotReady || i.Reason != telephony.ReasonNoAnswer {
		t.Fatalf("manual pause: %+v", i)
	}
}
