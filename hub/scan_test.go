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

// TestScans checks the reads of the hub's transactions against a model:
// both scan directions over committed keys and an indexed batch's writes;
// and the same through a step reusing its iterators (stepTx) — over
// committed keys, and over the batch written between its reads (each
// iterator taken again must see the writes made since), with point reads
// of present and absent keys and a read inside a scan's callback (which
// takes a second iterator while the first is in use).
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
		read, closeRead := stepTx(db, nil)
		reptest.CheckReads(rt, replication.WithPrefix(read, ns), model)
		if err := closeRead(); err != nil {
			rt.Fatal(err)
		}

		b = db.NewIndexedBatch()
		defer b.Close()
		tx := replication.WithPrefix(pebbleTx{r: b, b: b}, ns)
		reptest.RandomWrites(rt, tx, model, "batch")
		reptest.CheckScans(rt, tx, model)
		step, closeStep := stepTx(b, b)
		defer closeStep()
		stx := replication.WithPrefix(step, ns)
		for round := range rapid.IntRange(1, 3).Draw(rt, "rounds") {
			reptest.RandomWrites(rt, stx, model, fmt.Sprintf("step %d", round))
			reptest.CheckReads(rt, stx, model)
		}
		if err := closeStep(); err != nil {
			rt.Fatal(err)
		}
	})
}
