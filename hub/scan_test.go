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
		b := db.NewIndexedBatch()
		reptest.RandomWrites(rt, replication.WithPrefix(pebbleTx{r: b, b: b}, ns), model, "committed")
		if err := b.Commit(pebble.NoSync); err != nil {
			rt.Fatal(err)
		}
		reptest.CheckScans(rt, replication.WithPrefix(pebbleTx{r: db}, ns), model)
		b = db.NewIndexedBatch()
		defer b.Close()
		tx := replication.WithPrefix(pebbleTx{r: b, b: b}, ns)
		reptest.RandomWrites(rt, tx, model, "batch")
		reptest.CheckScans(rt, tx, model)
	})
}
