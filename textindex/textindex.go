// Package textindex finds, among many short texts kept in memory, those
// that contain a typed string: the type-ahead over a node's customers
// (their names, mnemonics, codes and phone digits), where a query of one
// Chinese character or two digits must answer within milliseconds among a
// million texts.
//
// A document is an id and a text; the text may hold several fields
// separated by NUL, and no match crosses a separator. Documents are
// numbered in the order they are put (slots); putting an id again gives it
// a new slot and leaves the old one dead, so the newest documents come
// first in every answer.
//
// For every pair of adjacent runes of a field (a bigram), and for its last
// rune paired with 0, the index keeps the slots whose text holds the pair.
// A query of two runes or more walks the shortest list among its bigrams'
// and checks each candidate's text; a query of one rune walks the lists of
// the bigrams that start with it. The lists live in segments by slot
// range: a bulk-built, compressed base (slot deltas as varints, newest
// first), a fresh segment taking new slots in plain maps, and, while the
// fresh one is being folded into a new base in the background, a frozen
// one between them. So a put costs a few map appends, and the index's size
// stays near two bytes per bigram occurrence.
package textindex

import (
	"container/heap"
	"encoding/binary"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Index is a substring index over documents. It is safe for concurrent
// use.
type Index struct {
	mu     sync.RWMutex
	docs   docTable
	byID   map[string]uint32 // id → slot of its live document
	base   *segment          // slots below frozen's (or fresh's)
	frozen *mapSegment       // being folded into base, or nil
	fresh  *mapSegment       // the newest slots
	live   int

	merged *sync.Cond // signalled when a fold ends (on mu)

	// minFold and minDead are the least documents folded at once and dead
	// slots compacted at once; tests make them small.
	minFold, minDead int
}

// New returns an empty index.
func New() *Index {
	x := &Index{byID: map[string]uint32{}, base: &segment{}, fresh: newMapSegment(0), minFold: 1 << 16, minDead: 1 << 16}
	x.merged = sync.NewCond(&x.mu)
	return x
}

// foldAt is how many documents the fresh segment takes before it is
// folded into the base: at least 64Ki, and an eighth of the base, so that
// folding a million documents in one by one copies the base a few dozen
// times at most.
func (x *Index) foldAt() int { return max(x.minFold, x.base.docs/8) }

// loadFoldAt is foldAt for a bulk load (Load): as many documents as the
// base. A fold rewrites the base, so a load folds about twice its
// documents in all rather than nine times; nobody queries meanwhile.
func (x *Index) loadFoldAt() int { return max(x.minFold, x.base.docs) }

// Put sets the text of id, replacing the one it had.
func (x *Index) Put(id, text string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if slot, ok := x.byID[id]; ok {
		if _, old := x.docs.get(slot); old == text {
			return
		}
	}
	x.putLocked(id, text)
	if x.frozen == nil && x.fresh.docs >= x.foldAt() {
		x.startFold(true)
	}
	x.maybeCompact()
}

// putLocked gives id a new slot holding text, in the fresh segment, and
// kills the one it had; x.mu is held.
func (x *Index) putLocked(id, text string) {
	if slot, ok := x.byID[id]; ok {
		x.docs.kill(slot)
		x.live--
	}
	slot := x.docs.add(id, text)
	x.byID[x.docs.id(slot)] = slot
	x.live++
	x.fresh.add(slot, text)
}

// Delete removes id's document.
func (x *Index) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if slot, ok := x.byID[id]; ok {
		x.docs.kill(slot)
		delete(x.byID, id)
		x.live--
	}
	x.maybeCompact()
}

// Len is the number of documents.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Text returns id's text.
func (x *Index) Text(id string) (string, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	slot, ok := x.byID[id]
	if !ok {
		return "", false
	}
	_, text := x.docs.get(slot)
	return text, true
}

// Load puts many documents, as a store's scan hands them over, and builds
// the base in place: the way to fill an index when a replica opens. It
// folds at loadFoldAt, not at foldAt as Put does to keep queries quick.
func (x *Index) Load(each func(put func(id, text string)) error) error {
	err := each(func(id, text string) {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.putLocked(id, text)
		if x.fresh.docs >= x.loadFoldAt() {
			x.waitFold()
			x.startFold(false)
		}
	})
	x.Flush()
	return err
}

// Flush folds the fresh segment into the base and returns once that is
// done: a smaller, faster index after a bulk load, and a settled one for
// tests.
func (x *Index) Flush() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.waitFold()
	if x.fresh.docs > 0 {
		x.startFold(false)
	}
}

