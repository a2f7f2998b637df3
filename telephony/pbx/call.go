package pbx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"branchline/fault"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/sdp"
)

// CallInfo describes a live call: what screen pop and the board show.
type CallInfo struct {
	ID         string // the id of the call's record
	SIPCallID  string
	Direction  string // telephony.Inbound, Outbound or Internal
	Caller     string
	CallerName string
	DID        string
	Trunk      string
	Queue      string
	Agent      string
	Extension  string
	State      string
	Arrive     time.Time
	Priority   int
	Warned     bool // the caller is blacklisted with a warning
}

// Call states on the board.
const (
	StateQueued    = "queued"
	StateRinging   = "ringing"
	StateConnected = "connected"
	StateHeld      = "held"
	StateDialing   = "dialing"
)

// ringMode says what happens when a ringing leg answers.
type ringMode int

const (
	modeAnswer        ringMode = iota // answer the customer's pending INVITE with the callee's SDP
	modeReinvite                      // the customer is up (transfer): re-INVITE it with the callee's offer
	modeClickAgent                    // click-to-dial, agent's phone: its 200 offers; the ACK waits for the customer
	modeClickCustomer                 // click-to-dial, customer: ACK the agent's phone with the customer's answer
)

// attempt is one round of ringing: the legs to every phone of one
// extension (or one trunk call), first answer wins.
type attempt struct {
	mode  ringMode
	agent string // the user rung, if any
	acd   bool   // an ACD offer: failures change the agent's state
	ext   string
	legs  map[*leg]bool
	timer *time.Timer
	worst int  // highest final status seen
	rang  bool // a phone said it rings (180/183): a timeout is then the callee's
}

// Call is one call through the switch. Its actor goroutine (run) owns
// every field below mu; other goroutines talk to it by events.
type Call struct {
	s         *Server
	id        string
	dir       string
	sipCallID string
	caller    string
	callerNm  string
	did       string
	trunk     string
	priority  int
	warned    bool
	arrive    time.Time

	events chan any
	done   chan struct{}
	pmu    sync.Mutex
	closed bool

	mu   sync.Mutex // guards info for readers (board, API)
	info CallInfo

	// Owned by the actor.
	a, b         *leg // customer, other party
	att          *attempt
	queue        telephony.Queue
	firstQueue   string
	previous     string
	enqueuedAt   time.Time
	waiting      bool // in an ACD queue
	overflowDue  bool
	maxWait      *time.Timer
	overflow     *time.Timer
	aAnswered    bool
	settled      bool // counted in Server.settled: out of setup
	ringAt       time.Time
	answerAt     time.Time
	attempts     int
	agent        string // the agent who answered
	ext          string
	transferring bool
	held         bool
	dialNumber   string // click-to-dial: the customer's number
	ended        bool
	disposition  telephony.Disposition
	hangupBy     string
	cause        string
	callback     string       // reason, when a callback is due
	relayed      map[int]bool // provisional codes sent to the caller, each once
}

const eventBuffer = 256

func (s *Server) newCall(dir string) *Call {
	now := s.now()
	c := &Call{s: s, id: s.ids.New(now), dir: dir, arrive: now,
		events: make(chan any, eventBuffer), done: make(chan struct{}), relayed: map[int]bool{}}
	c.info = CallInfo{ID: c.id, Direction: dir, Arrive: now}
	return c
}

// Events of the actor.
type (
	evOffer       struct{ agent, ext string }
	evProvisional struct {
		l   *leg
		res *sip.Response
	}
	evAnswered struct{ l *leg }
	evFailed   struct {
		l    *leg
		code int
	}
	evBye   struct{ l *leg }
	evNoAck struct{ l *leg }
	// evNoPrack: a reliable provisional response to the customer went
	// unacknowledged (RFC 3262 §3); refused says that the caller was
	// already answered 500 in place of the 200 that waited for it.
	evNoPrack struct {
		l       *leg
		refused bool
	}
	evRefer struct {
		l      *leg
		target string
	}
	evCmd struct {
		cmd   int
		arg   string
		by    string
		reply chan error
	}
)

// API commands.
const (
	cmdHangup = iota
	cmdHold
	cmdRetrieve
	cmdTransfer
)

