package pbx

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"branchline/telephony"
)

// digestAuth issues and checks RFC 2617 digest challenges (MD5, qop=auth)
// with stateless nonces: a nonce is its issue time and an HMAC of it, so
// the node keeps no per-challenge state that a flood of REGISTERs could
// grow, and a nonce expires after nonceTTL.
type digestAuth struct {
	key []byte
	now func() time.Time
}

const nonceTTL = 5 * time.Minute

func newDigestAuth(now func() time.Time) *digestAuth {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand: " + err.Error()) // cannot happen on supported platforms
	}
	return &digestAuth{key: k, now: now}
}

func (a *digestAuth) mac(ts string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

func (a *digestAuth) nonce() string {
	ts := strconv.FormatInt(a.now().Unix(), 16)
	return ts + "." + a.mac(ts)
}

// nonceOK reports whether n is a nonce this node issued (valid) and
// whether it is still fresh.
func (a *digestAuth) nonceOK(n string) (valid, fresh bool) {
	ts, mac, ok := strings.Cut(n, ".")
	if !ok || len(ts) > 16 || !hmac.Equal([]byte(mac), []byte(a.mac(ts))) {
		return false, false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false, false
	}
	age := a.now().Sub(time.Unix(sec, 0))
	return true, age >= -time.Minute && age <= nonceTTL
}

// challenge returns the value of a WWW-Authenticate (or
// Proxy-Authenticate) header.
func (a *digestAuth) challenge(stale bool) string {
	s := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, telephony.Realm, a.nonce())
	if stale {
		s += ", stale=true"
	}
	return s
}

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authNone  authResult = iota // no credentials: challenge
	authStale                   // a valid but expired nonce: challenge with stale=true
	authBad                     // wrong user, realm, nonce or response: refuse
	authOK
)

// credentials returns the digest credentials of req, if any.
func credentials(req *sip.Request) (*digest.Credentials, bool) {
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		h := req.GetHeader(name)
		if h == nil {
			continue
		}
		v := h.Value()
		if len(v) > maxHeaderVal {
			return nil, false
		}
		c, err := digest.ParseCredentials(v)
		if err != nil {
			return nil, false
		}
		return c, true
	}
	return nil, false
}

// check verifies credentials c for req against ha1, the secret of user.
func (a *digestAuth) check(req *sip.Request, c *digest.Credentials, user, ha1 string) authResult {
	if c == nil {
		return authNone
	}
	if c.Username != user || c.Realm != telephony.Realm || ha1 == "" {
		return authBad
	}
	if alg := strings.ToUpper(c.Algorithm); alg != "" && alg != "MD5" {
		return authBad
	}
	valid, fresh := a.nonceOK(c.Nonce)
	if !valid {
		return authBad
	}
	ha2 := md5hex(string(req.Method) + ":" + c.URI)
	var want string
	switch c.QOP {
	case "":
		want = md5hex(ha1 + ":" + c.Nonce + ":" + ha2)
	case "auth":
		want = md5hex(fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, c.Nonce, c.Nc, c.Cnonce, ha2))
	default:
		return authBad
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) != 1 {
		return authBad
	}
	if !fresh {
		return authStale
	}
	return authOK
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
