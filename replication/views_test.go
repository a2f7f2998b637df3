package replication_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"branchline/replication"
	"branchline/replication/reptest"
)

// Events a replica cannot apply yet (a kind of a newer release) are
// parked, never dropped: the origin's later events wait behind them, and
// once the kind is known they are applied in order. Events of a known kind
// whose body does not decode are invalid: recorded, a no-op, and they do
// not hold back their origin. None of them touches the views or digest.
func TestViewsParkUnknownKindsAndRefuseBadBodies(t *testing.T) {
	old := testRegistry() // lacks test.future
	cases := []struct {
		name string
		ev   *replication.Event
		want replication.Outcome
	}{
		{"applied", &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 10, Kind: "test.reg", Body: body("a=1")}, replication.Applied},
		{"undecodable body", &replication.Event{Origin: "sh-pudong", Seq: 2, HLC: 11, Kind: "test.reg", Body: []byte{0xff, 0xff}}, replication.Invalid},
		{"later event after an invalid one applies", &replication.Event{Origin: "sh-pudong", Seq: 3, HLC: 12, Kind: "test.reg", Body: body("c=3")}, replication.Applied},
		{"unknown kind", &replication.Event{Origin: "sh-pudong", Seq: 4, HLC: 13, Kind: "test.future", Body: body("a=4")}, replication.Parked},
		{"again: duplicate", &replication.Event{Origin: "sh-pudong", Seq: 4, HLC: 13, Kind: "test.future", Body: body("a=4")}, replication.Duplicate},
		{"older seq of a known kind: duplicate", &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 99, Kind: "test.reg", Body: body("a=9")}, replication.Duplicate},
		{"later event of the origin waits behind it", &replication.Event{Origin: "sh-pudong", Seq: 5, HLC: 14, Kind: "test.reg", Body: body("a=5")}, replication.Parked},
		{"other origins go on", &replication.Event{Origin: "bj-chaoyang", Seq: 1, HLC: 15, Kind: "test.reg", Body: body("b=1")}, replication.Applied},
	}
	m := reptest.NewMem()
	views, err := replication.OpenViews(old, m)
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
	if seq, _ := replication.AppliedSeq(m, "sh-pudong"); seq != 5 {
		t.Errorf("AppliedSeq = %d, want 5", seq)
	}
	if n, p, i := views.AppliedCount(), views.ParkedCount(), views.InvalidCount(); n != 3 || p != 2 || i != 1 {
		t.Errorf("applied, parked, invalid = %d, %d, %d; want 3, 2, 1", n, p, i)
	}
	if bad, err := replication.InvalidEvents(m, 10); err != nil || len(bad) != 1 || bad[0].Origin != "sh-pudong" || bad[0].Seq != 2 {
		t.Errorf("InvalidEvents = %+v, %v", bad, err)
	}
	// Reopening reads back what the batches recorded; unparking with the
	// same registry changes nothing.
	again, err := replication.OpenViews(old, m)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest() != views.Digest() || again.AppliedCount() != 3 || again.ParkedCount() != 2 {
		t.Errorf("reopened views: digest %v count %d parked %d", again.Digest(), again.AppliedCount(), again.ParkedCount())
	}
	b := again.Begin(m)
	if n, err := b.Unpark(); err != nil || n != 0 {
		t.Fatalf("Unpark with the old registry = %d, %v", n, err)
	}

	// The upgrade: a registry that knows test.future applies both parked
	// events in order (a=4 then a=5, so a ends as 5), and the result is the
	// state of a replica that knew the kind all along.
	upgraded, err := replication.OpenViews(futureRegistry(), m)
	if err != nil {
		t.Fatal(err)
	}
	b = upgraded.Begin(m)
	if n, err := b.Unpark(); err != nil || n != 2 {
		t.Fatalf("Unpark after the upgrade = %d, %v; want 2", n, err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	if p := upgraded.ParkedCount(); p != 0 {
		t.Errorf("%d events still parked", p)
	}
	ref := reptest.NewMem()
	refViews, err := replication.OpenViews(futureRegistry(), ref)
	if err != nil {
		t.Fatal(err)
	}
	rb := refViews.Begin(ref)
	for _, c := range cases {
		if _, err := rb.Apply(c.ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := rb.Finish(); err != nil {
		t.Fatal(err)
	}
	rb.Commit()
	if upgraded.Digest() != refViews.Digest() {
		t.Errorf("after unparking, digest %v; a replica that knew the kind has %v", upgraded.Digest(), refViews.Digest())
	}
	if reg, _, _ := replication.GetRegister(replication.ReadViews(m), replication.Key("reg", "a")); string(reg.Value) != "5" {
		t.Errorf("a = %q after unparking, want 5 (parked events applied in order)", reg.Value)
	}
}

// futureRegistry is testRegistry of a newer release, which also knows
// test.future (a register write under another name).
func futureRegistry() *replication.Registry {
	r := testRegistry()
	replication.Handle(r, "test.future", func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		k, v, _ := strings.Cut(b.Value, "=")
		_, _, err := replication.SetRegister(tx, replication.Key("reg", k), []byte(v), replication.StampOf(ev))
		return err
	}, nil)
	return r
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
