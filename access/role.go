package access

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// Event kinds of roles.
const (
	KindRoleCreated       = "access.role.created"
	KindRoleFieldSet      = "access.role.field_set"
	KindRolePermissionSet = "access.role.permission_set"
)

// The fields of a role, each its own last-writer-wins register. The
// windows are one register (their canonical text, FormatWindows): a window
// list is edited as a whole. Each permission's scope is a register of its
// own, so that two administrators granting different permissions of one
// role at the same time both get theirs.
const (
	FieldRoleName    = "name"
	FieldDescription = "description"
	FieldTimeZone    = "time_zone"
	FieldWindows     = "windows"
)

var roleFields = []field{
	{name: FieldRoleName, maxLen: 64, required: true},
	{name: FieldDescription, maxLen: 500},
	{name: FieldTimeZone, maxLen: 64, typ: zoneField},
	{name: FieldWindows, maxLen: 48 * MaxWindows, typ: windowsField},
}

// Role is a named set of permissions with scopes, applying during its
// time windows (always, when it has none).
type Role struct {
	ID          string
	Name        string
	Description string
	TimeZone    string // IANA zone; "" means DefaultTimeZone
	Windows     []Window
	Perms       map[Perm]Scope // only scopes above ScopeNone
	Origin      string
	Created     replication.HLC
	Updated     replication.HLC
}

// RoleEntity is the event entity of role id.
func RoleEntity(id string) string { return "role/" + id }

// View keys (below replication.ViewPrefix):
//
//	access \0 role \0 id                 created register (value: origin)
//	access \0 role \0 id \0 f \0 field   register
//	access \0 role \0 id \0 p \0 perm    register (scope as a digit; "" none)
func roleKey(id string) []byte          { return replication.Key("access", "role", id) }
func roleFieldKey(id, f string) []byte  { return replication.Key("access", "role", id, "f", f) }
func rolePermKey(id, p string) []byte   { return replication.Key("access", "role", id, "p", p) }
func roleFieldsPrefix(id string) []byte { return replication.Prefix("access", "role", id, "f") }
func rolePermsPrefix(id string) []byte  { return replication.Prefix("access", "role", id, "p") }

var rolePrefix = replication.Prefix("access", "role")

// permRe is what the hub accepts as a permission name: future versions
// may add permissions this one does not know.
var permRe = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)

// OpenAt reports whether the role applies at now: it has no windows, or
// one of them is open in the role's zone. A zone this replica cannot load
// closes the role's windows: access fails closed.
func (r *Role) OpenAt(now time.Time) bool {
	if len(r.Windows) == 0 {
		return true
	}
	loc, err := loadZone(r.TimeZone)
	if err != nil {
		return false
	}
	local := now.In(loc)
	for _, w := range r.Windows {
		if w.OpenAt(local) {
			return true
		}
	}
	return false
}

// normalizePerms validates a role's permissions: known ones, scopes in
// range. Scope ScopeNone takes a permission away.
func normalizePerms(perms map[Perm]Scope) ([]*accessv1.PermissionScope, error) {
	var out []*accessv1.PermissionScope
	for _, p := range slices.Sorted(maps.Keys(perms)) {
		s := perms[p]
		if !slices.Contains(AllPerms, p) {
			return nil, fault.Invalidf("permissions", "unknown_permission", "no permission %q", p)
		}
		if s < ScopeNone || s > ScopeAll {
			return nil, fault.Invalidf("permissions", "bad_scope", "scope %d of %s", s, p)
		}
		out = append(out, &accessv1.PermissionScope{Permission: string(p), Scope: accessv1.Scope(s)})
	}
	return out, nil
}

// CreateRole decides the event that creates role id (a new ULID) with the
// given fields (name required) and permissions.
func CreateRole(views replication.Tx, id string, fields map[string]string, perms map[Perm]Scope) (replication.Draft, error) {
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("name", "bad_id", "%q is not a role id", id)
	}
	if _, ok := fields[FieldRoleName]; !ok {
		return replication.Draft{}, fault.Invalidf("display_name", "required", "is required")
	}
	vals, err := normalizeAll(roleFields, fields)
	if err != nil {
		return replication.Draft{}, roleFieldError(err)
	}
	ps, err := normalizePerms(perms)
	if err != nil {
		return replication.Draft{}, err
	}
	ps = slices.DeleteFunc(ps, func(p *accessv1.PermissionScope) bool { return p.GetScope() == accessv1.Scope_SCOPE_UNSPECIFIED })
	if ok, err := exists(views, roleKey(id)); err != nil {
		return replication.Draft{}, err
	} else if ok {
		return replication.Draft{}, fmt.Errorf("role %s: %w", id, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindRoleCreated, Entity: RoleEntity(id),
		Body: &accessv1.RoleCreated{Fields: vals, Permissions: ps}}, nil
}

