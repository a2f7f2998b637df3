package pbx

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/telephony/sipwire"
)

// Reliable provisional responses (RFC 3262) on the customer's leg, where
// the switch is the UAS of a trunk's INVITE.
//
// Some carriers send every INVITE with Require: 100rel: they want to know
// that their caller's 180 or 183 arrived, and they refuse a switch that
// does not do it. With Require: 100rel the switch sends every provisional
// response but 100 reliably (§3: "MUST send any non-100 provisional
// response reliably"). With only Supported: 100rel it does not (§3 leaves
// it to the UAS, "MAY"): a PRACK transaction per call costs a carrier's
// caller nothing it needs when the carrier did not insist, and costs the
// switch a transaction per call under exactly the load it sheds.
//
// The switch's own calls to phones and through trunks do not offer
// 100rel (no Supported or Require: 100rel on its INVITEs), so by §3 the
// far ends must not answer them reliably and the switch never sends a
// PRACK itself.

// reliable sends the provisional responses of one INVITE reliably (§3):
//
//   - each carries Require: 100rel and an RSeq, the first chosen at
//     random below 2**31, each next one higher by one;
//   - it is passed to the transaction again after T1, then at intervals
//     doubling up to T2 (the schedule of a 2xx, RFC 3261 13.3.1.4, which
//     RFC 3262's reliability mirrors), until the PRACK whose RAck names its
//     RSeq and the INVITE's CSeq arrives;
//   - one is unacknowledged at a time: the next waits for the PRACK ("The
//     UAS MUST NOT send a second reliable provisional response until the
//     first is acknowledged");
//   - one unacknowledged for 64*T1 ends the call with a 5xx ("the UAS
//     SHOULD reject the original request with a 5xx response"): the
//     switch answers 500;
//   - the 2xx waits for the PRACK of a provisional response that carried
//     SDP ("it MUST NOT send a final response until those provisional
//     responses are acknowledged"); other finals go at once, and the
//     provisional responses still waiting are dropped;
//   - after a final response nothing is retransmitted, but a PRACK for
//     the one still unacknowledged is answered 200 ("it SHOULD NOT
//     continue to retransmit ... but it MUST be prepared to process PRACK
//     requests for those outstanding responses").
//
// Responses go straight to the INVITE's server transaction: sipgo passes
// a provisional response on as often as it is given one, and resends the
// last one when the INVITE is retransmitted.
type reliable struct {
	tx   sip.ServerTransaction
	ctx  context.Context // the dialog's: done when the INVITE was cancelled or its transaction ended
	cseq uint32          // the INVITE's
	t1   time.Duration
	// expire is called (without the lock) when a provisional response
	// went unacknowledged for 64*T1 while no 2xx was waiting for it.
	expire func()

	mu        sync.Mutex
	rseq      uint32         // of the last response numbered
	out       *provisional   // sent and not acknowledged
	queue     []*provisional // waiting for out's PRACK
	answering bool           // a 2xx waits for out's PRACK
	final     bool           // a final response is sent: no more provisional ones
	failed    bool           // out went unacknowledged for 64*T1
	closed    bool
	changed   chan struct{} // closed (and replaced) when out is acknowledged or fails
}

// provisional is one reliable provisional response.
type provisional struct {
	rseq     uint32
	res      *sip.Response
	sdp      bool
	interval time.Duration
	deadline time.Time // 64*T1 after it was first sent
	timer    *time.Timer
}

// errUnacknowledged is a reliable provisional response that no PRACK
// acknowledged within 64*T1.
var errUnacknowledged = errors.New("reliable provisional response not acknowledged within 64*T1")

// errLegClosed is a leg the call let go of while its answer waited.
var errLegClosed = errors.New("the leg was closed")

func newReliable(ctx context.Context, tx sip.ServerTransaction, invite *sip.Request, t1 time.Duration, expire func()) *reliable {
	return &reliable{
		tx: tx, ctx: ctx, cseq: invite.CSeq().SeqNo, t1: t1, expire: expire,
		// §3: "The value of the RSeq in the first reliable provisional
		// response MUST be between 1 and 2**31 - 1." send adds the one.
		rseq:    rand.Uint32N(1<<31 - 1),
		changed: make(chan struct{}),
	}
}

// requires100rel reports whether req requires reliable provisional
// responses.
func requires100rel(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(tag), "100rel") {
				return true
			}
		}
	}
	return false
}

// send numbers res (a 101-199 response to the INVITE) and sends it, or
// queues it behind the unacknowledged one.
func (r *reliable) send(res *sip.Response, sdp bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final || r.closed || r.answering {
		return
	}
	r.rseq++
	res.AppendHeader(sip.NewHeader("Require", "100rel"))
	res.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(r.rseq), 10)))
	p := &provisional{rseq: r.rseq, res: res, sdp: sdp}
	if r.out != nil || len(r.queue) > 0 {
		r.queue = append(r.queue, p) // in order, after the PRACK's 200 (next)
		return
	}
	r.transmitLocked(p)
}

// transmitLocked sends p for the first time and starts its timer.
func (r *reliable) transmitLocked(p *provisional) {
	r.out = p
	p.interval = r.t1
	p.deadline = time.Now().Add(64 * r.t1)
	r.pass(p)
	p.timer = time.AfterFunc(p.interval, func() { r.retransmit(p) })
}