// post hands ev to the actor without blocking; it reports false when the
// call has ended (or, never in practice, its queue of events is full) and
// the event was not taken.
func (c *Call) post(ev any) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.closed {
		return false
	}
	select {
	case c.events <- ev:
		return true
	default:
		c.s.log.Error("sip: call event queue full", "call", c.id)
		return false
	}
}

// orphan deals with an event the actor will never see, so that nothing it
// carries leaks: an offered agent is released, an answered leg hung up.
func (c *Call) orphan(ev any) {
	switch e := ev.(type) {
	case evOffer:
		c.s.acd.offerFailed(e.agent, c.id)
	case evAnswered:
		c.stray(e.l)
	case evCmd:
		e.reply <- fmt.Errorf("call %s: %w", c.id, fault.ErrNotFound)
	}
}

// stray hangs up a leg that answered when nobody wanted it (a second
// phone of a fork, or after the call ended).
func (c *Call) stray(l *leg) {
	c.s.goSafe(func() {
		ctx, cancel := context.WithTimeout(c.s.ctx, 5*time.Second)
		defer cancel()
		var err error
		if l.uac.InviteRequest.Body() == nil {
			err = l.ackWith(ctx, sdp.Blackhole(l.sdp()))
		} else {
			err = l.uac.Ack(ctx)
		}
		if err != nil {
			c.s.log.Debug("sip: ack stray leg", "err", err)
		}
		l.bye()
	})
}

func (c *Call) setInfo(f func(*CallInfo)) {
	c.mu.Lock()
	f(&c.info)
	c.mu.Unlock()
}

// Info returns a copy of the call's description.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// run is the actor: it handles events until the call ends, then writes
// the call's record.
func (c *Call) run() {
	defer c.finish()
	for !c.ended {
		var ringC, maxC, ovC <-chan time.Time
		if c.att != nil && c.att.timer != nil {
			ringC = c.att.timer.C
		}
		if c.maxWait != nil {
			maxC = c.maxWait.C
		}
		if c.overflow != nil {
			ovC = c.overflow.C
		}
		var gone <-chan struct{}
		if c.a != nil && c.a.uas != nil && !c.aAnswered {
			gone = c.a.uas.Context().Done()
		}
		select {
		case ev := <-c.events:
			c.handle(ev)
		case <-gone:
			c.callerGone()
		case <-ringC:
			c.att.timer = nil
			c.ringTimeout()
		case <-maxC:
			c.maxWait = nil
			c.maxWaitReached()
		case <-ovC:
			c.overflow = nil
			c.overflowNow()
		case <-c.s.ctx.Done():
			c.hangup(BySystem, "shutdown")
		}
	}
}

func (c *Call) handle(ev any) {
	c.s.reader.poll() // see udpReader
	switch e := ev.(type) {
	case evOffer:
		c.onOffer(e)
	case evProvisional:
		c.onProvisional(e)
	case evAnswered:
		c.onAnswered(e.l)
	case evFailed:
		c.onFailed(e)
	case evBye:
		c.onBye(e.l)
	case evNoAck:
		c.onNoAck(e.l)
	case evNoPrack:
		c.onNoPrack(e)
	case evRefer:
		c.onRefer(e)
	case evCmd:
		c.onCmd(e)
	}
}

