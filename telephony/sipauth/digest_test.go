package sipauth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"branchline/telephony"
)

// digestAnswer computes the Authorization value (qop=auth) answering
// challenge, a WWW-Authenticate value, for user with password.
func digestAnswer(t *testing.T, challenge, method, uri, user, password string, nc int, cnonce string) string {
	t.Helper()
	c, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	resp := Response(telephony.HA1(user, password), c.Nonce, method, uri, "auth", nc, cnonce)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5, qop=auth, nc=%08x, cnonce="%s"`,
		user, c.Realm, c.Nonce, uri, resp, nc, cnonce)
}

// TestNonceExpiry: a right digest with a nonce older than its lifetime,
// or one this node did not issue (made before a restart), is stale, not
// wrong; a wrong digest is wrong whatever its nonce.
func TestNonceExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := NewDigest(telephony.Realm, func() time.Time { return now })
	ha1 := telephony.HA1("8001", "secret1")
	check := func(ch, password string, nc int) Result {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		req.AppendHeader(sip.NewHeader("Authorization", digestAnswer(t, ch, "REGISTER", "sip:127.0.0.1", "8001", password, nc, "c")))
		c, ok := Credentials(req)
		if !ok {
			t.Fatal("credentials do not parse")
		}
		return a.Check(req, c, "8001", ha1)
	}
	ch := a.Challenge(false)
	if r := check(ch, "secret1", 1); r != OK {
		t.Fatalf("fresh nonce: %v", r)
	}
	now = now.Add(nonceTTL + time.Second)
	if r := check(ch, "secret1", 2); r != Stale {
		t.Fatalf("expired nonce: %v, want stale", r)
	}
	if r := check(ch, "wrong", 3); r != Bad {
		t.Fatalf("expired nonce, wrong password: %v, want bad", r)
	}
	restarted := NewDigest(telephony.Realm, func() time.Time { return now })
	ch = restarted.Challenge(false)
	if r := check(ch, "secret1", 1); r != Stale {
		t.Fatalf("another node's nonce: %v, want stale", r)
	}
	// Expired nonces are forgotten, so the memory of used ones stays bounded.
	ch = a.Challenge(false)
	if r := check(ch, "secret1", 1); r != OK {
		t.Fatalf("new nonce: %v", r)
	}
	now = now.Add(nonceTTL + time.Second)
	a.Sweep()
	if n := len(a.used); n != 0 {
		t.Fatalf("%d used nonces remembered after they expired", n)
	}
}

// FuzzCredentials: digest credentials of any shape are refused or
// accepted, never a panic; only the right response is accepted.
func FuzzCredentials(f *testing.F) {
	f.Add(`Digest username="8001", realm="branchline", nonce="1.2", uri="sip:x", response="0", qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`Digest username=8001`)
	f.Add(`Basic abc`)
	f.Add(`Digest realm="branchline", nonce="` + strings.Repeat("a", 2000) + `"`)
	a := NewDigest(telephony.Realm, time.Now)
	f.Fuzz(func(t *testing.T, v string) {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		req.AppendHeader(sip.NewHeader("Authorization", v))
		c, ok := Credentials(req)
		if !ok {
			return
		}
		if a.Check(req, c, "8001", telephony.HA1("8001", "secret1")) == OK {
			t.Fatalf("accepted forged credentials %q", v)
		}
	})
}
