package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/node"
	"branchline/rpc"
	"branchline/wiring"
)

// DispatchConfig is the dispatch latency benchmark's load.
type DispatchConfig struct {
	Rate     int           // bookings per second (default 50)
	Duration time.Duration // how long bookings are made (default 20 s)
	Dir      string        // parent of the node's store (default the OS temp dir)
	Log      *slog.Logger
	Progress io.Writer
}

// DispatchTarget is the target for both latencies, at p99.
const DispatchTarget = 200 * time.Millisecond

// DispatchReport is what the dispatch benchmark measured: for each booking
// (an API CreatePickup on a real node with its SIP switch), the time from
// sending the request until the courier's page got the change over SSE,
// and until the courier's phone got the SIP MESSAGE.
type DispatchReport struct {
	Config   DispatchConfig `json:"-"`
	Started  time.Time
	Bookings int
	Rate     float64 // bookings per second achieved
	Book     summary // the API call itself
	Event    summary // booking sent → SSE event at the courier's page
	Page     summary // booking sent → the page's refreshed list shows it
	Message  summary // booking sent → SIP MESSAGE at the courier's phone
	Lost     int     // bookings whose page update or message never came
}

// Met reports whether both p99s are within the target and nothing was lost.
func (r *DispatchReport) Met() bool {
	return r.Lost == 0 && r.Page.N > 0 && r.Page.P99 <= DispatchTarget && r.Message.P99 <= DispatchTarget
}

// Print writes the report as a table.
func (r *DispatchReport) Print(w io.Writer) {
	fmt.Fprintf(w, "dispatch latency: %d bookings at %.1f/s (asked %d/s), one courier, node with SIP on 127.0.0.1\n",
		r.Bookings, r.Rate, r.Config.Rate)
	fmt.Fprintf(w, "  %-34s p50 %-9s p99 %-9s max %s\n", "CreatePickup call", ms(r.Book.P50), ms(r.Book.P99), ms(r.Book.Max))
	fmt.Fprintf(w, "  %-34s p50 %-9s p99 %-9s max %s\n", "booking → SSE event at the page", ms(r.Event.P50), ms(r.Event.P99), ms(r.Event.Max))
	fmt.Fprintf(w, "  %-34s p50 %-9s p99 %-9s max %s  target p99 ≤ %s: %s\n", "booking → page list shows it",
		ms(r.Page.P50), ms(r.Page.P99), ms(r.Page.Max), ms(DispatchTarget), verdict(r.Page.N > 0 && r.Page.P99 <= DispatchTarget))
	fmt.Fprintf(w, "  %-34s p50 %-9s p99 %-9s max %s  target p99 ≤ %s: %s\n", "booking → SIP MESSAGE at the phone",
		ms(r.Message.P50), ms(r.Message.P99), ms(r.Message.Max), ms(DispatchTarget), verdict(r.Message.N > 0 && r.Message.P99 <= DispatchTarget))
	if r.Lost > 0 {
		fmt.Fprintf(w, "  LOST: %d bookings never reached the page or the phone\n", r.Lost)
	}
}

const (
	benchCourier   = "bench.courier"
	benchCourierPw = "bench-courier-pw"
	benchExt       = "8101"
	benchExtPw     = "bench-ext-pw"
	benchAdminPw   = "bench-admin-pw"
)

var pickupNumber = regexp.MustCompile(`P-[a-z0-9-]+-\d{6}-\d+`)

