package pbx

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/telephony"
)

// The tests below are RFC 3262 (reliable provisional responses) seen
// from a carrier's trunk whose INVITE requires 100rel: with sipp as the
// carrier for a whole call, and with a raw UDP socket where the timing
// and the exact answers to PRACKs matter.

// TestReliableProvisionalCall: a carrier that insists on 100rel calls a
// queue. The 182 and the agent phone's 180 come reliably (Require:
// 100rel, RSeq one higher each time), each is PRACKed and the PRACK
// answered 200 (the scenario checks all of it), and the call is answered
// by the agent, talks and ends as any other.
func TestReliableProvisionalCall(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	// The phone rings for a second before the agent picks up: time for the
	// carrier to acknowledge the 182 and for the 180 to follow it.
	ph := h.phone("8001", "agent_ring.xml", 1, "-d", "1000")
	h.login("8001", true)
	h.call("4000", "13800000030", "caller_100rel.xml", nil).wait(t, 30*time.Second)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	r := h.record(1)
	if r.Disposition != telephony.Answered || r.Agent != agentUser("8001") || r.Queue != "sales" || r.HangupBy != telephony.ByCaller {
		t.Fatalf("record = %+v", r)
	}
}

// TestReliableProvisionalRetransmitted: the reliable 180 of a call to an
// extension comes again, at intervals starting at T1 and doubling, until
// the PRACK arrives; then it stops.
func TestReliableProvisionalRetransmitted(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	ph := h.phone("8001", "agent_noanswer.xml", 1)
	tc := newTrunkCall(t, h, "8001", []string{"Require: 100rel"}, "")
	var at []time.Time
	var first *sip.Response
	for len(at) < 3 {
		res := tc.expect(sip.StatusRinging)
		rseq := reliableRSeq(t, res)
		if first == nil {
			first = res
		} else if rseq != reliableRSeq(t, first) {
			t.Fatalf("a copy of the 180 with RSeq %d, the first had %d", rseq, reliableRSeq(t, first))
		}
		at = append(at, time.Now())
	}
	// RFC 3262 §3: "The reliable provisional response is passed to the
	// transaction layer periodically with an interval that starts at T1
	// seconds and doubles for each retransmission."
	if g1, g2 := at[1].Sub(at[0]), at[2].Sub(at[1]); g1 < sip.T1*8/10 || g2 < 2*sip.T1*8/10 {
		t.Fatalf("copies %v then %v apart, want T1 (%v) then 2*T1", g1, g2, sip.T1)
	}
	if res := tc.prack(strconv.Itoa(int(reliableRSeq(t, first))) + " 1 INVITE"); res.StatusCode != sip.StatusOK {
		t.Fatalf("PRACK: %d %s", res.StatusCode, res.Reason)
	}
	// The next copy was due 4*T1 after the last one.
	if res := tc.readUntil(at[2].Add(5 * sip.T1)); res != nil {
		t.Fatalf("after the PRACK: %d %s", res.StatusCode, res.Reason)
	}
	tc.cancel()
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Disposition != telephony.Abandoned {
		t.Fatalf("record = %+v", r)
	}
}

