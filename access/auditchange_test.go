package access

import (
	"slices"
	"testing"
)

// TestAuditChangesOfEdits: an administrative edit lists each value it
// changes with what it was, from the record read before it.
func TestAuditChangesOfEdits(t *testing.T) {
	r := newReplica(t)
	east := r.addDepartment(t, "华东区", "")
	sh := r.addDepartment(t, "上海", "")
	dept, err := GetDepartment(r.read(), sh)
	if err != nil {
		t.Fatal(err)
	}
	rename, _, err := RenameDepartment(r.read(), sh, "上海分公司")
	if err != nil {
		t.Fatal(err)
	}
	move, _, err := MoveDepartment(r.read(), sh, east)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dept.AuditChanges(rename, move), []AuditChange{
		{Field: FieldDisplayName, Before: "上海", After: "上海分公司"}, {Field: AuditParentField, After: east},
	}; !slices.Equal(got, want) {
		t.Errorf("department: %+v, want %+v", got, want)
	}

	u := r.addUser(t, "zhang.san", map[string]string{FieldPhone: "021-62345678"})
	user, err := GetUser(r.read(), u)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := ChangeUser(r.read(), user, map[string]string{FieldPhone: "021-62345679", FieldDisplayName: "User zhang.san"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := user.AuditChanges(d), []AuditChange{{Field: FieldPhone, Before: "021-62345678", After: "021-62345679"}}; !slices.Equal(got, want) {
		t.Errorf("user: %+v, want %+v", got, want)
	}

	role := r.addRole(t, map[string]string{FieldRoleName: "坐席"}, map[Perm]Scope{CustomerRead: ScopeOwn})
	cur, err := GetRole(r.read(), role)
	if err != nil {
		t.Fatal(err)
	}
	fields, _, err := UpdateRole(r.read(), role, map[string]string{FieldRoleName: "坐席员"})
	if err != nil {
		t.Fatal(err)
	}
	perms, _, err := SetPermissions(r.read(), role, map[Perm]Scope{CustomerRead: ScopeAll, CustomerWrite: ScopeOwn})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cur.AuditChanges(fields, perms), []AuditChange{
		{Field: FieldRoleName, Before: "坐席", After: "坐席员"},
		{Field: AuditPermissionPrefix + string(CustomerRead), Before: "own", After: "all"},
		{Field: AuditPermissionPrefix + string(CustomerWrite), After: "own"},
	}; !slices.Equal(got, want) {
		t.Errorf("role: %+v, want %+v", got, want)
	}
}
