package crm_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"branchline/crm"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

var shippedPhones = []string{"", "+8613800000001", "+8613800000002", "+862150001000"}

// genShippedStreams: creates, edits, contacts, deletes, restores and
// merges of few customers that share names and phone numbers.
func genShippedStreams(t *rapid.T, reg *replication.Registry) [][]*replication.Event {
	fields := func(create bool) []*eventv1.FieldValue {
		out := drawListFields(t, create)
		for _, f := range []string{"phone", "mobile"} {
			if rapid.IntRange(0, 2).Draw(t, "write-"+f) == 0 {
				out = append(out, &eventv1.FieldValue{Field: f, Value: rapid.SampledFrom(shippedPhones).Draw(t, f)})
			}
		}
		return out
	}
	return genLifecycleStreams(t, reg, listIDs[:4], fields, listIDs[4:6])
}

// TestShippedViewsHoldWhatSnapshotsShip: views kept to be shipped (the
// hub's company views) build only the customer index entries a snapshot
// carries — phone numbers, type-ahead's texts, names — and those equal,
// key for key and value for value, what views that build every entry
// hold, after any mix of creates, edits, contacts, deletes, restores and
// merges, indexed in steps of any size.
func TestShippedViewsHoldWhatSnapshotsShip(t *testing.T) {
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	shipped := crm.CustomerIndex.Shipped
	record := string(replication.Prefix("crm", "ix"))
	rapid.Check(t, func(t *rapid.T) {
		evs := reptest.Interleave(t, genShippedStreams(t, reg), "order")
		full, _ := applyDeferred(t, reg, evs, nil)
		only, _ := applyDeferred(t, reg, evs, replication.OpenShippedViews)
		entries := func(m *reptest.Mem) map[string]string {
			out := map[string]string{}
			for k, v := range m.Dump() {
				for _, p := range crm.CustomerIndex.Prefixes {
					if rest, ok := strings.CutPrefix(k, "x\x00"); ok && strings.HasPrefix(rest, string(p)) {
						out[rest] = v
					}
				}
			}
			return out
		}
		want, got := entries(full), entries(only)
		maps.DeleteFunc(want, func(k, _ string) bool {
			return !slices.ContainsFunc(shipped, func(p []byte) bool { return strings.HasPrefix(k, string(p)) })
		})
		maps.DeleteFunc(got, func(k, _ string) bool { return strings.HasPrefix(k, record) })
		if !maps.Equal(got, want) {
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("shipped views: %q = %q (held %v), want %q", k, g, ok, v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("shipped views hold %q, which the full views lack or do not ship", k)
				}
			}
			t.FailNow()
		}
	})
}
