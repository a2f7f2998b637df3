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

func TestThrottleLocksOutAUsername(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{})
	for i := range 4 {
		fail(th, c, "li.lei", fmt.Sprintf("10.0.0.%d", i))
		if w := th.Allow("li.lei", "10.0.0.9", c.now()); w != 0 {
			t.Fatalf("after %d failures: wait %v, want none", i+1, w)
		}
	}
	fail(th, c, "li.lei", "10.0.0.5") // the fifth
	if w := th.Allow("LI.LEI", "10.0.0.9", c.now()); w != 30*time.Second {
		t.Fatalf("after 5 failures: wait %v, want 30s (whatever the case of the name)", w)
	}
	if w := th.Allow("han.meimei", "10.0.0.9", c.now()); w != 0 {
		t.Fatalf("another user waits %v", w)
	}
	c.add(20 * time.Second)
	if w := th.Allow("li.lei", "", c.now()); w != 10*time.Second {
		t.Fatalf("20s later: wait %v, want 10s", w)
	}
	c.add(10 * time.Second)
	if w := th.Allow("li.lei", "", c.now()); w != 0 {
		t.Fatalf("after the lockout: wait %v", w)
	}
	// Each further failure doubles the lockout, up to 15 minutes.
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		fail(th, c, "li.lei", "")
		if got := th.Allow("li.lei", "", c.now()); got != w {
			t.Fatalf("failure %d: wait %v, want %v", 6+i, got, w)
		}
		c.add(w)
	}
	// A success clears the username.
	th.Result("li.lei", "", true, c.now())
	fail(th, c, "li.lei", "")
	if w := th.Allow("li.lei", "", c.now()); w != 0 {
		t.Fatalf("one failure after a success: wait %v", w)
	}
}

func TestThrottleLocksOutAnAddress(t *testing.T) {
	c := newClock()
	th := NewThrottle(ThrottleConfig{RemoteFailures: 10})
	// Spraying many usernames from one address.
	for i := range 10 {
		fail(th, c, fmt.Sprintf("user%d", i), "203.0.113.7")
	}
	if w := th.Allow("someone.else", "203.0.113.7", c.now()); w != 30*time.Second {
		t.Fatalf("address after 10 failures: wait %v, want 30s", w)
	}
	if w := th.Allow("someone.else", "203.0.113.8", c.now()); w != 0 {
		t.Fatalf("another address waits %v", w)
	}
	// A success with a valid account does not reset the address.
	th.Result("own.account", "203.0.113.7", true, c.now())
	if w := th.Allow("someone.else", "203.0.113.7", c.now()); w == 0 {
		t.Fatal("a success reset the address's failures")
	}
	// A quiet hour forgets them.
	c.add(time.Hour)
	fail(th, c, "user0", "203.0.113.7")
	if w := th.Allow("x", "203.0.113.7", c.now()); w != 0 {
		t.Fatalf("an hour later: wait %v", w)
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
