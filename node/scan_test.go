package node

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/replication/reptest"
)

// TestScans checks both scan directions of the node's transactions — a
// Badger transaction and the writer's overlay — over keys committed
// before and written in the transaction (sets hiding stored values,
// deletions hiding stored keys), against a model.
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
		write := func(set func(k, v []byte) error, del func(k []byte) error, label string) {
			for range rapid.IntRange(0, 15).Draw(rt, label) {
				k := reptest.TxKey(rt, "key")
				if rapid.Bool().Draw(rt, "delete") {
					if err := del(k); err != nil {
						rt.Fatal(err)
					}
					delete(model, string(k))
					continue
				}
				v := []byte{byte(len(model)), byte(len(label))}
				if err := set(k, v); err != nil {
					rt.Fatal(err)
				}
				model[string(k)] = v
			}
		}
		err := db.Update(func(txn *badger.Txn) error {
			tx := replication.WithPrefix(badgerTx{txn}, ns)
			write(tx.Set, tx.Delete, "committed")
			return nil
		})
		if err != nil {
			rt.Fatal(err)
		}
		committed := map[string][]byte{}
		for k, v := range model {
			committed[k] = v
		}

		// A Badger transaction with writes of its own.
		txn := db.NewTransaction(true)
		defer txn.Discard()
		tx := replication.WithPrefix(badgerTx{txn}, ns)
		write(tx.Set, tx.Delete, "pending")
		reptest.CheckScans(rt, tx, model)

		// The overlay over the committed keys.
		model = committed
		o := newOverlay(db)
		defer o.discard()
		tx = replication.WithPrefix(o, ns)
		write(tx.Set, tx.Delete, "overlay")
		reptest.CheckScans(rt, tx, model)
	})
}
