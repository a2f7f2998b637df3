package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/kinds"
	"branchline/replication"
	"branchline/replication/reptest"
)

const baseMs = 1_790_000_000_000

func openTestFSM(t testing.TB, dir string) *fsm {
	t.Helper()
	f, err := openFSM(dir, kinds.Registry(), nil, nil, slog.New(slog.DiscardHandler), nil, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// newTestFSM opens an fsm in a new directory, closed when the test ends.
func newTestFSM(t testing.TB) *fsm {
	t.Helper()
	f := openTestFSM(t, t.TempDir())
	t.Cleanup(func() { f.close() })
	return f
}

func customerID(origin string, seq uint64) string {
	var e [10]byte
	copy(e[:], origin)
	e[9] = byte(seq)
	e[8] = byte(seq >> 8)
	return ulid.MustNew(baseMs, bytes.NewReader(e[:])).String()
}

// custEvent is event seq of origin: the creation of a customer named name.
func custEvent(origin string, seq uint64, name string) *replicationv1.Event {
	body, err := proto.Marshal(&crmv1.CustomerCreated{Fields: []*eventv1.FieldValue{{Field: "display_name", Value: name}}})
	if err != nil {
		panic(err)
	}
	return &replicationv1.Event{
		Origin: origin, Seq: seq, Hlc: uint64(replication.MakeHLC(baseMs+int64(seq), 0)),
		Kind: crm.KindCustomerCreated, Entity: crm.Entity(customerID(origin, seq)), Actor: "alice", Body: body,
	}
}

func custEvents(origin string, from, to uint64) []*replicationv1.Event {
	var out []*replicationv1.Event
	for s := from; s <= to; s++ {
		out = append(out, custEvent(origin, s, fmt.Sprintf("%s customer %d", origin, s)))
	}
	return out
}

func pushCmd(origin string, evs []*replicationv1.Event) *hubv1.Command {
	return &hubv1.Command{TimeMs: baseMs + 1000, Op: &hubv1.Command_Push{Push: &hubv1.Push{Origin: origin, Events: evs}}}
}

func logEntry(t testing.TB, index uint64, cmd *hubv1.Command) *raft.Log {
	t.Helper()
	b, err := proto.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: b}
}

// apply applies cmd as the entry at index and returns its result.
// apply applies one entry, then lets the projection catch up, as a
// member's projector would: the tests look at the views.
func apply(t testing.TB, f *fsm, index uint64, cmd *hubv1.Command) any {
	t.Helper()
	res := f.ApplyBatch([]*raft.Log{logEntry(t, index, cmd)})[0]
	if err := f.projectAll(); err != nil {
		t.Fatal(err)
	}
	return res
}

func wantPushResult(t testing.TB, res any, durable uint64, gap bool) {
	t.Helper()
	pr, ok := res.(*hubv1.PushResult)
	if !ok {
		t.Fatalf("result %T %v, want *PushResult", res, res)
	}
	if pr.GetDurableSeq() != durable || pr.GetGap() != gap {
		t.Fatalf("PushResult{DurableSeq: %d, Gap: %v}, want {%d, %v}", pr.GetDurableSeq(), pr.GetGap(), durable, gap)
	}
}

func wantRejected(t testing.TB, res any, code connect.Code) {
	t.Helper()
	rej, ok := res.(errRejected)
	if !ok {
		t.Fatalf("result %T %v, want errRejected", res, res)
	}
	if rej.code != code {
		t.Fatalf("rejected with code %v (%s), want %v", rej.code, rej.msg, code)
	}
}

// dump is every key and value of the state machine's store, but the
// head state, whose applied index moves with every entry.
func dump(t testing.TB, f *fsm) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := f.read(func(tx replication.Tx) error {
		// A nil prefix, not an empty one: Pebble's invariant checks (on
		// under -race) index the first byte of a non-nil seek key.
		return tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			if !bytes.Equal(k, stateKey) {
				out[string(k)] = string(v)
			}
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAll(t testing.TB, f *fsm) []*replicationv1.Committed {
	t.Helper()
	evs, _, err := f.ReadLog(0, nil, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// checkDigest checks the member's projection against a reference replica
// that applied the global log's events in order through replication.Views
// on a map: equal event digests and equal views, hashed by scan.
func checkDigest(t testing.TB, f *fsm) {
	t.Helper()
	if err := f.projectAll(); err != nil {
		t.Fatal(err)
	}
	ref := reptest.NewMem()
	rv, err := replication.OpenViews(f.reg, ref)
	if err != nil {
		t.Fatal(err)
	}
	rv.SetIndexing(replication.IndexOff)
	b := rv.Begin(ref)
	for _, c := range readAll(t, f) {
		if _, err := b.Apply(replication.FromProto(c.GetEvent())); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	if got, want := f.EventDigest(), rv.EventDigest(""); got != want {
		t.Fatalf("event digest %v, a replica that applied the log has %v", got, want)
	}
	if got, want := f.Digest(), rv.Digest(); got != want {
		t.Fatalf("views hash to %v, a replica that applied the log to %v", got, want)
	}
}

func TestPushCommitsEventsInOrder(t *testing.T) {
	f := newTestFSM(t)
	evs := custEvents("sh-pudong", 1, 5)
	wantPushResult(t, apply(t, f, 1, pushCmd("sh-pudong", evs)), 5, false)
	wantPushResult(t, apply(t, f, 2, pushCmd("bj-chaoyang", custEvents("bj-chaoyang", 1, 2))), 2, false)
	wantPushResult(t, apply(t, f, 3, pushCmd("sh-pudong", custEvents("sh-pudong", 6, 6))), 6, false)

	got := readAll(t, f)
	wantOrder := []string{"sh-pudong/1", "sh-pudong/2", "sh-pudong/3", "sh-pudong/4", "sh-pudong/5", "bj-chaoyang/1", "bj-chaoyang/2", "sh-pudong/6"}
	if len(got) != len(wantOrder) {
		t.Fatalf("%d committed events, want %d", len(got), len(wantOrder))
	}
	for i, c := range got {
		if c.GetPosition() != uint64(i+1) {
			t.Errorf("event %d at position %d", i, c.GetPosition())
		}
		if id := fmt.Sprintf("%s/%d", c.GetEvent().GetOrigin(), c.GetEvent().GetSeq()); id != wantOrder[i] {
			t.Errorf("position %d holds %s, want %s", i+1, id, wantOrder[i])
		}
		if c.GetCommitTimeMs() != baseMs+1000 {
			t.Errorf("commit time %d, want the proposer's", c.GetCommitTimeMs())
		}
	}
	if !proto.Equal(got[2].GetEvent(), evs[2]) {
		t.Errorf("committed %v, pushed %v", got[2].GetEvent(), evs[2])
	}
	st := f.state()
	if st.Head != 8 || st.Index != 3 || st.HeadMs != baseMs+1000 {
		t.Errorf("state %+v, want head 8, index 3", st)
	}
	for origin, want := range map[string]uint64{"sh-pudong": 6, "bj-chaoyang": 2, "gz-tianhe": 0} {
		if seq, err := f.DurableSeq(origin); err != nil || seq != want {
			t.Errorf("DurableSeq(%s) = %d, %v; want %d", origin, seq, err, want)
		}
	}
	if n := f.AppliedCount(); n != 8 {
		t.Errorf("AppliedCount = %d, want 8", n)
	}
	checkDigest(t, f)
	// The views hold the customers.
	if err := f.read(func(tx replication.Tx) error {
		c, err := crm.GetCustomer(replication.ReadViews(tx), customerID("bj-chaoyang", 2))
		if err == nil && c.Get("display_name") != "bj-chaoyang customer 2" {
			err = fmt.Errorf("customer %q", c.Fields)
		}
		return err
	}); err != nil {
		t.Error(err)
	}
}

func TestPushIsExactlyOnce(t *testing.T) {
	cases := []struct {
		name    string
		again   []*replicationv1.Event
		durable uint64
		added   int // events newly committed
	}{
		{"the same batch again", custEvents("sh-pudong", 1, 3), 3, 0},
		{"a suffix of it", custEvents("sh-pudong", 2, 3), 3, 0},
		{"overlapping with new events", custEvents("sh-pudong", 2, 5), 5, 2},
		{"only new events", custEvents("sh-pudong", 4, 4), 4, 1},
		{"an empty batch", nil, 3, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newTestFSM(t)
			wantPushResult(t, apply(t, f, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 3))), 3, false)
			before, digest := dump(t, f), f.Digest()
			wantPushResult(t, apply(t, f, 2, pushCmd("sh-pudong", c.again)), c.durable, false)
			got := readAll(t, f)
			if len(got) != 3+c.added {
				t.Fatalf("%d events committed in all, want %d", len(got), 3+c.added)
			}
			for i, e := range got {
				if e.GetEvent().GetSeq() != uint64(i+1) || e.GetPosition() != uint64(i+1) {
					t.Fatalf("position %d holds seq %d", e.GetPosition(), e.GetEvent().GetSeq())
				}
			}
			if c.added == 0 && (!maps.Equal(before, dump(t, f)) || digest != f.Digest()) {
				t.Fatal("a re-push changed the state")
			}
			checkDigest(t, f)
		})
	}
}

func TestPushRefusals(t *testing.T) {
	other := custEvents("sh-pudong", 2, 2)
	other[0].Body = []byte{}
	moved := custEvents("sh-pudong", 2, 2)
	moved[0].Hlc++
	cases := []struct {
		name  string
		batch []*replicationv1.Event
		check func(t testing.TB, res any)
	}{
		{"gap after the durable seq", custEvents("sh-pudong", 5, 6), func(t testing.TB, res any) { wantPushResult(t, res, 3, true) }},
		{"re-pushed seq with another body", other, func(t testing.TB, res any) { wantRejected(t, res, 0) }},
		{"re-pushed seq with another hlc", moved, func(t testing.TB, res any) { wantRejected(t, res, 0) }},
		{"changed old event before new ones", append(slices.Clone(other), custEvents("sh-pudong", 3, 5)...), func(t testing.TB, res any) { wantRejected(t, res, 0) }},
		{"not contiguous", append(custEvents("sh-pudong", 4, 4), custEvents("sh-pudong", 6, 6)...), func(t testing.TB, res any) { wantRejected(t, res, connect.CodeInvalidArgument) }},
		{"another origin's event", append(custEvents("sh-pudong", 4, 4), custEvents("bj-chaoyang", 5, 5)...), func(t testing.TB, res any) { wantRejected(t, res, connect.CodeInvalidArgument) }},
		{"seq zero", custEvents("sh-pudong", 0, 0), func(t testing.TB, res any) { wantRejected(t, res, connect.CodeInvalidArgument) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newTestFSM(t)
			wantPushResult(t, apply(t, f, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 3))), 3, false)
			before, digest, head := dump(t, f), f.Digest(), f.state().Head
			c.check(t, apply(t, f, 2, pushCmd("sh-pudong", c.batch)))
			if !maps.Equal(before, dump(t, f)) || digest != f.Digest() || f.state().Head != head {
				t.Fatal("a refused push changed the state")
			}
			if f.state().Index != 2 {
				t.Errorf("applied index %d, want 2: a refused entry is still applied", f.state().Index)
			}
		})
	}
	t.Run("gap on the first push", func(t *testing.T) {
		f := newTestFSM(t)
		wantPushResult(t, apply(t, f, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 2, 3))), 0, true)
		if n := len(readAll(t, f)); n != 0 {
			t.Fatalf("%d events committed", n)
		}
	})
}

