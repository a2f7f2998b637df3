package crm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// The simulation below runs commands at nodes that each hold their own
// replica, as a store does (command on the views, events stamped with the
// node's origin, seq and clock, applied in the same batch), and moves
// events between nodes when the test says they are connected. It lets the
// tests make the concurrency they are about: two nodes acting during a
// partition, each on its own view.

type simFatal interface {
	Fatalf(format string, args ...any)
}

type simNode struct {
	id      string
	store   *reptest.Mem
	views   *replication.Views
	clock   *replication.Clock
	seq     uint64
	events  []*replication.Event // own events, in seq order
	applied map[string]int       // events of each other node applied
}

type simWorld struct {
	t     simFatal
	reg   *replication.Registry
	wall  int64 // ms; nodes share it, so equal HLCs of different origins happen
	nodes []*simNode
}

// simStart is late 2026 in wall milliseconds.
const simStart = 1_790_000_000_000

func simRegistry() *replication.Registry {
	r := replication.NewRegistry()
	RegisterCustomers(r)
	RegisterParams(r)
	RegisterBlacklist(r)
	RegisterMembers(r)
	return r
}

func newSimWorld(t simFatal, reg *replication.Registry, ids ...string) *simWorld {
	w := &simWorld{t: t, reg: reg, wall: simStart}
	for _, id := range ids {
		m := reptest.NewMem()
		v, err := replication.OpenViews(reg, m)
		if err != nil {
			t.Fatalf("open views: %v", err)
		}
		w.nodes = append(w.nodes, &simNode{id: id, store: m, views: v, applied: map[string]int{},
			clock: replication.NewClock(func() time.Time { return time.UnixMilli(w.wall) }, 0, 0)})
	}
	return w
}

// now is the wall time of the world.
func (w *simWorld) now() time.Time { return time.UnixMilli(w.wall) }

// exec runs cmd at node n as user actor. A command's error is returned and
// nothing is written; every event made must pass Registry.Check, as the hub
// requires.
func (w *simWorld) exec(n *simNode, actor string, cmd replication.Command) ([]*replication.Event, error) {
	b := n.views.Begin(n.store)
	drafts, err := cmd(b.Views())
	if err != nil {
		return nil, err
	}
	var out []*replication.Event
	for _, d := range drafts {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			w.t.Fatalf("encode %s: %v", d.Kind, err)
		}
		n.seq++
		ev := &replication.Event{Origin: n.id, Seq: n.seq, HLC: n.clock.Now(), Kind: d.Kind, Entity: d.Entity, Actor: actor, Body: body}
		if err := w.reg.Check(ev); err != nil {
			w.t.Fatalf("own event refused by Check: %v", err)
		}
		if out, err := b.Apply(ev); err != nil || out != replication.Applied {
			w.t.Fatalf("apply own %s: %v (outcome %d)", ev, err, out)
		}
		n.events = append(n.events, ev)
		out = append(out, ev)
	}
	if err := b.Finish(); err != nil {
		w.t.Fatalf("finish: %v", err)
	}
	b.Commit()
	return out, nil
}

// must runs cmd and fails the test on a refusal.
func (w *simWorld) must(n *simNode, actor string, cmd replication.Command) []*replication.Event {
	evs, err := w.exec(n, actor, cmd)
	if err != nil {
		w.t.Fatalf("%s at %s: %v", actor, n.id, err)
	}
	return evs
}

func (w *simWorld) deliver(to *simNode, evs ...*replication.Event) {
	b := to.views.Begin(to.store)
	for _, ev := range evs {
		to.clock.Observe(ev.HLC)
		if _, err := b.Apply(ev); err != nil {
			w.t.Fatalf("apply %s at %s: %v", ev, to.id, err)
		}
	}
	if err := b.Finish(); err != nil {
		w.t.Fatalf("finish: %v", err)
	}
	b.Commit()
}

// sync gives node to every event of node from it has not applied.
func (w *simWorld) sync(from, to *simNode) {
	if from == to {
		return
	}
	w.deliver(to, from.events[to.applied[from.id]:]...)
	to.applied[from.id] = len(from.events)
}

// syncAll connects every node with every other.
func (w *simWorld) syncAll() {
	for range 2 {
		for _, a := range w.nodes {
			for _, b := range w.nodes {
				w.sync(a, b)
			}
		}
	}
}

