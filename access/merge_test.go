package access

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	accessv1 "branchline/gen/branchline/access/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// Property tests: whatever order events from several origins arrive in,
// with duplicates, every replica ends with the same views (same digest),
// and the views are what the merge rule says.

func genOrigins(t *rapid.T) *reptest.Origins {
	names := []string{"sh-pudong", "bj-chaoyang", "gz-tianhe"}
	return reptest.NewOrigins(names[:rapid.IntRange(2, 3).Draw(t, "origins")]...)
}

// appendEvent stamps body as the next event of origin o, checking it as
// the hub would.
func appendEvent(t *rapid.T, reg *replication.Registry, g *reptest.Origins, o int, kind, entity string, body proto.Message) *replication.Event {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ev := g.Append(t, o, kind, entity, b)
	if err := reg.Check(ev); err != nil {
		t.Fatalf("generated event refused: %v", err)
	}
	return ev
}

// converge applies three interleavings of the streams and checks that
// they give the same views; it returns the views of the first.
func converge(t *rapid.T, reg *replication.Registry, g *reptest.Origins) replication.Tx {
	var first *reptest.Mem
	var digest replication.Digest
	for i, label := range []string{"a", "b", "c"} {
		m, v := reptest.ApplyAll(t, reg, reptest.Interleave(t, g.Streams, label))
		if i == 0 {
			first, digest = m, v.Digest()
			continue
		}
		if v.Digest() != digest {
			a, b := first.Dump(), m.Dump()
			for k := range maps.Keys(a) {
				if a[k] != b[k] {
					t.Logf("differs: %q: %q vs %q", k, a[k], b[k])
				}
			}
			for k := range maps.Keys(b) {
				if _, ok := a[k]; !ok {
					t.Logf("only in %s: %q", label, k)
				}
			}
			t.Fatalf("interleaving %s: digest %v, want %v", label, v.Digest(), digest)
		}
	}
	return replication.ReadViews(first)
}

func stampLess(a, b replication.Stamp) bool { return b.After(a) }

// Hashes of the right shape, for events made without hashing.
const (
	fakeHash  = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"
	fakeHash2 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$ampqampqampqampqampqampqampqampqampqampqamo"
)

// ids are fixed per test case so that rapid's shrinking stays readable.
var propIDs = func() []string {
	out := make([]string, 8)
	for i := range out {
		out[i] = newID()
	}
	return out
}()

func TestUsernameClaimsConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := newRegistry()
		g := genOrigins(t)
		names := []string{"li", "wang", "zhang"}
		users := propIDs[:rapid.IntRange(2, 5).Draw(t, "users")]
		hash := fakeHash
		// The latest username write of each user, by stamp.
		cur := map[string]struct {
			name  string
			stamp replication.Stamp
		}{}
		write := func(ev *replication.Event, user, name string) {
			s := replication.StampOf(ev)
			if c, ok := cur[user]; !ok || s.After(c.stamp) {
				cur[user] = struct {
					name  string
					stamp replication.Stamp
				}{name, s}
			}
		}
		for i, u := range users {
			o := i % len(g.Names)
			name := rapid.SampledFrom(names).Draw(t, "name")
			ev := appendEvent(t, reg, g, o, KindUserCreated, UserEntity(u), &accessv1.UserCreated{
				Fields: []*eventv1.FieldValue{{Field: FieldUsername, Value: name}, {Field: FieldDisplayName, Value: "x"}}, PasswordHash: hash,
			})
			write(ev, u, name)
		}
		for i, n := 0, rapid.IntRange(0, 20).Draw(t, "renames"); i < n; i++ {
			o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
			u := rapid.SampledFrom(users).Draw(t, "user")
			name := rapid.SampledFrom(names).Draw(t, "name")
			ev := appendEvent(t, reg, g, o, KindUserFieldSet, UserEntity(u), &accessv1.UserFieldSet{
				Fields: []*eventv1.FieldValue{{Field: FieldUsername, Value: name}},
			})
			write(ev, u, name)
		}
		views := converge(t, reg, g)

		// The oldest current claim of each name owns it.
		claims := map[string][]string{}
		for _, u := range users {
			claims[cur[u].name] = append(claims[cur[u].name], u)
		}
		var wantConflicts []UsernameConflict
		for _, name := range slices.Sorted(maps.Keys(claims)) {
			us := claims[name]
			sort.Slice(us, func(i, j int) bool { return stampLess(cur[us[i]].stamp, cur[us[j]].stamp) })
			owner, err := UserByUsername(views, name)
			if err != nil || owner.ID != us[0] {
				t.Fatalf("owner of %s = %v, %v; want %s", name, owner, err, us[0])
			}
			for _, l := range us[1:] {
				u, err := GetUser(views, l)
				if err != nil || u.Username != name || u.UsernameOwner != us[0] {
					t.Fatalf("loser %s = %+v, %v; want owner %s", l, u, err, us[0])
				}
			}
			if len(us) > 1 {
				wantConflicts = append(wantConflicts, UsernameConflict{Username: name, Owner: us[0], Losers: us[1:]})
			}
		}
		got, err := UsernameConflicts(views)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantConflicts) {
			t.Fatalf("conflicts %+v, want %+v", got, wantConflicts)
		}
	})
}

