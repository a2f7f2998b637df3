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
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"branchline/telephony"
)

// digestAuth issues and checks RFC 2617 digest challenges (MD5, qop=auth).
//
// A nonce is its issue time, a salt and an HMAC of both, so issuing a challenge
// keeps no state: a flood of unauthenticated REGISTERs cannot grow
// memory, and a nonce expires after nonceTTL. What a stateless nonce
// cannot tell is whether a request is a replay: anyone who sniffed one
// REGISTER on the branch LAN could send its Authorization again, with
// another Contact, for the nonce's lifetime. So the nonces that came with
// a correct digest are remembered until they expire, with the highest
// nonce count seen: with qop=auth a phone may reuse a nonce with a
// higher nc (RFC 2617 3.2.2), without qop a nonce is good once. State
// grows only with correctly authenticated requests, never with strangers'.
//
// A request whose digest is right but whose nonce is expired, unknown
// (issued before a restart) or already used is answered with a fresh
// challenge with stale=true (RFC 2617 3.2.1): a phone retries with the new
// nonce without asking its user, qop or not, and a replay gets nowhere.
type digestAuth struct {
	key []byte
	now func() time.Time

	mu   sync.Mutex
	used map[string]*nonceUse
}

// nonceUse is what the node remembers of a nonce that was used.
type nonceUse struct {
	nc      int       // highest nonce count accepted; 0 for a request without qop
	expires time.Time // when the nonce stops being fresh; forgotten then
}

const (
	nonceTTL = 5 * time.Minute
	// nonceSkew is how far in the future a nonce's time may be: nodes'
	// clocks are not the issue (a node checks only its own nonces), but a
	// clock stepped back must not make every phone's nonce invalid.
	nonceSkew = time.Minute
	// maxUsedNonces bounds the remembered nonces: each costs ~100 bytes,
	// and one a phone re-registers every nonceTTL at most. When full, new
	// nonces are refused as stale (fail closed) until old ones expire.
	maxUsedNonces = 100000
)

func newDigestAuth(now func() time.Time) *digestAuth {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand: " + err.Error()) // cannot happen on supported platforms
	}
	return &digestAuth{key: k, now: now, used: map[string]*nonceUse{}}
}

func (a *digestAuth) mac(ts, salt string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(ts + "." + salt))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// nonce returns a new nonce: its issue time, a random salt (two
// challenges in one second must differ, or the second phone's first
// request would look like a replay of the first's) and their HMAC.
func (a *digestAuth) nonce() string {
	ts := strconv.FormatInt(a.now().Unix(), 16)
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	salt := hex.EncodeToString(b)
	return ts + "." + salt + "." + a.mac(ts, salt)
}

// nonceIssued returns when this node issued nonce n; ok is false when n is
// not one of its nonces.
func (a *digestAuth) nonceIssued(n string) (time.Time, bool) {
	ts, rest, ok := strings.Cut(n, ".")
	if !ok || len(ts) > 16 {
		return time.Time{}, false
	}
	salt, mac, ok := strings.Cut(rest, ".")
	if !ok || len(salt) > 16 || !hmac.Equal([]byte(mac), []byte(a.mac(ts, salt))) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0), true
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
	authStale                   // right digest, but an expired, unknown or used nonce: challenge with stale=true
	authBad                     // wrong user, realm or response: refuse
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

// check verifies credentials c for req against ha1, the secret of user,
// and records the use of the nonce when the digest is right.
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
	ha2 := md5hex(string(req.Method) + ":" + c.URI)
	var want string
	switch c.QOP {
	case "":
		want = md5hex(ha1 + ":" + c.Nonce + ":" + ha2)
	case "auth":
		if c.Nc <= 0 {
			return authBad
		}
		want = md5hex(fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, c.Nonce, c.Nc, c.Cnonce, ha2))
	default:
		return authBad
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) != 1 {
		return authBad
	}
	// The caller knows the secret, or replays a request of someone who
	// does: from here on the answer is a fresh challenge, never a refusal.
	issued, ours := a.nonceIssued(c.Nonce)
	if !ours {
		return authStale
	}
	now := a.now()
	if age := now.Sub(issued); age < -nonceSkew || age > nonceTTL {
		return authStale
	}
	if !a.use(c.Nonce, c.QOP, c.Nc, issued.Add(nonceTTL), now) {
		return authStale
	}
	return authOK
}

// use records a use of nonce with count nc and reports whether it is new:
// a nonce without qop is good once, one with qop for each higher nc.
func (a *digestAuth) use(nonce, qop string, nc int, expires, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, ok := a.used[nonce]; ok {
		if qop == "" || u.nc == 0 || nc <= u.nc {
			return false
		}
		u.nc = nc
		return true
	}
	if len(a.used) >= maxUsedNonces {
		a.sweepLocked(now)
		if len(a.used) >= maxUsedNonces {
			return false
		}
	}
	if qop == "" {
		nc = 0
	}
	a.used[nonce] = &nonceUse{nc: nc, expires: expires}
	return true
}

// sweep forgets the nonces that expired: a request carrying one is stale
// by its time alone.
func (a *digestAuth) sweep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweepLocked(a.now())
}

func (a *digestAuth) sweepLocked(now time.Time) {
	for n, u := range a.used {
		if now.After(u.expires) {
			delete(a.used, n)
		}
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
