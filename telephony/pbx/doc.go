// Package pbx is the SIP side of a node's call centre, built on sipgo: a
// registrar for the building's phones (digest auth), a back-to-back user
// agent for calls from trunks and extensions, the ACD that queues calls
// and picks agents, SIP MESSAGE delivery to phones, and call control for
// the API (click-to-dial, hang up, hold, blind transfer).
//
// It is an adapter around the telephony domain: configuration comes from
// the node's views, and call records, callbacks and message statuses are
// Exec'd into the node's store, a local durable write. Nothing in call
// handling waits on the hub, so a branch keeps answering calls with its
// WAN link down.
//
// Call model. A Call has two legs: the customer's (A) and the agent's or
// other party's (B). Each leg is its own SIP dialog (the node is a
// B2BUA), and one goroutine per call — its actor — owns the call's state:
// responses, BYEs, CANCELs, timers and API commands reach it as events,
// so the call's state machine is written sequentially. Media is a
// separate concern (see Media): today each leg is handed the other leg's
// SDP and RTP flows end to end; an anchoring implementation (IVR, music
// on hold, recording, listen/barge) will hand each leg an SDP of a local
// RTP endpoint and bridge the endpoints, without changing the call model.
//
// The door. Every message passes the wire check (package sipwire, run
// from inbound.go) before sipgo sees it: malformed requests get the 400/505/416 that RFC
// 3261 and RFC 4475 ask for instead of silence, folded headers are
// unfolded, TCP streams are framed by the switch, and UDP answers go back
// where requests came from. Off UDP, the message sipgo handles is the one
// the check parsed (a read hook patched into sipgo: each datagram is
// parsed once). New calls are admitted or refused there too (shed.go),
// first thing after the message is split: past the switch's limits a new
// INVITE gets 503 with Retry-After before any other work, its copies get
// the same, the ACK of the 503 is dropped on sight, and refusals are
// recorded per minute, not per call. Off UDP the socket is read, and
// the check run, by sipgo's read loop and, while the socket is busy, by
// the switch's handler goroutines too (udpReader): under overload the read
// loop waits for a CPU, and the 503s must not wait with it. Digest authentication (package sipauth, answered from
// authenticate.go) refuses replayed credentials and slows down password
// guessing per user and address. SDP is rewritten by package sdp.
//
// Strict carriers. A trunk whose INVITE requires 100rel gets its
// provisional responses reliably (RFC 3262, reliable.go): numbered,
// repeated until PRACKed, one at a time, the 200 held back while one
// with SDP is unacknowledged, and the call refused with 500 when a PRACK
// never comes. The switch's own INVITEs do not offer 100rel, so it never
// has to PRACK.
package pbx
