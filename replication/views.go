package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// The key space every replica's store shares. Only views are replicated
// state; the rest is bookkeeping of this replica.
//
//	v \0 …                   the views appliers write; the digest covers them
//	a \0 origin              highest seq of origin received (applied, parked or invalid)
//	p \0 n(8)                parked event n, encoded (see Parked)
//	bad \0 origin \0 seq(8)  why an event was refused as invalid (see Invalid)
//	m \0 events \0 scope        digest of the events applied, per scope
//	m \0 digest, applied, parked, parkseq, invalid, xseq   counters
//	x \0 …, xd \0 …             deferred indexes and their markers (index.go)
var (
	// ViewPrefix holds the views appliers write; the digest covers it.
	ViewPrefix = []byte("v\x00")
	// appliedPrefix holds each origin's highest received seq.
	appliedPrefix = "a"
	parkPrefix    = []byte("p\x00")
	badPrefix     = Prefix("bad")
	digestKey     = Key("m", "digest")
	countKey      = Key("m", "applied")
	parkedKey     = Key("m", "parked")
	parkSeqKey    = Key("m", "parkseq")
	invalidKey    = Key("m", "invalid")
	eventsPrefix  = Prefix("m", "events")
)

// Outcome says what Apply did with an event.
type Outcome int

const (
	// Applied means the event changed (or was run against) the views.
	Applied Outcome = iota
	// Duplicate means the replica had received the event before.
	Duplicate
	// Parked means the event is kept, not applied: its kind is not active
	// here (a newer release made it), or an earlier event of its origin is
	// parked. It is applied, in order, by Unpark once the kind is active.
	Parked
	// Invalid means the event's kind is known but its body does not decode
	// or fails the kind's check: it is recorded (see InvalidEvents) and
	// changes nothing, alike on every replica.
	Invalid
)

// Views applies events to the views of one store, drops events it has
// seen (by origin and seq), parks events it cannot apply yet, and keeps
// the digest and counts of applied events. One writer at a time uses it:
// the store's single write path.
//
// Each origin's events reach Apply in seq order, and are applied in that
// order: once one is parked, the origin's later events are parked behind
// it, since an applier may rely on the events of one origin coming in the
// order they were made. Parking never drops an event — the failure it
// replaces lost an unknown kind for good on an older replica, even after
// its upgrade.
type Views struct {
	reg      *Registry
	active   func(kind string) bool
	scope    func(ev *Event) string
	indexing Indexing
	// shippedOnly: of an index with Shipped prefixes, only those entries
	// are built (OpenShippedViews).
	shippedOnly bool
	// trackViews keeps the digest of the views' content current, which
	// reads the old value of every key written: tests' stores do, to prove
	// convergence; nodes and hub compare event digests instead and compute
	// the views' digest by scan when asked (ctl verify).
	trackViews bool
	// noFeeds keeps no feed entries (views nobody runs a node task on).
	noFeeds bool
	mem     memories // see Memory

	mu        sync.Mutex
	digest    Digest            // of the views' content (trackViews)
	events    map[string]Digest // of the events applied, per scope
	applied   uint64
	parked    uint64
	parkSeq   uint64
	invalid   uint64
	markerSeq uint64
	seqs      map[string]uint64 // highest seq received per origin
	blocked   map[string]uint64 // parked events per origin
}

// OpenViews loads the bookkeeping that tx's store recorded.
func OpenViews(reg *Registry, tx Tx) (*Views, error) {
	v := &Views{reg: reg, active: reg.Known, trackViews: true}
	if err := v.load(tx); err != nil {
		return nil, err
	}
	if err := v.LoadMemories(tx); err != nil {
		return nil, err
	}
	return v, nil
}

// OpenViewsIndexed loads the bookkeeping of views whose indexes are kept
// as mode says, keeping no memories: views that replace no searches of
// their own (the hub's company-wide views, which a new node's snapshot
// starts from, keep their index entries inline for the node to use).
func OpenViewsIndexed(reg *Registry, tx Tx, mode Indexing) (*Views, error) {
	v := &Views{reg: reg, active: reg.Known, trackViews: true, indexing: mode}
	if err := v.load(tx); err != nil {
		return nil, err
	}
	return v, nil
}

