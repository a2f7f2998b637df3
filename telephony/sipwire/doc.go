// Package sipwire checks SIP messages as they come off the network, before
// a SIP stack (sipgo) parses them. The switch (telephony/pbx) runs it on
// every datagram and on every message framed from a stream, for three
// reasons:
//
//   - sipgo drops, silently, messages it cannot parse, and parses some
//     that RFC 3261 calls malformed (two Content-Lengths, a CSeq method
//     that is not the request's, a display name with a comma): the sender
//     retransmits for 32 s and never learns why. Here they get the 400 (or
//     505 for another SIP version, 416 for a Request-URI scheme the switch
//     does not serve) that RFC 4475 expects, built from the raw headers
//     (Message.Reply).
//   - sipgo does not parse some valid messages: headers folded over lines
//     and LWS around separators (RFC 4475 3.1.1.1, wsinv). Here such a
//     message is rewritten into the same message without folding and
//     with the separators tight, which RFC 3261 7.3.1 says is equivalent.
//   - it is the cheapest place to refuse a new call under overload (the
//     switch's shedder reads the raw Call-ID, Via and To), before parsing,
//     transactions and goroutines.
//
// It does not check what sipgo and the handlers check anyway (URIs in
// detail, what a method needs): it checks the framing and the header
// fields every request relies on.
//
// It is a pure function of the bytes it is given: no sockets, no clocks,
// no logging, no state between messages. It must not depend on the
// switch, the call model or the store; what to do with a refusal
// (answer, count, log) is the caller's.
package sipwire
