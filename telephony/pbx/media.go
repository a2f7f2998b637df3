package pbx

import "branchline/telephony/sdp"

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
		return sdp.SetDirection(peer, "sendrecv"), nil
	}
	return sdp.SetDirection(peer, "sendonly"), nil
}

// Release implements Media.
func (Passthrough) Release(string) {}

// localSDP is the SDP to send on l, given what the other leg sent.
func (l *leg) localSDP(role LegRole, peer []byte) []byte {
	body, err := l.s.media.Local(l.call.id, role, peer)
	if err != nil {
		l.s.log.Warn("sip: media", "call", l.call.id, "err", err)
		body = peer
	}
	return l.stamp(body)
}

// holdSDP is the SDP that holds (on) or retrieves l, given what the other
// leg sent.
func (l *leg) holdSDP(role LegRole, peer []byte, on bool) []byte {
	body, err := l.s.media.Hold(l.call.id, role, peer, on)
	if err != nil {
		l.s.log.Warn("sip: media hold", "call", l.call.id, "err", err)
		body = peer
	}
	return l.stamp(body)
}

// stamp gives body the leg's own origin (see sdp.Origin).
func (l *leg) stamp(body []byte) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.origin.Rewrite(body)
}
