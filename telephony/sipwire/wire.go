package sipwire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// header is one header field of a message as received, unfolded.
type header struct {
	name  string // as sent: "Via", "v", "MaX-fOrWaRdS"
	canon string // lower-case full name: "via", "max-forwards"
	value string // unfolded, trimmed
}

// Message is a SIP message as it came off the network, split into its
// start line, header fields and body without interpreting them. Check
// tidies the fields it checks, and Bytes renders the result.
type Message struct {
	start   string
	headers []header
	body    []byte
	rest    int  // bytes after the message in the datagram (ignored)
	changed bool // unfolding or tidying changed the head: rebuild it
}

// Error is why a request is refused on sight: the status code and reason
// phrase of the answer (Reply renders it).
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Reason) }

// BadRequest returns the 400 refusal that says why.
func BadRequest(why string) *Error {
	return &Error{Code: 400, Reason: "Bad Request (" + why + ")"}
}

// ErrNotSIP is Split's answer to bytes that are no SIP message at all
// (garbage, a lone keep-alive, a stream's incomplete head): nobody to
// answer.
var ErrNotSIP = errors.New("not a SIP message")

// compact maps the compact forms of header names (RFC 3261 7.3.3 and
// extensions) to their full names.
var compact = map[string]string{
	"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact", "l": "content-length",
	"c": "content-type", "e": "content-encoding", "k": "supported", "s": "subject", "o": "event",
	"r": "refer-to", "b": "referred-by", "u": "allow-events", "x": "session-expires",
}

// known are the lower-case names of the fields the switch looks at, so
// that canonicalName finds them without allocating.
var known = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"via", "from", "to", "call-id", "cseq", "contact", "route", "record-route",
		"max-forwards", "content-length", "content-type", "date", "expires", "require", "accept", "supported"} {
		m[n] = n
	}
	for short, full := range compact {
		m[short] = full
	}
	return m
}()

// CanonicalName returns the lower-case full name of a header field name
// as sent: "Via", "v" and "VIA" are all "via".
func CanonicalName(name string) string {
	var buf [32]byte
	if len(name) <= len(buf) {
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if full, ok := known[string(buf[:len(name)])]; ok {
			return full
		}
	}
	n := strings.ToLower(name)
	if full, ok := compact[n]; ok {
		return full
	}
	return n
}

// Split parses data into a Message. stream says whether data is
// one framed message of a stream (TCP), where Content-Length framed it,
// or a datagram, where the body is what follows the head up to
// Content-Length and what is beyond it is ignored (RFC 3261 18.3).
func Split(data []byte, stream bool) (*Message, error) {
	// Leading CRLFs (keep-alives) are not part of a message (7.5).
	data = bytes.TrimLeft(data, "\r\n")
	m := &Message{}
	lines, end, blank := headLines(data)
	if !blank {
		// A datagram that ends without the empty line: its end ends the
		// head too (sent on with the empty line). A stream waits for it.
		if stream {
			return nil, ErrNotSIP
		}
		m.changed = true
	}
	if len(lines) == 0 {
		return nil, ErrNotSIP
	}
	m.start = lines[0]
	if !isStartLine(m.start) {
		return nil, ErrNotSIP
	}
	m.headers = make([]header, 0, len(lines)-1) // one per line, but for folding
	for _, line := range lines[1:] {
		if strings.IndexByte(line, '\r') >= 0 {
			return m, BadRequest("CR inside a line")
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A continuation of the previous field's value (folding).
			if len(m.headers) == 0 {
				return m, BadRequest("folded line before any header")
			}
			h := &m.headers[len(m.headers)-1]
			h.value = strings.TrimSpace(h.value + " " + strings.TrimSpace(line))
			m.changed = true
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return m, BadRequest("header line without a name")
		}
		name := strings.TrimRight(line[:colon], " \t")
		if name != line[:colon] {
			m.changed = true
		}
		if !IsToken(name) {
			return m, BadRequest("bad header name")
		}
		value := strings.TrimSpace(line[colon+1:])
		if value != strings.TrimLeft(line[colon+1:], " \t") || (len(line) > colon+1 && line[colon+1] != ' ') {
			m.changed = true
		}
		m.headers = append(m.headers, header{name: name, canon: CanonicalName(name), value: value})
	}
	if blank && bytes.Count(data[:end], []byte("\r\n")) != len(lines)+1 {
		m.changed = true // bare LFs: sent on with CRLFs
	}
	body := data[end:]
	cls := m.all("content-length") // nil, or one: no allocation in the usual case
	switch {
	case len(cls) > 1:
		return m, BadRequest("more than one Content-Length")
	case len(cls) == 1:
		n, err := strconv.Atoi(cls[0])
		if err != nil || n < 0 || cls[0][0] == '+' {
			return m, BadRequest("bad Content-Length")
		}
		if n > len(body) {
			if stream {
				return m, BadRequest("body shorter than Content-Length")
			}
			return m, BadRequest("Content-Length larger than the datagram")
		}
		m.rest = len(body) - n
		body = body[:n]
	case stream:
		return m, BadRequest("no Content-Length on a stream")
	}
	m.body = body
	return m, nil
}

