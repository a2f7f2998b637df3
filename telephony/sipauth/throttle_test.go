package sipauth

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestAuthThrottleGrows: after the free failures each one doubles the
// lockout, up to the maximum; a success or a quiet hour forgets them.
func TestAuthThrottleGrows(t *testing.T) {
	th := NewThrottle(ThrottleConfig{Free: 2, Lockout: time.Second, MaxLockout: 5 * time.Second})
	ip := netip.MustParseAddr("192.0.2.1")
	now := time.Unix(1_800_000_000, 0)
	var got []time.Duration
	for range 7 {
		_, d := th.Fail("8001", ip, now)
		got = append(got, d)
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("lockouts %v, want %v", got, want)
	}
	if !th.Locked("8001", ip, now) || th.Locked("8002", ip, now) || th.Locked("8001", netip.MustParseAddr("192.0.2.2"), now) {
		t.Fatal("the lockout is not exactly the (user, address) pair")
	}
	if th.Locked("8001", ip, now.Add(5*time.Second)) {
		t.Fatal("still locked after the lockout")
	}
	th.Succeed("8001", ip)
	if _, d := th.Fail("8001", ip, now); d != 0 {
		t.Fatal("a success did not forget the failures")
	}
	th.Sweep(now.Add(throttleForget))
	if len(th.entries) != 0 {
		t.Fatal("a quiet hour did not forget the failures")
	}
}
