package access

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"branchline/fault"
)

func TestParseWindows(t *testing.T) {
	cases := []struct {
		in, want string // want "" means an error
	}{
		{"mon,tue,wed,thu,fri 08:00-18:00", "mon,tue,wed,thu,fri 08:00-18:00"},
		{"fri,mon 08:00-18:00;  sat 09:00-12:00", "mon,fri 08:00-18:00; sat 09:00-12:00"},
		{"sun 22:00-06:00", "sun 22:00-06:00"},
		{"sat 00:00-24:00", "sat 00:00-24:00"},
		{"", ""},
		{"mon 8:00-18:00", ""},
		{"mon 08:00-25:00", ""},
		{"mon 24:00-24:00", ""},
		{"monday 08:00-18:00", ""},
		{"08:00-18:00", ""},
		{"mon 08:00", ""},
		{"mon 00:00-00:00", ""},
	}
	for _, c := range cases {
		ws, err := ParseWindows(c.in)
		if c.want == "" && c.in != "" {
			if err == nil {
				t.Errorf("ParseWindows(%q) = %v, want an error", c.in, ws)
			}
			continue
		}
		if err != nil || FormatWindows(ws) != c.want {
			t.Errorf("ParseWindows(%q) = %q, %v; want %q", c.in, FormatWindows(ws), err, c.want)
		}
	}
}

func TestWindowOpenAt(t *testing.T) {
	day := func(d string, h, m int) time.Time {
		// 2026-11-23 is a Monday.
		base := map[string]int{"mon": 23, "tue": 24, "wed": 25, "thu": 26, "fri": 27, "sat": 28, "sun": 29}
		return time.Date(2026, 11, base[d], h, m, 0, 0, time.UTC)
	}
	office, _ := ParseWindows("mon,tue,wed,thu,fri 08:00-18:00")
	night, _ := ParseWindows("fri 22:00-06:00")
	cases := []struct {
		name string
		w    Window
		at   time.Time
		open bool
	}{
		{"office: Monday 08:00", office[0], day("mon", 8, 0), true},
		{"office: Monday 07:59", office[0], day("mon", 7, 59), false},
		{"office: Friday 17:59", office[0], day("fri", 17, 59), true},
		{"office: Friday 18:00", office[0], day("fri", 18, 0), false},
		{"office: Saturday noon", office[0], day("sat", 12, 0), false},
		{"night: Friday 23:00", night[0], day("fri", 23, 0), true},
		{"night: Saturday 05:59", night[0], day("sat", 5, 59), true},
		{"night: Saturday 06:00", night[0], day("sat", 6, 0), false},
		{"night: Friday 05:00", night[0], day("fri", 5, 0), false},
		{"night: Sunday 01:00", night[0], day("sun", 1, 0), false},
	}
	for _, c := range cases {
		if got := c.w.OpenAt(c.at); got != c.open {
			t.Errorf("%s: OpenAt = %v, want %v", c.name, got, c.open)
		}
	}
}

func TestCreateRoleRefusesBadInput(t *testing.T) {
	r := newReplica(t)
	cases := []struct {
		name        string
		fields      map[string]string
		perms       map[Perm]Scope
		field, code string
	}{
		{"no name", map[string]string{FieldDescription: "x"}, nil, "display_name", "required"},
		{"blank name", map[string]string{FieldRoleName: " "}, nil, "display_name", "required"},
		{"unknown zone", map[string]string{FieldRoleName: "r", FieldTimeZone: "Mars/Olympus"}, nil, "time_zone", "bad_time_zone"},
		{"the replica's own zone", map[string]string{FieldRoleName: "r", FieldTimeZone: "Local"}, nil, "time_zone", "bad_time_zone"},
		{"bad window", map[string]string{FieldRoleName: "r", FieldWindows: "mon 8-18"}, nil, "windows", "bad_window"},
		{"unknown field", map[string]string{FieldRoleName: "r", "color": "red"}, nil, "color", "unknown_field"},
		{"unknown permission", map[string]string{FieldRoleName: "r"}, map[Perm]Scope{"customer.fly": ScopeAll}, "permissions", "unknown_permission"},
		{"bad scope", map[string]string{FieldRoleName: "r"}, map[Perm]Scope{CustomerRead: 7}, "permissions", "bad_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CreateRole(r.read(), newID(), c.fields, c.perms)
			wantInvalid(t, err, c.field, c.code)
		})
	}
}

