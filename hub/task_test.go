package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"branchline/crm"
	hubv1 "branchline/gen/branchline/hub/v1"
	"branchline/kinds"
	"branchline/replication"
)

// onceTask creates one customer, the first time it runs: what it does
// depends on the views, as a real task's grants depend on the shares
// already granted.
func onceTask(views replication.Tx, now time.Time) ([]replication.Draft, error) {
	id := customerID("hub", 1)
	if _, err := crm.GetCustomer(views, id); err == nil {
		return nil, nil
	}
	d, err := crm.CreateCustomer(views, id, map[string]string{"display_name": "made at " + now.UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

func badTask(replication.Tx, time.Time) ([]replication.Draft, error) {
	return []replication.Draft{{Kind: crm.KindCustomerCreated, Entity: "customer/not-an-id", Body: nil}}, nil
}

func openTaskFSM(t *testing.T) *fsm {
	t.Helper()
	f, err := openFSM(t.TempDir(), kinds.Registry(), map[string]Task{"once": onceTask, "bad": badTask}, nil, slog.New(slog.DiscardHandler), nil, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	activateAll(f)
	return f
}

// activateAll sets the cluster version to everything the state machine's
// build can run, as the leader of a cluster of such members would commit
// it: the test's tasks and reactions are not in the baseline.
func activateAll(f *fsm) {
	f.active = map[string]bool{}
	for _, c := range Capabilities(f.reg, f.tasks, f.reactions) {
		f.active[c] = true
	}
}

func runTask(name string, ms int64) *hubv1.Command {
	return &hubv1.Command{TimeMs: ms, Op: &hubv1.Command_RunTask{RunTask: &hubv1.RunTask{Name: name}}}
}

// TestTaskDecidesInsideTheStateMachine: two entries running the same task
// (as two leaders in a row would propose from the same stale view) make
// its events once; the events carry origin hub, gapless seqs and a clock
// that never goes back; every replica ends with the same state.
func TestTaskDecidesInsideTheStateMachine(t *testing.T) {
	a, b := openTaskFSM(t), openTaskFSM(t)
	cmds := []*hubv1.Command{runTask("once", baseMs+5000), runTask("once", baseMs+6000), pushCmd("n1", custEvents("n1", 1, 2))}
	for _, f := range []*fsm{a, b} {
		for i, c := range cmds {
			apply(t, f, uint64(i+1), c)
		}
	}
	if got := apply(t, a, 10, runTask("once", baseMs+7000)); got != 0 {
		t.Fatalf("third run made %v events, want 0", got)
	}
	seq, err := a.DurableSeq(replication.HubOrigin)
	if err != nil || seq != 1 {
		t.Fatalf("hub seq = %d, %v; want 1", seq, err)
	}
	evs, head, err := a.ReadLog(0, nil, 100, 1<<20)
	if err != nil || head != 3 || len(evs) != 3 {
		t.Fatalf("log: %d events up to %d, %v; want 3 up to 3", len(evs), head, err)
	}
	first := evs[0].GetEvent()
	if first.GetOrigin() != replication.HubOrigin || first.GetSeq() != 1 || first.GetActor() != HubActor ||
		replication.HLC(first.GetHlc()).Millis() != baseMs+5000 {
		t.Fatalf("hub event = %v", first)
	}
	if a.Digest() != b.Digest() {
		t.Fatal("replicas that applied the same entries differ")
	}
	var name string
	if err := a.read(func(tx replication.Tx) error {
		c, err := crm.GetCustomer(replication.ReadViews(tx), customerID("hub", 1))
		if err == nil {
			name = c.Get("display_name")
		}
		return err
	}); err != nil || name == "" {
		t.Fatalf("customer the task made: %q, %v", name, err)
	}
}

// TestTaskRefusals: an unknown task and a task making an event no replica
// would accept are refused, and nothing is committed.
func TestTaskRefusals(t *testing.T) {
	f := openTaskFSM(t)
	apply(t, f, 1, pushCmd("n1", custEvents("n1", 1, 1)))
	before := dump(t, f)
	wantRejected(t, apply(t, f, 2, runTask("nope", baseMs)), connect.CodeInvalidArgument)
	wantRejected(t, apply(t, f, 3, runTask("bad", baseMs)), connect.CodeInternal)
	if after := dump(t, f); !maps.Equal(before, after) {
		t.Fatal("a refused task changed the state")
	}
	if seq, err := f.DurableSeq(replication.HubOrigin); err != nil || seq != 0 {
		t.Fatalf("hub seq = %d, %v; want 0", seq, err)
	}
}

// TestReactionFollowsThePushedEvent: a reaction's events are committed
// right after the pushed event they answer, with origin hub, in the same
// entry, alike on every member; a failing reaction does not refuse the push.
func TestReactionFollowsThePushedEvent(t *testing.T) {
	second := func(views replication.Tx, ev *replication.Event) ([]replication.Draft, error) {
		switch {
		case ev.Origin == "n1" && ev.Seq == 2:
			d, err := crm.CreateCustomer(views, customerID("hub", 9), map[string]string{"display_name": "answer to " + ev.String()})
			return []replication.Draft{d}, err
		case ev.Seq == 3:
			return nil, errors.New("this reaction fails")
		}
		return nil, nil
	}
	open := func() *fsm {
		f, err := openFSM(t.TempDir(), kinds.Registry(), nil, nil, slog.New(slog.DiscardHandler), nil, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		f.reactions = map[string]Reaction{"second": second}
		t.Cleanup(func() { f.close() })
		activateAll(f)
		return f
	}
	a, b := open(), open()
	for _, f := range []*fsm{a, b} {
		wantPushResult(t, apply(t, f, 1, pushCmd("n1", custEvents("n1", 1, 3))), 3, false)
	}
	evs, head, err := a.ReadLog(0, nil, 100, 1<<20)
	if err != nil || head != 4 {
		t.Fatalf("log up to %d, %v; want 4", head, err)
	}
	var order []string
	for _, c := range evs {
		order = append(order, fmt.Sprintf("%s/%d", c.GetEvent().GetOrigin(), c.GetEvent().GetSeq()))
	}
	if got := strings.Join(order, " "); got != "n1/1 n1/2 hub/1 n1/3" {
		t.Fatalf("global log %s; want the reaction right after n1/2", got)
	}
	if a.Digest() != b.Digest() {
		t.Fatal("members that applied the same entry differ")
	}
}
