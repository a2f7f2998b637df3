package pbx

import (
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkInspect is the wire check of a typical INVITE from a trunk, as
// the read loop runs it on every datagram: its allocations are garbage
// per message (issue 17: GC took a fifth of the switch's CPU).
func BenchmarkInspect(b *testing.B) {
	invite := strings.ReplaceAll(`INVITE sip:4000@127.0.0.1:5060 SIP/2.0
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
	s := &Server{metrics: newMetrics(), shed: newShedder(Overload{MaxSetup: -1, MaxPending: 1 << 30}), now: time.Now, cfg: Config{MaxCalls: 1 << 30}}
	s.acd = newACD(s)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}
	data := []byte(invite)
	b.ReportAllocs()
	for b.Loop() {
		if msg, _, reply := s.inspect(data, from, false); msg == nil || reply != nil {
			b.Fatalf("the INVITE was not passed on: %q", reply)
		}
	}
}
