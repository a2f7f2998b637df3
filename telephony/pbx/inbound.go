package pbx

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/emiago/sipgo/sip"

	"branchline/telephony/sipwire"
)

// inspect decides what becomes of one message off the wire (see sipwire):
// msg is the message sipgo is to handle and pass its bytes (nil: nothing),
// reply a response the switch sends back at once (nil: none). from is the
// sender's address; stream says whether the message came framed from a
// stream. Off a stream, sipgo's stream parser parses pass again (msg is nil
// for responses there); off UDP, msg is what sipgo handles, so that every
// datagram is parsed once (readParser).
func (s *Server) inspect(data []byte, from net.Addr, stream bool) (msg sip.Message, pass, reply []byte) {
	m, err := sipwire.Split(data, stream)
	if err != nil {
		werr, ok := err.(*sipwire.Error)
		if !ok || m.IsResponse() || m.Method() == "ACK" {
			return nil, nil, nil // garbage, a lone keep-alive; responses and ACKs are never answered
		}
		return nil, nil, s.refuseRaw(m, werr)
	}
	if m.IsResponse() {
		out := m.Render(data)
		if stream {
			return nil, out, nil
		}
		if msg, err = wireParser.ParseSIP(out); err != nil {
			return nil, nil, nil // dropped, as sipgo drops what it cannot parse
		}
		return msg, out, nil
	}
	if m.AcksReply() {
		return nil, nil, nil // the ACK of a stateless answer (a 503 under overload): nothing to do
	}
	reply, admitted := s.shedNew(m)
	if reply != nil {
		return nil, nil, reply
	}
	if werr := m.Check(); werr != nil {
		if admitted != "" {
			s.shed.forget(admitted)
		}
		if m.Method() == "ACK" {
			return nil, nil, nil
		}
		return nil, nil, s.refuseRaw(m, werr)
	}
	if !stream {
		m.Symmetric(from)
	}
	out := m.Render(data)
	// What the check passes, sipgo must parse: a request it drops would
	// leave the sender retransmitting into silence. Its parser accepts
	// and refuses things this check does not model (URI details, header
	// forms), so it is asked here, and what it parsed is what sipgo
	// handles.
	if msg, err = wireParser.ParseSIP(out); err != nil {
		if admitted != "" {
			s.shed.forget(admitted)
		}
		return nil, nil, s.refuseRaw(m, sipwire.BadRequest("unparsable: "+printable(err.Error())))
	}
	return msg, out, nil
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
func (s *Server) refuseRaw(m *sipwire.Message, e *sipwire.Error) []byte {
	s.metrics.badRequests.WithLabelValues(strconv.Itoa(e.Code)).Inc()
	return m.Reply(e.Code, e.Reason)
}

// readParser is sipgo's hook for each UDP datagram (a patch of ours, see
// third_party/sipgo/PATCHED.md): it returns the message sipgo handles,
// parsed once, by the wire check. The switch's socket reader (udpReader)
// checked the datagram already; its message is claimed here. Messages on
// streams were checked when framed (wireConn).
func (s *Server) readParser(props sip.TransportReadProps, data []byte) sip.Message {
	if s.reader != nil {
		if msg, ok := s.reader.claim(); ok {
			return msg
		}
	}
	return s.checkDatagram(data, props.RemoteAddr)
}

// checkDatagram runs the wire check on a UDP datagram from from and sends
// its answer, if any; it returns the message sipgo is to handle (nil:
// none).
func (s *Server) checkDatagram(data []byte, from net.Addr) sip.Message {
	msg, _, reply := s.inspect(data, from, false)
	if reply != nil && s.udpConn != nil && from != nil {
		if _, err := s.udpConn.WriteTo(reply, from); err != nil {
			s.log.Debug("sip: stateless reply", "to", from, "err", err)
		}
	}
	return msg
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
			c.fail(nil, sipwire.BadRequest("header too long"))
		}
		return c.closed
	}
	n, werr := sipwire.StreamLength(c.in[:end])
	if werr == nil && end+4+n > maxStreamMessage {
		werr = &sipwire.Error{Code: 513, Reason: "Message Too Large"}
	}
	if werr != nil {
		c.fail(c.in[:end+4], werr)
		return true
	}
	if len(c.in) < end+4+n {
		return false
	}
	msg := c.in[:end+4+n]
	_, pass, reply := c.s.inspect(msg, c.RemoteAddr(), true)
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
func (c *wireConn) fail(head []byte, e *sipwire.Error) {
	if head != nil {
		if m, _ := sipwire.Split(head, false); m != nil && !m.IsResponse() && m.Method() != "ACK" {
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
