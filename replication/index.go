package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// An Index is a replica's own derived view of some entities — a search
// index, the sort orders of a list — recomputed from the replicated views
// whenever an entity changes. Its entries are a pure function of the
// views, so they are never replicated and never part of a digest, and a
// replica may build them when it likes: within the transaction that
// changed the entity (IndexInline), behind the commit (IndexDeferred, a
// node: see Views.SetIndexing), or not at all (IndexOff, the hub).
type Index struct {
	// Name identifies the index in markers; it must not change.
	Name string
	// Prefixes are where the index keeps its entries, in the key space of
	// the views. Reads and writes of keys below them go to the index's
	// area when the index is deferred (see IndexedViews).
	Prefixes [][]byte
	// Watch says which entity a write to a view key changes, if any: the
	// entities to reindex are collected from the appliers' writes.
	Watch func(key []byte) (entity string, ok bool)
	// Reindex recomputes the entries of entity. tx reads the views and
	// the index's entries and writes the index's entries. An indexer may
	// call it from several goroutines at once, for different entities
	// (ProcessMarkersShared).
	Reindex func(tx Tx, entity string) error
	// Version is the version of the entries Reindex writes: a release
	// that changes what they are bumps it, and a replica whose entries a
	// release with another version built reindexes every entity
	// (StaleIndexes, MarkAll); Reindex removes the entries it no longer
	// writes, so it must know them from its own record.
	Version int
	// Shipped are the prefixes (within Prefixes) of the entries a
	// snapshot carries: what a replica must answer from as soon as it
	// serves — a phone lookup, type-ahead's texts. A snapshot leaves the
	// index's other entries out (its record of entries among them), and
	// the replica that installs it marks every entity of the index as it
	// comes (SnapshotMarks) and builds them behind the commit. With none,
	// a snapshot carries every entry and marks nothing.
	Shipped [][]byte
	// ReindexShipped, when set, recomputes only the entries under
	// Shipped (and what Reindex needs to remove them later): all that
	// views kept to be shipped hold (OpenShippedViews), whose other
	// entries a snapshot leaves out and nobody reads. Without it they are
	// built whole, as Reindex writes them.
	ReindexShipped func(tx Tx, entity string) error
	// MemoryPrefix, when set with Memory, is where the entries lie that
	// the replica keeps in memory too (see Memory); it lies within one of
	// Prefixes.
	MemoryPrefix []byte
	// Memory makes an empty memory for the entries below MemoryPrefix.
	Memory func() Memory
}

// AddIndex registers an index.
func (r *Registry) AddIndex(ix Index) {
	for _, o := range r.indexes {
		if o.Name == ix.Name {
			panic("replication: index registered twice: " + ix.Name)
		}
	}
	r.indexes = append(r.indexes, ix)
}

// Indexes lists the registered indexes.
func (r *Registry) Indexes() []Index { return r.indexes }

// Indexing says when a replica builds its indexes.
type Indexing int

const (
	// IndexInline reindexes a changed entity in the transaction that
	// changed it, with its entries among the views: simple, and what
	// tests' stores do; every write pays for it.
	IndexInline Indexing = iota
	// IndexDeferred records a marker for each changed entity in the
	// transaction that changed it; an indexer (ProcessMarkers) reindexes
	// behind the commit, in bulk, keeping the entries in the index area.
	IndexDeferred
	// IndexOff keeps no index (the hub, which serves no searches).
	IndexOff
)

// Keys of deferred indexes, beside the views (see the layout in views.go):
//
//	x \0 …                       the entries of deferred indexes
//	xd \0 seq(8) \0 name \0 entity   a changed entity to reindex; seq orders them
//	xb \0 seq(8) \0 name \0         -> entities, \0-separated: a snapshot's to index, after
//	                                  those above; seq counts them up to the last
//	m \0 xseq                    the last marker seq
var (
	indexAreaPrefix  = []byte("x\x00")
	markerPrefix     = []byte("xd\x00")
	bulkMarkerPrefix = []byte("xb\x00")
	markerSeqKey     = Key("m", "xseq")
)

