package access

import (
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	accessv1 "branchline/gen/branchline/access/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// TestDefaultRoles: each default role lets its person do their job and
// nothing more: the permissions it must have, at the scope it must have
// them, and the ones it must not have.
func TestDefaultRoles(t *testing.T) {
	roles := DefaultRoles()
	byKey := map[string]DefaultRole{}
	ids, names := map[string]bool{}, map[string]bool{}
	for _, r := range roles {
		if !IsDefaultRoleID(r.ID) || ids[r.ID] || names[r.Name] || r.Name == "" || r.Description == "" {
			t.Errorf("role %s: id %q (default %v, repeated %v), name %q (repeated %v), description %q",
				r.Key, r.ID, IsDefaultRoleID(r.ID), ids[r.ID], r.Name, names[r.Name], r.Description)
		}
		ids[r.ID], names[r.Name] = true, true
		byKey[r.Key] = r
		for p, s := range r.Perms {
			if _, ok := ParsePerm(string(p)); !ok || s <= ScopeNone || s > ScopeAll {
				t.Errorf("role %s: %s at %v", r.Key, p, s)
			}
		}
		// The editor writes all-or-nothing permissions at ScopeAll: a
		// default role saved unchanged must not change.
		for _, info := range Catalogue() {
			if s, ok := r.Perms[info.Perm]; ok && !info.Scoped && s != ScopeAll {
				t.Errorf("role %s: %s is all or nothing, given at %v", r.Key, info.Perm, s)
			}
		}
	}
	if keys := slices.Collect(maps.Keys(byKey)); len(keys) != 7 {
		t.Fatalf("default roles %q, want seven", keys)
	}
	cases := []struct {
		key   string
		has   map[Perm]Scope
		lacks []Perm
	}{
		{"agent",
			map[Perm]Scope{CustomerRead: ScopeAll, CustomerWrite: ScopeAll, PickupWrite: ScopeAll, CallAgent: ScopeAll, BlacklistFlag: ScopeAll},
			[]Perm{PhoneView, CustomerDelete, CustomerMerge, CustomerImport, CustomerExport, Supervise, UserAdmin, PickupDispatch, FinanceManage, StockRead}},
		{"supervisor",
			map[Perm]Scope{CustomerRead: ScopeAll, CustomerWrite: ScopeAll, PickupWrite: ScopeAll, CallAgent: ScopeAll, PhoneView: ScopeAll, Supervise: ScopeAll, CustomerMerge: ScopeAll, BlacklistManage: ScopeAll},
			[]Perm{CustomerDelete, CustomerImport, CustomerExport, UserAdmin, FieldAdmin, TelephonyAdmin, FinanceManage, StockMove}},
		{"courier",
			map[Perm]Scope{PickupCourier: ScopeAll},
			[]Perm{CustomerRead, PhoneView, PickupWrite, PickupDispatch, CallAgent, StockRead}},
		{"warehouse_clerk",
			map[Perm]Scope{StockRead: ScopeAll, StockMove: ScopeAll},
			[]Perm{StockAdmin, StockReserve, CustomerRead, PickupWrite, UserAdmin}},
		{"branch_manager",
			map[Perm]Scope{CustomerRead: ScopeDepartment, CustomerWrite: ScopeDepartment, CustomerExport: ScopeDepartment, PhoneView: ScopeDepartment,
				Supervise: ScopeAll, PickupDispatch: ScopeAll, FinanceManage: ScopeAll, StockRead: ScopeAll},
			[]Perm{UserAdmin, FieldAdmin, TelephonyAdmin, AuditRead, CustomerImport, StockMove, StockAdmin, PickupCourier}},
		{"head_office_manager",
			map[Perm]Scope{CustomerRead: ScopeAll, CustomerExport: ScopeAll, Supervise: ScopeAll, StockRead: ScopeAll, AuditRead: ScopeAll},
			[]Perm{CustomerWrite, CustomerDelete, PhoneView, UserAdmin, StockMove, PickupWrite, CallAgent}},
		{"administrator", func() map[Perm]Scope {
			m := map[Perm]Scope{}
			for _, p := range AllPerms {
				m[p] = ScopeAll
			}
			return m
		}(), nil},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			r, ok := byKey[c.key]
			if !ok {
				t.Fatalf("no default role %s", c.key)
			}
			for p, s := range c.has {
				if r.Perms[p] != s {
					t.Errorf("%s at %v, want %v", p, r.Perms[p], s)
				}
			}
			for _, p := range c.lacks {
				if s, ok := r.Perms[p]; ok {
					t.Errorf("has %s at %v, want not at all", p, s)
				}
			}
			if d, ok := DefaultRoleOf(r.ID); !ok || d.Key != c.key {
				t.Errorf("DefaultRoleOf(%s) = %v, %v", r.ID, d.Key, ok)
			}
		})
	}
	if IsDefaultRoleID(newID()) {
		t.Error("an id drawn from the clock counts as a default role's")
	}
}

