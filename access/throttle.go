package access

import (
	"sync"
	"time"
)

// ThrottleConfig tunes a Throttle; zero fields take the defaults.
type ThrottleConfig struct {
	// UserFailures is how many failed logins of one username pass before
	// lockouts start (default 5).
	UserFailures int
	// RemoteFailures is the same for one client address (default 20:
	// a whole branch may share one address).
	RemoteFailures int
	// Lockout is the first lockout (default 30s); each further failure
	// doubles it, up to MaxLockout (default 15m).
	Lockout    time.Duration
	MaxLockout time.Duration
	// Forget drops the failures of a username or address that failed no
	// more for this long (default 1h).
	Forget time.Duration
	// MaxEntries bounds the usernames and addresses remembered (default
	// 10000); when full, quiet ones go first, then the least recent ones
	// not locked out.
	MaxEntries int
}

// Throttle slows down password guessing at one node, per username and per
// client address: after a few failures each further attempt waits out a
// lockout that doubles with every failure. It is node-local on purpose —
// replicating failed logins would let one branch's attacker lock users
// out everywhere, and would not work offline anyway. It reads no clock:
// callers pass now. Safe for concurrent use.
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
	if cfg.UserFailures <= 0 {
		cfg.UserFailures = 5
	}
	if cfg.RemoteFailures <= 0 {
		cfg.RemoteFailures = 20
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

func userKeyOf(user string) string {
	k := "u:" + NormalizeUsername(user)
	return k[:min(len(k), maxThrottleKey)]
}

func remoteKeyOf(remote string) string {
	if remote == "" {
		return ""
	}
	k := "r:" + remote
	return k[:min(len(k), maxThrottleKey)]
}

// Allow returns how long a login of user from remote must wait, or 0 when
// it may be tried now.
func (t *Throttle) Allow(user, remote string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.wait(userKeyOf(user), now), t.wait(remoteKeyOf(remote), now))
}

func (t *Throttle) wait(key string, now time.Time) time.Duration {
	e, ok := t.entries[key]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// Result records the outcome of a login attempt. A success clears the
// username's failures but not the address's, so that an attacker holding
// one account cannot reset the count of the address it guesses others'
// passwords from; the address's failures are forgotten after a quiet time.
func (t *Throttle) Result(user, remote string, ok bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		delete(t.entries, userKeyOf(user))
		return
	}
	t.fail(userKeyOf(user), t.cfg.UserFailures, now)
	if k := remoteKeyOf(remote); k != "" {
		t.fail(k, t.cfg.RemoteFailures, now)
	}
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

// Len returns how many usernames and addresses the throttle remembers.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