// heal delivers to every node the events it misses, in an order drawn by
// rapid (each origin's events in seq order, origins interleaved, with
// re-deliveries).
func (w *simWorld) heal(t *rapid.T) {
	for _, to := range w.nodes {
		var streams [][]*replication.Event
		for _, from := range w.nodes {
			if from != to {
				streams = append(streams, from.events[to.applied[from.id]:])
				to.applied[from.id] = len(from.events)
			}
		}
		w.deliver(to, simInterleave(t, streams, "heal-"+to.id)...)
	}
}

// all returns every event of every node.
func (w *simWorld) all() [][]*replication.Event {
	var out [][]*replication.Event
	for _, n := range w.nodes {
		out = append(out, n.events)
	}
	return out
}

// simInterleave draws one arrival order of streams: each in its own order,
// mixed at random, sometimes an event delivered again.
func simInterleave(t *rapid.T, streams [][]*replication.Event, label string) []*replication.Event {
	next := make([]int, len(streams))
	var out []*replication.Event
	for {
		var open []int
		for i, s := range streams {
			if next[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		o := rapid.SampledFrom(open).Draw(t, label+"-pick")
		out = append(out, streams[o][next[o]])
		if next[o] > 0 && rapid.IntRange(0, 5).Draw(t, label+"-dup") == 0 {
			out = append(out, streams[o][rapid.IntRange(0, next[o]-1).Draw(t, label+"-dupof")])
		}
		next[o]++
	}
}

// viewDump returns the replicated views of a node (without its own
// bookkeeping).
func viewDump(n *simNode) map[string]string {
	out := map[string]string{}
	for k, v := range n.store.Dump() {
		if strings.HasPrefix(k, string(replication.ViewPrefix)) {
			out[k] = v
		}
	}
	return out
}

// checkConverged fails unless every node and a fresh replica fed every
// event in a drawn order hold the same views and digest.
func (w *simWorld) checkConverged(t *rapid.T) {
	fresh := newSimWorld(t, w.reg, "fresh")
	fresh.deliver(fresh.nodes[0], simInterleave(t, w.all(), "fresh")...)
	want, wantD := viewDump(fresh.nodes[0]), fresh.nodes[0].views.Digest()
	for _, n := range w.nodes {
		if got := viewDump(n); !maps.Equal(got, want) {
			t.Fatalf("views of %s differ from a fresh replica's:\n%s", n.id, dumpDiff(got, want))
		}
		if d := n.views.Digest(); d != wantD {
			t.Fatalf("digest of %s differs", n.id)
		}
		full, err := replication.DigestOf(n.store, replication.ViewPrefix)
		if err != nil || full != n.views.Digest() {
			t.Fatalf("incremental digest of %s is not the digest of its views (%v)", n.id, err)
		}
	}
}

func dumpDiff(a, b map[string]string) string {
	var lines []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			lines = append(lines, fmt.Sprintf("  %q: %q vs %q", k, v, w))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, fmt.Sprintf("  %q: missing vs %q", k, v))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func simRead[T any](t simFatal, n *simNode, fn func(views replication.Tx) (T, error)) T {
	v, err := fn(replication.ReadViews(n.store))
	if err != nil {
		t.Fatalf("read at %s: %v", n.id, err)
	}
	return v
}

// Commands as the API runs them.

func flagCmd(actor, number, reason string) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, ok, err := FlagNumber(views, actor, number, reason)
		if err != nil || !ok {
			return nil, err
		}
		return []replication.Draft{d}, nil
	}
}

func listCmd(number, reason string, p Policy, w *crmv1.BlacklistWindows) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, err := BlacklistNumber(views, number, reason, p, w)
		return []replication.Draft{d}, err
	}
}

func unlistCmd(number, reason string) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, err := UnblacklistNumber(views, number, reason)
		return []replication.Draft{d}, err
	}
}

func paramCmd(key, value string) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, ok, err := SetParam(views, key, value)
		if err != nil || !ok {
			return nil, err
		}
		return []replication.Draft{d}, nil
	}
}

func statusAt(t simFatal, n *simNode, number string, now time.Time) Status {
	return simRead(t, n, func(v replication.Tx) (Status, error) { return BlacklistStatus(v, number, now) })
}

const (
	nuisance  = "+8613800138000"
	nuisance2 = "+862162345678"
)

