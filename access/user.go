package access

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"branchline/auth"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// Event kinds of users.
const (
	KindUserCreated     = "access.user.created"
	KindUserFieldSet    = "access.user.field_set"
	KindUserPasswordSet = "access.user.password_set"
	KindUserRoleAdded   = "access.user.role_added"
	KindUserRoleRemoved = "access.user.role_removed"
)

// The fields of a user. Each is its own last-writer-wins register, so
// that concurrent edits of different fields at different branches all
// survive.
const (
	FieldUsername    = "username"
	FieldDisplayName = "display_name"
	FieldDepartment  = "department"
	FieldPhone       = "phone"
	FieldExtension   = "extension"
	FieldDisabled    = "disabled"
	FieldMustChange  = "must_change_password"

	// fieldPassword is the register of the password hash, written only by
	// UserCreated and UserPasswordSet and never read out of the package.
	fieldPassword = "password"
)

var userFields = []field{
	{name: FieldUsername, maxLen: 64, required: true, typ: usernameField},
	{name: FieldDisplayName, maxLen: 100, required: true},
	{name: FieldDepartment, maxLen: 26, typ: departmentField},
	{name: FieldPhone, maxLen: 32, typ: phoneField},
	{name: FieldExtension, maxLen: 16, typ: extensionField},
	{name: FieldDisabled, maxLen: 8, typ: flagField},
	{name: FieldMustChange, maxLen: 8, typ: flagField},
}

// EditableUserFields are the fields UpdateUser writes; the others have
// their own commands (SetDisabled, SetPassword, AssignRole).
var EditableUserFields = []string{FieldUsername, FieldDisplayName, FieldDepartment, FieldPhone, FieldExtension, FieldMustChange}

// MaxPasswordLen bounds passwords, so that hashing one costs a bounded time.
const MaxPasswordLen = 1024

// User is an account as the views hold it. The password hash stays inside
// the package: only Authenticate reads it.
type User struct {
	ID                 string
	Username           string
	DisplayName        string
	Department         string
	Phone              string
	Extension          string
	Disabled           bool
	MustChangePassword bool
	Roles              []string // role ids, in order
	// UsernameOwner is set when another user holds Username: two branches
	// gave the name to different users while offline, and the other claim
	// is older. This user cannot log in until renamed.
	UsernameOwner string
	Origin        string // node that created it
	Created       replication.HLC
	Updated       replication.HLC

	hash string
}

// String names the user without its password hash, which fmt would
// otherwise print with %v.
func (u *User) String() string { return fmt.Sprintf("user %s (%s)", u.ID, u.Username) }

// GoString is String, for %#v.
func (u *User) GoString() string { return u.String() }

// LogValue keeps the password hash out of slog output.
func (u *User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("username", u.Username))
}

// UserEntity is the event entity of user id.
func UserEntity(id string) string { return "user/" + id }

// View keys (below replication.ViewPrefix):
//
//	access \0 user \0 id                        created register (value: origin)
//	access \0 user \0 id \0 f \0 field          register
//	access \0 user \0 id \0 roles \0 …          add-wins set of role ids
//	access \0 uname \0 username \0 hlc \0 origin \0 id   "" (claims)
//
// The claims index holds, for every user, its current username with the
// stamp of the write that set it. The oldest claim of a name owns it;
// since registers converge, so does the index, and with it the owner.
func userKey(id string) []byte          { return replication.Key("access", "user", id) }
func userFieldKey(id, f string) []byte  { return replication.Key("access", "user", id, "f", f) }
func userFieldsPrefix(id string) []byte { return replication.Prefix("access", "user", id, "f") }
func userRoleSet(id string) string      { return string(replication.Key("access", "user", id, "roles")) }
func claimKey(name string, s replication.Stamp, id string) []byte {
	return replication.Key("access", "uname", name, stampHex(s.HLC), s.Origin, id)
}
func claimPrefix(name string) []byte { return replication.Prefix("access", "uname", name) }

var (
	userPrefix      = replication.Prefix("access", "user")
	allClaimsPrefix = replication.Prefix("access", "uname")
)

// HashPassword checks a new password and returns its argon2id hash. Call
// it before Store.Exec, not inside the command: hashing takes tens of
// milliseconds, and commands run on the store's single writer.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", fault.Invalidf("password", "too_long", "at most %d bytes", MaxPasswordLen)
	}
	h, err := auth.HashPassword(password)
	if errors.Is(err, auth.ErrWeakPassword) {
		return "", fault.Invalidf("password", "too_short", "%v", err)
	}
	return h, err
}

