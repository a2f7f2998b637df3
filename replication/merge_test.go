package replication_test

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/replication/reptest"
)

// testRegistry has one kind per merge rule, with bodies "a=b" strings.
func testRegistry() *replication.Registry {
	r := replication.NewRegistry()
	split := func(s string) (string, string) {
		a, b, _ := strings.Cut(s, "=")
		return a, b
	}
	replication.Handle(r, "test.reg", func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		k, v := split(b.Value)
		_, _, err := replication.SetRegister(tx, replication.Key("reg", k), []byte(v), replication.StampOf(ev))
		return err
	}, nil)
	replication.Handle(r, "test.cnt", func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		k, v := split(b.Value)
		d, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil // total: ignore what it does not understand
		}
		_, err = replication.AddCounter(tx, replication.Key("cnt", k), d)
		return err
	}, nil)
	replication.Handle(r, "test.add", func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		return replication.SetAdd(tx, "set", b.Value, replication.TagOf(ev))
	}, nil)
	replication.Handle(r, "test.rem", func(tx replication.Tx, ev *replication.Event, b *wrapperspb.StringValue) error {
		elem, tags := split(b.Value)
		var observed []replication.Tag
		for _, t := range strings.Split(tags, ",") {
			o, s, ok := strings.Cut(t, ":")
			if !ok {
				continue
			}
			seq, _ := strconv.ParseUint(s, 10, 64)
			observed = append(observed, replication.Tag{Origin: o, Seq: seq})
		}
		return replication.SetRemove(tx, "set", elem, observed)
	}, nil)
	return r
}

func body(s string) []byte {
	b, err := proto.Marshal(&wrapperspb.StringValue{Value: s})
	if err != nil {
		panic(err)
	}
	return b
}

// genStreams draws event streams for several origins. Each origin's clock
// sometimes observes another origin's latest event, as if it had pulled it,
// so streams are partly causal and partly concurrent.
func genStreams(t *rapid.T) [][]*replication.Event {
	origins := []string{"sh-pudong", "bj-chaoyang", "gz-tianhe"}[:rapid.IntRange(2, 3).Draw(t, "origins")]
	streams := make([][]*replication.Event, len(origins))
	clocks := make([]replication.HLC, len(origins))
	keys := []string{"a", "b", "c"}
	elems := []string{"x", "y"}
	var adds []replication.Tag
	for i, n := 0, rapid.IntRange(1, 60).Draw(t, "events"); i < n; i++ {
		o := rapid.IntRange(0, len(origins)-1).Draw(t, "origin")
		if rapid.Bool().Draw(t, "observe") {
			if p := rapid.IntRange(0, len(origins)-1).Draw(t, "peer"); clocks[p] > clocks[o] {
				clocks[o] = clocks[p]
			}
		}
		// Several origins share wall milliseconds, so equal HLCs happen and
		// the origin tie-break is exercised.
		clocks[o] = max(clocks[o]+1, replication.MakeHLC(int64(rapid.IntRange(1, 5).Draw(t, "ms")), 0))
		ev := &replication.Event{Origin: origins[o], Seq: uint64(len(streams[o]) + 1), HLC: clocks[o]}
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			ev.Kind, ev.Body = "test.reg", body(rapid.SampledFrom(keys).Draw(t, "k")+"="+rapid.StringMatching(`[a-z]{0,3}`).Draw(t, "v"))
		case 1:
			ev.Kind, ev.Body = "test.cnt", body(fmt.Sprintf("%s=%d", rapid.SampledFrom(keys).Draw(t, "k"), rapid.IntRange(-5, 5).Draw(t, "d")))
		case 2:
			ev.Kind, ev.Body = "test.add", body(rapid.SampledFrom(elems).Draw(t, "e"))
			adds = append(adds, replication.TagOf(ev))
		case 3:
			var seen []string
			for _, a := range adds {
				if rapid.Bool().Draw(t, "seen") {
					seen = append(seen, a.String())
				}
			}
			ev.Kind, ev.Body = "test.rem", body(rapid.SampledFrom(elems).Draw(t, "e")+"="+strings.Join(seen, ","))
		}
		streams[o] = append(streams[o], ev)
	}
	return streams
}

// interleave draws one delivery order: each origin's events in seq order,
// origins mixed at random, with some events delivered again.
func interleave(t *rapid.T, streams [][]*replication.Event, label string) []*replication.Event {
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
		if next[o] > 0 && rapid.IntRange(0, 4).Draw(t, label+"-dup") == 0 {
			out = append(out, streams[o][rapid.IntRange(0, next[o]-1).Draw(t, label+"-dupof")])
		}
		next[o]++
	}
}

