package pbx

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/replication"
	"branchline/telephony"
)

// TestOverloadShed: past the admission rate, new calls get 503 with
// Retry-After from the wire check, and nothing else: no call record, no
// ring; the calls admitted go on (here: to a queue nobody serves, 480),
// and a retransmission of an admitted INVITE is not taken for a new call.
// The refusals are counted in the metric and, per minute, in the store
// (written at the latest when the switch stops).
func TestOverloadShed(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Overload = Overload{MaxRate: 1, RetryAfter: 7 * time.Second} })
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, nil)
	ua := newRawUA(t, h.srv.UDPAddr())
	invite := func(callID string) []byte {
		return ua.build(reqSpec{method: "INVITE", ruri: "sip:4000@127.0.0.1", from: "13800000022", to: "4000", callID: callID,
			contact: "<sip:13800000022@" + ua.addr() + ">"})
	}
	first := newCallID()
	b := invite(first)
	ua.send(b)
	ua.send(b) // a retransmission: the same transaction
	const n = 10
	var refused []string
	for range n {
		id := newCallID()
		refused = append(refused, id)
		ua.send(invite(id))
	}
	shed := 0
	for _, id := range refused {
		res := ua.answerTo("i:"+id, "")
		if res == nil {
			t.Fatalf("no answer to INVITE %s", id)
		}
		if res.StatusCode == 503 {
			shed++
			if ra := res.GetHeader("Retry-After"); ra == nil || strings.TrimSpace(ra.Value()) != "7" {
				t.Fatalf("503 without Retry-After: 7: %v", ra)
			}
		}
	}
	if shed < n-1 {
		t.Fatalf("%d of %d INVITEs past the rate refused, want at least %d", shed, n, n-1)
	}
	if res := ua.answerTo("i:"+first, ""); res == nil || res.StatusCode != 480 {
		t.Fatalf("the admitted call: %v, want 480 (nobody in the queue)", res)
	}
	if got := counter(t, h.srv.metrics.refusedCalls.WithLabelValues(telephony.RefusedOverload)); int(got) != shed {
		t.Fatalf("metric counts %v refusals, %d were sent", got, shed)
	}
	h.idle()
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if rs := h.records(); len(rs) != n-shed+1 {
		t.Fatalf("%d call records for %d admitted calls", len(rs), n-shed+1)
	}
	var got map[string]int
	if err := h.store.View(func(v replication.Tx) error {
		var err error
		got, err = telephony.RefusedCalls(v, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got[telephony.RefusedOverload] != shed {
		t.Fatalf("refused calls in the store: %v, want %d", got, shed)
	}
	if c := strings.Count(strings.Join(h.store.kinds(), " "), telephony.KindCallsRefused); c < 1 || c > 2 {
		t.Fatalf("%d refused-calls events for %d refusals within a minute or two, want one a minute", c, shed)
	}
}

// TestShedderBacklog: without a rate bound, new calls are refused once the
// backlog of admitted INVITEs not yet taken up, or the calls up, reach
// their bounds; an INVITE admitted and never taken up leaves the backlog
// when its retransmissions are over.
func TestShedderBacklog(t *testing.T) {
	s := newShedder(Overload{MaxPending: 2})
	now := time.Unix(1_800_000_000, 0)
	if !s.admit("a", 0, 10, 0, now) || !s.admit("b", 0, 10, 0, now) {
		t.Fatal("refused below the bounds")
	}
	if s.admit("c", 0, 10, 0, now) || !s.overloaded(now) {
		t.Fatal("admitted past the backlog bound")
	}
	if !s.admit("a", 0, 10, 0, now) {
		t.Fatal("a retransmission of an admitted INVITE refused")
	}
	s.started("a")
	if !s.admit("d", 0, 10, 0, now) {
		t.Fatal("refused after the backlog shrank")
	}
	if s.admit("e", 9, 10, 0, now) {
		t.Fatal("admitted with the calls up at their bound")
	}
	later := now.Add(admitWindow + time.Minute)
	refused := s.sweep(later, false)
	if s.pending != 0 || refused[now.Truncate(time.Minute)] != 2 {
		t.Fatalf("after the window: backlog %d, refusals %v", s.pending, refused)
	}
	if s.overloaded(later.Add(overloadMemory)) {
		t.Fatal("still overloaded long after the last refusal")
	}
}

// TestShedderRetransmission: the retransmissions of a refused INVITE are
// refused again while they keep coming (the caller may have heard the 503
// already), and counted once; after a quiet refuseMemory the INVITE is a
// new call again.
func TestShedderRetransmission(t *testing.T) {
	s := newShedder(Overload{MaxPending: 1})
	now := time.Unix(1_800_000_000, 0)
	if !s.admit("a", 0, 10, 0, now) {
		t.Fatal("refused below the bounds")
	}
	if ok, fresh := s.admitNew("b", 0, 10, 0, now); ok || !fresh {
		t.Fatalf("past the backlog bound: admitted %v, fresh %v", ok, fresh)
	}
	s.started("a") // room again
	for i := 1; i <= 3; i++ {
		at := now.Add(time.Duration(i) * refuseMemory / 2)
		if ok, fresh := s.admitNew("b", 0, 10, 0, at); ok || fresh {
			t.Fatalf("retransmission %d of a refused INVITE: admitted %v, fresh %v", i, ok, fresh)
		}
	}
	later := now.Add(3*refuseMemory/2 + refuseMemory)
	if refused := s.sweep(later, true); refused[now.Truncate(time.Minute)] != 1 {
		t.Fatalf("refusals %v, want the INVITE counted once", refused)
	}
	if ok, fresh := s.admitNew("b", 0, 10, 0, later); !ok || !fresh {
		t.Fatalf("after a quiet refuseMemory: admitted %v, fresh %v", ok, fresh)
	}
}

// TestShedderSetup: new calls are refused once the calls in setup and the
// backlog reach MaxSetup, whatever the rate, and admitted again when
// calls leave setup; with MaxSetup negative there is no such bound.
func TestShedderSetup(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name     string
		maxSetup int
		setup    int
		pending  int // admitted first, not taken up
		admit    bool
	}{
		{"below", 10, 5, 0, true},
		{"at the bound", 10, 10, 0, false},
		{"the backlog counts", 10, 8, 2, false},
		{"the backlog counts, below", 10, 7, 2, true},
		{"default bound", 0, 300, 0, false},
		{"no bound", -1, 100000, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShedder(Overload{MaxSetup: tt.maxSetup})
			for i := range tt.pending {
				if !s.admit(fmt.Sprint("p", i), 0, 1<<20, 0, now) {
					t.Fatal("refused the backlog")
				}
			}
			if got := s.admit("new", 0, 1<<20, tt.setup, now); got != tt.admit {
				t.Fatalf("admit with %d in setup and %d pending = %v, want %v", tt.setup, tt.pending, got, tt.admit)
			}
		})
	}
}

// TestInviteCopyAfterCall: a copy of an INVITE that reaches the switch
// after its call is over (the caller sent it before it heard the answer,
// and it was held up on the way) is no new call: nothing answers it, no
// agent's phone rings, and the call leaves one record. Under overload
// such copies came late enough to ring agents for calls that were over,
// whose answers nobody acknowledged (no_ack records).
func TestInviteCopyAfterCall(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	ph := h.phone("8001", "agent.xml", 2)
	tc := newTrunkCall(t, h, "8001", []string{"Content-Type: application/sdp"}, testOffer)
	tc.ack(tc.expect(sip.StatusOK))
	tc.bye()
	h.idle()
	tc.ua.send(tc.ua.build(tc.invite))
	if res := tc.read(4 * sip.T1); res != nil {
		t.Fatalf("the copy of the INVITE was answered: %d %s", res.StatusCode, res.Reason)
	}
	if n := h.srv.ActiveCalls(); n != 0 {
		t.Fatalf("%d calls up after the copy, want none", n)
	}
	ph.uas.stop()
	if rs := h.records(); len(rs) != 1 || rs[0].Disposition != telephony.Answered {
		t.Fatalf("records after the copy: %d, first %+v", len(rs), rs[0])
	}
}
