package access

import "slices"

// Perm names an action a role may be allowed. Pages and API calls check
// one Perm each; menus show what the caller's grant allows.
type Perm string

// The permissions. A role holds a set of them, each with a data scope.
const (
	CustomerRead    Perm = "customer.read"    // see customers, their timeline
	CustomerWrite   Perm = "customer.write"   // create and edit customers, contacts, notes
	CustomerDelete  Perm = "customer.delete"  // move to and restore from the recycle bin
	CustomerMerge   Perm = "customer.merge"   // merge duplicates
	CustomerImport  Perm = "customer.import"  // import CSV / XLSX
	CustomerExport  Perm = "customer.export"  // export (audited)
	PhoneView       Perm = "customer.phone"   // see phone numbers unmasked
	BlacklistFlag   Perm = "blacklist.flag"   // flag a number as a nuisance caller
	BlacklistManage Perm = "blacklist.manage" // blacklist and un-blacklist directly
	UserAdmin       Perm = "admin.users"      // users, departments, roles, API tokens
	FieldAdmin      Perm = "admin.fields"     // custom fields and system parameters
	AuditRead       Perm = "admin.audit"      // read the audit log
	TelephonyAdmin  Perm = "admin.telephony"  // extensions, trunks, queues and their members
	CallAgent       Perm = "call.agent"       // the agent desk: take and place calls; one's own call records and callbacks, and the open ones
	Supervise       Perm = "call.supervise"   // live board, KPIs, every call record and callback; control others' calls
	StockRead       Perm = "stock.read"       // see products, stock, moves, stocktakes, transfers, reservations, escrow
	StockMove       Perm = "stock.move"       // receipts, issues, bin moves, transfers, stocktakes
	StockAdmin      Perm = "stock.admin"      // products, warehouses, bins, limits, sellers, purchase orders
	StockReserve    Perm = "stock.reserve"    // reserve, release and ship stock; shipping notices
	PickupWrite     Perm = "pickup.write"     // book, edit, cancel and check pickups
	PickupDispatch  Perm = "pickup.dispatch"  // zones, couriers, reassigning pickups
	PickupCourier   Perm = "pickup.courier"   // accept, pick up and fail one's own assigned pickups
	FinanceManage   Perm = "finance.manage"   // rate plans, deposits, payments, refunds, statements
)

// AllPerms lists every permission in display order.
var AllPerms = []Perm{
	CustomerRead, CustomerWrite, CustomerDelete, CustomerMerge, CustomerImport, CustomerExport,
	PhoneView, BlacklistFlag, BlacklistManage, UserAdmin, FieldAdmin, AuditRead,
	TelephonyAdmin, CallAgent, Supervise,
	StockRead, StockMove, StockAdmin, StockReserve,
	PickupWrite, PickupDispatch, PickupCourier, FinanceManage,
}

// Scope is how much data a permission reaches.
type Scope int

// Scopes, narrowest first. The zero value grants nothing.
const (
	ScopeNone       Scope = iota
	ScopeOwn              // records the user owns
	ScopeDepartment       // records owned in the user's department and its sub-departments
	ScopeAll              // every record
)

// Grant is what one user may do at one moment: the union of their roles'
// permissions whose time windows are open. It is computed per request from
// the replicated views, so a change made at any branch applies everywhere.
type Grant struct {
	User string
	// Departments are the user's department and all below it, for
	// ScopeDepartment checks.
	Departments []string
	Scopes      map[Perm]Scope
	// MustChangePassword says the user must set a new password before
	// anything else: the API and the web UI refuse every other request
	// (fault.ErrPasswordChange) whatever Scopes allow.
	MustChangePassword bool
}

// Superuser returns the grant of a node's local administrator: everything,
// everywhere.
func Superuser(user string) *Grant {
	g := &Grant{User: user, Scopes: map[Perm]Scope{}}
	for _, p := range AllPerms {
		g.Scopes[p] = ScopeAll
	}
	return g
}

// Can reports whether the grant allows p on some data.
func (g *Grant) Can(p Perm) bool { return g != nil && g.Scopes[p] > ScopeNone }

// Scope returns how far p reaches.
func (g *Grant) Scope(p Perm) Scope {
	if g == nil {
		return ScopeNone
	}
	return g.Scopes[p]
}

// Reaches reports whether p covers a record owned by owner in department
// dept.
func (g *Grant) Reaches(p Perm, owner, dept string) bool {
	switch g.Scope(p) {
	case ScopeAll:
		return true
	case ScopeDepartment:
		return owner == g.User || (dept != "" && slices.Contains(g.Departments, dept))
	case ScopeOwn:
		return owner == g.User
	}
	return false
}