// DeferredKey is where a replica that builds its indexes behind the
// commit (IndexDeferred) keeps the pair a replica that builds them inline
// keeps at k, both in the key space of a replica's store (views.go): an
// index entry moves from the views to the index area; anything else stays.
// A node installing the hub's company views (built inline) places their
// pairs with it.
func (r *Registry) DeferredKey(k []byte) []byte {
	if !bytes.HasPrefix(k, ViewPrefix) {
		return k
	}
	rest := k[len(ViewPrefix):]
	for _, ix := range r.indexes {
		if hasAnyPrefix(rest, ix.Prefixes) {
			return append(bytes.Clone(indexAreaPrefix), rest...)
		}
	}
	return k
}

func markerKey(seq uint64, index, entity string) []byte {
	return markerKeyIn(markerPrefix, seq, index, entity)
}

func markerKeyIn(prefix []byte, seq uint64, index, entity string) []byte {
	k := binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq)
	k = append(k, 0)
	k = append(k, index...)
	k = append(k, 0)
	return append(k, entity...)
}

// indexedTx routes the keys of deferred indexes to the index area and the
// rest to the views.
type indexedTx struct {
	views, index Tx
	prefixes     [][]byte
}

// IndexedViews returns the views of a store transaction as readers see
// them: with the entries of the registry's deferred indexes (kept in the
// index area) in their place among the views.
func IndexedViews(tx Tx, reg *Registry, mode Indexing) Tx {
	views := WithPrefix(tx, ViewPrefix)
	if mode != IndexDeferred || len(reg.indexes) == 0 {
		return views
	}
	var ps [][]byte
	for _, ix := range reg.indexes {
		ps = append(ps, ix.Prefixes...)
	}
	return &indexedTx{views: views, index: WithPrefix(tx, indexAreaPrefix), prefixes: ps}
}

func (t *indexedTx) route(k []byte) Tx {
	if hasAnyPrefix(k, t.prefixes) {
		return t.index
	}
	return t.views
}

func (t *indexedTx) Get(k []byte) ([]byte, error) { return t.route(k).Get(k) }
func (t *indexedTx) Set(k, v []byte) error        { return t.route(k).Set(k, v) }
func (t *indexedTx) Delete(k []byte) error        { return t.route(k).Delete(k) }

// Scan reads one area when prefix lies within an index's prefixes or
// outside all of them; a prefix that covers both (say "crm\0") merges the
// two in key order.
func (t *indexedTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	return t.scan(prefix, fn, false, func(tx Tx, fn func(k, v []byte) (bool, error)) error {
		return tx.Scan(prefix, start, fn)
	})
}

// ScanReverse is Scan in descending key order.
func (t *indexedTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	return t.scan(prefix, fn, true, func(tx Tx, fn func(k, v []byte) (bool, error)) error {
		return tx.ScanReverse(prefix, before, fn)
	})
}

// scan routes a scan of prefix (run by each) to the area that holds it,
// or merges both areas' keys, descending when desc.
func (t *indexedTx) scan(prefix []byte, fn func(k, v []byte) (bool, error), desc bool, each func(Tx, func(k, v []byte) (bool, error)) error) error {
	mixed := false
	for _, p := range t.prefixes {
		if bytes.HasPrefix(prefix, p) {
			return each(t.index, fn)
		}
		mixed = mixed || bytes.HasPrefix(p, prefix)
	}
	if !mixed {
		return each(t.views, fn)
	}
	type kv struct{ k, v []byte }
	var a, b []kv
	collect := func(tx Tx, out *[]kv) error {
		return each(tx, func(k, v []byte) (bool, error) {
			*out = append(*out, kv{bytes.Clone(k), bytes.Clone(v)})
			return true, nil
		})
	}
	if err := collect(t.views, &a); err != nil {
		return err
	}
	if err := collect(t.index, &b); err != nil {
		return err
	}
	for len(a) > 0 || len(b) > 0 {
		var next kv
		if len(b) == 0 || (len(a) > 0 && (bytes.Compare(a[0].k, b[0].k) < 0) != desc) {
			next, a = a[0], a[1:]
		} else {
			next, b = b[0], b[1:]
		}
		if more, err := fn(next.k, next.v); err != nil || !more {
			return err
		}
	}
	return nil
}