func applyAll(t *rapid.T, reg *replication.Registry, evs []*replication.Event) (*reptest.Mem, replication.Digest) {
	m := reptest.NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	// Apply in several transactions, as stores do.
	for len(evs) > 0 {
		n := min(len(evs), rapid.IntRange(1, 8).Draw(t, "batch"))
		b := views.Begin(m)
		for _, ev := range evs[:n] {
			if _, err := b.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		b.Commit()
		evs = evs[n:]
	}
	full, err := replication.DigestOf(m, replication.ViewPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if full != views.Digest() {
		t.Fatalf("incremental digest %v != digest of the views %v", views.Digest(), full)
	}
	return m, views.Digest()
}

func viewsOf(m *reptest.Mem) map[string]string {
	out := map[string]string{}
	for k, v := range m.Dump() {
		if strings.HasPrefix(k, string(replication.ViewPrefix)) {
			out[k] = v
		}
	}
	return out
}

// Any interleaving of the origins' streams, duplicates included, gives the
// same views and the same digest.
func TestInterleavingsConverge(t *testing.T) {
	reg := testRegistry()
	rapid.Check(t, func(t *rapid.T) {
		streams := genStreams(t)
		m1, d1 := applyAll(t, reg, interleave(t, streams, "first"))
		m2, d2 := applyAll(t, reg, interleave(t, streams, "second"))
		if v1, v2 := viewsOf(m1), viewsOf(m2); !maps.Equal(v1, v2) {
			t.Fatalf("views differ:\n%v\n%v", v1, v2)
		}
		if d1 != d2 {
			t.Fatalf("digests differ: %v %v", d1, d2)
		}
	})
}

func TestRegisterLastWriterWins(t *testing.T) {
	cases := []struct {
		name       string
		first, sec replication.Stamp
		want       string
	}{
		{"later hlc wins", replication.Stamp{HLC: 1, Origin: "b"}, replication.Stamp{HLC: 2, Origin: "a"}, "second"},
		{"earlier hlc loses", replication.Stamp{HLC: 2, Origin: "a"}, replication.Stamp{HLC: 1, Origin: "b"}, "first"},
		{"tie broken by origin", replication.Stamp{HLC: 5, Origin: "b"}, replication.Stamp{HLC: 5, Origin: "a"}, "first"},
		{"same stamp is not newer", replication.Stamp{HLC: 5, Origin: "a"}, replication.Stamp{HLC: 5, Origin: "a"}, "first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := reptest.NewMem()
			k := replication.Key("f")
			if _, _, err := replication.SetRegister(m, k, []byte("first"), c.first); err != nil {
				t.Fatal(err)
			}
			if _, _, err := replication.SetRegister(m, k, []byte("second"), c.sec); err != nil {
				t.Fatal(err)
			}
			r, ok, err := replication.GetRegister(m, k)
			if err != nil || !ok {
				t.Fatalf("GetRegister: %v %v", ok, err)
			}
			if string(r.Value) != c.want {
				t.Errorf("value = %q, want %q", r.Value, c.want)
			}
		})
	}
}

func TestSetAddWins(t *testing.T) {
	m := reptest.NewMem()
	a1 := replication.Tag{Origin: "a", Seq: 1}
	b1 := replication.Tag{Origin: "b", Seq: 1}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(replication.SetAdd(m, "s", "x", a1))
	// b removes what it saw (a1) while c concurrently adds again (b1).
	must(replication.SetRemove(m, "s", "x", []replication.Tag{a1}))
	must(replication.SetAdd(m, "s", "x", b1))
	if ok, _ := replication.SetContains(m, "s", "x"); !ok {
		t.Fatal("a concurrent add must survive the remove")
	}
	// A remove that arrives before the add it observed keeps it removed.
	c1 := replication.Tag{Origin: "c", Seq: 1}
	must(replication.SetRemove(m, "s", "y", []replication.Tag{c1}))
	must(replication.SetAdd(m, "s", "y", c1))
	if ok, _ := replication.SetContains(m, "s", "y"); ok {
		t.Fatal("an add observed by an earlier-delivered remove must stay removed")
	}
	elems, err := replication.SetElems(m, "s")
	must(err)
	if fmt.Sprint(elems) != "[x]" {
		t.Errorf("SetElems = %v, want [x]", elems)
	}
}

func TestCounterSumsDeltas(t *testing.T) {
	m := reptest.NewMem()
	k := replication.Key("c")
	for _, d := range []int64{5, -2, 10, -13} {
		if _, err := replication.AddCounter(m, k, d); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := replication.GetCounter(m, k); n != 0 {
		t.Errorf("counter = %d, want 0", n)
	}
	if _, err := m.Get(k); err == nil {
		t.Error("a zero counter should not be stored (so digests of zero and absent agree)")
	}
}

func TestReadRegisters(t *testing.T) {
	m := reptest.NewMem()
	s := replication.Stamp{HLC: replication.MakeHLC(1000, 0), Origin: "a"}
	for f, v := range map[string]string{"name": "上海仓", "owner": "wh-a"} {
		if _, _, err := replication.SetRegister(m, replication.Key("w", "A", f), []byte(v), s); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := replication.SetRegister(m, replication.Key("w", "AB", "name"), []byte("other"), s); err != nil {
		t.Fatal(err)
	}
	got, err := replication.ReadRegisters(m, replication.Prefix("w", "A"))
	if err != nil || len(got) != 2 || got["name"] != "上海仓" || got["owner"] != "wh-a" {
		t.Fatalf("ReadRegisters = %v, %v; want A's two fields only", got, err)
	}
	if err := m.Set(replication.Key("w", "B", "name"), []byte("not a register")); err != nil {
		t.Fatal(err)
	}
	if _, err := replication.ReadRegisters(m, replication.Prefix("w", "B")); err == nil {
		t.Fatal("a value that is not a register read without error")
	}
	if got, err := replication.ReadRegisters(m, replication.Prefix("w", "C")); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("nothing below the prefix: %v, %v; want an empty map", got, err)
	}
}
