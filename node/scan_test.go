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