// RunDispatch starts a node with its SIP switch in this process, a courier
// phone (a SIP user agent that registers and answers MESSAGE) and a
// courier page (an HTTP client signed in to the web UI, reading its SSE
// stream), then books pickups through the API at the configured rate.
func RunDispatch(ctx context.Context, c DispatchConfig) (*DispatchReport, error) {
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	say := func(format string, args ...any) { fmt.Fprintf(c.Progress, "bench dispatch: "+format+"\n", args...) }
	dir, err := os.MkdirTemp(c.Dir, "branchline-dispatch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sipAddr, err := freeUDPTCP()
	if err != nil {
		return nil, err
	}
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "bench-br", DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminPassword: benchAdminPw, Log: c.Log}, Telephony: wiring.TelephonyConfig{SIPAddr: sipAddr, SIPHost: "127.0.0.1"}})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	hc := rpc.NewHTTPClient()
	login, err := authv1connect.NewAuthServiceClient(hc, n.URL()).Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: "admin", Password: benchAdminPw}))
	if err != nil {
		return nil, fmt.Errorf("log in: %w", err)
	}
	auth := rpc.WithBearer(login.Msg.GetToken())
	pk := pickupv1connect.NewPickupServiceClient(hc, n.URL(), auth)
	if err := setUpDispatch(ctx, hc, n.URL(), auth, pk); err != nil {
		return nil, err
	}

	phone, err := startPhone(ctx, sipAddr)
	if err != nil {
		return nil, err
	}
	defer phone.close()
	page, err := openPage(ctx, n.URL())
	if err != nil {
		return nil, err
	}
	defer page.close()
	say("node up, courier phone registered, courier page listening; booking %d/s for %s", c.Rate, c.Duration)

	r := &DispatchReport{Config: c, Started: time.Now()}
	type booking struct {
		id, number string
		sent       time.Time
		took       time.Duration
	}
	var mu sync.Mutex
	var books []booking
	var errs []error
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(c.Rate))
	defer tick.Stop()
	start := time.Now()
	for i := 0; time.Since(start) < c.Duration; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			res, err := pk.CreatePickup(ctx, connect.NewRequest(&pickupv1.CreatePickupRequest{
				Sender:      &pickupv1.Party{Name: fmt.Sprintf("寄件人 %d", i), Phone: "13800000001", Address: "上海市浦东新区张杨路 500 号", Postcode: "200120"},
				Receiver:    &pickupv1.Party{Name: "收件人", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号", Postcode: "100022"},
				Destination: "北京", Goods: "文件", WeightGrams: 1000, Pieces: 1, Payment: "cash",
			}))
			took := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			books = append(books, booking{id: res.Msg.GetPickup().GetId(), number: res.Msg.GetPickup().GetNumber(), sent: sent, took: took})
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d bookings failed, first: %w", len(errs), errs[0])
	}
	// Wait for the last messages and page updates to arrive.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (phone.count() < len(books) || page.count() < len(books) || page.sse.count() < len(books)) {
		time.Sleep(50 * time.Millisecond)
	}
	var book, eventLat, pageLat, msgLat latencies
	for _, b := range books {
		book.add(b.took)
		et, eok := page.sse.at(b.id)
		pt, pok := page.at(b.number)
		mt, mok := phone.at(b.number)
		if !eok || !pok || !mok {
			r.Lost++
			continue
		}
		eventLat.add(et.Sub(b.sent))
		pageLat.add(pt.Sub(b.sent))
		msgLat.add(mt.Sub(b.sent))
	}
	r.Bookings, r.Rate = len(books), rate(len(books), elapsed)
	r.Book, r.Event, r.Page, r.Message = book.summarize(), eventLat.summarize(), pageLat.summarize(), msgLat.summarize()
	return r, nil
}

// setUpDispatch makes the courier (account, extension, zone, courier
// record) and a standard tariff, through the API as the admin.
func setUpDispatch(ctx context.Context, hc *http.Client, base string, auth connect.ClientOption, pk pickupv1connect.PickupServiceClient) error {
	acc := accessv1connect.NewAccessServiceClient(hc, base, auth)
	tel := telephonyv1connect.NewTelephonyServiceClient(hc, base, auth)
	role, err := acc.CreateRole(ctx, connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: "快递员", Permissions: []*accessv1.Permission{{Permission: "pickup.courier", Scope: accessv1.Scope_SCOPE_OWN}},
	}}))
	if err != nil {
		return fmt.Errorf("courier role: %w", err)
	}
	u, err := acc.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: benchCourier, DisplayName: "李师傅", Extension: benchExt}, Password: benchCourierPw,
	}))
	if err != nil {
		return fmt.Errorf("courier user: %w", err)
	}
	if _, err := acc.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: role.Msg.GetName()})); err != nil {
		return fmt.Errorf("assign the courier role: %w", err)
	}
	if _, err := tel.SetExtension(ctx, connect.NewRequest(&telv1.SetExtensionRequest{
		Extension: &telv1.Extension{Number: benchExt, User: benchCourier}, Password: benchExtPw,
	})); err != nil {
		return fmt.Errorf("courier extension: %w", err)
	}
	if _, err := pk.SetZone(ctx, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{
		Id: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"},
	}})); err != nil {
		return fmt.Errorf("zone: %w", err)
	}
	if _, err := pk.SetCourier(ctx, connect.NewRequest(&pickupv1.SetCourierRequest{Courier: &pickupv1.Courier{
		User: benchCourier, Name: "李师傅", Extension: benchExt, OnDuty: true, Zones: []string{"pudong"},
	}})); err != nil {
		return fmt.Errorf("courier: %w", err)
	}
	if _, err := pk.SetRatePlan(ctx, connect.NewRequest(&pickupv1.SetRatePlanRequest{Plan: &pickupv1.RatePlan{
		Id: "standard", Rows: []*pickupv1.RateRow{{Area: "*", FirstGrams: 1000, FirstFen: 1200, StepGrams: 1000, StepFen: 500}},
	}})); err != nil {
		return fmt.Errorf("tariff: %w", err)
	}
	return nil
}