func TestApplyBatchResults(t *testing.T) {
	f := newTestFSM(t)
	logs := []*raft.Log{
		logEntry(t, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 2))),
		{Index: 2, Term: 1, Type: raft.LogNoop},
		{Index: 3, Term: 1, Type: raft.LogCommand, Data: []byte{0xff, 0xff, 0xff}},
		logEntry(t, 4, pushCmd("sh-pudong", custEvents("sh-pudong", 4, 4))),
		logEntry(t, 5, pushCmd("sh-pudong", custEvents("sh-pudong", 3, 4))),
		logEntry(t, 6, &hubv1.Command{}),
	}
	res := f.ApplyBatch(logs)
	if len(res) != len(logs) {
		t.Fatalf("%d results for %d entries", len(res), len(logs))
	}
	wantPushResult(t, res[0], 2, false)
	if res[1] != nil {
		t.Errorf("no-op entry answered %v", res[1])
	}
	if err, ok := res[2].(error); !ok || err == nil {
		t.Errorf("undecodable entry answered %v, want an error", res[2])
	}
	wantPushResult(t, res[3], 2, true)
	wantPushResult(t, res[4], 4, false)
	wantRejected(t, res[5], connect.CodeInvalidArgument)
	if st := f.state(); st.Index != 6 || st.Head != 4 {
		t.Errorf("state %+v, want index 6 head 4", st)
	}
}

