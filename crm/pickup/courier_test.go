package pickup_test

import (
	"maps"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"branchline/crm/pickup"
	eventv1 "branchline/gen/branchline/event/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// TestCourierBranches: the branches serving a courier are one canonical
// field (trimmed, unique, sorted node ids), checked by the command and by
// the event's check; a node serves the couriers whose branches name it.
func TestCourierBranches(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0) // li, wang, zhao: set without branches
	set := func(cr pickup.Courier) []*replication.Event {
		t.Helper()
		return c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) { return pickup.SetCourier(v, cr) })
	}
	li, _, err := pickup.GetCourier(c.views(0), "li")
	if err != nil || li.Branches != nil {
		t.Fatalf("li before: %+v, %v", li, err)
	}
	// Saving a courier of before, unchanged, says nothing of branches.
	if evs := set(li); len(evs) != 0 {
		t.Fatalf("an unchanged courier made %v", evs)
	}

	li.Branches = []string{" sh-minhang", "bj-haidian", "sh-minhang ", ""}
	evs := set(li)
	var body pickupv1.CourierSet
	if len(evs) != 1 || evs[0].Kind != pickup.KindCourierBranchesSet || proto.Unmarshal(evs[0].Body, &body) != nil || len(body.GetFields()) != 1 ||
		body.GetFields()[0].GetField() != "branches" || body.GetFields()[0].GetValue() != "bj-haidian,sh-minhang" {
		t.Fatalf("events %v, body %v", evs, &body)
	}
	if got, _, _ := pickup.GetCourier(c.views(0), "li"); !slices.Equal(got.Branches, []string{"bj-haidian", "sh-minhang"}) {
		t.Fatalf("li's branches %v", got.Branches)
	}
	wang, _, _ := pickup.GetCourier(c.views(0), "wang")
	wang.Branches = []string{"sh-minhang"}
	set(wang)

	for _, tc := range []struct {
		node string
		want []string
	}{
		{"sh-minhang", []string{"c:li", "c:wang"}},
		{"bj-haidian", []string{"c:li"}},
		{"sh-pudong", nil},
		{"Not A Node", nil},
	} {
		got, err := pickup.ServedScopes(c.views(0), tc.node)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ServedScopes(%s) = %v, %v; want %v", tc.node, got, err, tc.want)
		}
	}

	// Emptied: no node serves li any more.
	li.Branches = nil
	set(li)
	if got, _ := pickup.ServedScopes(c.views(0), "bj-haidian"); got != nil {
		t.Fatalf("after emptying: %v", got)
	}

	// Bad branches: refused, nothing written.
	before := c.reps[0].mem.Dump()
	for _, bad := range [][]string{{"SH-Pudong"}, {"sh pudong"}, {"-x"}, {"a:b"}} {
		li.Branches = bad
		_, err := c.exec(0, "disp", func(v replication.Tx) ([]replication.Draft, error) { return pickup.SetCourier(v, li) })
		wantErr(t, err, "bad_node", nil)
	}
	if !maps.Equal(before, c.reps[0].mem.Dump()) {
		t.Fatal("refused couriers changed the store")
	}
	// Branches travel in their own kind: crm.courier.set refuses the field
	// (as the release before it did).
	old, _ := proto.Marshal(&pickupv1.CourierSet{Fields: []*eventv1.FieldValue{{Field: "branches", Value: "bj-haidian"}}})
	if err := c.reg.Check(&replication.Event{Origin: "sh-pudong", Seq: 99, HLC: replication.MakeHLC(c.now.UnixMilli(), 0),
		Kind: pickup.KindCourierSet, Entity: pickup.CourierEntity("li"), Actor: "disp", Body: old}); err == nil {
		t.Error("crm.courier.set accepts branches")
	}
	// The check refuses what the command would not make.
	for _, v := range []string{"sh-minhang,bj-haidian", "bj-haidian,bj-haidian", " bj-haidian", "BJ", "bj-haidian,"} {
		body, _ := proto.Marshal(&pickupv1.CourierSet{Fields: []*eventv1.FieldValue{{Field: "branches", Value: v}}})
		ev := &replication.Event{Origin: "sh-pudong", Seq: 99, HLC: replication.MakeHLC(c.now.UnixMilli(), 0),
			Kind: pickup.KindCourierBranchesSet, Entity: pickup.CourierEntity("li"), Actor: "disp", Body: body}
		if err := c.reg.Check(ev); err == nil {
			t.Errorf("the check accepts branches %q", v)
		}
	}
}
