package pbx

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/sipwire"
)

// fakeTx is a server transaction that keeps the responses it is given.
type fakeTx struct {
	mu        sync.Mutex
	responses []*sip.Response
	done      chan struct{}
	once      sync.Once
}

func newFakeTx() *fakeTx { return &fakeTx{done: make(chan struct{})} }

func (t *fakeTx) Terminate()                         { t.once.Do(func() { close(t.done) }) }
func (t *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (t *fakeTx) Done() <-chan struct{}              { return t.done }
func (t *fakeTx) Err() error                         { return nil }
func (t *fakeTx) Acks() <-chan *sip.Request          { return nil }
func (t *fakeTx) OnCancel(sip.FnTxCancel) bool       { return true }
func (t *fakeTx) Respond(res *sip.Response) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.responses = append(t.responses, res)
	if !res.IsProvisional() {
		t.once.Do(func() { close(t.done) })
	}
	return nil
}

var (
	fuzzOnce sync.Once
	fuzzSrv  *Server
	fuzzErr  error
)

// fuzzServer is one switch shared by a fuzz run: a trunk at 127.0.0.1, a
// queue at 4000 with nobody logged in, an extension 8001 with no phone.
// Every call it can be sent therefore ends inside its handler.
func fuzzServer(t testing.TB) *Server {
	fuzzOnce.Do(func() {
		store := newMemStore(t)
		cmds := []replication.Command{
			func(views replication.Tx) ([]replication.Draft, error) {
				srcs, _ := telephony.ParseSources([]string{"127.0.0.1"})
				d, err := telephony.SetTrunk(telephony.Trunk{Name: "carrier", Sources: srcs, Username: "gw"}, "gwpass")
				return []replication.Draft{d}, err
			},
			func(views replication.Tx) ([]replication.Draft, error) {
				d, err := telephony.SetExtension(views, telephony.Extension{Number: "8001", User: "zhang"}, "secret1")
				return []replication.Draft{d}, err
			},
			func(views replication.Tx) ([]replication.Draft, error) {
				d, err := telephony.SetQueue(views, telephony.Queue{Name: "sales", Strategy: telephony.TopDown, DIDs: []string{"4000"}})
				return []replication.Draft{d}, err
			},
		}
		for _, c := range cmds {
			if _, fuzzErr = store.Exec(t.Context(), "admin", c); fuzzErr != nil {
				return
			}
		}
		fuzzSrv, fuzzErr = Start(Config{UDPAddr: "127.0.0.1:0", Store: store,
			Log: slog.New(slog.NewTextHandler(discard{}, nil)), MinExpires: time.Second})
		if fuzzErr == nil {
			fuzzSrv.panicHook = func(p any) { panic(fmt.Sprintf("handler panicked: %v", p)) }
		}
	})
	if fuzzErr != nil {
		t.Fatal(fuzzErr)
	}
	return fuzzSrv
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// requestSeeds are valid and broken requests for the seed corpus.
var requestSeeds = []string{
	"INVITE sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1\r\nFrom: \"C\" <sip:13800000000@127.0.0.1>;tag=a\r\nTo: <sip:4000@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:1@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\nContent-Length: 37\r\n\r\nv=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n",
	"INVITE sip:8001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK2\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:8001@127.0.0.1>\r\nCall-ID: c2\r\nCSeq: 1 INVITE\r\nContact: <sip:1@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n",
	"INVITE sip:9999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK3\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:9999@127.0.0.1>;tag=b\r\nCall-ID: c3\r\nCSeq: 2 INVITE\r\nContact: <sip:1@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK4\r\nFrom: <sip:8001@127.0.0.1>;tag=a\r\nTo: <sip:8001@127.0.0.1>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:8001@127.0.0.1:5999>;expires=60, \"x,y\" <sip:8001@10.0.0.1>\r\nAuthorization: Digest username=\"8001\", realm=\"branchline\", nonce=\"1.2\", uri=\"sip:127.0.0.1\", response=\"00\", qop=auth, nc=00000001, cnonce=\"x\"\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK5\r\nFrom: <sip:8001@127.0.0.1>;tag=a\r\nTo: <sip:8001@127.0.0.1>\r\nCall-ID: r2\r\nCSeq: 1 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n",
	"BYE sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK6\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:2@127.0.0.1>;tag=b\r\nCall-ID: b1\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n",
	"ACK sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK7\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:2@127.0.0.1>;tag=b\r\nCall-ID: b1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
	"MESSAGE sip:8001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK8\r\nFrom: <sip:8001@127.0.0.1>;tag=a\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: m1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
	"REFER sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK9\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:2@127.0.0.1>;tag=b\r\nCall-ID: f1\r\nCSeq: 2 REFER\r\nRefer-To: <sip:8002@127.0.0.1>\r\nContent-Length: 0\r\n\r\n",
	"OPTIONS sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK10\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:2@127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n",
	"INFO sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK11\r\nFrom: <sip:1@127.0.0.1>\r\nTo: <<<>>\r\nCall-ID: \r\nCSeq: x INFO\r\n\r\n",
	"CANCEL sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK12\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:4000@127.0.0.1>\r\nCall-ID: x1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
	"INVITE sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK13\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:4000@127.0.0.1>\r\nCall-ID: p1\r\nCSeq: 1 INVITE\r\nContact: <sip:1@127.0.0.1:5999>\r\nRequire: 100rel\r\nContent-Length: 0\r\n\r\n",
	"PRACK sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK14\r\nFrom: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:4000@127.0.0.1>;tag=b\r\nCall-ID: p1\r\nCSeq: 2 PRACK\r\nRAck: 1 1 INVITE\r\nContent-Length: 0\r\n\r\n",
}

// FuzzRequest feeds any bytes that parse as a SIP request to the switch's
// handlers, as if they came from the trunk's address: none may panic, and
// every call and dialog they open must be gone when they return.
func FuzzRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, fromTrunk bool) {
		s := fuzzServer(t)
		msg, err := sip.NewParser().ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		src := "127.0.0.1:5999"
		if !fromTrunk {
			src = "192.0.2.9:5999"
		}
		req.SetSource(src)
		req.SetTransport("UDP")
		h, ok := s.handlers[req.Method]
		if !ok {
			return
		}
		tx := newFakeTx()
		h(req, tx)
		deadline := time.Now().Add(2 * time.Second)
		for s.ActiveCalls() != 0 || s.ActiveDialogs() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("after %q: %d calls, %d dialogs left", data, s.ActiveCalls(), s.ActiveDialogs())
			}
			time.Sleep(time.Millisecond)
		}
		tx.mu.Lock()
		defer tx.mu.Unlock()
		for _, r := range tx.responses {
			if r.StatusCode < 100 || r.StatusCode > 699 {
				t.Fatalf("bad status %d", r.StatusCode)
			}
			// A response must not carry what the request smuggled in.
			if strings.ContainsAny(r.Reason, "\r\n") {
				t.Fatalf("reason with a line break: %q", r.Reason)
			}
		}
	})
}