// Raft replays the entries after its last snapshot on restart; the state
// machine already holds them and must not apply them twice.
func TestReplayAfterRestartIsSkipped(t *testing.T) {
	dir := t.TempDir()
	logs := []*raft.Log{
		logEntry(t, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 3))),
		logEntry(t, 2, &hubv1.Command{TimeMs: baseMs, Op: &hubv1.Command_AddNode{AddNode: &hubv1.AddNode{Id: "sh-pudong", TokenHash: []byte("h1")}}}),
		logEntry(t, 3, pushCmd("bj-chaoyang", custEvents("bj-chaoyang", 1, 2))),
		logEntry(t, 4, &hubv1.Command{TimeMs: baseMs, Op: &hubv1.Command_RemoveNode{RemoveNode: &hubv1.RemoveNode{Id: "sh-pudong"}}}),
	}
	f := openTestFSM(t, dir)
	f.ApplyBatch(logs[:2])
	f.ApplyBatch(logs[2:])
	before, digest, st := dump(t, f), f.Digest(), f.state()
	if err := f.close(); err != nil {
		t.Fatal(err)
	}

	f = openTestFSM(t, dir)
	defer f.close()
	if f.state() != st || f.Digest() != digest || !maps.Equal(dump(t, f), before) {
		t.Fatalf("reopened state %+v %v differs from %+v %v", f.state(), f.Digest(), st, digest)
	}
	res := f.ApplyBatch(logs)
	for i, r := range res {
		if r != nil {
			t.Errorf("replayed entry %d answered %v, want nothing (skipped)", i+1, r)
		}
	}
	if f.state() != st || f.Digest() != digest || !maps.Equal(dump(t, f), before) {
		t.Fatal("replaying applied entries changed the state")
	}
	if _, ok := f.NodeForToken([]byte("h1")); ok {
		t.Error("replay re-registered a removed node")
	}
	// A run that straddles the applied index applies only the new part.
	next := logEntry(t, 5, pushCmd("sh-pudong", custEvents("sh-pudong", 4, 4)))
	res = f.ApplyBatch(append(slices.Clone(logs[2:]), next))
	if res[0] != nil || res[1] != nil {
		t.Errorf("replayed entries answered %v %v", res[0], res[1])
	}
	wantPushResult(t, res[2], 4, false)
	if st := f.state(); st.Index != 5 || st.Head != 6 {
		t.Errorf("state %+v, want index 5 head 6", st)
	}
	checkDigest(t, f)
}

