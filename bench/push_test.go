package bench

import (
	"context"
	"testing"
	"time"

	"branchline/crm"
	"branchline/kinds"
	"branchline/replication"
	"branchline/telephony"
)

// A source with a branch share makes that share of its events call
// records of its own branch, scoped to it; every event passes the hub's
// checks.
func TestEventSourceBranchShare(t *testing.T) {
	bodies, err := customerBodies(8)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := callBodies(8)
	if err != nil {
		t.Fatal(err)
	}
	reg := kinds.Registry()
	for _, tc := range []struct {
		share float64
		calls int
	}{{0, 0}, {0.25, 100}, {0.9, 360}, {1, 400}} {
		src := newEventSource("bench-01", bodies).withCalls(calls, tc.share)
		n := 0
		for _, e := range src.next(400) {
			ev := replication.FromProto(e)
			if err := reg.Check(ev); err != nil {
				t.Fatalf("share %v: event %d is refused: %v", tc.share, e.GetSeq(), err)
			}
			switch ev.Kind {
			case telephony.KindCallEnded:
				n++
				if len(ev.Scopes) != 1 || ev.Scopes[0] != replication.BranchScope("bench-01") {
					t.Fatalf("call record scoped %q, want its branch's", ev.Scopes)
				}
			case crm.KindCustomerCreated:
				if len(ev.Scopes) != 0 {
					t.Fatalf("customer scoped %q, want company-wide", ev.Scopes)
				}
			default:
				t.Fatalf("kind %s", ev.Kind)
			}
		}
		if n != tc.calls {
			t.Fatalf("share %v: %d call records of 400, want %d", tc.share, n, tc.calls)
		}
	}
}

// Nodes that push and pull live receive the others' customers, none of
// their own events and none of the others' branch records, and the
// measurement says how many arrived and how soon.
func TestLivePulls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub")
	}
	ctx := context.Background()
	cl, err := startCluster(ctx, t.TempDir(), 1, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	ids := []string{"bench-01", "bench-02", "bench-03"}
	tokens, err := cl.addNodes(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := customerBodies(64)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := callBodies(64)
	if err != nil {
		t.Fatal(err)
	}
	leader := cl.leader()
	ps := make([]*pusher, len(ids))
	for i, id := range ids {
		ps[i] = newPusher(id, tokens[id], leader.URL(), bodies)
		ps[i].src.withCalls(calls, 0.5)
		defer ps[i].close()
	}
	res, err := measurePush(ctx, ps, 100, 0, 2*time.Second, cl.head)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pull == nil || res.Events == 0 {
		t.Fatalf("pushed %d events in the window, pull result %+v", res.Events, res.Pull)
	}
	// Each node receives half the others' events (their customers): a
	// whole-log delivery would be twice that, its own events a third more.
	// Events committed in the window but acknowledged after it are counted
	// by the pulls only, so the bound is loose above.
	want := res.Events / 2 * (len(ids) - 1)
	if d := res.Pull.Delivered; d < want*9/10 || d > want*3/2 {
		t.Fatalf("%d events delivered for %d pushed in the window; want about %d", d, res.Events, want)
	}
	if l := res.Pull.Latency; l.N != res.Pull.Delivered || l.Max <= 0 {
		t.Fatalf("latency sample %+v for %d delivered", l, res.Pull.Delivered)
	}
}
