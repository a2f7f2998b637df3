package access

import (
	"fmt"
	"slices"
)

// PermInfo describes a permission for the role editor.
type PermInfo struct {
	Perm        Perm
	Description string // English; the UI translates by Perm
	// Scoped permissions reach own, department or all data; the others
	// (administration) are all or nothing.
	Scoped bool
}

// Catalogue lists every permission in AllPerms order with its description.
func Catalogue() []PermInfo {
	desc := map[Perm]PermInfo{
		CustomerRead:    {Description: "See customers and their timeline", Scoped: true},
		CustomerWrite:   {Description: "Create and edit customers, contacts and notes", Scoped: true},
		CustomerDelete:  {Description: "Move customers to and restore them from the recycle bin", Scoped: true},
		CustomerMerge:   {Description: "Merge duplicate customers", Scoped: true},
		CustomerImport:  {Description: "Import customers from CSV or Excel"},
		CustomerExport:  {Description: "Export customers (audited)", Scoped: true},
		PhoneView:       {Description: "See phone numbers unmasked", Scoped: true},
		BlacklistFlag:   {Description: "Report a number as a nuisance caller"},
		CallAgent:       {Description: "Take and place calls at the agent desk; see one's own call records and callbacks, and the open callbacks"},
		BlacklistManage: {Description: "Blacklist and un-blacklist numbers"},
		UserAdmin:       {Description: "Manage users, departments, roles and API tokens"},
		FieldAdmin:      {Description: "Manage custom fields and system parameters"},
		AuditRead:       {Description: "Read the audit log"},
		PickupWrite:     {Description: "Book, edit, cancel and check pickups"},
		PickupDispatch:  {Description: "Manage zones and couriers, reassign pickups"},
		PickupCourier:   {Description: "Accept, pick up and fail one's own assigned pickups"},
		FinanceManage:   {Description: "Rate plans, deposits, payments, refunds and statements"},
		StockRead:       {Description: "See products, stock, moves, stocktakes, transfers, reservations and escrow shares"},
		StockMove:       {Description: "Record receipts, issues, bin moves, transfers and stocktakes"},
		StockAdmin:      {Description: "Manage products, warehouses, bins, limits, sellers and purchase orders"},
		StockReserve:    {Description: "Reserve, release and ship stock; shipping notices"},
	}
	out := make([]PermInfo, 0, len(AllPerms))
	for _, p := range AllPerms {
		info, ok := desc[p]
		if !ok {
			info.Description = string(p)
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
