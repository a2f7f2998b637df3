package access

import (
	"maps"
	"strings"
	"testing"

	"pgregory.net/rapid"

	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

func TestNameBranch(t *testing.T) {
	r := newReplica(t)
	for _, c := range []struct {
		name, id, text, field, code string
	}{
		{"an id with capitals", "SH-Pudong", "浦东", "branch", "bad_node_id"},
		{"an empty id", "", "浦东", "branch", "bad_node_id"},
		{"the hub", replication.HubOrigin, "总部", "branch", "bad_node_id"},
		{"a long name", "sh-pudong", strings.Repeat("网", MaxBranchName+1), "display_name", "too_long"},
		{"a control character", "sh-pudong", "浦东\x07", "display_name", "bad_text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := NameBranch(r.read(), c.id, c.text)
			wantInvalid(t, err, c.field, c.code)
		})
	}

	name := func(id, text string) (string, bool) {
		t.Helper()
		d, changes, err := NameBranch(r.read(), id, text)
		if err != nil {
			t.Fatal(err)
		}
		if changes == nil {
			return "", false
		}
		if len(changes) != 1 || changes[0].Field != FieldDisplayName || changes[0].After != strings.TrimSpace(text) {
			t.Errorf("changes %+v", changes)
		}
		r.record(t, d)
		return changes[0].Before, true
	}
	if before, ok := name("sh-pudong", "  上海浦东营业部 "); !ok || before != "" {
		t.Fatalf("first name: ok %v, before %q", ok, before)
	}
	if _, ok := name("sh-pudong", "上海浦东营业部"); ok {
		t.Error("naming a branch what it is called changed something")
	}
	name("bj-chaoyang", "北京朝阳")
	if before, ok := name("sh-pudong", "浦东网点"); !ok || before != "上海浦东营业部" {
		t.Errorf("rename: ok %v, before %q", ok, before)
	}
	got, err := BranchNames(r.read())
	if want := map[string]string{"sh-pudong": "浦东网点", "bj-chaoyang": "北京朝阳"}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("BranchNames = %v, %v; want %v", got, err, want)
	}
	// A name taken away: the branch is known by its id again.
	if before, ok := name("bj-chaoyang", ""); !ok || before != "北京朝阳" {
		t.Errorf("unnaming: ok %v, before %q", ok, before)
	}
	bs, err := Branches(r.read())
	if err != nil || len(bs) != 1 || bs[0].ID != "sh-pudong" || bs[0].Name != "浦东网点" {
		t.Errorf("Branches after unnaming = %+v, %v", bs, err)
	}
}

// TestBranchNamedRefused: the hub refuses a naming no command would make.
func TestBranchNamedRefused(t *testing.T) {
	reg := newRegistry()
	for _, c := range []struct {
		name, entity, text string
	}{
		{"not a branch", "department/x", "x"},
		{"a bad node id", "branch/SH", "x"},
		{"untrimmed", "branch/sh", " x"},
		{"too long", "branch/sh", strings.Repeat("x", MaxBranchName+1)},
	} {
		b, err := marshal(&accessv1.BranchNamed{Name: c.text})
		if err != nil {
			t.Fatal(err)
		}
		ev := &replication.Event{Origin: "sh", Seq: 1, HLC: 1, Kind: KindBranchNamed, Entity: c.entity, Actor: "a", Body: b}
		if err := reg.Check(ev); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

// TestBranchNamesConverge: whatever order namings made at several
// branches arrive in, every replica names each branch alike, by the
// latest naming.
func TestBranchNamesConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := newRegistry()
		g := genOrigins(t)
		branches := []string{"sh-pudong", "bj-chaoyang"}
		type naming struct {
			stamp replication.Stamp
			name  string
		}
		latest := map[string]naming{}
		for range rapid.IntRange(1, 12).Draw(t, "namings") {
			o := rapid.IntRange(0, len(g.Streams)-1).Draw(t, "origin")
			id := rapid.SampledFrom(branches).Draw(t, "branch")
			text := rapid.SampledFrom([]string{"", "浦东", "朝阳", "总部旁"}).Draw(t, "name")
			ev := appendEvent(t, reg, g, o, KindBranchNamed, BranchEntity(id), &accessv1.BranchNamed{Name: text})
			if cur, seen := latest[id]; !seen || replication.StampOf(ev).After(cur.stamp) {
				latest[id] = naming{replication.StampOf(ev), text}
			}
		}
		got, err := BranchNames(converge(t, reg, g))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for id, n := range latest {
			if n.name != "" {
				want[id] = n.name
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("BranchNames = %v, want %v", got, want)
		}
	})
}
