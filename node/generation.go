package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"branchline/replication"
)

// A generation is one copy of the node's replicated state: the views and
// their bookkeeping (replication.Views). The node serves one generation
// and may build the next beside it — when its views must be rebuilt from
// the hub — then swaps to it in one transaction, so that it keeps serving
// (and writing) its old views until the new ones are complete. The node's
// own log, cursor and local records live outside generations.
//
// Generation 0, the layout of stores made before generations, keeps its
// state at the top of the key space; generation n ≥ 1 below "r<n>\0".
type generation struct {
	n     uint64
	root  []byte // nil for generation 0
	views *replication.Views
	// indexed is the highest index marker seq the indexer processed in
	// this generation since the store opened; the markers after it wait.
	// bulkIndexed is the same of the bulk markers (a snapshot's).
	indexed, bulkIndexed atomic.Uint64
}

func rootOf(n uint64) []byte {
	if n == 0 {
		return nil
	}
	return append([]byte("r"+strconv.FormatUint(n, 10)), 0)
}

// tx returns a Tx on tx that sees only the generation's keys.
func (g *generation) tx(tx replication.Tx) replication.Tx {
	if g.root == nil {
		return tx
	}
	return replication.WithPrefix(tx, g.root)
}

// read is tx for a Badger read transaction.
func (g *generation) read(txn *badger.Txn) replication.Tx { return g.tx(badgerTx{txn}) }

// openGeneration loads generation n's bookkeeping, and its indexes'
// memories from the store unless given (mems: built as the store's pairs
// were written). A node keeps no digest of its views' content (it
// compares event digests; ctl verify scans) and builds its indexes behind
// the commit.
func openGeneration(reg *replication.Registry, n uint64, txn *badger.Txn, mems map[string]replication.Memory) (*generation, error) {
	g := &generation{n: n, root: rootOf(n)}
	v, err := replication.OpenViews(reg, g.read(txn))
	if err != nil {
		return nil, fmt.Errorf("open generation %d: %w", n, err)
	}
	v.TrackViewDigest(false)
	v.SetIndexing(replication.IndexDeferred)
	if mems != nil {
		v.UseMemories(mems)
	} else if err := v.LoadMemories(g.read(txn)); err != nil {
		return nil, fmt.Errorf("open generation %d: load the indexes' memories: %w", n, err)
	}
	g.views = v
	return g, nil
}

// generation0Prefixes are the top-level prefixes of generation 0's state.
var generation0Prefixes = [][]byte{[]byte("v\x00"), []byte("a\x00"), []byte("p\x00"), []byte("bad\x00"), []byte("m\x00"),
	[]byte("x\x00"), []byte("xd\x00"), []byte("xf\x00")}

