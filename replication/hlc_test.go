package replication

import (
	"math"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestClockMonotonicWhenWallStepsBack(t *testing.T) {
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		wall time.Time
	}{
		{"start", base},
		{"same millisecond", base},
		{"forward", base.Add(5 * time.Millisecond)},
		{"back one hour", base.Add(-time.Hour)},
		{"still behind", base.Add(-time.Minute)},
		{"caught up", base.Add(time.Second)},
	}
	now := base
	c := NewClock(func() time.Time { return now }, 0, 0)
	var last HLC
	for _, s := range steps {
		now = s.wall
		got := c.Now()
		if got <= last {
			t.Fatalf("%s: Now() = %v, not after %v", s.name, got, last)
		}
		last = got
	}
	if got := last.Millis(); got != base.Add(time.Second).UnixMilli() {
		t.Errorf("after the wall clock caught up, millis = %d, want the wall's %d", got, base.Add(time.Second).UnixMilli())
	}
}

func TestClockFloorSurvivesRestart(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Written before a restart, after the wall clock stepped back by less
	// than the max offset.
	persisted := MakeHLC(wall.Add(DefaultMaxOffset-time.Second).UnixMilli(), 7)
	c := NewClock(func() time.Time { return wall }, persisted, 0)
	if got := c.Now(); got <= persisted {
		t.Fatalf("Now() = %v after restart with floor %v", got, persisted)
	}
}

// A store that followed a poisoned stamp (today's release adopted any
// stamp up to the year 9999) recovers on restart: its clock starts from
// the wall clock again, and remembers what it ignored.
func TestClockIgnoresFloorBeyondBound(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, floor := range []HLC{MaxHLC, MaxHLC + 3, MakeHLC(wall.Add(DefaultMaxOffset+time.Second).UnixMilli(), 0)} {
		c := NewClock(func() time.Time { return wall }, floor, 0)
		if got := c.Now(); got.Millis() != wall.UnixMilli() {
			t.Errorf("floor %v: Now() = %v, want the wall clock %v", floor, got, wall)
		}
		if c.Ignored() != floor {
			t.Errorf("floor %v: Ignored() = %v", floor, c.Ignored())
		}
	}
}

// No remote stamp moves the clock more than the max offset past its wall
// clock; the stamp is remembered as ignored.
func TestClockBoundedByMaxOffset(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		offset  time.Duration
		remote  time.Duration // ahead of the wall
		follows bool
	}{
		{"within the default", 0, DefaultMaxOffset - time.Millisecond, true},
		{"just past the default", 0, DefaultMaxOffset + time.Millisecond, false},
		{"a day ahead", 0, 24 * time.Hour, false},
		{"a day ahead, offset two days", 48 * time.Hour, 24 * time.Hour, true},
		{"a second ahead, offset 500 ms", 500 * time.Millisecond, time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(func() time.Time { return wall }, 0, tc.offset)
			r := MakeHLC(wall.Add(tc.remote).UnixMilli(), 0)
			if got := c.Observe(r); got != tc.follows {
				t.Fatalf("Observe = %v, want %v", got, tc.follows)
			}
			now := c.Now()
			if tc.follows && now <= r {
				t.Errorf("Now() = %v, want after %v", now, r)
			}
			if !tc.follows && (now.Millis() != wall.UnixMilli() || c.Ignored() != r) {
				t.Errorf("Now() = %v, Ignored() = %v; want the wall clock and %v", now, c.Ignored(), r)
			}
		})
	}
}

func TestClockObserve(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall }, 0, 0)
	remote := MakeHLC(wall.Add(time.Minute).UnixMilli(), 3)
	c.Observe(remote)
	if got := c.Now(); got <= remote {
		t.Fatalf("Now() = %v, want after observed %v", got, remote)
	}
}

func TestClockCounterOverflowCarries(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall }, MakeHLC(wall.UnixMilli(), 0xffff), 0)
	got := c.Now()
	if got.Millis() != wall.UnixMilli()+1 || got.Counter() != 0 {
		t.Fatalf("Now() after counter 0xffff = %v, want next millisecond, counter 0", got)
	}
}

// Whatever the wall clock does and whatever remote timestamps arrive, Now
// is strictly increasing and above everything observed.
func TestClockProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := int64(1_790_000_000_000)
		wall := base
		c := NewClock(func() time.Time { return time.UnixMilli(wall) }, 0, 0)
		var last HLC
		for i, n := 0, rapid.IntRange(1, 200).Draw(t, "n"); i < n; i++ {
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				wall += rapid.Int64Range(-3_600_000, 3_600_000).Draw(t, "step")
			case 1:
				r := MakeHLC(base+rapid.Int64Range(-10_000, 10_000).Draw(t, "remote"), uint16(rapid.IntRange(0, 0xffff).Draw(t, "ctr")))
				if c.Observe(r) && r > last {
					last = r
				}
			case 2:
				got := c.Now()
				if got <= last {
					t.Fatalf("Now() = %v, not after %v", got, last)
				}
				last = got
			}
		}
	})
}

