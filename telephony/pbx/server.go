package pbx

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/sipauth"
)

// Config is what the switch needs. Listen addresses may use port 0; the
// bound addresses are UDPAddr and TCPAddr of the Server. One address with
// port 0 for both gives both the same port.
type Config struct {
	UDPAddr string // e.g. "0.0.0.0:5060"; empty: no UDP
	TCPAddr string // empty: no TCP
	// Host is the address put in Via and Contact; default: the listen IP,
	// or the machine's first non-loopback IPv4 address when listening on
	// every interface.
	Host  string
	Store Store
	Log   *slog.Logger
	// Location is the time zone of days (KPIs) and of membership windows;
	// default time.Local.
	Location *time.Location

	// Blacklist says whether calls from number are refused (603) or
	// reach the agent with a warning. Nil: nobody is blacklisted.
	Blacklist func(number string) (reject, warn bool)
	// Priority is the caller's VIP level (the CRM's member level): higher
	// levels are served first. Nil: all 0.
	Priority func(caller string) int
	// OnRing is called the moment an agent's phone is sent the INVITE
	// (screen pop). It must not block.
	OnRing func(agent string, call CallInfo)
	// OnAgent is called after an agent's state changed. It must not block.
	OnAgent func(a AgentInfo)
	// Media decides the SDP of each leg; default Passthrough.
	Media Media

	// Audit, when set, records security events in the node's audit log
	// (refused SIP authentications): actor is the user named, remote the
	// request's source address. It is called in a goroutine of its own.
	Audit func(ctx context.Context, actor, action, target, detail, remote string) error
	// Metrics, when set, is where the switch registers its Prometheus
	// metrics.
	Metrics prometheus.Registerer
	// AuthThrottle tunes the slowing down of password guessing.
	AuthThrottle sipauth.ThrottleConfig

	// MinExpires and MaxExpires bound registrations (default 60 s, 1 h).
	MinExpires, MaxExpires time.Duration
	// MaxCalls bounds concurrent calls; more are refused with 503
	// (default 2000).
	MaxCalls int
	// Overload tunes load shedding (see Overload).
	Overload Overload
	// AckTimeout is how long the switch waits for the ACK of the 200 that
	// answers a caller before it ends the call as not answered (default
	// 64*T1, 32 s: RFC 3261 13.3.1.4).
	AckTimeout time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time

	// t1 is the switch's T1 (RFC 3261 17.1.1.1) for its reliable
	// provisional responses; default sip.T1 (tests shorten it).
	t1 time.Duration
}

// Server is a running switch: registrar, B2BUA, ACD and messaging.
type Server struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	t1    time.Duration
	loc   *time.Location
	host  string
	media Media
	ids   *replication.IDs

	ua        *sipgo.UserAgent
	srv       *sipgo.Server
	udpUA     *sipgo.DialogUA
	tcpUA     *sipgo.DialogUA
	udpClient *sipgo.Client
	tcpClient *sipgo.Client
	udpConn   net.PacketConn
	reader    *udpReader // of udpConn; nil without UDP
	tcpLn     net.Listener

	auth       *sipauth.Digest
	throttle   *sipauth.Throttle
	decoyHA1   string   // checked for users that do not exist
	auditLimit *limiter // of audit entries of refused authentications
	metrics    *metrics
	shed       *shedder
	dir        *directory
	reg        *registrar
	acd        *acd
	msg        *messenger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	handlers  map[sip.RequestMethod]sipgo.RequestHandler
	panicHook func(any) // tests: a handler panicked

	mu      sync.Mutex
	calls   map[string]*Call
	dialogs map[string]*leg
	legs    atomic.Int64
	// ncalls is len(calls), kept beside it: the wire check reads it for
	// every new INVITE and must not queue for mu behind the calls.
	ncalls atomic.Int64
	closed bool
	// settled counts the calls up whose customer is answered (Call.settle):
	// what remains of them is cheap. See inSetup.
	settled atomic.Int64
}

