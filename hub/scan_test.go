package hub

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/replication/reptest"
)

// TestScans checks both scan directions of the hub's transactions over
// committed keys and an indexed batch's writes against a model.
func TestScans(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		ns := fmt.Appendf(nil, "%08d", run)
		model := map[string][]byte{}
		write := func(tx replication.Tx, label string) {
			for range rapid.IntRange(0, 15).Draw(rt, label) {
				k := reptest.TxKey(rt, "key")
				if rapid.Bool().Draw(rt, "delete") {
					if err := tx.Delete(k); err != nil {
						rt.Fatal(err)
					}
					delete(model, string(k))
					continue
				}
				v := []byte{byte(len(model)), byte(len(label))}
				if err := tx.Set(k, v); err != nil {
					rt.Fatal(err)
				}
				model[string(k)] = v
			}
		}
		b := db.NewIndexedBatch()
		write(replication.WithPrefix(pebbleTx{r: b, b: b}, ns), "committed")
		if err := b.Commit(pebble.NoSync); err != nil {
			rt.Fatal(err)
		}
		reptest.CheckScans(rt, replication.WithPrefix(pebbleTx{r: db}, ns), model)
		b = db.NewIndexedBatch()
		defer b.Close()
		tx := replication.WithPrefix(pebbleTx{r: b, b: b}, ns)
		write(tx, "batch")
		reptest.CheckScans(rt, tx, model)
	})
}