// waitFold waits, with mu held, until no fold runs.
func (x *Index) waitFold() {
	for x.frozen != nil {
		x.merged.Wait()
	}
}

// startFold freezes the fresh segment and folds it into the base, in the
// background or (background false) before it returns; mu is held.
func (x *Index) startFold(background bool) {
	frozen, base := x.fresh, x.base
	x.frozen, x.fresh = frozen, newMapSegment(frozen.hi())
	fold := func() *segment { return base.with(frozen, frozen.hi()) }
	if !background {
		x.base, x.frozen = fold(), nil
		x.merged.Broadcast()
		return
	}
	go func() {
		next := fold()
		x.mu.Lock()
		defer x.mu.Unlock()
		x.base, x.frozen = next, nil
		x.merged.Broadcast()
		x.maybeCompact()
	}()
}

// maybeCompact renumbers the live documents once dead slots outnumber
// them (texts replaced or deleted many times over); mu is held. It stops
// the index for as long as a bulk load of the live documents takes, which
// happens once per that many changes of the texts.
func (x *Index) maybeCompact() {
	dead := x.docs.n - x.live
	if dead < x.minDead || dead < x.live || x.frozen != nil {
		return
	}
	old := x.docs
	x.docs, x.byID, x.base, x.fresh, x.live = docTable{}, map[string]uint32{}, &segment{}, newMapSegment(0), 0
	for slot := range uint32(old.n) {
		if old.dead(slot) {
			continue
		}
		id, text := old.get(slot)
		s := x.docs.add(id, text)
		x.byID[x.docs.id(s)] = s
		x.live++
		x.fresh.add(s, text)
		if x.fresh.docs >= x.foldAt() {
			x.startFold(false)
		}
	}
	if x.fresh.docs > 0 {
		x.startFold(false)
	}
}

// Find calls fn with each document whose text contains q, newest first,
// until fn returns false. fn runs with the index locked for reading: it
// must not call the index. An empty q, or one holding NUL or invalid
// UTF-8, finds nothing.
func (x *Index) Find(q string, fn func(id, text string) bool) {
	if q == "" || strings.IndexByte(q, 0) >= 0 || !utf8.ValidString(q) {
		return
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	r0, n0 := utf8.DecodeRuneInString(q)
	single := n0 == len(q)
	keys := queryBigrams(q)
	yield := func(slot uint32) bool {
		if x.docs.dead(slot) {
			return true
		}
		id, text := x.docs.get(slot)
		if !single && !strings.Contains(text, q) {
			return true
		}
		return fn(id, text)
	}
	if x.fresh.find(r0, single, keys, yield) && (x.frozen == nil || x.frozen.find(r0, single, keys, yield)) {
		x.base.find(r0, single, keys, yield)
	}
}

// Stats describes an index's size.
type Stats struct {
	Docs      int // live documents
	Dead      int // dead slots not yet compacted away
	Bigrams   int // distinct bigrams of the base
	Postings  int // bigram occurrences, all segments
	TextBytes int // ids and texts, dead ones included
	ListBytes int // the base's compressed lists and their directory
}

// Stats measures the index.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := Stats{Docs: x.live, Dead: x.docs.n - x.live, Bigrams: len(x.base.keys), TextBytes: x.docs.bytes,
		Postings:  x.base.postings + x.fresh.postings,
		ListBytes: len(x.base.data) + 16*len(x.base.keys)}
	if x.frozen != nil {
		s.Postings += x.frozen.postings
	}
	return s
}

// bigram packs a pair of runes; second is 0 after the last rune of a
// field.
func bigram(first, second rune) uint64 { return uint64(first)<<32 | uint64(uint32(second)) }

// Three digits in a row are also indexed as a trigram: digits are few, so
// the list of a pair of digits holds most documents (every mobile number
// has a dozen pairs), and a typed phone fragment intersected by pairs
// would walk such lists; by threes the lists are ten times shorter. A
// trigram's key is a bigram whose first "rune" lies beyond Unicode
// (trigramBase plus the first two digits), so that no one-rune query's
// range of bigrams holds it.
const trigramBase = unicode.MaxRune + 1

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func trigram(a, b, c rune) uint64 { return bigram(trigramBase+(a-'0')*10+(b-'0'), c) }

// bigrams appends the distinct bigrams (and digit trigrams) of text's
// fields to out, sorted.
func bigrams(text string, out []uint64) []uint64 {
	start := len(out)
	prev2, prev := rune(0), rune(0)
	for _, r := range text {
		if prev != 0 {
			out = append(out, bigram(prev, r)) // r is 0 at the end of a field
		}
		if isDigit(prev2) && isDigit(prev) && isDigit(r) {
			out = append(out, trigram(prev2, prev, r))
		}
		prev2, prev = prev, r
	}
	if prev != 0 {
		out = append(out, bigram(prev, 0))
	}
	slices.Sort(out[start:])
	return slices.Compact(out)
}