func TestSetPermissions(t *testing.T) {
	r := newReplica(t)
	id := r.addRole(t, map[string]string{}, map[Perm]Scope{CustomerRead: ScopeAll, CustomerWrite: ScopeOwn})
	r.mustChange(t)(SetPermissions(r.read(), id, map[Perm]Scope{CustomerRead: ScopeDepartment, PhoneView: ScopeAll}))
	role, err := GetRole(r.read(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Perm]Scope{CustomerRead: ScopeDepartment, PhoneView: ScopeAll}
	if !maps.Equal(role.Perms, want) {
		t.Fatalf("perms = %v, want %v (unnamed ones taken away)", role.Perms, want)
	}
	if _, ok, err := SetPermissions(r.read(), id, want); ok || err != nil {
		t.Errorf("setting the same permissions: ok %v, %v", ok, err)
	}
	r.mustChange(t)(UpdateRole(r.read(), id, map[string]string{FieldWindows: "sat,mon 09:00-17:00", FieldTimeZone: "Europe/Berlin"}))
	role, _ = GetRole(r.read(), id)
	if FormatWindows(role.Windows) != "mon,sat 09:00-17:00" || role.TimeZone != "Europe/Berlin" {
		t.Errorf("role after update: %+v", role)
	}
}

func TestGrantFor(t *testing.T) {
	r := newReplica(t)
	east := r.addDepartment(t, "华东区", "")
	sh := r.addDepartment(t, "上海", east)
	pd := r.addDepartment(t, "浦东", sh)
	r.addDepartment(t, "华北区", "")

	always := r.addRole(t, map[string]string{}, map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll})
	office := r.addRole(t, map[string]string{FieldWindows: "mon,tue,wed,thu,fri 08:00-18:00"},
		map[Perm]Scope{CustomerRead: ScopeDepartment, CustomerWrite: ScopeDepartment})
	// Night shift in New York time, to check the zone is the role's.
	nightNY := r.addRole(t, map[string]string{FieldWindows: "fri 22:00-06:00", FieldTimeZone: "America/New_York"},
		map[Perm]Scope{CustomerExport: ScopeAll})

	u := r.addUser(t, "agent.a", map[string]string{FieldDepartment: sh})
	for _, role := range []string{always, office, nightNY} {
		r.mustChange(t)(AssignRole(r.read(), u, role))
	}
	sha, _ := time.LoadLocation("Asia/Shanghai")
	ny, _ := time.LoadLocation("America/New_York")

	cases := []struct {
		name string
		at   time.Time
		want map[Perm]Scope
	}{
		{"Monday 09:00 in Shanghai: office hours", time.Date(2026, 11, 23, 9, 0, 0, 0, sha),
			map[Perm]Scope{CustomerRead: ScopeDepartment, CustomerWrite: ScopeDepartment, BlacklistFlag: ScopeAll}},
		{"Monday 07:30 in Shanghai: before office hours", time.Date(2026, 11, 23, 7, 30, 0, 0, sha),
			map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll}},
		// 09:00 UTC is 17:00 in Shanghai (open) …
		{"Monday 09:00 UTC", time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
			map[Perm]Scope{CustomerRead: ScopeDepartment, CustomerWrite: ScopeDepartment, BlacklistFlag: ScopeAll}},
		// … and 10:00 UTC is 18:00 there (closed).
		{"Monday 10:00 UTC", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
			map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll}},
		{"Saturday 10:00 in Shanghai: weekend", time.Date(2026, 11, 28, 10, 0, 0, 0, sha),
			map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll}},
		{"Friday 23:00 in New York: night shift", time.Date(2026, 11, 27, 23, 0, 0, 0, ny),
			map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll, CustomerExport: ScopeAll}},
		{"Saturday 05:00 in New York: night shift, next day", time.Date(2026, 11, 28, 5, 0, 0, 0, ny),
			map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll, CustomerExport: ScopeAll}},
		{"Friday 23:00 in Shanghai: not night in New York", time.Date(2026, 11, 27, 23, 0, 0, 0, sha),
			map[Perm]Scope{CustomerRead: ScopeOwn, BlacklistFlag: ScopeAll}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := GrantFor(r.read(), "Agent.A", c.at)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(g.Scopes, c.want) {
				t.Errorf("scopes = %v, want %v", g.Scopes, c.want)
			}
			if g.User != "agent.a" {
				t.Errorf("grant of %q", g.User)
			}
			if !slices.Equal(g.Departments, []string{sh, pd}) {
				t.Errorf("departments = %v, want the user's and below: %v", g.Departments, []string{sh, pd})
			}
			dept := g.Scope(CustomerRead) == ScopeDepartment
			if g.Reaches(CustomerRead, "someone", pd) != dept || g.Reaches(CustomerRead, "someone", east) {
				t.Errorf("customer.read at scope %v reaches the wrong departments", g.Scope(CustomerRead))
			}
			if !g.Reaches(CustomerRead, "agent.a", "") {
				t.Errorf("the user's own records are out of reach")
			}
		})
	}

	// Unassigning takes the role's permissions away.
	r.mustChange(t)(UnassignRole(r.read(), u, office))
	g, err := GrantFor(r.read(), "agent.a", time.Date(2026, 11, 23, 9, 0, 0, 0, sha))
	if err != nil || g.Can(CustomerWrite) {
		t.Errorf("after unassigning the office role: %v, %v", g, err)
	}
	if _, ok, err := UnassignRole(r.read(), u, office); ok || err != nil {
		t.Errorf("unassigning a role the user does not have: ok %v, %v", ok, err)
	}
	if _, _, err := AssignRole(r.read(), u, newID()); err == nil {
		t.Errorf("assigning an unknown role succeeded")
	}

	// No department: no department scope.
	nd := r.addUser(t, "agent.b", nil)
	r.mustChange(t)(AssignRole(r.read(), nd, always))
	if g, err := GrantFor(r.read(), "agent.b", time.Now()); err != nil || len(g.Departments) != 0 || !g.Can(BlacklistFlag) {
		t.Errorf("grant of a user without department: %+v, %v", g, err)
	}

	// Unknown and disabled users have no grant.
	if _, err := GrantFor(r.read(), "nobody", time.Now()); !errorsIs(err, fault.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	r.mustChange(t)(SetDisabled(r.read(), u, true))
	if _, err := GrantFor(r.read(), "agent.a", time.Now()); !errorsIs(err, ErrDisabled) || !errorsIs(err, fault.ErrDenied) {
		t.Errorf("disabled user: %v", err)
	}
}

