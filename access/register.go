package access

import "branchline/replication"

// Register adds the appliers of every access kind to r.
func Register(r *replication.Registry) {
	replication.Handle(r, KindDepartmentCreated, applyDepartmentCreated, checkDepartmentCreated)
	replication.Handle(r, KindDepartmentRenamed, applyDepartmentRenamed, checkDepartmentRenamed)
	replication.Handle(r, KindDepartmentMoved, applyDepartmentMoved, checkDepartmentMoved)
	replication.Handle(r, KindDepartmentRetired, applyDepartmentRetired, checkDepartmentRetired)

	replication.Handle(r, KindUserCreated, applyUserCreated, checkUserCreated)
	replication.Handle(r, KindUserFieldSet, applyUserFieldSet, checkUserFieldSet)
	replication.Handle(r, KindUserPasswordSet, applyUserPasswordSet, checkUserPasswordSet)
	replication.Handle(r, KindUserRoleAdded, applyUserRoleAdded, checkUserRoleAdded)
	replication.Handle(r, KindUserRoleRemoved, applyUserRoleRemoved, checkUserRoleRemoved)

	replication.Handle(r, KindRoleCreated, applyRoleCreated, checkRoleCreated)
	replication.Handle(r, KindRoleFieldSet, applyRoleFieldSet, checkRoleFieldSet)
	replication.Handle(r, KindRolePermissionSet, applyRolePermissionSet, checkRolePermissionSet)
	replication.Handle(r, KindRoleSeeded, applyRoleSeeded, checkRoleSeeded)

	replication.Handle(r, KindBranchNamed, applyBranchNamed, checkBranchNamed)

	replication.Handle(r, KindTokenCreated, applyTokenCreated, checkTokenCreated)
	replication.Handle(r, KindTokenRevoked, applyTokenRevoked, checkTokenRevoked)

	replication.Handle(r, KindAuditRecorded, applyAuditRecorded, checkAuditRecorded)
	// The audit trail of a branch is read at the branch and at head office:
	// other branches do not take it (it grows with every sign-in).
	replication.ScopeBy(r, KindAuditRecorded, func(_ replication.Tx, ev *replication.Event) ([]string, error) {
		return []string{replication.BranchScope(ev.Origin)}, nil
	})
}
