package sipauth

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
)

// Digest issues and checks RFC 2617 digest challenges (MD5, qop=auth).
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
type Digest struct {
	realm string
	key   []byte
	now   func() time.Time

	mu   sync.Mutex
	used map[string]*nonceUse
}

// nonceUse is what the node remembers of a nonce that was used.
type nonceUse struct {
	nc      int       // highest nonce count accepted; 0 for a request without qop
	expires time.Time // when the nonce stops being fresh; forgotten then
}

const (
	// maxCredentials bounds an Authorization value the parser is given
	// (the switch's bound on any header value it reads).
	maxCredentials = 1024

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

// NewDigest returns a Digest that challenges for realm, with a key of its
// own: the nonces of another Digest (another node, or this one before a
// restart) are stale to it.
func NewDigest(realm string, now func() time.Time) *Digest {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand: " + err.Error()) // cannot happen on supported platforms
	}
	return &Digest{realm: realm, key: k, now: now, used: map[string]*nonceUse{}}
}

func (a *Digest) mac(ts, salt string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(ts + "." + salt))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// nonce returns a new nonce: its issue time, a random salt (two
// challenges in one second must differ, or the second phone's first
// request would look like a replay of the first's) and their HMAC.
func (a *Digest) nonce() string {
	ts := strconv.FormatInt(a.now().Unix(), 16)
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	salt := hex.EncodeToString(b)
	return ts + "." + salt + "." + a.mac(ts, salt)
}

// nonceIssued returns when this node issued nonce n; ok is false when n is
// not one of its nonces.
func (a *Digest) nonceIssued(n string) (time.Time, bool) {
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

// Challenge returns the value of a WWW-Authenticate (or
// Proxy-Authenticate) header.
func (a *Digest) Challenge(stale bool) string {
	s := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, a.realm, a.nonce())
	if stale {
		s += ", stale=true"
	}
	return s
}

// Result is the outcome of checking a request's credentials.
type Result int

// The outcomes of Check.
const (
	NoCredentials Result = iota // no credentials: challenge
	Stale                       // right digest, but an expired, unknown or used nonce: challenge with stale=true
	Bad                         // wrong user, realm or response: refuse
	OK                          // right digest, fresh nonce: accept
)

// Credentials returns the digest credentials of req, if any.
func Credentials(req *sip.Request) (*digest.Credentials, bool) {
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		h := req.GetHeader(name)
		if h == nil {
			continue
		}
		v := h.Value()
		if len(v) > maxCredentials {
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

// Check verifies credentials c for req against ha1, the secret of user,
// and records the use of the nonce when the digest is right.
func (a *Digest) Check(req *sip.Request, c *digest.Credentials, user, ha1 string) Result {
	if c == nil {
		return NoCredentials
	}
	if c.Username != user || c.Realm != a.realm || ha1 == "" {
		return Bad
	}
	if alg := strings.ToUpper(c.Algorithm); alg != "" && alg != "MD5" {
		return Bad
	}
	if c.QOP != "" && (c.QOP != "auth" || c.Nc <= 0) {
		return Bad
	}
	want := Response(ha1, c.Nonce, string(req.Method), c.URI, c.QOP, c.Nc, c.Cnonce)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) != 1 {
		return Bad
	}
	// The caller knows the secret, or replays a request of someone who
	// does: from here on the answer is a fresh challenge, never a refusal.
	issued, ours := a.nonceIssued(c.Nonce)
	if !ours {
		return Stale
	}
	now := a.now()
	if age := now.Sub(issued); age < -nonceSkew || age > nonceTTL {
		return Stale
	}
	if !a.use(c.Nonce, c.QOP, c.Nc, issued.Add(nonceTTL), now) {
		return Stale
	}
	return OK
}

// use records a use of nonce with count nc and reports whether it is new:
// a nonce without qop is good once, one with qop for each higher nc.
func (a *Digest) use(nonce, qop string, nc int, expires, now time.Time) bool {
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

// Sweep forgets the nonces that expired: a request carrying one is stale
// by its time alone.
func (a *Digest) Sweep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweepLocked(a.now())
}

func (a *Digest) sweepLocked(now time.Time) {
	for n, u := range a.used {
		if now.After(u.expires) {
			delete(a.used, n)
		}
	}
}

// Response is the digest response (RFC 2617 3.2.2.1) of a request with
// method and uri, for the user whose secret is ha1, to nonce: with qop
// "auth", the nonce count nc and client nonce cnonce count; with qop ""
// they are not used.
func Response(ha1, nonce, method, uri, qop string, nc int, cnonce string) string {
	ha2 := md5hex(method + ":" + uri)
	if qop == "" {
		return md5hex(ha1 + ":" + nonce + ":" + ha2)
	}
	return md5hex(fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2))
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