// Start listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("pbx: a store is required")
	}
	if cfg.UDPAddr == "" && cfg.TCPAddr == "" {
		return nil, errors.New("pbx: no UDP or TCP address to listen on")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = 2000
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 64 * sip.T1
	}
	if cfg.Media == nil {
		cfg.Media = Passthrough{}
	}
	if cfg.t1 <= 0 {
		cfg.t1 = sip.T1
	}
	s := &Server{
		cfg: cfg, log: cfg.Log.With("part", "sip"), now: cfg.Now, t1: cfg.t1, loc: cfg.Location, media: cfg.Media,
		ids: replication.NewIDs(), calls: map[string]*Call{}, dialogs: map[string]*leg{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.auth = sipauth.NewDigest(telephony.Realm, s.now)
	s.throttle = sipauth.NewThrottle(cfg.AuthThrottle)
	s.decoyHA1 = newDecoyHA1()
	s.auditLimit = newLimiter(1, 30)
	s.metrics = newMetrics()
	s.shed = newShedder(cfg.Overload)
	if cfg.Metrics != nil {
		if err := s.metrics.register(cfg.Metrics); err != nil {
			s.cancel()
			return nil, err
		}
	}
	s.dir = &directory{store: cfg.Store, now: s.now}
	s.reg = newRegistrar(s.now, cfg.MinExpires, cfg.MaxExpires)
	s.acd = newACD(s)
	s.msg = &messenger{s: s, inflight: map[string]bool{}}
	s.reg.onRegister = func(ext string) {
		s.acd.dispatch() // an agent's phone is back: waiting calls may go to it
		s.msg.flush(ext)
	}

	if err := s.listen(); err != nil {
		s.cancel()
		return nil, err
	}
	if err := s.acd.seed(); err != nil {
		s.log.Warn("sip: could not count today's answered calls", "err", err)
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.sweepLoop() }()
	s.log.Info("sip listening", "udp", s.UDPAddr(), "tcp", s.TCPAddr(), "host", s.host)
	return s, nil
}

// largeResponses lets sipgo send responses bigger than an MTU over UDP.
// sipgo refuses to write any UDP message over 1300 bytes (RFC 3261 18.1.1
// asks that of requests, which the switch keeps small), so an answer to a
// request with long header fields (RFC 4475 3.1.1.7) was never sent. The
// limit is sipgo's package variable, set once for every switch.
var largeResponses sync.Once

func (s *Server) listen() error {
	largeResponses.Do(func() { sip.UDPMTUSize = 65535 })
	sipLog := slog.New(quietHandler{s.log.Handler()}).With("lib", "sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("Branchline"),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadParser(s.readParser)),
	)
	if err != nil {
		return err
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog)); err != nil {
		ua.Close()
		return err
	}
	if s.udpConn, s.tcpLn, err = bind(s.cfg.UDPAddr, s.cfg.TCPAddr); err != nil {
		ua.Close()
		return err
	}
	listenHost := ""
	if s.udpConn != nil {
		growReadBuffer(s.udpConn, s.log)
		listenHost, _, _ = net.SplitHostPort(s.udpConn.LocalAddr().String())
	} else {
		listenHost, _, _ = net.SplitHostPort(s.tcpLn.Addr().String())
	}
	s.host = s.cfg.Host
	if s.host == "" {
		if ip := net.ParseIP(listenHost); ip != nil && !ip.IsUnspecified() {
			s.host = listenHost
		} else {
			s.host = defaultHost()
		}
	}
	if s.udpConn != nil {
		port := s.udpConn.LocalAddr().(*net.UDPAddr).Port
		if s.udpClient, err = sipgo.NewClient(ua, sipgo.WithClientHostname(s.host), sipgo.WithClientPort(port),
			sipgo.WithClientConnectionAddr(s.udpConn.LocalAddr().String()), sipgo.WithClientLogger(sipLog)); err != nil {
			return err
		}
		s.udpUA = &sipgo.DialogUA{Client: s.udpClient, RewriteContact: true, ContactHDR: sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: "branchline", Host: s.host, Port: port}}}
	}
	if s.tcpLn != nil {
		port := s.tcpLn.Addr().(*net.TCPAddr).Port
		if s.tcpClient, err = sipgo.NewClient(ua, sipgo.WithClientHostname(s.host), sipgo.WithClientPort(port),
			sipgo.WithClientLogger(sipLog)); err != nil {
			return err
		}
		params := sip.NewParams()
		params.Add("transport", "tcp")
		s.tcpUA = &sipgo.DialogUA{Client: s.tcpClient, RewriteContact: true, ContactHDR: sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: "branchline", Host: s.host, Port: port, UriParams: params}}}
	}

	s.handlers = map[sip.RequestMethod]sipgo.RequestHandler{
		sip.REGISTER: s.guard(s.onRegister),
		sip.INVITE:   s.guard(s.onInvite),
		sip.ACK:      s.guardAck(s.onAck),
		sip.BYE:      s.guard(s.onBye),
		sip.CANCEL:   s.guard(s.onCancel),
		sip.OPTIONS:  s.guard(s.onOptions),
		sip.MESSAGE:  s.guard(s.onMessage),
		sip.REFER:    s.guard(s.onRefer),
		sip.INFO:     s.guard(s.onInDialog),
		sip.NOTIFY:   s.guard(s.onInDialog),
		sip.UPDATE:   s.guard(s.onInDialog),
		sip.PRACK:    s.guard(s.onPrack),
	}
	for m, h := range s.handlers {
		s.srv.OnRequest(m, h)
	}
	s.srv.OnNoRoute(s.guard(s.onUnknown))

	if s.udpConn != nil {
		conn, reader := newUDPReader(s.udpConn, s.checkDatagram)
		s.reader = reader
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("sip: udp serve", "err", err)
			}
		}()
	}
	if s.tcpLn != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.ServeTCP(wireListener{Listener: s.tcpLn, s: s}); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("sip: tcp serve", "err", err)
			}
		}()
	}
	return nil
}