func TestReadLog(t *testing.T) {
	f := newTestFSM(t)
	// Positions 1-4 sh-pudong, 5-7 bj-chaoyang, 8-9 sh-pudong.
	apply(t, f, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 4)))
	bj := custEvents("bj-chaoyang", 1, 3)
	bj[1].Kind = "crm.customer.field_set"
	apply(t, f, 2, pushCmd("bj-chaoyang", bj))
	apply(t, f, 3, pushCmd("sh-pudong", custEvents("sh-pudong", 5, 6)))
	one, _, _ := f.ReadLog(0, nil, 1, 1<<20)
	size := proto.Size(one[0])

	origin := func(o string) func(*replicationv1.Event) bool {
		return func(e *replicationv1.Event) bool { return e.GetOrigin() == o }
	}
	cases := []struct {
		name      string
		after     uint64
		match     func(*replicationv1.Event) bool
		maxEvents int
		maxBytes  int
		want      []uint64 // positions
		pos       uint64
	}{
		{"everything", 0, nil, 100, 1 << 20, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 9},
		{"after a position", 6, nil, 100, 1 << 20, []uint64{7, 8, 9}, 9},
		{"at the head", 9, nil, 100, 1 << 20, nil, 9},
		{"beyond the head", 20, nil, 100, 1 << 20, nil, 20},
		{"by origin", 0, origin("bj-chaoyang"), 100, 1 << 20, []uint64{5, 6, 7}, 9},
		{"excluding own", 0, func(e *replicationv1.Event) bool { return e.GetOrigin() != "sh-pudong" }, 100, 1 << 20, []uint64{5, 6, 7}, 9},
		{"by kind", 0, func(e *replicationv1.Event) bool { return e.GetKind() == "crm.customer.field_set" }, 100, 1 << 20, []uint64{6}, 9},
		{"count bound", 2, nil, 3, 1 << 20, []uint64{3, 4, 5}, 5},
		{"count bound with filter", 0, origin("sh-pudong"), 5, 1 << 20, []uint64{1, 2, 3, 4, 8}, 8},
		{"byte bound", 0, nil, 100, 2*size + 1, []uint64{1, 2, 3}, 3},
		{"byte bound smaller than one event", 0, nil, 100, 1, []uint64{1}, 1},
		// A filter that matches nothing still moves the position on, a
		// bounded number of events at a time, so a puller is not stuck.
		{"scan bound", 0, origin("gz-tianhe"), 1, 1 << 20, nil, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, pos, err := f.ReadLog(c.after, c.match, c.maxEvents, c.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			var positions []uint64
			for _, e := range got {
				positions = append(positions, e.GetPosition())
				if e.GetEvent() == nil {
					t.Fatalf("position %d without event", e.GetPosition())
				}
			}
			if !slices.Equal(positions, c.want) || pos != c.pos {
				t.Fatalf("ReadLog = %v up to %d, want %v up to %d", positions, pos, c.want, c.pos)
			}
		})
	}
}