// headLines splits the head of a message into its lines. Lines end in
// CRLF (RFC 3261 7), but a bare LF is taken too, as sipgo does: a message
// is not refused for that alone. end is where the body starts, and blank
// whether the empty line that ends a head was there (if not, the head is
// all of data).
func headLines(data []byte) (lines []string, end int, blank bool) {
	head := string(data)
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i+4] // the usual case: the body is not copied
	}
	lines = make([]string, 0, 16)
	for off := 0; off < len(head); {
		nl := strings.IndexByte(head[off:], '\n')
		next := off + nl + 1
		if nl < 0 {
			nl, next = len(head)-off, len(head)
		}
		line := strings.TrimSuffix(head[off:off+nl], "\r")
		off = next
		if line == "" {
			return lines, off, true
		}
		lines = append(lines, line)
	}
	return lines, len(data), false
}

// isStartLine says whether line looks like the start of a SIP message at
// all: a request line ("METHOD uri SIP/x.y") or a status line.
func isStartLine(line string) bool {
	if strings.HasPrefix(line, "SIP/") {
		return true
	}
	sp := strings.IndexByte(line, ' ')
	return sp > 0 && IsToken(line[:sp]) && strings.Contains(line[sp:], " SIP/")
}

// IsResponse reports whether m is a response (its start line is a status
// line).
func (m *Message) IsResponse() bool { return strings.HasPrefix(m.start, "SIP/") }

// count returns how many fields are named canon.
func (m *Message) count(canon string) int {
	n := 0
	for _, h := range m.headers {
		if h.canon == canon {
			n++
		}
	}
	return n
}

// all returns the values of the fields named canon.
func (m *Message) all(canon string) []string {
	var out []string
	for _, h := range m.headers {
		if h.canon == canon {
			out = append(out, h.value)
		}
	}
	return out
}

// First returns the value of the first field named canon ("" if none).
func (m *Message) First(canon string) string {
	for _, h := range m.headers {
		if h.canon == canon {
			return h.value
		}
	}
	return ""
}

// Method returns the request's method ("" for a response).
func (m *Message) Method() string {
	if m.IsResponse() {
		return ""
	}
	method, _, _ := strings.Cut(m.start, " ")
	return method
}