// checkHash accepts an argon2id PHC string whose costs are bounded: the
// hash is replicated, and its parameters decide what a login costs at
// every branch, so a hash from elsewhere must not ask for gigabytes.
func checkHash(h string) error {
	bad := fault.Invalidf("password", "bad_hash", "not an argon2id hash of bounded cost")
	parts := strings.Split(h, "$")
	if len(h) > 512 || len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return bad
	}
	var m, t, p int
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] ||
		m < 8 || m > 256*1024 || t < 1 || t > 16 || p < 1 || p > 16 {
		return bad
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return bad
	}
	return nil
}

// CreateUser decides the event that creates user id (a new ULID) with the
// given fields and password hash (HashPassword). Username and display_name
// are required; the username must be free here (a branch offline may give
// it away at the same time: see UsernameOwner).
func CreateUser(views replication.Tx, id string, fields map[string]string, hash string) (replication.Draft, error) {
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("name", "bad_id", "%q is not a user id", id)
	}
	if err := checkHash(hash); err != nil {
		return replication.Draft{}, err
	}
	for _, f := range userFields {
		if _, ok := fields[f.name]; f.required && !ok {
			return replication.Draft{}, fault.Invalidf(f.name, "required", "is required")
		}
	}
	vals, err := normalizeAll(userFields, fields)
	if err != nil {
		return replication.Draft{}, err
	}
	if err := checkUserRefs(views, id, vals); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, userKey(id)); err != nil {
		return replication.Draft{}, err
	} else if ok {
		return replication.Draft{}, fmt.Errorf("user %s: %w", id, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindUserCreated, Entity: UserEntity(id),
		Body: &accessv1.UserCreated{Fields: vals, PasswordHash: hash}}, nil
}

// checkUserRefs checks what field values refer to: a free, unreserved
// username and an active department.
func checkUserRefs(views replication.Tx, id string, vals []*eventv1.FieldValue) error {
	for _, fv := range vals {
		switch v := fv.GetValue(); fv.GetField() {
		case FieldUsername:
			if Reserved(v) {
				return fault.Invalidf(FieldUsername, "reserved", "%q is reserved", v)
			}
			owner, err := usernameOwner(views, v)
			if err != nil {
				return err
			}
			if owner != "" && owner != id {
				return fault.Invalidf(FieldUsername, "taken", "%q is taken", v)
			}
		case FieldDepartment:
			if v == "" {
				continue
			}
			d, err := GetDepartment(views, v)
			if errors.Is(err, fault.ErrNotFound) {
				return fault.Invalidf(FieldDepartment, "not_found", "no department %s", v)
			}
			if err != nil {
				return err
			}
			if d.Retired {
				return fault.Invalidf(FieldDepartment, "retired", "department %q is retired", d.Name)
			}
		}
	}
	return nil
}

// UpdateUser decides the event that writes the given fields (of
// EditableUserFields) of user id. Unchanged fields are left out; ok is
// false when nothing changes.
func UpdateUser(views replication.Tx, id string, fields map[string]string) (d replication.Draft, ok bool, err error) {
	if err := checkEditable(fields); err != nil {
		return d, false, err
	}
	cur, err := GetUser(views, id)
	if err != nil {
		return d, false, err
	}
	return ChangeUser(views, cur, fields)
}

// ChangeUser is UpdateUser for a user the caller read in the same
// transaction (GetUser), so that a command that needs the user as it was
// (for its audit entry: AuditChanges) reads it once.
func ChangeUser(views replication.Tx, cur *User, fields map[string]string) (d replication.Draft, ok bool, err error) {
	if err := checkEditable(fields); err != nil {
		return d, false, err
	}
	vals, err := normalizeAll(userFields, fields)
	if err != nil {
		return d, false, err
	}
	changed := vals[:0]
	for _, fv := range vals {
		if cur.field(fv.GetField()) != fv.GetValue() {
			changed = append(changed, fv)
		}
	}
	if len(changed) == 0 {
		return d, false, nil
	}
	if err := checkUserRefs(views, cur.ID, changed); err != nil {
		return d, false, err
	}
	return replication.Draft{Kind: KindUserFieldSet, Entity: UserEntity(cur.ID),
		Body: &accessv1.UserFieldSet{Fields: changed}}, true, nil
}

