package sipwire

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
)

const invite = "INVITE sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1\r\nFrom: \"C\" <sip:13800000000@127.0.0.1>;tag=a\r\nTo: <sip:4000@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:1@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n"

// checkCases are requests and the answer the check gives each.
var checkCases = []struct {
	name string
	msg  string
	code int // 0: passes
}{
	{"valid", invite, 0},
	{"folded", strings.Replace(invite, "Call-ID: c1", "Call-ID:\r\n c1", 1), 0},
	{"two content-lengths", strings.Replace(invite, "Content-Length: 0", "Content-Length: 0\r\nl: 0", 1), 400},
	{"cseq method", strings.Replace(invite, "CSeq: 1 INVITE", "CSeq: 1 ACK", 1), 400},
	{"version", strings.Replace(invite, "SIP/2.0\r\n", "SIP/7.0\r\n", 1), 505},
	{"scheme", strings.Replace(invite, "sip:4000@127.0.0.1 SIP", "mailto:x@y SIP", 1), 416},
	{"no call-id", strings.Replace(invite, "Call-ID: c1\r\n", "", 1), 400},
}

// TestCheck: the answers a refused request gets, by what is wrong with it.
func TestCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Split([]byte(tc.msg), false)
			var e *Error
			if err == nil {
				if ce := m.Check(); ce != nil {
					e = ce
				}
			} else if !errors.As(err, &e) {
				t.Fatalf("Split: %v", err)
			}
			switch {
			case tc.code == 0 && e != nil:
				t.Fatalf("refused a valid request: %v", e)
			case tc.code != 0 && (e == nil || e.Code != tc.code):
				t.Fatalf("got %v, want %d", e, tc.code)
			case e != nil:
				if r := m.Reply(e.Code, e.Reason); !bytes.HasPrefix(r, []byte("SIP/2.0 "+e.Error()+"\r\n")) {
					t.Fatalf("reply %q", r)
				}
			}
		})
	}
}

// FuzzSplit: Split, Check, Reply and Render never panic; what passes,
// rendered, passes again unchanged; a refusal's reply is a response.
func FuzzSplit(f *testing.F) {
	for _, tc := range checkCases {
		f.Add([]byte(tc.msg), false)
		f.Add([]byte(tc.msg), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, stream bool) {
		m, err := Split(data, stream)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && m != nil && !m.IsResponse() {
				if r := m.Reply(e.Code, e.Reason); r != nil && !bytes.HasPrefix(r, []byte("SIP/2.0 ")) {
					t.Fatalf("reply is no response: %q", r)
				}
			}
			return
		}
		if m.IsResponse() {
			_ = m.Render(data)
			return
		}
		if m.Check() != nil {
			return
		}
		out := m.Render(data)
		again, err := Split(out, stream)
		if err != nil || again.Check() != nil {
			t.Fatalf("what passed does not pass again: %q\nfrom %q", out, data)
		}
		if !bytes.Equal(again.Render(out), out) {
			t.Fatalf("rendering what passed changed it again: %q", out)
		}
	})
}

// TestViaBranch: the branch of the first via-parm, however the value is
// spaced or quoted, and no allocation (the shedder asks it of every new
// INVITE).
func TestViaBranch(t *testing.T) {
	for _, tc := range []struct{ via, branch string }{
		{"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1", "z9hG4bK-1"},
		{"SIP/2.0/UDP h ; rport ; BRANCH = z9hG4bKa , SIP/2.0/UDP g;branch=z9hG4bKb", "z9hG4bKa"},
		{"SIP/2.0/UDP h;x=\"a;branch=no,\";branch=yes", "yes"},
		{"SIP/2.0/UDP h;rport, SIP/2.0/UDP g;branch=second", ""},
		{"SIP/2.0/UDP h;branch=one;branch=two", "one"},
		{"", ""},
	} {
		if got := ViaBranch(tc.via); got != tc.branch {
			t.Errorf("ViaBranch(%q) = %q, want %q", tc.via, got, tc.branch)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ViaBranch("SIP/2.0/UDP h;rport;branch=z9hG4bKa") }); n != 0 {
		t.Errorf("ViaBranch allocates %v times", n)
	}
}

// TestAcksReply: the ACK of a made-up answer is known by its To tag, and
// nothing else is taken for one.
func TestAcksReply(t *testing.T) {
	m, err := Split([]byte(invite), false)
	if err != nil {
		t.Fatal(err)
	}
	reply := string(m.Reply(503, "Service Unavailable", "Retry-After: 5"))
	to := ""
	for _, line := range strings.Split(reply, "\r\n") {
		if strings.HasPrefix(line, "To: ") {
			to = line
		}
	}
	if !strings.Contains(to, ";tag="+statelessTag) {
		t.Fatalf("the answer's To has no made-up tag: %q", reply)
	}
	ack := strings.NewReplacer("INVITE sip", "ACK sip", "1 INVITE", "1 ACK", "To: <sip:4000@127.0.0.1>", to).Replace(invite)
	for _, tc := range []struct {
		name, msg string
		want      bool
	}{
		{"ack of the answer", ack, true},
		{"ack in a dialog", strings.Replace(ack, statelessTag, "", 1), false},
		{"bye", strings.NewReplacer("ACK sip", "BYE sip", "1 ACK", "1 BYE").Replace(ack), false},
	} {
		m, err := Split([]byte(tc.msg), false)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := m.AcksReply(); got != tc.want {
			t.Errorf("%s: AcksReply = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestEachOutside: the parts are SplitOutside's, without allocating.
func TestEachOutside(t *testing.T) {
	for _, v := range []string{"", "a", "a;b", " a ; b ;", `"x;y" <s;t> ;c`, `a\;b;"q\";r";<`, ";;"} {
		var got []string
		eachOutside(v, ';', func(p string) bool { got = append(got, p); return true })
		if want := SplitOutside(v, ';'); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("eachOutside(%q) = %q, SplitOutside %q", v, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = HasParam("rport;branch=z9hG4bK1;received=1.2.3.4", "received") }); n != 0 {
		t.Errorf("HasParam allocates %v times", n)
	}
}

// TestIsAddr: a UDP source compares as its String would.
func TestIsAddr(t *testing.T) {
	for _, a := range []*net.UDPAddr{
		{IP: net.IPv4(127, 0, 0, 1), Port: 5061},
		{IP: net.IP{192, 0, 2, 9}, Port: 5060},
		{IP: net.ParseIP("2001:db8::1"), Port: 5060},
		{IP: net.ParseIP("fe80::1"), Port: 5060, Zone: "eth0"},
	} {
		if !isAddr(a.String(), a) || isAddr(a.String()+"0", a) {
			t.Errorf("isAddr(%q) disagrees with String", a.String())
		}
	}
	from := net.Addr(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061})
	if n := testing.AllocsPerRun(100, func() { _ = isAddr("127.0.0.1:5061", from) }); n != 0 {
		t.Errorf("isAddr allocates %v times", n)
	}
}
