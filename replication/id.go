package replication

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// IDs makes ULIDs: unique without coordination, sortable by creation time,
// and monotonic within one process so ids made in the same millisecond
// still sort in the order they were made.
type IDs struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// NewIDs returns a ULID source seeded from crypto/rand.
func NewIDs() *IDs {
	return &IDs{entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New returns a new ULID string made at t.
func (g *IDs) New(t time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), g.entropy).String()
}

// ValidULID reports whether s is a canonical ULID string.
func ValidULID(s string) bool {
	id, err := ulid.ParseStrict(s)
	return err == nil && id.String() == s
}