func checkEditable(fields map[string]string) error {
	if len(fields) == 0 {
		return fault.Invalidf("update_mask", "required", "names no field")
	}
	for name := range fields {
		if !slices.Contains(EditableUserFields, name) {
			return fault.Invalidf(name, "not_editable", "cannot be changed by an update")
		}
	}
	return nil
}

func (u *User) field(name string) string {
	switch name {
	case FieldUsername:
		return u.Username
	case FieldDisplayName:
		return u.DisplayName
	case FieldDepartment:
		return u.Department
	case FieldPhone:
		return u.Phone
	case FieldExtension:
		return u.Extension
	case FieldDisabled:
		return flag(u.Disabled)
	case FieldMustChange:
		return flag(u.MustChangePassword)
	}
	return ""
}

// SetDisabled decides the event that disables (or enables) user id; ok is
// false when nothing changes.
func SetDisabled(views replication.Tx, id string, disabled bool) (d replication.Draft, ok bool, err error) {
	cur, err := GetUser(views, id)
	if err != nil || cur.Disabled == disabled {
		return d, false, err
	}
	return replication.Draft{Kind: KindUserFieldSet, Entity: UserEntity(id),
		Body: &accessv1.UserFieldSet{Fields: []*eventv1.FieldValue{{Field: FieldDisabled, Value: flag(disabled)}}}}, true, nil
}

// SetPassword decides the event that replaces user id's password with
// hash (HashPassword); mustChange makes the user pick a new one at the next
// login.
func SetPassword(views replication.Tx, id, hash string, mustChange bool) (replication.Draft, error) {
	if err := checkHash(hash); err != nil {
		return replication.Draft{}, err
	}
	if _, err := GetUser(views, id); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindUserPasswordSet, Entity: UserEntity(id),
		Body: &accessv1.UserPasswordSet{PasswordHash: hash, MustChangePassword: mustChange}}, nil
}

// AssignRole decides the event that gives user id the role; ok is false
// when the user has it.
func AssignRole(views replication.Tx, id, role string) (d replication.Draft, ok bool, err error) {
	if _, err := GetUser(views, id); err != nil {
		return d, false, err
	}
	if _, err := GetRole(views, role); err != nil {
		if inv, isInv := fault.AsInvalid(err); isInv {
			inv.Field = "role"
		} else if errors.Is(err, fault.ErrNotFound) {
			return d, false, fault.Invalidf("role", "not_found", "no role %s", role)
		}
		return d, false, err
	}
	has, err := replication.SetContains(views, userRoleSet(id), role)
	if err != nil || has {
		return d, false, err
	}
	return replication.Draft{Kind: KindUserRoleAdded, Entity: UserEntity(id),
		Body: &accessv1.UserRoleAdded{Role: role}}, true, nil
}

// UnassignRole decides the event that takes the role from user id: it
// removes the adds this replica has seen, so that an assignment made
// concurrently elsewhere survives (add wins). ok is false when the user
// does not have the role.
func UnassignRole(views replication.Tx, id, role string) (d replication.Draft, ok bool, err error) {
	if _, err := GetUser(views, id); err != nil {
		return d, false, err
	}
	if !replication.ValidULID(role) {
		return d, false, fault.Invalidf("role", "bad_id", "%q is not a role id", role)
	}
	tags, err := replication.SetTags(views, userRoleSet(id), role)
	if err != nil || len(tags) == 0 {
		return d, false, err
	}
	body := &accessv1.UserRoleRemoved{Role: role}
	for _, t := range tags {
		body.Observed = append(body.Observed, &accessv1.SetTag{Origin: t.Origin, Seq: t.Seq})
	}
	return replication.Draft{Kind: KindUserRoleRemoved, Entity: UserEntity(id), Body: body}, true, nil
}

// usernameOwner returns the id of the user holding name, or "".
func usernameOwner(views replication.Tx, name string) (string, error) {
	var owner string
	err := views.Scan(claimPrefix(name), nil, func(k, _ []byte) (bool, error) {
		owner = replication.LastPart(k)
		return false, nil
	})
	return owner, err
}

// UserByUsername reads the user holding username (in any case).
func UserByUsername(views replication.Tx, username string) (*User, error) {
	name := NormalizeUsername(username)
	if !usernameRe.MatchString(name) {
		return nil, fmt.Errorf("user %q: %w", username, fault.ErrNotFound)
	}
	id, err := usernameOwner(views, name)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("user %q: %w", name, fault.ErrNotFound)
	}
	return GetUser(views, id)
}

