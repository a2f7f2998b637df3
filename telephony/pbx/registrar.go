package pbx

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/telephony/sipauth"
	"branchline/telephony/sipwire"
)

// Binding is one registered phone of an extension.
type Binding struct {
	Extension string
	URI       sip.Uri // the phone's Contact
	Transport string  // "udp" or "tcp"
	Source    string  // host:port the REGISTER came from
	// NAT says the phone is reached at Source rather than at its Contact:
	// it registered over UDP from another address than its Contact's and
	// sends symmetrically (rport, RFC 3581), as phones behind NAT do.
	NAT       bool
	Expires   time.Time
	UserAgent string
	callID    string
}

// key identifies a binding within its extension: the contact URI.
func (b *Binding) key() string { return b.URI.String() }

// registrar keeps the bindings of extensions in memory: phones register
// again after a node restart (registrations are short-lived and
// node-local by nature, not replicated).
type registrar struct {
	now        func() time.Time
	min, max   time.Duration
	onRegister func(ext string) // called (in its own goroutine) after a phone registers

	mu    sync.Mutex
	byExt map[string][]*Binding
	total int
}

const defaultExpires = time.Hour

func newRegistrar(now func() time.Time, min, max time.Duration) *registrar {
	if min <= 0 {
		min = 60 * time.Second
	}
	if max < min {
		max = defaultExpires
	}
	return &registrar{now: now, min: min, max: max, byExt: map[string][]*Binding{}}
}

// contacts returns copies of the live bindings of ext.
func (r *registrar) contacts(ext string) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []Binding
	for _, b := range r.byExt[ext] {
		if b.Expires.After(now) {
			out = append(out, *b)
		}
	}
	return out
}

// registered reports whether ext has a live binding. The ACD asks it for
// every member of a queue for every waiting call, so it copies nothing.
func (r *registrar) registered(ext string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, b := range r.byExt[ext] {
		if b.Expires.After(now) {
			return true
		}
	}
	return false
}

// fromSource reports whether addr is the source of a live binding of ext.
func (r *registrar) fromSource(ext, addr string) bool {
	for _, b := range r.contacts(ext) {
		if b.Source == addr {
			return true
		}
	}
	return false
}

// sweep drops expired bindings.
func (r *registrar) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for ext, bs := range r.byExt {
		live := slices.DeleteFunc(bs, func(b *Binding) bool { return !b.Expires.After(now) })
		r.total -= len(bs) - len(live)
		if len(live) == 0 {
			delete(r.byExt, ext)
		} else {
			r.byExt[ext] = live
		}
	}
}

// handle serves a REGISTER for the extension named in To, after digest
// authentication as that extension: it updates the extension's bindings
// and answers with those that stand.
func (r *registrar) handle(s *Server, req *sip.Request, tx sip.ServerTransaction) {
	ext, ok := s.authorizeRegister(req, tx)
	if !ok {
		return
	}
	u, bad := r.parse(req, ext)
	if bad != nil {
		s.send(tx, bad)
		return
	}
	current, added := r.apply(u)
	s.send(tx, registered(req, current, u.now))
	if added && r.onRegister != nil {
		go r.onRegister(ext)
	}
}

// authorizeRegister returns the extension a REGISTER is for (the user
// of its To) when the sender authenticated as it; otherwise it has
// answered the request, and ok is false.
func (s *Server) authorizeRegister(req *sip.Request, tx sip.ServerTransaction) (ext string, ok bool) {
	if scheme := strings.ToLower(req.To().Address.Scheme); scheme != "sip" && scheme != "sips" {
		// An address of record is a SIP URI (RFC 3261 10.2; RFC 4475 3.3.4).
		s.respond(tx, req, sip.StatusBadRequest, "Bad Request (To is not a SIP URI)")
		return "", false
	}
	ext = req.To().Address.User
	snap, err := s.dir.get()
	if err != nil {
		s.respond(tx, req, sip.StatusInternalServerError, "Server Error")
		return "", false
	}
	creds, _ := sipauth.Credentials(req)
	// Unknown extensions are challenged and refused like known ones, so
	// that a scan cannot tell which numbers exist.
	if !s.authenticate(req, tx, creds, ext, snap.exts[ext].HA1) {
		return "", false
	}
	return ext, true
}

// registered is the 200 to a REGISTER: the bindings that stand after it,
// each with the seconds it has left at now.
func registered(req *sip.Request, current []Binding, now time.Time) *sip.Response {
	resp := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, b := range current {
		h := &sip.ContactHeader{Address: b.URI, Params: sip.NewParams()}
		h.Params.Add("expires", strconv.Itoa(max(0, int(b.Expires.Sub(now)/time.Second))))
		resp.AppendHeader(h)
	}
	return resp
}

// natted reports whether a phone registering contact over transport is
// behind NAT: over UDP, its REGISTER came from another address than the
// contact's and its Via asks for symmetric answers (rport; the wire check
// adds it to requests whose Via is not their source). Over TCP the
// connection it registered on is used anyway while it is open (flow).
func natted(req *sip.Request, contact sip.Uri, transport string) bool {
	if transport != "udp" {
		return false
	}
	via := req.Via()
	if via == nil || !via.Params.Has("rport") {
		return false
	}
	port := contact.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(contact.Host, strconv.Itoa(port)) != req.Source()
}