// OpenShippedViews loads the bookkeeping of views kept to be shipped in
// snapshots (the hub's company-wide views): indexed behind the commit,
// keeping no memories, and of an index with Shipped prefixes only the
// entries a snapshot carries (Index.ReindexShipped).
func OpenShippedViews(reg *Registry, tx Tx) (*Views, error) {
	v, err := OpenViewsIndexed(reg, tx, IndexDeferred)
	if err != nil {
		return nil, err
	}
	v.shippedOnly = true
	return v, nil
}

func (v *Views) load(tx Tx) error {
	var digest Digest
	b, err := tx.Get(digestKey)
	switch {
	case err == nil:
		if digest, err = DigestFromBytes(b); err != nil {
			return err
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	counters := make([]uint64, 5)
	for i, k := range [][]byte{countKey, parkedKey, parkSeqKey, invalidKey, markerSeqKey} {
		b, err := tx.Get(k)
		switch {
		case err == nil && len(b) == 8:
			counters[i] = binary.BigEndian.Uint64(b)
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		}
	}
	events := map[string]Digest{}
	err = tx.Scan(eventsPrefix, nil, func(k, val []byte) (bool, error) {
		d, err := DigestFromBytes(val)
		events[string(k[len(eventsPrefix):])] = d
		return err == nil, err
	})
	if err != nil {
		return err
	}
	seqs := map[string]uint64{}
	err = tx.Scan(Prefix(appliedPrefix), nil, func(k, val []byte) (bool, error) {
		// A malformed entry (no store writes one) is left to AppliedSeq to
		// report when that origin is asked for.
		if len(val) == 8 {
			seqs[LastPart(k)] = binary.BigEndian.Uint64(val)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	blocked := map[string]uint64{}
	if counters[1] > 0 {
		err = tx.Scan(parkPrefix, nil, func(_, val []byte) (bool, error) {
			ev, err := UnmarshalEvent(val)
			if err != nil {
				return false, err
			}
			blocked[ev.Origin]++
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.digest, v.events, v.seqs, v.blocked = digest, events, seqs, blocked
	v.applied, v.parked, v.parkSeq, v.invalid, v.markerSeq = counters[0], counters[1], counters[2], counters[3], counters[4]
	return nil
}

// TrackViewDigest turns the incremental digest of the views' content on or
// off (on by default). Off, writes no longer read the values they replace,
// and Digest stays what it was; compare EventDigest, or the views by scan
// (DigestOf).
func (v *Views) TrackViewDigest(on bool) { v.trackViews = on }

// SetIndexing says when the registry's indexes are built (IndexInline by
// default).
// It drops the memories loaded for the mode before: call LoadMemories.
func (v *Views) SetIndexing(m Indexing) {
	v.indexing = m
	v.mem.mu.Lock()
	v.mem.byIdx = nil
	v.mem.mu.Unlock()
}

// SetFeeds says whether the views record the entities their feeds watch
// for node tasks (default: with IndexDeferred, yes); views no task reads
// turn it off, or the entries would pile up.
func (v *Views) SetFeeds(on bool) { v.noFeeds = !on }

// Indexing is when the registry's indexes are built.
func (v *Views) Indexing() Indexing { return v.indexing }

// SetScope sorts applied events into scopes, each with its own event
// digest (nil: by home scope, see HomeScope). Replicas that hold different
// parts of the company compare the digests of the scopes they share.
func (v *Views) SetScope(scope func(ev *Event) string) { v.scope = scope }

// EventDigest returns the digest of the events applied (or refused as
// invalid) in scope: an order-independent hash of their identities and
// contents. Replicas that applied the same events in a scope have equal
// digests, and since applying is deterministic, equal views of it.
func (v *Views) EventDigest(scope string) Digest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.events[scope]
}

// EventDigests returns the event digest of every scope.
func (v *Views) EventDigests() map[string]Digest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.events)
}

// MarkerSeq is the seq of the last index marker committed (IndexDeferred).
func (v *Views) MarkerSeq() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.markerSeq
}

// SetActive replaces which kinds are applied (default: every kind the
// registry knows). The hub narrows it to the kinds every member knows.
// Kinds the registry does not know are never active.
func (v *Views) SetActive(active func(kind string) bool) {
	v.active = func(kind string) bool { return v.reg.Known(kind) && active(kind) }
}

// Registry returns the registry the views apply with.
func (v *Views) Registry() *Registry { return v.reg }

// Digest returns the digest of the committed views.
func (v *Views) Digest() Digest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.digest
}

// AppliedCount returns how many events the committed views applied.
func (v *Views) AppliedCount() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.applied
}

// ParkedCount returns how many events are parked.
func (v *Views) ParkedCount() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.parked
}

// InvalidCount returns how many events were refused as invalid.
func (v *Views) InvalidCount() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.invalid
}

