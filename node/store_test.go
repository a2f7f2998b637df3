package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"branchline/replication"
	"branchline/replication/reptest"
)

// The store is tested with kinds of its own rather than the domain's, so
// that what is tested is the store: "test.set" writes a register
// ("key=value"), "test.fail" makes its applier fail as a broken disk would.
const (
	kindSet  = "test.set"
	kindFail = "test.fail"
)

var errDisk = errors.New("disk on fire")

func testRegistry() *replication.Registry {
	r := replication.NewRegistry()
	replication.Handle(r, kindSet, func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		k, v, _ := strings.Cut(b.GetValue(), "=")
		_, _, err := replication.SetRegister(tx, replication.Key("set", k), []byte(v), replication.StampOf(ev))
		return err
	}, nil)
	replication.Handle(r, kindFail, func(replication.Tx, *replication.Event, *wrapperspb.StringValue) error {
		return errDisk
	}, nil)
	return r
}

func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := OpenStore(StoreConfig{Dir: dir, ID: "sh-pudong", Registry: testRegistry(), Log: slog.New(slog.DiscardHandler), Observer: Observer{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return s
}

// set is a command writing key=value pairs, one event each.
func set(pairs ...string) replication.Command {
	return func(replication.Tx) ([]replication.Draft, error) {
		var out []replication.Draft
		for _, p := range pairs {
			out = append(out, replication.Draft{Kind: kindSet, Entity: "thing/" + p, Body: wrapperspb.String(p)})
		}
		return out, nil
	}
}

func get(t testing.TB, s *Store, key string) (string, bool) {
	t.Helper()
	var v string
	var ok bool
	err := s.View(func(views replication.Tx) error {
		r, found, err := replication.GetRegister(views, replication.Key("set", key))
		v, ok = string(r.Value), found
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

func outbox(t testing.TB, s *Store) []*replication.Event {
	t.Helper()
	evs, err := s.Outbox(0, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// pulled records, per store, the remote events a test applied, so that
// checkDigest can replay them on a reference replica.
var pulled = struct {
	sync.Mutex
	m map[string][]*replication.Event // by the store's directory
}{m: map[string][]*replication.Event{}}

// applyRemote is s.ApplyRemote, remembering the events when they commit.
func applyRemote(s *Store, ctx context.Context, evs []*replication.Event, pos uint64, posMs int64) error {
	err := s.ApplyRemote(ctx, evs, pos, posMs)
	if err == nil {
		pulled.Lock()
		pulled.m[s.dir] = append(pulled.m[s.dir], evs...)
		pulled.Unlock()
	}
	return err
}

// checkDigest checks the store against a reference replica that applied
// the same events — the store's own (its outbox) and those pulled into it
// — through replication.Views on a map: the event digests are equal, and
// so are the views' contents, hashed by scan.
func checkDigest(t testing.TB, s *Store) {
	t.Helper()
	var full replication.Digest
	if err := s.View(func(views replication.Tx) error {
		var err error
		full, err = replication.DigestOf(views, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ref := reptest.NewMem()
	rv, err := replication.OpenViews(s.Views().Registry(), ref)
	if err != nil {
		t.Fatal(err)
	}
	pulled.Lock()
	evs := append(outbox(t, s), pulled.m[s.dir]...)
	pulled.Unlock()
	b := rv.Begin(ref)
	for _, ev := range evs {
		if _, err := b.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	if got, want := s.Views().EventDigest(""), rv.EventDigest(""); got != want {
		t.Fatalf("event digest %v, a replica that applied the same events has %v", got, want)
	}
	if want := rv.Digest(); full != want {
		t.Fatalf("views hash to %v, a replica that applied the same events to %v", full, want)
	}
}

func sameEvents(a, b []*replication.Event) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d events vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Origin != y.Origin || x.Seq != y.Seq || x.HLC != y.HLC || x.Kind != y.Kind || x.Entity != y.Entity || x.Actor != y.Actor || !slices.Equal(x.Body, y.Body) {
			return fmt.Errorf("event %d: %+v vs %+v", i, x, y)
		}
	}
	return nil
}

func TestOpenStoreRefusesBadID(t *testing.T) {
	for _, id := range []string{"", "SH", "-sh", "sh pudong", strings.Repeat("a", 65)} {
		if s, err := OpenStore(StoreConfig{Dir: t.TempDir(), ID: id, Registry: testRegistry(), Log: slog.New(slog.DiscardHandler), Observer: Observer{}}); err == nil {
			s.Close()
			t.Errorf("OpenStore with id %q succeeded", id)
		}
	}
}

func TestExecAppendsAndApplies(t *testing.T) {
	var mu sync.Mutex
	committed, applied := 0, 0
	s, err := OpenStore(StoreConfig{Dir: t.TempDir(), ID: "sh-pudong", Registry: testRegistry(), Log: slog.New(slog.DiscardHandler), Observer: Observer{
		Committed: func(_ time.Duration, n int) { mu.Lock(); committed += n; mu.Unlock() },
		Applied:   func(n int) { mu.Lock(); applied += n; mu.Unlock() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	notify := s.Committed()

	evs, err := s.Exec(context.Background(), "alice", set("a=1", "b=2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	for i, ev := range evs {
		if ev.Origin != "sh-pudong" || ev.Seq != uint64(i+1) || ev.Actor != "alice" || ev.Kind != kindSet {
			t.Errorf("event %d: %+v", i, ev)
		}
		var body wrapperspb.StringValue
		if err := proto.Unmarshal(ev.Body, &body); err != nil || body.GetValue() != []string{"a=1", "b=2"}[i] {
			t.Errorf("event %d body %q, %v", i, body.GetValue(), err)
		}
	}
	if evs[1].HLC <= evs[0].HLC {
		t.Errorf("HLCs %v, %v not increasing", evs[0].HLC, evs[1].HLC)
	}
	more, err := s.Exec(context.Background(), "bob", set("a=3"))
	if err != nil || len(more) != 1 || more[0].Seq != 3 || more[0].HLC <= evs[1].HLC {
		t.Fatalf("second Exec: %+v, %v", more, err)
	}
	if v, _ := get(t, s, "a"); v != "3" {
		t.Errorf("a = %q, want 3", v)
	}
	if v, _ := get(t, s, "b"); v != "2" {
		t.Errorf("b = %q, want 2", v)
	}
	if err := sameEvents(outbox(t, s), append(evs, more...)); err != nil {
		t.Errorf("outbox differs from the events Exec returned: %v", err)
	}
	if p := s.Progress(); p.LastSeq != 3 || p.Pushed != 0 {
		t.Errorf("progress %+v", p)
	}
	if n := s.Views().AppliedCount(); n != 3 {
		t.Errorf("AppliedCount %d, want 3", n)
	}
	checkDigest(t, s)
	select {
	case <-notify:
	default:
		t.Error("Committed() not closed after own events committed")
	}
	mu.Lock()
	defer mu.Unlock()
	if committed != 3 || applied != 3 {
		t.Errorf("observer saw %d committed, %d applied; want 3, 3", committed, applied)
	}
}

func TestExecRefusedWritesNothing(t *testing.T) {
	boom := errors.New("credit limit exceeded")
	cases := []struct {
		name string
		cmd  replication.Command
		want error // nil: no error, and no events
	}{
		{"command error", func(replication.Tx) ([]replication.Draft, error) { return nil, boom }, boom},
		{"command error after deciding drafts", func(v replication.Tx) ([]replication.Draft, error) {
			d, _ := set("a=9")(v)
			return d, boom
		}, boom},
		{"command that tries to write", func(v replication.Tx) ([]replication.Draft, error) {
			return nil, v.Set(replication.Key("set", "a"), []byte("sneaky"))
		}, replication.ErrReadOnly},
		{"command that decides nothing", func(replication.Tx) ([]replication.Draft, error) { return nil, nil }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestStore(t)
			if _, err := s.Exec(context.Background(), "alice", set("a=1")); err != nil {
				t.Fatal(err)
			}
			before, digest, box := s.Progress(), s.Views().Digest(), outbox(t, s)
			notify := s.Committed()
			evs, err := s.Exec(context.Background(), "alice", c.cmd)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("Exec = %v, want %v", err, c.want)
			}
			if len(evs) != 0 {
				t.Fatalf("a refused command returned events %v", evs)
			}
			if s.Progress() != before || s.Views().Digest() != digest {
				t.Fatalf("progress %+v digest %v, before %+v %v", s.Progress(), s.Views().Digest(), before, digest)
			}
			if err := sameEvents(outbox(t, s), box); err != nil {
				t.Fatalf("outbox changed: %v", err)
			}
			if v, _ := get(t, s, "a"); v != "1" {
				t.Fatalf("a = %q, want 1", v)
			}
			select {
			case <-notify:
				t.Error("Committed() closed though no own event committed")
			default:
			}
		})
	}
}

// A request that fails in a group of concurrent requests fails alone: the
// writer groups requests into one transaction, but one command's bad event
// or one remote batch's storage error must not refuse the others.
func TestFailingRequestDoesNotFailItsGroup(t *testing.T) {
	s := newTestStore(t)
	good1 := &request{actor: "alice", cmd: set("a=1"), done: make(chan struct{})}
	unregistered := &request{actor: "bob", cmd: func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{{Kind: "test.unregistered", Entity: "x", Body: wrapperspb.String("x")}}, nil
	}, done: make(chan struct{})}
	badRemote := &request{remote: []*replication.Event{
		{Origin: "bj-chaoyang", Seq: 1, HLC: 5, Kind: kindFail, Body: mustMarshal(wrapperspb.String("x"))},
	}, pos: 9, done: make(chan struct{})}
	good2 := &request{actor: "carol", cmd: set("b=2"), done: make(chan struct{})}
	// Straight to the writer's commit, as run would with these four queued.
	s.commit([]*request{good1, unregistered, badRemote, good2})

	for _, r := range []*request{good1, unregistered, badRemote, good2} {
		<-r.done
	}
	if good1.err != nil || good2.err != nil || len(good1.events) != 1 || len(good2.events) != 1 {
		t.Fatalf("good requests failed with the bad ones: %v / %v", good1.err, good2.err)
	}
	if unregistered.err == nil || len(unregistered.events) != 0 {
		t.Errorf("the unregistered kind committed: %v", unregistered.events)
	}
	if !errors.Is(badRemote.err, errDisk) {
		t.Errorf("failing remote apply: %v, want %v", badRemote.err, errDisk)
	}
	if p := s.Progress(); p.LastSeq != 2 || p.Cursor != 0 {
		t.Errorf("progress %+v, want 2 own events and the cursor unmoved", p)
	}
	if v, _ := get(t, s, "b"); v != "2" {
		t.Errorf("b = %q", v)
	}
	evs := outbox(t, s)
	if len(evs) != 2 || evs[0].Seq != 1 || evs[1].Seq != 2 || evs[0].Actor != "alice" || evs[1].Actor != "carol" {
		t.Fatalf("outbox %v, want seqs 1, 2 of alice and carol", evs)
	}
	checkDigest(t, s)
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	if _, err := s.Exec(ctx, "alice", set("a=1", "b=2")); err != nil {
		t.Fatal(err)
	}
	// Ahead of this clock, within the max offset, so the clock follows it.
	ahead := time.Now().Add(replication.DefaultMaxOffset / 2).UnixMilli()
	remote := []*replication.Event{
		{Origin: "bj-chaoyang", Seq: 1, HLC: replication.MakeHLC(ahead, 0), Kind: kindSet, Body: mustMarshal(wrapperspb.String("c=3"))},
	}
	if err := applyRemote(s, ctx, remote, 17, 1234); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "alice", set("a=4")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPushed(2); err != nil {
		t.Fatal(err)
	}
	progress, digest, count, box, last := s.Progress(), s.Views().Digest(), s.Views().AppliedCount(), outbox(t, s), s.Clock().Last()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Exec(ctx, "alice", set("z=1")); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec on a closed store: %v, want ErrClosed", err)
	}

	s = openTestStore(t, dir)
	defer s.Close()
	if p := s.Progress(); p != progress {
		t.Errorf("progress %+v after reopen, want %+v", p, progress)
	}
	if want := (Progress{LastSeq: 3, Pushed: 2, Cursor: 17, CursorMs: 1234}); progress != want {
		t.Errorf("progress %+v, want %+v", progress, want)
	}
	if s.Views().Digest() != digest || s.Views().AppliedCount() != count {
		t.Errorf("views %v/%d after reopen, want %v/%d", s.Views().Digest(), s.Views().AppliedCount(), digest, count)
	}
	checkDigest(t, s)
	if err := sameEvents(outbox(t, s), box); err != nil {
		t.Errorf("outbox after reopen: %v", err)
	}
	for k, want := range map[string]string{"a": "4", "b": "2", "c": "3"} {
		if v, _ := get(t, s, k); v != want {
			t.Errorf("%s = %q after reopen, want %q", k, v, want)
		}
	}
	// The clock resumes after everything it handed out or observed (the
	// remote event is ahead of the wall clock), and seqs go on without a gap.
	if s.Clock().Last() < last {
		t.Errorf("clock floor %v after reopen, below %v", s.Clock().Last(), last)
	}
	evs, err := s.Exec(ctx, "alice", set("d=5"))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 4 || evs[0].HLC <= last || evs[0].HLC <= remote[0].HLC {
		t.Errorf("event after reopen %+v, want seq 4 after HLC %v", evs[0], last)
	}
}

func TestConcurrentExecIsGapless(t *testing.T) {
	s := newTestStore(t)
	const workers, each = 32, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	got := make([][]*replication.Event, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				evs, err := s.Exec(context.Background(), fmt.Sprintf("user%d", w), set(fmt.Sprintf("w%d=%d", w, i)))
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], evs...)
			}
		})
	}
	// Remote batches interleave with the local writes.
	wg.Go(func() {
		for i := range uint64(20) {
			ev := &replication.Event{Origin: "bj-chaoyang", Seq: i + 1, HLC: replication.HLC(i + 1), Kind: kindSet, Body: mustMarshal(wrapperspb.String(fmt.Sprintf("r=%d", i)))}
			if err := applyRemote(s, context.Background(), []*replication.Event{ev}, i+1, 0); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const n = workers * each
	bySeq := map[uint64]*replication.Event{}
	for w, evs := range got {
		for i, ev := range evs {
			if prev, dup := bySeq[ev.Seq]; dup {
				t.Fatalf("seq %d given to %s and %s", ev.Seq, prev.Actor, ev.Actor)
			}
			bySeq[ev.Seq] = ev
			if i > 0 && ev.Seq <= evs[i-1].Seq {
				t.Fatalf("worker %d got seq %d after %d", w, ev.Seq, evs[i-1].Seq)
			}
		}
	}
	box := outbox(t, s)
	if len(box) != n || len(bySeq) != n {
		t.Fatalf("%d events in the outbox, %d returned; want %d", len(box), len(bySeq), n)
	}
	for i, ev := range box {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("outbox position %d holds seq %d: a gap", i, ev.Seq)
		}
		if i > 0 && ev.HLC <= box[i-1].HLC {
			t.Fatalf("seq %d has HLC %v, not after seq %d's %v", ev.Seq, ev.HLC, ev.Seq-1, box[i-1].HLC)
		}
		if err := sameEvents([]*replication.Event{ev}, []*replication.Event{bySeq[ev.Seq]}); err != nil {
			t.Fatalf("stored event differs from the one Exec returned: %v", err)
		}
	}
	if p := s.Progress(); p.LastSeq != n || p.Cursor != 20 {
		t.Errorf("progress %+v, want LastSeq %d cursor 20", p, n)
	}
	if c := s.Views().AppliedCount(); c != n+20 {
		t.Errorf("AppliedCount %d, want %d", c, n+20)
	}
	checkDigest(t, s)
}

func remoteEvents(origin string, from, to uint64, value string) []*replication.Event {
	var out []*replication.Event
	for seq := from; seq <= to; seq++ {
		out = append(out, &replication.Event{
			Origin: origin, Seq: seq, HLC: replication.MakeHLC(1_790_000_000_000+int64(seq), 0), Kind: kindSet,
			Body: mustMarshal(wrapperspb.String(fmt.Sprintf("%s%d=%s", origin, seq, value))),
		})
	}
	return out
}

func TestApplyRemote(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	type step struct {
		name    string
		events  []*replication.Event
		pos     uint64
		applied uint64 // AppliedCount after
		cursor  uint64
		err     error
	}
	steps := []step{
		{"first batch", remoteEvents("bj-chaoyang", 1, 3, "x"), 3, 3, 3, nil},
		{"the same batch again", remoteEvents("bj-chaoyang", 1, 3, "x"), 3, 3, 3, nil},
		{"duplicates in one batch", append(remoteEvents("bj-chaoyang", 4, 4, "x"), remoteEvents("bj-chaoyang", 4, 4, "x")...), 4, 4, 4, nil},
		{"overlapping batch", remoteEvents("bj-chaoyang", 2, 6, "x"), 6, 6, 6, nil},
		{"a stale position does not move the cursor back", nil, 2, 6, 6, nil},
		{"another origin", remoteEvents("gz-tianhe", 1, 2, "y"), 8, 8, 8, nil},
		{"unknown kind is parked and recorded", []*replication.Event{{Origin: "gz-tianhe", Seq: 3, HLC: 9, Kind: "test.future"}}, 9, 8, 9, nil},
		{"the parked event again", []*replication.Event{{Origin: "gz-tianhe", Seq: 3, HLC: 9, Kind: "test.future"}}, 9, 8, 9, nil},
		// gz-tianhe's later events now wait behind its parked one: the
		// failing apply is another origin's.
		{"a failing apply takes the whole batch and the cursor with it",
			append(remoteEvents("sz-nanshan", 1, 1, "y"), &replication.Event{Origin: "sz-nanshan", Seq: 2, HLC: 10, Kind: kindFail, Body: mustMarshal(wrapperspb.String("x"))}), 12, 8, 9, errDisk},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := applyRemote(s, ctx, st.events, st.pos, int64(st.pos)*1000)
			if !errors.Is(err, st.err) || (st.err == nil && err != nil) {
				t.Fatalf("ApplyRemote = %v, want %v", err, st.err)
			}
			if n := s.Views().AppliedCount(); n != st.applied {
				t.Errorf("AppliedCount %d, want %d", n, st.applied)
			}
			if p := s.Progress(); p.Cursor != st.cursor || p.CursorMs != int64(st.cursor)*1000 {
				t.Errorf("cursor %d/%d, want %d", p.Cursor, p.CursorMs, st.cursor)
			}
			checkDigest(t, s)
		})
	}
	if _, ok := get(t, s, "sz-nanshan1"); ok {
		t.Error("an event of the failed batch was applied")
	}
	if v, _ := get(t, s, "bj-chaoyang6"); v != "x" {
		t.Errorf("bj-chaoyang6 = %q", v)
	}
	// The applied seqs went in the same transactions as the views.
	var seqs []uint64
	if err := s.db.View(func(txn *badger.Txn) error {
		for _, o := range []string{"bj-chaoyang", "gz-tianhe", "sz-nanshan"} {
			n, err := replication.AppliedSeq(badgerTx{txn}, o)
			if err != nil {
				return err
			}
			seqs = append(seqs, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []uint64{6, 3, 0}) {
		t.Errorf("applied seqs %v, want [6 3 0]", seqs)
	}
	if p := s.Progress(); p.LastSeq != 0 {
		t.Errorf("remote events counted as own: %+v", p)
	}
	if len(outbox(t, s)) != 0 {
		t.Error("remote events in the outbox")
	}
}

func TestSetPushed(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if _, err := s.Exec(context.Background(), "alice", set("a=1", "b=2", "c=3")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		seq    uint64
		ok     bool
		pushed uint64
	}{
		{"above LastSeq", 4, false, 0},
		{"zero", 0, true, 0},
		{"one", 1, true, 1},
		{"LastSeq", 3, true, 3},
		{"lower is ignored", 2, true, 3},
		{"far above", 1 << 40, false, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.SetPushed(st.seq); (err == nil) != st.ok {
				t.Fatalf("SetPushed(%d) = %v, want ok %v", st.seq, err, st.ok)
			}
			if p := s.Progress().Pushed; p != st.pushed {
				t.Fatalf("Pushed %d, want %d", p, st.pushed)
			}
		})
	}
	s.resetPushed(1)
	if p := s.Progress().Pushed; p != 1 {
		t.Errorf("after resetPushed(1), Pushed %d", p)
	}
	s.resetPushed(2)
	if p := s.Progress().Pushed; p != 1 {
		t.Errorf("resetPushed raised Pushed to %d", p)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	// The mark is not synced and resetPushed does not write it: after a
	// restart the node resends from the last mark written, which the hub
	// ignores as duplicates. It must never be above LastSeq.
	if p := s.Progress(); p.Pushed != 3 || p.LastSeq != 3 {
		t.Errorf("after reopen %+v, want Pushed 3 LastSeq 3", p)
	}
}

func TestOutboxBounds(t *testing.T) {
	s := newTestStore(t)
	// Ten events whose encodings have the same size.
	var pairs []string
	for i := range 10 {
		pairs = append(pairs, fmt.Sprintf("k%d=%s", i, strings.Repeat("v", 100)))
	}
	evs, err := s.Exec(context.Background(), "alice", set(pairs...))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := evs[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	size := len(enc)
	cases := []struct {
		name      string
		after     uint64
		maxEvents int
		maxBytes  int
		want      []uint64
	}{
		{"all", 0, 100, 1 << 20, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"after a seq", 7, 100, 1 << 20, []uint64{8, 9, 10}},
		{"after the last", 10, 100, 1 << 20, nil},
		{"beyond the last", 50, 100, 1 << 20, nil},
		{"count bound", 2, 3, 1 << 20, []uint64{3, 4, 5}},
		{"byte bound", 0, 100, 3 * size, []uint64{1, 2, 3}},
		{"byte bound between events", 0, 100, 3*size - 1, []uint64{1, 2, 3}},
		{"byte bound below one event still gives one", 4, 100, 1, []uint64{5}},
		{"both bounds, count first", 0, 2, 5 * size, []uint64{1, 2}},
		{"both bounds, bytes first", 0, 5, 2 * size, []uint64{1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Outbox(c.after, c.maxEvents, c.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			total := 0
			for _, ev := range got {
				seqs = append(seqs, ev.Seq)
				b, _ := ev.Marshal()
				total += len(b)
			}
			if !slices.Equal(seqs, c.want) {
				t.Fatalf("Outbox(%d, %d, %d) = %v, want %v", c.after, c.maxEvents, c.maxBytes, seqs, c.want)
			}
			// "About maxBytes": at most one event over.
			if len(got) > 1 && total-size >= c.maxBytes {
				t.Errorf("%d bytes returned for a bound of %d", total, c.maxBytes)
			}
		})
	}
}