func TestBlacklistByFlags(t *testing.T) {
	w := newSimWorld(t, simRegistry(), "sh-pudong")
	n := w.nodes[0]
	now := w.now()
	// Any notation of the number counts for the same entry.
	for i, raw := range []string{"138 0013 8000", "+86 138-0013-8000", "13800138000"} {
		st := statusAt(t, n, nuisance, now)
		if st.Listed || st.Flags != i {
			t.Fatalf("after %d flags: %+v", i, st)
		}
		w.must(n, fmt.Sprintf("agent%d", i), flagCmd(fmt.Sprintf("agent%d", i), raw, "骚扰电话"))
	}
	st := statusAt(t, n, nuisance, now)
	if !st.Listed || st.Direct || st.Flags != 3 || st.Threshold != 3 || st.Policy != PolicyWarn || !st.Active || !st.Warns() || st.Rejects() || st.Reason != "骚扰电话" {
		t.Fatalf("after 3 flags: %+v", st)
	}

	// A user flagging again counts once and makes no event.
	if evs := w.must(n, "agent0", flagCmd("agent0", nuisance, "again")); len(evs) != 0 {
		t.Fatalf("second flag of one user made %d events", len(evs))
	}

	// The threshold is a replicated parameter, read when asked.
	w.must(n, "admin", paramCmd(ParamBlacklistThreshold, "4"))
	if st := statusAt(t, n, nuisance, now); st.Listed || st.Threshold != 4 {
		t.Fatalf("threshold 4: %+v", st)
	}
	w.must(n, "admin", paramCmd(ParamBlacklistThreshold, ""))
	w.must(n, "admin", paramCmd(ParamBlacklistPolicy, "reject"))
	if st := statusAt(t, n, nuisance, now); !st.Listed || st.Policy != PolicyReject || !st.Rejects() {
		t.Fatalf("default policy reject: %+v", st)
	}

	// Listed numbers are listed; flagged ones only on request.
	w.must(n, "agent0", flagCmd("agent0", nuisance2, ""))
	list := simRead(t, n, func(v replication.Tx) ([]Status, error) { return ListBlacklist(v, "", 10, false, now) })
	if len(list) != 1 || list[0].Number != nuisance {
		t.Fatalf("list: %+v", list)
	}
	list = simRead(t, n, func(v replication.Tx) ([]Status, error) { return ListBlacklist(v, "", 10, true, now) })
	if len(list) != 2 {
		t.Fatalf("list with flagged: %+v", list)
	}
	num := simRead(t, n, func(v replication.Tx) (string, error) { return BlacklistNumberByKey(v, BlacklistKey(nuisance2)) })
	if num != nuisance2 {
		t.Fatalf("by key: %q", num)
	}
	// Paging: one at a time, in key order, visits both.
	first := simRead(t, n, func(v replication.Tx) ([]Status, error) { return ListBlacklist(v, "", 1, true, now) })
	second := simRead(t, n, func(v replication.Tx) ([]Status, error) {
		return ListBlacklist(v, BlacklistKey(first[0].Number), 1, true, now)
	})
	if len(first) != 1 || len(second) != 1 || first[0].Number == second[0].Number {
		t.Fatalf("pages: %+v / %+v", first, second)
	}
	hist := simRead(t, n, func(v replication.Tx) ([]BlacklistRecord, error) { return BlacklistHistory(v, nuisance, 10) })
	if len(hist) != 3 || hist[0].Actor != "agent2" || hist[2].Actor != "agent0" || hist[0].Action != "flagged" {
		t.Fatalf("history, newest first: %+v", hist)
	}
}