// Check checks a request's start line and the fields every
// request relies on; it tidies the fields it checks as a side effect.
func (m *Message) Check() *Error {
	if err := checkRequestLine(m.start); err != nil {
		return err
	}
	for _, name := range []string{"from", "to", "call-id", "cseq"} {
		switch n := m.count(name); {
		case n == 0:
			return BadRequest("missing " + name)
		case n > 1:
			return BadRequest("more than one " + name)
		}
	}
	if m.count("via") == 0 {
		return BadRequest("missing via")
	}
	for _, name := range []string{"max-forwards", "content-type", "date", "expires"} {
		if m.count(name) > 1 {
			return BadRequest("more than one " + name)
		}
	}
	for i := range m.headers {
		h := &m.headers[i]
		var err *Error
		switch h.canon {
		case "via":
			h.value = m.tidy(h.value)
			err = checkVia(h.value)
		case "from", "to":
			h.value = m.tidy(h.value)
			err = checkAddress(h.canon, h.value)
		case "contact", "route", "record-route":
			h.value = m.tidy(h.value)
			err = checkAddresses(h.canon, h.value)
		case "cseq":
			h.value = m.tidy(h.value)
			err = checkCSeq(h.value, m.Method())
		case "max-forwards":
			if n, e := strconv.Atoi(h.value); e != nil || n < 0 || n > 255 || h.value[0] == '+' {
				err = BadRequest("bad max-forwards")
			}
		case "date":
			if t, e := time.Parse(time.RFC1123, h.value); e != nil || !strings.HasSuffix(h.value, " GMT") || t.IsZero() {
				err = BadRequest("bad date")
			}
		case "call-id":
			if h.value == "" {
				err = BadRequest("empty call-id")
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkRequestLine checks "Method SP Request-URI SP SIP-Version": single
// spaces (RFC 4475 3.1.2.8-10), a version this switch speaks (505
// otherwise, 3.1.2.16), and a Request-URI of a scheme it serves (416
// otherwise, 3.3.2-3), not in angle brackets (3.1.2.7) and without
// headers (3.1.2.11).
func checkRequestLine(line string) *Error {
	parts := strings.Split(line, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return BadRequest("request line is not method, URI and version separated by single spaces")
	}
	if !IsToken(parts[0]) {
		return BadRequest("bad method")
	}
	version := parts[2]
	major, minor, ok := strings.Cut(strings.TrimPrefix(strings.ToUpper(version), "SIP/"), ".")
	if !strings.HasPrefix(strings.ToUpper(version), "SIP/") || !ok || !IsDigits(major) || !IsDigits(minor) {
		return BadRequest("bad SIP version")
	}
	if strings.ToUpper(version) != "SIP/2.0" {
		return &Error{Code: 505, Reason: "Version Not Supported"}
	}
	uri := parts[1]
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || !isScheme(scheme) {
		return BadRequest("bad Request-URI")
	}
	switch strings.ToLower(scheme) {
	case "sip", "sips":
	case "tel":
		return nil
	default:
		return &Error{Code: 416, Reason: "Unsupported URI Scheme"}
	}
	host := rest[strings.LastIndexByte(rest, '@')+1:]
	if host == "" || strings.ContainsAny(host, "?<>\"") {
		return BadRequest("Request-URI with headers or no host")
	}
	return nil
}

// checkCSeq checks "number method": a number below 2**31 (RFC 3261 8.1.1.5)
// and the request's own method (RFC 4475 3.1.2.17-18).
func checkCSeq(v, method string) *Error {
	num, m, ok := strings.Cut(v, " ")
	if !ok || !IsDigits(num) || len(num) > 10 {
		return BadRequest("bad cseq")
	}
	if n, err := strconv.ParseUint(num, 10, 64); err != nil || n >= 1<<31 {
		return BadRequest("cseq number too large")
	}
	if strings.TrimSpace(m) != method {
		return BadRequest("cseq method is not the request's")
	}
	return nil
}

// checkVia checks each via-parm: "SIP/2.0/transport sent-by *(;param)"
// with named parameters (RFC 4475 3.1.2.1).
func checkVia(v string) *Error {
	var err *Error
	eachOutside(v, ',', func(part string) bool {
		proto, rest, ok := strings.Cut(part, " ")
		name, version, _ := strings.Cut(proto, "/")
		version, transport, ok2 := strings.Cut(version, "/")
		if !ok || !ok2 || strings.IndexByte(transport, '/') >= 0 || !strings.EqualFold(name, "SIP") || version == "" || !IsToken(transport) {
			err = BadRequest("bad via")
			return false
		}
		sentBy, params, _ := strings.Cut(rest, ";")
		if sentBy == "" || strings.ContainsAny(sentBy, " \t") {
			err = BadRequest("bad via sent-by")
			return false
		}
		err = checkParams(params)
		return err == nil
	})
	return err
}

// checkAddresses checks a field that may hold several addresses
// (Contact, Route): "*" or name-addrs separated by commas.
func checkAddresses(name, v string) *Error {
	if name == "contact" && v == "*" {
		return nil
	}
	var err *Error
	eachOutside(v, ',', func(part string) bool {
		err = checkAddress(name, part)
		return err == nil
	})
	return err
}

// checkAddress checks one name-addr or addr-spec with parameters:
// balanced quotes (RFC 4475 3.1.2.6), a display name of tokens unless
// quoted (3.1.2.15), no whitespace inside the angle brackets (3.1.2.14),
// and an addr-spec that needs no brackets (no '?' or ',', 3.1.2.13).
func checkAddress(name, v string) *Error {
	if !wellFormedAddress(v) {
		return BadRequest("bad " + name)
	}
	return nil
}

// wellFormedAddress is checkAddress's test.
func wellFormedAddress(v string) bool {
	if v == "" {
		return false
	}
	var params string
	switch {
	case v[0] == '"' || strings.IndexByte(v, '<') >= 0:
		display, rest := "", v
		if v[0] == '"' {
			end := closingQuote(v)
			if end < 0 {
				return false
			}
			rest = strings.TrimLeft(v[end+1:], " \t")
		} else {
			lt := strings.IndexByte(v, '<')
			display, rest = strings.TrimSpace(v[:lt]), v[lt:]
			for _, word := range strings.Fields(display) {
				if !IsToken(word) {
					return false
				}
			}
		}
		if rest == "" || rest[0] != '<' {
			return false
		}
		gt := strings.IndexByte(rest, '>')
		if gt < 0 {
			return false
		}
		if addr := rest[1:gt]; strings.ContainsAny(addr, " \t") || !validURI(addr) {
			return false
		}
		params = strings.TrimLeft(rest[gt+1:], " \t")
		if params != "" && params[0] != ';' {
			return false
		}
		if params != "" {
			params = params[1:]
		}
	default:
		addr, p, _ := strings.Cut(v, ";")
		if strings.ContainsAny(addr, " \t,?\"") || !validURI(addr) {
			return false
		}
		params = p
	}
	return checkParams(params) == nil
}

// validURI checks what every URI the switch reads has: a scheme and
// something after it, and for SIP URIs a host.
func validURI(uri string) bool {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || !isScheme(scheme) || rest == "" {
		return false
	}
	if !strings.EqualFold(scheme, "sip") && !strings.EqualFold(scheme, "sips") {
		return true
	}
	host := rest[strings.LastIndexByte(rest, '@')+1:]
	if i := strings.IndexAny(host, ";?"); i >= 0 {
		host = host[:i]
	}
	return host != "" && host[0] != ':'
}

// checkParams checks ";"-separated parameters (without the first ";"):
// each has a name.
func checkParams(params string) *Error {
	if params == "" {
		return nil
	}
	ok := true
	eachOutside(params, ';', func(p string) bool {
		name, _, _ := strings.Cut(p, "=")
		ok = IsToken(strings.TrimSpace(name))
		return ok
	})
	if !ok {
		return BadRequest("parameter without a name")
	}
	return nil
}

// closingQuote returns the index of the quote closing the quoted string
// that starts v, or -1.
func closingQuote(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// walk calls fn with the index of each byte of v and whether it is
// outside quoted strings (with their escapes) and angle brackets; quotes
// and brackets themselves are inside.
func walk(v string, fn func(i int, outside bool)) {
	quoted, depth := false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\' && i+1 < len(v):
			fn(i, false)
			i++
			fn(i, false)
		case c == '"':
			quoted = !quoted
			fn(i, false)
		case quoted:
			fn(i, false)
		case c == '<':
			depth++
			fn(i, false)
		case c == '>':
			depth--
			fn(i, false)
		default:
			fn(i, depth == 0)
		}
	}
}

// SplitOutside splits v at sep where it is outside quoted strings and
// angle brackets.
func SplitOutside(v string, sep byte) []string {
	var out []string
	start := 0
	walk(v, func(i int, outside bool) {
		if outside && v[i] == sep {
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	})
	return append(out, strings.TrimSpace(v[start:]))
}

// eachOutside calls fn with each part of v that SplitOutside would
// return, in order, until fn returns false. The wire check runs on every
// message: this does not allocate.
func eachOutside(v string, sep byte, fn func(part string) bool) {
	start, stop := 0, false
	walk(v, func(i int, outside bool) {
		if !stop && outside && v[i] == sep {
			stop = !fn(strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	})
	if !stop {
		fn(strings.TrimSpace(v[start:]))
	}
}

// tidy removes the linear white space around the separators of a
// structured field (";", "=", "/", ",") and shortens other runs of it to
// one space, outside quoted strings and angle brackets: the same field to
// RFC 3261 (7.3.1, 25.1), in the form sipgo parses.
func (m *Message) tidy(v string) string {
	if !untidy(v) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	space := false
	sep := func(c byte) bool { return c == ';' || c == '=' || c == '/' || c == ',' }
	walk(v, func(i int, outside bool) {
		c := v[i]
		if outside && (c == ' ' || c == '\t') {
			space = true
			return
		}
		if space {
			space = false
			if b.Len() > 0 && !sep(c) && !sep(b.String()[b.Len()-1]) {
				b.WriteByte(' ')
			}
		}
		b.WriteByte(c)
	})
	out := b.String()
	if out != v {
		m.changed = true
	}
	return out
}

// untidy reports whether tidy could change v: it has tabs, runs of
// spaces, or spaces next to a separator (inside quotes too: a false alarm
// costs only a tidy).
func untidy(v string) bool {
	sep := func(c byte) bool { return c == ';' || c == '=' || c == '/' || c == ',' || c == ' ' }
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\t':
			return true
		case ' ':
			if i+1 < len(v) && sep(v[i+1]) || i > 0 && sep(v[i-1]) {
				return true
			}
		}
	}
	return false
}

// Bytes renders the message again: unfolded, tidied, without what
// followed it in the datagram.
func (m *Message) Bytes() []byte {
	// Sized at once: the read loop renders every UDP request (symmetric
	// adds to its Via), and growing the buffer step by step made a good
	// part of the garbage per message.
	n := len(m.start) + 4 + len(m.body)
	for _, h := range m.headers {
		n += len(h.name) + len(h.value) + 4
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteString(m.start)
	b.WriteString("\r\n")
	for _, h := range m.headers {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(h.value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(m.body)
	return b.Bytes()
}

// statelessTag starts the To tag of every answer Reply makes up. No other
// tag the switch gives has a '.' (sipgo's are letters and digits, or a
// UUID), so an ACK whose To tag starts with it acknowledges one of these
// answers, for which nothing is left to do (AcksReply).
const statelessTag = "sl."

// Reply renders a response to the request m, statelessly (RFC 3261
// 8.2.6): its Vias, From, To (with a tag), Call-ID and CSeq, as far as
// they are there. It returns nil when m has no Via: nobody could match an
// answer to a request.
//
// It is the whole cost of a call refused under overload besides Split and
// Check, so it builds the answer in one buffer sized at once.
func (m *Message) Reply(code int, reason string, extra ...string) []byte {
	via := m.First("via")
	if via == "" && m.count("via") == 0 {
		return nil
	}
	first := via
	if i := strings.IndexByte(via, ','); i >= 0 {
		first = SplitOutside(via, ',')[0]
	}
	proto, sentBy, _ := strings.Cut(strings.TrimSpace(first), " ")
	if len(proto) < 4 || !strings.EqualFold(proto[:4], "SIP/") || strings.TrimSpace(sentBy) == "" {
		return nil // no address to answer at that the sender would recognise
	}
	n := len("SIP/2.0 000 \r\n") + len(reason) + len("Content-Length: 0\r\n\r\n") + len(";tag=") + len(statelessTag) + 13
	for _, h := range m.headers {
		n += len(h.name) + len(h.value) + 4
	}
	for _, e := range extra {
		n += len(e) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, "SIP/2.0 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\n"...)
	var seen [4]bool // from, to, call-id, cseq: fields that must be single are copied once
	for _, h := range m.headers {
		i := -1
		switch h.canon {
		case "via":
		case "from":
			i = 0
		case "to":
			i = 1
		case "call-id":
			i = 2
		case "cseq":
			i = 3
		default:
			continue
		}
		if i >= 0 {
			if seen[i] {
				continue
			}
			seen[i] = true
		}
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
		if h.canon == "to" && !containsFold(h.value, ";tag=") {
			b = append(b, ";tag="+statelessTag...)
			b = append(b, sip.GenerateTagN(13)...)
		}
		b = append(b, "\r\n"...)
	}
	for _, e := range extra {
		b = append(b, e...)
		b = append(b, "\r\n"...)
	}
	return append(b, "Content-Length: 0\r\n\r\n"...)
}

// AcksReply reports whether m is the ACK of an answer Reply made up (RFC
// 3261 17.1.1.3: its To is the answer's): there is no transaction or call
// to give it to, so the switch drops it on sight.
func (m *Message) AcksReply() bool {
	if m.Method() != "ACK" {
		return false
	}
	to := m.First("to")
	return strings.Contains(to[max(0, strings.LastIndexByte(to, '>')):], ";tag="+statelessTag)
}

// containsFold reports whether s contains sub, ASCII case-insensitively,
// without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// HasTag reports whether a To or From value has a tag parameter.
func HasTag(v string) bool {
	_, params, _ := strings.Cut(v[max(0, strings.LastIndexByte(v, '>')):], ";")
	return HasParam(params, "tag")
}

// ViaBranch returns the branch of the first via-parm of a Via value. The
// shedder asks it of every new INVITE, so it does not allocate.
func ViaBranch(v string) string {
	end := -1
	walk(v, func(i int, outside bool) {
		if end < 0 && outside && v[i] == ',' {
			end = i
		}
	})
	if end >= 0 {
		v = v[:end]
	}
	_, params, _ := strings.Cut(v, ";")
	branch := ""
	start, found := 0, false
	param := func(p string) {
		if name, value, ok := strings.Cut(p, "="); ok && !found && strings.EqualFold(strings.TrimSpace(name), "branch") {
			branch, found = strings.TrimSpace(value), true
		}
	}
	walk(params, func(i int, outside bool) {
		if outside && params[i] == ';' {
			param(params[start:i])
			start = i + 1
		}
	})
	param(params[start:])
	return branch
}

// IsToken reports whether s is a token of RFC 3261 25.1.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isScheme reports whether s is a URI scheme: ALPHA *(ALPHA / DIGIT / "+"
// / "-" / ".").
func isScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// IsDigits reports whether s is one or more ASCII digits.
func IsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