// Seq returns the highest seq of origin the committed views received.
func (v *Views) Seq(origin string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seqs[origin]
}

// Batch applies events within one store transaction. Call Finish before
// committing the transaction and Commit after it committed; drop the
// Batch if the transaction is discarded.
type Batch struct {
	v         *Views
	tx        Tx
	views     Tx // what appliers write through
	delta     Digest
	events    map[string]Digest // change of the event digests
	applied   uint64
	parked    int64
	parkSeq   uint64
	invalid   uint64
	markerSeq uint64
	seqs      map[string]uint64 // changed in this batch
	blocked   map[string]int64  // change of parked events per origin
	last      lastRead          // digestTx's memo, reused across events
	watch     *watchTx          // collects entities to reindex
	memOps    []memoryOp        // writes of memories' entries (inline indexes)
}

// Begin starts applying in tx.
func (v *Views) Begin(tx Tx) *Batch {
	v.mu.Lock()
	ps, ms := v.parkSeq, v.markerSeq
	v.mu.Unlock()
	b := &Batch{v: v, tx: tx, parkSeq: ps, markerSeq: ms}
	var views Tx = WithPrefix(tx, ViewPrefix)
	if v.trackViews {
		views = digestTx{Tx: views, delta: &b.delta, last: &b.last}
	}
	var feeds []Feed
	if v.indexing == IndexDeferred && !v.noFeeds {
		feeds = v.reg.feeds
	}
	if (len(v.reg.indexes) > 0 && v.indexing != IndexOff) || len(feeds) > 0 {
		b.watch = &watchTx{Tx: views, indexes: v.reg.indexes, feeds: feeds, dirty: map[string]map[string]bool{}}
		if v.indexing == IndexOff {
			b.watch.indexes = nil
		}
		views = b.watch
	}
	b.views = views
	return b
}

// ReadViews returns a read-only view of the views in a transaction: what
// domain commands and queries read.
func ReadViews(tx Tx) Tx { return ReadOnly(WithPrefix(tx, ViewPrefix)) }

// Views returns the batch's view Tx, read-only, seeing its writes so far
// (and, with deferred indexes, the index entries committed before it).
func (b *Batch) Views() Tx { return b.v.Read(b.tx) }

// Read returns the views of a store transaction as readers see them,
// read-only, with the registry's indexes where this replica keeps them.
// Through it a reader finds the replica's memories (MemoryOf).
func (v *Views) Read(tx Tx) Tx {
	return memoryTx{Tx: ReadOnly(IndexedViews(tx, v.reg, v.indexing)), mem: &v.mem}
}

