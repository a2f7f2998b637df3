package pbx

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// tortures are the messages of RFC 4475 (SIP Torture Test Messages), in
// testdata/rfc4475 as the RFC's own archive has them, with what the switch
// must answer when they come over UDP from the trunk's address. want nil
// means a valid message: any answer but 400 (or silence). silent means a
// response, which is never answered. why quotes or sums up the RFC's
// section for the expected code.
var tortures = []struct {
	name, section string
	want          []int
	silent        bool
	why           string
}{
	// 3.1.1 Valid messages: "parsers must accept"; the answer is the
	// switch's, for whatever the request asks.
	{"wsinv", "3.1.1.1", nil, false, "a short tortuous INVITE: line folding all over, LWS around separators; well formed (404 here: nobody by that number)"},
	{"intmeth", "3.1.1.2", nil, false, "wide range of valid characters; an unknown method gets 501"},
	{"esc01", "3.1.1.3", nil, false, "valid use of the % escaping mechanism"},
	{"escnull", "3.1.1.4", nil, false, "escaped nulls in URIs; well formed (a REGISTER: challenged)"},
	{"esc02", "3.1.1.5", []int{501}, false, "% when it is not an escape: \"An endpoint would reject this message with a 501\""},
	{"lwsdisp", "3.1.1.6", nil, false, "no LWS between display name and <: \"Elements should accept this request as well formed\""},
	{"longreq", "3.1.1.7", nil, false, "long values in header fields: well formed"},
	{"dblreq", "3.1.1.8", []int{401}, false, "extra trailing octets in a UDP datagram are noise: the REGISTER is handled normally (challenged)"},
	{"semiuri", "3.1.1.9", nil, false, "semicolon-separated parameters in the URI user part: well formed"},
	{"transports", "3.1.1.10", nil, false, "varied and unknown transport types: well formed"},
	{"mpart01", "3.1.1.11", nil, false, "multipart MIME message: well formed"},
	{"unreason", "3.1.1.12", nil, true, "a response with an unusual reason phrase: valid, and responses are not answered"},
	{"noreason", "3.1.1.13", nil, true, "a response with an empty reason phrase: valid, and responses are not answered"},

	// 3.1.2 Invalid messages.
	{"badinv01", "3.1.2.1", []int{400}, false, "extraneous header field separators: \"should respond with a 400 Bad Request\""},
	{"clerr", "3.1.2.2", []int{400}, false, "Content-Length larger than the message: over UDP \"should respond with a 400 Bad Request\""},
	{"ncl", "3.1.2.3", []int{400}, false, "negative Content-Length: \"should respond with an error\""},
	{"scalar02", "3.1.2.4", []int{400}, false, "overlarge scalar values: \"should respond with a 400 Bad Request due to the CSeq error\""},
	{"scalarlg", "3.1.2.5", nil, true, "a response with overlarge scalar values: \"will simply discard it\""},
	{"quotbal", "3.1.2.6", []int{400}, false, "unterminated quoted string in a display name: \"should return a 400 Bad Request\""},
	{"ltgtruri", "3.1.2.7", []int{400}, false, "<> enclosing the Request-URI: \"reasonable always to reject ... with a 400\""},
	{"lwsruri", "3.1.2.8", []int{400}, false, "LWS in the Request-URI: \"should respond with a 400 Bad Request\""},
	{"lwsstart", "3.1.2.9", []int{400}, false, "several SP between request-line elements: \"acceptable to reject this request as malformed\""},
	{"trws", "3.1.2.10", []int{400}, false, "SP at the end of the request line: \"acceptable to reject this request as malformed\""},
	{"escruri", "3.1.2.11", []int{400}, false, "escaped headers in the Request-URI: \"acceptable ... to reject this request with a 400\""},
	{"baddate", "3.1.2.12", []int{400}, false, "a non-GMT time zone in Date: \"acceptable to reject this request as malformed\""},
	{"regbadct", "3.1.2.13", []int{400}, false, "a name-addr URI not in <>: \"reasonable ... to respond with a 400 Bad Request\""},
	{"badaspec", "3.1.2.14", []int{400}, false, "spaces within an addr-spec: \"reasonable to reject this request with a 400\""},
	{"baddn", "3.1.2.15", []int{400}, false, "non-token characters in a display name: \"reasonable always to reject ... with a 400\""},
	{"badvers", "3.1.2.16", []int{505}, false, "unknown protocol version: \"should respond ... with a 505 Version Not Supported\""},
	{"mismatch01", "3.1.2.17", []int{400}, false, "start line and CSeq method mismatch: \"will respond with a 400 Bad Request\""},
	{"mismatch02", "3.1.2.18", []int{400}, false, "unknown method with CSeq method mismatch: 501 preferred, \"a 400 Bad Request is also acceptable\""},
	{"bigcode", "3.1.2.19", nil, true, "a response code above 699: \"should simply drop it\""},

	// 3.2 Transaction layer semantics.
	{"badbranch", "3.2.1", []int{200, 400}, false, "a branch of just the magic cookie: reject with 400 \"or fall back to the RFC 2543-style transaction identifier\""},

	// 3.3 Application-layer semantics.
	{"insuf", "3.3.1", []int{400}, false, "missing Call-ID, From and To: \"Ideally, it will respond with a 400 Bad Request\""},
	{"unkscm", "3.3.2", []int{416}, false, "unknown Request-URI scheme: \"will reject it with a 416 Unsupported URI Scheme\""},
	{"novelsc", "3.3.3", []int{416}, false, "soap.beep Request-URI: \"If an element will never accept this scheme ... return a 416\""},
	{"unksm2", "3.3.4", []int{400}, false, "unknown schemes in To/From/Contact: \"A registrar would reject this request with a 400\""},
	{"bext01", "3.3.5", []int{420}, false, "Require of unknown extensions: \"will respond with a 420 Bad Extension\""},
	{"invut", "3.3.6", []int{415}, false, "an unknown Content-Type: \"An endpoint ... would reject it with a 415\""},
	{"regaut01", "3.3.7", []int{401}, false, "an unknown Authorization scheme: a registrar that authenticates \"will reject this request with a 401\""},
	{"multi01", "3.3.8", []int{400}, false, "several values in single-value fields: \"would respond with a 400 Bad Request\""},
	{"mcl01", "3.3.9", []int{400}, false, "two Content-Lengths: the framing is unusable, refused"},
	{"bcast", "3.3.10", nil, true, "a 200 with a broadcast Via: \"An endpoint ... should simply discard it\""},
	{"zeromf", "3.3.11", []int{483}, false, "Max-Forwards 0: \"A proxy should not forward the request and should respond 483\" (the switch routes between trunks and phones, so it stops loops as a proxy would)"},
	{"cparam01", "3.3.12", []int{401}, false, "REGISTER with a contact parameter \"should succeed\": it is challenged"},
	{"cparam02", "3.3.13", []int{401}, false, "REGISTER with a url-parameter \"should succeed\": it is challenged"},
	{"regescrt", "3.3.14", []int{401}, false, "REGISTER with an escaped header in Contact \"should succeed\": it is challenged"},
	{"sdp01", "3.3.15", []int{406, 400}, false, "Accept without application/sdp: \"could respond with a 406 Not Acceptable\" (or 400)"},

	// 3.4 Backward compatibility. RFC 2543 messages "should be accepted by
	// RFC 3261 elements that want to maintain backwards compatibility";
	// the switch does not: a dialog needs a From tag.
	{"inv2543", "3.4.1", []int{400}, false, "RFC 2543 syntax (no From tag, no branch): refused, backwards compatibility is optional"},
}

