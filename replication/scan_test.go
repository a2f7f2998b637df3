package replication_test

import (
	"testing"

	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/replication/reptest"
)

// TestIndexedScans checks both scan directions of the views as readers
// see them with a deferred index: keys below the index's prefix live in
// the index area, the others among the views, and a scan over both merges
// them.
func TestIndexedScans(t *testing.T) {
	reg := replication.NewRegistry()
	reg.AddIndex(replication.Index{Name: "t", Prefixes: [][]byte{{'a', 0}, {'b', 'b'}},
		Watch: func([]byte) (string, bool) { return "", false }, Reindex: func(replication.Tx, string) error { return nil }})
	rapid.Check(t, func(t *rapid.T) {
		tx := replication.IndexedViews(reptest.NewMem(), reg, replication.IndexDeferred)
		model := map[string][]byte{}
		reptest.RandomWrites(t, tx, model, "writes")
		reptest.CheckScans(t, tx, model)
	})
}
