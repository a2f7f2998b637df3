package pbx

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"branchline/replication"
	"branchline/telephony"
)

// The tests below drive the switch with real sipp processes: agents'
// phones are sipp UAS registered with digest credentials (a second sipp
// sends the REGISTER with the UAS as Contact), customers are sipp UAC
// calling from the trunk's address (127.0.0.1). Each sipp must exit 0,
// i.e. every message of its scenario came as expected.

// TestBasicCall: a customer calls the queue's number through the trunk;
// the only agent's phone rings and answers; the customer hangs up. The
// record says who, when and how; every dialog is released.
func TestBasicCall(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	ph := h.phone("8001", "agent.xml", 1)
	h.login("8001", true)
	h.call("4000", "13800000001", "caller.xml", nil).wait(t, 20*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.Disposition != telephony.Answered || r.Agent != agentUser("8001") || r.Queue != "sales" ||
		r.Caller != "13800000001" || r.DID != "4000" || r.HangupBy != telephony.ByCaller || r.Trunk != "carrier" {
		t.Fatalf("record = %+v", r)
	}
	if r.Answer.IsZero() || r.Ring.IsZero() || r.End.Before(r.Answer) || r.Talk() <= 0 {
		t.Fatalf("record times = %+v", r)
	}
	if got := h.ringOrder(); !slices.Equal(got, []string{agentUser("8001")}) {
		t.Fatalf("rings = %v", got)
	}
	eventually(t, 5*time.Second, "agent ready again", func() bool { return h.agentState("8001").State == telephony.Ready })
	if a := h.agentState("8001"); a.Answered != 1 {
		t.Fatalf("agent = %+v", a)
	}
}

// TestTCP: the same call with the customer and the agent's phone on TCP.
func TestTCP(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	uas, port := h.serve("agent.xml", nil, "t1", "-m", "1")
	// The phone registers over TCP with a Contact on its own TCP port.
	reg := h.sipp("register.xml", map[string]string{"CODE": "200"}, "t1", "-i", "127.0.0.1",
		"-m", "1", "-s", "8001", "-au", "8001", "-ap", extPassword("8001"), "-key", "contact_port", strconv.Itoa(port), "-key", "expires", "60")
	reg.wait(t, 20*time.Second)
	h.login("8001", true)
	caller := h.sipp("caller.xml", nil, "t1", "-i", "127.0.0.1", "-m", "1", "-s", "4000",
		"-key", "caller", "13800000002", "-d", "200")
	caller.wait(t, 20*time.Second)
	uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Disposition != telephony.Answered || r.Agent != agentUser("8001") {
		t.Fatalf("record = %+v", r)
	}
}

// TestStrategyOrder proves each strategy's choice with two or three
// agents and sequential calls: the order the phones were rung in.
func TestStrategyOrder(t *testing.T) {
	slow(t)
	a1, a2 := agentUser("8001"), agentUser("8002")
	for _, tc := range []struct {
		name     string
		strategy telephony.Strategy
		prio     map[string]int
		// setup logs agents in; calls are made from the numbers in callers.
		setup   func(h *harness)
		callers []string
		want    []string
	}{
		{
			name: "top_down always starts with the first", strategy: telephony.TopDown,
			prio:    map[string]int{"8001": 1, "8002": 2},
			setup:   func(h *harness) { h.login("8002", true); h.login("8001", true) },
			callers: []string{"1", "2"}, want: []string{a1, a1},
		},
		{
			name: "round_robin alternates", strategy: telephony.RoundRobin,
			prio:    map[string]int{"8001": 1, "8002": 1},
			setup:   func(h *harness) { h.login("8001", true); h.login("8002", true) },
			callers: []string{"1", "2", "3"}, want: []string{a1, a2, a1},
		},
		{
			name: "longest_idle picks who waited longest", strategy: telephony.LongestIdle,
			prio: map[string]int{"8001": 1, "8002": 1},
			setup: func(h *harness) {
				h.login("8002", true)
				time.Sleep(20 * time.Millisecond) // make the idle times differ (not waiting for anything)
				h.login("8001", true)
			},
			callers: []string{"1", "2"}, want: []string{a2, a1},
		},
		{
			name: "priority beats idle time", strategy: telephony.PriorityFirst,
			prio: map[string]int{"8001": 2, "8002": 1},
			setup: func(h *harness) {
				h.login("8001", true)
				time.Sleep(20 * time.Millisecond)
				h.login("8002", true)
			},
			callers: []string{"1", "2"}, want: []string{a2, a2},
		},
		{
			name: "caller_based returns to the previous agent", strategy: telephony.CallerBased,
			prio: map[string]int{"8001": 1, "8002": 1},
			setup: func(h *harness) {
				h.login("8001", true)
				time.Sleep(20 * time.Millisecond)
				h.login("8002", true)
			},
			// The first call falls back to longest idle (8001); the second
			// from the same number goes back to 8001 although 8002 is idle
			// longer; a new caller gets 8002.
			callers: []string{"13700000001", "13700000001", "13700000002"}, want: []string{a1, a1, a2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.extension("8001")
			h.extension("8002")
			h.queue(telephony.Queue{Name: "q", Strategy: tc.strategy, DIDs: []string{"4000"}}, tc.prio)
			h.phone("8001", "agent.xml", 0)
			h.phone("8002", "agent.xml", 0)
			tc.setup(h)
			for i, caller := range tc.callers {
				h.call("4000", caller, "caller.xml", nil).wait(t, 20*time.Second)
				h.record(i + 1)
				eventually(t, 5*time.Second, "agents ready", func() bool {
					return h.agentState("8001").State == telephony.Ready && h.agentState("8002").State == telephony.Ready
				})
			}
			if got := h.ringOrder(); !slices.Equal(got, tc.want) {
				t.Fatalf("rang %v, want %v", got, tc.want)
			}
			h.idle()
		})
	}
}

// TestFewestAnswered: an agent who answered two calls today yields to one
// who answered none, although the first has been idle longer.
func TestFewestAnswered(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	h.queue(telephony.Queue{Name: "q", Strategy: telephony.FewestAnswered, DIDs: []string{"4000"}}, map[string]int{"8001": 1, "8002": 1})
	h.phone("8001", "agent.xml", 0)
	h.phone("8002", "agent.xml", 0)
	h.login("8001", true)
	for i := range 2 {
		h.call("4000", "1", "caller.xml", nil).wait(t, 20*time.Second)
		h.record(i + 1)
	}
	eventually(t, 5*time.Second, "8001 ready", func() bool { return h.agentState("8001").State == telephony.Ready })
	h.login("8002", true) // idle for less time than 8001, but 0 answered
	h.call("4000", "1", "caller.xml", nil).wait(t, 20*time.Second)
	h.record(3)
	a1, a2 := agentUser("8001"), agentUser("8002")
	if got := h.ringOrder(); !slices.Equal(got, []string{a1, a1, a2}) {
		t.Fatalf("rang %v", got)
	}
	h.idle()
}

// TestRingTimeoutNextAgent: the first agent's phone rings out; it is
// cancelled, the agent goes not ready (no answer), and the next agent
// gets the call.
func TestRingTimeoutNextAgent(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	h.queue(telephony.Queue{Name: "q", Strategy: telephony.TopDown, DIDs: []string{"4000"}, RingTimeout: time.Second},
		map[string]int{"8001": 1, "8002": 2})
	p1 := h.phone("8001", "agent_noanswer.xml", 1)
	p2 := h.phone("8002", "agent.xml", 1)
	h.login("8001", true)
	h.login("8002", true)
	h.call("4000", "13800000003", "caller.xml", nil).wait(t, 20*time.Second)
	p1.uas.wait(t, 10*time.Second)
	p2.uas.wait(t, 10*time.Second)
	h.idle()
	if got := h.ringOrder(); !slices.Equal(got, []string{agentUser("8001"), agentUser("8002")}) {
		t.Fatalf("rang %v", got)
	}
	if a := h.agentState("8001"); a.State != telephony.NotReady || a.Reason != telephony.ReasonNoAnswer {
		t.Fatalf("first agent = %+v", a)
	}
	r := h.record(1)
	if r.Agent != agentUser("8002") || r.Attempts != 2 || r.Disposition != telephony.Answered || r.Wait() < time.Second {
		t.Fatalf("record = %+v", r)
	}
}

// TestOverflow: a call waits in a queue whose agent is not ready and
// overflows after the configured wait; a queue set to overflow at once
// when nobody is ready sends the call on without waiting.
func TestOverflow(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	h.queue(telephony.Queue{Name: "backup", Strategy: telephony.TopDown}, map[string]int{"8002": 1})
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"},
		OverflowQueue: "backup", OverflowAfter: time.Second}, map[string]int{"8001": 1})
	h.queue(telephony.Queue{Name: "night", Strategy: telephony.TopDown, DIDs: []string{"4001"}, OverflowQueue: "backup"},
		map[string]int{"8001": 1})
	h.phone("8001", "agent.xml", 0)
	h.phone("8002", "agent.xml", 2)
	h.login("8001", false) // logged in, not ready
	h.login("8002", true)

	h.call("4000", "13800000004", "caller.xml", nil).wait(t, 20*time.Second)
	r := h.record(1)
	if r.Queue != "backup" || r.FirstQueue != "sales" || r.Agent != agentUser("8002") || r.Wait() < time.Second {
		t.Fatalf("overflow after a wait: %+v", r)
	}
	if r.DispositionIn("sales") != telephony.Overflowed {
		t.Fatal("the first queue sees the call as overflowed")
	}
	eventually(t, 5*time.Second, "8002 ready", func() bool { return h.agentState("8002").State == telephony.Ready })
	h.call("4001", "13800000005", "caller.xml", nil).wait(t, 20*time.Second)
	r = h.record(2)
	if r.Queue != "backup" || r.FirstQueue != "night" || r.Wait() >= time.Second {
		t.Fatalf("overflow at once: %+v (waited %v)", r, r.Wait())
	}
	h.idle()
}