// queryBigrams returns the keys whose lists hold every match of q: the
// trigrams of its runs of three digits or more, and the bigrams not within
// such a run (none of them ending a field: a match may go on after q).
func queryBigrams(q string) []uint64 {
	rs := []rune(q)
	run := make([]int, len(rs)) // length of the digit run each rune is in
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && isDigit(rs[j]) {
			j++
		}
		for k := i; k < j; k++ {
			run[k] = j - i
		}
		i = max(j, i+1)
	}
	var out []uint64
	for i := 1; i < len(rs); i++ {
		if run[i] >= 3 && run[i-1] >= 3 {
			if i >= 2 && run[i-2] >= 3 {
				out = append(out, trigram(rs[i-2], rs[i-1], rs[i]))
			}
			continue
		}
		out = append(out, bigram(rs[i-1], rs[i]))
	}
	return out
}

// docTable stores ids and texts in append-only chunks: a slot's record is
// uvarint(len id) id uvarint(len text) text, never moved once written, so
// the strings handed out point into the chunks and cost no copy.
type docTable struct {
	chunks [][]byte
	at     []uint64 // slot → chunk<<32 | offset
	gone   []uint64 // dead slots, one bit each
	n      int
	bytes  int
}

const chunkSize = 1 << 20

func (d *docTable) add(id, text string) uint32 {
	need := 2*binary.MaxVarintLen32 + len(id) + len(text)
	if len(d.chunks) == 0 || cap(d.chunks[len(d.chunks)-1])-len(d.chunks[len(d.chunks)-1]) < need {
		d.chunks = append(d.chunks, make([]byte, 0, max(chunkSize, need)))
	}
	c := len(d.chunks) - 1
	b := d.chunks[c]
	off := len(b)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(text)))
	b = append(b, text...)
	d.chunks[c] = b
	d.bytes += len(b) - off
	slot := uint32(d.n)
	d.at = append(d.at, uint64(c)<<32|uint64(off))
	if d.n%64 == 0 {
		d.gone = append(d.gone, 0)
	}
	d.n++
	return slot
}

func (d *docTable) record(slot uint32) []byte {
	at := d.at[slot]
	return d.chunks[at>>32][uint32(at):]
}

// get returns a slot's id and text.
func (d *docTable) get(slot uint32) (id, text string) {
	b := d.record(slot)
	n, w := binary.Uvarint(b)
	id = unsafe.String(&b[w], int(n))
	b = b[w+int(n):]
	n, w = binary.Uvarint(b)
	if n == 0 {
		return id, ""
	}
	return id, unsafe.String(&b[w], int(n))
}

func (d *docTable) id(slot uint32) string { id, _ := d.get(slot); return id }

func (d *docTable) kill(slot uint32)      { d.gone[slot/64] |= 1 << (slot % 64) }
func (d *docTable) dead(slot uint32) bool { return d.gone[slot/64]&(1<<(slot%64)) != 0 }

// mapSegment holds the lists of slots from lo on, in maps: first rune →
// second rune → ascending slots.
type mapSegment struct {
	lo       uint32
	last     uint32 // highest slot added + 1
	lists    map[rune]map[rune][]uint32
	docs     int
	postings int
	scratch  []uint64
}

func newMapSegment(lo uint32) *mapSegment {
	return &mapSegment{lo: lo, last: lo, lists: map[rune]map[rune][]uint32{}}
}

func (m *mapSegment) hi() uint32 { return m.last }

func (m *mapSegment) add(slot uint32, text string) {
	m.scratch = bigrams(text, m.scratch[:0])
	for _, k := range m.scratch {
		first, second := rune(k>>32), rune(uint32(k))
		inner := m.lists[first]
		if inner == nil {
			inner = map[rune][]uint32{}
			m.lists[first] = inner
		}
		inner[second] = append(inner[second], slot)
	}
	m.postings += len(m.scratch)
	m.docs++
	m.last = slot + 1
}

