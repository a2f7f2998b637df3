package replication_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"branchline/replication"
	"branchline/replication/reptest"
)

// marksRegistry has an index whose snapshots ship only its "live"
// entries, keyed by the record it watches ("c\0rec\0id…", "c\0ct\0id…"),
// and one that ships everything.
func marksRegistry() *replication.Registry {
	reg := replication.NewRegistry()
	watch := func(k []byte) (string, bool) {
		for _, p := range [][]byte{replication.Prefix("c", "rec"), replication.Prefix("c", "ct")} {
			if rest, ok := bytes.CutPrefix(k, p); ok {
				id, _, _ := bytes.Cut(rest, []byte{0})
				return string(id), true
			}
		}
		return "", false
	}
	reg.AddIndex(replication.Index{Name: "c", Prefixes: [][]byte{replication.Prefix("c", "live"), replication.Prefix("c", "so"), replication.Prefix("c", "ix")},
		Shipped: [][]byte{replication.Prefix("c", "live")}, Watch: watch, Reindex: func(replication.Tx, string) error { return nil }})
	reg.AddIndex(replication.Index{Name: "f", Prefixes: [][]byte{replication.Prefix("f")},
		Watch: func([]byte) (string, bool) { return "", false }, Reindex: func(replication.Tx, string) error { return nil }})
	return reg
}

// A snapshot leaves out the entries of an index outside its Shipped
// prefixes, and only those; a scan goes on after the run they begin.
func TestSnapshotLeavesOut(t *testing.T) {
	reg := marksRegistry()
	for _, c := range []struct {
		key  string
		out  bool
		next string
	}{
		{"x\x00c\x00so\x00name\x00a1", true, "x\x00c\x00so\x01"},
		{"x\x00c\x00ix\x00a1", true, "x\x00c\x00ix\x01"},
		{"x\x00c\x00live\x00a1", false, ""},
		{"x\x00f\x00a1", false, ""},          // an index that ships everything
		{"v\x00c\x00so\x00a1", false, ""},    // a view, not an index entry
		{"x\x00c\x00other\x00a1", false, ""}, // no index's
		{"xd\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00c\x00a1", false, ""},
		{"m\x00xseq", false, ""},
	} {
		next, out := reg.SnapshotLeavesOut([]byte(c.key))
		if out != c.out || string(next) != c.next {
			t.Errorf("SnapshotLeavesOut(%q) = %q, %v; want %q, %v", c.key, next, out, c.next, c.out)
		}
	}
}

// SnapshotMarks marks each entity once per run of its view pairs, in bulk
// markers that wait in their own queue and whose seqs count the entities;
// a resumed installation's marks go on after those it wrote.
func TestSnapshotMarks(t *testing.T) {
	reg := marksRegistry()
	store := reptest.NewMem()
	pairs := []string{
		"a\x00node",
		"m\x00xseq",
		"v\x00c\x00ct\x00a\x00phone",
		"v\x00c\x00ct\x00b\x00phone",
		"v\x00c\x00rec\x00a\x00city",
		"v\x00c\x00rec\x00a\x00name",
		"v\x00c\x00rec\x00b\x00name",
		"v\x00d\x00other",
		"x\x00c\x00live\x00a",
	}
	write := func(k, v []byte) {
		if err := store.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	install := func(keys []string) {
		t.Helper()
		m, err := reg.NewSnapshotMarks(store)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			m.Pair([]byte(k), write)
		}
		m.Flush(write)
	}
	install(pairs[:6])
	install(pairs[6:]) // resumed after a cut
	got, err := replication.PendingBulkMarkers(store, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// a and b for their contacts, then a for its record (one marker), then
	// b for its record after the cut.
	want := []replication.Marker{{Seq: 3, Index: "c", Entity: "a", Bulk: true}, {Seq: 3, Index: "c", Entity: "b", Bulk: true},
		{Seq: 3, Index: "c", Entity: "a", Bulk: true}, {Seq: 4, Index: "c", Entity: "b", Bulk: true}}
	if !slices.Equal(got, want) {
		t.Errorf("bulk markers %+v, want %+v", got, want)
	}
	if other, err := replication.PendingMarkers(store, 0, 100); err != nil || len(other) != 0 {
		t.Errorf("markers outside the bulk queue: %+v, %v", other, err)
	}
	for after, want := range map[uint64]int{0: 4, 3: 1, 4: 0} {
		if n, err := replication.BulkMarkersLeft(store, after); err != nil || n != want {
			t.Errorf("BulkMarkersLeft after %d = %d, %v; want %d", after, n, err, want)
		}
	}
	// Processed, a bulk marker is deleted from its own queue.
	v, err := replication.OpenViews(reg, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.ProcessMarkers(store, got[:3]); err != nil {
		t.Fatal(err)
	}
	if left, err := replication.PendingBulkMarkers(store, 0, 100); err != nil || !slices.Equal(left, want[3:]) {
		t.Errorf("after processing the first marker: %+v, %v; want %+v", left, err, want[3:])
	}
	if n, err := replication.BulkMarkersLeft(store, 0); err != nil || n != 1 {
		t.Errorf("BulkMarkersLeft after processing the first marker = %d, %v; want 1", n, err)
	}
}

// Many entities go into markers of a few hundred each; an indexer's step
// takes whole markers, up to about the entities it asked for.
func TestSnapshotMarksGrouped(t *testing.T) {
	reg := marksRegistry()
	store := reptest.NewMem()
	write := func(k, v []byte) {
		if err := store.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	m, err := reg.NewSnapshotMarks(store)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 600 {
		m.Pair(append([]byte("v\x00"), replication.Key("c", "rec", fmt.Sprintf("e%03d", i), "name")...), write)
	}
	m.Flush(write)
	all, err := replication.PendingBulkMarkers(store, 0, 1000)
	if err != nil || len(all) != 600 {
		t.Fatalf("%d bulk-marked entities (%v), want 600", len(all), err)
	}
	var seqs []uint64
	for i, mk := range all {
		if want := fmt.Sprintf("e%03d", i); mk.Entity != want {
			t.Fatalf("entity %d is %q, want %q", i, mk.Entity, want)
		}
		if len(seqs) == 0 || seqs[len(seqs)-1] != mk.Seq {
			seqs = append(seqs, mk.Seq)
		}
	}
	if !slices.Equal(seqs, []uint64{256, 512, 600}) {
		t.Errorf("marker seqs %v, want [256 512 600]", seqs)
	}
	if step, err := replication.PendingBulkMarkers(store, 0, 300); err != nil || len(step) != 512 {
		t.Errorf("a step asking for 300 takes %d (%v), want the two whole markers reaching them: 512", len(step), err)
	}
	if n, err := replication.BulkMarkersLeft(store, 256); err != nil || n != 344 {
		t.Errorf("BulkMarkersLeft after the first marker = %d, %v; want 344", n, err)
	}
}
