package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"branchline/hub"
	"branchline/node"
	"branchline/replication"
	"branchline/wiring"
)

// BenchmarkScopedCatchUp measures a fresh branch node's catch-up on a hub
// log of 50,000 events made by ten branches, against the same log made
// of company-wide events: with scopes the node applies its branch's
// tenth and the company's (1 in 10), and passes over the rest on the hub.
//
//	go test -run XXX -bench ScopedCatchUp -benchtime 1x ./node
func BenchmarkScopedCatchUp(b *testing.B) {
	const events, branches = 50000, 10
	for _, scoped := range []bool{false, true} {
		name := map[bool]string{false: "company-wide", true: "scoped"}[scoped]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				reg := scopeRegistry()
				th := startTestHub(b, hub.Config{Registry: reg, NodeScopes: grantedScopes})
				start := func(id string) *node.Node {
					n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: id, DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", HubURLs: []string{th.URL()}, Token: th.addNode(b, id), AdminPassword: pw, Registry: reg}})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { n.Close() })
					return n.Node
				}
				w := start("br-w")
				for i := 0; i < events; i += 500 {
					_, err := w.Store().Exec(context.Background(), "bench", func(replication.Tx) ([]replication.Draft, error) {
						var out []replication.Draft
						for j := i; j < i+500; j++ {
							scope := ""
							if scoped && j%10 != 0 {
								scope = replication.BranchScope(fmt.Sprintf("br-%d", j%branches))
							}
							out = append(out, replication.Draft{Kind: kindScopedSet, Entity: fmt.Sprintf("pickup/%d", j),
								Body: wrapperspb.String(fmt.Sprintf("%s|%d", scope, j))})
						}
						return out, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				waitFor(b, 120*time.Second, "the hub to hold every event", func() error {
					if p := w.Store().Progress(); p.Pushed < p.LastSeq || th.Projected() < th.Head() {
						return fmt.Errorf("pushed %d of %d, projected %d of %d", p.Pushed, p.LastSeq, th.Projected(), th.Head())
					}
					return nil
				})
				head := th.Head()
				t0 := time.Now()
				n := start("br-3")
				waitFor(b, 300*time.Second, "the fresh node to catch up", func() error {
					if c := n.Store().Progress().Cursor; c < head {
						return fmt.Errorf("at %d of %d", c, head)
					}
					return nil
				})
				took := time.Since(t0)
				b.ReportMetric(took.Seconds(), "catch-up-s")
				b.ReportMetric(float64(n.Store().Views().AppliedCount()), "events-applied")
				b.ReportMetric(float64(head)/took.Seconds(), "log-entries/s")
			}
		})
	}
}