// pass hands p to the INVITE's transaction; the caller holds r.mu, so
// that no provisional response is passed once a final one was (sipgo
// would resend the provisional one in its place).
func (r *reliable) pass(p *provisional) {
	if r.ctx.Err() != nil {
		return // cancelled: sipgo answered 487, which must stay the last response
	}
	if err := r.tx.Respond(p.res); err != nil {
		return // the transaction is over; the call ends by it
	}
}

// retransmit is p's timer: send it again, or give up after 64*T1.
func (r *reliable) retransmit(p *provisional) {
	r.mu.Lock()
	if r.out != p || r.final || r.closed || r.ctx.Err() != nil {
		r.mu.Unlock()
		return
	}
	now := time.Now()
	if !now.Before(p.deadline) {
		r.failed = true
		r.signalLocked()
		expire := !r.answering
		r.mu.Unlock()
		if expire {
			r.expire()
		}
		return
	}
	r.pass(p)
	p.interval = min(2*p.interval, r.t1*(sip.T2/sip.T1))
	p.timer.Reset(min(p.interval, p.deadline.Sub(now)))
	r.mu.Unlock()
}

func (r *reliable) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// acknowledge takes a PRACK's RAck; it reports whether it named a
// reliable provisional response not acknowledged before (else the PRACK
// gets 481, §3). The next provisional response goes with next, after the
// PRACK's 200.
func (r *reliable) acknowledge(rack rAck) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.out
	if p == nil || rack.rseq != p.rseq || rack.cseq != r.cseq || rack.method != string(sip.INVITE) || r.failed {
		return false
	}
	p.timer.Stop()
	r.out = nil
	r.signalLocked()
	return true
}

// next sends the provisional response waiting for the one acknowledged.
func (r *reliable) next() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out != nil || len(r.queue) == 0 || r.final || r.answering || r.closed {
		return
	}
	p := r.queue[0]
	r.queue = r.queue[1:]
	r.transmitLocked(p)
}

// answer is called before the 2xx to the INVITE is sent. The provisional
// responses not sent yet are dropped; when the unacknowledged one carried
// SDP, answer waits for its PRACK (its retransmissions go on meanwhile).
// It returns errUnacknowledged when a provisional response went
// unacknowledged for 64*T1, errLegClosed when the call let go of the leg
// meanwhile, or the dialog context's error when the INVITE was cancelled.
func (r *reliable) answer() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = nil
	r.answering = true
	for r.out != nil && r.out.sdp && !r.failed && !r.closed {
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
		}
		r.mu.Lock()
		if err := r.ctx.Err(); err != nil {
			r.stopLocked()
			return err
		}
	}
	r.stopLocked()
	switch {
	case r.failed:
		return errUnacknowledged
	case r.closed:
		return errLegClosed
	}
	return nil
}

// finish is called before any other final response to the INVITE.
func (r *reliable) finish() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
}

// stopLocked ends the retransmissions: a final response is on its way.
// The unacknowledged response stays, for its PRACK.
func (r *reliable) stopLocked() {
	r.final = true
	r.queue = nil
	if r.out != nil {
		r.out.timer.Stop()
	}
}

// close stops everything: the leg is gone.
func (r *reliable) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
	r.closed = true
	r.signalLocked()
}

// rAck is the value of a RAck header (RFC 3262 7.2): response-num
// CSeq-num Method.
type rAck struct {
	rseq, cseq uint32
	method     string
}

// parseRAck reads req's RAck; ok is false when there is none or it is
// malformed.
func parseRAck(req *sip.Request) (rAck, bool) {
	h := req.GetHeader("RAck")
	if h == nil {
		return rAck{}, false
	}
	f := strings.Fields(h.Value())
	if len(f) != 3 || !sipwire.IsDigits(f[0]) || !sipwire.IsDigits(f[1]) || !sipwire.IsToken(f[2]) {
		return rAck{}, false
	}
	rseq, err1 := strconv.ParseUint(f[0], 10, 32)
	cseq, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return rAck{}, false
	}
	return rAck{rseq: uint32(rseq), cseq: uint32(cseq), method: f[2]}, true
}

// onPrack serves PRACK (RFC 3262 §3): 200 for the one that acknowledges
// the customer leg's unacknowledged reliable provisional response, 481
// for any other.
func (s *Server) onPrack(req *sip.Request, tx sip.ServerTransaction) {
	rack, ok := parseRAck(req)
	if !ok {
		s.respond(tx, req, sip.StatusBadRequest, "Bad Request (RAck)")
		return
	}
	if len(req.Body()) > 0 {
		// An offer in a PRACK (RFC 3262 §5) is only possible after an
		// answer in a reliable provisional response; the switch sends
		// SDP in one only when the INVITE made the offer, and does not
		// take a new offer before the call is answered.
		s.respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	l := s.legOf(req)
	if l == nil || !l.rel.acknowledge(rack) {
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	s.respond(tx, req, sip.StatusOK, "OK")
	l.rel.next()
}

// provisional sends a provisional response to the leg's INVITE (the
// customer's leg): reliably when the INVITE requires it.
func (l *leg) provisional(code int, reason string, body []byte, hdrs ...sip.Header) error {
	if l.rel == nil {
		return l.uas.Respond(code, reason, body, hdrs...)
	}
	inv := l.uas.InviteRequest
	res := sip.NewResponseFromRequest(inv, code, reason, body)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	// A provisional response with a To tag makes an early dialog, in which
	// the PRACK comes: it carries the switch's Contact (RFC 3261 12.1.1).
	res.AppendHeader(sip.HeaderClone(&l.s.uaFor(strings.ToLower(inv.Transport())).ContactHDR))
	l.rel.send(res, len(body) > 0)
	return nil
}
