package pbx

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// inspect decides what becomes of one message off the wire (see wire.go):
// pass is what sipgo gets to parse (nil: nothing), reply a response the
// switch sends back at once (nil: none). from is the sender's address;
// stream says whether the message came framed from a stream.
func (s *Server) inspect(data []byte, from net.Addr, stream bool) (pass, reply []byte) {
	m, err := splitMessage(data, stream)
	var werr *wireError
	switch {
	case errors.Is(err, errNotSIP):
		return nil, nil // nobody to answer: garbage or a lone keep-alive
	case errors.As(err, &werr):
		if m.isResponse() || m.method() == "ACK" {
			return nil, nil // responses and ACKs are never answered
		}
		return nil, s.refuseRaw(m, werr)
	}
	if m.isResponse() {
		return m.render(data), nil
	}
	if werr := m.checkRequest(); werr != nil {
		if m.method() == "ACK" {
			return nil, nil
		}
		return nil, s.refuseRaw(m, werr)
	}
	if reply := s.shedNew(m); reply != nil {
		return nil, reply
	}
	if !stream {
		m.symmetric(from)
	}
	out := m.render(data)
	// What the check passes, sipgo must parse: a request it drops would
	// leave the sender retransmitting into silence. Its parser accepts
	// and refuses things this check does not model (URI details, header
	// forms), so it is asked, once more per request (about 6 µs).
	if _, err := wireParser.ParseSIP(out); err != nil {
		return nil, s.refuseRaw(m, badRequest("unparsable: "+printable(err.Error())))
	}
	return out, nil
}

// wireParser parses what the wire check passes; sipgo's parser keeps no
// state between messages.
var wireParser = sip.NewParser()

// printable keeps what may go into a reason phrase: printable ASCII.
func printable(s string) string {
	b := []byte(s)
	n := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && n < 80 {
			b[n] = c
			n++
		}
	}
	return string(b[:n])
}

// refuseRaw answers a request the wire check refused, and counts it.
func (s *Server) refuseRaw(m *rawMessage, e *wireError) []byte {
	s.metrics.badRequests.WithLabelValues(strconv.Itoa(e.code)).Inc()
	return m.reply(e.code, e.reason)
}

// render returns the bytes sipgo should parse: data as it came, unless
// the wire check changed the message or it had bytes after it.
func (m *rawMessage) render(data []byte) []byte {
	if m.changed || m.rest > 0 {
		return m.bytes()
	}
	return bytes.TrimLeft(data, "\r\n")
}

// symmetric makes the answers to a UDP request go back to the address it
// came from, as if the sender had asked for it with rport (RFC 3581):
// the address in Via is often one a phone behind NAT cannot be reached
// at, or one of the sender's it did not send from. Requests whose Via is
// their source already are left alone.
func (m *rawMessage) symmetric(from net.Addr) {
	if from == nil {
		return
	}
	for i := range m.headers {
		h := &m.headers[i]
		if h.canon != "via" {
			continue
		}
		vias := splitOutside(h.value, ',')
		top := vias[0]
		proto, rest, _ := strings.Cut(top, " ")
		sentBy, params, _ := strings.Cut(rest, ";")
		if sentBy == from.String() || hasParam(params, "rport") {
			return
		}
		vias[0] = proto + " " + sentBy + ";rport"
		if params != "" {
			vias[0] += ";" + params
		}
		h.value = strings.Join(vias, ",")
		m.changed = true
		return
	}
}