var (
	callIDLine = regexp.MustCompile(`(?im)^(?:call-id|i)[ \t]*:[ \t]*(\S+)`)
	branchRe   = regexp.MustCompile(`branch=(\S+?)[;,\r\n]`)
)

// TestRFC4475 sends each torture message of RFC 4475 to a switch of its
// own (many share a Via branch and sent-by, so one switch would rightly
// take them for retransmissions) over UDP and checks the answer against
// the table. After each message the switch must still answer a plain
// OPTIONS: nothing it was sent stopped it. For the messages that must go
// unanswered, that OPTIONS is also the barrier: its answer comes after
// any the switch would have sent.
func TestRFC4475(t *testing.T) {
	files, _ := filepath.Glob("testdata/rfc4475/*.dat")
	if len(files) != len(tortures) {
		t.Fatalf("%d messages in testdata, %d in the table", len(files), len(tortures))
	}
	for _, tc := range tortures {
		t.Run(tc.name+"_"+tc.section, func(t *testing.T) {
			h := newHarness(t)
			ua := newRawUA(t, h.srv.UDPAddr())
			data, err := os.ReadFile(filepath.Join("testdata/rfc4475", tc.name+".dat"))
			if err != nil {
				t.Fatal(err)
			}
			key := torturedKey(data)
			ua.send(data)
			probe := newCallID()
			if tc.silent {
				ua.send(ua.build(reqSpec{method: "OPTIONS", ruri: "sip:127.0.0.1", from: "1", to: "2", callID: probe}))
			}
			res := ua.answerTo(key, probe)
			switch {
			case tc.silent && res != nil:
				t.Fatalf("answered a response: %d %s (RFC 4475 %s: %s)", res.StatusCode, res.Reason, tc.section, tc.why)
			case tc.silent:
			case res == nil:
				t.Fatalf("no answer (RFC 4475 %s: %s)", tc.section, tc.why)
			case tc.want == nil && res.StatusCode == 400:
				t.Fatalf("a valid message answered %d %s (RFC 4475 %s: %s)", res.StatusCode, res.Reason, tc.section, tc.why)
			case tc.want != nil && !slices.Contains(tc.want, res.StatusCode):
				t.Fatalf("answered %d %s, want %v (RFC 4475 %s: %s)", res.StatusCode, res.Reason, tc.want, tc.section, tc.why)
			}
			if res != nil && res.StatusCode == 420 && !strings.Contains(res.GetHeader("Unsupported").Value(), "nothingSupportsThis") {
				t.Fatalf("420 without the unsupported extensions: %v", res.GetHeader("Unsupported"))
			}
			if !tc.silent {
				if r := ua.do(reqSpec{method: "OPTIONS", ruri: "sip:127.0.0.1", from: "1", to: "2"}); r.StatusCode != 200 {
					t.Fatalf("the switch no longer answers OPTIONS: %d", r.StatusCode)
				}
			}
			h.idle()
		})
	}
}