// UDPAddr is the bound UDP address ("" without UDP).
func (s *Server) UDPAddr() string {
	if s.udpConn == nil {
		return ""
	}
	return s.udpConn.LocalAddr().String()
}

// TCPAddr is the bound TCP address ("" without TCP).
func (s *Server) TCPAddr() string {
	if s.tcpLn == nil {
		return ""
	}
	return s.tcpLn.Addr().String()
}

// ActiveDialogs is the number of SIP dialogs (call legs) the switch holds.
// It returns to 0 when no call is up: every path closes its legs.
func (s *Server) ActiveDialogs() int { return int(s.legs.Load()) }

// ActiveCalls is the number of calls in progress.
func (s *Server) ActiveCalls() int { return int(s.ncalls.Load()) }

// inSetup is the calls the switch is setting up: up, but neither
// answered nor waiting in a queue's line for an agent. They are where the
// switch's work per call goes (routing, the ACD, ringing an agent, the
// answer and its ACK): when it falls behind, they pile up, whatever the
// offered rate, before anything else shows it. The shedder admits new
// calls by it (Overload.MaxSetup).
func (s *Server) inSetup(active int) int {
	return max(0, active-int(s.settled.Load())-int(s.acd.nwaiting.Load()))
}

// ConfigChanged makes the switch reload its configuration at once (after
// a change made through this node; replicated changes show within 2 s).
func (s *Server) ConfigChanged() { s.dir.invalidate() }

// Close hangs up every call, stops serving and waits for the switch's
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	calls := make([]*Call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.command(context.Background(), cmdHangup, "", BySystem)
	}
	deadline := time.Now().Add(3 * time.Second)
	for s.ActiveCalls() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.recordRefused(true)
	s.cancel()
	s.acd.stop()
	if s.udpConn != nil {
		s.udpConn.Close()
	}
	if s.tcpLn != nil {
		s.tcpLn.Close()
	}
	err := s.ua.Close()
	s.wg.Wait()
	return err
}

// BySystem is the actor of what the switch does by itself.
const BySystem = telephony.BySystem

func (s *Server) sweepLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.reg.sweep()
			s.auth.Sweep()
			s.throttle.Sweep(s.now())
			s.recordRefused(false)
			// Membership windows open and replicated configuration changes
			// without an event here: look at the line again.
			s.acd.dispatch()
		}
	}
}

// guard wraps a handler: it validates the request (400 when the headers
// handlers rely on are missing), and turns a panic into a 500 so that no
// request can stop the node.
func (s *Server) guard(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("sip: handler panic", "panic", p, "method", req.Method, "stack", string(debug.Stack()))
				s.respond(tx, req, sip.StatusInternalServerError, "Server Error")
				if s.panicHook != nil {
					s.panicHook(p)
				}
			}
		}()
		s.reader.poll() // see udpReader
		if err := validate(req); err != nil {
			s.respond(tx, req, sip.StatusBadRequest, "Bad Request: "+err.Error())
			return
		}
		if tags := unsupportedRequired(req); len(tags) > 0 {
			s.badExtension(tx, req, tags)
			return
		}
		if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
			s.respond(tx, req, sip.StatusTooManyHops, "Too Many Hops")
			return
		}
		h(req, tx)
	}
}