func TestLongestWindowsFit(t *testing.T) {
	var ws []string
	for range MaxWindows {
		ws = append(ws, "mon,tue,wed,thu,fri,sat,sun 00:00-24:00")
	}
	r := newReplica(t)
	r.addRole(t, map[string]string{FieldWindows: strings.Join(ws, "; ")}, nil)
	ws = append(ws, ws[0])
	_, err := CreateRole(r.read(), newID(), map[string]string{FieldRoleName: "r", FieldWindows: strings.Join(ws, "; ")}, nil)
	wantInvalid(t, err, "windows", "bad_window")
}

// FuzzParseWindows: whatever parses, formats to a canonical text that
// parses back to the same windows.
func FuzzParseWindows(f *testing.F) {
	for _, s := range []string{"mon,fri 08:00-18:00", "sun 22:00-06:00; sat 00:00-24:00", "mon 08:00-", ";", "tue 23:59-00:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := ParseWindows(s)
		if err != nil {
			return
		}
		canon := FormatWindows(ws)
		again, err := ParseWindows(canon)
		if err != nil || !slices.Equal(ws, again) || FormatWindows(again) != canon {
			t.Fatalf("%q → %q → %v, %v", s, canon, again, err)
		}
		for _, w := range ws {
			if w.Validate() != nil {
				t.Fatalf("%q parsed to an invalid window %+v", s, w)
			}
		}
	})
}
