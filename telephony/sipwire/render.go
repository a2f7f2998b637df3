package sipwire

import (
	"bytes"
	"net"
	"strings"
)

// Render returns the bytes sipgo should parse: data as it came, unless
// the wire check changed the message or it had bytes after it.
func (m *Message) Render(data []byte) []byte {
	if m.changed || m.rest > 0 {
		return m.Bytes()
	}
	return bytes.TrimLeft(data, "\r\n")
}

// Symmetric makes the answers to a UDP request go back to the address it
// came from, as if the sender had asked for it with rport (RFC 3581):
// the address in Via is often one a phone behind NAT cannot be reached
// at, or one of the sender's it did not send from. Requests whose Via is
// their source already are left alone.
func (m *Message) Symmetric(from net.Addr) {
	if from == nil {
		return
	}
	for i := range m.headers {
		h := &m.headers[i]
		if h.canon != "via" {
			continue
		}
		vias := SplitOutside(h.value, ',')
		top := vias[0]
		proto, rest, _ := strings.Cut(top, " ")
		sentBy, params, _ := strings.Cut(rest, ";")
		if sentBy == from.String() || HasParam(params, "rport") {
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

// HasParam reports whether the ";"-separated parameters (without the
// first ";") have one named name.
func HasParam(params, name string) bool {
	for _, p := range SplitOutside(params, ';') {
		n, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}