// TestMaxWaitCallback: a caller who waits past the queue's maximum is
// released (480) and a callback task is created; a call to a queue where
// nobody is logged in is released at once, with a callback too.
func TestMaxWaitCallback(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}, MaxWait: 2 * time.Second},
		map[string]int{"8001": 1})
	h.queue(telephony.Queue{Name: "empty", Strategy: telephony.TopDown, DIDs: []string{"4001"}}, nil)
	h.phone("8001", "agent.xml", 0)
	h.login("8001", false)
	h.call("4000", "13800000006", "caller_final.xml", map[string]string{"CODE": "480"}).wait(t, 20*time.Second)
	r := h.record(1)
	if r.Disposition != telephony.NoAgent || r.Cause != "max_wait" || r.Wait() < 2*time.Second {
		t.Fatalf("record = %+v", r)
	}
	h.call("4001", "13800000007", "caller_final.xml", map[string]string{"CODE": "480"}).wait(t, 20*time.Second)
	r2 := h.record(2)
	if r2.Disposition != telephony.NoAgent || r2.Cause != "no_agent" {
		t.Fatalf("record = %+v", r2)
	}
	eventually(t, 5*time.Second, "two callbacks", func() bool { return len(h.callbacks()) == 2 })
	cbs := h.callbacks() // newest first
	if cbs[1].Number != "13800000006" || cbs[1].Reason != telephony.ReasonMaxWait || cbs[1].Call != r.ID || cbs[1].Queue != "sales" ||
		cbs[0].Number != "13800000007" || cbs[0].Reason != telephony.ReasonNoAgent || cbs[0].Status != telephony.CallbackOpen {
		t.Fatalf("callbacks = %+v %+v", cbs[0], cbs[1])
	}
	h.idle()
}

