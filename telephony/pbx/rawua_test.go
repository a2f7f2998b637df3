package pbx

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"branchline/telephony"
	"branchline/telephony/sipauth"
)

// rawUA is a SIP endpoint made of a raw UDP socket on an OS-chosen port:
// tests write requests byte by byte, as a phone or an attacker would, and
// read what the switch answers.
type rawUA struct {
	t    *testing.T
	conn net.PacketConn
	to   net.Addr
	seq  int

	// For a UA on TCP (newRawTCPUA) instead: its connection.
	tcp    net.Conn
	stream *bufio.Reader
}

// newRawTCPUA is a rawUA on one TCP connection to the switch.
func newRawTCPUA(t *testing.T, server string) *rawUA {
	t.Helper()
	c, err := net.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawUA{t: t, tcp: c, stream: bufio.NewReader(c)}
}

func newRawUA(t *testing.T, server string) *rawUA {
	t.Helper()
	return newRawUAAt(t, "127.0.0.1:0", server)
}

// newRawUAAt is newRawUA bound to local (another loopback address, for a
// source that is no trunk).
func newRawUAAt(t *testing.T, local, server string) *rawUA {
	t.Helper()
	c, err := net.ListenPacket("udp", local)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	to, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	return &rawUA{t: t, conn: c, to: to}
}

// addr is the UA's host:port.
func (u *rawUA) addr() string {
	if u.tcp != nil {
		return u.tcp.LocalAddr().String()
	}
	return u.conn.LocalAddr().String()
}

func (u *rawUA) port() int {
	if u.tcp != nil {
		return u.tcp.LocalAddr().(*net.TCPAddr).Port
	}
	return u.conn.LocalAddr().(*net.UDPAddr).Port
}

func (u *rawUA) transport() string {
	if u.tcp != nil {
		return "TCP"
	}
	return "UDP"
}

// send writes raw bytes to the switch.
func (u *rawUA) send(b []byte) {
	u.t.Helper()
	var err error
	if u.tcp != nil {
		_, err = u.tcp.Write(b)
	} else {
		_, err = u.conn.WriteTo(b, u.to)
	}
	if err != nil {
		u.t.Fatal(err)
	}
}

// next reads the next SIP message within d; nil on timeout.
func (u *rawUA) next(d time.Duration) sip.Message {
	u.t.Helper()
	if u.tcp != nil {
		_ = u.tcp.SetReadDeadline(time.Now().Add(d))
		b, err := readStreamMessage(u.stream)
		if err != nil {
			return nil
		}
		m, err := sip.NewParser().ParseSIP(b)
		if err != nil {
			return looseResponse(u.t, b, err)
		}
		return m
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(d)
	for {
		_ = u.conn.SetReadDeadline(deadline)
		n, _, err := u.conn.ReadFrom(buf)
		if err != nil {
			return nil
		}
		m, err := sip.NewParser().ParseSIP(buf[:n])
		if err != nil {
			return looseResponse(u.t, buf[:n], err)
		}
		return m
	}
}

// looseResponse reads the status, Call-ID and branch of a response that
// does not parse: the answer to a malformed request copies its malformed
// Via (RFC 3261 8.2.6.2).
func looseResponse(t *testing.T, b []byte, perr error) *sip.Response {
	t.Helper()
	status := regexp.MustCompile(`^SIP/2\.0 (\d{3}) ([^\r]*)\r\n`).FindSubmatch(b)
	if status == nil {
		t.Fatalf("switch sent what does not parse: %v\n%s", perr, b)
	}
	code, _ := strconv.Atoi(string(status[1]))
	res := sip.NewResponse(code, string(status[2]))
	if m := regexp.MustCompile(`(?m)^Call-ID: (\S+)\r$`).FindSubmatch(b); m != nil {
		cid := sip.CallIDHeader(m[1])
		res.AppendHeader(&cid)
	}
	if m := regexp.MustCompile(`branch=([^;,\s]+)`).FindSubmatch(b); m != nil {
		via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "unparsed", Params: sip.NewParams()}
		via.Params.Add("branch", string(m[1]))
		res.AppendHeader(via)
	}
	return res
}

// readStreamMessage reads one message from a stream: the head, then
// Content-Length bytes.
func readStreamMessage(r *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	n := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if b.Len() == 0 && line == "\r\n" {
			continue // a keep-alive
		}
		b.WriteString(line)
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length:"); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(b.Bytes(), body...), nil
}

// request waits for a request of method from the switch and returns it.
func (u *rawUA) request(method sip.RequestMethod) *sip.Request {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if req, ok := u.next(time.Until(deadline)).(*sip.Request); ok && req.Method == method {
			return req
		}
	}
	u.t.Fatalf("no %s within 10s", method)
	return nil
}

// answer responds to a request the switch sent.
func (u *rawUA) answer(req *sip.Request, code int, reason string) {
	u.t.Helper()
	u.send([]byte(sip.NewResponseFromRequest(req, code, reason, nil).String()))
}

// final reads responses to the request with callID until a final one.
func (u *rawUA) final(callID string) *sip.Response {
	u.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m := u.next(time.Until(deadline))
		res, ok := m.(*sip.Response)
		if !ok || res.CallID() == nil || res.CallID().Value() != callID {
			continue
		}
		if res.IsProvisional() {
			continue
		}
		return res
	}
	u.t.Fatalf("no final response to %s within 5s", callID)
	return nil
}