func TestBlacklistDirectAndUnlist(t *testing.T) {
	w := newSimWorld(t, simRegistry(), "sh-pudong")
	n := w.nodes[0]
	now := w.now()
	w.must(n, "agent1", flagCmd("agent1", nuisance, "rude"))
	w.must(n, "agent2", flagCmd("agent2", nuisance, "rude"))
	win := &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "0:00", End: "24:00"}}}
	w.must(n, "admin", listCmd(nuisance, "fraud", PolicyReject, win))
	st := statusAt(t, n, nuisance, now)
	if !st.Listed || !st.Direct || st.Flags != 2 || !st.Rejects() || st.Reason != "fraud" || st.Windows.GetWindows()[0].GetStart() != "00:00" {
		t.Fatalf("listed directly: %+v", st)
	}

	w.must(n, "admin", unlistCmd(nuisance, "customer apologised"))
	st = statusAt(t, n, nuisance, now)
	if st.Listed || st.Direct || st.Flags != 0 || st.Active || st.Rejects() || st.Unlisted == nil ||
		st.Unlisted.Actor != "admin" || st.Unlisted.Reason != "customer apologised" || st.Unlisted.At == 0 {
		t.Fatalf("after un-blacklisting: %+v", st)
	}
	// The count restarts: the two old flaggers and one new one make three
	// fresh flags.
	for _, u := range []string{"agent1", "agent2"} {
		w.must(n, u, flagCmd(u, nuisance, ""))
	}
	if st := statusAt(t, n, nuisance, now); st.Listed || st.Flags != 2 {
		t.Fatalf("re-flagged twice: %+v", st)
	}
	w.must(n, "agent3", flagCmd("agent3", nuisance, ""))
	// The number's own policy survives the un-blacklisting.
	if st := statusAt(t, n, nuisance, now); !st.Listed || st.Flags != 3 || st.Policy != PolicyReject {
		t.Fatalf("re-flagged thrice: %+v", st)
	}
	if _, err := w.exec(n, "admin", unlistCmd(nuisance2, "nothing there")); !invalidWith(err, "not_listed") {
		t.Fatalf("un-blacklisting a clean number: %v", err)
	}
}

func invalidWith(err error, code string) bool {
	inv, ok := fault.AsInvalid(err)
	return ok && inv.Code == code
}

func TestBlacklistBadInput(t *testing.T) {
	long := strings.Repeat("长", MaxReason+1)
	w := newSimWorld(t, simRegistry(), "sh-pudong")
	n := w.nodes[0]
	for _, tc := range []struct {
		name string
		cmd  replication.Command
		code string
	}{
		{"flag bad number", flagCmd("a", "12345", ""), "bad_phone"},
		{"flag no number", flagCmd("a", " ", ""), "required"},
		{"flag long reason", flagCmd("a", nuisance, long), "too_long"},
		{"flag bad text", flagCmd("a", nuisance, "a\x00b"), "bad_text"},
		{"list without reason", listCmd(nuisance, "", "", nil), "required"},
		{"list bad policy", listCmd(nuisance, "x", "hangup", nil), "bad_policy"},
		{"list bad day", listCmd(nuisance, "x", "", &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Days: []int32{8}, Start: "22:00", End: "08:00"}}}), "bad_day"},
		{"list bad start", listCmd(nuisance, "x", "", &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "24:00", End: "08:00"}}}), "bad_time"},
		{"list bad end", listCmd(nuisance, "x", "", &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "22:00", End: "8"}}}), "bad_time"},
		{"list bad zone", listCmd(nuisance, "x", "", &crmv1.BlacklistWindows{TimeZone: "Mars/Olympus", Windows: []*crmv1.BlacklistWindow{{Start: "22:00", End: "08:00"}}}), "bad_time_zone"},
		{"unlist without reason", unlistCmd(nuisance, ""), "required"},
		{"threshold zero", paramCmd(ParamBlacklistThreshold, "0"), "bad_threshold"},
		{"threshold text", paramCmd(ParamBlacklistThreshold, "three"), "bad_threshold"},
		{"policy unknown", paramCmd(ParamBlacklistPolicy, "hangup"), "bad_policy"},
		{"param bad key", paramCmd("Blacklist threshold", "3"), "bad_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.store.Dump()
			if _, err := w.exec(n, "a", tc.cmd); !invalidWith(err, tc.code) {
				t.Fatalf("got %v, want an Invalid %q", err, tc.code)
			}
			if !maps.Equal(before, n.store.Dump()) {
				t.Fatal("a refused command changed the store")
			}
		})
	}
	if _, err := BlacklistStatus(replication.ReadViews(n.store), "anonymous", w.now()); !invalidWith(err, "bad_phone") {
		t.Fatalf("status of a non-number: %v", err)
	}
	if _, err := BlacklistNumberByKey(replication.ReadViews(n.store), BlacklistKey(nuisance)); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("key of an unknown number: %v", err)
	}
}