// TestBlacklist: a blacklisted number is declined (603) at the INVITE and
// recorded; a number with a warning reaches the agent, flagged.
func TestBlacklist(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.mu.Lock()
	h.blacklist["13900000666"] = [2]bool{true, false}
	h.blacklist["13900000777"] = [2]bool{false, true}
	h.mu.Unlock()
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	h.phone("8001", "agent.xml", 1)
	h.login("8001", true)
	h.call("4000", "13900000666", "caller_final.xml", map[string]string{"CODE": "603"}).wait(t, 20*time.Second)
	r := h.record(1)
	if r.Disposition != telephony.Blacklisted || len(h.ringOrder()) != 0 {
		t.Fatalf("record = %+v, rings %v", r, h.ringOrder())
	}
	h.call("4000", "13900000777", "caller.xml", nil).wait(t, 20*time.Second)
	r = h.record(2)
	if r.Disposition != telephony.Answered || !r.Warned {
		t.Fatalf("warned record = %+v", r)
	}
	h.mu.Lock()
	pops := append([]CallInfo(nil), h.pops...)
	h.mu.Unlock()
	if len(pops) != 1 || !pops[0].Warned || pops[0].Caller != "13900000777" || pops[0].ID != r.ID {
		t.Fatalf("screen pops = %+v", pops)
	}
	h.idle()
}