// The existing property keeps the wall near one instant; this one lets
// the wall roam over any date up to the year 9999, starts from any floor
// (a restart), observes any remote stamp a valid event can carry (and
// some no valid event can), and bursts many calls into one millisecond to
// cross counter overflows. Besides strict monotonicity it checks that the
// clock is never behind the wall, that it returns to the wall exactly once
// the wall passes it, and that Last reports the highest stamp.
func TestClockPropertyWideRange(t *testing.T) {
	maxMs := MaxHLC.Millis()
	rapid.Check(t, func(t *rapid.T) {
		wall := rapid.Int64Range(0, maxMs).Draw(t, "wall0")
		floor := HLC(rapid.Uint64Range(0, uint64(MaxHLC)).Draw(t, "floor"))
		c := NewClock(func() time.Time { return time.UnixMilli(wall) }, floor, 0)
		var last HLC // a floor beyond the bound is not followed
		if floor <= MakeHLC(wall+DefaultMaxOffset.Milliseconds(), 0xffff) {
			last = floor
		}
		for i, n := 0, rapid.IntRange(1, 100).Draw(t, "n"); i < n; i++ {
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0: // step, often backwards
				wall = rapid.Int64Range(0, maxMs).Draw(t, "wall")
			case 1: // small step either way
				wall = min(max(wall+rapid.Int64Range(-5, 5).Draw(t, "step"), 0), maxMs)
			case 2:
				r := HLC(rapid.Uint64Range(1, uint64(MaxHLC)).Draw(t, "remote"))
				if c.Observe(r) {
					last = max(last, r)
				}
			case 3: // a stamp no valid event carries is ignored
				c.Observe(HLC(rapid.Uint64Range(uint64(MaxHLC)+1, math.MaxUint64).Draw(t, "bad-remote")))
			case 4: // a burst within one wall millisecond
				for range rapid.IntRange(1, 3*0xffff).Draw(t, "burst") {
					got := c.Now()
					if got <= last {
						t.Fatalf("Now() = %d, not after %d", got, last)
					}
					last = got
				}
				continue
			}
			before := c.Last()
			if before != last {
				t.Fatalf("Last() = %d, want the highest stamp %d", before, last)
			}
			got := c.Now()
			if got <= last {
				t.Fatalf("Now() = %d, not after %d", got, last)
			}
			if got.Millis() < wall {
				t.Fatalf("Now() = %v is behind the wall %d", got, wall)
			}
			if wall > before.Millis() && got != MakeHLC(wall, 0) {
				t.Fatalf("wall %d passed the clock (%v), Now() = %v, want the wall", wall, before, got)
			}
			last = got
		}
	})
}

func TestClockIgnoresStampsNoValidEventCarries(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		remote HLC
	}{
		{"max uint64", math.MaxUint64},
		{"just above MaxHLC", MaxHLC + 1},
		{"year 10000", MakeHLC(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := NewClock(func() time.Time { return wall }, 0, 0)
			a := clk.Now()
			clk.Observe(c.remote)
			b := clk.Now()
			if b <= a || b.Millis() != wall.UnixMilli() {
				t.Fatalf("after Observe(%d): Now() = %v, want just after %v", uint64(c.remote), b, a)
			}
			ev := &Event{Origin: "sh-pudong", Seq: 1, HLC: c.remote, Kind: "k"}
			if err := ev.Validate(); err == nil {
				t.Errorf("an event stamped %d validates", uint64(c.remote))
			}
		})
	}
	t.Run("MaxHLC itself", func(t *testing.T) {
		// A valid envelope, but far beyond any wall clock's bound today:
		// the clock does not follow it (the hub refuses to commit it).
		clk := NewClock(func() time.Time { return wall }, 0, 0)
		if clk.Observe(MaxHLC) {
			t.Fatal("a clock in 2026 follows MaxHLC")
		}
		if got := clk.Now(); got.Millis() != wall.UnixMilli() {
			t.Fatalf("Now() = %v after observing MaxHLC, want the wall clock", got)
		}
		late := NewClock(func() time.Time { return MaxHLC.Time() }, 0, 0)
		if !late.Observe(MaxHLC) || late.Now() <= MaxHLC {
			t.Fatal("a clock at the end of 9999 does not follow MaxHLC")
		}
		ev := &Event{Origin: "sh-pudong", Seq: 1, HLC: MaxHLC, Kind: "k"}
		if err := ev.Validate(); err != nil {
			t.Errorf("an event stamped MaxHLC: %v", err)
		}
	})
	if got := MaxHLC.Time().UTC(); got.Year() != 9999 || MaxHLC.Counter() != 0xffff {
		t.Errorf("MaxHLC = %v counter %d, want the end of 9999", got, MaxHLC.Counter())
	}
}

// Concurrent callers never get the same stamp.
func TestClockConcurrentNowUnique(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall }, 0, 0)
	const workers, each = 8, 500
	results := make([][]HLC, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				results[w] = append(results[w], c.Now())
			}
		})
	}
	wg.Wait()
	seen := map[HLC]bool{}
	var hi HLC
	for _, r := range results {
		for i, h := range r {
			if seen[h] {
				t.Fatalf("stamp %v handed out twice", h)
			}
			if i > 0 && h <= r[i-1] {
				t.Fatalf("one caller got %v after %v", h, r[i-1])
			}
			seen[h] = true
			hi = max(hi, h)
		}
	}
	if c.Last() != hi || len(seen) != workers*each {
		t.Errorf("Last() = %v, highest handed out %v; %d stamps", c.Last(), hi, len(seen))
	}
}
