package access

import (
	"slices"
	"strings"
	"testing"
)

func TestDepartmentCommands(t *testing.T) {
	r := newReplica(t)
	east := r.addDepartment(t, "华东区", "")
	sh := r.addDepartment(t, "上海", east)
	pd := r.addDepartment(t, "浦东", sh)
	north := r.addDepartment(t, "华北区", "")
	old := r.addDepartment(t, "旧部门", "")
	r.mustChange(t)(RetireDepartment(r.read(), old, true))

	cases := []struct {
		name        string
		run         func() error
		field, code string
	}{
		{"create without a name", func() error { _, err := CreateDepartment(r.read(), newID(), " ", ""); return err }, "display_name", "required"},
		{"create with a long name", func() error {
			_, err := CreateDepartment(r.read(), newID(), strings.Repeat("部", MaxDepartmentName+1), "")
			return err
		}, "display_name", "too_long"},
		{"create below an unknown parent", func() error { _, err := CreateDepartment(r.read(), newID(), "x", newID()); return err }, "parent", "not_found"},
		{"create below a retired parent", func() error { _, err := CreateDepartment(r.read(), newID(), "x", old); return err }, "parent", "retired"},
		{"create with a bad parent", func() error { _, err := CreateDepartment(r.read(), newID(), "x", "east"); return err }, "parent", "bad_ref"},
		{"create with a bad id", func() error { _, err := CreateDepartment(r.read(), "d1", "x", ""); return err }, "name", "bad_id"},
		{"move below itself", func() error { _, _, err := MoveDepartment(r.read(), sh, sh); return err }, "parent", "cycle"},
		{"move below a child", func() error { _, _, err := MoveDepartment(r.read(), east, sh); return err }, "parent", "cycle"},
		{"move below a grandchild", func() error { _, _, err := MoveDepartment(r.read(), east, pd); return err }, "parent", "cycle"},
		{"rename to nothing", func() error { _, _, err := RenameDepartment(r.read(), sh, ""); return err }, "display_name", "required"},
		{"retire with active children", func() error { _, _, err := RetireDepartment(r.read(), east, true); return err }, "retired", "has_children"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantInvalid(t, c.run(), c.field, c.code)
		})
	}

	below, err := Descendants(r.read(), east)
	if err != nil || !slices.Equal(below, []string{east, sh, pd}) {
		t.Fatalf("Descendants(east) = %v, %v", below, err)
	}
	// Moving 上海 under 华北区 takes 浦东 along.
	r.mustChange(t)(MoveDepartment(r.read(), sh, north))
	if below, _ := Descendants(r.read(), east); !slices.Equal(below, []string{east}) {
		t.Errorf("Descendants(east) after the move = %v", below)
	}
	if below, _ := Descendants(r.read(), north); !slices.Equal(below, []string{north, sh, pd}) {
		t.Errorf("Descendants(north) after the move = %v", below)
	}
	if _, ok, err := MoveDepartment(r.read(), sh, north); ok || err != nil {
		t.Errorf("a move to the same parent: ok %v, %v", ok, err)
	}
	r.mustChange(t)(RenameDepartment(r.read(), sh, "上海分公司"))
	r.mustChange(t)(RetireDepartment(r.read(), old, false))

	ds, err := ListDepartments(r.read())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	// Tree order: parents first, siblings by name.
	if want := []string{"华东区", "华北区", "上海分公司", "浦东", "旧部门"}; !slices.Equal(names, want) {
		t.Errorf("ListDepartments = %q, want %q", names, want)
	}
}

// Two branches move A below B and B below A at the same time. Each move is
// fine where it was made; together they would form a cycle. Every replica
// keeps the earlier move (by stamp) and skips the later, in whichever
// order the moves arrive.
func TestConcurrentMovesFormingACycle(t *testing.T) {
	base := newReplica(t)
	a := base.addDepartment(t, "A", "")
	b := base.addDepartment(t, "B", "")

	x, y := newReplica(t), newReplica(t)
	x.origin, y.origin = "sh-pudong", "bj-chaoyang"
	x.apply(t, base.log)
	y.apply(t, base.log)
	x.seq, y.seq = 0, 0
	x.origin = "gz-tianhe"
	x.mustChange(t)(MoveDepartment(x.read(), a, b)) // earlier
	y.hlc = x.hlc + 5
	y.mustChange(t)(MoveDepartment(y.read(), b, a)) // later: loses

	x.apply(t, y.log)
	y.apply(t, x.log)
	if x.views.Digest() != y.views.Digest() {
		t.Fatal("replicas differ after exchanging the moves")
	}
	for _, r := range []*replica{x, y} {
		da, _ := GetDepartment(r.read(), a)
		db, _ := GetDepartment(r.read(), b)
		if da.Parent != b || db.Parent != "" {
			t.Errorf("%s: A below %q, B below %q; want A below B, B at the top", r.origin, da.Parent, db.Parent)
		}
	}
}
