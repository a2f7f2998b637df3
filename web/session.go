package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Session is a logged-in browser.
type Session struct {
	User    string    `json:"user"`
	Roles   []string  `json:"roles,omitempty"`
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Remote  string    `json:"remote,omitempty"`
}

// ErrNoSession is returned for unknown, revoked or expired sessions.
var ErrNoSession = errors.New("no such session")

// Sessions keeps the sessions of logged-in browsers. The id is what the
// browser presents in its session cookie.
type Sessions interface {
	// New records s and returns its id.
	New(ctx context.Context, s Session) (string, error)
	// Get returns the session id names, or ErrNoSession.
	Get(ctx context.Context, id string) (Session, error)
	// Delete ends the session id names.
	Delete(ctx context.Context, id string) error
}

// SessionStore keeps sessions by the SHA-256 of their id, so that a copy
// of the store holds no usable session: a node's Badger store.
type SessionStore interface {
	Put(ctx context.Context, idHash []byte, s Session) error
	Get(ctx context.Context, idHash []byte) (Session, error)
	Delete(ctx context.Context, idHash []byte) error
}

// StoredSessions are sessions kept in st under random ids: local to the
// node that issued them (a user logs in again at another branch).
func StoredSessions(st SessionStore) Sessions { return storedSessions{st} }

type storedSessions struct{ st SessionStore }

func (s storedSessions) New(ctx context.Context, sess Session) (string, error) {
	id := randomToken()
	return id, s.st.Put(ctx, hashID(id), sess)
}

func (s storedSessions) Get(ctx context.Context, id string) (Session, error) {
	return s.st.Get(ctx, hashID(id))
}

func (s storedSessions) Delete(ctx context.Context, id string) error {
	return s.st.Delete(ctx, hashID(id))
}

// SignedSessions keep each session in its cookie, signed with a key that
// every replica of a cluster holds (a hub's cluster key): a session is
// valid at every member, through restarts and leader changes, without a
// write at login. Logging out revokes the session: Revocations keeps the
// revocation — on a hub, committed through Raft, so every member refuses
// the cookie from then on — until the session would have expired anyway.
//
// The cookie is "bls1.<session as JSON>.<HMAC-SHA256>", both parts
// base64url, under a key derived from Key for web sessions only, so that
// a session cookie is never an API token nor an API token a session.
type SignedSessions struct {
	// Key returns the cluster's key (32 bytes or more).
	Key         func() ([]byte, error)
	Revocations Revocations
}

// Revocations keeps the hashes of revoked session ids.
type Revocations interface {
	// Revoke records idHash as revoked until until, when the session
	// expires by itself.
	Revoke(ctx context.Context, idHash []byte, until time.Time) error
	// Revoked reports whether idHash was revoked.
	Revoked(ctx context.Context, idHash []byte) (bool, error)
}

const signedPrefix = "bls1."

// maxSignedSession bounds the cookies worth checking.
const maxSignedSession = 4096

// signedSession is what the cookie carries: the session and a random
// nonce, so that two sessions of one second differ.
type signedSession struct {
	Session
	Nonce string `json:"n"`
}

var b64 = base64.RawURLEncoding

func (s SignedSessions) mac(payload string) ([]byte, error) {
	key, err := s.Key()
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	if len(key) < 32 {
		return nil, errors.New("session key: shorter than 32 bytes")
	}
	sub := hmac.New(sha256.New, key)
	sub.Write([]byte("branchline web session"))
	m := hmac.New(sha256.New, sub.Sum(nil))
	m.Write([]byte(signedPrefix + payload))
	return m.Sum(nil), nil
}

// New implements Sessions.
func (s SignedSessions) New(_ context.Context, sess Session) (string, error) {
	js, err := json.Marshal(signedSession{Session: sess, Nonce: randomToken()})
	if err != nil {
		return "", err
	}
	payload := b64.EncodeToString(js)
	sig, err := s.mac(payload)
	if err != nil {
		return "", err
	}
	return signedPrefix + payload + "." + b64.EncodeToString(sig), nil
}

// open checks id's signature and returns the session it carries.
func (s SignedSessions) open(id string) (Session, error) {
	rest, ok := strings.CutPrefix(id, signedPrefix)
	if !ok || len(id) > maxSignedSession {
		return Session{}, ErrNoSession
	}
	payload, sig, ok := strings.Cut(rest, ".")
	got, err := b64.DecodeString(sig)
	if !ok || err != nil {
		return Session{}, ErrNoSession
	}
	want, err := s.mac(payload)
	if err != nil {
		return Session{}, err
	}
	if !hmac.Equal(got, want) {
		return Session{}, ErrNoSession
	}
	js, err := b64.DecodeString(payload)
	if err != nil {
		return Session{}, ErrNoSession
	}
	var ss signedSession
	if err := json.Unmarshal(js, &ss); err != nil || ss.User == "" {
		return Session{}, ErrNoSession
	}
	return ss.Session, nil
}

// Get implements Sessions.
func (s SignedSessions) Get(ctx context.Context, id string) (Session, error) {
	sess, err := s.open(id)
	if err != nil {
		return Session{}, err
	}
	revoked, err := s.Revocations.Revoked(ctx, hashID(id))
	if err != nil {
		return Session{}, fmt.Errorf("session revocations: %w", err)
	}
	if revoked {
		return Session{}, ErrNoSession
	}
	return sess, nil
}

// Delete implements Sessions: it revokes the session until it expires.
func (s SignedSessions) Delete(ctx context.Context, id string) error {
	sess, err := s.open(id)
	if errors.Is(err, ErrNoSession) {
		return nil // nothing that could be used
	}
	if err != nil {
		return err
	}
	return s.Revocations.Revoke(ctx, hashID(id), sess.Expires)
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

// MemorySessions is a SessionStore in memory, for tests of the pages:
// sessions end with the process.
type MemorySessions struct {
	mu sync.Mutex
	m  map[string]Session
}

// NewMemorySessions returns sessions kept in an empty MemorySessions.
func NewMemorySessions() Sessions { return StoredSessions(&MemorySessions{m: map[string]Session{}}) }

// Put implements SessionStore.
func (m *MemorySessions) Put(_ context.Context, hash []byte, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for k, v := range m.m {
		if now.After(v.Expires) {
			delete(m.m, k)
		}
	}
	m.m[string(hash)] = s
	return nil
}

// Get implements SessionStore.
func (m *MemorySessions) Get(_ context.Context, hash []byte) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[string(hash)]
	if !ok {
		return Session{}, ErrNoSession
	}
	return s, nil
}

// Delete implements SessionStore.
func (m *MemorySessions) Delete(_ context.Context, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, string(hash))
	return nil
}