// TestSeedRoles: seeding a fresh replica creates every default role with
// its name, description and permissions; seeding again decides nothing.
func TestSeedRoles(t *testing.T) {
	r := newReplica(t)
	drafts, err := SeedRoles(r.read(), DefaultRoles())
	if err != nil || len(drafts) != 7 {
		t.Fatalf("SeedRoles = %d drafts, %v; want 7", len(drafts), err)
	}
	r.record(t, drafts...)
	for _, d := range DefaultRoles() {
		got, err := GetRole(r.read(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != d.Name || got.Description != d.Description || !maps.Equal(got.Perms, d.Perms) {
			t.Errorf("role %s = %q %q %v, want %q %q %v", d.Key, got.Name, got.Description, got.Perms, d.Name, d.Description, d.Perms)
		}
	}
	again, err := SeedRoles(r.read(), DefaultRoles())
	if err != nil || len(again) != 0 {
		t.Fatalf("seeding again = %d drafts, %v; want none", len(again), err)
	}
	// A table with a bad entry is refused whole.
	bad := DefaultRoles()
	bad[3].Perms = map[Perm]Scope{"no.such": ScopeAll}
	if ds, err := SeedRoles(newReplica(t).read(), bad); err == nil {
		t.Fatalf("a table with an unknown permission made %d drafts", len(ds))
	}
	bad = DefaultRoles()
	bad[0].ID = newID()
	if _, err := SeedRoles(newReplica(t).read(), bad); err == nil {
		t.Fatal("a default role with a clock-drawn id was accepted")
	}
}

// TestSeededRoleEventsChecked: the hub refuses a seed of a role whose id
// is not a default role's, so that a seed can never reach into a role an
// operator created.
func TestSeededRoleEventsChecked(t *testing.T) {
	reg := newRegistry()
	body, err := marshal(&accessv1.RoleCreated{Fields: []*eventv1.FieldValue{{Field: FieldRoleName, Value: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	ev := &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 1 << 20, Kind: KindRoleSeeded, Entity: RoleEntity(newID()), Body: body}
	if err := reg.Check(ev); err == nil {
		t.Fatal("a seed of an operator's role id was accepted")
	}
	ev.Entity = RoleEntity(defaultRoleID(1))
	if err := reg.Check(ev); err != nil {
		t.Fatalf("a seed of a default role refused: %v", err)
	}
}

// TestOfflineSeedsConverge: two nodes of a new company start offline and
// both seed the default roles; one of them edits the agent role before it
// sees the other's seed, which is stamped later. After they exchange
// events, in either order, both hold one set of seven roles, alike, and
// the edit stands.
func TestOfflineSeedsConverge(t *testing.T) {
	x, y := newReplica(t), newReplica(t)
	x.origin, y.origin = "sh-pudong", "bj-chaoyang"
	seed := func(r *replica) {
		t.Helper()
		drafts, err := SeedRoles(r.read(), DefaultRoles())
		if err != nil || len(drafts) != 7 {
			t.Fatalf("%s: SeedRoles = %d drafts, %v", r.origin, len(drafts), err)
		}
		r.record(t, drafts...)
	}
	agent := DefaultRoles()[0]
	seed(x)
	edited := maps.Clone(agent.Perms)
	edited[PhoneView] = ScopeDepartment
	delete(edited, BlacklistFlag)
	x.mustChange(t)(UpdateRole(x.read(), agent.ID, map[string]string{FieldRoleName: "热线坐席"}))
	x.mustChange(t)(SetPermissions(x.read(), agent.ID, edited))
	y.hlc = x.hlc + 1000 // y starts later: its seed is stamped after x's edit
	seed(y)

	x.apply(t, y.log)
	y.apply(t, x.log)
	if x.views.Digest() != y.views.Digest() {
		t.Fatal("replicas differ after exchanging their seeds")
	}
	for _, r := range []*replica{x, y} {
		roles, err := ListRoles(r.read())
		if err != nil {
			t.Fatal(err)
		}
		if len(roles) != 7 {
			t.Fatalf("%s: %d roles, want the seven defaults once", r.origin, len(roles))
		}
		got, err := GetRole(r.read(), agent.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "热线坐席" || got.Description != agent.Description || !maps.Equal(got.Perms, edited) {
			t.Errorf("%s: agent role %q %q %v; want the edit %v kept", r.origin, got.Name, got.Description, got.Perms, edited)
		}
	}
}

// TestRoleSeedsConvergeProperty: seeds of the default roles from several
// origins, interleaved with edits of those roles, in any order and
// repeated: every replica ends alike, each register holding the latest
// edit or, where nobody edited, the seeded value.
func TestRoleSeedsConvergeProperty(t *testing.T) {
	defs := DefaultRoles()[:2]
	rapid.Check(t, func(t *rapid.T) {
		reg := newRegistry()
		g := genOrigins(t)
		type write struct {
			value string
			stamp replication.Stamp
		}
		last := map[string]write{} // "id name" / "id perm"
		set := func(ev *replication.Event, k, v string) {
			if w, ok := last[k]; !ok || replication.StampOf(ev).After(w.stamp) {
				last[k] = write{v, replication.StampOf(ev)}
			}
		}
		seeded := make([]bool, len(g.Names))
		for i, n := 0, rapid.IntRange(1, 25).Draw(t, "steps"); i < n; i++ {
			o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
			if !seeded[o] || rapid.IntRange(0, 6).Draw(t, "reseed") == 0 {
				seeded[o] = true
				drafts, err := SeedRoles(replication.ReadViews(reptest.NewMem()), defs)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range drafts {
					appendEvent(t, reg, g, o, d.Kind, d.Entity, d.Body)
				}
				continue
			}
			d := rapid.SampledFrom(defs).Draw(t, "role")
			if rapid.Bool().Draw(t, "rename") {
				name := rapid.SampledFrom([]string{"甲", "乙", "丙"}).Draw(t, "name")
				ev := appendEvent(t, reg, g, o, KindRoleFieldSet, RoleEntity(d.ID), &accessv1.RoleFieldSet{
					Fields: []*eventv1.FieldValue{{Field: FieldRoleName, Value: name}}})
				set(ev, d.ID+" name", name)
				continue
			}
			p := rapid.SampledFrom([]Perm{PhoneView, CustomerRead, Supervise}).Draw(t, "perm")
			sc := rapid.IntRange(0, 3).Draw(t, "scope")
			ev := appendEvent(t, reg, g, o, KindRolePermissionSet, RoleEntity(d.ID), &accessv1.RolePermissionSet{
				Permissions: []*accessv1.PermissionScope{{Permission: string(p), Scope: accessv1.Scope(sc)}}})
			set(ev, d.ID+" "+string(p), string(rune('0'+sc)))
		}
		views := converge(t, reg, g)
		roles, err := ListRoles(views)
		if err != nil {
			t.Fatal(err)
		}
		if len(roles) != len(defs) {
			t.Fatalf("%d roles, want %d", len(roles), len(defs))
		}
		for _, d := range defs {
			got, err := GetRole(views, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := d.Name
			if w, ok := last[d.ID+" name"]; ok {
				want = w.value
			}
			if got.Name != want {
				t.Fatalf("role %s named %q, want %q", d.Key, got.Name, want)
			}
			for _, p := range []Perm{PhoneView, CustomerRead, Supervise} {
				want := d.Perms[p]
				if w, ok := last[d.ID+" "+string(p)]; ok {
					want = Scope(w.value[0] - '0')
				}
				if got.Perms[p] != want {
					t.Fatalf("role %s: %s at %v, want %v", d.Key, p, got.Perms[p], want)
				}
			}
		}
	})
}