// torturedKey is how answers to a torture message are recognised: its
// Call-ID, or its branch when it has none.
func torturedKey(data []byte) string {
	head, _, _ := strings.Cut(string(data), "\r\n\r\n")
	if m := callIDLine.FindStringSubmatch(head); m != nil {
		return "i:" + m[1]
	}
	if m := branchRe.FindStringSubmatch(head); m != nil {
		return "b:" + m[1]
	}
	return ""
}

// answerTo reads until the final answer to the message known by key, or
// until the answer to the request with Call-ID barrier ("": none), and
// returns the former (nil when the barrier came first or nothing came).
func (u *rawUA) answerTo(key, barrier string) *sip.Response {
	u.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res, ok := u.next(time.Until(deadline)).(*sip.Response)
		if !ok {
			if res == nil {
				return nil
			}
			continue
		}
		cid := ""
		if res.CallID() != nil {
			cid = res.CallID().Value()
		}
		if barrier != "" && cid == barrier {
			return nil
		}
		branch := ""
		if v := res.Via(); v != nil {
			branch, _ = v.Params.Get("branch")
		}
		if ("i:"+cid == key || "b:"+branch == key) && !res.IsProvisional() {
			return res
		}
	}
	return nil
}

// TestWireTCP: on a TCP connection the switch frames messages itself, so
// a malformed one gets its 400 and the next message on the stream is
// served (RFC 4475 3.1.1.1 then 3.1.2.1); a message whose framing is
// unusable (two Content-Lengths, 3.3.9) gets its 400 and the connection
// is closed, since no message boundary is left to go on from.
func TestWireTCP(t *testing.T) {
	h := newHarness(t)
	c, err := net.Dial("tcp", h.srv.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, tc := range []struct {
		name string
		want func(int) bool
	}{
		{"wsinv", func(code int) bool { return code != 400 && code >= 200 }},
		{"badinv01", func(code int) bool { return code == 400 }},
		{"lwsdisp", func(code int) bool { return code == 200 }},
		{"mcl01", func(code int) bool { return code == 400 }},
	} {
		data, err := os.ReadFile(filepath.Join("testdata/rfc4475", tc.name+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		res := readStreamResponse(t, r, torturedKey(data))
		if !tc.want(res.StatusCode) {
			t.Fatalf("%s over TCP: %d %s", tc.name, res.StatusCode, res.Reason)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the connection is still open after a framing error: %v", err)
	}
	h.idle()
}

// readStreamResponse reads responses from a stream until the final one
// to the message known by key.
func readStreamResponse(t *testing.T, r *bufio.Reader, key string) *sip.Response {
	t.Helper()
	for {
		b, err := readStreamMessage(r)
		if err != nil {
			t.Fatalf("reading the answer to %s: %v", key, err)
		}
		var res *sip.Response
		if m, err := sip.NewParser().ParseSIP(b); err == nil {
			res, _ = m.(*sip.Response)
		} else {
			res = looseResponse(t, b, err)
		}
		if res == nil || res.IsProvisional() {
			continue
		}
		cid, branch := "", ""
		if res.CallID() != nil {
			cid = res.CallID().Value()
		}
		if v := res.Via(); v != nil {
			branch, _ = v.Params.Get("branch")
		}
		if "i:"+cid == key || "b:"+branch == key {
			return res
		}
	}
}
