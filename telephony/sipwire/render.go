package sipwire

import (
	"bytes"
	"net"
	"net/netip"
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
		top := ""
		eachOutside(h.value, ',', func(part string) bool { top = part; return false })
		proto, rest, _ := strings.Cut(top, " ")
		sentBy, params, _ := strings.Cut(rest, ";")
		if isAddr(sentBy, from) || HasParam(params, "rport") {
			return
		}
		vias := SplitOutside(h.value, ',')
		vias[0] = proto + " " + sentBy + ";rport"
		if params != "" {
			vias[0] += ";" + params
		}
		h.value = strings.Join(vias, ",")
		m.changed = true
		return
	}
}

// isAddr reports whether hostport is from's address as from.String()
// spells it, without allocating for a UDP address (every UDP request
// asks).
func isAddr(hostport string, from net.Addr) bool {
	u, ok := from.(*net.UDPAddr)
	if !ok {
		return hostport == from.String()
	}
	ap := u.AddrPort()
	var buf [64]byte
	b := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(buf[:0])
	return hostport == string(b)
}

// HasParam reports whether the ";"-separated parameters (without the
// first ";") have one named name.
func HasParam(params, name string) bool {
	found := false
	eachOutside(params, ';', func(p string) bool {
		n, _, _ := strings.Cut(p, "=")
		found = strings.EqualFold(strings.TrimSpace(n), name)
		return !found
	})
	return found
}
