package sipauth

import (
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig tunes how a Throttle slows down password guessing; zero
// fields take the defaults.
type ThrottleConfig struct {
	// Free is how many wrong passwords for one user from one address pass
	// before lockouts start (default 3: a phone with a mistyped password
	// retries a few times).
	Free int
	// Lockout is the first lockout (default 1 s); each further failure
	// doubles it, up to MaxLockout (default 5 min).
	Lockout, MaxLockout time.Duration
}

// Throttle slows down guessing of SIP passwords per (user, source
// address): after a.Free wrong digests, each further one locks the pair
// out for a time that doubles. While locked out, a request with
// credentials is refused without looking at them, so the right password
// is no use either: that is what makes guessing slow.
//
// The key is the pair, not the address alone, so that one phone guessing
// (or misconfigured) behind a branch's NAT does not lock out the other
// extensions behind it, and not the user alone, so that an attacker
// cannot lock a phone out from elsewhere. Unknown users are keyed like
// known ones, so the lockouts of a scan tell nothing about which
// extensions exist. Like registrations, the counts are node-local and
// forgotten after a quiet hour. Safe for concurrent use.
type Throttle struct {
	cfg ThrottleConfig

	mu      sync.Mutex
	entries map[throttleKey]*throttleEntry
}

type throttleKey struct {
	user string
	ip   netip.Addr
}

type throttleEntry struct {
	failures int
	until    time.Time // locked out until
	last     time.Time // latest failure
}

const (
	throttleForget     = time.Hour
	maxThrottleEntries = 20000
	maxThrottleUser    = 64 // users are typed by anyone: a key's size is bounded
)

// NewThrottle returns a Throttle tuned by cfg.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.Free <= 0 {
		cfg.Free = 3
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = time.Second
	}
	if cfg.MaxLockout < cfg.Lockout {
		cfg.MaxLockout = max(5*time.Minute, cfg.Lockout)
	}
	return &Throttle{cfg: cfg, entries: map[throttleKey]*throttleEntry{}}
}

func keyOf(user string, ip netip.Addr) throttleKey {
	return throttleKey{user: user[:min(len(user), maxThrottleUser)], ip: ip}
}

// Locked reports whether user may not try a password from ip now.
func (t *Throttle) Locked(user string, ip netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[keyOf(user, ip)]
	return ok && now.Before(e.until)
}

// Fail records a wrong password; it returns the pair's failures and the
// lockout that starts now (0: none yet).
func (t *Throttle) Fail(user string, ip netip.Addr, now time.Time) (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := keyOf(user, ip)
	e, ok := t.entries[k]
	if !ok {
		t.makeRoom(now)
		e = &throttleEntry{}
		t.entries[k] = e
	} else if now.Sub(e.last) >= throttleForget && !now.Before(e.until) {
		*e = throttleEntry{}
	}
	e.failures++
	e.last = now
	n := e.failures - t.cfg.Free - 1
	if n < 0 {
		return e.failures, 0
	}
	d := t.cfg.MaxLockout
	if n < 30 {
		d = min(t.cfg.Lockout<<n, t.cfg.MaxLockout)
	}
	e.until = now.Add(d)
	return e.failures, d
}

// Succeed forgets the pair's failures: the phone has the password.
func (t *Throttle) Succeed(user string, ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, keyOf(user, ip))
}

// Sweep forgets pairs that have been quiet for throttleForget.
func (t *Throttle) Sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.entries {
		if now.Sub(e.last) >= throttleForget && !now.Before(e.until) {
			delete(t.entries, k)
		}
	}
}

// makeRoom drops an entry when the table is full: the least recent one
// that is not locked out (a locked one only when all are), so that
// flooding the table with new pairs does not lift a lockout.
func (t *Throttle) makeRoom(now time.Time) {
	if len(t.entries) < maxThrottleEntries {
		return
	}
	var victim throttleKey
	found, victimLocked := false, false
	var victimAt time.Time
	for k, e := range t.entries {
		locked := now.Before(e.until)
		if !found || victimLocked && !locked || victimLocked == locked && e.last.Before(victimAt) {
			victim, victimLocked, victimAt, found = k, locked, e.last, true
		}
	}
	delete(t.entries, victim)
}