func hasParam(params, name string) bool {
	for _, p := range splitOutside(params, ';') {
		n, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}

// readFilter is sipgo's hook for the bytes of each UDP datagram before it
// parses them. Messages on streams were checked when framed (wireConn).
func (s *Server) readFilter(props sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(props.Transport, "udp") {
		return data, nil
	}
	pass, reply := s.inspect(data, props.RemoteAddr, false)
	if reply != nil && s.udpConn != nil && props.RemoteAddr != nil {
		if _, err := s.udpConn.WriteTo(reply, props.RemoteAddr); err != nil {
			s.log.Debug("sip: stateless reply", "to", props.RemoteAddr, "err", err)
		}
	}
	return pass, nil // an error would stop sipgo reading the socket
}

// wireListener hands sipgo connections whose messages are framed and
// checked before sipgo reads them.
type wireListener struct {
	net.Listener
	s *Server
}

func (l wireListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &wireConn{Conn: c, s: l.s}, nil
}

// maxStreamMessage bounds one message on a stream: sipgo's parser does
// not take more (sip.ParseMaxMessageLength).
const maxStreamMessage = 65535

// wireConn is a TCP connection from a phone or a trunk whose reads return
// whole messages that passed the wire check. It frames the stream itself
// (head, then Content-Length bytes), so that a malformed message gets its
// 400 and the stream goes on with the next one; when the framing itself is
// broken (no or a bad Content-Length) it answers and closes, since no
// message boundary is left to go on from.
type wireConn struct {
	net.Conn
	s *Server

	// Only sipgo's one reader of the connection calls Read.
	in     []byte // received, not yet framed
	out    []byte // framed and checked, not yet read by sipgo
	closed bool

	closeOnce sync.Once
}

// Close closes the connection once: after a framing error the switch
// closes it itself, and sipgo closes it again when it cleans up.
func (c *wireConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() { err = c.Conn.Close() })
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (c *wireConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.closed {
			return 0, net.ErrClosed
		}
		if c.frame() {
			continue
		}
		buf := make([]byte, 16<<10)
		n, err := c.Conn.Read(buf)
		c.in = append(c.in, buf[:n]...)
		if err != nil && n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// frame takes one message (or keep-alive) off c.in if it is all there,
// and reports whether it did anything.
func (c *wireConn) frame() bool {
	switch {
	case bytes.HasPrefix(c.in, []byte("\r\n\r\n")):
		// A keep-alive ping (RFC 5626 3.5.1): sipgo answers it.
		c.out, c.in = append(c.out, "\r\n\r\n"...), c.in[4:]
		return true
	case bytes.HasPrefix(c.in, []byte("\r\n")) && len(c.in) > 2 && c.in[2] != '\r':
		c.in = c.in[2:] // a CRLF before a message is ignored (RFC 3261 7.5)
		return true
	}
	end := bytes.Index(c.in, []byte("\r\n\r\n"))
	if end < 0 {
		if len(c.in) > maxStreamMessage {
			c.fail(nil, badRequest("header too long"))
		}
		return c.closed
	}
	n, werr := streamLength(c.in[:end])
	if werr == nil && end+4+n > maxStreamMessage {
		werr = &wireError{code: 513, reason: "Message Too Large"}
	}
	if werr != nil {
		c.fail(c.in[:end+4], werr)
		return true
	}
	if len(c.in) < end+4+n {
		return false
	}
	msg := c.in[:end+4+n]
	pass, reply := c.s.inspect(msg, c.RemoteAddr(), true)
	if reply != nil {
		if _, err := c.Conn.Write(reply); err != nil {
			c.s.log.Debug("sip: stateless reply", "to", c.RemoteAddr(), "err", err)
		}
	}
	c.out = append(c.out, pass...)
	c.in = append([]byte(nil), c.in[end+4+n:]...)
	return true
}

// fail answers the message whose head is head (when there is one to
// answer) and closes the connection: the stream cannot be framed any more.
func (c *wireConn) fail(head []byte, e *wireError) {
	if head != nil {
		if m, _ := splitMessage(head, false); m != nil && !m.isResponse() && m.method() != "ACK" {
			if reply := c.s.refuseRaw(m, e); reply != nil {
				_, _ = c.Conn.Write(reply) // closing anyway
			}
		}
	}
	c.closed = true
	if err := c.Close(); err != nil {
		c.s.log.Debug("sip: close after a framing error", "err", err)
	}
}

// streamLength returns the Content-Length of a message head on a stream,
// where it is required (RFC 3261 18.3).
func streamLength(head []byte) (int, *wireError) {
	n, found := 0, false
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok || canonicalName(strings.TrimSpace(name)) != "content-length" {
			continue
		}
		if found {
			return 0, badRequest("more than one Content-Length")
		}
		v := strings.TrimSpace(value)
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || !isDigits(v) {
			return 0, badRequest("bad Content-Length")
		}
		found = true
	}
	if !found {
		return 0, badRequest("no Content-Length on a stream")
	}
	return n, nil
}
