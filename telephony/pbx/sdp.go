package pbx

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"strconv"
)

// LegRole names the two sides of a call for Media.
type LegRole int

// Leg roles.
const (
	CustomerLeg LegRole = iota // the customer (caller of an inbound call, callee of click-to-dial)
	AgentLeg                   // the agent's phone, or the other extension
)

// Media decides where a call's RTP flows. The node passes SDP through
// today (Passthrough): each leg is given the SDP the other leg's endpoint
// sent, and the phones exchange RTP directly. An anchoring implementation
// returns SDP of its own RTP endpoints instead and bridges them, which is
// how music on hold, IVR, recording and listen/barge will slot in; the
// call model does not change.
type Media interface {
	// Local returns the SDP to send on the leg of role to, given the SDP
	// the other leg's endpoint sent.
	Local(call string, to LegRole, peer []byte) ([]byte, error)
	// Hold returns the SDP that holds (on) or retrieves the leg of role to.
	Hold(call string, to LegRole, peer []byte, on bool) ([]byte, error)
	// Release frees what the call held.
	Release(call string)
}

// Passthrough is the Media of a node without a media server.
type Passthrough struct{}

// Local implements Media: the other leg's SDP.
func (Passthrough) Local(_ string, _ LegRole, peer []byte) ([]byte, error) { return peer, nil }

// Hold implements Media by direction attributes: the held party is sent
// the other side's SDP marked sendonly (RFC 3264 §8.4), and retrieval
// offers both directions again.
func (Passthrough) Hold(_ string, _ LegRole, peer []byte, on bool) ([]byte, error) {
	if !on {
		// The peer's last SDP answered a hold (recvonly): offer both ways again.
		return setDirection(peer, "sendrecv"), nil
	}
	return setDirection(peer, "sendonly"), nil
}

// Release implements Media.
func (Passthrough) Release(string) {}

// sdpOrigin is the node's identity in the SDP it sends on one leg. A
// B2BUA that forwards SDP from different endpoints (after a transfer, or
// a hold) must still present one origin per dialog whose version rises
// with each change (RFC 3264 §8), so the o= line is rewritten.
type sdpOrigin struct {
	id      uint64
	version uint64
	last    []byte // the last SDP sent, without its o= line
}

func newSDPOrigin() sdpOrigin {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	return sdpOrigin{id: binary.BigEndian.Uint64(b[:]) >> 1}
}

// splitLines splits an SDP body into lines without their endings.
func splitLines(b []byte) [][]byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	lines := bytes.Split(b, []byte("\n"))
	for len(lines) > 0 && len(bytes.TrimSpace(lines[len(lines)-1])) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func joinLines(lines [][]byte) []byte {
	out := bytes.Join(lines, []byte("\r\n"))
	return append(out, '\r', '\n')
}

// rewrite returns body with its o= line replaced by this origin; the
// version rises when anything else changed since the last SDP sent.
func (o *sdpOrigin) rewrite(body []byte) []byte {
	if len(body) == 0 {
		return body
	}
	lines := splitLines(body)
	idx := -1
	var rest [][]byte
	for i, l := range lines {
		if idx < 0 && bytes.HasPrefix(l, []byte("o=")) {
			idx = i
			continue
		}
		rest = append(rest, l)
	}
	if idx < 0 {
		return body // not SDP as we know it; pass as is
	}
	// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
	f := bytes.Fields(lines[idx][2:])
	addr := []byte("IN IP4 0.0.0.0")
	if len(f) == 6 {
		addr = bytes.Join(f[3:], []byte(" "))
	}
	flat := joinLines(rest)
	if o.last == nil || !bytes.Equal(flat, o.last) {
		o.version++
		o.last = flat
	}
	lines[idx] = []byte("o=branchline " + strconv.FormatUint(o.id, 10) + " " + strconv.FormatUint(o.version, 10) + " " + string(addr))
	return joinLines(lines)
}

var directions = [][]byte{[]byte("a=sendrecv"), []byte("a=sendonly"), []byte("a=recvonly"), []byte("a=inactive")}

func isDirection(l []byte) bool {
	for _, d := range directions {
		if bytes.Equal(bytes.TrimSpace(l), d) {
			return true
		}
	}
	return false
}

// setDirection returns body with every media section's direction set to
// dir and session-level directions removed.
func setDirection(body []byte, dir string) []byte {
	if len(body) == 0 {
		return body
	}
	var out [][]byte
	inMedia := false
	for _, l := range splitLines(body) {
		if isDirection(l) {
			continue
		}
		if bytes.HasPrefix(l, []byte("m=")) {
			if inMedia {
				out = append(out, []byte("a="+dir))
			}
			inMedia = true
		}
		out = append(out, l)
	}
	if inMedia {
		out = append(out, []byte("a="+dir))
	}
	return joinLines(out)
}

// blackhole answers offer with a session that receives nothing: what a
// click-to-dial ACKs the agent's phone with when the customer cannot be
// reached, before hanging up.
func blackhole(offer []byte) []byte {
	var out [][]byte
	for _, l := range splitLines(setDirection(offer, "inactive")) {
		if bytes.HasPrefix(l, []byte("c=IN IP4 ")) {
			l = []byte("c=IN IP4 0.0.0.0")
		}
		out = append(out, l)
	}
	return joinLines(out)
}

// localSDP is the SDP to send on l, given what the other leg sent.
func (l *leg) localSDP(role LegRole, peer []byte) []byte {
	body, err := l.s.media.Local(l.call.id, role, peer)
	if err != nil {
		l.s.log.Warn("sip: media", "call", l.call.id, "err", err)
		body = peer
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.origin.rewrite(body)
}

func (l *leg) holdSDP(role LegRole, peer []byte, on bool) []byte {
	body, err := l.s.media.Hold(l.call.id, role, peer, on)
	if err != nil {
		l.s.log.Warn("sip: media hold", "call", l.call.id, "err", err)
		body = peer
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.origin.rewrite(body)
}
