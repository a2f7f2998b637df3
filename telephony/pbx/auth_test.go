package pbx

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"branchline/telephony/sipauth"
)

// replay returns a captured request with a new Call-ID, Via (the
// attacker's address, a new branch) and Contact port: what an attacker
// who sniffed it would send to bind the extension to their own phone. The
// Authorization is left as captured.
func replay(t *testing.T, captured []byte, from *rawUA, contactPort int) ([]byte, string) {
	t.Helper()
	callID := newCallID()
	s := string(captured)
	s = regexp.MustCompile(`Via: SIP/2.0/UDP [0-9.:]+;`).ReplaceAllString(s, "Via: SIP/2.0/UDP "+from.addr()+";")
	s = regexp.MustCompile(`(?m)^Call-ID: .*\r$`).ReplaceAllString(s, "Call-ID: "+callID+"\r")
	s = regexp.MustCompile(`branch=z9hG4bK[0-9a-f]+`).ReplaceAllString(s, "branch=z9hG4bK"+newCallID())
	s = regexp.MustCompile(`(Contact: <sip:[0-9]+@127\.0\.0\.1:)[0-9]+>`).ReplaceAllString(s, "${1}"+strconv.Itoa(contactPort)+">")
	if !strings.Contains(s, callID) || !strings.Contains(s, ":"+strconv.Itoa(contactPort)+">") {
		t.Fatalf("could not rewrite the captured request:\n%s", captured)
	}
	return []byte(s), callID
}

// staleChallenge fails unless res is a 401 whose challenge says stale=true.
func staleChallenge(t *testing.T, what string, res *sip.Response) string {
	t.Helper()
	if res.StatusCode != 401 {
		t.Fatalf("%s: %d %s, want 401 with stale=true", what, res.StatusCode, res.Reason)
	}
	ch := res.GetHeader("WWW-Authenticate").Value()
	if !strings.Contains(ch, "stale=true") {
		t.Fatalf("%s: challenge %q has no stale=true", what, ch)
	}
	return ch
}

// TestDigestReplay: a REGISTER's Authorization captured on the LAN and
// sent again with another Call-ID and Contact is refused with a fresh
// challenge (stale=true), for a registration and an un-registration; the
// binding stays as the phone made it. A phone that reuses its nonce with a
// higher nonce count, and one without qop that answers the stale
// challenge, still register.
func TestDigestReplay(t *testing.T) {
	h := newHarness(t)
	h.extension("8001")
	phone := newRawUA(t, h.srv.UDPAddr())
	attacker := newRawUA(t, h.srv.UDPAddr())
	reg := registration{ext: "8001", password: extPassword("8001"), expires: 60}

	res, captured := phone.register(reg)
	if res.StatusCode != 200 {
		t.Fatalf("phone's REGISTER: %d %s", res.StatusCode, res.Reason)
	}
	forged, callID := replay(t, captured, attacker, attacker.port())
	attacker.send(forged)
	staleChallenge(t, "replayed REGISTER", attacker.final(callID))
	bs := h.srv.Registrations()["8001"]
	if len(bs) != 1 || bs[0].URI.Port != phone.port() {
		t.Fatalf("bindings after a replayed REGISTER = %+v, want only the phone's", bs)
	}

	// The phone un-registers; the attacker replays that too, after the
	// phone registered again, to knock it off.
	unreg := reg
	unreg.expires = 0
	res, capturedUnreg := phone.register(unreg)
	if res.StatusCode != 200 || len(h.srv.Registrations()["8001"]) != 0 {
		t.Fatalf("un-register: %d, bindings %+v", res.StatusCode, h.srv.Registrations()["8001"])
	}
	if res, _ := phone.register(reg); res.StatusCode != 200 {
		t.Fatalf("register again: %d", res.StatusCode)
	}
	forged, callID = replay(t, capturedUnreg, attacker, phone.port())
	attacker.send(forged)
	staleChallenge(t, "replayed un-register", attacker.final(callID))
	if bs := h.srv.Registrations()["8001"]; len(bs) != 1 {
		t.Fatalf("a replayed un-register removed the binding: %+v", bs)
	}

	// qop=auth: the same nonce with a higher nc is the phone's right.
	ch := phone.challenge("8001")
	if res, _ := phone.registerWith(reg, ch, 1); res.StatusCode != 200 {
		t.Fatalf("nc=1: %d", res.StatusCode)
	}
	if res, _ := phone.registerWith(reg, ch, 2); res.StatusCode != 200 {
		t.Fatalf("nc=2 on the same nonce: %d", res.StatusCode)
	}
	staleChallenge(t, "nc=2 again", func() *sip.Response { r, _ := phone.registerWith(reg, ch, 2); return r }())

	// No qop: a nonce is good once; the stale challenge gets the phone in.
	old := reg
	old.qop = "none"
	ch = phone.challenge("8001")
	if res, _ := phone.registerWith(old, ch, 0); res.StatusCode != 200 {
		t.Fatalf("REGISTER without qop: %d", res.StatusCode)
	}
	res, _ = phone.registerWith(old, ch, 0)
	fresh := staleChallenge(t, "nonce reused without qop", res)
	if res, _ := phone.registerWith(old, fresh, 0); res.StatusCode != 200 {
		t.Fatalf("REGISTER with the stale challenge's nonce: %d", res.StatusCode)
	}
}

