package pbx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"branchline/telephony/sdp"
)

// leg is one SIP dialog of a call: the node is the UAS of a leg it was
// called on (the customer calling in) and the UAC of a leg it placed (an
// agent's phone, the customer of a click-to-dial). Every leg is counted
// from creation to close, and closed exactly once on every path, which is
// what ActiveDialogs reports.
type leg struct {
	s    *Server
	call *Call

	uas   *sipgo.DialogServerSession
	uasTx sip.ServerTransaction
	uac   *sipgo.DialogClientSession
	// rel sends the provisional responses of a UAS leg whose INVITE
	// requires 100rel (nil: they go unreliably).
	rel *reliable

	role LegRole
	peer atomic.Pointer[leg] // the leg it is bridged to, for re-INVITE passthrough

	// Set for legs to an extension's phone.
	ext     string
	agent   string
	binding Binding

	cancel context.CancelFunc // stops a ringing UAC leg (CANCEL)

	mu        sync.Mutex
	key       string // dialog key in Server.dialogs, once known
	remoteSDP []byte // the last SDP the endpoint sent
	origin    sdp.Origin
	answered  bool
	ended     bool // BYE sent or received
	closed    bool
	lastCode  int
	pending2x *pending2xx   // a 2xx to a re-INVITE awaiting its ACK
	ackTimer  *time.Timer   // fires when the 200 to the leg's INVITE went unacknowledged
	acked     bool          // that ACK arrived, or a BYE that shows the caller had the 200
	written   chan struct{} // closed when sipgo is done sending that 200
	sent2xx   bool          // that 200 was handed to sipgo (it may wait for a PRACK first)

	reinvite sync.Mutex // one re-INVITE at a time on the leg; glare gets 491
}

// pending2xx is a 2xx answer to an in-dialog re-INVITE, retransmitted over
// UDP until its ACK arrives (RFC 3261 13.3.1.4).
type pending2xx struct {
	cseq uint32
	ack  chan struct{}
}

func (s *Server) newLeg(c *Call) *leg {
	l := &leg{s: s, call: c, origin: sdp.NewOrigin()}
	s.legs.Add(1)
	return l
}

// watchAck calls noAck unless the ACK of the 200 answering the leg's
// INVITE arrives within d (ackReceived).
func (l *leg) watchAck(d time.Duration, noAck func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ackTimer = time.AfterFunc(d, func() {
		l.mu.Lock()
		acked := l.acked
		l.mu.Unlock()
		if !acked {
			noAck()
		}
	})
}

// ackReceived records the ACK of the 200 answering the leg's INVITE.
func (l *leg) ackReceived() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = true
	if l.ackTimer != nil {
		l.ackTimer.Stop()
	}
}

// isAcked reports whether the 200 answering the leg's INVITE was
// acknowledged (by its ACK, or by a BYE that shows the caller had it).
func (l *leg) isAcked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

// answered2xx waits until sipgo is done sending the 200 that answered
// the leg (it returns once the ACK came, or the transaction ended):
// until then it writes the dialog's fields that other requests read.
func (l *leg) answered2xx(ctx context.Context) error {
	l.mu.Lock()
	w := l.written
	l.mu.Unlock()
	if w == nil {
		return nil
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the 200 to the caller is not acknowledged yet: %w", ctx.Err())
	}
}

// register makes the leg findable by in-dialog requests.
func (l *leg) register(key string) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || key == "" {
		return
	}
	l.key = key
	l.s.dialogs[key] = l
}

// close releases the leg once.
func (l *leg) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	key := l.key
	if l.ackTimer != nil {
		l.ackTimer.Stop()
	}
	l.mu.Unlock()
	l.rel.close()
	if l.cancel != nil {
		l.cancel()
	}
	l.s.mu.Lock()
	if key != "" && l.s.dialogs[key] == l {
		delete(l.s.dialogs, key)
	}
	l.s.mu.Unlock()
	l.s.legs.Add(-1)
}