func TestBlacklistWindows(t *testing.T) {
	shanghai := tzLocation("Asia/Shanghai")
	at := func(day, clock string) time.Time {
		// 2026-11-23 is a Monday.
		d := map[string]int{"mon": 23, "tue": 24, "fri": 27, "sat": 28, "sun": 29}[day]
		tm, err := time.ParseInLocation("2006-01-02 15:04", fmt.Sprintf("2026-11-%02d %s", d, clock), shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	win := func(days []int32, s, e string) *crmv1.BlacklistWindow {
		return &crmv1.BlacklistWindow{Days: days, Start: s, End: e}
	}
	night := []*crmv1.BlacklistWindow{win(nil, "22:00", "08:00")}
	fridayNight := []*crmv1.BlacklistWindow{win([]int32{5}, "22:00", "08:00")}
	for _, tc := range []struct {
		name    string
		zone    string
		windows []*crmv1.BlacklistWindow
		now     time.Time
		open    bool
	}{
		{"no windows: always", "", nil, at("mon", "12:00"), true},
		{"night, late", "", night, at("mon", "23:30"), true},
		{"night, early", "", night, at("tue", "07:59"), true},
		{"night, end excluded", "", night, at("tue", "08:00"), false},
		{"night, day", "", night, at("tue", "12:00"), false},
		{"night, start included", "", night, at("tue", "22:00"), true},
		{"friday night on friday", "", fridayNight, at("fri", "23:00"), true},
		{"friday night runs into saturday", "", fridayNight, at("sat", "07:00"), true},
		{"friday night not saturday night", "", fridayNight, at("sat", "23:00"), false},
		{"friday night not thursday's morning", "", fridayNight, at("fri", "07:00"), false},
		{"office hours on weekdays", "", []*crmv1.BlacklistWindow{win([]int32{1, 2, 3, 4, 5}, "09:00", "18:00")}, at("tue", "10:00"), true},
		{"office hours not on sunday", "", []*crmv1.BlacklistWindow{win([]int32{1, 2, 3, 4, 5}, "09:00", "18:00")}, at("sun", "10:00"), false},
		{"whole sunday", "", []*crmv1.BlacklistWindow{win([]int32{7}, "00:00", "00:00")}, at("sun", "15:00"), true},
		{"to midnight", "", []*crmv1.BlacklistWindow{win(nil, "20:00", "24:00")}, at("mon", "23:59"), true},
		{"second window", "", []*crmv1.BlacklistWindow{win(nil, "01:00", "02:00"), win(nil, "12:00", "13:00")}, at("mon", "12:30"), true},
		// 12:00 in Shanghai is 04:00 in London (winter).
		{"other zone", "Europe/London", []*crmv1.BlacklistWindow{win(nil, "03:00", "05:00")}, at("mon", "12:00"), true},
		{"other zone, closed", "Europe/London", []*crmv1.BlacklistWindow{win(nil, "11:00", "13:00")}, at("mon", "12:00"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSimWorld(t, simRegistry(), "sh-pudong")
			n := w.nodes[0]
			var ws *crmv1.BlacklistWindows
			if tc.windows != nil {
				ws = &crmv1.BlacklistWindows{TimeZone: tc.zone, Windows: tc.windows}
			}
			w.must(n, "admin", listCmd(nuisance, "night calls", PolicyReject, ws))
			st := statusAt(t, n, nuisance, tc.now)
			if st.Active != tc.open || st.Rejects() != tc.open || !st.Listed {
				t.Fatalf("at %s: active %v, want %v (%+v)", tc.now, st.Active, tc.open, st)
			}
		})
	}
}

// Two nodes are cut off from each other; agents at both flag the same
// number. Once they heal, both list it exactly when the distinct flaggers
// of both sides together reach the threshold, whatever order the events
// cross in.
func TestBlacklistPartitionFlagsConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := simRegistry()
		w := newSimWorld(t, reg, "sh-pudong", "bj-chaoyang")
		a, b := w.nodes[0], w.nodes[1]
		threshold := rapid.IntRange(1, 5).Draw(t, "threshold")
		w.must(a, "admin", paramCmd(ParamBlacklistThreshold, fmt.Sprint(threshold)))
		w.sync(a, b)
		users := []string{"u1", "u2", "u3", "u4", "u5"}
		flagged := map[string]bool{}
		for i, k := 0, rapid.IntRange(0, 10).Draw(t, "flags"); i < k; i++ {
			n := w.nodes[rapid.IntRange(0, 1).Draw(t, "node")]
			u := rapid.SampledFrom(users).Draw(t, "user")
			w.must(n, u, flagCmd(u, nuisance, "partition"))
			flagged[u] = true
			w.wall += int64(rapid.IntRange(0, 2).Draw(t, "tick"))
		}
		w.heal(t)
		for _, n := range []*simNode{a, b} {
			st := statusAt(t, n, nuisance, w.now())
			if st.Flags != len(flagged) || st.Listed != (len(flagged) >= threshold) {
				t.Fatalf("%s: %d flags, listed %v; want %d distinct flaggers against threshold %d", n.id, st.Flags, st.Listed, len(flagged), threshold)
			}
		}
		w.checkConverged(t)
	})
}

