package access

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// Branches (网点). Every branch or warehouse site runs a node, and events,
// scopes, pickup numbers and warehouse owners know it by its node id
// ("sh-pudong"): short, unique, never changed. People call it by a name
// ("上海浦东营业部"), which an administrator gives it at any node or at
// head office; pages show that name, and the id only where an
// administrator needs it. A name is company-wide, one last-writer-wins
// register per branch, so that a rename made at two places offline ends
// the same everywhere.
//
//	access \0 branch \0 id   register: name ("" once taken away)

// KindBranchNamed is the event kind of naming a branch.
const KindBranchNamed = "access.branch.named"

// MaxBranchName bounds a branch's name, in characters.
const MaxBranchName = 100

// Branch is a branch that has been given a name.
type Branch struct {
	ID    string // its node id
	Name  string
	Stamp replication.Stamp // the naming in force
}

// BranchEntity is the event entity of branch id.
func BranchEntity(id string) string { return "branch/" + id }

func branchKey(id string) []byte { return replication.Key("access", "branch", id) }

var branchPrefix = replication.Prefix("access", "branch")

// checkBranchID refuses what cannot be a node's id: a branch is named by
// the id its node runs with.
func checkBranchID(id string) error {
	if !replication.ValidNodeID(id) || id == replication.HubOrigin {
		return fault.Invalidf("branch", "bad_node_id", "%q is not a branch's node id (lower-case letters, digits and '-')", id)
	}
	return nil
}

// NameBranch decides the event that names branch id ("" takes its name
// away), and what it changes for the audit entry: nothing, and no event,
// when the branch is called so already.
func NameBranch(views replication.Tx, id, name string) (d replication.Draft, changes []AuditChange, err error) {
	if err := checkBranchID(id); err != nil {
		return d, nil, err
	}
	n, err := cleanText("display_name", name, MaxBranchName, false)
	if err != nil {
		return d, nil, err
	}
	r, _, err := replication.GetRegister(views, branchKey(id))
	if err != nil {
		return d, nil, err
	}
	if changes = Change(FieldDisplayName, string(r.Value), n); changes == nil {
		return d, nil, nil
	}
	return replication.Draft{Kind: KindBranchNamed, Entity: BranchEntity(id), Body: &accessv1.BranchNamed{Name: n}}, changes, nil
}

func checkBranchNamed(ev *replication.Event, b *accessv1.BranchNamed) error {
	id, ok := strings.CutPrefix(ev.Entity, "branch/")
	if !ok {
		return fault.Invalidf("entity", "bad_entity", "%q is not a branch", ev.Entity)
	}
	if err := checkBranchID(id); err != nil {
		return err
	}
	if n, err := cleanText("display_name", b.GetName(), MaxBranchName, false); err != nil || n != b.GetName() {
		return fault.Invalidf("display_name", "bad_text", "not a clean name of at most %d characters", MaxBranchName)
	}
	return nil
}

func applyBranchNamed(tx replication.Tx, ev *replication.Event, b *accessv1.BranchNamed) error {
	id := strings.TrimPrefix(ev.Entity, "branch/")
	_, _, err := replication.SetRegister(tx, branchKey(id), []byte(b.GetName()), replication.StampOf(ev))
	return err
}

// Branches lists the branches that have a name, by id.
func Branches(views replication.Tx) ([]Branch, error) {
	var out []Branch
	err := views.Scan(branchPrefix, nil, func(k, v []byte) (bool, error) {
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("branch %q: %w", k, err)
		}
		if len(r.Value) > 0 {
			out = append(out, Branch{ID: string(k[len(branchPrefix):]), Name: string(r.Value), Stamp: r.Stamp})
		}
		return true, nil
	})
	slices.SortFunc(out, func(a, b Branch) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// BranchNames maps the node id of every named branch to its name: what
// pages show for a node id.
func BranchNames(views replication.Tx) (map[string]string, error) {
	bs, err := Branches(views)
	out := make(map[string]string, len(bs))
	for _, b := range bs {
		out[b.ID] = b.Name
	}
	return out, err
}
