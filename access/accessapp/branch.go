package accessapp

import (
	"context"

	"branchline/access"
	"branchline/app"
	"branchline/replication"
)

// ActionBranchNamed is the audit action of naming a branch.
const ActionBranchNamed = "branch_named"

// branchRes names a branch in audit entries.
const branchRes = "branches/"

// Branches lists the branches that have a name.
func (s *Admin) Branches(_ context.Context, c app.Caller) ([]access.Branch, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	return app.Read(s.Store, access.Branches)
}

// NameBranch gives the branch whose node id is id the name people call it
// by ("" takes the name away); it returns whether anything changed.
func (s *Admin) NameBranch(ctx context.Context, c app.Caller, id, name string) (bool, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return false, err
	}
	evs, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionBranchNamed, branchRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, changes, err := access.NameBranch(views, id, name)
		if err != nil || changes == nil {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{Changes: changes}, nil
	})
	return len(evs) > 0, err
}