// reqSpec is a request the UA builds.
type reqSpec struct {
	method  string
	ruri    string
	from    string // user part
	to      string // user part
	callID  string
	cseq    int
	contact string // full header value; "" for none
	via     string // sent-by and parameters of Via; "" for the UA's address
	extra   []string
	body    string
	// For requests within a dialog or transaction: the tags and the
	// branch to use ("": new ones, and no To tag).
	fromTag, toTag, branch string
}

func newCallID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// build renders spec as the bytes of a request sent from the UA.
func (u *rawUA) build(r reqSpec) []byte {
	if r.callID == "" {
		r.callID = newCallID()
	}
	if r.cseq == 0 {
		u.seq++
		r.cseq = u.seq
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.method, r.ruri)
	via := r.via
	if via == "" {
		via = u.addr()
	}
	if r.branch == "" {
		r.branch = newCallID()
	}
	if r.fromTag == "" {
		r.fromTag = newCallID()
	}
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s\r\n", u.transport(), via, r.branch)
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=%s\r\n", r.from, r.fromTag)
	if r.toTag != "" {
		fmt.Fprintf(&b, "To: <sip:%s@127.0.0.1>;tag=%s\r\n", r.to, r.toTag)
	} else {
		fmt.Fprintf(&b, "To: <sip:%s@127.0.0.1>\r\n", r.to)
	}
	fmt.Fprintf(&b, "Call-ID: %s\r\n", r.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", r.cseq, r.method)
	b.WriteString("Max-Forwards: 70\r\n")
	if r.contact != "" {
		fmt.Fprintf(&b, "Contact: %s\r\n", r.contact)
	}
	for _, h := range r.extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.body), r.body)
	return []byte(b.String())
}

// do sends spec and returns the final response.
func (u *rawUA) do(r reqSpec) *sip.Response {
	u.t.Helper()
	if r.callID == "" {
		r.callID = newCallID()
	}
	u.send(u.build(r))
	return u.final(r.callID)
}

// digestAnswer computes the Authorization value answering challenge (a
// WWW-Authenticate value) for user with password; qop "" answers
// without qop even when the challenge offers it, as old phones do.
func digestAnswer(t *testing.T, challenge, method, uri, user, password, qop string, nc int, cnonce string) string {
	t.Helper()
	c, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	resp := sipauth.Response(telephony.HA1(user, password), c.Nonce, method, uri, qop, nc, cnonce)
	if qop == "" {
		return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5`,
			user, c.Realm, c.Nonce, uri, resp)
	}
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5, qop=auth, nc=%08x, cnonce="%s"`,
		user, c.Realm, c.Nonce, uri, resp, nc, cnonce)
}

// registration is a REGISTER a test sends for ext.
type registration struct {
	ext, password string
	contactPort   int
	expires       int
	qop           string // "auth" (default) or "none"
	contact       string // the Contact's host:port, when not 127.0.0.1:contactPort
	via           string // the Via's sent-by and parameters, when not the UA's address
}

// challenge sends an unauthenticated REGISTER and returns the 401's
// WWW-Authenticate value.
func (u *rawUA) challenge(ext string) string {
	u.t.Helper()
	res := u.do(reqSpec{method: "REGISTER", ruri: "sip:127.0.0.1", from: ext, to: ext,
		contact: "<sip:" + ext + "@" + u.addr() + ">", extra: []string{"Expires: 60"}})
	if res.StatusCode != 401 {
		u.t.Fatalf("unauthenticated REGISTER of %s: %d %s, want 401", ext, res.StatusCode, res.Reason)
	}
	return res.GetHeader("WWW-Authenticate").Value()
}

// register runs a full registration (challenge, then credentials) and
// returns the final response and the bytes of the authenticated request.
func (u *rawUA) register(r registration) (*sip.Response, []byte) {
	u.t.Helper()
	ch := u.challenge(r.ext)
	return u.registerWith(r, ch, 1)
}

// registerWith sends an authenticated REGISTER answering challenge with
// nonce count nc.
func (u *rawUA) registerWith(r registration, challenge string, nc int) (*sip.Response, []byte) {
	u.t.Helper()
	qop := "auth"
	if r.qop == "none" {
		qop = ""
	}
	if r.contactPort == 0 {
		r.contactPort = u.port()
	}
	authz := digestAnswer(u.t, challenge, "REGISTER", "sip:127.0.0.1", r.ext, r.password, qop, nc, newCallID())
	contact := r.contact
	if contact == "" {
		contact = "127.0.0.1:" + strconv.Itoa(r.contactPort)
	}
	if u.tcp != nil {
		contact += ";transport=tcp"
	}
	spec := reqSpec{method: "REGISTER", ruri: "sip:127.0.0.1", from: r.ext, to: r.ext, callID: newCallID(), via: r.via,
		contact: "<sip:" + r.ext + "@" + contact + ">",
		extra:   []string{"Expires: " + strconv.Itoa(r.expires), "Authorization: " + authz}}
	b := u.build(spec)
	u.send(b)
	return u.final(spec.callID), b
}
