package hub

import (
	"sync"
)

// The log's tail in memory. Every node keeps a Pull open that follows the
// head, so each entry a member commits is read by as many streams as there
// are nodes: with 200 branches, 200 Pebble seeks and parses of the same
// bytes. The state machine keeps its latest entries, as it wrote them, in
// a ring; a stream whose next position is in the ring reads it from there,
// parsed once (at commit), and sends its bytes as they are (batch); one
// further behind reads Pebble as before.

// tailEntries bounds the ring: over a second of commits at 50,000
// events/s. An entry of a customer's creation holds about 0.5 KiB (its
// 316 bytes and the parsed envelope): some 32 MiB of a member's heap.
const tailEntries = 1 << 16

// tailEntry is one log entry of the tail: its bytes as stored and what
// Pull filters on. Streams share it: nothing may change it after it is in
// the ring.
type tailEntry struct {
	raw []byte
	e   entry
}

func newTailEntry(raw []byte) (*tailEntry, error) {
	t := &tailEntry{raw: raw}
	if err := peekCommitted(raw, &t.e); err != nil {
		return nil, err
	}
	return t, nil
}

// tail is the ring of the latest entries, at consecutive positions.
type tail struct {
	size  int // entries it holds at most (0: tailEntries)
	mu    sync.RWMutex
	ring  []*tailEntry // len size once used
	first uint64       // position of the oldest entry held (0: none)
	n     int          // entries held
	start int          // index in ring of the oldest
}

// add appends entries at consecutive positions, which follow the last
// held (or the ring starts afresh at the first of them).
func (t *tail) add(ents []*tailEntry) {
	if len(ents) == 0 {
		return
	}
	from := ents[0].e.pos
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.size == 0 {
		t.size = tailEntries
	}
	if t.n > 0 && t.first+uint64(t.n) != from {
		t.resetLocked()
	}
	if len(ents) >= t.size { // they replace everything held
		from += uint64(len(ents) - t.size)
		ents = ents[len(ents)-t.size:]
		t.resetLocked()
	}
	if t.ring == nil {
		t.ring = make([]*tailEntry, t.size)
	}
	if t.n == 0 {
		t.first = from
	}
	for _, e := range ents {
		if t.n == t.size {
			t.ring[t.start] = nil
			t.start = (t.start + 1) % t.size
			t.first++
			t.n--
		}
		t.ring[(t.start+t.n)%t.size] = e
		t.n++
	}
}

// reset drops every entry (the state machine's store was replaced).
func (t *tail) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resetLocked()
}

func (t *tail) resetLocked() {
	clear(t.ring)
	t.first, t.n, t.start = 0, 0, 0
}

// from returns up to max entries from position pos on, and whether the
// ring holds pos (or pos is the position after the last held, with
// nothing to return): when not, the caller reads the log in Pebble.
func (t *tail) from(pos uint64, max int) ([]*tailEntry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.n == 0 || pos < t.first || pos > t.first+uint64(t.n) {
		return nil, false
	}
	i := int(pos - t.first)
	k := min(max, t.n-i)
	out := make([]*tailEntry, k)
	for j := range out {
		out[j] = t.ring[(t.start+i+j)%t.size]
	}
	return out, true
}
