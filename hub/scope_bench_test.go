package hub

import (
	"fmt"
	"testing"
	"time"

	"branchline/replication"
)

// BenchmarkScopedPull measures what serving one node's Pull costs the hub
// per log entry when the node takes a small part of the log: 100 branches'
// events, 1 in 10 company-wide, the rest each of its branch's scope; one
// node reads the whole log through its scope (its branch and the company:
// about 11 % of the entries), against reading it unscoped (every entry).
//
//	go test -run XXX -bench ScopedPull -benchtime 5x ./hub
func BenchmarkScopedPull(b *testing.B) {
	const branches, perBranch = 100, 500
	f := newTestFSM(b)
	idx := uint64(0)
	for i := range branches {
		origin := fmt.Sprintf("br-%03d", i)
		evs := custEvents(origin, 1, perBranch)
		for j, e := range evs {
			if j%10 != 0 {
				e.Scopes = []string{replication.BranchScope(origin)}
			}
		}
		idx++
		wantPushResult(b, apply(b, f, idx, pushCmd(origin, evs)), perBranch, false)
	}
	if err := f.projectAll(); err != nil {
		b.Fatal(err)
	}
	head := f.state().Head
	for _, c := range []struct {
		name string
		sc   *scoping
	}{
		{"unscoped", &scoping{unscoped: true}},
		{"scoped", &scoping{scopes: []string{replication.BranchScope("br-007")}, node: "br-007"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			sent := 0
			start := time.Now()
			for b.Loop() {
				sent = 0
				for pos := uint64(0); pos < head; {
					batch, err := f.readScoped(c.sc, pos, 0, replication.MaxBatchEvents, replication.MaxBatchBytes)
					if err != nil {
						b.Fatal(err)
					}
					sent += batch.n
					pos = batch.pos
				}
			}
			per := time.Since(start) / time.Duration(b.N) / time.Duration(head)
			b.ReportMetric(float64(per.Nanoseconds()), "ns/entry")
			b.ReportMetric(float64(sent), "events_sent")
		})
	}
}
