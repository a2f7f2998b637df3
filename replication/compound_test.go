package replication_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// A compound event applies as its change and its attached fact would,
// one after the other, scopes as its change, is checked as both, is
// invalid when a part does not decode, and is parked by a registry that
// lacks either kind (a release that cannot apply it whole).
func TestCompoundEvents(t *testing.T) {
	reg := testRegistry()
	replication.Handle(reg, "test.checked", func(replication.Tx, *replication.Event, *wrapperspb.StringValue) error { return nil },
		func(_ *replication.Event, b *wrapperspb.StringValue) error {
			if b.Value == "bad" {
				return errors.New("bad")
			}
			return nil
		})
	replication.ScopeBy(reg, "test.reg", func(_ replication.Tx, ev *replication.Event) ([]string, error) {
		return []string{replication.BranchScope(ev.Origin)}, nil
	})
	str := func(s string) proto.Message { return wrapperspb.String(s) }
	event := func(seq uint64, d replication.Draft) *replication.Event {
		t.Helper()
		kind, b, err := replication.EncodeDraft(d)
		if err != nil {
			t.Fatal(err)
		}
		return &replication.Event{Origin: "sh-pudong", Seq: seq, HLC: replication.HLC(100 + seq), Kind: kind, Entity: "thing/1", Actor: "li", Body: b}
	}

	compound := event(1, replication.Draft{Kind: "test.reg", Entity: "thing/1", Body: str("a=1"), Attached: &replication.Draft{Kind: "test.cnt", Body: str("n=2")}})
	if compound.Kind != "test.reg+test.cnt" || !reg.Known(compound.Kind) {
		t.Fatalf("kind %q, known %v", compound.Kind, reg.Known(compound.Kind))
	}
	if err := reg.Check(compound); err != nil {
		t.Fatal(err)
	}
	if s, err := reg.Scopes(nil, compound); err != nil || !slices.Equal(s, []string{"b:sh-pudong"}) {
		t.Errorf("scopes %v, %v; want the change's", s, err)
	}

	// The same views as the two facts applied as events of their own
	// (the replicas' bookkeeping aside: one event, not two).
	apply := func(reg *replication.Registry, evs ...*replication.Event) (*reptest.Mem, []replication.Outcome) {
		t.Helper()
		m := reptest.NewMem()
		views, err := replication.OpenViews(reg, m)
		if err != nil {
			t.Fatal(err)
		}
		b := views.Begin(m)
		var out []replication.Outcome
		for _, ev := range evs {
			o, err := b.Apply(ev)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o)
		}
		if err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		b.Commit()
		return m, out
	}
	data := func(m *reptest.Mem) map[string]string {
		out := map[string]string{}
		for k, v := range viewsOf(m) {
			rest := strings.TrimPrefix(k, string(replication.ViewPrefix))
			if strings.HasPrefix(rest, "reg\x00") || strings.HasPrefix(rest, "cnt\x00") {
				out[rest] = v
			}
		}
		return out
	}
	got, outcomes := apply(reg, compound)
	plain := func(seq uint64, kind, s string) *replication.Event {
		b, _ := proto.Marshal(wrapperspb.String(s))
		return &replication.Event{Origin: "sh-pudong", Seq: seq, HLC: compound.HLC, Kind: kind, Entity: "thing/1", Actor: "li", Body: b}
	}
	want, _ := apply(reg, plain(1, "test.reg", "a=1"), plain(2, "test.cnt", "n=2"))
	if outcomes[0] != replication.Applied || len(data(got)) != 2 || !maps.Equal(data(got), data(want)) {
		t.Errorf("compound applied (%v) as %v, want %v", outcomes, data(got), data(want))
	}

	// Checked as both parts.
	bad := event(2, replication.Draft{Kind: "test.reg", Body: str("a=2"), Attached: &replication.Draft{Kind: "test.checked", Body: str("bad")}})
	if err := reg.Check(bad); err == nil {
		t.Error("a compound whose attached fact fails its check passed")
	}
	// A part that does not decode: invalid, a no-op.
	enc, _ := proto.Marshal(&replicationv1.Compound{Body: body("a=3"), Attached: []byte{0xff, 0xff}})
	broken := &replication.Event{Origin: "sh-pudong", Seq: 3, HLC: 103, Kind: "test.reg+test.cnt", Body: enc}
	if _, out := apply(reg, broken); out[0] != replication.Invalid {
		t.Errorf("a compound with an undecodable part: outcome %v, want invalid", out[0])
	}
	// A registry without one of the kinds parks it.
	old := reg.Without("test.cnt")
	if old.Known(compound.Kind) {
		t.Error("a registry without the attached kind knows the compound")
	}
	if m, out := apply(old, compound); out[0] != replication.Parked || len(data(m)) != 0 {
		t.Errorf("outcome %v with views %v, want parked and nothing applied", out[0], data(m))
	}
	// One level only; plain kinds are not compounds.
	if _, _, err := replication.EncodeDraft(replication.Draft{Kind: "test.reg", Body: str("a"), Attached: &replication.Draft{Kind: "test.cnt", Body: str("n=1"),
		Attached: &replication.Draft{Kind: "test.add", Body: str("x")}}}); err == nil {
		t.Error("a fact attached to an attached fact was encoded")
	}
	for _, k := range []string{"test.reg", "+test.cnt", "test.reg+", "a+b+c"} {
		if _, _, ok := replication.SplitCompound(k); ok {
			t.Errorf("%q taken for a compound kind", k)
		}
	}
}
