package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"
)

// Session is a logged-in browser. Sessions are local to the node that
// issued them (a user logs in again at another branch); the store keeps
// them under the SHA-256 of their id, so a copy of the store holds no
// usable session.
type Session struct {
	User    string    `json:"user"`
	Roles   []string  `json:"roles,omitempty"`
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Remote  string    `json:"remote,omitempty"`
}

// ErrNoSession is returned for unknown or expired sessions.
var ErrNoSession = errors.New("no such session")

// Sessions stores sessions by the hash of their id.
type Sessions interface {
	Put(ctx context.Context, idHash []byte, s Session) error
	Get(ctx context.Context, idHash []byte) (Session, error)
	Delete(ctx context.Context, idHash []byte) error
}

const (
	sessionCookie = "bl_session"
	preCSRFCookie = "bl_csrf" // double-submit token of the login form
	csrfField     = "_csrf"
	csrfHeader    = "X-CSRF-Token"
	// SessionTTL is how long a session lasts without logging in again.
	SessionTTL = 12 * time.Hour
)

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails; it panics instead
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func secure(r *http.Request) bool { return r.TLS != nil }

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, ttl time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r),
	}
	if ttl < 0 {
		c.MaxAge = -1
	} else if ttl > 0 {
		c.MaxAge = int(ttl / time.Second)
	}
	http.SetCookie(w, c)
}

// sameToken compares tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