func TestNodeRegistry(t *testing.T) {
	f := newTestFSM(t)
	add := func(index uint64, id, hash string) any {
		return apply(t, f, index, &hubv1.Command{TimeMs: baseMs, Op: &hubv1.Command_AddNode{AddNode: &hubv1.AddNode{Id: id, TokenHash: []byte(hash)}}})
	}
	remove := func(index uint64, id string) any {
		return apply(t, f, index, &hubv1.Command{Op: &hubv1.Command_RemoveNode{RemoveNode: &hubv1.RemoveNode{Id: id}}})
	}
	token := func(hash string) string {
		id, ok := f.NodeForToken([]byte(hash))
		if !ok {
			return "-"
		}
		return id
	}
	nodes := func() []string {
		rs, err := f.Nodes()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	steps := []struct {
		name   string
		do     func() any
		result func(any) bool
		tokens map[string]string // token hash → node ("-": none)
		nodes  []string
	}{
		{"add sh-pudong", func() any { return add(1, "sh-pudong", "h1") }, isNil,
			map[string]string{"h1": "sh-pudong", "h2": "-"}, []string{"sh-pudong"}},
		{"add bj-chaoyang", func() any { return add(2, "bj-chaoyang", "h2") }, isNil,
			map[string]string{"h1": "sh-pudong", "h2": "bj-chaoyang"}, []string{"bj-chaoyang", "sh-pudong"}},
		{"add sh-pudong again with a new token", func() any { return add(3, "sh-pudong", "h3") }, rejectedWith(connect.CodeAlreadyExists),
			map[string]string{"h1": "sh-pudong", "h3": "-"}, []string{"bj-chaoyang", "sh-pudong"}},
		{"remove sh-pudong", func() any { return remove(4, "sh-pudong") }, isNil,
			map[string]string{"h1": "-", "h2": "bj-chaoyang"}, []string{"bj-chaoyang"}},
		{"remove sh-pudong again", func() any { return remove(5, "sh-pudong") }, rejectedWith(connect.CodeNotFound),
			map[string]string{"h1": "-"}, []string{"bj-chaoyang"}},
		{"add sh-pudong back with a new token", func() any { return add(6, "sh-pudong", "h4") }, isNil,
			map[string]string{"h1": "-", "h4": "sh-pudong"}, []string{"bj-chaoyang", "sh-pudong"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if r := s.do(); !s.result(r) {
				t.Fatalf("result %T %v", r, r)
			}
			for hash, want := range s.tokens {
				if got := token(hash); got != want {
					t.Errorf("NodeForToken(%s) = %s, want %s", hash, got, want)
				}
			}
			if got := nodes(); !slices.Equal(got, s.nodes) {
				t.Errorf("Nodes() = %v, want %v", got, s.nodes)
			}
		})
	}
}

func isNil(r any) bool { return r == nil }

func rejectedWith(code connect.Code) func(any) bool {
	return func(r any) bool {
		rej, ok := r.(errRejected)
		return ok && rej.code == code
	}
}

// memSink is a raft.SnapshotSink writing to memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "test" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// populate gives f some of every kind of state.
func populate(t testing.TB, f *fsm) {
	t.Helper()
	cmds := []*hubv1.Command{
		{TimeMs: baseMs, Op: &hubv1.Command_InitCluster{InitCluster: &hubv1.InitCluster{AdminPasswordHash: "$argon2id$x", TokenSecret: bytes.Repeat([]byte{7}, 32)}}},
		{TimeMs: baseMs, Op: &hubv1.Command_SetMember{SetMember: &hubv1.SetMember{Id: "hub-1", RaftAddr: "127.0.0.1:7001", HttpAddr: "http://127.0.0.1:8001"}}},
		{TimeMs: baseMs, Op: &hubv1.Command_AddNode{AddNode: &hubv1.AddNode{Id: "sh-pudong", TokenHash: []byte("h1")}}},
		pushCmd("sh-pudong", custEvents("sh-pudong", 1, 40)),
		pushCmd("bj-chaoyang", custEvents("bj-chaoyang", 1, 10)),
	}
	start := f.state().Index
	for i, c := range cmds {
		if r := apply(t, f, start+uint64(i)+1, c); r != nil {
			if _, ok := r.(*hubv1.PushResult); !ok {
				t.Fatalf("command %d: %v", i, r)
			}
		}
	}
}

func snapshotBytes(t testing.TB, f *fsm) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	var sink memSink
	if err := s.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed %v cancelled %v after a good Persist", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

type fsmState struct {
	st      headState
	digest  replication.Digest
	applied uint64
	nodes   []NodeRecord
	members map[string]MemberRecord
	secret  []byte
	admin   string
	store   map[string]string
}

func stateOf(t testing.TB, f *fsm) fsmState {
	t.Helper()
	s := fsmState{st: f.state(), digest: f.Digest(), applied: f.AppliedCount(), store: dump(t, f)}
	var err error
	if s.nodes, err = f.Nodes(); err != nil {
		t.Fatal(err)
	}
	if s.members, err = f.Members(); err != nil {
		t.Fatal(err)
	}
	s.secret, s.admin, _ = f.Secret()
	return s
}

func sameState(a, b fsmState) error {
	switch {
	case a.st != b.st:
		return fmt.Errorf("head %+v vs %+v", a.st, b.st)
	case a.digest != b.digest || a.applied != b.applied:
		return fmt.Errorf("digest %v/%d vs %v/%d", a.digest, a.applied, b.digest, b.applied)
	case fmt.Sprint(a.nodes) != fmt.Sprint(b.nodes):
		return fmt.Errorf("nodes %v vs %v", a.nodes, b.nodes)
	case !maps.EqualFunc(a.members, b.members, func(x, y MemberRecord) bool { return reflect.DeepEqual(x, y) }):
		return fmt.Errorf("members %v vs %v", a.members, b.members)
	case !bytes.Equal(a.secret, b.secret) || a.admin != b.admin:
		return errors.New("secrets differ")
	case !maps.Equal(a.store, b.store):
		return fmt.Errorf("stores differ: %d vs %d keys", len(a.store), len(b.store))
	}
	return nil
}

func TestSnapshotRestore(t *testing.T) {
	src := newTestFSM(t)
	populate(t, src)
	want := stateOf(t, src)
	snap := snapshotBytes(t, src)

	cases := []struct {
		name    string
		prepare func(t testing.TB, f *fsm)
	}{
		{"into a fresh state machine", func(testing.TB, *fsm) {}},
		{"replacing other state", func(t testing.TB, f *fsm) {
			apply(t, f, 1, pushCmd("gz-tianhe", custEvents("gz-tianhe", 1, 7)))
			apply(t, f, 2, &hubv1.Command{Op: &hubv1.Command_AddNode{AddNode: &hubv1.AddNode{Id: "gz-tianhe", TokenHash: []byte("h9")}}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := newTestFSM(t)
			c.prepare(t, dst)
			changed := dst.Changed()
			if err := dst.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
				t.Fatal(err)
			}
			if err := sameState(stateOf(t, dst), want); err != nil {
				t.Fatalf("restored state differs: %v", err)
			}
			select {
			case <-changed:
			default:
				t.Error("Restore did not signal readers")
			}
			if _, ok := dst.NodeForToken([]byte("h9")); ok {
				t.Error("a token of the replaced state survived")
			}
			checkDigest(t, dst)
			// The restored state machine goes on from the snapshot's index.
			wantPushResult(t, apply(t, dst, want.st.Index+1, pushCmd("sh-pudong", custEvents("sh-pudong", 41, 41))), 41, false)
			if dst.state().Head != want.st.Head+1 {
				t.Errorf("head %d after a push, want %d", dst.state().Head, want.st.Head+1)
			}
			// And its snapshot restores to the same state elsewhere.
			again := newTestFSM(t)
			if err := again.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, dst)))); err != nil {
				t.Fatal(err)
			}
			if err := sameState(stateOf(t, again), stateOf(t, dst)); err != nil {
				t.Fatalf("second-generation restore differs: %v", err)
			}
		})
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	src := newTestFSM(t)
	populate(t, src)
	snap := snapshotBytes(t, src)
	flip := func(i int) []byte {
		b := bytes.Clone(snap)
		b[i] ^= 0x10
		return b
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic only", []byte(snapshotMagic)},
		{"wrong magic", append([]byte("branchline-hub-snapshot-0\n"), snap[len(snapshotMagic):]...)},
		{"cut in the records", snap[:len(snap)/2]},
		{"cut in the checksum", snap[:len(snap)-5]},
		{"no checksum", snap[:len(snap)-sha256.Size]},
		{"bit flipped in a record", flip(len(snap) / 2)},
		{"bit flipped in a length", flip(len(snapshotMagic))},
		{"bit flipped in the checksum", flip(len(snap) - 1)},
		{"records after the end marker", append(snap[:len(snap)-sha256.Size-1], snap[len(snapshotMagic):]...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := newTestFSM(t)
			apply(t, dst, 1, pushCmd("gz-tianhe", custEvents("gz-tianhe", 1, 3)))
			before := stateOf(t, dst)
			if err := dst.Restore(io.NopCloser(bytes.NewReader(c.b))); err == nil {
				t.Fatal("a bad snapshot restored")
			}
			if err := sameState(stateOf(t, dst), before); err != nil {
				t.Fatalf("a refused snapshot changed the state: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dst.dir, "state.new")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state.new left behind: %v", err)
			}
			// Still usable.
			wantPushResult(t, apply(t, dst, 2, pushCmd("gz-tianhe", custEvents("gz-tianhe", 4, 4))), 4, false)
		})
	}
}