// find hands yield the segment's candidate slots for a query, newest
// first; it returns false once yield did.
func (m *mapSegment) find(first rune, single bool, keys []uint64, yield func(uint32) bool) bool {
	if single {
		inner := m.lists[first]
		cs := make([]cursor, 0, len(inner))
		for _, l := range inner {
			cs = append(cs, &sliceCursor{l: l, i: len(l)})
		}
		return drain(cs, yield)
	}
	cs := make([]cursor, 0, len(keys))
	for _, k := range keys {
		l := m.lists[rune(k>>32)][rune(uint32(k))]
		if len(l) == 0 {
			return true
		}
		cs = append(cs, &sliceCursor{l: l, i: len(l)})
	}
	return intersect(cs, yield)
}

// segment is the bulk-built base: for each bigram (keys, sorted) a list
// of slots below hi, newest first, as uvarint(hi-1-first) followed by
// uvarint(previous-next-1) for each further slot.
//
// A list longer than skipEvery slots has skip points: every skipEvery
// slots, where that slot's delta starts in the list and the slot before
// it, so that a seek far down a long list (the lists of digit pairs hold
// most customers) jumps instead of decoding every slot on the way.
type segment struct {
	hi       uint32
	keys     []uint64
	ends     []uint32 // end of keys[i]'s list in data
	counts   []uint32 // slots in keys[i]'s list
	skipEnds []uint32 // end of keys[i]'s skip points in skips
	skips    []skip
	data     []byte
	docs     int
	postings int
}

const skipEvery = 64

// skip is a point of a list to resume decoding from.
type skip struct {
	prev uint32 // the slot before the one at off
	off  uint32 // where that slot's delta starts, from the list's start
}

func (s *segment) skipsOf(i int) []skip {
	start := uint32(0)
	if i > 0 {
		start = s.skipEnds[i-1]
	}
	return s.skips[start:s.skipEnds[i]]
}

func (s *segment) cursor(i int) *listCursor {
	return &listCursor{list: s.list(i), next: s.hi, n: s.counts[i], skips: s.skipsOf(i)}
}

// addSkips appends the skip points of the list just written to data
// (from start), which holds count slots below hi.
func (s *segment) addSkips(start int, count uint32, hi uint32) {
	if count > skipEvery {
		l := s.data[start:]
		prev, off := hi, 0
		for n := uint32(0); off < len(l); n++ {
			d, w := binary.Uvarint(l[off:])
			if n%skipEvery == 0 && n > 0 {
				s.skips = append(s.skips, skip{prev: prev, off: uint32(off)})
			}
			prev = prev - 1 - uint32(d)
			off += w
		}
	}
	s.skipEnds = append(s.skipEnds, uint32(len(s.skips)))
}

func (s *segment) list(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.data[start:s.ends[i]]
}

func (s *segment) find(first rune, single bool, keys []uint64, yield func(uint32) bool) bool {
	if single {
		lo, _ := slices.BinarySearch(s.keys, bigram(first, 0))
		hi, _ := slices.BinarySearch(s.keys, bigram(first+1, 0))
		cs := make([]cursor, 0, hi-lo)
		for i := lo; i < hi; i++ {
			cs = append(cs, s.cursor(i))
		}
		return drain(cs, yield)
	}
	cs := make([]cursor, 0, len(keys))
	for _, k := range keys {
		i, ok := slices.BinarySearch(s.keys, k)
		if !ok {
			return true
		}
		cs = append(cs, s.cursor(i))
	}
	return intersect(cs, yield)
}

// with returns a new base holding s's lists and m's, m's slots (all at or
// above s.hi) first. Neither s nor m changes, so readers go on using them
// while it runs.
func (s *segment) with(m *mapSegment, hi uint32) *segment {
	mkeys := make([]uint64, 0, m.postings/8)
	for first, inner := range m.lists {
		for second := range inner {
			mkeys = append(mkeys, bigram(first, second))
		}
	}
	slices.Sort(mkeys)
	out := &segment{hi: hi, docs: s.docs + m.docs, postings: s.postings + m.postings}
	n := len(s.keys) + len(mkeys)
	out.keys = make([]uint64, 0, n)
	out.ends = make([]uint32, 0, n)
	out.counts = make([]uint32, 0, n)
	out.skipEnds = make([]uint32, 0, n)
	out.data = make([]byte, 0, len(s.data)+m.postings*2)
	i, j := 0, 0
	for i < len(s.keys) || j < len(mkeys) {
		var k uint64
		switch {
		case j == len(mkeys) || i < len(s.keys) && s.keys[i] < mkeys[j]:
			k = s.keys[i]
		default:
			k = mkeys[j]
		}
		prev := hi // the slot before the first is hi: its delta is hi-1-first
		count := uint32(0)
		start := len(out.data)
		if j < len(mkeys) && mkeys[j] == k {
			l := m.lists[rune(k>>32)][rune(uint32(k))]
			for x := len(l) - 1; x >= 0; x-- {
				out.data = binary.AppendUvarint(out.data, uint64(prev-l[x]-1))
				prev = l[x]
			}
			count += uint32(len(l))
			j++
		}
		if i < len(s.keys) && s.keys[i] == k {
			b := s.list(i)
			first, w := binary.Uvarint(b)
			slot := s.hi - 1 - uint32(first)
			out.data = binary.AppendUvarint(out.data, uint64(prev-slot-1))
			out.data = append(out.data, b[w:]...)
			count += s.counts[i]
			i++
		}
		out.keys = append(out.keys, k)
		out.ends = append(out.ends, uint32(len(out.data)))
		out.counts = append(out.counts, count)
		out.addSkips(start, count, hi)
	}
	return out
}

