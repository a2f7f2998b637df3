// Package volume watches the free space of a data volume, so that a store
// refuses writes before the volume is full instead of crashing on it.
// It depends on nothing of Branchline but fault.
package volume

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"branchline/fault"
)

// Guard stops writes while the data volume is nearly full.
//
// Badger keeps its memtable log in a sparse memory-mapped file: when the
// volume fills, the kernel cannot back the next page and the process dies
// of SIGBUS inside a store call, with no error to answer. So the node
// refuses writes itself, with fault.ErrExhausted, once free space falls
// below a reserve large enough for everything the store may still write
// without being asked, and accepts them again by itself once space is
// freed. Reads never write and go on. (Pebble, on the hub, writes with
// write(2) and gets ENOSPC instead, but a hub member that cannot apply a
// committed entry cannot go on either.)
//
// The check is a statfs(2) before each group commit (about a microsecond)
// and once a second in the background, for /readyz and the UI. What it
// cannot prevent is another process taking the reserve between a check and
// the write that follows it; the reserve makes that window small.
type Guard struct {
	dir     string
	minFree uint64
	statfs  func(dir string) (free uint64, err error)

	low  atomic.Bool
	free atomic.Uint64
}

// NewGuard watches the volume of dir, refusing writes while less than
// minFree bytes are free. A nil *Guard (minFree 0) refuses nothing.
func NewGuard(dir string, minFree uint64) *Guard {
	if minFree == 0 {
		return nil
	}
	return &Guard{dir: dir, minFree: minFree, statfs: freeBytes}
}

// freeBytes is the space on dir's volume available to this process.
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// Check reads the free space now and returns fault.ErrExhausted (wrapped
// with the figures) while it is under the reserve. A failing statfs does
// not stop writes: the store's own error will say what is wrong.
func (g *Guard) Check() error {
	if g == nil {
		return nil
	}
	free, err := g.statfs(g.dir)
	if err != nil {
		return nil
	}
	g.free.Store(free)
	low := free < g.minFree
	g.low.Store(low)
	if low {
		return g.err(free)
	}
	return nil
}

func (g *Guard) err(free uint64) error {
	return fmt.Errorf("data volume of %s has %d MiB free, under the %d MiB kept in reserve: "+
		"writes are refused until space is freed: %w", g.dir, free>>20, g.minFree>>20, fault.ErrExhausted)
}

// Low reports whether the last check found the volume under the reserve.
func (g *Guard) Low() bool { return g != nil && g.low.Load() }

// MinFree is the reserve.
func (g *Guard) MinFree() uint64 {
	if g == nil {
		return 0
	}
	return g.minFree
}

// Free is the free space the last check found.
func (g *Guard) Free() uint64 {
	if g == nil {
		return 0
	}
	return g.free.Load()
}