// ring starts an attempt: INVITEs to every phone registered at ext (or to
// uri through a trunk when ext is empty), carrying sdp (nil: a delayed
// offer).
func (c *Call) ring(mode ringMode, agent, ext string, sdp []byte, timeout time.Duration, trunkURI *sip.Uri, trunkTransport string) error {
	att := &attempt{mode: mode, agent: agent, ext: ext, legs: map[*leg]bool{}}
	type dest struct {
		uri       sip.Uri
		transport string
		dst       string
		b         Binding
	}
	var dests []dest
	if trunkURI != nil {
		dests = append(dests, dest{uri: *trunkURI, transport: trunkTransport})
	} else {
		for _, b := range c.s.reg.contacts(ext) {
			dests = append(dests, dest{uri: *b.URI.Clone(), transport: b.Transport, b: b, dst: c.s.flow(b)})
		}
	}
	if len(dests) == 0 {
		return errUnregistered
	}
	role := AgentLeg
	if mode == modeClickCustomer {
		role = CustomerLeg
	}
	toUser := ext
	if trunkURI != nil {
		toUser = trunkURI.User
	}
	for _, d := range dests {
		l := c.s.newLeg(c)
		l.ext, l.agent, l.binding, l.role = ext, agent, d.b, role
		req := sip.NewRequest(sip.INVITE, d.uri)
		from := &sip.FromHeader{DisplayName: c.fromDisplay(mode), Address: sip.Uri{Scheme: "sip", User: c.fromUser(mode), Host: c.s.host}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: toUser, Host: c.s.host}, Params: sip.NewParams()})
		req.AppendHeader(sip.NewHeader("X-Branchline-Call", c.id))
		if sdp != nil {
			req.SetBody(l.localSDP(role, sdp))
			req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		req.SetTransport(transportName(d.transport))
		if d.dst != "" {
			req.SetDestination(d.dst)
		}
		ctx, cancel := context.WithCancel(c.s.ctx)
		l.cancel = cancel
		sendCtx, sendCancel := context.WithTimeout(c.s.ctx, 5*time.Second)
		dlg, err := c.s.uaFor(d.transport).WriteInvite(sendCtx, req)
		sendCancel()
		if err != nil {
			c.s.log.Info("sip: invite failed", "call", c.id, "to", d.uri.String(), "err", err)
			cancel()
			l.close()
			continue
		}
		l.uac = dlg
		att.legs[l] = true
		c.s.goSafe(func() { c.waitLeg(ctx, l) })
	}
	if len(att.legs) == 0 {
		return errUnreachable
	}
	if timeout > 0 {
		att.timer = time.NewTimer(timeout)
	}
	c.att = att
	if c.ringAt.IsZero() {
		c.ringAt = c.s.now()
	}
	c.attempts++
	return nil
}

var (
	errUnregistered = errors.New("no phone registered")
	errUnreachable  = errors.New("phone unreachable")
)

func (c *Call) fromUser(mode ringMode) string {
	if mode == modeClickAgent {
		return cleanUser(c.dialNumber)
	}
	if u := cleanUser(c.caller); u != "" {
		return u
	}
	return "anonymous"
}

func (c *Call) fromDisplay(mode ringMode) string {
	if mode == modeClickAgent || mode == modeClickCustomer {
		return ""
	}
	return c.callerNm
}

// waitLeg waits for the final answer of a ringing leg and reports it.
func (c *Call) waitLeg(ctx context.Context, l *leg) {
	err := l.uac.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode > 100 && res.IsProvisional() {
			c.post(evProvisional{l: l, res: res})
		}
		return nil
	}})
	res := l.uac.InviteResponse
	if res != nil && res.IsSuccess() {
		l.setSDP(res.Body())
		l.mu.Lock()
		l.answered = true
		l.mu.Unlock()
		if id, e := sip.DialogIDFromResponse(res); e == nil {
			l.register(id)
		}
		if !c.post(evAnswered{l: l}) {
			c.stray(l)
		}
		return
	}
	code := sip.StatusRequestTimeout
	var de *sipgo.ErrDialogResponse
	switch {
	case ctx.Err() != nil:
		code = sip.StatusRequestTerminated
	case errors.As(err, &de):
		code = de.Res.StatusCode
	case res != nil && !res.IsProvisional():
		code = res.StatusCode
	}
	l.mu.Lock()
	l.lastCode = code
	l.mu.Unlock()
	l.close()
	c.post(evFailed{l: l, code: code})
}

// stopAttempt cancels the current attempt's legs.
func (c *Call) stopAttempt() *attempt {
	att := c.att
	if att == nil {
		return nil
	}
	c.att = nil
	if att.timer != nil {
		att.timer.Stop()
	}
	for l := range att.legs {
		l.cancel() // CANCEL; the leg closes itself when its INVITE ends
	}
	return att
}

