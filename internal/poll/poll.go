// Package poll lets tests wait for a condition with a deadline instead of
// sleeping a fixed time. It is imported by tests only.
package poll

import (
	"testing"
	"time"
)

// Until calls cond every 100 ms until it returns nil, and fails the test
// with cond's last error once timeout has passed; what names the awaited
// condition in that message.
func Until(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