// GetUser reads user id.
func GetUser(views replication.Tx, id string) (*User, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("name", "bad_id", "%q is not a user id", id)
	}
	created, ok, err := replication.GetRegister(views, userKey(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("user %s: %w", id, fault.ErrNotFound)
	}
	regs, newest, err := registers(views, userFieldsPrefix(id))
	if err != nil {
		return nil, err
	}
	roles, err := replication.SetElems(views, userRoleSet(id))
	if err != nil {
		return nil, err
	}
	u := &User{
		ID: id, Username: regs[FieldUsername], DisplayName: regs[FieldDisplayName],
		Department: regs[FieldDepartment], Phone: regs[FieldPhone], Extension: regs[FieldExtension],
		Disabled: regs[FieldDisabled] == "1", MustChangePassword: regs[FieldMustChange] == "1",
		Roles: roles, Origin: string(created.Value), Created: created.Stamp.HLC,
		Updated: max(created.Stamp.HLC, newest), hash: regs[fieldPassword],
	}
	if u.Username != "" {
		owner, err := usernameOwner(views, u.Username)
		if err != nil {
			return nil, err
		}
		if owner != id {
			u.UsernameOwner = owner
		}
	}
	return u, nil
}

// ListUsers returns up to limit users with ids after the given one, in id
// order.
func ListUsers(views replication.Tx, after string, limit int) ([]*User, error) {
	ids, err := listIDs(views, userPrefix, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*User, 0, len(ids))
	for _, id := range ids {
		u, err := GetUser(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// UsernameConflict is a username claimed by several users.
type UsernameConflict struct {
	Username string
	Owner    string   // user id holding the name: the oldest claim
	Losers   []string // user ids of the later claims, oldest first
}

// UsernameConflicts lists every username claimed by more than one user.
// The list is derived from the users' current usernames, so it is the same
// at every replica that has the same events, and a conflict disappears
// once the losers are renamed.
func UsernameConflicts(views replication.Tx) ([]UsernameConflict, error) {
	var out []UsernameConflict
	err := views.Scan(allClaimsPrefix, nil, func(k, _ []byte) (bool, error) {
		name, _, _ := strings.Cut(string(k[len(allClaimsPrefix):]), "\x00")
		id := replication.LastPart(k)
		if n := len(out); n > 0 && out[n-1].Username == name {
			out[n-1].Losers = append(out[n-1].Losers, id)
		} else {
			out = append(out, UsernameConflict{Username: name, Owner: id})
		}
		return true, nil
	})
	return slices.DeleteFunc(out, func(c UsernameConflict) bool { return len(c.Losers) == 0 }), err
}

// Authenticate checks a username and password and returns the user. It
// answers auth.ErrBadCredentials alike for an unknown user, a wrong
// password and a disabled account, and spends the time of one password
// check in each case, so that neither the answer nor its timing tells
// which usernames exist.
func Authenticate(views replication.Tx, username, password string) (*User, error) {
	if len(password) > MaxPasswordLen {
		return nil, auth.ErrBadCredentials
	}
	u, err := UserByUsername(views, username)
	if errors.Is(err, fault.ErrNotFound) || err == nil && u.hash == "" {
		auth.CheckUnknown(password)
		return nil, auth.ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, err := auth.CheckPassword(u.hash, password)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", u.ID, err)
	}
	if !ok || u.Disabled {
		return nil, auth.ErrBadCredentials
	}
	return u, nil
}

// Appliers.

func checkUserCreated(ev *replication.Event, b *accessv1.UserCreated) error {
	if err := checkEntity(ev, "user"); err != nil {
		return err
	}
	if err := checkHash(b.GetPasswordHash()); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, fv := range b.GetFields() {
		have[fv.GetField()] = true
	}
	for _, f := range userFields {
		if f.required && !have[f.name] {
			return fault.Invalidf(f.name, "required", "is required")
		}
	}
	return checkFields(userFields, b.GetFields())
}

func checkUserFieldSet(ev *replication.Event, b *accessv1.UserFieldSet) error {
	if err := checkEntity(ev, "user"); err != nil {
		return err
	}
	if len(b.GetFields()) == 0 {
		return fault.Invalidf("fields", "required", "no field written")
	}
	return checkFields(userFields, b.GetFields())
}

func checkUserPasswordSet(ev *replication.Event, b *accessv1.UserPasswordSet) error {
	if err := checkEntity(ev, "user"); err != nil {
		return err
	}
	return checkHash(b.GetPasswordHash())
}

func checkRoleRef(role string) error {
	if !replication.ValidULID(role) {
		return fault.Invalidf("role", "bad_id", "%q is not a role id", role)
	}
	return nil
}

func checkUserRoleAdded(ev *replication.Event, b *accessv1.UserRoleAdded) error {
	if err := checkEntity(ev, "user"); err != nil {
		return err
	}
	return checkRoleRef(b.GetRole())
}

func checkUserRoleRemoved(ev *replication.Event, b *accessv1.UserRoleRemoved) error {
	if err := checkEntity(ev, "user"); err != nil {
		return err
	}
	if err := checkRoleRef(b.GetRole()); err != nil {
		return err
	}
	for _, t := range b.GetObserved() {
		if !replication.ValidNodeID(t.GetOrigin()) || t.GetSeq() == 0 {
			return fault.Invalidf("observed", "bad_tag", "%s:%d is not an event", t.GetOrigin(), t.GetSeq())
		}
	}
	return nil
}

func applyUserCreated(tx replication.Tx, ev *replication.Event, b *accessv1.UserCreated) error {
	id, ok := entityID(ev, "user")
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	if _, _, err := replication.SetRegister(tx, userKey(id), []byte(ev.Origin), s); err != nil {
		return err
	}
	fields := append(slices.Clone(b.GetFields()), &eventv1.FieldValue{Field: fieldPassword, Value: b.GetPasswordHash()})
	return setUserFields(tx, id, s, fields)
}

func applyUserFieldSet(tx replication.Tx, ev *replication.Event, b *accessv1.UserFieldSet) error {
	id, ok := entityID(ev, "user")
	if !ok {
		return nil
	}
	return setUserFields(tx, id, replication.StampOf(ev), b.GetFields())
}

func applyUserPasswordSet(tx replication.Tx, ev *replication.Event, b *accessv1.UserPasswordSet) error {
	id, ok := entityID(ev, "user")
	if !ok {
		return nil
	}
	return setUserFields(tx, id, replication.StampOf(ev), []*eventv1.FieldValue{
		{Field: fieldPassword, Value: b.GetPasswordHash()},
		{Field: FieldMustChange, Value: flag(b.GetMustChangePassword())},
	})
}

// setUserFields writes each field as its own register and keeps the
// username claims equal to the users' current usernames.
func setUserFields(tx replication.Tx, id string, s replication.Stamp, fields []*eventv1.FieldValue) error {
	for _, fv := range fields {
		name := fv.GetField()
		if _, known := fieldByName(userFields, name); !known && name != fieldPassword {
			continue // written by a newer version; nothing here reads it
		}
		v := fv.GetValue()
		if name == FieldUsername {
			v = NormalizeUsername(v)
		}
		won, prev, err := replication.SetRegister(tx, userFieldKey(id, name), []byte(v), s)
		if err != nil {
			return err
		}
		if !won || name != FieldUsername {
			continue
		}
		if len(prev.Value) > 0 {
			if err := tx.Delete(claimKey(string(prev.Value), prev.Stamp, id)); err != nil {
				return err
			}
		}
		if v != "" && !strings.ContainsRune(v, 0) {
			if err := tx.Set(claimKey(v, s, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyUserRoleAdded(tx replication.Tx, ev *replication.Event, b *accessv1.UserRoleAdded) error {
	id, ok := entityID(ev, "user")
	if !ok || !replication.ValidULID(b.GetRole()) {
		return nil
	}
	return replication.SetAdd(tx, userRoleSet(id), b.GetRole(), replication.TagOf(ev))
}

func applyUserRoleRemoved(tx replication.Tx, ev *replication.Event, b *accessv1.UserRoleRemoved) error {
	id, ok := entityID(ev, "user")
	if !ok || !replication.ValidULID(b.GetRole()) {
		return nil
	}
	var tags []replication.Tag
	for _, t := range b.GetObserved() {
		if replication.ValidNodeID(t.GetOrigin()) && t.GetSeq() > 0 {
			tags = append(tags, replication.Tag{Origin: t.GetOrigin(), Seq: t.GetSeq()})
		}
	}
	return replication.SetRemove(tx, userRoleSet(id), b.GetRole(), tags)
}