// TestCancelWhileRinging: the customer hangs up while the agent's phone
// rings: the customer gets 487, the agent's INVITE is cancelled (the
// phone's scenario expects the CANCEL), the agent stays ready, and the
// abandoned call gets a callback.
func TestCancelWhileRinging(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}, RingTimeout: 20 * time.Second},
		map[string]int{"8001": 1})
	ph := h.phone("8001", "agent_noanswer.xml", 1)
	h.login("8001", true)
	h.call("4000", "13800000008", "caller_cancel.xml", nil).wait(t, 20*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.Disposition != telephony.Abandoned || r.HangupBy != telephony.ByCaller || r.Agent != "" {
		t.Fatalf("record = %+v", r)
	}
	eventually(t, 5*time.Second, "agent ready", func() bool { return h.agentState("8001").State == telephony.Ready })
	eventually(t, 5*time.Second, "a callback", func() bool { return len(h.callbacks()) == 1 })
	if cb := h.callbacks()[0]; cb.Reason != telephony.ReasonAbandoned || cb.Number != "13800000008" {
		t.Fatalf("callback = %+v", cb)
	}
}

// TestAgentHangsUp: the BYE comes from the agent's phone; the customer is
// sent a BYE and the record says the agent hung up.
func TestAgentHangsUp(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}, WrapUp: time.Second},
		map[string]int{"8001": 1})
	ph := h.phone("8001", "agent_bye.xml", 1, "-d", "300")
	h.login("8001", true)
	h.call("4000", "13800000009", "caller_wait_bye.xml", nil).wait(t, 20*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.HangupBy != telephony.ByAgent || r.Disposition != telephony.Answered {
		t.Fatalf("record = %+v", r)
	}
	// Wrap-up, then ready, and the wrap-up time lands on the record.
	if a := h.agentState("8001"); a.State != telephony.WrapUp {
		t.Fatalf("after the call the agent is %s, want wrap_up", a.State)
	}
	eventually(t, 5*time.Second, "ready after wrap-up", func() bool { return h.agentState("8001").State == telephony.Ready })
	eventually(t, 5*time.Second, "wrap-up on the record", func() bool { return h.record(1).WrapUp >= time.Second })
}

// TestRegistrar: a wrong password is refused (403 after the 401
// challenge); a right one binds; a second phone adds a contact; Expires 0
// removes a binding.
func TestRegistrar(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	h.register("8001", "wrong-password", 5555, 60, "403")
	h.register("9999", "whatever", 5555, 60, "403") // unknown extensions look the same
	if n := len(h.srv.Registrations()["8001"]); n != 0 {
		t.Fatalf("bindings after a refused REGISTER: %d", n)
	}
	h.register("8001", extPassword("8001"), 5555, 60, "200")
	h.register("8001", extPassword("8001"), 5556, 60, "200")
	if bs := h.srv.Registrations()["8001"]; len(bs) != 2 {
		t.Fatalf("bindings = %+v", bs)
	}
	h.register("8001", extPassword("8001"), 5555, 0, "200")
	bs := h.srv.Registrations()["8001"]
	if len(bs) != 1 || bs[0].URI.Port != 5556 {
		t.Fatalf("bindings after unregister = %+v", bs)
	}
	// Expiry: a binding for 1 s is gone after it.
	h.register("8001", extPassword("8001"), 5557, 1, "200")
	eventually(t, 5*time.Second, "the 1 s binding expired", func() bool { return len(h.srv.Registrations()["8001"]) == 1 })
}

