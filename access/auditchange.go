package access

import (
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// What an administrative edit changed, for its audit entry. A command
// reads the record to decide its events; the values they replace are in
// that record, so the command lists them from it and the events it made,
// without reading anything again. Each takes the record as read before the
// edit (a zero record for a new one) and the drafts of the edit.

// Fields of the changes of role permissions and user roles, besides the
// records' own field names.
const (
	// AuditPermissionPrefix starts the field of a role permission's
	// change, "permission.customer.read"; its values are scope names
	// ("own", "department", "all"; "" when not held).
	AuditPermissionPrefix = "permission."
	// AuditRoleField is the field of a role given to or taken from a
	// user; its values are role ids.
	AuditRoleField = "role"
	// Fields of departments.
	AuditParentField  = "parent"
	AuditRetiredField = "retired"
)

// AuditChanges lists what the drafts of an edit of user u change. A
// user's own phone number is not a customer's: it is shown whole to
// administrators, here as on the user's page.
func (u *User) AuditChanges(drafts ...replication.Draft) []AuditChange {
	var out []AuditChange
	for _, d := range drafts {
		switch b := d.Body.(type) {
		case *accessv1.UserCreated:
			for _, fv := range b.GetFields() {
				out = append(out, Change(fv.GetField(), "", fv.GetValue())...)
			}
		case *accessv1.UserFieldSet:
			for _, fv := range b.GetFields() {
				out = append(out, Change(fv.GetField(), u.field(fv.GetField()), fv.GetValue())...)
			}
		case *accessv1.UserRoleAdded:
			out = append(out, Change(AuditRoleField, "", b.GetRole())...)
		case *accessv1.UserRoleRemoved:
			out = append(out, Change(AuditRoleField, b.GetRole(), "")...)
		case *accessv1.UserPasswordSet:
			out = append(out, Change(FieldMustChange, flag(u.MustChangePassword), flag(b.GetMustChangePassword()))...)
		}
	}
	return out
}

// AuditChanges lists what the drafts of an edit of role r change: its
// fields, and each permission's scope.
func (r *Role) AuditChanges(drafts ...replication.Draft) []AuditChange {
	fields := map[string]string{
		FieldRoleName: r.Name, FieldDescription: r.Description,
		FieldTimeZone: r.TimeZone, FieldWindows: FormatWindows(r.Windows),
	}
	scope := func(s Scope) string {
		if s <= ScopeNone {
			return ""
		}
		return s.String()
	}
	var out []AuditChange
	perms := func(ps []*accessv1.PermissionScope) {
		for _, p := range ps {
			out = append(out, Change(AuditPermissionPrefix+p.GetPermission(), scope(r.Perms[Perm(p.GetPermission())]), scope(Scope(p.GetScope())))...)
		}
	}
	for _, d := range drafts {
		switch b := d.Body.(type) {
		case *accessv1.RoleCreated:
			for _, fv := range b.GetFields() {
				out = append(out, Change(fv.GetField(), "", fv.GetValue())...)
			}
			perms(b.GetPermissions())
		case *accessv1.RoleFieldSet:
			for _, fv := range b.GetFields() {
				out = append(out, Change(fv.GetField(), fields[fv.GetField()], fv.GetValue())...)
			}
		case *accessv1.RolePermissionSet:
			perms(b.GetPermissions())
		}
	}
	return out
}

// AuditChanges lists what the drafts of an edit of department dp change:
// its name, its parent (a department id) and whether it is retired.
func (dp *Department) AuditChanges(drafts ...replication.Draft) []AuditChange {
	var out []AuditChange
	for _, d := range drafts {
		switch b := d.Body.(type) {
		case *accessv1.DepartmentCreated:
			out = append(out, Change(FieldDisplayName, "", b.GetName())...)
			out = append(out, Change(AuditParentField, "", b.GetParent())...)
		case *accessv1.DepartmentRenamed:
			out = append(out, Change(FieldDisplayName, dp.Name, b.GetName())...)
		case *accessv1.DepartmentMoved:
			out = append(out, Change(AuditParentField, dp.Parent, b.GetParent())...)
		case *accessv1.DepartmentRetired:
			out = append(out, Change(AuditRetiredField, flag(dp.Retired), flag(b.GetRetired()))...)
		}
	}
	return out
}
