package pbx

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/telephony"
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

// TestNonceExpiry: a right digest with a nonce older than its lifetime,
// or one this node did not issue (made before a restart), is stale, not
// wrong; a wrong digest is wrong whatever its nonce.
func TestNonceExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := newDigestAuth(func() time.Time { return now })
	ha1 := telephony.HA1("8001", "secret1")
	check := func(ch, password string, nc int) authResult {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		req.AppendHeader(sip.NewHeader("Authorization", digestAnswer(t, ch, "REGISTER", "sip:127.0.0.1", "8001", password, "auth", nc, "c")))
		c, ok := credentials(req)
		if !ok {
			t.Fatal("credentials do not parse")
		}
		return a.check(req, c, "8001", ha1)
	}
	ch := a.challenge(false)
	if r := check(ch, "secret1", 1); r != authOK {
		t.Fatalf("fresh nonce: %v", r)
	}
	now = now.Add(nonceTTL + time.Second)
	if r := check(ch, "secret1", 2); r != authStale {
		t.Fatalf("expired nonce: %v, want stale", r)
	}
	if r := check(ch, "wrong", 3); r != authBad {
		t.Fatalf("expired nonce, wrong password: %v, want bad", r)
	}
	restarted := newDigestAuth(func() time.Time { return now })
	ch = restarted.challenge(false)
	if r := check(ch, "secret1", 1); r != authStale {
		t.Fatalf("another node's nonce: %v, want stale", r)
	}
	// Expired nonces are forgotten, so the memory of used ones stays bounded.
	ch = a.challenge(false)
	if r := check(ch, "secret1", 1); r != authOK {
		t.Fatalf("new nonce: %v", r)
	}
	now = now.Add(nonceTTL + time.Second)
	a.sweep()
	if n := len(a.used); n != 0 {
		t.Fatalf("%d used nonces remembered after they expired", n)
	}
}