// TestPrackUnmatched: a PRACK that acknowledges no reliable provisional
// response the switch is waiting on gets 481 (RFC 3262 §3: "If a PRACK
// request is received by the UA core that does not match any
// unacknowledged reliable provisional response, the UAS MUST respond to
// the PRACK with a 481 response"), and does not stop the retransmissions;
// the right one gets 200, and the same again 481.
func TestPrackUnmatched(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	ph := h.phone("8001", "agent_noanswer.xml", 1)
	tc := newTrunkCall(t, h, "8001", []string{"Require: 100rel"}, "")
	rseq := int(reliableRSeq(t, tc.expect(sip.StatusRinging)))
	for _, c := range []struct {
		name  string
		rack  string // "": none
		other bool   // in another dialog (Call-ID)
		want  int
	}{
		{"an RSeq never sent", strconv.Itoa(rseq+1) + " 1 INVITE", false, 481},
		{"another INVITE's CSeq", strconv.Itoa(rseq) + " 7 INVITE", false, 481},
		{"another method", strconv.Itoa(rseq) + " 1 BYE", false, 481},
		{"no such dialog", strconv.Itoa(rseq) + " 1 INVITE", true, 481},
		{"no RAck", "", false, 400},
		{"the 180's", strconv.Itoa(rseq) + " 1 INVITE", false, 200},
		{"the 180's again", strconv.Itoa(rseq) + " 1 INVITE", false, 481},
	} {
		var res *sip.Response
		if c.other {
			res = tc.prackIn(newCallID(), c.rack)
		} else {
			res = tc.prack(c.rack)
		}
		if res.StatusCode != c.want {
			t.Fatalf("PRACK with %s (RAck %q): %d %s, want %d", c.name, c.rack, res.StatusCode, res.Reason, c.want)
		}
	}
	tc.cancel()
	ph.uas.wait(t, 10*time.Second)
	h.idle()
}

// TestAnswerWaitsForPrack: the agent's phone sends early media (183 with
// SDP), relayed reliably after the 180's PRACK, and then answers. The
// switch must not send the 200 until the 183 is acknowledged (RFC 3262
// §3: "unless the final response is 2xx and any of the unacknowledged
// reliable provisional responses contained a session description. In
// that case, it MUST NOT send a final response until those provisional
// responses are acknowledged"): it keeps repeating the 183 while the
// agent is connected, and the 200 follows the PRACK's.
func TestAnswerWaitsForPrack(t *testing.T) {
	slow(t)
	h := newHarness(t)
	h.extension("8001")
	ph := h.phone("8001", "agent_early.xml", 1, "-d", "1000")
	tc := newTrunkCall(t, h, "8001", []string{"Require: 100rel", "Content-Type: application/sdp"}, testOffer)
	r180 := reliableRSeq(t, tc.expect(sip.StatusRinging))
	if res := tc.prack(strconv.Itoa(int(r180)) + " 1 INVITE"); res.StatusCode != sip.StatusOK {
		t.Fatalf("PRACK of the 180: %d", res.StatusCode)
	}
	early := tc.expect(sip.StatusSessionInProgress)
	r183 := reliableRSeq(t, early)
	if r183 != r180+1 || len(early.Body()) == 0 {
		t.Fatalf("183 with RSeq %d after the 180's %d, %d bytes of SDP", r183, r180, len(early.Body()))
	}
	eventually(t, 10*time.Second, "the agent answered", func() bool {
		cs := h.srv.Calls()
		return len(cs) == 1 && cs[0].State == StateConnected
	})
	copies := 0
	for deadline := time.Now().Add(3 * sip.T1); ; {
		res := tc.readUntil(deadline)
		if res == nil {
			break
		}
		if res.StatusCode != sip.StatusSessionInProgress {
			t.Fatalf("%d %s before the 183 was acknowledged", res.StatusCode, res.Reason)
		}
		copies++
	}
	if copies == 0 {
		t.Fatal("the unacknowledged 183 was not repeated while the 200 waited")
	}
	if res := tc.prack(strconv.Itoa(int(r183)) + " 1 INVITE"); res.StatusCode != sip.StatusOK {
		t.Fatalf("PRACK of the 183: %d", res.StatusCode)
	}
	ok := tc.expect(sip.StatusOK)
	if len(ok.Body()) == 0 {
		t.Fatal("the 200 carries no SDP")
	}
	tc.ack(ok)
	tc.bye()
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Disposition != telephony.Answered || r.Agent != agentUser("8001") {
		t.Fatalf("record = %+v", r)
	}
}