// flow is the address to send a phone's requests to when it is not its
// Contact (""): the connection a phone registered on over TCP, while it is
// open (RFC 5626's flow), or the address a phone behind NAT registered
// from (RFC 3581's received and rport). A NAT keeps that address open
// because the phone re-registers and answers from it.
func (s *Server) flow(b Binding) string {
	if b.Transport == "tcp" {
		if conn, err := s.ua.TransportLayer().GetConnection("tcp", b.Source); err == nil && conn != nil {
			return b.Source
		}
		return ""
	}
	if b.NAT {
		return b.Source
	}
	return ""
}

// update is what a REGISTER asks for: bindings to add, refresh or remove.
type update struct {
	ext      string
	now      time.Time
	changes  []change
	wildcard bool // Contact: * removes every binding
}

type change struct {
	b   *Binding
	del bool
}

// parse reads the bindings a REGISTER asks for; a request it cannot
// honour gets the response returned.
func (r *registrar) parse(req *sip.Request, ext string) (*update, *sip.Response) {
	bad := func(code int, reason string) *sip.Response {
		return sip.NewResponseFromRequest(req, code, reason, nil)
	}
	defExp := defaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return nil, bad(sip.StatusBadRequest, "Bad Expires")
		}
		defExp = time.Duration(n) * time.Second
	}
	var values []string
	for _, h := range req.GetHeaders("Contact") {
		values = append(values, splitContacts(h.Value())...)
	}
	u := &update{ext: ext, now: r.now()}
	for _, v := range values {
		if strings.TrimSpace(v) == "*" {
			u.wildcard = true
			continue
		}
		b, exp, res := r.binding(req, ext, v, defExp, u.now)
		if res != nil {
			return nil, res
		}
		u.changes = append(u.changes, change{b: b, del: exp == 0})
	}
	if u.wildcard && (len(values) != 1 || defExp != 0) {
		return nil, bad(sip.StatusBadRequest, "Wildcard Contact needs Expires: 0")
	}
	return u, nil
}

// binding reads one Contact value v of a REGISTER into a binding that
// expires after the returned duration (0: remove it).
func (r *registrar) binding(req *sip.Request, ext, v string, defExp time.Duration, now time.Time) (*Binding, time.Duration, *sip.Response) {
	bad := func(code int, reason string) (*Binding, time.Duration, *sip.Response) {
		return nil, 0, sip.NewResponseFromRequest(req, code, reason, nil)
	}
	var uri sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(v, &uri, &params); err != nil || uri.Host == "" ||
		(uri.Scheme != "sip" && uri.Scheme != "sips") || len(v) > maxHeaderVal {
		return bad(sip.StatusBadRequest, "Bad Contact")
	}
	exp := defExp
	if p, ok := params.Get("expires"); ok {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return bad(sip.StatusBadRequest, "Bad Contact expires")
		}
		exp = time.Duration(n) * time.Second
	}
	if exp > 0 && exp < r.min {
		resp := sip.NewResponseFromRequest(req, sip.StatusIntervalToBrief, "Interval Too Brief", nil)
		resp.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.min/time.Second))))
		return nil, 0, resp
	}
	exp = min(exp, r.max)
	transport := strings.ToLower(req.Transport())
	if t, ok := uri.UriParams.Get("transport"); ok {
		transport = strings.ToLower(t)
	}
	if transport != "udp" && transport != "tcp" {
		return bad(sip.StatusBadRequest, "Unsupported transport")
	}
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = cleanDisplay(h.Value())
	}
	return &Binding{Extension: ext, URI: uri, Transport: transport, Source: req.Source(), NAT: natted(req, uri, transport),
		Expires: now.Add(exp), UserAgent: ua, callID: req.CallID().Value()}, exp, nil
}

// apply makes the changes of u and returns the extension's bindings
// after them, and whether a phone was added or refreshed.
func (r *registrar) apply(u *update) ([]Binding, bool) {
	added := false
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.byExt[u.ext]
	if u.wildcard {
		r.total -= len(bs)
		bs = nil
	}
	for _, c := range u.changes {
		i := slices.IndexFunc(bs, func(b *Binding) bool { return b.key() == c.b.key() })
		switch {
		case c.del && i >= 0:
			bs = slices.Delete(bs, i, i+1)
			r.total--
		case c.del:
		case i >= 0:
			bs[i] = c.b
			added = true
		case r.total >= maxBindings:
		default:
			if len(bs) >= maxContacts {
				bs = r.dropOldest(bs)
			}
			bs = append(bs, c.b)
			r.total++
			added = true
		}
	}
	if len(bs) == 0 {
		delete(r.byExt, u.ext)
	} else {
		r.byExt[u.ext] = bs
	}
	current := make([]Binding, 0, len(bs))
	for _, b := range bs {
		current = append(current, *b)
	}
	return current, added
}

// dropOldest makes room among an extension's bindings: the registration
// that expires first goes.
func (r *registrar) dropOldest(bs []*Binding) []*Binding {
	j := 0
	for k := range bs {
		if bs[k].Expires.Before(bs[j].Expires) {
			j = k
		}
	}
	r.total--
	return slices.Delete(bs, j, j+1)
}

// splitContacts splits a Contact header value at the commas between
// contacts (not those inside quotes or angle brackets).
func splitContacts(v string) []string {
	out := sipwire.SplitOutside(v, ',')
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// list returns every live binding, by extension.
func (r *registrar) list() map[string][]Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := map[string][]Binding{}
	for ext, bs := range r.byExt {
		for _, b := range bs {
			if b.Expires.After(now) {
				out[ext] = append(out[ext], *b)
			}
		}
	}
	return out
}
