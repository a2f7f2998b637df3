package access

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// Event kinds of departments.
const (
	KindDepartmentCreated = "access.department.created"
	KindDepartmentRenamed = "access.department.renamed"
	KindDepartmentMoved   = "access.department.moved"
	KindDepartmentRetired = "access.department.retired"
)

// MaxDepartmentName bounds a department's name, in characters.
const MaxDepartmentName = 100

// Department is one node of the department tree, as the views hold it.
type Department struct {
	ID      string
	Name    string
	Parent  string // effective parent id; "" at the top
	Retired bool
	Origin  string // node that created it
	Created replication.HLC
	Updated replication.HLC
}

// DepartmentEntity is the event entity of department id.
func DepartmentEntity(id string) string { return "department/" + id }

// View keys (below replication.ViewPrefix):
//
//	access \0 dept \0 id               created register (value: origin)
//	access \0 dept \0 id \0 name       register
//	access \0 dept \0 id \0 retired    register ("1" or "")
//	access \0 dmove \0 hlc \0 origin   child \0 parent: every move ever made
//	access \0 dmax                     hlc \0 origin of the latest move
//	access \0 dpar \0 child            effective parent ("" at the top)
//	access \0 dkid \0 parent \0 child  "" (children index)
func deptKey(id string) []byte         { return replication.Key("access", "dept", id) }
func deptFieldKey(id, f string) []byte { return replication.Key("access", "dept", id, f) }
func dmoveKey(s replication.Stamp) []byte {
	return replication.Key("access", "dmove", stampHex(s.HLC), s.Origin)
}
func dparKey(child string) []byte            { return replication.Key("access", "dpar", child) }
func dkidKey(parent, child string) []byte    { return replication.Key("access", "dkid", parent, child) }
func dkidPrefix(parent string) []byte        { return replication.Prefix("access", "dkid", parent) }
func deptFieldsPrefix(id string) []byte      { return replication.Prefix("access", "dept", id) }
func encodeStamp(s replication.Stamp) []byte { return replication.Key(stampHex(s.HLC), s.Origin) }

var (
	dmovePrefix = replication.Prefix("access", "dmove")
	dparPrefix  = replication.Prefix("access", "dpar")
	deptPrefix  = replication.Prefix("access", "dept")
	dmaxKey     = replication.Key("access", "dmax")
)

func decodeStamp(b []byte) (replication.Stamp, bool) {
	h, o, ok := bytes.Cut(b, []byte{0})
	var hlc uint64
	if !ok || len(h) != 16 {
		return replication.Stamp{}, false
	}
	if _, err := fmt.Sscanf(string(h), "%016x", &hlc); err != nil {
		return replication.Stamp{}, false
	}
	return replication.Stamp{HLC: replication.HLC(hlc), Origin: string(o)}, true
}

// CreateDepartment decides the event that creates department id (a new
// ULID) named name below parent ("" for the top level).
func CreateDepartment(views replication.Tx, id, name, parent string) (replication.Draft, error) {
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("name", "bad_id", "%q is not a department id", id)
	}
	n, err := cleanText("display_name", name, MaxDepartmentName, true)
	if err != nil {
		return replication.Draft{}, err
	}
	if err := checkParent(views, id, parent); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, deptKey(id)); err != nil {
		return replication.Draft{}, err
	} else if ok {
		return replication.Draft{}, fmt.Errorf("department %s: %w", id, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindDepartmentCreated, Entity: DepartmentEntity(id),
		Body: &accessv1.DepartmentCreated{Name: n, Parent: parent}}, nil
}

// checkParent refuses a parent that does not exist, is retired, or would
// put id below itself.
func checkParent(views replication.Tx, id, parent string) error {
	if parent == "" {
		return nil
	}
	if !replication.ValidULID(parent) {
		return fault.Invalidf("parent", "bad_ref", "%q is not a department id", parent)
	}
	p, err := GetDepartment(views, parent)
	if errors.Is(err, fault.ErrNotFound) {
		return fault.Invalidf("parent", "not_found", "no department %s", parent)
	}
	if err != nil {
		return err
	}
	if p.Retired {
		return fault.Invalidf("parent", "retired", "department %s is retired", parent)
	}
	below, err := Descendants(views, id)
	if err != nil {
		return err
	}
	if slices.Contains(below, parent) {
		return fault.Invalidf("parent", "cycle", "a department cannot move below itself")
	}
	return nil
}

