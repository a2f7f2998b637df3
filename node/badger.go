package node

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"

	"branchline/replication"
)

// badgerTx implements replication.Tx over a Badger transaction.
// committedVersion is the version of the newest commit: pairs written at
// it (Badger's loader) are seen by every read from then on, and every
// later commit of their keys is newer. It is a read transaction's
// timestamp, for which Badger waits until every commit at or below it is
// applied; db.MaxVersion would say the same, but it reads the memtable's
// newest version while Badger's writer goroutine sets it without a lock
// (memtable.go:195, v4.9.6: a data race the race detector caught in
// TestRetention).
func committedVersion(db *badger.DB) uint64 {
	txn := db.NewTransaction(false)
	defer txn.Discard()
	return max(1, txn.ReadTs())
}

type badgerTx struct{ txn *badger.Txn }

func (t badgerTx) Get(k []byte) ([]byte, error) {
	item, err := t.txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, replication.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func (t badgerTx) Set(k, v []byte) error { return t.txn.Set(k, v) }

func (t badgerTx) Delete(k []byte) error { return t.txn.Delete(k) }

func (t badgerTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	it := newForward(t.txn, prefix, start)
	defer it.Close()
	return it.walk(fn)
}

func (t badgerTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	it := newReverse(t.txn, prefix, before)
	defer it.Close()
	return it.walk(fn)
}

// prefixIter walks the keys of a prefix, forwards or backwards.
type prefixIter struct {
	*badger.Iterator
	prefix []byte
}

// newForward returns an iterator at the first key of prefix >= start
// (see replication.Tx.Scan).
func newForward(txn *badger.Txn, prefix, start []byte) prefixIter {
	it := prefixIter{txn.NewIterator(badger.IteratorOptions{Prefix: prefix}), prefix}
	seek := prefix
	if start != nil && bytes.Compare(start, prefix) > 0 {
		seek = start
	}
	it.Seek(seek)
	return it
}

// newReverse returns an iterator at the last key of prefix below before
// (see replication.Tx.ScanReverse).
func newReverse(txn *badger.Txn, prefix, before []byte) prefixIter {
	// Without IteratorOptions.Prefix: with it, the key the seek lands on
	// when it is the exclusive bound (outside the prefix) reads as invalid,
	// and Rewind would start at the prefix itself.
	it := prefixIter{txn.NewIterator(badger.IteratorOptions{Reverse: true}), prefix}
	from := replication.ReverseStart(prefix, before)
	if from == nil {
		it.Rewind() // no key follows the prefix's: from the store's last
		return it
	}
	// In reverse, Seek finds the last key <= from; the bound is exclusive.
	it.Seek(from)
	if it.Valid() && bytes.Equal(it.Item().Key(), from) {
		it.Next()
	}
	return it
}

func (it prefixIter) valid() bool { return it.ValidForPrefix(it.prefix) }

// walk calls fn for each key from where the iterator is, while fn asks
// for more.
func (it prefixIter) walk(fn func(k, v []byte) (bool, error)) error {
	for ; it.valid(); it.Next() {
		if more, err := it.emit(fn); err != nil || !more {
			return err
		}
	}
	return nil
}

// emit calls fn with the iterator's key and value.
func (it prefixIter) emit(fn func(k, v []byte) (bool, error)) (more bool, err error) {
	item := it.Item()
	err = item.Value(func(v []byte) error {
		more, err = fn(item.Key(), v)
		return err
	})
	return more, err
}

// badgerLogger sends Badger's log to slog; Badger's info chatter goes to
// debug.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.log.Debug(fmt.Sprintf(f, a...)) }

// badgerOptions sizes Badger for a branch PC: a few hundred MB of memory
// at most, every commit synced before it is acknowledged. memTable 0 means
// 32 MiB.
func badgerOptions(dir string, log *slog.Logger, memTable int64) badger.Options {
	if memTable <= 0 {
		memTable = 32 << 20
	}
	return badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log}).
		WithMemTableSize(memTable).
		WithNumMemtables(3).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(64 << 20).
		WithIndexCacheSize(32 << 20).
		WithNumCompactors(2).
		// Values up to the threshold below (1 MiB) live in the tables, and
		// events are at most 256 KiB: the value log stays all but empty.
		// Its files are allocated in full (third_party/ristretto), so keep
		// them small.
		WithValueLogFileSize(min(16<<20, 4*memTable)).
		// Badger needs values inlined up to this to fit in a batch of 15 %
		// of a memtable; 1 MiB (its default) with the default memtables.
		WithValueThreshold(min(1<<20, memTable/8)).
		WithDetectConflicts(false) // one writer goroutine; readers use read-only txns
}