// TestUnacknowledgedProvisional: a caller who never PRACKs the queue's
// reliable 182 is refused with a 5xx after 64*T1 (RFC 3262 §3: "If a
// reliable provisional response is retransmitted for 64*T1 seconds
// without reception of a corresponding PRACK, the UAS SHOULD reject the
// original request with a 5xx response"); the agent's phone, already
// ringing, is cancelled, and the agent is not held responsible. (T1 is
// shortened to 20 ms: 64*T1 is 1.28 s.)
func TestUnacknowledgedProvisional(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.t1 = 20 * time.Millisecond })
	h.extension("8001")
	h.queue(telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}}, map[string]int{"8001": 1})
	ph := h.phone("8001", "agent_noanswer.xml", 1)
	h.login("8001", true)
	// The switch's 64*T1 runs from its first 182, which follows the
	// INVITE: timed from before the INVITE, the wait is never shorter.
	start := time.Now()
	tc := newTrunkCall(t, h, "4000", []string{"Require: 100rel"}, "")
	copies := 0
	var final *sip.Response
	for final == nil {
		res := tc.read(10 * time.Second)
		switch {
		case res == nil:
			t.Fatal("no final answer to an INVITE whose 182 is never acknowledged")
		case res.StatusCode == sip.StatusQueued:
			reliableRSeq(t, res)
			copies++
		case res.StatusCode >= 200:
			final = res
		case res.StatusCode != sip.StatusTrying:
			t.Fatalf("%d %s: only the unacknowledged 182 may come", res.StatusCode, res.Reason)
		}
	}
	if final.StatusCode != sip.StatusInternalServerError || time.Since(start) < 64*20*time.Millisecond || copies < 5 {
		t.Fatalf("%d %s after %v and %d copies of the 182, want 500 after 64*T1", final.StatusCode, final.Reason, time.Since(start), copies)
	}
	tc.ack(final)
	ph.uas.wait(t, 10*time.Second)
	h.idle()
	if r := h.record(1); r.Disposition != telephony.NotAnswered || r.Cause != "no_prack" {
		t.Fatalf("record = %+v", r)
	}
	if a := h.agentState("8001"); a.State != telephony.Ready {
		t.Fatalf("agent = %+v, want ready: the caller did not acknowledge, the agent did nothing wrong", a)
	}
}

// TestAnswerRefusedWithoutPrack: the agent answers while the 183 with
// SDP waits for its PRACK, which never comes. The 200 is never sent: the
// caller gets the 500 of RFC 3262 §3, the agent's phone a BYE, and the
// call is not answered. (T1 is 50 ms: 64*T1 is 3.2 s; the agent answers
// after 1 s.)
func TestAnswerRefusedWithoutPrack(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.t1 = 50 * time.Millisecond })
	h.extension("8001")
	ph := h.phone("8001", "agent_early.xml", 1, "-d", "1000")
	tc := newTrunkCall(t, h, "8001", []string{"Require: 100rel", "Content-Type: application/sdp"}, testOffer)
	r180 := reliableRSeq(t, tc.expect(sip.StatusRinging))
	if res := tc.prack(strconv.Itoa(int(r180)) + " 1 INVITE"); res.StatusCode != sip.StatusOK {
		t.Fatalf("PRACK of the 180: %d", res.StatusCode)
	}
	tc.expect(sip.StatusSessionInProgress)
	final := tc.expect(sip.StatusInternalServerError)
	tc.ack(final)
	ph.uas.wait(t, 10*time.Second) // it was answered, ACKed and sent a BYE
	h.idle()
	if r := h.record(1); r.Disposition != telephony.NotAnswered || r.Cause != "no_prack" || r.Agent != agentUser("8001") {
		t.Fatalf("record = %+v", r)
	}
}

// TestSupported100relUnreliable: an INVITE that only supports 100rel gets
// its 180 unreliably (RFC 3262 §3 leaves it to the UAS; see reliable.go).
func TestSupported100relUnreliable(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	ph := h.phone("8001", "agent_noanswer.xml", 1)
	tc := newTrunkCall(t, h, "8001", []string{"Supported: 100rel"}, "")
	res := tc.expect(sip.StatusRinging)
	if res.GetHeader("RSeq") != nil || res.GetHeader("Require") != nil {
		t.Fatalf("the 180 is reliable: %s", res)
	}
	tc.cancel()
	ph.uas.wait(t, 10*time.Second)
	h.idle()
}

