package hub

import (
	"fmt"
	"strings"
	"testing"
	"time"

	hubv1 "branchline/gen/branchline/hub/v1"
)

// TestRevokedSessions: the state machine keeps a revoked session until it
// would have expired, and drops it when a later revocation is committed
// after that — at every replica alike, by the commands' times.
func TestRevokedSessions(t *testing.T) {
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	revoke := func(hash string, at, until time.Time) *hubv1.Command {
		return &hubv1.Command{TimeMs: at.UnixMilli(), Op: &hubv1.Command_RevokeSession{RevokeSession: &hubv1.RevokeSession{
			IdHash: []byte(hash), UntilMs: until.UnixMilli()}}}
	}
	a, b := newTestFSM(t), newTestFSM(t)
	for _, f := range []*fsm{a, b} {
		if res := apply(t, f, 1, revoke("one", base, base.Add(time.Hour))); res != nil {
			t.Fatalf("revoke: %v", res)
		}
		apply(t, f, 2, revoke("two", base, base.Add(3*time.Hour)))
	}
	for _, c := range []struct {
		hash string
		at   time.Time
		want bool
	}{
		{"one", base.Add(time.Minute), true},
		{"two", base.Add(time.Minute), true},
		{"three", base.Add(time.Minute), false},
		{"one", base.Add(2 * time.Hour), false}, // expired with its session
	} {
		if got, err := a.SessionRevoked([]byte(c.hash), c.at); err != nil || got != c.want {
			t.Fatalf("%s revoked at %v: %v, %v; want %v", c.hash, c.at, got, err, c.want)
		}
	}
	// A later revocation drops the expired ones.
	for _, f := range []*fsm{a, b} {
		apply(t, f, 3, revoke("three", base.Add(2*time.Hour), base.Add(4*time.Hour)))
	}
	da, db := dump(t, a), dump(t, b)
	if fmt.Sprint(da) != fmt.Sprint(db) {
		t.Fatal("two replicas differ after the same revocations")
	}
	n := 0
	for k := range da {
		if strings.HasPrefix(k, string(revokedPrefix)) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d revocations kept, want 2 (the expired one dropped)", n)
	}
}
