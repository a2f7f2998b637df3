package access

import (
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig tunes a Throttle; zero fields take the defaults.
type ThrottleConfig struct {
	// PairFailures is how many failed logins of one username from one
	// client address pass before lockouts start (default 5).
	PairFailures int
	// UserFailures is the same for one username from any address (default
	// 50): guessing one account's password from many addresses. From one
	// address the pair's lockouts come long before it.
	UserFailures int
	// Lockout is the first lockout (default 30s); each further failure
	// doubles it, up to MaxLockout (default 15m).
	Lockout    time.Duration
	MaxLockout time.Duration
	// Forget drops the failures of a key that failed no more for this long
	// (default 1h).
	Forget time.Duration
	// MaxEntries bounds the keys remembered (default 10000); when full,
	// quiet ones go first, then the least recent ones not locked out.
	MaxEntries int
}

// Throttle slows down password guessing at one node: after a few failed
// logins of one username from one client address, each further attempt
// of that username from that address waits out a lockout that doubles
// with every failure; many failures of one username from any addresses
// lock it out the same way.
//
// Failures never count against an address as a whole: a branch's staff
// share one address behind its NAT, and one person failing with other or
// made-up names must not lock everyone out, the administrator included.
// Spraying guesses over many names gains an attacker nothing the per-name
// lockouts do not bound, and unknown names cost the same as known ones,
// so that the throttle does not tell which names exist. IPv6 addresses
// count by their /64 network, which one host can hop around in.
//
// It is node-local on purpose — replicating failed logins would let one
// branch's attacker lock users out everywhere, and would not work offline
// anyway. It reads no clock: callers pass now. Safe for concurrent use.
type Throttle struct {
	cfg     ThrottleConfig
	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	until    time.Time // locked until
	last     time.Time // latest failure
}

// NewThrottle returns a throttle; see ThrottleConfig for the defaults.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.PairFailures <= 0 {
		cfg.PairFailures = 5
	}
	if cfg.UserFailures <= 0 {
		cfg.UserFailures = 50
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = 30 * time.Second
	}
	if cfg.MaxLockout <= 0 {
		cfg.MaxLockout = 15 * time.Minute
	}
	if cfg.Forget <= 0 {
		cfg.Forget = time.Hour
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	return &Throttle{cfg: cfg, entries: map[string]*throttleEntry{}}
}

// maxThrottleKey bounds what one key costs: usernames are typed by anyone.
const maxThrottleKey = 128

func bounded(k string) string { return k[:min(len(k), maxThrottleKey)] }

func userKeyOf(user string) string { return bounded("u:" + NormalizeUsername(user)) }

// pairKeyOf keys a username at an address; the address comes first, so
// that a long username cannot push it out of the bounded key.
func pairKeyOf(user, remote string) string {
	return bounded("p:" + network(remote) + "\x00" + NormalizeUsername(user))
}

// network is the address failures count against: an IPv4 address, the
// /64 network of an IPv6 one, or the text as given when it is no address.
func network(remote string) string {
	a, err := netip.ParseAddr(remote)
	if err != nil {
		return remote
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64) // cannot fail for an IPv6 address
	return p.String()
}

// Allow returns how long a login of user from remote must wait, or 0 when
// it may be tried now.
func (t *Throttle) Allow(user, remote string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.wait(pairKeyOf(user, remote), now), t.wait(userKeyOf(user), now))
}

func (t *Throttle) wait(key string, now time.Time) time.Duration {
	e, ok := t.entries[key]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// Result records the outcome of a login attempt. A success clears the
// username's failures, at that address and everywhere: whoever succeeded
// knows the password.
func (t *Throttle) Result(user, remote string, ok bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		delete(t.entries, pairKeyOf(user, remote))
		delete(t.entries, userKeyOf(user))
		return
	}
	t.fail(pairKeyOf(user, remote), t.cfg.PairFailures, now)
	t.fail(userKeyOf(user), t.cfg.UserFailures, now)
}

func (t *Throttle) fail(key string, free int, now time.Time) {
	e, ok := t.entries[key]
	if !ok {
		t.makeRoom(now)
		e = &throttleEntry{}
		t.entries[key] = e
	} else if now.Sub(e.last) >= t.cfg.Forget && !now.Before(e.until) {
		*e = throttleEntry{}
	}
	e.failures++
	e.last = now
	if n := e.failures - free; n >= 0 {
		d := t.cfg.MaxLockout
		if n < 30 {
			d = min(t.cfg.Lockout<<n, t.cfg.MaxLockout)
		}
		e.until = now.Add(d)
	}
}

// makeRoom drops quiet entries when the throttle is full and, if none is
// quiet, the least recent entry that is not locked out (a locked one only
// when all are): flooding the throttle with new names must not lift a
// lockout.
func (t *Throttle) makeRoom(now time.Time) {
	if len(t.entries) < t.cfg.MaxEntries {
		return
	}
	var victim string
	var victimLocked bool
	var victimAt time.Time
	for k, e := range t.entries {
		locked := now.Before(e.until)
		if !locked && now.Sub(e.last) >= t.cfg.Forget {
			delete(t.entries, k)
			continue
		}
		if victim == "" || victimLocked && !locked || victimLocked == locked && e.last.Before(victimAt) {
			victim, victimLocked, victimAt = k, locked, e.last
		}
	}
	if len(t.entries) >= t.cfg.MaxEntries {
		delete(t.entries, victim)
	}
}

// Len returns how many keys (usernames, usernames at addresses) the
// throttle remembers.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