// guardAck is guard for ACK, which is never answered.
func (s *Server) guardAck(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("sip: ack handler panic", "panic", p, "stack", string(debug.Stack()))
				if s.panicHook != nil {
					s.panicHook(p)
				}
			}
		}()
		s.reader.poll() // see udpReader
		if validate(req) != nil {
			return
		}
		h(req, tx)
	}
}

// respond answers req statelessly within its transaction.
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	if tx == nil {
		return
	}
	s.send(tx, sip.NewResponseFromRequest(req, code, reason, nil))
}

func (s *Server) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip: respond", "code", res.StatusCode, "err", err)
	}
}

func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	s.reg.handle(s, req, tx)
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Supported", supportedHeader))
	s.send(tx, res)
}

// onCancel sees only CANCELs that match no pending INVITE (the
// transaction layer answers the others and cancels the INVITE).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// legOf finds the leg an in-dialog request belongs to, whether the node
// is the UAS or the UAC of that dialog.
func (s *Server) legOf(req *sip.Request) *leg {
	uas, err1 := sip.DialogIDFromRequestUAS(req)
	uac, err2 := sip.DialogIDFromRequestUAC(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err1 == nil {
		if l := s.dialogs[uas]; l != nil {
			return l
		}
	}
	if err2 == nil {
		return s.dialogs[uac]
	}
	return nil
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	l := s.legOf(req)
	if l == nil {
		return
	}
	l.mu.Lock()
	p := l.pending2x
	if p != nil && p.cseq == req.CSeq().SeqNo {
		l.pending2x = nil
	}
	l.mu.Unlock()
	if p != nil && p.cseq == req.CSeq().SeqNo {
		close(p.ack)
		return
	}
	if l.uas != nil {
		if req.CSeq().SeqNo == l.uas.InviteRequest.CSeq().SeqNo {
			l.ackReceived()
		}
		if err := l.uas.ReadAck(req, tx); err != nil {
			s.log.Debug("sip: ack", "err", err)
		}
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	l := s.legOf(req)
	if l == nil {
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	if l.uas != nil {
		// A BYE in the dialog the 200 made (legOf matched our To tag)
		// shows that the caller had the 200, whether or not its ACK came
		// first: they cross, or the ACK is lost. The answer is confirmed
		// before ReadBye ends the dialog, which is what makes
		// answerCustomer's WriteResponse return.
		l.ackReceived()
		err = l.uas.ReadBye(req, tx)
	} else {
		err = l.uac.ReadBye(req, tx)
	}
	if err != nil {
		s.respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	if l.markEnded() {
		l.call.post(evBye{l: l})
	}
	l.close()
}

// call registry

func (s *Server) addCall(c *Call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.calls) >= s.cfg.MaxCalls {
		return false
	}
	if _, dup := s.calls[c.id]; !dup {
		s.ncalls.Add(1)
	}
	s.calls[c.id] = c
	return true
}

func (s *Server) removeCall(c *Call) {
	s.mu.Lock()
	if _, ok := s.calls[c.id]; ok {
		delete(s.calls, c.id)
		s.ncalls.Add(-1)
	}
	s.mu.Unlock()
}

func (s *Server) call(id string) (*Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[id]
	return c, ok
}

// uaFor returns the dialog UA for transport ("udp" or "tcp").
func (s *Server) uaFor(transport string) *sipgo.DialogUA {
	if transport == "tcp" && s.tcpUA != nil {
		return s.tcpUA
	}
	if s.udpUA != nil {
		return s.udpUA
	}
	return s.tcpUA
}

func (s *Server) clientFor(transport string) *sipgo.Client {
	return s.uaFor(transport).Client
}

// exec runs cmd on the node's store: a local durable write that never
// waits on the hub.
func (s *Server) exec(actor string, cmd replication.Command) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := s.cfg.Store.Exec(ctx, actor, cmd)
	return err
}

func (s *Server) execAsync(actor string, cmd replication.Command) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.exec(actor, cmd); err != nil {
			s.log.Error("sip: store write", "err", err)
		}
	}()
}

func itoa(n int) string { return strconv.Itoa(n) }

// goSafe runs fn in a goroutine that logs a panic instead of stopping
// the node: the SIP library's code runs in these goroutines, on input
// from anyone.
func (s *Server) goSafe(fn func()) {
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("sip: goroutine panic", "panic", p, "stack", string(debug.Stack()))
				if s.panicHook != nil {
					s.panicHook(p)
				}
			}
		}()
		fn()
	}()
}
