package replication

import (
	"fmt"
	"sync"
	"time"
)

// HLC is a hybrid logical timestamp: the high 48 bits are wall-clock
// milliseconds since the Unix epoch, the low 16 bits a counter that orders
// events within one millisecond, or while the wall clock is behind the
// highest time seen.
type HLC uint64

const counterBits = 16

// MaxHLC is the highest timestamp a valid event carries: the last
// millisecond of the year 9999, counter at its top. Event.Validate refuses
// events stamped after it and Clock.Observe ignores such stamps, so that a
// corrupt or forged stamp cannot drag every replica's clock to the end of
// the 64-bit range, where counting on would wrap around to zero.
const MaxHLC = HLC(253_402_300_799_999<<counterBits | 0xffff)

// MakeHLC builds a timestamp from wall milliseconds and a counter.
func MakeHLC(ms int64, counter uint16) HLC {
	return HLC(uint64(ms)<<counterBits | uint64(counter))
}

// Millis is the wall-clock part.
func (h HLC) Millis() int64 { return int64(h >> counterBits) }

// Counter is the logical part.
func (h HLC) Counter() uint16 { return uint16(h) }

// Time is the wall-clock part as a time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Millis()) }

func (h HLC) String() string {
	return fmt.Sprintf("%s+%d", h.Time().UTC().Format("2006-01-02T15:04:05.000Z"), h.Counter())
}

// Clock hands out strictly increasing HLC timestamps. It stays monotonic
// when the wall clock steps back (NTP corrections, a wrong BIOS clock after
// a restart): it keeps counting on from the highest time it has seen, and
// catches up with the wall clock once that passes it again.
type Clock struct {
	mu   sync.Mutex
	last HLC
	wall func() time.Time
}

// NewClock returns a clock reading wall (time.Now when nil) that never
// hands out a timestamp at or below floor, e.g. the highest one persisted
// before a restart.
func NewClock(wall func() time.Time, floor HLC) *Clock {
	if wall == nil {
		wall = time.Now
	}
	return &Clock{wall: wall, last: floor}
}

// Now returns a timestamp greater than every one returned or observed before.
func (c *Clock) Now() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := c.wall().UnixMilli()
	if ms > c.last.Millis() {
		c.last = MakeHLC(ms, 0)
	} else {
		// The counter overflowing carries into the millisecond part, which
		// keeps order at the cost of running slightly ahead of the wall.
		c.last++
	}
	return c.last
}

// Observe moves the clock past a timestamp seen on a remote event, so that
// whatever this replica writes next orders after what it has seen.
// Timestamps above MaxHLC, which no valid event carries, are ignored.
func (c *Clock) Observe(remote HLC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > c.last && remote <= MaxHLC {
		c.last = remote
	}
}

// Last returns the highest timestamp handed out or observed.
func (c *Clock) Last() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
