package pbx

import (
	"context"
	"errors"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/sipauth"
)

// Timeouts of calls that are not ACD offers.
const (
	directRingTimeout = 30 * time.Second // a call to an extension
	trunkRingTimeout  = 60 * time.Second // an outbound call through a trunk
	// clickRingTimeout bounds how long a click-to-dial rings the customer:
	// the agent's phone waits for its ACK meanwhile, and gives up after
	// 32 s (64*T1).
	clickRingTimeout = 25 * time.Second
)

// onInvite serves INVITE: a new call, or a re-INVITE within a call. A new
// call goes through its steps in order, and each step that stops it has
// answered the INVITE already: the offer is checked, the call made for
// its caller and destination, admitted, its customer leg opened; then it
// is sent on its way, and the handler goroutine becomes the call's actor
// (the INVITE server transaction stays with it until the call ends).
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		s.onReinvite(req, tx)
		return
	}
	branch, _ := req.Via().Params.Get("branch")
	if !s.shed.started(inviteKey(req.CallID().Value(), branch)) {
		// A copy of an INVITE whose call is up or over, come after its
		// server transaction: sipgo ends that at the 2xx (RFC 3261 17.2.1)
		// rather than absorbing copies for 64*T1 (RFC 6026), so it reaches
		// the handler as a new request. As a call it would ring an agent
		// and answer what the caller has already had answered (or hung
		// up), and be recorded no_ack. The caller retransmitted it before
		// it heard the first answer: nothing is owed to it.
		tx.Terminate()
		return
	}
	if !s.checkOffer(req, tx) {
		return
	}
	c, dest, fromExt, ok := s.callFor(req, tx)
	if !ok {
		return
	}
	if !s.addCall(c) {
		s.respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if !s.openCustomerLeg(c, req, tx) {
		return
	}
	c.dispatch(dest, fromExt)
	c.run()
}

// checkOffer refuses an INVITE whose body is not SDP (415) or that does
// not accept SDP in answers (406), and reports whether it goes on.
func (s *Server) checkOffer(req *sip.Request, tx sip.ServerTransaction) bool {
	if len(req.Body()) > 0 && !isSDP(req) {
		s.unsupportedMedia(tx, req)
		return false
	}
	if !acceptsSDP(req) {
		s.respond(tx, req, sip.StatusNotAcceptable, "Not Acceptable")
		return false
	}
	return true
}

// callFor makes the call a new INVITE asks for: it identifies the caller
// (a trunk, or the extension fromExt), screens it and finds where the
// call goes. It answers the INVITE itself when ok is false.
func (s *Server) callFor(req *sip.Request, tx sip.ServerTransaction) (c *Call, dest destination, fromExt *telephony.Extension, ok bool) {
	snap, err := s.dir.get()
	if err != nil {
		s.log.Error("sip: configuration", "err", err)
		s.respond(tx, req, sip.StatusInternalServerError, "Server Error")
		return nil, destination{}, nil, false
	}
	trunk, fromExt, ok := s.identify(req, tx, snap)
	if !ok {
		return nil, destination{}, nil, false
	}
	c = s.newIncomingCall(req, trunk, fromExt)
	if !s.screen(c, req, tx, trunk) {
		return nil, destination{}, nil, false
	}
	dest, ok = route(c, snap, fromExt)
	if !ok {
		s.junk(tx, req, trunk, "no_route")
		return nil, destination{}, nil, false
	}
	return c, dest, fromExt, true
}

// openCustomerLeg makes the INVITE's dialog the call's customer leg (with
// reliable provisional responses when the caller requires them). When
// the dialog cannot be read it takes the call out again, answers 400 and
// reports false.
func (s *Server) openCustomerLeg(c *Call, req *sip.Request, tx sip.ServerTransaction) bool {
	dlg, err := s.uaFor(strings.ToLower(req.Transport())).ReadInvite(req, tx)
	if err != nil {
		s.removeCall(c)
		s.respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return false
	}
	a := s.newLeg(c)
	a.uas, a.uasTx, a.role = dlg, tx, CustomerLeg
	if requires100rel(req) {
		a.rel = newReliable(dlg.Context(), tx, dlg.InviteRequest, s.t1, func() { c.post(evNoPrack{l: a}) })
	}
	a.setSDP(req.Body())
	a.register(dlg.ID)
	c.a = a
	return true
}

