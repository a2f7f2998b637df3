package access

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// KindRoleSeeded is a default role written at a fresh installation. Its
// body is a RoleCreated; what differs is how it merges (applyRoleSeeded).
const KindRoleSeeded = "access.role.seeded"

// DefaultRole is a role every installation starts with: Key names it in
// the message catalog (the pages show "admin.role.<Key>" in the reader's
// language while the role keeps its default name), Name and Description
// are what the role's registers hold (in the business language, zh-CN),
// Perms its permissions with their data scopes.
type DefaultRole struct {
	Key         string
	ID          string
	Name        string
	Description string
	Perms       map[Perm]Scope
}

// defaultRoleID is the fixed role id of the n-th default role: a ULID
// whose time part is zero, which no id drawn from a clock ever is, so that
// every node of a company names the same default role alike without
// asking anyone.
func defaultRoleID(n int) string { return fmt.Sprintf("%026d", n) }

// IsDefaultRoleID reports whether id is an id reserved for default roles
// (a ULID with a zero time part).
func IsDefaultRoleID(id string) bool {
	u, err := ulid.ParseStrict(id)
	return err == nil && u.String() == id && u.Time() == 0
}

// all gives every permission at ScopeAll.
func all(perms ...Perm) map[Perm]Scope {
	out := make(map[Perm]Scope, len(perms))
	for _, p := range perms {
		out[p] = ScopeAll
	}
	return out
}

// with adds perms at scope s to m.
func with(m map[Perm]Scope, s Scope, perms ...Perm) map[Perm]Scope {
	m = maps.Clone(m)
	for _, p := range perms {
		m[p] = s
	}
	return m
}

// DefaultRoles are the roles of a new installation, each what one kind of
// person needs for their job and nothing more. Permissions the editor
// offers only as all-or-nothing (Catalogue: not Scoped) are given at
// ScopeAll, as the editor writes them, so that saving a default role
// unchanged changes nothing.
//
//   - agent (坐席): any caller may be any customer, so customers are read
//     and written company-wide; books pickups, reports nuisance callers,
//     works the agent desk. No customer.phone: numbers show masked
//     (138****5678) and booking for an existing customer still fills the
//     sender's number from the record. No delete, merge, import, export.
//   - supervisor (班长): an agent, plus the live board and KPIs (and so
//     every call record, pickup and account), full phone numbers to call
//     customers back about complaints, merging the duplicates agents
//     find, and deciding on reported nuisance numbers (blacklist).
//   - courier (快递员): only their own assigned pickups on the courier
//     page.
//   - warehouse clerk (仓管员): sees stock and records receipts, issues,
//     bin moves, transfers and stocktakes. Not reserving and shipping for
//     sales (the orders' side), not products, bins or limits.
//   - branch manager (网点经理): the branch's customers (department scope:
//     their department and those below it) including full numbers,
//     deletion, merging and export; the branch's calls (board and KPIs),
//     pickups and their dispatch, its accounts and statements, stock to
//     see, the blacklist. Not admin.users: it cannot be narrowed to one
//     branch, and it includes editing roles — a branch manager could
//     grant themselves anything. Each branch keeps its local admin
//     account for its users.
//   - head-office manager (总部经理): reads and reports company-wide —
//     customers and their export, the board and KPIs (so every call,
//     pickup and account), stock, the audit log, and finance (rate plans,
//     deposits, statements are set centrally). Numbers stay masked: head
//     office reads reports, it does not ring customers.
//   - administrator (管理员): everything, everywhere.
func DefaultRoles() []DefaultRole {
	agent := all(CustomerRead, CustomerWrite, BlacklistFlag, CallAgent, PickupWrite)
	return []DefaultRole{
		{Key: "agent", ID: defaultRoleID(1), Name: "坐席", Description: "接打电话、维护客户、登记叫件；电话号码脱敏显示。",
			Perms: agent},
		{Key: "supervisor", ID: defaultRoleID(2), Name: "班长", Description: "坐席的全部权限，加上实时监控、KPI、完整号码、合并客户和黑名单。",
			Perms: with(agent, ScopeAll, PhoneView, Supervise, CustomerMerge, BlacklistManage)},
		{Key: "courier", ID: defaultRoleID(3), Name: "快递员", Description: "在快递员页面处理分配给自己的叫件。",
			Perms: all(PickupCourier)},
		{Key: "warehouse_clerk", ID: defaultRoleID(4), Name: "仓管员", Description: "查看库存，登记入库、出库、移库、调拨和盘点。",
			Perms: all(StockRead, StockMove)},
		{Key: "branch_manager", ID: defaultRoleID(5), Name: "网点经理", Description: "本网点（本部门及下级部门）的客户、通话、叫件、调度、账务和库存查看。",
			Perms: with(all(Supervise, PickupWrite, PickupDispatch, FinanceManage, StockRead, BlacklistFlag, BlacklistManage),
				ScopeDepartment, CustomerRead, CustomerWrite, CustomerDelete, CustomerMerge, CustomerExport, PhoneView)},
		{Key: "head_office_manager", ID: defaultRoleID(6), Name: "总部经理", Description: "全公司的客户、通话、叫件、库存、财务报表和审计日志（只读为主）。",
			Perms: all(CustomerRead, CustomerExport, Supervise, StockRead, AuditRead, FinanceManage)},
		{Key: "administrator", ID: defaultRoleID(7), Name: "管理员", Description: "全部权限。",
			Perms: all(AllPerms...)},
	}
}