// TestRequireExtensions: the switch supports 100rel, and says so; a
// request that requires any other extension gets 420 naming just the
// ones it lacks (RFC 3261 8.2.2.3).
func TestRequireExtensions(t *testing.T) {
	h := newHarness(t)
	ua := newRawUA(t, h.srv.UDPAddr())
	for _, c := range []struct {
		require     string
		want        int
		unsupported string
	}{
		{"100rel", 200, ""},
		{"100REL", 200, ""},
		{"100rel, nothingSupportsThis", 420, "nothingSupportsThis"},
		{"foo, bar", 420, "foo, bar"},
	} {
		res := ua.do(reqSpec{method: "OPTIONS", ruri: "sip:127.0.0.1", from: "1", to: "2", extra: []string{"Require: " + c.require}})
		if res.StatusCode != c.want {
			t.Fatalf("Require: %s: %d %s, want %d", c.require, res.StatusCode, res.Reason, c.want)
		}
		if s := res.GetHeader("Supported"); s == nil || !strings.Contains(s.Value(), "100rel") {
			t.Fatalf("Require: %s: answered without Supported: 100rel", c.require)
		}
		if c.want == 420 && res.GetHeader("Unsupported").Value() != c.unsupported {
			t.Fatalf("Require: %s: Unsupported: %s, want %s", c.require, res.GetHeader("Unsupported").Value(), c.unsupported)
		}
		if c.want == 200 {
			allow := strings.Split(res.GetHeader("Allow").Value(), ", ")
			if !slices.Contains(allow, "PRACK") {
				t.Fatalf("Allow: %v without PRACK", allow)
			}
		}
	}
}

// testOffer is a caller's SDP offer.
const testOffer = "v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

// reliableRSeq checks that res is a reliable provisional response and
// returns its RSeq.
func reliableRSeq(t *testing.T, res *sip.Response) uint32 {
	t.Helper()
	req, rs := res.GetHeader("Require"), res.GetHeader("RSeq")
	if req == nil || !strings.EqualFold(strings.TrimSpace(req.Value()), "100rel") || rs == nil {
		t.Fatalf("%d %s is not reliable: Require %v, RSeq %v", res.StatusCode, res.Reason, req, rs)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(rs.Value()), 10, 32)
	if err != nil || n == 0 {
		t.Fatalf("RSeq %q", rs.Value())
	}
	return uint32(n)
}

// trunkCall is a call from the trunk's address made with a raw socket:
// the INVITE, and what the test sends within its transaction and dialog.
type trunkCall struct {
	t       *testing.T
	ua      *rawUA
	invite  reqSpec
	toTag   string // the switch's, from its first response with one
	cseq    int
	backlog []*sip.Response // read while waiting for another response
}

func newTrunkCall(t *testing.T, h *harness, to string, extra []string, body string) *trunkCall {
	t.Helper()
	ua := newRawUA(t, h.srv.UDPAddr())
	tc := &trunkCall{t: t, ua: ua, cseq: 1, invite: reqSpec{method: "INVITE", ruri: "sip:" + to + "@127.0.0.1", from: "13800000031", to: to,
		callID: newCallID(), cseq: 1, contact: "<sip:13800000031@" + ua.addr() + ">", extra: extra, body: body,
		fromTag: newCallID(), branch: newCallID()}}
	ua.send(ua.build(tc.invite))
	return tc
}

// read returns the next response of the call within d (nil: none).
func (tc *trunkCall) read(d time.Duration) *sip.Response {
	return tc.readUntil(time.Now().Add(d))
}

func (tc *trunkCall) readUntil(deadline time.Time) *sip.Response {
	tc.t.Helper()
	if len(tc.backlog) > 0 {
		res := tc.backlog[0]
		tc.backlog = tc.backlog[1:]
		return res
	}
	for time.Now().Before(deadline) {
		res, ok := tc.ua.next(time.Until(deadline)).(*sip.Response)
		if !ok || res.CallID() == nil || res.CallID().Value() != tc.invite.callID {
			continue
		}
		if tag, ok := res.To().Params.Get("tag"); ok && tc.toTag == "" && res.StatusCode > 100 {
			tc.toTag = tag
		}
		return res
	}
	return nil
}