// AppliedSeq returns the highest seq of origin received in tx's store.
func AppliedSeq(tx Tx, origin string) (uint64, error) {
	v, err := tx.Get(Key(appliedPrefix, origin))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("applied seq of %s: %d bytes", origin, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Seq returns the highest seq of origin received, this batch included.
func (b *Batch) Seq(origin string) uint64 {
	if s, ok := b.seqs[origin]; ok {
		return s
	}
	return b.v.Seq(origin)
}

func (b *Batch) isBlocked(origin string) bool {
	b.v.mu.Lock()
	n := int64(b.v.blocked[origin])
	b.v.mu.Unlock()
	return n+b.blocked[origin] > 0
}

// Apply applies ev unless the replica has received it (or a later event of
// its origin) before. Events of one origin must come in seq order; gaps
// are allowed (a filtered pull leaves some out). An event whose kind is
// not active, or whose origin has parked events, is parked.
func (b *Batch) Apply(ev *Event) (Outcome, error) {
	if ev.Seq <= b.Seq(ev.Origin) {
		return Duplicate, nil
	}
	if b.seqs == nil {
		b.seqs = map[string]uint64{}
	}
	b.seqs[ev.Origin] = ev.Seq // written by Finish, once per origin
	if b.isBlocked(ev.Origin) || !b.v.active(ev.Kind) {
		return Parked, b.park(ev)
	}
	return b.apply(ev)
}

// ApplyHistory applies ev although the replica may have received later
// events of its origin: ev belongs to a scope the replica is gaining (or
// an entity it starts to follow), and the hub sends each such event once
// (see PullResponse.gaining). It raises the origin's seq if ev is later.
func (b *Batch) ApplyHistory(ev *Event) (Outcome, error) {
	if ev.Seq > b.Seq(ev.Origin) {
		if b.seqs == nil {
			b.seqs = map[string]uint64{}
		}
		b.seqs[ev.Origin] = ev.Seq
	}
	if b.isBlocked(ev.Origin) || !b.v.active(ev.Kind) {
		return Parked, b.park(ev)
	}
	return b.apply(ev)
}

// apply runs an event of an active kind.
func (b *Batch) apply(ev *Event) (Outcome, error) {
	b.last.ok = false
	if err := b.v.reg.apply(b.views, ev); err != nil {
		if errors.Is(err, errInvalid) {
			// Nothing was written: the check runs before the applier.
			b.invalid++
			b.addEvent(ev)
			return Invalid, b.tx.Set(binary.BigEndian.AppendUint64(Prefix("bad", ev.Origin), ev.Seq), []byte(err.Error()))
		}
		return 0, err
	}
	b.applied++
	b.addEvent(ev)
	return Applied, nil
}

// addEvent adds an applied (or invalid) event to its scope's digest.
func (b *Batch) addEvent(ev *Event) {
	scope := HomeScope(ev)
	if b.v.scope != nil {
		scope = b.v.scope(ev)
	}
	if b.events == nil {
		b.events = map[string]Digest{}
	}
	d := b.events[scope]
	d.add(eventHash(ev))
	b.events[scope] = d
}

func (b *Batch) park(ev *Event) error {
	enc, err := ev.Marshal()
	if err != nil {
		return err
	}
	b.parkSeq++
	if err := b.tx.Set(binary.BigEndian.AppendUint64(append([]byte(nil), parkPrefix...), b.parkSeq), enc); err != nil {
		return err
	}
	if b.blocked == nil {
		b.blocked = map[string]int64{}
	}
	b.blocked[ev.Origin]++
	b.parked++
	return nil
}

// Unpark applies parked events whose kinds are active now, in the order
// they were parked; an event still inactive keeps its origin's later
// events parked behind it. Replicas call it when the set of active kinds
// grows: a node after an upgrade, the hub when a cluster version is
// committed. It returns how many events it applied or refused as invalid.
func (b *Batch) Unpark() (int, error) {
	if b.v.ParkedCount() == 0 && b.parked == 0 {
		return 0, nil
	}
	type parked struct {
		key []byte
		ev  *Event
	}
	var all []parked
	err := b.tx.Scan(parkPrefix, nil, func(k, val []byte) (bool, error) {
		ev, err := UnmarshalEvent(val)
		if err != nil {
			return false, fmt.Errorf("parked event %x: %w", k, err)
		}
		all = append(all, parked{append([]byte(nil), k...), ev})
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	stuck := map[string]bool{}
	done := 0
	for _, p := range all {
		if stuck[p.ev.Origin] || !b.v.active(p.ev.Kind) {
			stuck[p.ev.Origin] = true
			continue
		}
		if err := b.tx.Delete(p.key); err != nil {
			return done, err
		}
		if b.blocked == nil {
			b.blocked = map[string]int64{}
		}
		b.blocked[p.ev.Origin]--
		b.parked--
		if _, err := b.apply(p.ev); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// Finish builds or marks the indexes of what changed and records the
// batch's bookkeeping in the transaction. It may be called again after
// more Applies.
func (b *Batch) Finish() error {
	if err := b.index(); err != nil {
		return err
	}
	for o, seq := range b.seqs {
		if err := b.tx.Set(Key(appliedPrefix, o), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
	}
	b.v.mu.Lock()
	d, n, parked, invalid := b.v.digest, b.v.applied, b.v.parked, b.v.invalid
	events := maps.Clone(b.v.events)
	b.v.mu.Unlock()
	d.add(b.delta)
	for scope, delta := range b.events {
		e := events[scope]
		e.add(delta)
		if err := b.tx.Set(append(bytes.Clone(eventsPrefix), scope...), e.Bytes()); err != nil {
			return err
		}
	}
	kvs := []struct {
		k []byte
		v []byte
	}{
		{countKey, binary.BigEndian.AppendUint64(nil, n+b.applied)},
		{parkedKey, binary.BigEndian.AppendUint64(nil, uint64(int64(parked)+b.parked))},
		{parkSeqKey, binary.BigEndian.AppendUint64(nil, b.parkSeq)},
		{invalidKey, binary.BigEndian.AppendUint64(nil, invalid+b.invalid)},
		{markerSeqKey, binary.BigEndian.AppendUint64(nil, b.markerSeq)},
	}
	if b.v.trackViews {
		kvs = append(kvs, struct {
			k []byte
			v []byte
		}{digestKey, d.Bytes()})
	}
	for _, kv := range kvs {
		if err := b.tx.Set(kv.k, kv.v); err != nil {
			return err
		}
	}
	return nil
}

// index reindexes (IndexInline) or marks (IndexDeferred) the entities the
// batch's writes changed.
func (b *Batch) index() error {
	if b.watch == nil || len(b.watch.dirty) == 0 {
		return nil
	}
	dirty := b.watch.dirty
	b.watch.dirty = map[string]map[string]bool{}
	for _, f := range b.watch.feeds {
		for _, e := range slices.Sorted(maps.Keys(dirty["feed:"+f.Name])) {
			b.markerSeq++
			k := binary.BigEndian.AppendUint64(feedKeyPrefix(f.Name), b.markerSeq)
			k = append(append(k, 0), e...)
			if err := b.tx.Set(k, nil); err != nil {
				return err
			}
		}
	}
	for _, ix := range b.watch.indexes {
		for _, e := range slices.Sorted(maps.Keys(dirty[ix.Name])) {
			switch b.v.indexing {
			case IndexInline:
				// Through the digest-keeping Tx, below the watcher: the
				// index's own writes change no entity.
				b.last.ok = false
				if err := ix.Reindex(b.v.reindexTx(b.watch.Tx, ix, &b.memOps), e); err != nil {
					return fmt.Errorf("reindex %s %s: %w", ix.Name, e, err)
				}
			case IndexDeferred:
				b.markerSeq++
				if err := b.tx.Set(markerKey(b.markerSeq, ix.Name, e), nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// MarkerSeq is the seq of the last index marker the batch wrote (or the
// one before it, when it wrote none).
func (b *Batch) MarkerSeq() uint64 { return b.markerSeq }

// Commit makes the batch's bookkeeping the committed one. Call it only
// after the transaction committed.
func (b *Batch) Commit() {
	applyMemoryOps(b.memOps)
	b.v.mu.Lock()
	defer b.v.mu.Unlock()
	b.v.digest.add(b.delta)
	for scope, delta := range b.events {
		d := b.v.events[scope]
		d.add(delta)
		b.v.events[scope] = d
	}
	b.v.markerSeq = b.markerSeq
	b.v.applied += b.applied
	b.v.parked = uint64(int64(b.v.parked) + b.parked)
	b.v.parkSeq = b.parkSeq
	b.v.invalid += b.invalid
	maps.Copy(b.v.seqs, b.seqs)
	for o, d := range b.blocked {
		if n := int64(b.v.blocked[o]) + d; n > 0 {
			b.v.blocked[o] = uint64(n)
		} else {
			delete(b.v.blocked, o)
		}
	}
}

// Reload re-reads the bookkeeping from a store, after the store was
// replaced (a snapshot restore).
func (v *Views) Reload(tx Tx) error { return v.load(tx) }

// ParkedEvents lists up to max parked events, oldest first.
func ParkedEvents(tx Tx, max int) ([]*Event, error) {
	var out []*Event
	err := tx.Scan(parkPrefix, nil, func(_, val []byte) (bool, error) {
		ev, err := UnmarshalEvent(val)
		if err != nil {
			return false, err
		}
		out = append(out, ev)
		return len(out) < max, nil
	})
	return out, err
}

// InvalidEvent is an event refused as invalid, for the operator.
type InvalidEvent struct {
	Origin string
	Seq    uint64
	Reason string
}

// InvalidEvents lists up to max events refused as invalid.
func InvalidEvents(tx Tx, max int) ([]InvalidEvent, error) {
	var out []InvalidEvent
	err := tx.Scan(badPrefix, nil, func(k, val []byte) (bool, error) {
		rest := k[len(badPrefix):]
		if len(rest) < 9 {
			return true, nil
		}
		out = append(out, InvalidEvent{
			Origin: string(rest[:len(rest)-9]),
			Seq:    binary.BigEndian.Uint64(rest[len(rest)-8:]),
			Reason: string(val),
		})
		return len(out) < max, nil
	})
	return out, err
}