// arrivals records when each key first arrived.
type arrivals struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (a *arrivals) add(key string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]time.Time{}
	}
	if _, ok := a.m[key]; !ok {
		a.m[key] = t
	}
}

func (a *arrivals) at(key string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.m[key]
	return t, ok
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

// phone is the courier's softphone: a SIP user agent on 127.0.0.1 that
// registers the courier's extension and answers every MESSAGE with 200,
// noting when each pickup number arrived.
type phone struct {
	arrivals
	ua     *sipgo.UserAgent
	cancel context.CancelFunc
}

func startPhone(ctx context.Context, switchAddr string) (*phone, error) {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bench-courier"))
	if err != nil {
		return nil, err
	}
	p := &phone{ua: ua}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		ua.Close()
		return nil, err
	}
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		now := time.Now()
		for _, num := range pickupNumber.FindAllString(string(req.Body()), -1) {
			p.add(num, now)
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		ua.Close()
		return nil, err
	}
	port := ln.LocalAddr().(*net.UDPAddr).Port
	sctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { _ = srv.ServeUDP(ln) }()
	go func() { <-sctx.Done(); ln.Close() }()

	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	if err != nil {
		p.close()
		return nil, err
	}
	host, sport, _ := net.SplitHostPort(switchAddr)
	var portNum int
	fmt.Sscan(sport, &portNum)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: portNum})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: benchExt, Host: host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: benchExt, Host: host}, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: benchExt, Host: "127.0.0.1", Port: port}})
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	req.SetTransport("UDP")
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	res, err := cl.Do(rctx, req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		res, err = cl.DoDigestAuth(rctx, req, res, sipgo.DigestAuth{Username: benchExt, Password: benchExtPw})
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("register the courier's phone: %w", err)
	}
	if !res.IsSuccess() {
		p.close()
		return nil, fmt.Errorf("register the courier's phone: %s", res.StartLine())
	}
	return p, nil
}

func (p *phone) close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.ua.Close()
}

// page is the courier's page: signed in to the web UI as the courier, it
// reads /events and notes when each pickup id was announced.
type page struct {
	arrivals          // pickup number → when the page's list first showed it
	sse      arrivals // pickup id → when the SSE event announced it
	body     io.Closer
}

var dataPickup = regexp.MustCompile(`data-pickup="([^"]+)"`)

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func openPage(ctx context.Context, base string) (*page, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err := hc.Get(base + "/login")
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfInput.FindSubmatch(b)
	if m == nil {
		return nil, errors.New("courier page: no CSRF field on the login page")
	}
	res, err = hc.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "username": {benchCourier}, "password": {benchCourierPw}, "next": {"/courier"}})
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("courier page: log in: %s", res.Status)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	res, err = hc.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("courier page: /events: %s", res.Status)
	}
	p := &page{body: res.Body}
	// What the page's script does on each event: fetch the list fragment.
	// Events that come while a fetch runs are folded into the next one.
	kick := make(chan struct{}, 1)
	go func() {
		for range kick {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/courier/list", nil)
			res, err := hc.Do(req)
			if err != nil {
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			now := time.Now()
			for _, m := range dataPickup.FindAllSubmatch(b, -1) {
				p.add(string(m[1]), now)
			}
		}
	}()
	go func() {
		defer close(kick)
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:") && event == "pickup.changed":
				now := time.Now()
				var ids []string
				if json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &ids) == nil {
					for _, id := range ids {
						p.sse.add(id, now)
					}
				}
				select {
				case kick <- struct{}{}:
				default:
				}
			case line == "":
				event = ""
			}
		}
	}()
	return p, nil
}

func (p *page) close() { p.body.Close() }

// freeUDPTCP returns a 127.0.0.1 address free for both UDP and TCP.
func freeUDPTCP() (string, error) {
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := u.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		u.Close()
		if err == nil {
			l.Close()
			return addr, nil
		}
	}
	return "", errors.New("no port free for both UDP and TCP")
}