// RenameDepartment decides the event that renames department id; ok is
// false when the name does not change.
func RenameDepartment(views replication.Tx, id, name string) (d replication.Draft, ok bool, err error) {
	cur, err := GetDepartment(views, id)
	if err != nil {
		return d, false, err
	}
	n, err := cleanText("display_name", name, MaxDepartmentName, true)
	if err != nil || n == cur.Name {
		return d, false, err
	}
	return replication.Draft{Kind: KindDepartmentRenamed, Entity: DepartmentEntity(id),
		Body: &accessv1.DepartmentRenamed{Name: n}}, true, nil
}

// MoveDepartment decides the event that moves department id below parent
// ("" for the top level). It refuses a move below the department itself
// or one of its descendants; ok is false when the parent does not change.
func MoveDepartment(views replication.Tx, id, parent string) (d replication.Draft, ok bool, err error) {
	cur, err := GetDepartment(views, id)
	if err != nil {
		return d, false, err
	}
	if err := checkParent(views, id, parent); err != nil {
		return d, false, err
	}
	if parent == cur.Parent {
		return d, false, nil
	}
	return replication.Draft{Kind: KindDepartmentMoved, Entity: DepartmentEntity(id),
		Body: &accessv1.DepartmentMoved{Parent: parent}}, true, nil
}

// RetireDepartment decides the event that retires (or reinstates)
// department id. A department with active sub-departments cannot retire;
// ok is false when nothing changes.
func RetireDepartment(views replication.Tx, id string, retired bool) (d replication.Draft, ok bool, err error) {
	cur, err := GetDepartment(views, id)
	if err != nil {
		return d, false, err
	}
	if cur.Retired == retired {
		return d, false, nil
	}
	if retired {
		kids, err := children(views, id)
		if err != nil {
			return d, false, err
		}
		for _, k := range kids {
			c, err := GetDepartment(views, k)
			if errors.Is(err, fault.ErrNotFound) {
				continue
			}
			if err != nil {
				return d, false, err
			}
			if !c.Retired {
				return d, false, fault.Invalidf("retired", "has_children", "department %q still has active sub-departments", cur.Name)
			}
		}
	} else if cur.Parent != "" {
		if p, err := GetDepartment(views, cur.Parent); err == nil && p.Retired {
			return d, false, fault.Invalidf("retired", "parent_retired", "reinstate the parent department first")
		}
	}
	return replication.Draft{Kind: KindDepartmentRetired, Entity: DepartmentEntity(id),
		Body: &accessv1.DepartmentRetired{Retired: retired}}, true, nil
}

// GetDepartment reads department id.
func GetDepartment(views replication.Tx, id string) (*Department, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("name", "bad_id", "%q is not a department id", id)
	}
	created, ok, err := replication.GetRegister(views, deptKey(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("department %s: %w", id, fault.ErrNotFound)
	}
	regs, newest, err := registers(views, deptFieldsPrefix(id))
	if err != nil {
		return nil, err
	}
	parent, _, err := getString(views, dparKey(id))
	if err != nil {
		return nil, err
	}
	return &Department{
		ID: id, Name: regs["name"], Parent: parent, Retired: regs["retired"] == "1",
		Origin: string(created.Value), Created: created.Stamp.HLC, Updated: max(created.Stamp.HLC, newest),
	}, nil
}