// dispatch sends a new call to its destination: into a queue, to an
// extension's phones, or out through a trunk for the extension fromExt.
func (c *Call) dispatch(dest destination, fromExt *telephony.Extension) {
	switch {
	case dest.queue != nil:
		c.enterQueue(*dest.queue)
	case dest.ext != nil:
		c.callExtension(*dest.ext)
	default:
		c.callOut(dest.trunk, fromExt)
	}
}

// identify finds who is calling: a trunk by its source address, else a
// trunk or an extension by digest credentials. It answers the request
// itself (a challenge or a refusal) when ok is false.
func (s *Server) identify(req *sip.Request, tx sip.ServerTransaction, snap *snapshot) (trunk *telephony.Trunk, ext *telephony.Extension, ok bool) {
	if t, ok := snap.trunkBySource(req.Source()); ok {
		return t, nil, true
	}
	creds, ok := sipauth.Credentials(req)
	if !ok {
		// What looks like a phone of the building authenticates, whether
		// or not the extension exists: the answer tells nothing.
		if telephony.ValidExtension(req.From().Address.User) {
			s.challenge(tx, req, false)
			return nil, nil, false
		}
		s.log.Info("sip: INVITE from an unknown source", "source", req.Source())
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return nil, nil, false
	}
	if t, ok := snap.trunkByUser(creds.Username); ok {
		return t, nil, s.authenticate(req, tx, creds, t.Username, t.HA1)
	}
	e, known := snap.exts[creds.Username]
	if !s.authenticate(req, tx, creds, creds.Username, e.HA1) || !known {
		return nil, nil, false
	}
	return nil, &e, true
}

// newIncomingCall makes the call of a new INVITE from trunk or from an
// extension's phone.
func (s *Server) newIncomingCall(req *sip.Request, trunk *telephony.Trunk, fromExt *telephony.Extension) *Call {
	dialed := req.Recipient.User
	if dialed == "" {
		dialed = req.To().Address.User
	}
	dir := telephony.Inbound
	if fromExt != nil {
		dir = telephony.Internal
	}
	c := s.newCall(dir)
	c.sipCallID = req.CallID().Value()
	c.caller = cleanUser(req.From().Address.User)
	c.callerNm = cleanDisplay(req.From().DisplayName)
	c.did = cleanUser(dialed)
	if trunk != nil {
		c.trunk = trunk.Name
	}
	if fromExt != nil {
		c.caller = fromExt.Number
		if n := cleanDisplay(fromExt.DisplayName); n != "" {
			c.callerNm = n
		}
	}
	c.setInfo(func(i *CallInfo) {
		i.SIPCallID, i.Caller, i.CallerName, i.DID, i.Trunk = c.sipCallID, c.caller, c.callerNm, c.did, c.trunk
	})
	return c
}

// screen applies the door's rules to a call from a trunk: numbers the
// trunk does not deliver and blacklisted callers are refused (and
// recorded: a trunk is a known party), VIP callers get their priority.
// It reports whether the call goes on.
func (s *Server) screen(c *Call, req *sip.Request, tx sip.ServerTransaction, trunk *telephony.Trunk) bool {
	if trunk == nil {
		return true
	}
	if !trunk.Delivers(c.did) {
		s.junk(tx, req, trunk, "not_delivered")
		return false
	}
	if s.cfg.Blacklist != nil {
		reject, warn := s.cfg.Blacklist(c.caller)
		if reject {
			s.refuse(c, tx, req, sip.StatusGlobalDecline, "Decline", telephony.Blacklisted, "blacklist")
			return false
		}
		c.warned = warn
	}
	if s.cfg.Priority != nil {
		c.priority = s.cfg.Priority(c.caller)
	}
	c.setInfo(func(i *CallInfo) { i.Warned, i.Priority = c.warned, c.priority })
	return true
}

// destination is where a new call goes: one of a queue, an extension or
// a trunk (out).
type destination struct {
	queue *telephony.Queue
	ext   *telephony.Extension
	trunk *telephony.Trunk
}

// route finds where call c goes: a queue by its number, an extension, or
// out through a trunk for a phone of the building dialling a number.
func route(c *Call, snap *snapshot, fromExt *telephony.Extension) (destination, bool) {
	if name, ok := snap.didQueue[c.did]; ok {
		q := snap.queues[name]
		return destination{queue: &q}, true
	}
	if e, ok := snap.exts[c.did]; ok {
		return destination{ext: &e}, true
	}
	if fromExt != nil && telephony.ValidNumber(c.did) {
		if t, ok := snap.outboundTrunk(); ok {
			c.dir = telephony.Outbound
			c.setInfo(func(i *CallInfo) { i.Direction = telephony.Outbound })
			return destination{trunk: t}, true
		}
	}
	return destination{}, false
}