// watchTx passes writes through and collects the entities they change
// for the registry's indexes.
type watchTx struct {
	Tx
	indexes []Index
	feeds   []Feed
	dirty   map[string]map[string]bool // index (or "feed:" name) → entities
}

func (t *watchTx) mark(k []byte) {
	for _, ix := range t.indexes {
		if e, ok := ix.Watch(k); ok {
			t.add(ix.Name, e)
		}
	}
	for _, f := range t.feeds {
		if e, ok := f.Watch(k); ok {
			t.add("feed:"+f.Name, e)
		}
	}
}

func (t *watchTx) add(name, entity string) {
	if t.dirty[name] == nil {
		t.dirty[name] = map[string]bool{}
	}
	t.dirty[name][entity] = true
}

func (t *watchTx) Set(k, v []byte) error { t.mark(k); return t.Tx.Set(k, v) }
func (t *watchTx) Delete(k []byte) error { t.mark(k); return t.Tx.Delete(k) }

// Marker is a changed entity a deferred index must reindex.
type Marker struct {
	Seq    uint64
	Index  string
	Entity string
	// Bulk says the marker is of a snapshot's entities (SnapshotMarks),
	// whose queue an indexer serves after the other; the entities of one
	// bulk marker share its Seq.
	Bulk bool
}

func (m Marker) key() []byte {
	if m.Bulk {
		return markerKeyIn(bulkMarkerPrefix, m.Seq, m.Index, "")
	}
	return markerKey(m.Seq, m.Index, m.Entity)
}

// PendingMarkers lists up to max markers after seq after, in seq order.
// An indexer passes the highest seq it processed: a marker is deleted once
// processed, and an LSM store keeps the deletions for a while, which a
// scan from the start of the markers would pass over one by one each time
// (during a catch-up, every step anew over all the earlier steps').
func PendingMarkers(tx Tx, after uint64, max int) ([]Marker, error) {
	return pendingIn(tx, markerPrefix, after, max)
}

// PendingBulkMarkers is PendingMarkers of the bulk queue: the entities of
// a snapshot whose index entries it left out (SnapshotMarks), whole bulk
// markers of them up to about max entities. An indexer takes them when no
// other marker waits, so that what changes meanwhile — a customer an agent
// just created — is indexed first.
func PendingBulkMarkers(tx Tx, after uint64, max int) ([]Marker, error) {
	return pendingIn(tx, bulkMarkerPrefix, after, max)
}

// BulkMarkersLeft counts the entities of the bulk markers after seq
// after that wait (two seeks and a marker read, not a count).
func BulkMarkersLeft(tx Tx, after uint64) (int, error) {
	first, err := pendingIn(tx, bulkMarkerPrefix, after, 1)
	if err != nil || len(first) == 0 {
		return 0, err
	}
	last, err := lastIn(tx, bulkMarkerPrefix)
	return int(last - first[0].Seq + uint64(len(first))), err
}

func pendingIn(tx Tx, prefix []byte, after uint64, max int) ([]Marker, error) {
	var out []Marker
	bulk := bytes.Equal(prefix, bulkMarkerPrefix)
	start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), after+1)
	err := tx.Scan(prefix, start, func(k, v []byte) (bool, error) {
		rest := k[len(prefix):]
		if len(rest) < 10 {
			return true, nil
		}
		seq := binary.BigEndian.Uint64(rest)
		name, entity, ok := bytes.Cut(rest[9:], []byte{0})
		if !ok {
			return true, nil
		}
		if !bulk {
			out = append(out, Marker{Seq: seq, Index: string(name), Entity: string(entity)})
			return len(out) < max, nil
		}
		for e := range bytes.SplitSeq(v, []byte{0}) {
			if len(e) > 0 {
				out = append(out, Marker{Seq: seq, Index: string(name), Entity: string(e), Bulk: true})
			}
		}
		return len(out) < max, nil
	})
	return out, err
}