// ListDepartments returns every department in tree order: each parent
// before its children, siblings by name. Departments whose parent is not
// (yet) known here come last, as top-level ones.
func ListDepartments(views replication.Tx) ([]*Department, error) {
	ids, err := listIDs(views, deptPrefix, "", 0)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*Department, len(ids))
	kids := map[string][]*Department{}
	for _, id := range ids {
		d, err := GetDepartment(views, id)
		if err != nil {
			return nil, err
		}
		byID[id] = d
	}
	var roots []*Department
	for _, id := range ids {
		d := byID[id]
		if _, known := byID[d.Parent]; d.Parent == "" || !known {
			roots = append(roots, d)
		} else {
			kids[d.Parent] = append(kids[d.Parent], d)
		}
	}
	byName := func(a, b *Department) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	out := make([]*Department, 0, len(ids))
	seen := map[string]bool{}
	var walk func(ds []*Department)
	walk = func(ds []*Department) {
		slices.SortFunc(ds, byName)
		for _, d := range ds {
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			out = append(out, d)
			walk(kids[d.ID])
		}
	}
	walk(roots)
	return out, nil
}

func children(views replication.Tx, id string) ([]string, error) {
	var out []string
	p := dkidPrefix(id)
	err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
		out = append(out, string(k[len(p):]))
		return true, nil
	})
	return out, err
}