// TestUnknownSource: an INVITE from an address that is no trunk, without
// credentials, is refused with 403 and leaves nothing behind.
func TestUnknownSource(t *testing.T) {
	h := newHarness(t)
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, nil)
	p := h.sipp("caller_final.xml", map[string]string{"CODE": "403"}, "u1", "-i", "127.0.0.3",
		"-m", "1", "-s", "4000", "-key", "caller", "13800000010")
	p.wait(t, 20*time.Second)
	h.idle()
	if rs := h.records(); len(rs) != 0 {
		t.Fatalf("records of a refused stranger: %+v", rs)
	}
}

// TestMessage: a text to a registered phone is delivered (200); one to an
// extension with no phone waits, and is delivered when a phone registers.
func TestMessage(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	ph := h.phone("8001", "agent_message.xml", 1)
	ctx := context.Background()
	m, err := h.srv.SendMessage(ctx, "dispatcher", "8001", "取件：浦东新区张江路 1 号，13800000000")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != telephony.MessageDelivered {
		t.Fatalf("message = %+v", m)
	}
	ph.uas.wait(t, 10*time.Second)

	m2, err := h.srv.SendMessage(ctx, "dispatcher", "8002", "派件 SH-260105-0001")
	if err != nil {
		t.Fatal(err)
	}
	if m2.Status != telephony.MessagePending {
		t.Fatalf("message to an unregistered extension = %+v", m2)
	}
	ph2 := h.phone("8002", "agent_message.xml", 1)
	eventually(t, 10*time.Second, "pending message delivered at register", func() bool {
		m, err := h.srv.Message(m2.ID)
		return err == nil && m.Status == telephony.MessageDelivered
	})
	ph2.uas.wait(t, 10*time.Second)
}