// Nodes flag, list, un-list and change the threshold, each on its own
// view, syncing now and then. After healing every replica holds the same
// views, and the flags that count are exactly those no un-blacklisting had
// seen: a flag made concurrently with an un-blacklisting still counts.
func TestBlacklistConcurrentUnlistConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := simRegistry()
		w := newSimWorld(t, reg, []string{"sh-pudong", "bj-chaoyang", "gz-tianhe"}[:rapid.IntRange(2, 3).Draw(t, "nodes")]...)
		users := []string{"u1", "u2", "u3", "u4"}
		numbers := []string{nuisance, nuisance2}
		type tagged struct {
			user string
			tag  replication.Tag
		}
		flags := map[string][]tagged{}                   // number → flag events
		listings := map[string][]replication.Tag{}       // number → listing events
		removed := map[string]map[replication.Tag]bool{} // number → tags some un-listing named
		for i, k := 0, rapid.IntRange(1, 30).Draw(t, "ops"); i < k; i++ {
			n := w.nodes[rapid.IntRange(0, len(w.nodes)-1).Draw(t, "node")]
			num := rapid.SampledFrom(numbers).Draw(t, "number")
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0, 1:
				u := rapid.SampledFrom(users).Draw(t, "user")
				for _, ev := range w.must(n, u, flagCmd(u, num, "")) {
					flags[num] = append(flags[num], tagged{u, replication.TagOf(ev)})
				}
			case 2:
				for _, ev := range w.must(n, "admin", listCmd(num, "direct", "", nil)) {
					listings[num] = append(listings[num], replication.TagOf(ev))
				}
			case 3:
				evs, err := w.exec(n, "admin", unlistCmd(num, "appeal"))
				if err != nil && !invalidWith(err, "not_listed") {
					t.Fatalf("unlist: %v", err)
				}
				for _, ev := range evs {
					var b crmv1.BlacklistUnlisted
					if err := proto.Unmarshal(ev.Body, &b); err != nil {
						t.Fatal(err)
					}
					if removed[num] == nil {
						removed[num] = map[replication.Tag]bool{}
					}
					for _, tg := range append(b.GetFlags(), b.GetListings()...) {
						removed[num][replication.Tag{Origin: tg.GetOrigin(), Seq: tg.GetSeq()}] = true
					}
				}
			case 4:
				w.must(n, "admin", paramCmd(ParamBlacklistThreshold, fmt.Sprint(rapid.IntRange(1, 3).Draw(t, "threshold"))))
			case 5:
				w.sync(w.nodes[rapid.IntRange(0, len(w.nodes)-1).Draw(t, "from")], n)
			}
			w.wall += int64(rapid.IntRange(0, 2).Draw(t, "tick"))
		}
		w.heal(t)
		w.checkConverged(t)
		for _, num := range numbers {
			live := map[string]bool{}
			for _, f := range flags[num] {
				if !removed[num][f.tag] {
					live[f.user] = true
				}
			}
			direct := slices.ContainsFunc(listings[num], func(tg replication.Tag) bool { return !removed[num][tg] })
			for _, n := range w.nodes {
				st := statusAt(t, n, num, w.now())
				if st.Flags != len(live) || st.Direct != direct || st.Listed != (direct || len(live) >= st.Threshold) {
					t.Fatalf("%s %s: flags %d direct %v listed %v; want %d live flaggers %v, direct %v", n.id, num, st.Flags, st.Direct, st.Listed, len(live), slices.Sorted(maps.Keys(live)), direct)
				}
			}
		}
	})
}

