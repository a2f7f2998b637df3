package access

import (
	"fmt"
	"slices"
)

// Area is a part of the work that permissions belong to; the role editor
// groups permissions by it.
type Area string

// The areas, in the order the role editor shows them.
const (
	AreaCustomers Area = "customers"
	AreaCalls     Area = "calls"
	AreaPickups   Area = "pickups"
	AreaFinance   Area = "finance"
	AreaStock     Area = "stock"
	AreaAdmin     Area = "administration"
)

// Areas lists the areas in display order.
var Areas = []Area{AreaCustomers, AreaCalls, AreaPickups, AreaFinance, AreaStock, AreaAdmin}

// PermInfo describes a permission for the role editor.
type PermInfo struct {
	Perm        Perm
	Area        Area
	Description string // English; the UI translates by Perm
	// Scoped permissions reach own, department or all data; the others
	// (administration) are all or nothing.
	Scoped bool
}

// Catalogue lists every permission in AllPerms order with its description.
func Catalogue() []PermInfo {
	desc := map[Perm]PermInfo{
		CustomerRead:    {Area: AreaCustomers, Description: "See customers and their timeline", Scoped: true},
		CustomerWrite:   {Area: AreaCustomers, Description: "Create and edit customers, contacts and notes", Scoped: true},
		CustomerDelete:  {Area: AreaCustomers, Description: "Move customers to and restore them from the recycle bin", Scoped: true},
		CustomerMerge:   {Area: AreaCustomers, Description: "Merge duplicate customers", Scoped: true},
		CustomerImport:  {Area: AreaCustomers, Description: "Import customers from CSV or Excel"},
		CustomerExport:  {Area: AreaCustomers, Description: "Export customers (audited)", Scoped: true},
		PhoneView:       {Area: AreaCustomers, Description: "See phone numbers unmasked", Scoped: true},
		BlacklistFlag:   {Area: AreaCalls, Description: "Report a number as a nuisance caller"},
		BlacklistManage: {Area: AreaCalls, Description: "Blacklist and un-blacklist numbers"},
		CallAgent:       {Area: AreaCalls, Description: "Take and place calls at the agent desk; see one's own call records and callbacks, and the open callbacks"},
		Supervise:       {Area: AreaCalls, Description: "Live board, KPIs, every call record and callback; control others' calls"},
		UserAdmin:       {Area: AreaAdmin, Description: "Manage users, departments, roles and API tokens"},
		FieldAdmin:      {Area: AreaAdmin, Description: "Manage custom fields and system parameters"},
		AuditRead:       {Area: AreaAdmin, Description: "Read the audit log"},
		TelephonyAdmin:  {Area: AreaAdmin, Description: "Extensions, trunks, queues and their members"},
		PickupWrite:     {Area: AreaPickups, Description: "Book, edit, cancel and check pickups"},
		PickupDispatch:  {Area: AreaPickups, Description: "Manage zones and couriers, reassign pickups"},
		PickupCourier:   {Area: AreaPickups, Description: "Accept, pick up and fail one's own assigned pickups"},
		FinanceManage:   {Area: AreaFinance, Description: "Rate plans, deposits, payments, refunds and statements"},
		StockRead:       {Area: AreaStock, Description: "See products, stock, moves, stocktakes, transfers, reservations and escrow shares"},
		StockMove:       {Area: AreaStock, Description: "Record receipts, issues, bin moves, transfers and stocktakes"},
		StockAdmin:      {Area: AreaStock, Description: "Manage products, warehouses, bins, limits, sellers and purchase orders"},
		StockReserve:    {Area: AreaStock, Description: "Reserve, release and ship stock; shipping notices"},
	}
	out := make([]PermInfo, 0, len(AllPerms))
	for _, p := range AllPerms {
		info, ok := desc[p]
		if !ok {
			info.Description, info.Area = string(p), AreaAdmin
		}
		info.Perm = p
		out = append(out, info)
	}
	return out
}

// ParsePerm returns the known permission named s.
func ParsePerm(s string) (Perm, bool) {
	p := Perm(s)
	return p, slices.Contains(AllPerms, p)
}

// String names the scope.
func (s Scope) String() string {
	switch s {
	case ScopeNone:
		return "none"
	case ScopeOwn:
		return "own"
	case ScopeDepartment:
		return "department"
	case ScopeAll:
		return "all"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}