// TestMalformed: sipp sends requests with broken headers (each refused),
// and raw garbage arrives over UDP and TCP; the switch keeps serving and
// holds no dialog.
func TestMalformed(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	h.call("4000", "13800000011", "broken.xml", nil).wait(t, 20*time.Second)

	// Raw requests over UDP: those that parse get the answer shown (0:
	// none, the parser drops them); nothing may crash or stay behind.
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	me := u.LocalAddr().String()
	node, _ := net.ResolveUDPAddr("udp", h.srv.UDPAddr())
	hdr := func(method, cseq, extra string) []byte {
		return []byte(method + " sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + me + ";branch=z9hG4bK" + method + cseq +
			"\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:4000@127.0.0.1>\r\nCall-ID: raw-" + cseq +
			"\r\nCSeq: " + cseq + "\r\nMax-Forwards: 70\r\n" + extra + "Content-Length: 0\r\n\r\n")
	}
	for _, tc := range []struct {
		msg  []byte
		want int
	}{
		{hdr("INVITE", "1 BYE", ""), 400},                         // CSeq method mismatch
		{hdr("INVITE", "2 INVITE", ""), 400},                      // from the trunk, routed, but no Contact
		{hdr("REGISTER", "3 REGISTER", "Expires: soon\r\n"), 401}, // challenged before anything else
		{hdr("CANCEL", "4 CANCEL", ""), 481},                      // nothing to cancel
		{hdr("INFO", "5 INFO", ""), 481},                          // no dialog
		{[]byte("\x00\x01\x02garbage"), 0},
		{[]byte("INVITE sip:4000@127.0.0.1 SIP/2.0\r\n\r\n"), 0},
		{[]byte("INVITE sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + me + ";branch=z9hG4bKx\r\nContent-Length: 99999\r\n\r\nv=0"), 0},
		{[]byte("REGISTER sip:x SIP/2.0\r\nVia: \r\nFrom: <>\r\nTo: ;tag=\r\nCall-ID: \r\nCSeq: x\r\n\r\n"), 0},
		{[]byte("INVITE sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + me + ";branch=z9hG4bKy\r\nFrom: <sip:1@h>;tag=1\r\nTo: <<<>>>;;;\r\nCall-ID: y\r\nCSeq: 1 INVITE\r\n\r\n"), 0},
		{[]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP " + me + ";branch=z9hG4bKnope\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\n\r\n"), 0},
		{append([]byte("OPTIONS sip:x SIP/2.0\r\nX-Long: "), make([]byte, 60000)...), 0},
	} {
		if _, err := u.WriteTo(tc.msg, node); err != nil {
			t.Fatal(err)
		}
		if tc.want == 0 {
			continue
		}
		buf := make([]byte, 65535)
		_ = u.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := u.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer to %q: %v", tc.msg[:20], err)
		}
		if got := string(buf[:n]); !strings.HasPrefix(got, "SIP/2.0 "+strconv.Itoa(tc.want)) {
			t.Fatalf("answer to %q = %q, want %d", tc.msg[:30], got[:min(len(got), 60)], tc.want)
		}
	}
	for _, g := range [][]byte{[]byte("\x00\xff\r\n\r\n"), []byte("INVITE sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n"),
		append([]byte("OPTIONS sip:x SIP/2.0\r\nX: "), make([]byte, 100000)...)} {
		c, err := net.Dial("tcp", h.srv.TCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(g) // the switch may close the connection early
		c.Close()
	}
	// Still serving: a real call goes through.
	ph := h.phone("8001", "agent.xml", 1)
	h.login("8001", true)
	h.call("4000", "13800000012", "caller.xml", nil).wait(t, 20*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
}

// TestHoldAndTransfer: from the API, the call is held (both parties
// re-INVITEd sendonly), retrieved (sendrecv), then blind-transferred to
// another extension: the first agent is hung up, the second called with a
// delayed offer, the customer re-INVITEd with the new agent's SDP.
func TestHoldAndTransfer(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	p1 := h.phone("8001", "agent_hold.xml", 1)
	p2 := h.phone("8002", "agent_delayed.xml", 1)
	h.login("8001", true)
	caller := h.call("4000", "13800000013", "caller_reinvite.xml", map[string]string{"N": "3"}, "-d", "500")
	var id string
	eventually(t, 10*time.Second, "the call connected", func() bool {
		for _, c := range h.srv.Calls() {
			if c.State == StateConnected {
				id = c.ID
				return true
			}
		}
		return false
	})
	ctx := context.Background()
	if err := h.srv.Hold(ctx, id, true, "sup"); err != nil {
		t.Fatalf("hold: %v", err)
	}
	if c, _ := h.srv.Call(id); c.State != StateHeld {
		t.Fatalf("state after hold = %s", c.State)
	}
	if err := h.srv.Hold(ctx, id, false, "sup"); err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if err := h.srv.Transfer(ctx, id, "8002", agentUser("8001")); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	caller.wait(t, 20*time.Second)
	p1.uas.wait(t, 10*time.Second)
	p2.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.Agent != agentUser("8002") || r.Disposition != telephony.Answered || r.Attempts != 2 {
		t.Fatalf("record = %+v", r)
	}
}

// TestReferTransfer: the agent's phone transfers the customer with REFER;
// the switch accepts it (202), reports it (NOTIFY), hangs the agent up and
// connects the customer to the target extension.
func TestReferTransfer(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	p1 := h.phone("8001", "agent_refer.xml", 1, "-key", "target", "8002")
	p2 := h.phone("8002", "agent_delayed.xml", 1)
	h.login("8001", true)
	h.call("4000", "13800000014", "caller_reinvite.xml", map[string]string{"N": "1"}, "-d", "300").wait(t, 20*time.Second)
	p1.uas.wait(t, 10*time.Second)
	p2.uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Agent != agentUser("8002") || r.Disposition != telephony.Answered {
		t.Fatalf("record = %+v", r)
	}
}

// TestClickToDial: the API rings the agent's phone (delayed offer), then
// calls the customer through the trunk with the phone's offer and ACKs
// the phone with the customer's answer; a hang-up from the API ends both.
func TestClickToDial(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	// The carrier's gateway, where outbound calls go: a sipp UAS.
	cust, gw := h.serve("agent.xml", nil, "u1", "-m", "1")
	h.exec(func(views replication.Tx) ([]replication.Draft, error) {
		srcs, _ := telephony.ParseSources([]string{"127.0.0.1"})
		d, err := telephony.SetTrunk(telephony.Trunk{Name: "carrier", Sources: srcs, Proxy: "127.0.0.1:" + strconv.Itoa(gw)}, "")
		return []replication.Draft{d}, err
	})
	ph := h.phone("8001", "agent_delayed.xml", 1)
	h.login("8001", true)
	ctx := context.Background()
	id, err := h.srv.Dial(ctx, agentUser("8001"), "13800000015")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "click-to-dial connected", func() bool {
		c, ok := h.srv.Call(id)
		return ok && c.State == StateConnected
	})
	if a := h.agentState("8001"); a.State != telephony.OnCall {
		t.Fatalf("agent = %+v", a)
	}
	if err := h.srv.Hangup(ctx, id, agentUser("8001")); err != nil {
		t.Fatal(err)
	}
	cust.wait(t, 10*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.Direction != telephony.Outbound || r.Disposition != telephony.Answered || r.DID != "13800000015" || r.Agent != agentUser("8001") {
		t.Fatalf("record = %+v", r)
	}
}

// TestPhoneRegistersWhileCallWaits: an agent logged in without a phone
// is not rung; the waiting call goes to them as soon as the phone
// registers.
func TestPhoneRegistersWhileCallWaits(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	h.login("8001", true)
	caller := h.call("4000", "13800000016", "caller.xml", nil)
	eventually(t, 10*time.Second, "the call waiting", func() bool {
		cs := h.srv.Calls()
		return len(cs) == 1 && cs[0].State == StateQueued
	})
	ph := h.phone("8001", "agent.xml", 1)
	caller.wait(t, 20*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Disposition != telephony.Answered || r.Agent != agentUser("8001") {
		t.Fatalf("record = %+v", r)
	}
}

// TestServeTakenPort: the port picked for a listening sipp is taken by
// another process before sipp binds it (what made TestTCP fail with errno
// 98 on a loaded machine). serve notices that sipp could not bind it and
// starts it on another; the call then goes through over TCP as in TestTCP.
func TestServeTakenPort(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	picks := 0
	h.pickPort = func(t *testing.T, transport string) int {
		picks++
		if picks == 1 {
			return takenPort // another process got there first
		}
		return pickPort(t, transport)
	}
	uas, port := h.serve("agent.xml", nil, "t1", "-m", "1")
	if port == takenPort || picks != 2 || !boundBy(uas.cmd.Process.Pid, port, true) {
		t.Fatalf("sipp serves on %d after %d picks (taken: %d)", port, picks, takenPort)
	}
	h.sipp("register.xml", map[string]string{"CODE": "200"}, "t1", "-i", "127.0.0.1", "-m", "1", "-s", "8001",
		"-au", "8001", "-ap", extPassword("8001"), "-key", "contact_port", strconv.Itoa(port), "-key", "expires", "60").wait(t, 20*time.Second)
	h.login("8001", true)
	h.sipp("caller.xml", nil, "t1", "-i", "127.0.0.1", "-m", "1", "-s", "4000", "-key", "caller", "13800000002", "-d", "200").wait(t, 20*time.Second)
	uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Disposition != telephony.Answered {
		t.Fatalf("record = %+v", r)
	}
}

// TestUnacknowledgedAnswer: the customer's side never acknowledges the
// 200 that answered it. The switch gives up after the ACK timeout, hangs
// both parties up, and the call is not answered: not in the record, not
// in the KPIs.
func TestUnacknowledgedAnswer(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AckTimeout = time.Second })
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	ph := h.phone("8001", "agent.xml", 1)
	h.login("8001", true)
	h.call("4000", "13800000017", "caller_noack.xml", nil).wait(t, 20*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.Disposition == telephony.Answered || r.Cause != "no_ack" || !r.Answer.IsZero() {
		t.Fatalf("record = %+v, want not answered (no_ack)", r)
	}
	if k := telephony.ComputeKPIs(h.records(), "", 0); k.Answered != 0 || k.CallsIn != 1 {
		t.Fatalf("KPIs = %+v, want 1 call in, 0 answered", k)
	}
}

// TestMissedRingPause: an agent who lets an offer ring out is not ready
// (no answer) for the queue's pause only, then ready again, and takes the
// next call.
func TestMissedRingPause(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.extension("8002")
	h.queue(telephony.Queue{Name: "q", Strategy: telephony.TopDown, DIDs: []string{"4000"}, RingTimeout: time.Second,
		NoAnswerPause: 2 * time.Second}, map[string]int{"8001": 1, "8002": 2})
	p1 := h.phone("8001", "agent_noanswer.xml", 1)
	h.phone("8002", "agent.xml", 0)
	h.login("8001", true)
	h.login("8002", true)
	h.call("4000", "13800000018", "caller.xml", nil).wait(t, 20*time.Second)
	p1.uas.wait(t, 10*time.Second)
	missed := h.agentState("8001")
	if missed.State != telephony.NotReady || missed.Reason != telephony.ReasonNoAnswer {
		t.Fatalf("after the missed ring: %+v", missed)
	}
	eventually(t, 10*time.Second, "8001 ready after its pause", func() bool { return h.agentState("8001").State == telephony.Ready })
	if back := h.agentState("8001"); back.Since.Sub(missed.Since) < 2*time.Second {
		t.Fatalf("ready again after %v, before the 2 s pause", back.Since.Sub(missed.Since))
	}
	h.idle()
}

// TestJunkInvites: INVITEs from the trunk to numbers nobody answers are
// refused with 404 and counted, and leave no call record behind.
func TestJunkInvites(t *testing.T) {
	h := newHarness(t)
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, nil)
	ua := newRawUA(t, h.srv.UDPAddr()) // from 127.0.0.1: the trunk
	for _, number := range []string{"4999", "00861234", "admin"} {
		res := ua.do(reqSpec{method: "INVITE", ruri: "sip:" + number + "@127.0.0.1", from: "13800000019", to: number,
			contact: "<sip:13800000019@" + ua.addr() + ">"})
		if res.StatusCode != 404 {
			t.Fatalf("INVITE to %s: %d %s", number, res.StatusCode, res.Reason)
		}
	}
	if n := counter(t, h.srv.metrics.junkInvites.WithLabelValues("no_route")); n != 3 {
		t.Fatalf("junk INVITEs counted: %v, want 3", n)
	}
	h.idle()
	// A routed call still leaves its record: the records are written,
	// and none of them is junk.
	h.call("4000", "13800000020", "caller_final.xml", map[string]string{"CODE": "480"}).wait(t, 20*time.Second)
	h.record(1)
	if rs := h.records(); len(rs) != 1 || rs[0].DID != "4000" {
		t.Fatalf("records: %+v", rs)
	}
}

// TestByeBeforeAck: the customer's BYE arrives before the ACK of the 200
// that answered it (they cross, or the carrier hangs up at once). The
// customer had the 200: each such call is answered, by the record and the
// KPIs, not ended as unacknowledged.
func TestByeBeforeAck(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	const calls = 30
	ph := h.phone("8001", "agent.xml", calls)
	h.login("8001", true)
	for i := range calls {
		h.call("4000", "13800000032", "caller_bye_first.xml", nil).wait(t, 20*time.Second)
		h.record(i + 1)
		eventually(t, 5*time.Second, "the agent ready", func() bool { return h.agentState("8001").State == telephony.Ready })
	}
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	for _, r := range h.records() {
		if r.Disposition != telephony.Answered || r.HangupBy != telephony.ByCaller {
			t.Fatalf("record = %+v, want answered, hung up by the caller", r)
		}
	}
	if k := telephony.ComputeKPIs(h.records(), "", 0); k.Answered != calls {
		t.Fatalf("KPIs = %+v, want %d answered", k, calls)
	}
}
