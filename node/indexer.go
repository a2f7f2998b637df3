package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"branchline/replication"
)

// indexer builds the node's indexes (search, phone lookup, lists) behind
// the commit. A commit that changes an entity an index watches also writes
// a marker (replication.IndexDeferred); the indexer reindexes marked
// entities in bulk, in its own transactions (a step's entities shared out
// among the CPUs), and deletes their markers —
// so a write pays for its index only once per batch of changes, never in
// the writer's transaction, and a long catch-up builds the index once at
// the end. Markers are durable with the change: after a crash the indexer
// resumes where it was.
//
// A local write waits (Store.Exec) until its own entities are indexed, so
// the person who created a customer finds it by typing at once; an entity
// pulled from the hub is findable once the indexer reaches its marker —
// within a second when the node keeps up, after the whole batch during a
// long catch-up (Status: index_backlog). The entities of a snapshot whose
// entries it left out (bootstrap.go) wait in a queue of their own, taken
// only when no other marker waits: a customer created or pulled while a
// new node builds its lists is indexed first.
type indexer struct {
	s    *Store
	wake chan struct{}

	mu      sync.Mutex
	gen     uint64        // generation done refers to
	done    uint64        // highest marker seq indexed in gen
	changed chan struct{} // closed and replaced when done moves
}

func newIndexer(s *Store) *indexer {
	return &indexer{s: s, wake: make(chan struct{}, 1), changed: make(chan struct{})}
}