// A cursor hands out a list's slots, newest first.
type cursor interface {
	peek() (uint32, bool)
	pop() (uint32, bool)
	// seek skips the slots above target and peeks at the next.
	seek(target uint32) (uint32, bool)
	// len is how many slots the list holds.
	len() int
}

type sliceCursor struct {
	l []uint32
	i int // slots below i are left
}

func (c *sliceCursor) peek() (uint32, bool) {
	if c.i == 0 {
		return 0, false
	}
	return c.l[c.i-1], true
}

func (c *sliceCursor) seek(target uint32) (uint32, bool) {
	if s, ok := c.peek(); !ok || s <= target {
		return s, ok
	}
	c.i, _ = slices.BinarySearch(c.l[:c.i], target+1)
	return c.peek()
}

func (c *sliceCursor) len() int { return len(c.l) }

func (c *sliceCursor) pop() (uint32, bool) {
	s, ok := c.peek()
	if ok {
		c.i--
	}
	return s, ok
}

type listCursor struct {
	list  []byte
	off   int    // where the next slot's delta starts
	next  uint32 // the slot before the next one in the list
	have  bool
	cur   uint32
	n     uint32
	skips []skip
}

func (c *listCursor) len() int { return int(c.n) }

func (c *listCursor) seek(target uint32) (uint32, bool) {
	s, ok := c.peek()
	if !ok || s <= target {
		return s, ok
	}
	// The last skip point whose slot before is above target: every slot
	// up to it is above target too.
	if j := sort.Search(len(c.skips), func(j int) bool { return c.skips[j].prev <= target }) - 1; j >= 0 && int(c.skips[j].off) >= c.off {
		c.off, c.next, c.have = int(c.skips[j].off), c.skips[j].prev, false
		s, ok = c.peek()
	}
	for ok && s > target {
		c.have = false
		s, ok = c.peek()
	}
	return s, ok
}

func (c *listCursor) peek() (uint32, bool) {
	if c.have {
		return c.cur, true
	}
	if c.off >= len(c.list) {
		return 0, false
	}
	d, w := binary.Uvarint(c.list[c.off:])
	c.off += w
	c.cur = c.next - 1 - uint32(d)
	c.next, c.have = c.cur, true
	return c.cur, true
}

func (c *listCursor) pop() (uint32, bool) {
	s, ok := c.peek()
	c.have = false
	return s, ok
}

// intersect hands yield the slots in every cursor's list, newest first,
// the shortest list leading the others.
func intersect(cs []cursor, yield func(uint32) bool) bool {
	slices.SortFunc(cs, func(a, b cursor) int { return a.len() - b.len() })
	lead := cs[0]
	for {
		c, ok := lead.peek()
		if !ok {
			return true
		}
		agreed := true
		for _, o := range cs[1:] {
			s, ok := o.seek(c)
			if !ok {
				return true
			}
			if s < c {
				// No list but lead's holds c: go on from s.
				if _, ok := lead.seek(s); !ok {
					return true
				}
				agreed = false
				break
			}
		}
		if !agreed {
			continue
		}
		lead.pop()
		if !yield(c) {
			return false
		}
	}
}

// drain merges cursors into one newest-first stream of distinct slots.
func drain(cs []cursor, yield func(uint32) bool) bool {
	h := cursorHeap(cs[:0])
	for _, c := range cs {
		if _, ok := c.peek(); ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	last, any := uint32(0), false
	for len(h) > 0 {
		slot, _ := h[0].pop()
		if _, ok := h[0].peek(); ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		if any && slot == last {
			continue
		}
		last, any = slot, true
		if !yield(slot) {
			return false
		}
	}
	return true
}

type cursorHeap []cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, _ := h[i].peek()
	b, _ := h[j].peek()
	return a > b
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
