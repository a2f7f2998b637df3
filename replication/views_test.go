package replication_test

import (
	"testing"

	"branchline/replication"
	"branchline/replication/reptest"
)

// Events a replica cannot apply (a kind of a newer version, a body that
// does not decode) are recorded as seen, so they are not applied twice
// and do not hold back the origin's later events, and they leave the views
// and digest alone.
func TestViewsSkipUnknownKindsAndBadBodies(t *testing.T) {
	reg := testRegistry()
	cases := []struct {
		name string
		ev   *replication.Event
		want replication.Outcome
	}{
		{"applied", &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 10, Kind: "test.reg", Body: body("a=1")}, replication.Applied},
		{"unknown kind", &replication.Event{Origin: "sh-pudong", Seq: 2, HLC: 11, Kind: "test.future", Body: body("a=2")}, replication.Skipped},
		{"undecodable body", &replication.Event{Origin: "sh-pudong", Seq: 3, HLC: 12, Kind: "test.reg", Body: []byte{0xff, 0xff}}, replication.Skipped},
		{"again: duplicate", &replication.Event{Origin: "sh-pudong", Seq: 2, HLC: 11, Kind: "test.future", Body: body("a=2")}, replication.Duplicate},
		{"older seq of a known kind: duplicate", &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 99, Kind: "test.reg", Body: body("a=9")}, replication.Duplicate},
		{"later event of the origin still applies", &replication.Event{Origin: "sh-pudong", Seq: 4, HLC: 13, Kind: "test.reg", Body: body("b=4")}, replication.Applied},
	}
	m := reptest.NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := viewsOf(m)
			digest := views.Digest()
			b := views.Begin(m)
			got, err := b.Apply(c.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("outcome %d, want %d", got, c.want)
			}
			if err := b.Finish(); err != nil {
				t.Fatal(err)
			}
			b.Commit()
			changed := len(viewsOf(m)) != len(before) || views.Digest() != digest
			if c.want != replication.Applied && changed {
				t.Fatalf("a %d outcome changed the views", c.want)
			}
			if c.want == replication.Applied && !changed {
				t.Fatal("an applied event left the views and digest alone")
			}
		})
	}
	if seq, _ := replication.AppliedSeq(m, "sh-pudong"); seq != 4 {
		t.Errorf("AppliedSeq = %d, want 4", seq)
	}
	if n := views.AppliedCount(); n != 2 {
		t.Errorf("AppliedCount = %d, want 2 (skips and duplicates do not count)", n)
	}
	// Reopening reads back the digest and count the batches recorded.
	again, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest() != views.Digest() || again.AppliedCount() != views.AppliedCount() {
		t.Errorf("reopened views: digest %v count %d, want %v %d", again.Digest(), again.AppliedCount(), views.Digest(), views.AppliedCount())
	}
}

// A batch that is dropped (its transaction discarded) leaves the
// committed digest alone.
func TestViewsDroppedBatchChangesNothing(t *testing.T) {
	reg := testRegistry()
	m := reptest.NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	scratch := reptest.NewMem()
	b := views.Begin(scratch)
	if _, err := b.Apply(&replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 1, Kind: "test.reg", Body: body("a=1")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	// No Commit: the transaction was discarded.
	if views.Digest() != (replication.Digest{}) || views.AppliedCount() != 0 {
		t.Fatalf("uncommitted batch changed the views: %v %d", views.Digest(), views.AppliedCount())
	}
}