// roleFieldError names the role's name field as the API does.
func roleFieldError(err error) error {
	if inv, ok := fault.AsInvalid(err); ok && inv.Field == FieldRoleName {
		inv.Field = "display_name"
	}
	return err
}

// UpdateRole decides the event that writes the given fields of role id;
// ok is false when nothing changes.
func UpdateRole(views replication.Tx, id string, fields map[string]string) (d replication.Draft, ok bool, err error) {
	if len(fields) == 0 {
		return d, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	cur, err := GetRole(views, id)
	if err != nil {
		return d, false, err
	}
	vals, err := normalizeAll(roleFields, fields)
	if err != nil {
		return d, false, roleFieldError(err)
	}
	have := map[string]string{
		FieldRoleName: cur.Name, FieldDescription: cur.Description,
		FieldTimeZone: cur.TimeZone, FieldWindows: FormatWindows(cur.Windows),
	}
	changed := vals[:0]
	for _, fv := range vals {
		if have[fv.GetField()] != fv.GetValue() {
			changed = append(changed, fv)
		}
	}
	if len(changed) == 0 {
		return d, false, nil
	}
	return replication.Draft{Kind: KindRoleFieldSet, Entity: RoleEntity(id),
		Body: &accessv1.RoleFieldSet{Fields: changed}}, true, nil
}

// SetPermissions decides the event that makes role id's permissions
// exactly perms: permissions not named are taken away. Only the changed
// permissions are written; ok is false when none changes.
func SetPermissions(views replication.Tx, id string, perms map[Perm]Scope) (d replication.Draft, ok bool, err error) {
	cur, err := GetRole(views, id)
	if err != nil {
		return d, false, err
	}
	want := maps.Clone(perms)
	if want == nil {
		want = map[Perm]Scope{}
	}
	for p := range cur.Perms {
		if _, named := want[p]; !named {
			want[p] = ScopeNone
		}
	}
	ps, err := normalizePerms(want)
	if err != nil {
		return d, false, err
	}
	ps = slices.DeleteFunc(ps, func(p *accessv1.PermissionScope) bool {
		return cur.Perms[Perm(p.GetPermission())] == Scope(p.GetScope())
	})
	if len(ps) == 0 {
		return d, false, nil
	}
	return replication.Draft{Kind: KindRolePermissionSet, Entity: RoleEntity(id),
		Body: &accessv1.RolePermissionSet{Permissions: ps}}, true, nil
}

// GetRole reads role id.
func GetRole(views replication.Tx, id string) (*Role, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("name", "bad_id", "%q is not a role id", id)
	}
	created, ok, err := replication.GetRegister(views, roleKey(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("role %s: %w", id, fault.ErrNotFound)
	}
	regs, newest, err := registers(views, roleFieldsPrefix(id))
	if err != nil {
		return nil, err
	}
	perms, newestPerm, err := registers(views, rolePermsPrefix(id))
	if err != nil {
		return nil, err
	}
	r := &Role{
		ID: id, Name: regs[FieldRoleName], Description: regs[FieldDescription], TimeZone: regs[FieldTimeZone],
		Perms: map[Perm]Scope{}, Origin: string(created.Value), Created: created.Stamp.HLC,
		Updated: max(created.Stamp.HLC, newest, newestPerm),
	}
	// A windows register this version cannot parse (written by a newer
	// one) closes the role rather than opening it at all times.
	if r.Windows, err = ParseWindows(regs[FieldWindows]); err != nil {
		r.Windows = []Window{{}}
	}
	for p, v := range perms {
		if s, err := strconv.Atoi(v); err == nil && s > int(ScopeNone) && s <= int(ScopeAll) {
			r.Perms[Perm(p)] = Scope(s)
		}
	}
	return r, nil
}

// ListRoles returns every role, in id order.
func ListRoles(views replication.Tx) ([]*Role, error) {
	ids, err := listIDs(views, rolePrefix, "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]*Role, 0, len(ids))
	for _, id := range ids {
		r, err := GetRole(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ErrDisabled says a user's account is disabled.
var ErrDisabled = errors.New("account disabled")

// GrantFor computes what user (a username) may do at now: the union of
// the permissions of the user's roles whose windows are open at now, each
// at the widest scope any of them gives, with the user's department and
// every department below it. An unknown user is fault.ErrNotFound; a
// disabled one ErrDisabled and fault.ErrDenied.
func GrantFor(views replication.Tx, user string, now time.Time) (*Grant, error) {
	u, err := UserByUsername(views, user)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, fmt.Errorf("user %s: %w: %w", u.Username, ErrDisabled, fault.ErrDenied)
	}
	g := &Grant{User: u.Username, Scopes: map[Perm]Scope{}, MustChangePassword: u.MustChangePassword}
	for _, id := range u.Roles {
		r, err := GetRole(views, id)
		if errors.Is(err, fault.ErrNotFound) {
			continue // assigned at a branch that has the role; not here yet
		}
		if err != nil {
			return nil, err
		}
		if !r.OpenAt(now) {
			continue
		}
		for p, s := range r.Perms {
			g.Scopes[p] = max(g.Scopes[p], s)
		}
	}
	if u.Department != "" {
		if g.Departments, err = Descendants(views, u.Department); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Appliers.

func checkPerms(ps []*accessv1.PermissionScope) error {
	for _, p := range ps {
		if !permRe.MatchString(p.GetPermission()) {
			return fault.Invalidf("permissions", "bad_permission", "%q is not a permission name", p.GetPermission())
		}
		if p.GetScope() < accessv1.Scope_SCOPE_UNSPECIFIED || p.GetScope() > accessv1.Scope_SCOPE_ALL {
			return fault.Invalidf("permissions", "bad_scope", "scope %d of %s", p.GetScope(), p.GetPermission())
		}
	}
	return nil
}

func checkRoleCreated(ev *replication.Event, b *accessv1.RoleCreated) error {
	if err := checkEntity(ev, "role"); err != nil {
		return err
	}
	if !slices.ContainsFunc(b.GetFields(), func(fv *eventv1.FieldValue) bool { return fv.GetField() == FieldRoleName }) {
		return fault.Invalidf("display_name", "required", "is required")
	}
	if err := checkFields(roleFields, b.GetFields()); err != nil {
		return err
	}
	return checkPerms(b.GetPermissions())
}

func checkRoleFieldSet(ev *replication.Event, b *accessv1.RoleFieldSet) error {
	if err := checkEntity(ev, "role"); err != nil {
		return err
	}
	if len(b.GetFields()) == 0 {
		return fault.Invalidf("fields", "required", "no field written")
	}
	return checkFields(roleFields, b.GetFields())
}

func checkRolePermissionSet(ev *replication.Event, b *accessv1.RolePermissionSet) error {
	if err := checkEntity(ev, "role"); err != nil {
		return err
	}
	if len(b.GetPermissions()) == 0 {
		return fault.Invalidf("permissions", "required", "no permission written")
	}
	return checkPerms(b.GetPermissions())
}

func applyRoleCreated(tx replication.Tx, ev *replication.Event, b *accessv1.RoleCreated) error {
	id, ok := entityID(ev, "role")
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	if _, _, err := replication.SetRegister(tx, roleKey(id), []byte(ev.Origin), s); err != nil {
		return err
	}
	if err := setRoleFields(tx, id, s, b.GetFields()); err != nil {
		return err
	}
	return setRolePerms(tx, id, s, b.GetPermissions())
}

func applyRoleFieldSet(tx replication.Tx, ev *replication.Event, b *accessv1.RoleFieldSet) error {
	id, ok := entityID(ev, "role")
	if !ok {
		return nil
	}
	return setRoleFields(tx, id, replication.StampOf(ev), b.GetFields())
}

func applyRolePermissionSet(tx replication.Tx, ev *replication.Event, b *accessv1.RolePermissionSet) error {
	id, ok := entityID(ev, "role")
	if !ok {
		return nil
	}
	return setRolePerms(tx, id, replication.StampOf(ev), b.GetPermissions())
}

func setRoleFields(tx replication.Tx, id string, s replication.Stamp, fields []*eventv1.FieldValue) error {
	for _, fv := range fields {
		if _, known := fieldByName(roleFields, fv.GetField()); !known {
			continue // written by a newer version; nothing here reads it
		}
		if _, _, err := replication.SetRegister(tx, roleFieldKey(id, fv.GetField()), []byte(fv.GetValue()), s); err != nil {
			return err
		}
	}
	return nil
}

func setRolePerms(tx replication.Tx, id string, s replication.Stamp, ps []*accessv1.PermissionScope) error {
	for _, p := range ps {
		if !permRe.MatchString(p.GetPermission()) {
			continue
		}
		v := ""
		if sc := p.GetScope(); sc > accessv1.Scope_SCOPE_UNSPECIFIED && sc <= accessv1.Scope_SCOPE_ALL {
			v = strconv.Itoa(int(sc))
		}
		if _, _, err := replication.SetRegister(tx, rolePermKey(id, p.GetPermission()), []byte(v), s); err != nil {
			return err
		}
	}
	return nil
}