// defaultMinFree is the free space a node keeps in reserve on its data
// volume (see volume.Guard): what Badger may still write once the node
// stops writing — a new memtable log (allocated at twice the memtable
// size), the flush of every memtable waiting to become a table, a value-log
// file (allocated at twice its size) and the output of an L0 compaction
// (about four memtables). With the default sizes: 64 + 96 + 32 + 128 =
// 320 MiB. Badger writes through memory maps; the allocation patch in
// third_party/ristretto turns a write past the reserve into an error
// rather than SIGBUS, and the reserve keeps such errors away.
func defaultMinFree(o badger.Options) uint64 {
	return uint64(2*o.MemTableSize + int64(o.NumMemtables)*o.MemTableSize + 2*o.ValueLogFileSize + 4*o.MemTableSize)
}

// cursorTx reads a Badger snapshot through a few iterators it keeps open,
// for a reader that reads in ascending key order in several places at
// once — an indexer step reading a customer's record, its contacts, its
// redirect and its index record, then the next customer's, a run of
// neighbours at a time. A read at or a little after where an iterator
// stands moves it on instead of positioning a new one in every table
// (what each read of badgerTx does); other reads seek the iterator whose
// place lies nearest below. ScanReverse reads as badgerTx does. Close it
// before discarding txn.
type cursorTx struct {
	badgerTx
	cursors []*cursor
}

// A cursor is an iterator standing at the first key >= from (or at the
// end: not Valid); busy while a Scan walks it, when reads made from the
// scan's callback must not move it.
type cursor struct {
	it   *badger.Iterator
	from []byte
	busy bool
}

const (
	maxCursors = 8
	// maxCursorSteps bounds the keys a read steps over to reach its key
	// before it seeks instead.
	maxCursorSteps = 16
)

func newCursorTx(txn *badger.Txn) *cursorTx { return &cursorTx{badgerTx: badgerTx{txn}} }

// Close closes the iterators.
func (t *cursorTx) Close() {
	for _, c := range t.cursors {
		c.it.Close()
	}
	t.cursors = nil
}

// at returns a cursor standing at the first key >= k.
func (t *cursorTx) at(k []byte) *cursor {
	var c, last *cursor
	free := 0
	for _, o := range t.cursors {
		if o.busy {
			continue
		}
		free++
		if bytes.Compare(o.from, k) <= 0 && (c == nil || bytes.Compare(o.from, c.from) > 0) {
			c = o
		}
		if last == nil || bytes.Compare(o.from, last.from) > 0 {
			last = o
		}
	}
	switch {
	case c != nil:
		for i := 0; c.it.Valid() && bytes.Compare(c.it.Item().Key(), k) < 0; i++ {
			if i == maxCursorSteps {
				c.it.Seek(k)
				break
			}
			c.it.Next()
		}
	case len(t.cursors) < maxCursors || free == 0:
		c = &cursor{it: t.txn.NewIterator(badger.IteratorOptions{})}
		t.cursors = append(t.cursors, c)
		c.it.Seek(k)
	default: // the cursor whose place lies highest: the least likely read next
		c = last
		c.it.Seek(k)
	}
	c.from = append(c.from[:0], k...)
	return c
}

func (t *cursorTx) Get(k []byte) ([]byte, error) {
	it := t.at(k).it
	if !it.Valid() || !bytes.Equal(it.Item().Key(), k) {
		return nil, replication.ErrNotFound
	}
	return it.Item().ValueCopy(nil)
}

func (t *cursorTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	from := prefix
	if start != nil && bytes.Compare(start, prefix) > 0 {
		from = start
	}
	c := t.at(from)
	c.busy = true
	defer func() { c.busy = false }()
	for it := (prefixIter{c.it, prefix}); it.valid(); it.Next() {
		c.from = append(c.from[:0], it.Item().Key()...)
		if more, err := it.emit(fn); err != nil || !more {
			return err
		}
		c.from = append(c.from, 0) // the least key after this one
	}
	return nil
}
