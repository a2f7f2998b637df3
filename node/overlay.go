package node

import (
	"bytes"
	"iter"
	"strings"

	"github.com/RaduBerinde/btreemap"
	"github.com/dgraph-io/badger/v4"

	"branchline/replication"
)

// overlayTx is the writer's transaction: reads see a consistent snapshot
// of Badger (the state after the last commit) with this transaction's
// writes laid over it, kept in a B-tree; writes go to the B-tree only.
// commit then copies them into one Badger transaction.
//
// Why not write into the Badger transaction directly: every iterator a
// Badger transaction opens copies and sorts all of its pending writes, and
// appliers scan (a customer's fields, a contact list). Applying a
// thousand pulled events in one transaction then cost a sort of thousands
// of writes per scan — 84 % of a node's CPU while catching up
// (BENCHMARKS.md). The B-tree keeps them sorted as they come.
type overlayTx struct {
	snap *badger.Txn // read-only
	pend *btreemap.BTreeMap[string, pending]
}

// pending is a write of the overlay: a value, or a deletion.
type pending struct {
	value   []byte
	deleted bool
}

func newOverlay(db *badger.DB) *overlayTx {
	return &overlayTx{
		snap: db.NewTransaction(false),
		pend: btreemap.New[string, pending](32, strings.Compare),
	}
}

// discard releases the snapshot.
func (o *overlayTx) discard() { o.snap.Discard() }

func (o *overlayTx) Get(k []byte) ([]byte, error) {
	if _, p, ok := o.pend.Get(string(k)); ok {
		if p.deleted {
			return nil, replication.ErrNotFound
		}
		return p.value, nil
	}
	return badgerTx{o.snap}.Get(k)
}

func (o *overlayTx) Set(k, v []byte) error {
	o.pend.ReplaceOrInsert(string(k), pending{value: v})
	return nil
}

func (o *overlayTx) Delete(k []byte) error {
	o.pend.ReplaceOrInsert(string(k), pending{deleted: true})
	return nil
}

// Scan merges the snapshot's keys with the pending writes, in key order;
// a pending write hides the snapshot's value of its key.
func (o *overlayTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	seek := prefix
	if start != nil && bytes.Compare(start, prefix) > 0 {
		seek = start
	}
	next, stop := iter.Pull2(o.pend.Ascend(btreemap.GE(string(seek)), btreemap.Max[string]()))
	defer stop()
	it := newForward(o.snap, prefix, start)
	defer it.Close()
	return merge(next, prefix, it, false, fn)
}

// ScanReverse is Scan in descending key order.
func (o *overlayTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	upper := btreemap.Max[string]()
	if from := replication.ReverseStart(prefix, before); from != nil {
		upper = btreemap.LT(string(from))
	}
	next, stop := iter.Pull2(o.pend.Descend(upper, btreemap.GE(string(prefix))))
	defer stop()
	it := newReverse(o.snap, prefix, before)
	defer it.Close()
	return merge(next, prefix, it, true, fn)
}

// merge walks the pending writes next gives and the stored keys of it
// together, in ascending order or descending with desc, both within
// prefix: a pending write hides the stored value of its key, a pending
// deletion the key.
func merge(next func() (string, pending, bool), prefix []byte, it prefixIter, desc bool, fn func(k, v []byte) (bool, error)) error {
	var cur pendingKV
	curOK := false
	advance := func() {
		k, p, ok := next()
		curOK = ok && strings.HasPrefix(k, string(prefix))
		cur = pendingKV{k, p}
	}
	advance()
	for {
		var bk []byte
		if it.valid() {
			bk = it.Item().Key()
		}
		switch {
		case bk == nil && !curOK:
			return nil
		case curOK && (bk == nil || cur.k == string(bk) || (cur.k < string(bk)) != desc):
			if bk != nil && cur.k == string(bk) {
				it.Next() // the pending write replaces the stored value
			}
			p := cur
			advance()
			if p.p.deleted {
				continue
			}
			if more, err := fn([]byte(p.k), p.p.value); err != nil || !more {
				return err
			}
		default:
			if more, err := it.emit(fn); err != nil || !more {
				return err
			}
			it.Next()
		}
	}
}

// pendingKV is one pending write in key order.
type pendingKV struct {
	k string
	p pending
}

// writeTo copies the pending writes into a Badger transaction.
func (o *overlayTx) writeTo(txn *badger.Txn) error {
	var err error
	o.pend.AscendFunc(btreemap.Min[string](), btreemap.Max[string](), func(k string, p pending) bool {
		if p.deleted {
			err = txn.Delete([]byte(k))
		} else {
			err = txn.Set([]byte(k), p.value)
		}
		return err == nil
	})
	return err
}
