package node

import (
	"fmt"
	"maps"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/replication/reptest"
)

// TestScans checks both scan directions of the node's transactions — a
// Badger transaction and the writer's overlay — over keys committed
// before and written in the transaction (sets hiding stored values,
// deletions hiding stored keys), and the indexer's reads (cursorTx) of
// what was committed, against a model.
func TestScans(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLoggingLevel(badger.ERROR))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		// Each case in keys of its own, seen through WithPrefix (which is
		// how the store's views are read).
		run++
		ns := fmt.Appendf(nil, "%08d", run)
		model := map[string][]byte{}
		err := db.Update(func(txn *badger.Txn) error {
			reptest.RandomWrites(rt, replication.WithPrefix(badgerTx{txn}, ns), model, "committed")
			return nil
		})
		if err != nil {
			rt.Fatal(err)
		}
		committed := maps.Clone(model)

		// The indexer's reads through kept iterators, in any order.
		snap := db.NewTransaction(false)
		defer snap.Discard()
		ct := newCursorTx(snap)
		defer ct.Close()
		reptest.CheckReads(rt, replication.WithPrefix(ct, ns), committed)

		// A Badger transaction with writes of its own.
		txn := db.NewTransaction(true)
		defer txn.Discard()
		tx := replication.WithPrefix(badgerTx{txn}, ns)
		reptest.RandomWrites(rt, tx, model, "pending")
		reptest.CheckScans(rt, tx, model)

		// The overlay over the committed keys.
		o := newOverlay(db)
		defer o.discard()
		tx = replication.WithPrefix(o, ns)
		reptest.RandomWrites(rt, tx, committed, "overlay")
		reptest.CheckScans(rt, tx, committed)
	})
}

// TestCommittedVersion: the version snapshot pairs are written at covers
// every commit made before it is read, while other goroutines commit (the
// race detector fails this test with Badger's MaxVersion, whose memtable
// field the writer goroutine sets without a lock).
func TestCommittedVersion(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLoggingLevel(badger.ERROR))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan error)
	go func() {
		var err error
		for i := 0; i < 200 && err == nil; i++ {
			err = db.Update(func(txn *badger.Txn) error { return txn.Set(fmt.Appendf(nil, "other/%d", i), nil) })
		}
		done <- err
	}()
	for i := range 200 {
		k := fmt.Appendf(nil, "mine/%d", i)
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, nil) }); err != nil {
			t.Fatal(err)
		}
		v := committedVersion(db)
		err := db.View(func(txn *badger.Txn) error {
			it, err := txn.Get(k)
			if err != nil {
				return err
			}
			if it.Version() > v {
				return fmt.Errorf("%s committed at version %d, after the committed version %d", k, it.Version(), v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
