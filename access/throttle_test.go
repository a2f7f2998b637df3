package access

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is an injected clock for throttle tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)} }
func fail(th *Throttle, c *clock, user, remote string) {
	th.Result(user, remote, false, c.now())
}

func TestThrottleLocksOutAUserAtAnAddress(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{})
	const at = "10.0.0.9"
	for i := range 4 {
		fail(th, c, "li.lei", at)
		if w := th.Allow("li.lei", at, c.now()); w != 0 {
			t.Fatalf("after %d failures: wait %v, want none", i+1, w)
		}
	}
	fail(th, c, "li.lei", at) // the fifth
	if w := th.Allow("LI.LEI", at, c.now()); w != 30*time.Second {
		t.Fatalf("after 5 failures: wait %v, want 30s (whatever the case of the name)", w)
	}
	if w := th.Allow("han.meimei", at, c.now()); w != 0 {
		t.Fatalf("another user at the same address waits %v", w)
	}
	if w := th.Allow("li.lei", "10.0.0.10", c.now()); w != 0 {
		t.Fatalf("the same user at another address waits %v", w)
	}
	c.add(20 * time.Second)
	if w := th.Allow("li.lei", at, c.now()); w != 10*time.Second {
		t.Fatalf("20s later: wait %v, want 10s", w)
	}
	c.add(10 * time.Second)
	if w := th.Allow("li.lei", at, c.now()); w != 0 {
		t.Fatalf("after the lockout: wait %v", w)
	}
	// Each further failure doubles the lockout, up to 15 minutes.
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		fail(th, c, "li.lei", at)
		if got := th.Allow("li.lei", at, c.now()); got != w {
			t.Fatalf("failure %d: wait %v, want %v", 6+i, got, w)
		}
		c.add(w)
	}
	// A success clears the username.
	th.Result("li.lei", at, true, c.now())
	fail(th, c, "li.lei", at)
	if w := th.Allow("li.lei", at, c.now()); w != 0 {
		t.Fatalf("one failure after a success: wait %v", w)
	}
}

// A shared office address: one person failing with other and made-up names
// never locks out anyone else's login from it.
func TestThrottleSprayDoesNotLockOutTheAddress(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{})
	const office = "203.0.113.7"
	for i := range 500 {
		fail(th, c, fmt.Sprintf("made.up%d", i), office)
		fail(th, c, "han.meimei", office)
	}
	for _, u := range []string{"admin", "li.lei", "made.up500"} {
		if w := th.Allow(u, office, c.now()); w != 0 {
			t.Fatalf("%s at the office waits %v after others failed there", u, w)
		}
	}
	if w := th.Allow("han.meimei", office, c.now()); w == 0 {
		t.Fatal("500 failures of one name from one address are not throttled")
	}
	if w := th.Allow("made.up3", office, c.now()); w != 0 {
		t.Fatalf("a name that failed once waits %v", w)
	}
}

// Guessing one account from many addresses locks it out everywhere, after
// more failures than from one address.
func TestThrottleLocksOutAUserGuessedFromManyAddresses(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{PairFailures: 5, UserFailures: 20})
	for i := range 19 {
		fail(th, c, "admin", fmt.Sprintf("198.51.100.%d", i))
	}
	if w := th.Allow("admin", "192.0.2.1", c.now()); w != 0 {
		t.Fatalf("after 19 failures from 19 addresses: wait %v", w)
	}
	fail(th, c, "admin", "198.51.100.99")
	if w := th.Allow("admin", "192.0.2.1", c.now()); w != 30*time.Second {
		t.Fatalf("after 20 failures from 20 addresses: wait %v, want 30s at any address", w)
	}
	if w := th.Allow("root", "198.51.100.99", c.now()); w != 0 {
		t.Fatalf("another name waits %v", w)
	}
	th.Result("admin", "192.0.2.1", true, c.now().Add(30*time.Second))
	if w := th.Allow("admin", "192.0.2.1", c.now().Add(30*time.Second)); w != 0 {
		t.Fatalf("after a success: wait %v", w)
	}
}

// An IPv6 host can hop through its /64: the network counts as one address.
func TestThrottleCountsIPv6ByNetwork(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{})
	for i := range 5 {
		fail(th, c, "li.lei", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if w := th.Allow("li.lei", "2001:db8:1:2:ffff::1", c.now()); w != 30*time.Second {
		t.Fatalf("the same /64: wait %v, want 30s", w)
	}
	if w := th.Allow("li.lei", "2001:db8:1:3::1", c.now()); w != 0 {
		t.Fatalf("another /64 waits %v", w)
	}
	for range 5 {
		fail(th, c, "han.meimei", "::ffff:10.1.2.3")
	}
	if w := th.Allow("han.meimei", "10.1.2.3", c.now()); w != 30*time.Second {
		t.Fatalf("an IPv4-mapped address and its IPv4 form: wait %v, want 30s", w)
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{MaxEntries: 100})
	fail(th, c, "victim", "")
	for range 5 {
		fail(th, c, "victim", "")
	}
	for i := range 1000 {
		c.add(time.Millisecond)
		fail(th, c, fmt.Sprintf("spray%d", i), fmt.Sprintf("198.51.100.%d", i%250))
	}
	if n := th.Len(); n > 100 {
		t.Fatalf("%d entries, want at most 100", n)
	}
	// Flooding the throttle did not lift the victim's lockout.
	if w := th.Allow("victim", "", c.now()); w == 0 {
		t.Fatal("the lockout was evicted by a flood of new names")
	}
	// Old quiet entries go first once they are quiet.
	c.add(2 * time.Hour)
	fail(th, c, "late", "")
	if n := th.Len(); n > 100 {
		t.Fatalf("%d entries, want at most 100", n)
	}
}

func TestThrottleIsSafeForConcurrentUse(t *testing.T) {
	th := NewThrottle(ThrottleConfig{MaxEntries: 50})
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				now := start.Add(time.Duration(i) * time.Second)
				u := fmt.Sprintf("u%d", (g*200+i)%70)
				th.Allow(u, "10.1.1.1", now)
				th.Result(u, "10.1.1.1", i%7 == 0, now)
			}
		}()
	}
	wg.Wait()
	if th.Len() > 50 {
		t.Fatalf("%d entries", th.Len())
	}
}

// Throttle fits the web UI's login throttle (web.Throttle).
var _ interface {
	Allow(user, remote string, now time.Time) time.Duration
	Result(user, remote string, ok bool, now time.Time)
} = (*Throttle)(nil)