// FuzzContacts: splitting and parsing Contact values never panics.
func FuzzContacts(f *testing.F) {
	f.Add(`<sip:8001@1.2.3.4:5060>;expires=60, "a,b" <sip:8001@5.6.7.8;transport=tcp>`)
	f.Add(`*`)
	f.Add(`"unterminated <sip:x>, <`)
	f.Fuzz(func(t *testing.T, v string) {
		for _, c := range splitContacts(v) {
			var uri sip.Uri
			params := sip.NewParams()
			_, _ = sip.ParseAddressValue(c, &uri, &params)
		}
	})
}

// FuzzWire: the wire check never panics; what it passes on as a request
// sipgo parses (else the sender would get silence), and what it answers
// is a response sipgo can parse, to a request it did not pass on.
func FuzzWire(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	files, _ := filepath.Glob("testdata/rfc4475/*.dat")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	s := &Server{metrics: newMetrics(), shed: newShedder(Overload{}), now: time.Now, cfg: Config{MaxCalls: 2000}}
	s.acd = newACD(s)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 9), Port: 5999}
	f.Fuzz(func(t *testing.T, data []byte, stream bool) {
		msg, pass, reply := s.inspect(data, from, stream)
		if pass != nil && reply != nil {
			t.Fatalf("both passed on and answered: %q", data)
		}
		if !stream && (msg == nil) != (pass == nil) {
			t.Fatalf("a datagram passed on without its parse, or parsed and not passed on: %q", data)
		}
		if pass != nil && !bytes.HasPrefix(pass, []byte("SIP/")) { // responses sipgo cannot parse are dropped, rightly
			msg, err := sip.NewParser().ParseSIP(pass)
			if err != nil {
				t.Fatalf("passed on what sipgo does not parse (%v):\n%q\nfrom\n%q", err, pass, data)
			}
			if _, ok := msg.(*sip.Request); ok && len(pass) > 0 {
				if m, err := sipwire.Split(pass, stream); err != nil || m.Check() != nil {
					t.Fatalf("what was passed on does not pass again: %q", pass)
				}
			}
		}
		if reply != nil {
			// It may not parse when it copies the request's malformed Via
			// (RFC 3261 8.2.6.2), but it has one.
			if _, err := sip.NewParser().ParseSIP(reply); err != nil && !regexp.MustCompile(`(?im)^(via|v): SIP/`).Match(reply) {
				t.Fatalf("answered what does not parse (%v): %q", err, reply)
			}
		}
	})
}