// lastIn is the highest seq of the markers below prefix (0: none).
func lastIn(tx Tx, prefix []byte) (uint64, error) {
	var seq uint64
	err := tx.ScanReverse(prefix, nil, func(k, _ []byte) (bool, error) {
		if rest := k[len(prefix):]; len(rest) >= 8 {
			seq = binary.BigEndian.Uint64(rest)
		}
		return false, nil
	})
	return seq, err
}

// ProcessMarkers reindexes the entities of markers and deletes them, in
// tx: the indexer's step behind the commit. Reads of the views see the
// state the markers were written with or later, so every change is
// reflected; an entity marked again meanwhile has a later marker, which a
// later step processes. It returns the highest seq processed, and
// committed, which the caller calls once tx has committed (and before it
// tells readers that the markers are indexed): it brings the memories up
// to date.
func (v *Views) ProcessMarkers(tx Tx, markers []Marker) (last uint64, committed func(), err error) {
	return v.ProcessMarkersShared(tx, []Tx{tx}, markers)
}

// StepWorkers is how many goroutines a step of n markers shares its
// entities among (ProcessMarkersShared): one per CPU, at most four, each
// taking 64 markers at least — the few entities a local write changes
// are not worth a second snapshot and goroutine.
func StepWorkers(n int) int {
	const maxWorkers, minMarkers = 4, 64
	return min(runtime.GOMAXPROCS(0), maxWorkers, n/minMarkers+1)
}

// ProcessMarkersShared is ProcessMarkers with the step's entities shared
// out among up to len(reads) goroutines, in runs of adjacent ones (a
// snapshot's entities come in key order): the CPUs of a node building a
// million customers' lists. Goroutine i reads through reads[i]. Each must
// show the index's entries and counters as they were when the step began
// — only indexer steps write them, one after another, so snapshots taken
// after the last step committed do — and the views as of the markers or
// later. The goroutines' writes go to write an entity's at a time, under a
// lock (a Badger transaction takes one writer at a time); the counters'
// deltas are summed over all of them and written once, read through
// reads[0]. An entity is reindexed by one goroutine only, so no two
// change the same entries.
func (v *Views) ProcessMarkersShared(write Tx, reads []Tx, markers []Marker) (last uint64, committed func(), err error) {
	byName := map[string]Index{}
	for _, ix := range v.reg.indexes {
		byName[ix.Name] = ix
	}
	done := map[string]bool{}
	var jobs []reindexJob
	for i, m := range markers {
		last = max(last, m.Seq)
		// The entities of a bulk marker are adjacent and share its key.
		if p := i - 1; p < 0 || !m.Bulk || !markers[p].Bulk || markers[p].Seq != m.Seq || markers[p].Index != m.Index {
			if err := write.Delete(m.key()); err != nil {
				return 0, nil, err
			}
		}
		ix, ok := byName[m.Index]
		if !ok || done[m.Index+"\x00"+m.Entity] {
			continue // an index this release no longer has, or done in this step
		}
		done[m.Index+"\x00"+m.Entity] = true
		jobs = append(jobs, reindexJob{ix, m.Entity})
	}
	n := max(1, min(len(reads), len(jobs)))
	parts := make([]reindexed, n)
	if n == 1 {
		parts[0] = v.reindexAll(SplitTx{Read: reads[0], Write: write}, jobs, nil)
	} else {
		shared := &sharedWrite{tx: write}
		var wg sync.WaitGroup
		for i := range n {
			run := jobs[i*len(jobs)/n : (i+1)*len(jobs)/n]
			wg.Go(func() { parts[i] = v.reindexAll(reads[i], run, shared) })
		}
		wg.Wait()
	}
	for _, p := range parts {
		if p.err != nil {
			return 0, nil, p.err
		}
	}
	counts, ops := countTx{deltas: parts[0].deltas}, parts[0].ops
	for _, p := range parts[1:] {
		for k, d := range p.deltas {
			counts.deltas[k] += d
		}
		ops = append(ops, p.ops...)
	}
	if err := counts.flush(IndexedViews(SplitTx{Read: reads[0], Write: write}, v.reg, IndexDeferred)); err != nil {
		return 0, nil, fmt.Errorf("index counters: %w", err)
	}
	return last, func() { applyMemoryOps(ops) }, nil
}

