package replication

import (
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
	c := NewClock(func() time.Time { return now }, 0)
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
	persisted := MakeHLC(wall.Add(time.Hour).UnixMilli(), 7) // written before a restart
	c := NewClock(func() time.Time { return wall }, persisted)
	if got := c.Now(); got <= persisted {
		t.Fatalf("Now() = %v after restart with floor %v", got, persisted)
	}
}

func TestClockObserve(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall }, 0)
	remote := MakeHLC(wall.Add(time.Minute).UnixMilli(), 3)
	c.Observe(remote)
	if got := c.Now(); got <= remote {
		t.Fatalf("Now() = %v, want after observed %v", got, remote)
	}
}

func TestClockCounterOverflowCarries(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall }, MakeHLC(wall.UnixMilli(), 0xffff))
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
		c := NewClock(func() time.Time { return time.UnixMilli(wall) }, 0)
		var last HLC
		for i, n := 0, rapid.IntRange(1, 200).Draw(t, "n"); i < n; i++ {
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				wall += rapid.Int64Range(-3_600_000, 3_600_000).Draw(t, "step")
			case 1:
				r := MakeHLC(base+rapid.Int64Range(-10_000, 10_000).Draw(t, "remote"), uint16(rapid.IntRange(0, 0xffff).Draw(t, "ctr")))
				c.Observe(r)
				if r > last {
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