func (c *Call) onProvisional(e evProvisional) {
	if c.att != nil && c.att.legs[e.l] && (e.res.StatusCode == sip.StatusRinging || e.res.StatusCode == sip.StatusSessionInProgress) {
		c.att.rang = true
	}
	if c.att == nil || !c.att.legs[e.l] || c.att.mode != modeAnswer || c.aAnswered || c.a == nil || c.a.uas == nil {
		return
	}
	code := e.res.StatusCode
	if code != sip.StatusRinging && code != sip.StatusSessionInProgress {
		code = sip.StatusRinging
	}
	if c.relayed[code] {
		return
	}
	c.relayed[code] = true
	var err error
	switch {
	case code == sip.StatusSessionInProgress && len(e.res.Body()) > 0 && (c.a.rel == nil || len(c.a.uas.InviteRequest.Body()) > 0):
		e.l.setSDP(e.res.Body())
		err = c.a.provisional(code, "Session Progress", c.a.localSDP(CustomerLeg, e.res.Body()), sip.NewHeader("Content-Type", "application/sdp"))
	case code == sip.StatusSessionInProgress:
		// Early media for a caller who made no offer: SDP in a reliable
		// provisional response would be an offer, answered in the PRACK
		// (RFC 3262 §5), which the switch does not take. The caller hears
		// progress without it.
		err = c.a.provisional(code, "Session Progress", nil)
	default:
		err = c.a.provisional(sip.StatusRinging, "Ringing", nil)
	}
	if err != nil {
		c.s.log.Debug("sip: relay provisional", "call", c.id, "err", err)
	}
}

func (c *Call) onAnswered(l *leg) {
	if c.att == nil || !c.att.legs[l] {
		c.stray(l)
		return
	}
	att := c.att
	delete(att.legs, l)
	c.stopAttempt() // the other phones of the fork
	ctx, cancel := context.WithTimeout(c.s.ctx, 10*time.Second)
	defer cancel()
	now := c.s.now()
	switch att.mode {
	case modeAnswer:
		if err := l.uac.Ack(ctx); err != nil {
			c.s.log.Info("sip: ack", "call", c.id, "err", err)
		}
		c.b = l
		c.answerCustomer(c.a.localSDP(CustomerLeg, l.sdp()))
		c.connected(att, now)
	case modeReinvite:
		answer, code, err := c.a.reinviteWith(ctx, c.a.localSDP(CustomerLeg, l.sdp()))
		if err != nil || code/100 != 2 {
			c.s.log.Info("sip: re-INVITE for transfer", "call", c.id, "code", code, "err", err)
			_ = l.ackWith(ctx, sdp.Blackhole(l.sdp()))
			c.s.goSafe(l.bye)
			c.hangup(BySystem, "transfer_failed")
			return
		}
		if err := l.ackWith(ctx, l.localSDP(AgentLeg, answer)); err != nil {
			c.s.log.Info("sip: ack", "call", c.id, "err", err)
		}
		c.b = l
		c.connected(att, now)
	case modeClickAgent:
		// The agent picked up; now call the customer with the phone's offer.
		// The phone's 200 is ACKed once the customer answers (RFC 3725 flow
		// I), so the customer must answer within the phone's 2xx
		// retransmission window: the attempt's timeout is kept below it.
		c.b = l
		c.setInfo(func(i *CallInfo) { i.State = StateDialing })
		c.s.acd.connected(att.agent, c.id, false)
		if err := c.ringCustomer(l.sdp()); err != nil {
			c.s.log.Info("sip: click-to-dial", "call", c.id, "err", err)
			c.failClick(ctx, "unreachable")
		}
	case modeClickCustomer:
		if err := l.uac.Ack(ctx); err != nil {
			c.s.log.Info("sip: ack", "call", c.id, "err", err)
		}
		c.a = l
		if err := c.b.ackWith(ctx, c.b.localSDP(AgentLeg, l.sdp())); err != nil {
			c.s.log.Info("sip: ack agent", "call", c.id, "err", err)
		}
		c.aAnswered = true
		c.settle()
		c.answerAt = now
		c.bridge()
		c.setInfo(func(i *CallInfo) { i.State = StateConnected })
	}
}

// bridge pairs the two legs for passthrough of in-dialog requests.
func (c *Call) bridge() {
	if c.a != nil && c.b != nil {
		c.a.peer.Store(c.b)
		c.b.peer.Store(c.a)
	}
}

// connected completes an attempt that put the customer through.
func (c *Call) connected(att *attempt, now time.Time) {
	if c.answerAt.IsZero() {
		c.answerAt = now
	}
	c.waiting = false
	c.stopQueueTimers()
	if att.agent != "" {
		c.agent = att.agent
		c.s.acd.connected(att.agent, c.id, c.dir == telephony.Inbound && c.queue.Name != "")
	}
	if att.ext != "" {
		c.ext = att.ext
	}
	c.bridge()
	c.transferring = false
	c.setInfo(func(i *CallInfo) { i.State, i.Agent, i.Extension = StateConnected, c.agent, c.ext })
}

