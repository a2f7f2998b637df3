package pbx

import (
	"net"
	"strings"
	"testing"
	"time"
)

// benchInvite is a typical INVITE from a trunk (sipp's, as in bench sip).
var benchInvite = strings.ReplaceAll(`INVITE sip:4000@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0
From: "Customer" <sip:13800000000@127.0.0.1:5061>;tag=1234SIPpTag001
To: <sip:4000@127.0.0.1:5060>
Call-ID: 1-1234@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:13800000000@127.0.0.1:5061;transport=UDP>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: 129

v=0
o=customer 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`, "\n", "\r\n")

// benchServer is a switch with enough of its parts for inspect, admitting
// every call (or, with refuse, none).
func benchServer(refuse bool) *Server {
	s := &Server{metrics: newMetrics(), shed: newShedder(Overload{MaxSetup: -1, MaxPending: 1 << 30}), now: time.Now, cfg: Config{MaxCalls: 1 << 30}}
	if refuse {
		s.cfg.MaxCalls = 0
	}
	s.acd = newACD(s)
	return s
}

// BenchmarkInspect is the wire check of a typical INVITE from a trunk, as
// the read loop runs it on every datagram: its allocations are garbage
// per message (issue 17: GC took a fifth of the switch's CPU).
func BenchmarkInspect(b *testing.B) {
	s := benchServer(false)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}
	data := []byte(benchInvite)
	b.ReportAllocs()
	for b.Loop() {
		if msg, _, reply := s.inspect(data, from, false); msg == nil || reply != nil {
			b.Fatalf("the INVITE was not passed on: %q", reply)
		}
	}
}

// BenchmarkInspectRefused is a new INVITE refused under overload, with the
// ACK of its 503: what each refused call costs the read loop, which is
// all that stands between the INVITE and its 503.
func BenchmarkInspectRefused(b *testing.B) {
	s := benchServer(true)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}
	data := []byte(benchInvite)
	b.ReportAllocs()
	for b.Loop() {
		msg, _, reply := s.inspect(data, from, false)
		if msg != nil || !strings.HasPrefix(string(reply), "SIP/2.0 503 ") {
			b.Fatalf("the INVITE was not refused: %q", reply)
		}
		if msg, _, _ := s.inspect(ackOf(reply), from, false); msg != nil {
			b.Fatalf("the ACK of a stateless 503 was passed on")
		}
	}
}

// ackOf is the ACK a caller sends for the non-2xx answer res to
// benchInvite (RFC 3261 17.1.1.3: the INVITE's Via, From, Call-ID; the
// answer's To).
func ackOf(res []byte) []byte {
	to := ""
	for _, line := range strings.Split(string(res), "\r\n") {
		if strings.HasPrefix(line, "To: ") {
			to = line
		}
	}
	return []byte("ACK sip:4000@127.0.0.1:5060 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\n" +
		"From: \"Customer\" <sip:13800000000@127.0.0.1:5061>;tag=1234SIPpTag001\r\n" + to + "\r\n" +
		"Call-ID: 1-1234@127.0.0.1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
}