// reindexJob is an entity of an index to reindex.
type reindexJob struct {
	ix     Index
	entity string
}

// reindexed is what a run of reindexJobs did besides writing entries:
// the counters' deltas and the memories' writes.
type reindexed struct {
	deltas map[string]int64
	ops    []memoryOp
	err    error
}

// reindexAll reindexes the entities of jobs through tx; with shared, tx
// only reads, and each entity's writes are made in shared once it is done.
func (v *Views) reindexAll(tx Tx, jobs []reindexJob, shared *sharedWrite) reindexed {
	var buf *writeBuffer
	if shared != nil {
		buf = &writeBuffer{}
		tx = SplitTx{Read: tx, Write: buf}
	}
	views := IndexedViews(tx, v.reg, IndexDeferred)
	counts := countTx{deltas: map[string]int64{}}
	out := reindexed{deltas: counts.deltas}
	for _, j := range jobs {
		counts.Tx = v.reindexTx(views, j.ix, &out.ops)
		reindex := j.ix.Reindex
		if v.shippedOnly && j.ix.ReindexShipped != nil {
			reindex = j.ix.ReindexShipped
		}
		if err := reindex(counts, j.entity); err != nil {
			out.err = fmt.Errorf("reindex %s %s: %w", j.ix.Name, j.entity, err)
			return out
		}
		if buf != nil {
			if err := shared.take(buf); err != nil {
				out.err = err
				return out
			}
		}
	}
	return out
}

// sharedWrite is a Tx several goroutines write to, a buffer at a time.
type sharedWrite struct {
	mu sync.Mutex
	tx Tx
}