// answerCustomer sends the 200 to the customer's INVITE; its ACK (or its
// absence) is waited for off the actor.
//
// sipgo's WriteResponse retransmits the 200 until the ACK, but does not
// say when none came: after 64*T1 it returns as if one had, and it
// restarts that timer at each retransmission, so then it hardly ever
// returns. The switch watches for the ACK itself (a timer per call,
// Config.AckTimeout, stopped by onAck), so that an answer the caller never
// confirmed ends the call and is not counted as answered. WriteResponse
// also writes the dialog's InviteResponse from its goroutine: the leg's
// other requests wait until it returned (leg.answered2xx).
func (c *Call) answerCustomer(sdp []byte) {
	c.aAnswered = true
	c.settle()
	a := c.a
	written := make(chan struct{})
	a.mu.Lock()
	a.answered = true
	a.written = written
	a.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(a.uas.InviteRequest, sdp)
	c.s.goSafe(func() {
		if err := a.rel.answer(); err != nil {
			c.withdrawAnswer(a, err)
			close(written)
			c.post(evNoPrack{l: a, refused: true})
			return
		}
		a.watchAck(c.s.cfg.AckTimeout, func() { c.post(evNoAck{l: a}) })
		a.mu.Lock()
		a.sent2xx = true
		a.mu.Unlock()
		err := a.uas.WriteResponse(res)
		close(written)
		if err != nil && a.isAcked() {
			// sipgo says "No ACK received" when the dialog ended before
			// the ACK: the caller's BYE came first (server.onBye), and it
			// shows the caller had the 200. The call is answered; the BYE
			// ends it.
			err = nil
		}
		if err != nil {
			c.s.log.Info("sip: 200 not acknowledged", "call", c.id, "err", err)
			c.post(evNoAck{l: a})
		}
	})
}

// settle takes the call out of setup once: the customer is answered, and
// what is left of the call is cheap for the switch (see Server.inSetup).
func (c *Call) settle() {
	if !c.settled {
		c.settled = true
		c.s.settled.Add(1)
	}
}

// onNoAck ends a call whose leg l never acknowledged its 200. When l is
// the customer's, the customer never confirmed the answer: the call is
// not answered, whatever the agent's phone did (KPIs count it so).
func (c *Call) onNoAck(l *leg) {
	if l != c.a && l != c.b {
		return
	}
	if l.uasTx != nil {
		// The wait for the ACK is over: as far as the switch is concerned
		// the INVITE transaction timed out, so the BYE may go now (RFC
		// 3261 15) rather than when sipgo's transaction ends; sipgo stops
		// retransmitting the 200 at its next try.
		l.uasTx.Terminate()
	}
	c.hangup(BySystem, "no_ack")
	if l == c.a {
		c.disposition = telephony.NotAnswered
	}
}

// withdrawAnswer refuses the customer whose 200 could not be sent because
// of err (from reliable.answer): a reliable provisional response went
// unacknowledged, 500 as RFC 3262 §3 asks; nothing when the INVITE was
// cancelled (sipgo answered 487).
func (c *Call) withdrawAnswer(a *leg, err error) {
	a.unanswer()
	if errors.Is(err, errUnacknowledged) || errors.Is(err, errLegClosed) {
		res := sip.NewResponseFromRequest(a.uas.InviteRequest, sip.StatusInternalServerError, "Provisional Response Not Acknowledged", nil)
		if err := a.uasTx.Respond(res); err != nil {
			c.s.log.Debug("sip: 500 for an unacknowledged provisional response", "call", c.id, "err", err)
		}
	}
	c.s.log.Info("sip: answer withdrawn", "call", c.id, "err", err)
}

