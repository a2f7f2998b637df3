package node

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
		err := db.Update(func(txn *badger.Txn) error {
			reptest.RandomWrites(rt, replication.WithPrefix(badgerTx{txn}, ns), model, "committed")
			return nil
		})
		if err != nil {
			rt.Fatal(err)
		}
		committed := maps.Clone(model)

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

// TestCursorReads checks the indexer's reads through kept iterators
// (cursorTx) against a model: gets and scans in any order, reads made
// from a scan's callback, more places read than it keeps iterators for.
func TestCursorReads(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLoggingLevel(badger.ERROR))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		ns := fmt.Appendf(nil, "%08d", run)
		model := map[string][]byte{}
		err := db.Update(func(txn *badger.Txn) error {
			for range 3 {
				reptest.RandomWrites(rt, replication.WithPrefix(badgerTx{txn}, ns), model, "committed")
			}
			return nil
		})
		if err != nil {
			rt.Fatal(err)
		}
		txn := db.NewTransaction(false)
		defer txn.Discard()
		ct := newCursorTx(txn)
		defer ct.Close()
		tx := replication.WithPrefix(ct, ns)
		get := func(label string) {
			k := reptest.TxKey(rt, label)
			v, err := tx.Get(k)
			want, ok := model[string(k)]
			switch {
			case !ok && !errors.Is(err, replication.ErrNotFound):
				rt.Fatalf("Get(%q) = %q, %v; want not found", k, v, err)
			case ok && (err != nil || !bytes.Equal(v, want)):
				rt.Fatalf("Get(%q) = %q, %v; want %q", k, v, err, want)
			}
		}
		for range rapid.IntRange(1, 40).Draw(rt, "reads") {
			switch rapid.IntRange(0, 2).Draw(rt, "read") {
			case 0:
				get("get")
			case 1:
				reptest.CheckScans(rt, tx, model)
			default: // a scan whose callback reads too
				prefix := reptest.TxKey(rt, "prefix")
				var got []string
				err := tx.Scan(prefix, nil, func(k, _ []byte) (bool, error) {
					got = append(got, string(k))
					get("nested get")
					return true, nil
				})
				if err != nil {
					rt.Fatal(err)
				}
				var want []string
				for k := range model {
					if strings.HasPrefix(k, string(prefix)) {
						want = append(want, k)
					}
				}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					rt.Fatalf("Scan(%q) with reads in its callback = %q, want %q", prefix, got, want)
				}
			}
		}
	})
}
