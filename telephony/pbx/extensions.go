package pbx

import (
	"mime"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// supported are the SIP option tags (RFC 3261 19.2) the switch
// implements; a request that requires any other is refused with 420.
// 100rel: reliable provisional responses to INVITEs (RFC 3262,
// reliable.go).
var supported = []string{"100rel"}

// supportedHeader is the Supported value the switch advertises.
const supportedHeader = "100rel"

// allowed are the methods the switch serves, for Allow headers.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, REFER, INFO, NOTIFY, UPDATE, PRACK"

// unsupportedRequired returns the option tags req requires that the
// switch does not implement. ACK and CANCEL cannot be refused for them
// (RFC 3261 8.2.2.3).
func unsupportedRequired(req *sip.Request) []string {
	if req.IsAck() || req.IsCancel() {
		return nil
	}
	var out []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !slices.Contains(supported, strings.ToLower(tag)) && !slices.Contains(out, tag) {
				out = append(out, tag)
			}
		}
	}
	return out
}

// badExtension answers a request that requires option tags the switch
// does not implement: 420 listing them in Unsupported (RFC 3261 8.2.2.3).
func (s *Server) badExtension(tx sip.ServerTransaction, req *sip.Request, tags []string) {
	res := sip.NewResponseFromRequest(req, sip.StatusBadExtension, "Bad Extension", nil)
	res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
	res.AppendHeader(sip.NewHeader("Supported", supportedHeader))
	s.send(tx, res)
}

// onUnknown answers methods no handler serves: 405 with Allow for the
// methods of SIP's extensions the switch does not implement, 501 for
// methods it does not know at all (RFC 3261 8.2.1).
func (s *Server) onUnknown(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	switch req.Method {
	case sip.SUBSCRIBE, sip.PUBLISH:
		res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		s.send(tx, res)
	default:
		s.respond(tx, req, sip.StatusNotImplemented, "Not Implemented")
	}
}

// unsupportedMedia answers an INVITE whose body is not SDP: 415 saying
// what is accepted (RFC 3261 21.4.13).
func (s *Server) unsupportedMedia(tx sip.ServerTransaction, req *sip.Request) {
	res := sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	s.send(tx, res)
}

// acceptsSDP reports whether the answer to req may carry SDP: its Accept
// fields, when there are any, must allow application/sdp (RFC 3261
// 20.1; RFC 4475 3.3.15).
func acceptsSDP(req *sip.Request) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for _, v := range strings.Split(h.Value(), ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(v))
			if err != nil {
				continue
			}
			if mt == "application/sdp" || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}
