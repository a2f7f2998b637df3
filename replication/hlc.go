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

// DefaultMaxOffset bounds how far ahead of a replica's own wall clock a
// timestamp may be before the replica refuses to let it move its clock.
//
// Five minutes, because two opposite costs meet there. A branch PC whose
// clock is not synchronised drifts by about a second a day (a cheap RTC),
// so a machine left without NTP for months is still within a few minutes
// of head office, and its writes must keep flowing. On the other side, a
// replica ahead by the bound wins every concurrent edit made up to that
// long after its own elsewhere, and a forged or corrupt stamp can drag
// nobody's clock further than that. Set it on every hub member and node
// alike (--max-clock-offset); a mismatch only makes one side stricter.
const DefaultMaxOffset = 5 * time.Minute

// Clock hands out strictly increasing HLC timestamps. It stays monotonic
// when the wall clock steps back (NTP corrections, a wrong BIOS clock after
// a restart): it keeps counting on from the highest time it has seen, and
// catches up with the wall clock once that passes it again.
//
// A clock never runs more than its max offset ahead of its own wall clock
// because of something it was told: a remote stamp or a persisted floor
// beyond that bound is not followed. One replica stamping the year 9999
// would otherwise drag every clock it reaches to the end of time, and each
// later write would be stamped where no replica accepts it.
type Clock struct {
	mu        sync.Mutex
	last      HLC
	wall      func() time.Time
	maxOffset time.Duration
	ignored   HLC // highest stamp not followed because it was beyond the bound
}

// NewClock returns a clock reading wall (time.Now when nil) that never
// hands out a timestamp at or below floor, e.g. the highest one persisted
// before a restart — unless floor lies more than maxOffset (0:
// DefaultMaxOffset) ahead of the wall clock, in which case it is ignored
// (see Ignored): a store that once followed a poisoned stamp recovers on
// restart.
func NewClock(wall func() time.Time, floor HLC, maxOffset time.Duration) *Clock {
	if wall == nil {
		wall = time.Now
	}
	if maxOffset <= 0 {
		maxOffset = DefaultMaxOffset
	}
	c := &Clock{wall: wall, maxOffset: maxOffset}
	c.Observe(floor)
	return c
}

// MaxOffset is how far ahead of the wall clock a timestamp may be followed.
func (c *Clock) MaxOffset() time.Duration { return c.maxOffset }

// Bound is the highest timestamp the clock follows now: its wall clock plus
// the max offset.
func (c *Clock) Bound() HLC {
	return MakeHLC(c.wall().Add(c.maxOffset).UnixMilli(), 0xffff)
}

// Wall returns the clock's wall time.
func (c *Clock) Wall() time.Time { return c.wall() }

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
// whatever this replica writes next orders after what it has seen. A
// timestamp beyond Bound is not followed (the event it came on is still
// applied): it reports false, and Ignored remembers the highest such.
func (c *Clock) Observe(remote HLC) bool {
	bound := c.Bound()
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > bound || remote > MaxHLC {
		c.ignored = max(c.ignored, remote)
		return false
	}
	if remote > c.last {
		c.last = remote
	}
	return true
}

// Ignored returns the highest stamp the clock refused to follow (0: none).
func (c *Clock) Ignored() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ignored
}

// Last returns the highest timestamp handed out or observed.
func (c *Clock) Last() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