// A snapshot that fails while being written is cancelled, not closed, so
// Raft does not keep it.
func TestPersistCancelsOnWriteError(t *testing.T) {
	f := newTestFSM(t)
	populate(t, f)
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	sink := &failingSink{after: 100}
	if err := s.Persist(sink); err == nil {
		t.Fatal("Persist to a failing sink succeeded")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("cancelled %v closed %v, want cancelled only", sink.cancelled, sink.closed)
	}
}

type failingSink struct {
	memSink
	after int
}

func (s *failingSink) Write(p []byte) (int, error) {
	if s.Len()+len(p) > s.after {
		return 0, errors.New("disk full")
	}
	return s.memSink.Write(p)
}

// A restore that crashed before its swap leaves state.new behind; opening
// the state machine drops it and keeps the old state.
func TestOpenDropsHalfRestoredState(t *testing.T) {
	dir := t.TempDir()
	f := openTestFSM(t, dir)
	apply(t, f, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 2)))
	want := stateOf(t, f)
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "state.new", "junk"), 0o750); err != nil {
		t.Fatal(err)
	}
	f = openTestFSM(t, dir)
	defer f.close()
	if err := sameState(stateOf(t, f), want); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state.new still there: %v", err)
	}
}

// snapshotOf builds a snapshot stream of pairs by hand, in the documented
// format: magic, uvarint-length-prefixed keys and values, a zero length,
// SHA-256 of all before.
func snapshotOf(pairs ...string) []byte {
	b := []byte(snapshotMagic)
	for _, p := range pairs {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	b = append(b, 0)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func TestRestoreIntoHandMadeSnapshots(t *testing.T) {
	cases := []struct {
		name  string
		pairs []string // key, value, key, value, …
		want  map[string]string
	}{
		{"empty", nil, map[string]string{}},
		{"one pair", []string{"k", "v"}, map[string]string{"k": "v"}},
		{"empty value", []string{"k", ""}, map[string]string{"k": ""}},
		{"a later pair of a key wins", []string{"k", "1", "k", "2"}, map[string]string{"k": "2"}},
		{"binary keys", []string{"a\x00\xff", "\x00", "b", strings.Repeat("x", 300)}, map[string]string{"a\x00\xff": "\x00", "b": strings.Repeat("x", 300)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := restoreInto(filepath.Join(dir, "state"), bytes.NewReader(snapshotOf(c.pairs...))); err != nil {
				t.Fatal(err)
			}
			f := openTestFSM(t, dir)
			defer f.close()
			if got := dump(t, f); !maps.Equal(got, c.want) {
				t.Fatalf("restored %q, want %q", got, c.want)
			}
		})
	}
	t.Run("a key length of zero ends the records", func(t *testing.T) {
		// An empty key cannot be restored: its zero length is the end mark,
		// and what follows is taken for the checksum.
		if err := restoreInto(filepath.Join(t.TempDir(), "state"), bytes.NewReader(snapshotOf("", "v"))); err == nil {
			t.Fatal("restored a snapshot with an empty key")
		}
	})
}

// hasChecksum reports whether some prefix of b (after the magic) is
// followed by its own SHA-256: the least a snapshot that restores must have.
func hasChecksum(b []byte) bool {
	for i := len(snapshotMagic); i+sha256.Size <= len(b); i++ {
		sum := sha256.Sum256(b[:i])
		if bytes.Equal(sum[:], b[i:i+sha256.Size]) {
			return true
		}
	}
	return false
}

// FuzzRestoreInto: restoring never panics and never succeeds on input
// without a valid checksum. With sign set the fuzzer's bytes get a valid
// checksum appended, so that it explores the record parsing behind the
// checksum; whatever then restores must hold only pairs from the input.
func FuzzRestoreInto(f *testing.F) {
	src := newTestFSM(f)
	apply(f, src, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 2)))
	snap := snapshotBytes(f, src)
	f.Add(snap, false)
	f.Add(snap[:len(snap)-sha256.Size], true)
	f.Add([]byte(snapshotMagic+"\x01k\x01v\x00"), true)
	f.Add([]byte(snapshotMagic+"\x00"), true)
	f.Add([]byte(snapshotMagic+"\x01k\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"), true)
	f.Add([]byte("garbage"), false)
	f.Fuzz(func(t *testing.T, b []byte, sign bool) {
		if sign {
			sum := sha256.Sum256(b)
			b = append(bytes.Clone(b), sum[:]...)
		}
		dir := filepath.Join(t.TempDir(), "state")
		err := restoreInto(dir, bytes.NewReader(b))
		if err != nil {
			return
		}
		if !hasChecksum(b) {
			t.Fatalf("restored input without a valid checksum: %x", b)
		}
		g := openTestFSM(t, filepath.Dir(dir))
		defer g.close()
		for k, v := range dump(t, g) {
			if !bytes.Contains(b, []byte(k)) || !bytes.Contains(b, []byte(v)) {
				t.Fatalf("restored pair %q=%q is not in the input", k, v)
			}
		}
	})
}

func TestChangedSignalsApply(t *testing.T) {
	f := newTestFSM(t)
	ch := f.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed before any apply")
	default:
	}
	apply(t, f, 1, pushCmd("sh-pudong", custEvents("sh-pudong", 1, 1)))
	select {
	case <-ch:
	default: // ApplyBatch closes it before returning
		t.Fatal("Changed not closed after an apply")
	}
	if f.Changed() == ch {
		t.Fatal("Changed not replaced after an apply")
	}
}
