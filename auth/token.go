package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Principal is who a verified token stands for.
type Principal struct {
	User  string   `json:"u"`
	Roles []string `json:"r,omitempty"`
}

// HasRole reports whether the principal holds role.
func (p *Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// RoleAdmin may do everything.
const RoleAdmin = "admin"

// ErrBadToken is returned for tokens that are malformed, forged or expired.
var ErrBadToken = errors.New("invalid or expired token")

// Signer issues and verifies bearer tokens: "bl1.<claims>.<HMAC-SHA256>",
// so a replica verifies a token without a store lookup. The key never
// leaves the replica (node) or the cluster (hub).
type Signer struct {
	key []byte
}

// NewSigner returns a signer with a 32-byte or longer key.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("token key must have at least 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// NewKey returns a random signing key.
func NewKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k
}

type claims struct {
	Principal
	Exp int64  `json:"e"`
	ID  string `json:"i"`
}

const tokenPrefix = "bl1."

var b64 = base64.RawURLEncoding

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(tokenPrefix + payload))
	return m.Sum(nil)
}

// Issue returns a token for p valid until now+ttl.
func (s *Signer) Issue(p Principal, now time.Time, ttl time.Duration) (string, time.Time) {
	exp := now.Add(ttl).Truncate(time.Second)
	id := make([]byte, 12)
	_, _ = rand.Read(id) // never fails (crypto/rand panics instead)
	c := claims{Principal: p, Exp: exp.Unix(), ID: b64.EncodeToString(id)}
	js, _ := json.Marshal(c) // plain struct: cannot fail
	payload := b64.EncodeToString(js)
	return tokenPrefix + payload + "." + b64.EncodeToString(s.mac(payload)), exp
}

// Verify checks a token and returns its principal.
func (s *Signer) Verify(token string, now time.Time) (*Principal, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(token) > 4096 {
		return nil, ErrBadToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, ErrBadToken
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return nil, ErrBadToken
	}
	js, err := b64.DecodeString(payload)
	if err != nil {
		return nil, ErrBadToken
	}
	var c claims
	if err := json.Unmarshal(js, &c); err != nil || c.User == "" {
		return nil, ErrBadToken
	}
	if now.Unix() >= c.Exp {
		return nil, ErrBadToken
	}
	return &c.Principal, nil
}

// HashToken returns the SHA-256 of a random secret token: what stores keep
// of node tokens, so that a copy of the store does not hold usable tokens.
// (Tokens are 32 random bytes; a slow hash adds nothing.)
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NodeTokenPrefix starts every node token, telling it apart from a
// user's signed token.
const NodeTokenPrefix = "bln_"

// RoleNode is held by a node calling the hub with its token.
const RoleNode = "node"

// NewNodeToken returns a random node token.
func NewNodeToken() string {
	return NodeTokenPrefix + b64.EncodeToString(NewKey())
}