// drop deletes a generation's state (after a swap away from it, or what a
// rebuild that did not finish left behind), key by key in write batches:
// Badger's DropPrefix would block every write of the node meanwhile.
func (s *Store) drop(n uint64) error {
	prefixes := generation0Prefixes
	if n != 0 {
		prefixes = [][]byte{rootOf(n)}
	}
	for _, p := range prefixes {
		for {
			select {
			case <-s.stop:
				return ErrClosed // the next rebuild, or open, deletes the rest
			default:
			}
			var keys [][]byte
			err := s.db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
				defer it.Close()
				for it.Rewind(); it.Valid() && len(keys) < 10000; it.Next() {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
				return nil
			})
			if err != nil || len(keys) == 0 {
				if err != nil {
					return err
				}
				break
			}
			wb := s.db.NewWriteBatch()
			for _, k := range keys {
				if err := wb.Delete(k); err != nil {
					wb.Cancel()
					return err
				}
			}
			if err := wb.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rebuild builds the next generation of the replicated state beside the
// one served. Events are applied to it with Apply (the hub's global log,
// own events included, from the start); Swap then applies the node's own
// events the hub did not hold, and makes it the generation served. One
// Rebuild at a time; it writes only its own generation's keys, so it runs
// beside the store's writer without blocking it.
type Rebuild struct {
	s   *Store
	gen *generation
	// applied counts what Apply and Swap applied, for progress reports.
	applied atomic.Uint64
	// Cursor is the hub position the new generation holds the log up to
	// (with its commit time and the scopes it was pulled for): a rebuild
	// cut before its swap goes on from there (BeginRebuild).
	Cursor   uint64
	CursorMs int64
	Scopes   []string

	// snap is how far the installation of a snapshot got (bootstrap.go);
	// companyOnly says the generation holds a snapshot's company views at
	// Cursor and receives the history of its scopes (Gaining, as far as
	// GainedTo) before it holds any.
	snap        *snapshotProgress
	companyOnly bool
	Gaining     []string
	GainedTo    uint64
	// reason is why the store asked for this rebuild when it began: the
	// swap clears the request only if it is still that one (a restamp
	// while it ran asks for another).
	reason []byte
}

// rebuildingKey records a rebuild's progress with its events: the
// generation, the position it reached, its commit time, and the scopes.
var rebuildingKey = replication.Key("node", "rebuilding")

func encodeRebuilding(gen, cursor uint64, ms int64, scopes []string) []byte {
	b := append(putU64(gen), putU64(cursor)...)
	b = append(b, putU64(uint64(ms))...)
	return append(b, strings.Join(scopes, "\x00")...)
}

// ErrRebuilding is returned by BeginRebuild while another rebuild runs.
var ErrRebuilding = errors.New("a rebuild is running")

// BeginRebuild starts the next generation: empty, or, when a rebuild of it
// was cut (a WAN outage, a restart), as far as that one got (Cursor).
func (s *Store) BeginRebuild() (*Rebuild, error) {
	if !s.rebuilding.CompareAndSwap(false, true) {
		return nil, ErrRebuilding
	}
	n := s.cur.Load().n + 1
	rb := &Rebuild{s: s}
	err := s.db.View(func(txn *badger.Txn) error {
		tx := badgerTx{txn}
		b, err := tx.Get(rebuildingKey)
		if err == nil && len(b) >= 24 && u64(b) == n {
			rb.Cursor, rb.CursorMs, rb.Scopes = u64(b[8:]), int64(u64(b[16:])), splitScopes(b[24:])
			if h, err := tx.Get(historyKey); err == nil && len(h) >= 8 {
				rb.companyOnly, rb.GainedTo, rb.Gaining = true, u64(h), splitScopes(h[8:])
			} else if err != nil && !errors.Is(err, replication.ErrNotFound) {
				return err
			}
		} else if err != nil && !errors.Is(err, replication.ErrNotFound) {
			return err
		}
		b, err = tx.Get(snapshotKey)
		if err == nil {
			if p, err := decodeSnapshotProgress(b); err == nil && p.gen == n {
				rb.snap = p
			}
		} else if !errors.Is(err, replication.ErrNotFound) {
			return err
		}
		return nil
	})
	if err == nil {
		err = s.db.View(func(txn *badger.Txn) error {
			b, err := badgerTx{txn}.Get(rebuildKey)
			rb.reason = b
			if errors.Is(err, replication.ErrNotFound) {
				return nil
			}
			return err
		})
	}
	if err == nil && rb.Cursor == 0 && rb.snap == nil {
		// Whatever an interrupted rebuild left there without progress.
		err = s.drop(n)
	}
	if err == nil {
		err = s.db.View(func(txn *badger.Txn) error {
			var err error
			rb.gen, err = openGeneration(s.reg, n, txn, nil)
			return err
		})
	}
	if err != nil {
		s.rebuilding.Store(false)
		return nil, err
	}
	if rb.Cursor > 0 || rb.snap != nil {
		s.log.Info("resuming the rebuild of the views", "generation", n, "from", rb.Cursor, "snapshot_pairs", rb.snapPairs())
		rb.applied.Store(rb.gen.views.AppliedCount())
	}
	return rb, nil
}

func (r *Rebuild) snapPairs() uint64 {
	if r.snap == nil {
		return 0
	}
	return r.snap.pairs
}

// Applied is how many events the rebuild applied so far.
func (r *Rebuild) Applied() uint64 { return r.applied.Load() }

// Apply applies events to the new generation in one transaction.
func (r *Rebuild) Apply(evs []*replication.Event) error { return r.apply(evs, nil, 0, 0) }

// apply applies evs, those at followed as an entity's history
// (Batch.ApplyHistory); cursor, when not 0, is the position they bring
// the generation to, recorded with them.
func (r *Rebuild) apply(evs []*replication.Event, followed map[int]bool, cursor uint64, cursorMs int64) error {
	var record func(*overlayTx) error
	if cursor > 0 {
		record = func(o *overlayTx) error {
			return o.Set(rebuildingKey, encodeRebuilding(r.gen.n, cursor, cursorMs, r.Scopes))
		}
	}
	if err := r.applyRecording(evs, followed, record); err != nil {
		return err
	}
	if cursor > 0 {
		r.Cursor, r.CursorMs = cursor, cursorMs
	}
	return nil
}

// applyRecording applies evs, those at followed as history, and writes
// what record writes (the progress they bring) in the same transaction.
func (r *Rebuild) applyRecording(evs []*replication.Event, followed map[int]bool, record func(*overlayTx) error) error {
	if err := r.s.disk.Check(); err != nil {
		return err
	}
	o := newOverlay(r.s.db)
	defer o.discard()
	b := r.gen.views.Begin(r.gen.tx(o))
	n := 0
	for i, ev := range evs {
		apply := b.Apply
		if followed[i] {
			apply = b.ApplyHistory
		}
		out, err := apply(ev)
		if err != nil {
			return err
		}
		if out == replication.Applied {
			n++
		}
	}
	if err := b.Finish(); err != nil {
		return err
	}
	if record != nil {
		if err := record(o); err != nil {
			return err
		}
	}
	txn := r.s.db.NewTransaction(true)
	defer txn.Discard()
	if err := o.writeTo(txn); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	b.Commit()
	r.applied.Add(uint64(n))
	r.s.indexer.poke()
	return nil
}

// CatchUpOwn applies, in slices, the node's own events the new generation
// has not received yet, so that Swap has few left to apply while it holds
// the writer.
func (r *Rebuild) CatchUpOwn() error {
	for {
		from := r.gen.views.Seq(r.s.id)
		evs, err := r.s.Outbox(from, applyChunk, 4<<20)
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := r.Apply(evs); err != nil {
			return err
		}
	}
}

// IndexAll builds the new generation's indexes, so that searches work the
// moment it is swapped in — and, with bulk, lists too: the entries a
// snapshot left out (replication.SnapshotMarks), which a node that has
// nothing to serve meanwhile builds once it serves.
func (r *Rebuild) IndexAll(bulk bool) error {
	for {
		n, err := r.s.indexSome(r.gen, bulk)
		if err != nil || n == 0 {
			return err
		}
	}
}

// Abort gives the rebuild up and deletes what it built.
func (r *Rebuild) Abort() error {
	defer r.s.rebuilding.Store(false)
	err := r.s.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{rebuildingKey, historyKey, snapshotKey} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.s.drop(r.gen.n)
}

// RebuildCursor is the position a rebuild of the views reached, as
// recorded with its events (0: none under way).
func (s *Store) RebuildCursor() uint64 {
	var cursor uint64
	_ = s.db.View(func(txn *badger.Txn) error {
		b, err := badgerTx{txn}.Get(rebuildingKey)
		if err == nil && len(b) >= 16 {
			cursor = u64(b[8:])
		}
		return err
	})
	return cursor
}

// Pause leaves the rebuild where it got, for the next BeginRebuild to go
// on from.
func (r *Rebuild) Pause() { r.s.rebuilding.Store(false) }

// Swap applies the own events the new generation lacks and makes it the
// generation served, with cursor (and its commit time) as the position of
// the hub's log it reflects — all in one transaction of the writer, so
// that no local write falls between the two generations. The old
// generation is deleted afterwards.
func (r *Rebuild) Swap(ctx context.Context, cursor uint64, cursorMs int64, scopes *Scopes) error {
	old := r.s.cur.Load()
	req := &request{done: make(chan struct{}), swap: &swap{gen: r.gen, cursor: cursor, cursorMs: cursorMs, scopes: scopes, reason: r.reason}}
	if err := r.s.submit(ctx, req); err != nil {
		return err
	}
	if req.err != nil {
		return req.err
	}
	r.s.rebuilding.Store(false)
	r.applied.Add(uint64(req.n))
	r.s.log.Info("views rebuilt from the hub", "generation", r.gen.n, "events", r.Applied(), "cursor", cursor)
	r.s.bg.Add(1)
	go func() {
		defer r.s.bg.Done()
		if err := r.s.drop(old.n); err != nil {
			r.s.log.Warn("delete the old generation", "generation", old.n, "err", err)
		}
	}()
	return nil
}

// swap is the writer's part of Rebuild.Swap.
type swap struct {
	gen      *generation
	cursor   uint64
	cursorMs int64
	scopes   *Scopes            // what the new generation holds (nil: as before)
	reason   []byte             // the rebuild request it answers
	batch    *replication.Batch // set by apply
}

// apply runs in the writer's transaction: it applies the own events the
// new generation lacks (those of this transaction's earlier requests
// included) and records the new generation.
func (w *swap) apply(s *Store, tx replication.Tx) (int, error) {
	b := w.gen.views.Begin(w.gen.tx(tx))
	n := 0
	err := tx.Scan(outPrefix, outKey(w.gen.views.Seq(s.id)+1), func(_, v []byte) (bool, error) {
		ev, err := replication.UnmarshalEvent(v)
		if err != nil {
			return false, err
		}
		out, err := b.Apply(ev)
		if out == replication.Applied {
			n++
		}
		return true, err
	})
	if err != nil {
		return 0, err
	}
	if err := b.Finish(); err != nil {
		return 0, err
	}
	if err := w.gen.views.SaveIndexVersions(w.gen.tx(tx)); err != nil {
		return 0, err // its indexes are built behind the commit by this release
	}
	if err := tx.Set(genKey, putU64(w.gen.n)); err != nil {
		return 0, err
	}
	// A request made while the rebuild ran (events restamped) stands: the
	// next rebuild answers it.
	if cur, err := tx.Get(rebuildKey); err == nil && bytes.Equal(cur, w.reason) {
		if err := tx.Delete(rebuildKey); err != nil {
			return 0, err
		}
	} else if err != nil && !errors.Is(err, replication.ErrNotFound) {
		return 0, err
	}
	for _, k := range [][]byte{rebuildingKey, historyKey, snapshotKey} {
		if err := tx.Delete(k); err != nil {
			return 0, err
		}
	}
	w.batch = b
	return n, nil
}

// migrate brings generation g of a store made before event digests and
// deferred indexes up to date: its indexes, kept among the views then,
// are dropped and built again behind the commit (every entity is marked),
// and its views are rebuilt from the hub once it is reachable, since the
// events it applied cannot be hashed afresh.
func (s *Store) migrate(g *generation) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var n int
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = g.views.MarkAll(g.read(txn), func(k []byte) error {
			return wb.Set(append(bytes.Clone(g.root), k...), nil)
		})
		return err
	})
	if err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	var old [][]byte
	for _, ix := range s.reg.Indexes() {
		for _, p := range ix.Prefixes {
			old = append(old, append(append(bytes.Clone(g.root), replication.ViewPrefix...), p...))
		}
	}
	if len(old) > 0 {
		if err := s.db.DropPrefix(old...); err != nil {
			return err
		}
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, save := range []func(replication.Tx) error{g.views.SaveMarkerSeq, g.views.SaveEventDigest, g.views.SaveIndexVersions} {
		if err := save(g.read(txn)); err != nil {
			return err
		}
	}
	if err := txn.Set(rebuildKey, []byte("upgrade: the views are rebuilt once to gain event digests")); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	s.log.Info("store of an older release migrated: indexes are rebuilt behind the commit, views from the hub", "entities", n)
	return nil
}

// reindexStale builds again, behind the commit, the indexes of generation
// g whose entries a release with another Version of them built: every
// entity of theirs is marked, and the indexer reindexes them while the
// node serves (Status: index_backlog); Reindex drops the entries the new
// version no longer writes. On a new store it only records the versions.
func (s *Store) reindexStale(g *generation) error {
	var stale []string
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		stale, err = g.views.StaleIndexes(g.read(txn))
		return err
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var n int
	err = s.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = g.views.MarkAll(g.read(txn), func(k []byte) error {
			return wb.Set(append(bytes.Clone(g.root), k...), nil)
		}, stale...)
		return err
	})
	if err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	if err := g.views.SaveMarkerSeq(g.read(txn)); err != nil {
		return err
	}
	if err := g.views.SaveIndexVersions(g.read(txn)); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("indexes of another version are rebuilt behind the commit", "indexes", stale, "entities", n)
	}
	return nil
}