// DefaultRoleOf returns the default role whose id is id.
func DefaultRoleOf(id string) (DefaultRole, bool) {
	roles := DefaultRoles()
	i := slices.IndexFunc(roles, func(r DefaultRole) bool { return r.ID == id })
	if i < 0 {
		return DefaultRole{}, false
	}
	return roles[i], true
}

// SeedRoles decides the events that create the default roles defs that
// views do not hold yet: none when every one exists (seeding twice adds
// nothing). A table with a bad entry is refused whole.
//
// Why this cannot make duplicates or undo an edit: two nodes of a new
// company may both start offline and both seed. They name each default
// role by the same fixed id (defaultRoleID), so they make one role, not
// two; and applyRoleSeeded writes the role's registers with seedStamp,
// which orders before every real write. So whichever seed arrives when,
// it fills only what no one has written yet: a name, a description or a
// permission that an operator changed — at any node, before or after the
// other node's seed — keeps the operator's value everywhere.
func SeedRoles(views replication.Tx, defs []DefaultRole) ([]replication.Draft, error) {
	var out []replication.Draft
	for _, d := range defs {
		if !IsDefaultRoleID(d.ID) {
			return nil, fault.Invalidf("id", "bad_id", "%q is not a default role id", d.ID)
		}
		fields := map[string]string{FieldRoleName: d.Name}
		if d.Description != "" {
			fields[FieldDescription] = d.Description
		}
		vals, err := normalizeAll(roleFields, fields)
		if err != nil {
			return nil, fmt.Errorf("default role %s: %w", d.Key, roleFieldError(err))
		}
		ps, err := normalizePerms(d.Perms)
		if err != nil {
			return nil, fmt.Errorf("default role %s: %w", d.Key, err)
		}
		ps = slices.DeleteFunc(ps, func(p *accessv1.PermissionScope) bool { return p.GetScope() == accessv1.Scope_SCOPE_UNSPECIFIED })
		if ok, err := exists(views, roleKey(d.ID)); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		out = append(out, replication.Draft{Kind: KindRoleSeeded, Entity: RoleEntity(d.ID),
			Body: &accessv1.RoleCreated{Fields: vals, Permissions: ps}})
	}
	return out, nil
}

// DefaultRoleKeys lists the keys of defs, for audit entries.
func DefaultRoleKeys(defs []DefaultRole) string {
	keys := make([]string, len(defs))
	for i, d := range defs {
		keys[i] = d.Key
	}
	return strings.Join(keys, ", ")
}

// seedStamp is the stamp of every register a seed writes: HLC zero, no
// origin. Stamp.After orders every event's stamp after it (a real HLC is
// never zero), so any write by anyone wins over a seeded value.
var seedStamp = replication.Stamp{}

// seedRegister writes a seeded value into the register at key: into an
// empty register, or over another seed's value when it is greater. Seeds
// of one id from one release are equal; the comparison only keeps
// replicas alike should releases ever seed different values, whatever
// order the seeds arrive in. A register anyone wrote is left alone.
func seedRegister(tx replication.Tx, key, value []byte) error {
	prev, ok, err := replication.GetRegister(tx, key)
	if err != nil {
		return err
	}
	if ok && (prev.Stamp != seedStamp || string(value) <= string(prev.Value)) {
		return nil
	}
	return replication.PutRegister(tx, key, value, seedStamp)
}

func checkRoleSeeded(ev *replication.Event, b *accessv1.RoleCreated) error {
	if err := checkRoleCreated(ev, b); err != nil {
		return err
	}
	if id, _ := entityID(ev, "role"); !IsDefaultRoleID(id) {
		return fault.Invalidf("entity", "bad_id", "%q is not a default role", ev.Entity)
	}
	return nil
}

// applyRoleSeeded writes a default role's registers at seedStamp. The
// created register holds no origin: two nodes' seeds must leave the same
// views, whichever came first.
func applyRoleSeeded(tx replication.Tx, ev *replication.Event, b *accessv1.RoleCreated) error {
	id, ok := entityID(ev, "role")
	if !ok || !IsDefaultRoleID(id) {
		return nil
	}
	if err := seedRegister(tx, roleKey(id), nil); err != nil {
		return err
	}
	for _, fv := range b.GetFields() {
		if _, known := fieldByName(roleFields, fv.GetField()); !known {
			continue
		}
		if err := seedRegister(tx, roleFieldKey(id, fv.GetField()), []byte(fv.GetValue())); err != nil {
			return err
		}
	}
	for _, p := range b.GetPermissions() {
		sc := p.GetScope()
		if !permRe.MatchString(p.GetPermission()) || sc <= accessv1.Scope_SCOPE_UNSPECIFIED || sc > accessv1.Scope_SCOPE_ALL {
			continue
		}
		if err := seedRegister(tx, rolePermKey(id, p.GetPermission()), []byte(fmt.Sprint(int(sc)))); err != nil {
			return err
		}
	}
	return nil
}