// Descendants returns id and every department below it in the effective
// tree, id first.
func Descendants(views replication.Tx, id string) ([]string, error) {
	out := []string{id}
	seen := map[string]bool{id: true}
	for i := 0; i < len(out); i++ {
		kids, err := children(views, out[i])
		if err != nil {
			return nil, err
		}
		for _, k := range kids {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// Appliers.

func checkDepartmentName(name string) error {
	n, err := cleanText("display_name", name, MaxDepartmentName, true)
	if err == nil && n != name {
		err = fault.Invalidf("display_name", "not_canonical", "name %q is not trimmed", name)
	}
	return err
}

func checkParentRef(parent string) error {
	if parent != "" && !replication.ValidULID(parent) {
		return fault.Invalidf("parent", "bad_ref", "%q is not a department id", parent)
	}
	return nil
}

func checkDepartmentCreated(ev *replication.Event, b *accessv1.DepartmentCreated) error {
	if err := checkEntity(ev, "department"); err != nil {
		return err
	}
	if err := checkDepartmentName(b.GetName()); err != nil {
		return err
	}
	return checkParentRef(b.GetParent())
}

func checkDepartmentRenamed(ev *replication.Event, b *accessv1.DepartmentRenamed) error {
	if err := checkEntity(ev, "department"); err != nil {
		return err
	}
	return checkDepartmentName(b.GetName())
}

func checkDepartmentMoved(ev *replication.Event, b *accessv1.DepartmentMoved) error {
	if err := checkEntity(ev, "department"); err != nil {
		return err
	}
	return checkParentRef(b.GetParent())
}

func checkDepartmentRetired(ev *replication.Event, _ *accessv1.DepartmentRetired) error {
	return checkEntity(ev, "department")
}

func applyDepartmentCreated(tx replication.Tx, ev *replication.Event, b *accessv1.DepartmentCreated) error {
	id, ok := entityID(ev, "department")
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	if _, _, err := replication.SetRegister(tx, deptKey(id), []byte(ev.Origin), s); err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, deptFieldKey(id, "name"), []byte(b.GetName()), s); err != nil {
		return err
	}
	return applyMove(tx, s, id, b.GetParent())
}

func applyDepartmentRenamed(tx replication.Tx, ev *replication.Event, b *accessv1.DepartmentRenamed) error {
	id, ok := entityID(ev, "department")
	if !ok {
		return nil
	}
	_, _, err := replication.SetRegister(tx, deptFieldKey(id, "name"), []byte(b.GetName()), replication.StampOf(ev))
	return err
}

func applyDepartmentRetired(tx replication.Tx, ev *replication.Event, b *accessv1.DepartmentRetired) error {
	id, ok := entityID(ev, "department")
	if !ok {
		return nil
	}
	_, _, err := replication.SetRegister(tx, deptFieldKey(id, "retired"), []byte(flag(b.GetRetired())), replication.StampOf(ev))
	return err
}

func applyDepartmentMoved(tx replication.Tx, ev *replication.Event, b *accessv1.DepartmentMoved) error {
	id, ok := entityID(ev, "department")
	if !ok {
		return nil
	}
	return applyMove(tx, replication.StampOf(ev), id, b.GetParent())
}

// The department tree under concurrent moves.
//
// Each replica checks a move against its own tree, but two moves made at
// different branches can each be fine alone and together form a cycle (A
// below B at one branch while B goes below A at another). Applying "ignore
// a move whose new parent is now a descendant" in arrival order would let
// replicas disagree: each keeps whichever move it saw first.
//
// The rule is therefore defined on the set of moves, not on their arrival
// order (the move operation of Kleppmann et al., "A highly-available move
// operation for replicated trees", 2021): every move ever made (a
// department's creation counts as its first move) is kept in a log ordered
// by stamp (hlc, origin), and the effective tree is what replaying that log
// in stamp order gives, where a move that would put a department below
// itself is skipped — the department stays where the earlier moves put it.
// So of two concurrent moves forming a cycle the later one (by stamp)
// loses, on every replica.
//
// A move arriving with the highest stamp seen (the normal case: moves are
// rare and mostly causal) extends the replay by one step; one arriving
// late rebuilds the effective tree from the log.
func applyMove(tx replication.Tx, s replication.Stamp, child, parent string) error {
	if err := tx.Set(dmoveKey(s), replication.Key(child, parent)); err != nil {
		return err
	}
	b, ok, err := getString(tx, dmaxKey)
	if err != nil {
		return err
	}
	if latest, valid := decodeStamp([]byte(b)); ok && valid && !s.After(latest) {
		return replayMoves(tx)
	}
	if err := tx.Set(dmaxKey, encodeStamp(s)); err != nil {
		return err
	}
	if parent != "" {
		below, err := wouldCycle(func(id string) (string, error) {
			p, _, err := getString(tx, dparKey(id))
			return p, err
		}, child, parent)
		if err != nil || below {
			return err
		}
	}
	old, had, err := getString(tx, dparKey(child))
	if err != nil {
		return err
	}
	return setParent(tx, child, old, had, parent)
}

// maxDepth bounds walks up the tree; the tree has no cycles, so only a
// corrupt store reaches it, and it then counts as a cycle.
const maxDepth = 10000

// wouldCycle reports whether hanging child below parent would put child
// below itself, following parentOf up from parent.
func wouldCycle(parentOf func(string) (string, error), child, parent string) (bool, error) {
	p := parent
	for range maxDepth {
		if p == child {
			return true, nil
		}
		if p == "" {
			return false, nil
		}
		next, err := parentOf(p)
		if err != nil {
			return false, err
		}
		p = next
	}
	return true, nil
}

func setParent(tx replication.Tx, child, old string, had bool, parent string) error {
	if had {
		if old == parent {
			return nil
		}
		if err := tx.Delete(dkidKey(old, child)); err != nil {
			return err
		}
	}
	if err := tx.Set(dparKey(child), []byte(parent)); err != nil {
		return err
	}
	return tx.Set(dkidKey(parent, child), nil)
}

// replayMoves rebuilds the effective tree from the move log and writes
// the difference.
func replayMoves(tx replication.Tx) error {
	eff := map[string]string{}
	parentOf := func(id string) (string, error) { return eff[id], nil }
	var latest []byte
	err := tx.Scan(dmovePrefix, nil, func(k, v []byte) (bool, error) {
		latest = append(latest[:0], k[len(dmovePrefix):]...)
		child, parent, _ := strings.Cut(string(v), "\x00")
		if parent != "" {
			if cyc, _ := wouldCycle(parentOf, child, parent); cyc {
				return true, nil
			}
		}
		eff[child] = parent
		return true, nil
	})
	if err != nil {
		return err
	}
	cur := map[string]string{}
	if err := tx.Scan(dparPrefix, nil, func(k, v []byte) (bool, error) {
		cur[string(k[len(dparPrefix):])] = string(v)
		return true, nil
	}); err != nil {
		return err
	}
	for child, old := range cur {
		if _, keep := eff[child]; !keep {
			if err := tx.Delete(dkidKey(old, child)); err != nil {
				return err
			}
			if err := tx.Delete(dparKey(child)); err != nil {
				return err
			}
		}
	}
	for child, parent := range eff {
		old, had := cur[child]
		if err := setParent(tx, child, old, had, parent); err != nil {
			return err
		}
	}
	return tx.Set(dmaxKey, latest)
}