// junk answers 404 to a call to a number nobody answers. From a trunk
// these are mostly scanners and misrouted calls, not customers: they are
// counted in a metric, not recorded as calls (a replicated record each
// would inflate the KPIs and fill the store at the scanner's pace).
func (s *Server) junk(tx sip.ServerTransaction, req *sip.Request, trunk *telephony.Trunk, reason string) {
	if trunk != nil {
		s.metrics.junkInvites.WithLabelValues(reason).Inc()
	}
	s.respond(tx, req, sip.StatusNotFound, "Not Found")
}

// refuse answers a new call with a final error and records it.
func (s *Server) refuse(c *Call, tx sip.ServerTransaction, req *sip.Request, code int, reason string, d telephony.Disposition, cause string) {
	s.respond(tx, req, code, reason)
	c.end(d, telephony.BySystem, cause)
	rec := c.record(s.now())
	s.execAsync("", func(views replication.Tx) ([]replication.Draft, error) {
		dr, err := telephony.EndCall(rec)
		return []replication.Draft{dr}, err
	})
}

func isSDP(m interface{ ContentType() *sip.ContentTypeHeader }) bool {
	ct := m.ContentType()
	if ct == nil {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct.Value())
	return err == nil && mt == "application/sdp"
}

// enterQueue puts the call in queue q, overflowing at once when q says so
// and nobody is ready, and releasing the caller when no member is logged
// in at all.
func (c *Call) enterQueue(q telephony.Queue) {
	snap, _ := c.s.dir.get()
	if c.firstQueue == "" {
		c.firstQueue = q.Name
	}
	for hops := 0; q.OverflowQueue != "" && q.OverflowAfter == 0 && !c.s.acd.anyReady(q) && hops < 8; hops++ {
		next, ok := snap.queues[q.OverflowQueue]
		if !ok {
			break
		}
		q = next
	}
	c.queue = q
	c.setInfo(func(i *CallInfo) { i.Queue, i.State, i.Agent, i.Extension = q.Name, StateQueued, "", "" })
	if !c.s.acd.anyLoggedIn(q) {
		c.callback = telephony.ReasonNoAgent
		if c.aAnswered {
			c.hangup(telephony.BySystem, "no_agent")
			c.disposition = telephony.Answered
			return
		}
		c.reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", telephony.NoAgent, "no_agent")
		return
	}
	if c.previous == "" && q.Strategy == telephony.CallerBased {
		_ = c.s.cfg.Store.View(func(views replication.Tx) error {
			var err error
			c.previous, err = telephony.LastAgent(views, c.caller)
			return err
		})
	}
	now := c.s.now()
	c.stopQueueTimers()
	c.maxWait = time.NewTimer(max(0, c.arrive.Add(q.MaxWait).Sub(now)))
	if q.OverflowQueue != "" && q.OverflowAfter > 0 {
		c.overflow = time.NewTimer(q.OverflowAfter)
	}
	if !c.aAnswered {
		if err := c.a.provisional(sip.StatusQueued, "Queued", nil); err != nil {
			c.s.log.Debug("sip: 182", "call", c.id, "err", err)
		}
	}
	c.enqueuedAt = now
	c.requeue()
}

// requeue puts the call (back) in line in its queue; a call that goes
// back after an agent did not answer keeps its place (arrival time).
func (c *Call) requeue() {
	if c.overflowDue {
		c.overflowDue = false
		c.waiting = true
		c.overflowNow()
		return
	}
	c.waiting = true
	c.setInfo(func(i *CallInfo) { i.State, i.Agent, i.Extension = StateQueued, "", "" })
	c.s.acd.enqueue(&waiter{call: c, queue: c.queue.Name, arrive: c.arrive, enqueued: c.enqueuedAt, prio: c.priority, previous: c.previous})
}

func (c *Call) onOffer(e evOffer) {
	if c.ended || !c.waiting || c.att != nil {
		c.s.acd.offerFailed(e.agent, c.id)
		return
	}
	c.waiting = false
	mode, sdp := modeAnswer, c.a.sdp()
	if c.aAnswered {
		mode, sdp = modeReinvite, nil
	}
	if err := c.ring(mode, e.agent, e.ext, sdp, c.queue.RingTimeout, nil, ""); err != nil {
		reason := telephony.ReasonUnreachable
		if errors.Is(err, errUnregistered) {
			reason = telephony.ReasonUnregistered
		}
		c.s.acd.offerMissed(e.agent, c.id, reason, c.queue.NoAnswerPause)
		c.requeue()
		return
	}
	c.att.acd = true
	c.setInfo(func(i *CallInfo) { i.State, i.Agent, i.Extension = StateRinging, e.agent, e.ext })
	if c.s.cfg.OnRing != nil {
		c.s.cfg.OnRing(e.agent, c.Info())
	}
}