// onNoPrack ends a call whose caller did not acknowledge a reliable
// provisional response within 64*T1 (RFC 3262 §3: "the UAS SHOULD reject
// the original request with a 5xx response"). The call is not answered,
// and no agent is held responsible.
func (c *Call) onNoPrack(e evNoPrack) {
	if e.l != c.a || c.ended {
		return
	}
	switch {
	case e.refused:
		c.hangup(BySystem, "no_prack")
		c.disposition = telephony.NotAnswered
	case c.aAnswered:
		// The 200 is on its way: its goroutine saw the failure too, and
		// reports with refused set.
	default:
		c.reject(sip.StatusInternalServerError, "Provisional Response Not Acknowledged", telephony.NotAnswered, "no_prack")
	}
}

func (c *Call) onFailed(e evFailed) {
	if c.att == nil || !c.att.legs[e.l] {
		return
	}
	delete(c.att.legs, e.l)
	c.att.worst = max(c.att.worst, e.code)
	if len(c.att.legs) > 0 {
		return
	}
	att := c.stopAttempt()
	c.attemptFailed(att, att.worst)
}

// penalty is the not-ready reason for an agent whose phone ended an offer
// with code after ringing (rang) or not; "" when it was not the agent's
// doing. A phone that never said it rang was not ignored by the agent:
// the offer, or its answer, was lost on the way.
func penalty(code int, rang bool) string {
	switch {
	case code == sip.StatusRequestTerminated:
		return "" // the node cancelled it
	case code == sip.StatusBusyHere || code == sip.StatusGlobalBusyEverywhere || code == sip.StatusGlobalDecline:
		return telephony.ReasonRejected
	case code == sip.StatusRequestTimeout && rang:
		return telephony.ReasonNoAnswer
	}
	return telephony.ReasonUnreachable
}

// attemptFailed goes on after every phone of an attempt failed.
func (c *Call) attemptFailed(att *attempt, code int) {
	switch att.mode {
	case modeAnswer, modeReinvite:
		if att.acd {
			reason := penalty(code, att.rang)
			if reason == telephony.ReasonUnreachable && c.s.shed.overloaded(c.s.now()) {
				reason = "" // the switch itself may have lost the offer: not the agent's doing
			}
			c.s.acd.offerMissed(att.agent, c.id, reason, c.queue.NoAnswerPause)
			c.requeue()
			return
		}
		if att.mode == modeReinvite {
			c.hangup(BySystem, "transfer_failed")
			return
		}
		// A direct call to an extension: the caller hears why.
		reason := "Temporarily Unavailable"
		if code == sip.StatusBusyHere || code == sip.StatusGlobalBusyEverywhere {
			code, reason = sip.StatusBusyHere, "Busy Here"
		} else {
			code = sip.StatusTemporarilyUnavailable
		}
		c.reject(code, reason, telephony.NotAnswered, "callee_"+itoa(att.worst))
	case modeClickAgent:
		c.s.acd.offerFailed(att.agent, c.id)
		c.end(telephony.NotAnswered, telephony.ByAgent, "agent_no_answer")
	case modeClickCustomer:
		ctx, cancel := context.WithTimeout(c.s.ctx, 5*time.Second)
		defer cancel()
		c.failClick(ctx, "customer_"+itoa(code))
	}
}

// failClick ends a click-to-dial whose customer could not be reached.
func (c *Call) failClick(ctx context.Context, cause string) {
	b := c.b
	if b != nil {
		if err := b.ackWith(ctx, sdp.Blackhole(b.sdp())); err != nil {
			c.s.log.Debug("sip: ack agent", "call", c.id, "err", err)
		}
		c.s.goSafe(b.bye)
	}
	c.end(telephony.NotAnswered, telephony.BySystem, cause)
}

func (c *Call) ringTimeout() {
	att := c.stopAttempt()
	if att == nil {
		return
	}
	c.attemptFailed(att, sip.StatusRequestTimeout)
}

// callerGone handles a caller who hung up (CANCEL) before an answer.
func (c *Call) callerGone() {
	if c.ended || c.aAnswered {
		return
	}
	if att := c.stopAttempt(); att != nil && att.agent != "" {
		c.s.acd.offerFailed(att.agent, c.id)
	}
	c.a.close()
	c.callback = telephony.ReasonAbandoned
	if c.dir != telephony.Inbound || c.queue.Name == "" {
		c.callback = ""
	}
	c.end(telephony.Abandoned, telephony.ByCaller, "cancel")
}

