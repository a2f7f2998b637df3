package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	"branchline/rpc"
)

// TestLostStore: a branch PC's disk dies (the node is killed and its data
// directory deleted); the node started again on an empty directory with
// the same id and token takes its data back from head office before it
// takes changes, then continues: its next event follows the last seq the
// hub holds, and its next pickup number follows the last one booked — no
// seq and no pickup number is used twice.
func TestLostStore(t *testing.T) {
	ctx := context.Background()
	hubs := startCluster(t, 1)
	tok := addNode(t, "br-lost", hubs...)
	// From a snapshot of the company's data, however short the hub's log.
	n := startNode(t, "br-lost", hubURLs(hubs), tok, "BRANCHLINE_SNAPSHOT_ABOVE=1")
	book := func() *pickupv1.Pickup {
		t.Helper()
		var res *connect.Response[pickupv1.CreatePickupResponse]
		waitFor(t, 60*time.Second, "a pickup to be booked", func() error {
			tok, err := login(n.url)
			if err != nil {
				return err
			}
			pk := pickupv1connect.NewPickupServiceClient(hc, n.url, rpc.WithBearer(tok))
			res, err = pk.CreatePickup(ctx, connect.NewRequest(&pickupv1.CreatePickupRequest{
				Sender:      &pickupv1.Party{Name: "张三", Phone: "13800000001", Address: "上海市浦东新区张杨路 500 号", Postcode: "200120"},
				Receiver:    &pickupv1.Party{Name: "王五", Phone: "13900000009", Address: "北京市朝阳区建国路 88 号", Postcode: "100022"},
				Destination: "北京", Goods: "文件", WeightGrams: 1200, Pieces: 1, Payment: "cash", Zone: "pudong",
			}))
			return err
		})
		return res.Msg.GetPickup()
	}
	pk := pickupv1connect.NewPickupServiceClient(hc, n.url, rpc.WithBearer(mustLogin(t, n.url)))
	_, err := pk.SetZone(ctx, connect.NewRequest(&pickupv1.SetZoneRequest{Zone: &pickupv1.Zone{
		Id: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"},
	}}))
	must(t, "set zone", err)
	first, second := book(), book()
	converged(t, 60*time.Second, 0, hubs, n)
	before, err := statusOf(n.url)
	must(t, "status", err)

	n.proc.kill()
	if err := os.RemoveAll(n.data); err != nil {
		t.Fatal(err)
	}
	n.proc.start() // on the same address
	waitFor(t, 60*time.Second, "the node to see its store was lost", func() error {
		if !n.proc.logContains("taking its data back from head office") {
			return errors.New("not yet")
		}
		return nil
	})
	waitFor(t, 60*time.Second, "the restore to end", func() error {
		st, err := statusOf(n.url)
		if err != nil {
			return err
		}
		if st.GetRebuilding() || st.GetRebuildReason() != "" || st.GetAppliedPosition() < before.GetAppliedPosition() {
			return fmt.Errorf("rebuilding (%s, phase %q, at %d)", st.GetRebuildReason(), st.GetRebuildPhase(), st.GetRebuildPosition())
		}
		return nil
	})
	// (That the views are the very ones the node had built by pulling is
	// node.TestSnapshotProductViews: here every look logs in, which the
	// audit trail records.)
	if !n.proc.logContains("snapshot of the company views installed") {
		t.Errorf("the node did not restore from a snapshot")
	}
	third := book() // refused until the data is back, then booked
	num := func(p *pickupv1.Pickup) int {
		n, err := strconv.Atoi(p.GetNumber()[strings.LastIndexByte(p.GetNumber(), '-')+1:])
		if err != nil {
			t.Fatalf("pickup number %q: %v", p.GetNumber(), err)
		}
		return n
	}
	if num(third) <= num(second) || third.GetNumber() == first.GetNumber() || third.GetNumber() == second.GetNumber() {
		t.Fatalf("pickup numbers %s, %s before the loss, %s after: a number is reused", first.GetNumber(), second.GetNumber(), third.GetNumber())
	}
	converged(t, 60*time.Second, 0, hubs, n)
	after, err := statusOf(n.url)
	must(t, "status", err)
	if after.GetLastSeq() <= before.GetLastSeq() {
		t.Fatalf("last seq %d after the loss, %d before: seqs reused", after.GetLastSeq(), before.GetLastSeq())
	}
}