// The case the rule is written for, spelled out: an un-blacklisting at
// one node and a new flag at another, during a partition.
func TestBlacklistUnlistConcurrentWithFlag(t *testing.T) {
	w := newSimWorld(t, simRegistry(), "sh-pudong", "bj-chaoyang")
	a, b := w.nodes[0], w.nodes[1]
	for _, u := range []string{"u1", "u2", "u3"} {
		w.must(a, u, flagCmd(u, nuisance, ""))
	}
	w.syncAll()
	// Partition: a un-blacklists what it saw; b's agent u4 flags, and u1
	// flags again at b (its first flag is still live there).
	w.wall += 5
	w.must(a, "admin", unlistCmd(nuisance, "wrong number"))
	w.must(b, "u4", flagCmd("u4", nuisance, ""))
	if evs := w.must(b, "u1", flagCmd("u1", nuisance, "")); len(evs) != 0 {
		t.Fatal("u1's second flag at b should make no event while its first counts there")
	}
	w.syncAll()
	for _, n := range w.nodes {
		st := statusAt(t, n, nuisance, w.now())
		if st.Flags != 1 || st.Listed || st.Unlisted == nil {
			t.Fatalf("%s: %+v; want only u4's concurrent flag to count", n.id, st)
		}
	}
	if !maps.Equal(viewDump(a), viewDump(b)) {
		t.Fatalf("replicas differ:\n%s", dumpDiff(viewDump(a), viewDump(b)))
	}
}

// Events the hub would refuse, and bodies an applier must survive.
func TestBlacklistChecks(t *testing.T) {
	reg := simRegistry()
	mk := func(kind, entity string, body proto.Message) *replication.Event {
		b, err := proto.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: replication.MakeHLC(simStart, 0), Kind: kind, Entity: entity, Actor: "a", Body: b}
	}
	for _, tc := range []struct {
		name string
		ev   *replication.Event
	}{
		{"not E.164", mk(KindBlacklistFlagged, "blacklist/13800138000", &crmv1.BlacklistFlagged{Number: "13800138000"})},
		{"entity mismatch", mk(KindBlacklistFlagged, "blacklist/"+nuisance2, &crmv1.BlacklistFlagged{Number: nuisance})},
		{"listing without reason", mk(KindBlacklistListed, "blacklist/"+nuisance, &crmv1.BlacklistListed{Number: nuisance})},
		{"windows not canonical", mk(KindBlacklistListed, "blacklist/"+nuisance, &crmv1.BlacklistListed{Number: nuisance, Reason: "x",
			Windows: &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "8:00", End: "09:00"}}}})},
		{"bad tag", mk(KindBlacklistUnlisted, "blacklist/"+nuisance, &crmv1.BlacklistUnlisted{Number: nuisance, Reason: "x",
			Flags: []*crmv1.BlacklistTag{{Flagger: "u", Origin: "BAD ORIGIN", Seq: 1}}})},
		{"param entity", mk(KindParamSet, "param/other.key", &crmv1.ParamSet{Key: ParamBlacklistThreshold, Value: "3"})},
		{"param value", mk(KindParamSet, "param/"+ParamBlacklistThreshold, &crmv1.ParamSet{Key: ParamBlacklistThreshold, Value: "-1"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := reg.Check(tc.ev); err == nil {
				t.Fatal("accepted")
			}
			// Appliers do not fail on it either (replicas of another
			// version may have accepted it).
			m := reptest.NewMem()
			v, _ := replication.OpenViews(reg, m)
			b := v.Begin(m)
			if _, err := b.Apply(tc.ev); err != nil {
				t.Fatalf("apply: %v", err)
			}
		})
	}
}

// BlacklistStatus is on the INVITE path: it must stay a few reads however
// many flags and history entries a number has.
func BenchmarkBlacklistStatus(b *testing.B) {
	w := newSimWorld(b, simRegistry(), "sh-pudong")
	n := w.nodes[0]
	for i := range 200 {
		u := fmt.Sprintf("agent%d", i)
		w.must(n, u, flagCmd(u, nuisance, "spam"))
	}
	w.must(n, "admin", listCmd(nuisance, "spam", PolicyReject, &crmv1.BlacklistWindows{Windows: []*crmv1.BlacklistWindow{{Start: "22:00", End: "08:00"}}}))
	views := replication.ReadViews(n.store)
	now := w.now()
	for _, raw := range []string{"13800138000", nuisance} {
		b.Run(raw, func(b *testing.B) {
			for range b.N {
				if st, err := BlacklistStatus(views, raw, now); err != nil || !st.Listed {
					b.Fatal(st, err)
				}
			}
		})
	}
}