func (c *Call) maxWaitReached() {
	if c.ended {
		return
	}
	if att := c.stopAttempt(); att != nil && att.agent != "" {
		c.s.acd.offerFailed(att.agent, c.id)
	}
	if c.waiting {
		c.s.acd.remove(c)
		c.waiting = false
	}
	c.callback = telephony.ReasonMaxWait
	if c.aAnswered {
		c.hangup(telephony.BySystem, "max_wait")
		return
	}
	c.reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", telephony.NoAgent, "max_wait")
}

func (c *Call) overflowNow() {
	if c.ended || c.queue.OverflowQueue == "" {
		return
	}
	if !c.waiting {
		if c.att != nil {
			c.overflowDue = true // after this agent's attempt fails
		}
		return
	}
	snap, err := c.s.dir.get()
	if err != nil {
		return
	}
	next, ok := snap.queues[c.queue.OverflowQueue]
	if !ok {
		return
	}
	c.s.acd.remove(c)
	c.waiting = false
	c.enterQueue(next)
}

// callExtension rings every phone of extension e (no ACD).
func (c *Call) callExtension(e telephony.Extension) {
	c.ext = e.Number
	if err := c.ring(modeAnswer, e.User, e.Number, c.a.sdp(), directRingTimeout, nil, ""); err != nil {
		c.reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", telephony.NotAnswered, "unregistered")
		return
	}
	if err := c.a.provisional(sip.StatusRinging, "Ringing", nil); err != nil {
		c.s.log.Debug("sip: 180", "call", c.id, "err", err)
	}
	c.relayed[sip.StatusRinging] = true
	c.setInfo(func(i *CallInfo) { i.State, i.Agent, i.Extension = StateRinging, e.User, e.Number })
	if e.User != "" && c.s.cfg.OnRing != nil {
		c.s.cfg.OnRing(e.User, c.Info())
	}
}

// trunkURI is the request URI of number at trunk t.
func trunkURI(t *telephony.Trunk, number string) (*sip.Uri, string) {
	host, port, _ := strings.Cut(t.Proxy, ":")
	if i := strings.LastIndex(t.Proxy, ":"); i >= 0 {
		host, port = t.Proxy[:i], t.Proxy[i+1:]
	}
	p, _ := strconv.Atoi(port)
	transport := t.Transport
	if transport == "" {
		transport = "udp"
	}
	return &sip.Uri{Scheme: "sip", User: number, Host: strings.Trim(host, "[]"), Port: p}, transport
}

// callOut sends a phone's call to a number through trunk t.
func (c *Call) callOut(t *telephony.Trunk, from *telephony.Extension) {
	c.trunk = t.Name
	c.agent, c.ext = from.User, from.Number
	if c.agent != "" {
		if err := c.s.acd.begin(c.agent, c.id); err != nil {
			c.agent = "" // busy in the ACD's eyes; the call goes on
		}
	}
	uri, transport := trunkURI(t, c.did)
	if err := c.ring(modeAnswer, "", "", c.a.sdp(), trunkRingTimeout, uri, transport); err != nil {
		c.reject(sip.StatusServiceUnavailable, "Service Unavailable", telephony.NotAnswered, "trunk_unreachable")
		return
	}
	c.setInfo(func(i *CallInfo) { i.State, i.Agent, i.Extension, i.Trunk = StateRinging, c.agent, c.ext, t.Name })
}

// ringCustomer calls the customer of a click-to-dial with the agent
// phone's offer.
func (c *Call) ringCustomer(offer []byte) error {
	snap, err := c.s.dir.get()
	if err != nil {
		return err
	}
	if e, ok := snap.exts[c.dialNumber]; ok {
		return c.ring(modeClickCustomer, "", e.Number, offer, clickRingTimeout, nil, "")
	}
	t, ok := snap.outboundTrunk()
	if !ok {
		return errors.New("no trunk for outbound calls")
	}
	c.trunk = t.Name
	uri, transport := trunkURI(t, c.dialNumber)
	return c.ring(modeClickCustomer, "", "", offer, clickRingTimeout, uri, transport)
}