// expect reads responses to the INVITE until one with code, passing over
// 100 and repeated provisional responses (and the responses to other
// requests); any other final one fails.
func (tc *trunkCall) expect(code int) *sip.Response {
	tc.t.Helper()
	for {
		res := tc.read(10 * time.Second)
		switch {
		case res == nil:
			tc.t.Fatalf("no %d within 10s", code)
		case res.CSeq().MethodName != sip.INVITE:
		case res.StatusCode == code:
			return res
		case res.StatusCode >= 200:
			tc.t.Fatalf("%d %s, want %d", res.StatusCode, res.Reason, code)
		}
	}
}

// prack sends a PRACK with RAck rack ("": none) in the call's early
// dialog and returns its final response.
func (tc *trunkCall) prack(rack string) *sip.Response {
	tc.t.Helper()
	return tc.prackIn(tc.invite.callID, rack)
}

// prackIn is prack with the Call-ID callID.
func (tc *trunkCall) prackIn(callID, rack string) *sip.Response {
	tc.t.Helper()
	tc.cseq++
	spec := tc.inDialog("PRACK", tc.cseq)
	spec.callID = callID
	if rack != "" {
		spec.extra = []string{"RAck: " + rack}
	}
	tc.ua.send(tc.ua.build(spec))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res, ok := tc.ua.next(time.Until(deadline)).(*sip.Response)
		if !ok || res.CallID() == nil {
			continue
		}
		if res.CallID().Value() == callID && res.CSeq().MethodName == sip.PRACK && !res.IsProvisional() {
			return res
		}
		if res.CallID().Value() == tc.invite.callID {
			tc.backlog = append(tc.backlog, res) // the INVITE's
		}
	}
	tc.t.Fatalf("no answer to the PRACK (RAck %q) within 5s", rack)
	return nil
}

// inDialog is a request of the call's dialog.
func (tc *trunkCall) inDialog(method string, cseq int) reqSpec {
	return reqSpec{method: method, ruri: "sip:branchline@" + tc.ua.to.String(), from: tc.invite.from, to: tc.invite.to,
		callID: tc.invite.callID, cseq: cseq, fromTag: tc.invite.fromTag, toTag: tc.toTag}
}

// ack acknowledges res, the INVITE's final response: in its transaction
// for an error, in the dialog for a 2xx (RFC 3261 17.1.1.3, 13.2.2.4).
func (tc *trunkCall) ack(res *sip.Response) {
	tc.t.Helper()
	spec := tc.inDialog("ACK", 1)
	if !res.IsSuccess() {
		spec.branch = tc.invite.branch
		spec.ruri = tc.invite.ruri
	}
	tc.ua.send(tc.ua.build(spec))
}

// cancel cancels the INVITE and waits for its 487, which it acknowledges.
func (tc *trunkCall) cancel() {
	tc.t.Helper()
	spec := tc.invite
	spec.method, spec.extra, spec.body, spec.contact = "CANCEL", nil, "", ""
	tc.ua.send(tc.ua.build(spec))
	tc.ack(tc.expect(sip.StatusRequestTerminated))
}

// bye hangs up the answered call and waits for the 200.
func (tc *trunkCall) bye() {
	tc.t.Helper()
	tc.cseq++
	tc.ua.send(tc.ua.build(tc.inDialog("BYE", tc.cseq)))
	for {
		res := tc.read(5 * time.Second)
		if res == nil {
			tc.t.Fatal("no answer to the BYE")
		}
		if res.CSeq().MethodName == sip.BYE {
			if res.StatusCode != sip.StatusOK {
				tc.t.Fatalf("BYE: %d %s", res.StatusCode, res.Reason)
			}
			return
		}
	}
}