// poke wakes the indexer; it never blocks.
func (ix *indexer) poke() {
	if ix == nil {
		return
	}
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

func (ix *indexer) run() {
	for {
		select {
		case <-ix.s.stop:
			return
		case <-ix.wake:
		}
		for {
			select {
			case <-ix.s.stop:
				return
			default:
			}
			n, err := ix.s.indexSome(ix.s.cur.Load(), true)
			if err != nil {
				ix.s.log.Warn("index", "err", err)
				break
			}
			if n == 0 {
				break
			}
		}
	}
}

// indexed reports that gen is indexed up to marker seq.
func (ix *indexer) indexed(gen, seq uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if gen != ix.gen || seq > ix.done {
		ix.gen, ix.done = gen, seq
		close(ix.changed)
		ix.changed = make(chan struct{})
	}
}

// maxIndexWait bounds how long a local write waits for its index entries:
// the write is durable already; if indexing falls behind, the writer is
// told so by a slower search, not by a hung request.
const maxIndexWait = 5 * time.Second

// wait returns once generation gen is indexed up to marker seq, the store
// moved to another generation, maxIndexWait passed or ctx ends.
func (ix *indexer) wait(ctx context.Context, gen, seq uint64) {
	ctx, cancel := context.WithTimeout(ctx, maxIndexWait)
	defer cancel()
	for {
		ix.mu.Lock()
		ok := ix.s.cur.Load().n != gen || ix.gen == gen && ix.done >= seq
		ch := ix.changed
		ix.mu.Unlock()
		if ok || seq == 0 {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-ix.s.stopped:
			return
		}
	}
}

// indexSome runs an indexStep of as many markers as fit in one Badger
// transaction: it starts at 2,000 and halves on ErrTxnTooBig (a customer
// writes dozens of index entries, and a small memtable takes small
// transactions). It takes bulk markers (a snapshot's entities, see
// replication.SnapshotMarks) only when bulk is set and no other waits.
func (s *Store) indexSome(g *generation, bulk bool) (int, error) {
	max := int(s.indexBatch.Load())
	if max == 0 {
		max = 2000
	}
	for {
		n, err := s.indexStep(g, max, bulk)
		if !errors.Is(err, badger.ErrTxnTooBig) || max == 1 {
			if err == nil && max < 2000 {
				s.indexBatch.Store(int64(min(2000, max*2)))
			}
			return n, err
		}
		max /= 2
		s.indexBatch.Store(int64(max))
	}
}

// indexStep reindexes the entities of up to max markers of generation g
// and returns how many markers it processed. With none left but bulk ones
// it reports everything committed as indexed, and takes bulk ones if bulk.
func (s *Store) indexStep(g *generation, max int, bulk bool) (int, error) {
	if err := s.disk.Check(); err != nil {
		return 0, nil // markers wait; searches read the index as it is
	}
	// Every marker up to this seq was committed before the snapshot below:
	// those not among the markers it holds were indexed before.
	before := g.views.MarkerSeq()
	snap := s.db.NewTransaction(false)
	defer snap.Discard()
	markers, err := replication.PendingMarkers(g.read(snap), g.indexed.Load(), max)
	if err != nil {
		return 0, err
	}
	if len(markers) == 0 {
		if s.cur.Load() == g {
			s.indexer.indexed(g.n, before)
		}
		if !bulk {
			return 0, nil
		}
		if markers, err = replication.PendingBulkMarkers(g.read(snap), g.bulkIndexed.Load(), max); err != nil || len(markers) == 0 {
			return 0, err
		}
	}
	// Reads from the snapshot, writes straight into the transaction:
	// nothing the step writes is read back (each entity is reindexed once
	// per step, from the views and its own record of entries, both as
	// committed), so the writes need no overlay. The entities are shared
	// out among the CPUs, each reading a snapshot of its own: only steps
	// write index entries, so every snapshot taken now shows them as the
	// last step left them.
	//
	// A snapshot's entities come in key order, and the reads of a bulk
	// step ascend: they go through kept iterators (cursorTx), which cut
	// the CPU of a list build by a fifth; changed entities lie anywhere,
	// where Badger's Get, which asks the tables' Bloom filters, is better.
	var reads []replication.Tx
	for i := range replication.StepWorkers(len(markers)) {
		t := snap
		if i > 0 {
			t = s.db.NewTransaction(false)
			defer t.Discard()
		}
		if !markers[0].Bulk {
			reads = append(reads, g.read(t))
			continue
		}
		c := newCursorTx(t)
		defer c.Close() // before t.Discard: deferred after it
		reads = append(reads, g.tx(c))
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	last, committed, err := g.views.ProcessMarkersShared(g.tx(badgerTx{txn}), reads, markers)
	if err != nil {
		return 0, err
	}
	if err := txn.Commit(); err != nil {
		return 0, err
	}
	committed()
	if markers[0].Bulk {
		g.bulkIndexed.Store(last)
		return len(markers), nil
	}
	g.indexed.Store(last)
	if s.cur.Load() == g {
		s.indexer.indexed(g.n, last)
	}
	return len(markers), nil
}

// IndexBacklog counts the entities waiting to be indexed: changed ones,
// and a snapshot's (BulkBacklog).
func (s *Store) IndexBacklog() int {
	g := s.cur.Load()
	n := 0
	_ = s.db.View(func(txn *badger.Txn) error {
		return g.read(txn).Scan([]byte("xd\x00"), nil, func(_, _ []byte) (bool, error) {
			n++
			return n < 1_000_000, nil
		})
	})
	return n + s.BulkBacklog()
}

// BulkBacklog estimates how many entities of the snapshot the node was
// installed from still wait for the index entries the snapshot left out
// (a customer's list orders): cheap enough for every page.
func (s *Store) BulkBacklog() int {
	g := s.cur.Load()
	n := 0
	_ = s.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = replication.BulkMarkersLeft(g.read(txn), g.bulkIndexed.Load())
		return err
	})
	return n
}

// IndexCaughtUp reports whether the indexes reflect every change committed
// and every entity of the snapshot installed (no marker waits).
func (s *Store) IndexCaughtUp() bool {
	g := s.cur.Load()
	s.indexer.mu.Lock()
	done := s.indexer.gen == g.n && s.indexer.done >= g.views.MarkerSeq()
	s.indexer.mu.Unlock()
	return done && s.BulkBacklog() == 0
}