// reject answers the customer's INVITE with a final error and ends.
func (c *Call) reject(code int, reason string, d telephony.Disposition, cause string) {
	if c.a != nil && c.a.uas != nil && !c.aAnswered {
		c.a.rel.finish()
		res := sip.NewResponseFromRequest(c.a.uas.InviteRequest, code, reason, nil)
		if err := c.a.uasTx.Respond(res); err != nil {
			c.s.log.Debug("sip: reject", "call", c.id, "err", err)
		}
		c.a.close()
	}
	c.end(d, telephony.BySystem, cause)
}

func (c *Call) onBye(l *leg) {
	switch {
	case l == c.a && !c.aAnswered && c.a.uas != nil:
		// A BYE before the answer (a CANCEL was meant): end the INVITE too.
		c.a.rel.finish()
		res := sip.NewResponseFromRequest(c.a.uas.InviteRequest, sip.StatusRequestTerminated, "Request Terminated", nil)
		if err := c.a.uasTx.Respond(res); err != nil {
			c.s.log.Debug("sip: 487", "call", c.id, "err", err)
		}
		c.callerGone()
	case l == c.a:
		if c.att != nil {
			att := c.stopAttempt()
			if att.agent != "" && att.mode != modeClickAgent {
				c.s.acd.offerFailed(att.agent, c.id)
			}
		}
		if c.b != nil {
			c.s.goSafe(c.b.bye)
		}
		c.end(telephony.Answered, telephony.ByCaller, "normal")
		if l.uas != nil && !l.answerSent() {
			// The caller left the early dialog while the 200 waited for a
			// PRACK (reliable.answer): it was never answered.
			c.disposition = telephony.NotAnswered
		}
	case l == c.b:
		if c.transferring {
			return // the transferor leaving, as it should
		}
		if c.att != nil && c.att.mode == modeClickCustomer {
			// The agent gave up while the customer's phone rang.
			c.stopAttempt()
			c.end(telephony.NotAnswered, telephony.ByAgent, "agent_hung_up")
			return
		}
		if c.a != nil {
			c.s.goSafe(c.a.bye)
		}
		c.end(telephony.Answered, telephony.ByAgent, "normal")
	}
}

// hangup ends the call from the node's side, whatever its state.
func (c *Call) hangup(by, cause string) {
	if c.ended {
		return
	}
	if att := c.stopAttempt(); att != nil && att.agent != "" {
		if att.mode != modeClickAgent || c.b == nil {
			c.s.acd.offerFailed(att.agent, c.id)
		}
	}
	if c.a != nil && c.a.uas != nil && !c.aAnswered {
		c.reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", telephony.NoAgent, cause)
		c.hangupBy = by
		if c.b != nil {
			c.s.goSafe(c.b.bye)
		}
		return
	}
	for _, l := range []*leg{c.a, c.b} {
		if l == nil {
			continue
		}
		if c.att == nil && c.b == l && c.a != nil && c.a.uac != nil && !c.aAnswered {
			// click-to-dial agent leg not yet ACKed
			ctx, cancel := context.WithTimeout(c.s.ctx, 5*time.Second)
			_ = l.ackWith(ctx, sdp.Blackhole(l.sdp()))
			cancel()
		}
		c.s.goSafe(l.bye)
	}
	d := telephony.Answered
	if !c.aAnswered {
		d = telephony.NotAnswered
	}
	c.end(d, by, cause)
}

// end finishes the call's state machine; the record is written in finish.
func (c *Call) end(d telephony.Disposition, by, cause string) {
	if c.ended {
		return
	}
	c.ended = true
	c.disposition, c.hangupBy, c.cause = d, by, cause
	if c.answerAt.IsZero() && d == telephony.Answered {
		c.disposition = telephony.NotAnswered
	}
}

func (c *Call) stopQueueTimers() {
	if c.maxWait != nil {
		c.maxWait.Stop()
		c.maxWait = nil
	}
	if c.overflow != nil {
		c.overflow.Stop()
		c.overflow = nil
	}
}