// take makes the writes buf holds, in order, and empties it.
func (s *sharedWrite) take(buf *writeBuffer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer buf.reset()
	for _, w := range buf.writes {
		var err error
		if w.del {
			err = s.tx.Delete(w.k)
		} else {
			err = s.tx.Set(w.k, w.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeBuffer is the write side of a SplitTx that keeps the writes for
// later; it cannot be read. Like a store's transaction it keeps the
// slices it is given.
type writeBuffer struct {
	writes []bufferedWrite
}

type bufferedWrite struct {
	k, v []byte
	del  bool
}

var errWriteOnly = errors.New("replication: a write buffer is not read")

func (b *writeBuffer) Get([]byte) ([]byte, error) { return nil, errWriteOnly }
func (b *writeBuffer) Set(k, v []byte) error {
	b.writes = append(b.writes, bufferedWrite{k: k, v: v})
	return nil
}
func (b *writeBuffer) Delete(k []byte) error {
	b.writes = append(b.writes, bufferedWrite{k: k, del: true})
	return nil
}
func (b *writeBuffer) Scan([]byte, []byte, func(k, v []byte) (bool, error)) error {
	return errWriteOnly
}
func (b *writeBuffer) ScanReverse([]byte, []byte, func(k, v []byte) (bool, error)) error {
	return errWriteOnly
}
func (b *writeBuffer) reset() { clear(b.writes); b.writes = b.writes[:0] }

// MarkAll finds every entity of the registry's indexes (of those named,
// when names are given) that the views in tx hold — scanning them with
// each index's Watch — and hands a marker key for each to emit, so that an
// indexer builds the indexes from scratch (after an upgrade that moved
// them behind the commit, or changed their Version). The caller writes
// the keys in as many transactions as it likes, then SaveMarkerSeq in the
// last. It returns how many it emitted.
func (v *Views) MarkAll(tx Tx, emit func(key []byte) error, names ...string) (int, error) {
	var indexes []Index
	for _, ix := range v.reg.indexes {
		if len(names) == 0 || slices.Contains(names, ix.Name) {
			indexes = append(indexes, ix)
		}
	}
	if len(indexes) == 0 {
		return 0, nil
	}
	seen := map[string]bool{}
	n := 0
	v.mu.Lock()
	seq := v.markerSeq
	v.mu.Unlock()
	err := WithPrefix(tx, ViewPrefix).Scan(nil, nil, func(k, _ []byte) (bool, error) {
		for _, ix := range indexes {
			e, ok := ix.Watch(k)
			if !ok || seen[ix.Name+"\x00"+e] {
				continue
			}
			seen[ix.Name+"\x00"+e] = true
			seq++
			n++
			if err := emit(markerKey(seq, ix.Name, e)); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return n, err
	}
	v.mu.Lock()
	v.markerSeq = seq
	v.mu.Unlock()
	return n, nil
}

// SaveMarkerSeq records the marker seq (after MarkAll) in tx.
func (v *Views) SaveMarkerSeq(tx Tx) error {
	v.mu.Lock()
	seq := v.markerSeq
	v.mu.Unlock()
	return tx.Set(markerSeqKey, binary.BigEndian.AppendUint64(nil, seq))
}

// SaveEventDigest records the event digest of the default scope in tx,
// which marks a store of the release before event digests as migrated.
func (v *Views) SaveEventDigest(tx Tx) error {
	v.mu.Lock()
	d := v.events[""]
	v.events[""] = d
	v.mu.Unlock()
	return tx.Set(bytes.Clone(eventsPrefix), d.Bytes())
}

// A Feed tells a replica's periodic task which entities changed since it
// last ran, so that the task looks at those instead of scanning all of
// them every time (a warehouse node offering the free stock of the
// products whose stock moved). Like an Index it is a replica's own: fed
// by the appliers' writes, seen through Watch, in the transaction that
// made the change; only replicas with deferred indexes (nodes) keep feeds.
type Feed struct {
	// Name identifies the feed; it must not change.
	Name string
	// Watch says which entity a write to a view key changes, if any.
	Watch func(key []byte) (entity string, ok bool)
}

// AddFeed registers a feed.
func (r *Registry) AddFeed(f Feed) {
	for _, o := range r.feeds {
		if o.Name == f.Name {
			panic("replication: feed registered twice: " + f.Name)
		}
	}
	r.feeds = append(r.feeds, f)
}

// Feeds lists the registered feeds.
func (r *Registry) Feeds() []Feed { return r.feeds }

// feedPrefix holds feeds' entries: xf \0 name \0 seq(8) \0 entity.
var feedPrefix = []byte("xf\x00")

func feedKeyPrefix(name string) []byte {
	return append(append(bytes.Clone(feedPrefix), name...), 0)
}

// FeedEntry is a change a feed holds.
type FeedEntry struct {
	Key    []byte // delete it once the change is dealt with
	Entity string
}

// FeedEntries lists up to max entries of feed name, oldest first; an
// entity may appear more than once.
func FeedEntries(tx Tx, name string, max int) ([]FeedEntry, error) {
	p := feedKeyPrefix(name)
	var out []FeedEntry
	err := tx.Scan(p, nil, func(k, _ []byte) (bool, error) {
		rest := k[len(p):]
		if len(rest) < 9 {
			return true, nil
		}
		out = append(out, FeedEntry{Key: bytes.Clone(k), Entity: string(rest[9:])})
		return len(out) < max, nil
	})
	return out, err
}

// SnapshotLeavesOut reports whether a snapshot of views leaves out the
// pair at k, a key in a replica's key space: the entries of an index
// outside its Shipped prefixes (see Index.Shipped) are left out, every
// other pair is carried. When it does, next is the first key after the
// run of entries left out that k begins, where a scan goes on.
func (r *Registry) SnapshotLeavesOut(k []byte) (next []byte, out bool) {
	rest, ok := bytes.CutPrefix(k, indexAreaPrefix)
	if !ok {
		return nil, false
	}
	for _, ix := range r.indexes {
		if len(ix.Shipped) == 0 {
			continue
		}
		for _, p := range ix.Prefixes {
			if bytes.HasPrefix(rest, p) && !hasAnyPrefix(rest, ix.Shipped) {
				return append(bytes.Clone(indexAreaPrefix), PrefixEnd(p)...), true
			}
		}
	}
	return nil, false
}

func hasAnyPrefix(k []byte, prefixes [][]byte) bool {
	for _, p := range prefixes {
		if bytes.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// SnapshotMarks marks, for a replica installing a snapshot, every entity
// of the indexes whose entries snapshots leave out (Index.Shipped), as
// their view pairs arrive, in bulk markers (PendingBulkMarkers) of up to
// bulkMarkerEntities entities each — a pair per few hundred entities, not
// one per entity — so that an indexer builds what was left out once the
// replica serves, after whatever changes meanwhile. An entity whose pairs
// are not adjacent (a customer's contacts, then its record) may be marked
// twice, which costs a reindex that changes nothing. A bulk marker's seq
// counts the entities marked up to its last, so the queue's length is two
// seeks away (BulkMarkersLeft).
type SnapshotMarks struct {
	indexes []Index
	seq     uint64
	last    map[string]string   // index → the entity marked last
	pending map[string][][]byte // index → entities not yet in a marker
}

// bulkMarkerEntities bounds the entities of one bulk marker: an indexer's
// step takes whole markers, and must fit a Badger transaction.
const bulkMarkerEntities = 256

// NewSnapshotMarks starts marking after the bulk markers tx holds (a
// resumed installation's), in a replica's key space.
func (r *Registry) NewSnapshotMarks(tx Tx) (*SnapshotMarks, error) {
	seq, err := lastIn(tx, bulkMarkerPrefix)
	if err != nil {
		return nil, err
	}
	m := &SnapshotMarks{seq: seq, last: map[string]string{}, pending: map[string][][]byte{}}
	for _, ix := range r.indexes {
		if len(ix.Shipped) > 0 {
			m.indexes = append(m.indexes, ix)
		}
	}
	return m, nil
}

// Pair takes the key of a pair of the snapshot, in a replica's key space,
// and hands mark each bulk marker (key and value) that fills up.
func (m *SnapshotMarks) Pair(k []byte, mark func(k, v []byte)) {
	rest, ok := bytes.CutPrefix(k, ViewPrefix)
	if !ok {
		return
	}
	for _, ix := range m.indexes {
		e, ok := ix.Watch(rest)
		if !ok || m.last[ix.Name] == e {
			continue
		}
		m.last[ix.Name] = e
		m.pending[ix.Name] = append(m.pending[ix.Name], []byte(e))
		if len(m.pending[ix.Name]) == bulkMarkerEntities {
			m.emit(ix.Name, mark)
		}
	}
}

// Flush hands mark the bulk markers of the entities marked since the
// last: a replica writes them with the pairs that called for them.
func (m *SnapshotMarks) Flush(mark func(k, v []byte)) {
	for _, ix := range m.indexes {
		if len(m.pending[ix.Name]) > 0 {
			m.emit(ix.Name, mark)
		}
	}
}

func (m *SnapshotMarks) emit(index string, mark func(k, v []byte)) {
	es := m.pending[index]
	m.seq += uint64(len(es))
	mark(markerKeyIn(bulkMarkerPrefix, m.seq, index, ""), bytes.Join(es, []byte{0}))
	m.pending[index] = es[:0]
}