// onReinvite passes a re-INVITE (hold, retrieve, codec change) from one
// leg to the other and the answer back.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	l := s.legOf(req)
	if l == nil {
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if len(req.Body()) > 0 && !isSDP(req) {
		s.respond(tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	other := l.peer.Load()
	if other == nil || other.isClosed() {
		s.respond(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	if !l.reinvite.TryLock() {
		s.respond(tx, req, sip.StatusRequestPending, "Request Pending") // glare
		return
	}
	defer l.reinvite.Unlock()
	var answer []byte
	if len(req.Body()) == 0 {
		// An offerless re-INVITE (a session refresh): offer what the other
		// side has, unchanged.
		answer = other.sdp()
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
		defer cancel()
		var code int
		var err error
		answer, code, err = other.reinviteWith(ctx, other.localSDP(other.role, req.Body()))
		if err != nil || code/100 != 2 {
			if code == 0 {
				code = sip.StatusServiceUnavailable
			}
			s.respond(tx, req, code, "Rejected by the other party")
			return
		}
		l.setSDP(req.Body())
	}
	res := sip.NewSDPResponseFromRequest(req, l.localSDP(l.role, answer))
	if l.uas != nil {
		res.AppendHeader(sip.HeaderClone(&s.uaFor(strings.ToLower(req.Transport())).ContactHDR))
	}
	l.respond2xx(tx, req, res)
}

// respond2xx answers an in-dialog INVITE with res and, over UDP,
// retransmits it until the ACK arrives.
func (l *leg) respond2xx(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	p := &pending2xx{cseq: req.CSeq().SeqNo, ack: make(chan struct{})}
	l.mu.Lock()
	l.pending2x = p
	l.mu.Unlock()
	l.s.send(tx, res)
	if sip.IsReliable(req.Transport()) {
		return
	}
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	for {
		t := time.NewTimer(interval)
		select {
		case <-p.ack:
			t.Stop()
			return
		case <-deadline.C:
			t.Stop()
			return
		case <-l.s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
			l.s.send(tx, res)
			interval = min(2*interval, sip.T2)
		}
	}
}

// onRefer accepts a blind transfer from the agent's side of a call.
func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	l := s.legOf(req)
	if l == nil {
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	rt := req.ReferTo()
	if rt == nil || cleanUser(rt.Address.User) == "" {
		s.respond(tx, req, sip.StatusBadRequest, "Bad Refer-To")
		return
	}
	if l.role != AgentLeg {
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return
	}
	s.respond(tx, req, sip.StatusAccepted, "Accepted")
	l.call.post(evRefer{l: l, target: cleanUser(rt.Address.User)})
}

func (c *Call) onRefer(e evRefer) {
	if e.l != c.b {
		return
	}
	// Tell the transferor it worked (RFC 3515 NOTIFY with a sipfrag), then
	// move the customer; transfer hangs the transferor up.
	ctx, cancel := context.WithTimeout(c.s.ctx, 3*time.Second)
	defer cancel()
	n := sip.NewRequest(sip.NOTIFY, e.l.target())
	n.AppendHeader(sip.NewHeader("Event", "refer"))
	n.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=noresource"))
	n.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	n.SetBody([]byte("SIP/2.0 200 OK\r\n"))
	if _, err := e.l.do(ctx, n); err != nil {
		c.s.log.Debug("sip: refer notify", "call", c.id, "err", err)
	}
	if err := c.transfer(e.target, c.agent); err != nil {
		c.s.log.Info("sip: transfer", "call", c.id, "target", e.target, "err", err)
	}
}

// onInDialog serves INFO, NOTIFY and UPDATE within a call: INFO (DTMF)
// goes to the other party; the others are acknowledged.
func (s *Server) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	l := s.legOf(req)
	if l == nil {
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if req.Method != sip.INFO {
		s.respond(tx, req, sip.StatusOK, "OK")
		return
	}
	other := l.peer.Load()
	if other == nil {
		s.respond(tx, req, sip.StatusOK, "OK")
		return
	}
	fwd := sip.NewRequest(sip.INFO, other.target())
	if ct := req.ContentType(); ct != nil {
		fwd.AppendHeader(sip.NewHeader("Content-Type", ct.Value()))
	}
	fwd.SetBody(req.Body())
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	res, err := other.do(ctx, fwd)
	if err != nil {
		s.respond(tx, req, sip.StatusRequestTimeout, "Request Timeout")
		return
	}
	s.respond(tx, req, res.StatusCode, res.Reason)
}