// finish closes the call: leftover events are dealt with, the agent freed,
// and the record (and callback) written to the node's store.
func (c *Call) finish() {
	if !c.ended {
		c.end(telephony.NotAnswered, BySystem, "internal")
	}
	if c.settled {
		c.s.settled.Add(-1)
	}
	c.stopQueueTimers()
	if c.waiting {
		c.s.acd.remove(c)
	}
	if att := c.stopAttempt(); att != nil && att.agent != "" {
		c.s.acd.offerFailed(att.agent, c.id)
	}
	c.pmu.Lock()
	c.closed = true
	close(c.done)
	c.pmu.Unlock()
	for {
		select {
		case ev := <-c.events:
			c.orphan(ev)
			continue
		default:
		}
		break
	}
	end := c.s.now()
	wrap := time.Duration(0)
	if c.agent != "" && c.queue.Name != "" {
		wrap = c.queue.WrapUp
	}
	if c.agent != "" {
		c.s.acd.ended(c.agent, c.id, wrap)
	}
	c.s.media.Release(c.id)
	c.s.removeCall(c)
	rec := c.record(end)
	cb := c.callback
	cbID := ""
	if cb != "" && c.caller != "" {
		cbID = c.s.ids.New(end)
	}
	err := c.s.exec("", func(views replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.EndCall(rec)
		if err != nil {
			return nil, err
		}
		out := []replication.Draft{d}
		if cbID != "" {
			cd, err := telephony.CreateCallback(cbID, c.caller, c.id, c.queue.Name, cb, end)
			if err != nil {
				return nil, err
			}
			out = append(out, cd)
		}
		return out, nil
	})
	if err != nil {
		c.s.log.Error("sip: write call record", "call", c.id, "err", err)
	}
}

func (c *Call) record(end time.Time) *telephony.Record {
	r := &telephony.Record{
		ID: c.id, SIPCallID: c.sipCallID, Direction: c.dir, Caller: clip(c.caller), DID: clip(c.did), Trunk: c.trunk,
		Queue: c.queue.Name, Agent: c.agent, Extension: c.ext, Arrive: c.arrive, Ring: c.ringAt,
		Answer: c.answerAt, End: end, Disposition: c.disposition, HangupBy: c.hangupBy, Cause: clip(c.cause),
		Priority: c.priority, Warned: c.warned, Attempts: c.attempts,
	}
	if c.firstQueue != "" && c.firstQueue != c.queue.Name {
		r.FirstQueue = c.firstQueue
	}
	if r.Disposition == telephony.Answered && r.Answer.IsZero() {
		r.Disposition = telephony.NotAnswered
	}
	if r.Disposition != telephony.Answered {
		r.Answer = time.Time{}
	}
	if len(r.SIPCallID) > 128 {
		r.SIPCallID = r.SIPCallID[:128]
	}
	return r
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// command runs an API command on the call's actor.
func (c *Call) command(ctx context.Context, cmd int, arg, by string) error {
	e := evCmd{cmd: cmd, arg: arg, by: by, reply: make(chan error, 1)}
	if !c.post(e) {
		return fmt.Errorf("call %s: %w", c.id, fault.ErrNotFound)
	}
	select {
	case err := <-e.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Call) onCmd(e evCmd) {
	var err error
	switch e.cmd {
	case cmdHangup:
		c.hangup(e.by, "api")
	case cmdHold, cmdRetrieve:
		err = c.hold(e.cmd == cmdHold)
	case cmdTransfer:
		err = c.transfer(e.arg, e.by)
	}
	e.reply <- err
}

// hold puts both parties on hold, or takes them off it.
func (c *Call) hold(on bool) error {
	if c.a == nil || c.b == nil || !c.aAnswered || c.att != nil {
		return fmt.Errorf("call %s is not connected: %w", c.id, fault.ErrConflict)
	}
	if c.held == on {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.s.ctx, 10*time.Second)
	defer cancel()
	if _, code, err := c.a.reinviteWith(ctx, c.a.holdSDP(CustomerLeg, c.b.sdp(), on)); err != nil || code/100 != 2 {
		return fmt.Errorf("hold customer: status %d: %v: %w", code, err, fault.ErrConflict)
	}
	if _, code, err := c.b.reinviteWith(ctx, c.b.holdSDP(AgentLeg, c.a.sdp(), on)); err != nil || code/100 != 2 {
		return fmt.Errorf("hold agent: status %d: %v: %w", code, err, fault.ErrConflict)
	}
	c.held = on
	st := StateConnected
	if on {
		st = StateHeld
	}
	c.setInfo(func(i *CallInfo) { i.State = st })
	return nil
}