func (l *leg) isAnswered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answered
}

// answerSent reports whether the 200 answering a UAS leg went out.
func (l *leg) answerSent() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent2xx
}

// unanswer withdraws the answer of a UAS leg whose 200 was never sent.
func (l *leg) unanswer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answered = false
	l.ended = true
}

func (l *leg) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *leg) setSDP(b []byte) {
	if len(b) == 0 {
		return
	}
	l.mu.Lock()
	l.remoteSDP = append([]byte(nil), b...)
	l.mu.Unlock()
}

func (l *leg) sdp() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remoteSDP
}

// target is the remote target of the leg's dialog.
func (l *leg) target() sip.Uri {
	if l.uas != nil {
		if c := l.uas.InviteRequest.Contact(); c != nil {
			return *c.Address.Clone()
		}
		return *l.uas.InviteRequest.From().Address.Clone()
	}
	if r := l.uac.InviteResponse; r != nil {
		if c := r.Contact(); c != nil {
			return *c.Address.Clone()
		}
	}
	return *l.uac.InviteRequest.Recipient.Clone()
}

// do sends an in-dialog request and waits for its final response.
func (l *leg) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	if l.uas != nil {
		if err := l.answered2xx(ctx); err != nil {
			return nil, err
		}
		return l.uas.Do(ctx, req)
	}
	return l.uac.Do(ctx, req)
}

func (l *leg) write(req *sip.Request) error {
	if l.uas != nil {
		// Only after do, which waited for answered2xx.
		return l.uas.WriteRequest(req)
	}
	return l.uac.WriteRequest(req)
}

// bye ends an answered leg from the node's side and closes it.
func (l *leg) bye() {
	defer l.close()
	l.mu.Lock()
	if l.ended || !l.answered {
		l.mu.Unlock()
		return
	}
	l.ended = true
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(l.s.ctx, 10*time.Second)
	defer cancel()
	var err error
	if l.uas != nil {
		// The answer may have been withdrawn while it was waiting (a
		// PRACK that never came): then there is no dialog to end.
		if err = l.answered2xx(ctx); err == nil && l.isAnswered() {
			err = l.uas.Bye(ctx)
		}
	} else {
		err = l.uac.Bye(ctx)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		l.s.log.Debug("sip: bye", "call", l.call.id, "err", err)
	}
}

// markEnded records that the far end sent BYE; it reports whether the leg
// was still up.
func (l *leg) markEnded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.ended = true
	return true
}

// reinviteWith sends a re-INVITE carrying body (an offer) and returns the
// answer; the 2xx is ACKed here.
func (l *leg) reinviteWith(ctx context.Context, body []byte) ([]byte, int, error) {
	if !l.reinvite.TryLock() {
		return nil, sip.StatusRequestPending, errors.New("re-INVITE in progress")
	}
	defer l.reinvite.Unlock()
	req := sip.NewRequest(sip.INVITE, l.target())
	if body != nil {
		req.SetBody(body)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res, err := l.do(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	if !res.IsSuccess() {
		return nil, res.StatusCode, nil
	}
	ack := sip.NewRequest(sip.ACK, l.target())
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: sip.ACK})
	if err := l.write(ack); err != nil {
		return nil, 0, err
	}
	l.setSDP(res.Body())
	return res.Body(), res.StatusCode, nil
}

// ackWith ACKs the 2xx of a UAC leg's INVITE, with an SDP answer when the
// INVITE carried no offer.
func (l *leg) ackWith(ctx context.Context, body []byte) error {
	if body == nil {
		return l.uac.Ack(ctx)
	}
	inv, res := l.uac.InviteRequest, l.uac.InviteResponse
	target := inv.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	ack := sip.NewRequest(sip.ACK, *target.Clone())
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody(body)
	ack.SetTransport(inv.Transport())
	return l.uac.WriteAck(ctx, ack)
}

// transportName is sipgo's name of a transport.
func transportName(t string) string { return strings.ToUpper(t) }