func TestRoleMembershipIsAddWins(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := newRegistry()
		g := genOrigins(t)
		users, roles := propIDs[:2], propIDs[2:4]
		type pair struct{ user, role string }
		adds := map[pair][]replication.Tag{}
		removed := map[pair]map[replication.Tag]bool{}
		for i, n := 0, rapid.IntRange(1, 40).Draw(t, "ops"); i < n; i++ {
			o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
			p := pair{rapid.SampledFrom(users).Draw(t, "user"), rapid.SampledFrom(roles).Draw(t, "role")}
			if rapid.Bool().Draw(t, "add") {
				ev := appendEvent(t, reg, g, o, KindUserRoleAdded, UserEntity(p.user), &accessv1.UserRoleAdded{Role: p.role})
				adds[p] = append(adds[p], replication.TagOf(ev))
				continue
			}
			// A remove observes some of the adds made so far: those its
			// origin had seen.
			body := &accessv1.UserRoleRemoved{Role: p.role}
			if removed[p] == nil {
				removed[p] = map[replication.Tag]bool{}
			}
			for _, tag := range adds[p] {
				if rapid.Bool().Draw(t, "observed") {
					body.Observed = append(body.Observed, &accessv1.SetTag{Origin: tag.Origin, Seq: tag.Seq})
					removed[p][tag] = true
				}
			}
			appendEvent(t, reg, g, o, KindUserRoleRemoved, UserEntity(p.user), body)
		}
		views := converge(t, reg, g)
		for _, u := range users {
			for _, r := range roles {
				p := pair{u, r}
				want := slices.ContainsFunc(adds[p], func(tag replication.Tag) bool { return !removed[p][tag] })
				got, err := replication.SetContains(views, userRoleSet(u), r)
				if err != nil || got != want {
					t.Fatalf("user %s has role %s: %v, %v; want %v (an add no remove observed survives)", u, r, got, err, want)
				}
			}
		}
	})
}

func TestDepartmentMovesConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := newRegistry()
		g := genOrigins(t)
		depts := propIDs[:rapid.IntRange(2, 6).Draw(t, "departments")]
		type move struct {
			stamp         replication.Stamp
			child, parent string
		}
		var moves []move
		for i, d := range depts {
			parent := ""
			if i > 0 && rapid.Bool().Draw(t, "nested") {
				parent = depts[rapid.IntRange(0, i-1).Draw(t, "parent")]
			}
			ev := appendEvent(t, reg, g, i%len(g.Names), KindDepartmentCreated, DepartmentEntity(d),
				&accessv1.DepartmentCreated{Name: fmt.Sprintf("D%d", i), Parent: parent})
			moves = append(moves, move{replication.StampOf(ev), d, parent})
		}
		targets := append([]string{""}, depts...)
		for i, n := 0, rapid.IntRange(0, 25).Draw(t, "moves"); i < n; i++ {
			o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
			child := rapid.SampledFrom(depts).Draw(t, "child")
			parent := rapid.SampledFrom(targets).Draw(t, "parent")
			ev := appendEvent(t, reg, g, o, KindDepartmentMoved, DepartmentEntity(child), &accessv1.DepartmentMoved{Parent: parent})
			moves = append(moves, move{replication.StampOf(ev), child, parent})
		}
		views := converge(t, reg, g)

		// The model: replay the moves in stamp order, skipping those that
		// would put a department below itself.
		sort.Slice(moves, func(i, j int) bool { return stampLess(moves[i].stamp, moves[j].stamp) })
		parent := map[string]string{}
		below := func(x, anc string) bool { // x is anc or below it
			for p, ok := x, true; ok && p != ""; p, ok = parent[p] {
				if p == anc {
					return true
				}
			}
			return false
		}
		for _, m := range moves {
			if m.parent == "" || !below(m.parent, m.child) {
				parent[m.child] = m.parent
			}
		}
		for _, d := range depts {
			got, err := GetDepartment(views, d)
			if err != nil {
				t.Fatal(err)
			}
			if got.Parent != parent[d] {
				t.Fatalf("parent of %s = %q, want %q", d, got.Parent, parent[d])
			}
			desc, err := Descendants(views, d)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, x := range depts {
				if below(x, d) {
					want = append(want, x)
				}
			}
			slices.Sort(desc)
			slices.Sort(want)
			if !slices.Equal(desc, want) {
				t.Fatalf("descendants of %s = %v, want %v", d, desc, want)
			}
		}
		ds, err := ListDepartments(views)
		if err != nil || len(ds) != len(depts) {
			t.Fatalf("ListDepartments: %d of %d, %v", len(ds), len(depts), err)
		}
	})
}

func TestUserFieldEditsConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := newRegistry()
		g := genOrigins(t)
		u := propIDs[0]
		values := map[string][]string{
			FieldDisplayName: {"张三", "Zhang San", "三"},
			FieldPhone:       {"", "021-62345678", "13800138000"},
			FieldExtension:   {"", "8001", "8002"},
			FieldDisabled:    {"", "1"},
			FieldMustChange:  {"", "1"},
		}
		fieldNames := slices.Sorted(maps.Keys(values))
		type write struct {
			value string
			stamp replication.Stamp
		}
		last := map[string]write{}
		set := func(ev *replication.Event, f, v string) {
			if w, ok := last[f]; !ok || replication.StampOf(ev).After(w.stamp) {
				last[f] = write{v, replication.StampOf(ev)}
			}
		}
		ev := appendEvent(t, reg, g, 0, KindUserCreated, UserEntity(u), &accessv1.UserCreated{
			Fields:       []*eventv1.FieldValue{{Field: FieldUsername, Value: "zhang"}, {Field: FieldDisplayName, Value: "张三"}},
			PasswordHash: fakeHash,
		})
		set(ev, FieldDisplayName, "张三")
		for i, n := 0, rapid.IntRange(1, 30).Draw(t, "edits"); i < n; i++ {
			o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
			if rapid.IntRange(0, 5).Draw(t, "password") == 0 {
				mc := rapid.Bool().Draw(t, "must_change")
				ev := appendEvent(t, reg, g, o, KindUserPasswordSet, UserEntity(u), &accessv1.UserPasswordSet{
					PasswordHash: fakeHash2, MustChangePassword: mc,
				})
				set(ev, FieldMustChange, flag(mc))
				continue
			}
			body := &accessv1.UserFieldSet{}
			for _, f := range fieldNames {
				if rapid.Bool().Draw(t, "write "+f) {
					body.Fields = append(body.Fields, &eventv1.FieldValue{Field: f, Value: rapid.SampledFrom(values[f]).Draw(t, f)})
				}
			}
			if len(body.Fields) == 0 {
				continue
			}
			ev := appendEvent(t, reg, g, o, KindUserFieldSet, UserEntity(u), body)
			for _, fv := range body.Fields {
				set(ev, fv.Field, fv.Value)
			}
		}
		views := converge(t, reg, g)
		got, err := GetUser(views, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fieldNames {
			if got.field(f) != last[f].value {
				t.Fatalf("field %s = %q, want %q (the latest write)", f, got.field(f), last[f].value)
			}
		}
	})
}