// auditEntry is what the switch asked the audit log to record.
type auditEntry struct{ actor, action, target, detail, remote string }

// auditTo returns a harness option that keeps the switch's audit entries.
func auditTo(mu *sync.Mutex, into *[]auditEntry) harnessOpt {
	return func(c *Config) {
		c.Audit = func(_ context.Context, actor, action, target, detail, remote string) error {
			mu.Lock()
			defer mu.Unlock()
			*into = append(*into, auditEntry{actor, action, target, detail, remote})
			return nil
		}
	}
}

// counter reads a counter of the switch.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// shape is what a response tells a scanner: its status, reason and header
// names, and the challenge without its nonce.
func shape(res *sip.Response) string {
	var names []string
	for _, h := range res.Headers() {
		names = append(names, h.Name())
	}
	slices.Sort(names)
	s := fmt.Sprintf("%d %s %v", res.StatusCode, res.Reason, names)
	if h := res.GetHeader("WWW-Authenticate"); h != nil {
		s += " " + regexp.MustCompile(`nonce="[^"]*"`).ReplaceAllString(h.Value(), `nonce=…`)
	}
	return s
}

// TestBruteForceThrottled: wrong passwords for an extension from one
// address lock that pair out with growing lockouts, so that even the
// right password is refused until the lockout passes; the other
// extensions behind the same address register meanwhile, and the same
// extension from another address too. An unknown extension is answered
// exactly as a known one with a wrong password, lockout included. Each
// refusal is counted in the metric and written to the audit log.
func TestBruteForceThrottled(t *testing.T) {
	var mu sync.Mutex
	var audit []auditEntry
	h := newHarness(t, auditTo(&mu, &audit), func(c *Config) {
		c.AuthThrottle = sipauth.ThrottleConfig{Free: 3, Lockout: 500 * time.Millisecond}
	})
	h.extension("8001")
	h.extension("8002")
	ua := newRawUA(t, h.srv.UDPAddr())
	right := registration{ext: "8001", password: extPassword("8001"), expires: 60}
	wrong := registration{ext: "8001", password: "guess", expires: 60}
	unknown := registration{ext: "8999", password: "guess", expires: 60}

	// The same attack on a known and an unknown extension: four wrong
	// passwords, then a fifth attempt while locked out.
	var known, stranger []string
	for i := range 5 {
		res, _ := ua.register(wrong)
		known = append(known, shape(res))
		if res.StatusCode != 403 {
			t.Fatalf("wrong password %d: %d %s", i+1, res.StatusCode, res.Reason)
		}
		res, _ = ua.register(unknown)
		stranger = append(stranger, shape(res))
	}
	if !slices.Equal(known, stranger) {
		t.Fatalf("an unknown extension is answered otherwise than a wrong password:\nknown   %q\nunknown %q", known, stranger)
	}
	if res, _ := ua.register(right); res.StatusCode != 403 {
		t.Fatalf("right password during the lockout: %d %s, want 403", res.StatusCode, res.Reason)
	}
	if n := len(h.srv.Registrations()["8001"]); n != 0 {
		t.Fatalf("8001 registered during its lockout: %d bindings", n)
	}
	if res, _ := ua.register(registration{ext: "8002", password: extPassword("8002"), expires: 60}); res.StatusCode != 200 {
		t.Fatalf("another extension from the same address: %d %s", res.StatusCode, res.Reason)
	}
	other := newRawUAAt(t, "127.0.0.2:0", h.srv.UDPAddr())
	if res, _ := other.register(right); res.StatusCode != 200 {
		t.Fatalf("the extension from another address: %d %s", res.StatusCode, res.Reason)
	}
	eventually(t, 10*time.Second, "the lockout to pass", func() bool {
		res, _ := ua.register(right)
		return res.StatusCode == 200
	})

	wrongs := counter(t, h.srv.metrics.authFailures.WithLabelValues("wrong"))
	locked := counter(t, h.srv.metrics.authFailures.WithLabelValues("locked"))
	if wrongs != 8 || locked < 3 {
		t.Fatalf("metric: %v wrong, %v locked; want 8 and at least 3", wrongs, locked)
	}
	eventually(t, 5*time.Second, "8 audit entries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(audit) == 8
	})
	mu.Lock()
	defer mu.Unlock()
	for _, e := range audit {
		if e.action != AuditAuthFailed || (e.actor != "8001" && e.actor != "8999") || e.remote != ua.addr() ||
			e.target != "sip/"+e.actor || !strings.Contains(e.detail, "REGISTER from "+ua.addr()) {
			t.Fatalf("audit entry = %+v", e)
		}
	}
	if !slices.ContainsFunc(audit, func(e auditEntry) bool {
		return e.actor == "8001" && strings.Contains(e.detail, "failure 4, locked out for 500ms")
	}) {
		t.Fatalf("no entry says the 4th failure of 8001 locks it out: %+v", audit)
	}
}
