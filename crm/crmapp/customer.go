package crmapp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/internal/keyset"
	"branchline/replication"
)

// Customers are the use cases of customers, their contacts, notes and
// timeline, custom fields, import and export.
type Customers struct {
	Store app.Store
	IDs   *replication.IDs
	// Node is this node's id, recorded as the source of audit entries.
	Node string
	// Now is the clock; nil means time.Now.
	Now app.Clock
	// Location is the business time zone exports show times in (nil:
	// app.DefaultTimeZone), the one the pages show them in.
	Location *time.Location
}

// Customer is a customer as one reader may see it.
type Customer struct {
	ID string
	// Fields are the built-in fields (crm.Fields) that have a value; the
	// parent is a customer id. Phone numbers are masked when
	// PhonesMasked.
	Fields map[string]string
	// Custom are the values of the custom fields in use, by key.
	Custom       map[string]string
	PhonesMasked bool
	Origin       string // the node that created it
	Created      time.Time
	Updated      time.Time
	Deleted      bool
	DeletedBy    string
	DeletedAt    time.Time
	// MergedFrom is the id the reader asked for when it was merged into
	// this customer.
	MergedFrom string
	// Contacts are the customer's contacts (Get only).
	Contacts []Contact
}

// Get returns a built-in field's value, or a custom one's for
// "custom.<key>".
func (c *Customer) Get(name string) string {
	if key, ok := strings.CutPrefix(name, crm.CustomPrefix); ok {
		return c.Custom[key]
	}
	return c.Fields[name]
}

// Name is the customer's display name.
func (c *Customer) Name() string { return c.Fields["display_name"] }

// Contact is a contact person as one reader may see it.
type Contact struct {
	ID, CustomerID string
	// Fields are the contact's fields that have a value (crm.ContactFields),
	// phone numbers masked when PhonesMasked.
	Fields       map[string]string
	PhonesMasked bool
	Created      time.Time
	Updated      time.Time
}

// Name is the contact's display name.
func (c *Contact) Name() string { return c.Fields["display_name"] }

// reaches reports whether c's perm covers customer cu.
func reaches(c app.Caller, perm access.Perm, cu *crm.Customer) bool {
	return c.Reaches(perm, cu.Get("owner"), cu.Get("department"))
}

// inScope fails with ErrDenied unless c's perm covers cu.
func inScope(c app.Caller, perm access.Perm, cu *crm.Customer) error {
	if !reaches(c, perm, cu) {
		return fmt.Errorf("%w: customer %s is outside your data scope for %s", fault.ErrDenied, cu.ID, perm)
	}
	return nil
}

// scoped reads customer id (a merged id reads as the survivor) and checks
// perm's scope on it.
func scoped(views replication.Tx, c app.Caller, perm access.Perm, id string) (*crm.Customer, error) {
	cu, err := crm.GetCustomer(views, id)
	if err != nil {
		return nil, err
	}
	return cu, inScope(c, perm, cu)
}

// checkID validates a customer id a request names in field.
func checkID(field, id string) error {
	if !replication.ValidULID(id) {
		return fault.Invalidf(field, "bad_name", "%q is not a customer", id)
	}
	return nil
}

// reader is how one reader sees customers: which custom fields are in use
// and whether a customer's phone numbers are masked.
type reader struct {
	c    app.Caller
	defs []crm.CustomField
}

func readerOf(views replication.Tx, c app.Caller) (reader, error) {
	defs, err := crm.CustomFields(views)
	return reader{c: c, defs: defs}, err
}

func (r reader) masked(cu *crm.Customer) bool { return !reaches(r.c, access.PhoneView, cu) }

// show is cu as the reader may see it.
func (r reader) show(cu *crm.Customer) *Customer {
	masked := r.masked(cu)
	out := &Customer{ID: cu.ID, Fields: map[string]string{}, PhonesMasked: masked, Origin: cu.Origin,
		Created: app.When(cu.Created), Updated: app.When(cu.Updated), Deleted: cu.Deleted, DeletedBy: cu.DeletedBy,
		DeletedAt: app.When(cu.DeletedAt), MergedFrom: cu.MergedFrom}
	for _, f := range crm.Fields {
		if v := cu.Get(f.Name); v != "" {
			if crm.IsPhoneField(f.Name) {
				v = ShowPhone(v, masked)
			}
			out.Fields[f.Name] = v
		}
	}
	for _, d := range r.defs {
		if v := cu.Custom[d.Key]; v != "" && !d.Retired {
			if out.Custom == nil {
				out.Custom = map[string]string{}
			}
			out.Custom[d.Key] = v
		}
	}
	return out
}

// showContact is ct as a reader who sees the customer's numbers masked or
// not may see it.
func showContact(ct *crm.Contact, masked bool) Contact {
	out := Contact{ID: ct.ID, CustomerID: ct.CustomerID, Fields: map[string]string{}, PhonesMasked: masked,
		Created: app.When(ct.Created), Updated: app.When(ct.Updated)}
	for _, f := range crm.ContactFields {
		if v := ct.Fields[f.Name]; v != "" {
			if crm.IsPhoneField(f.Name) {
				v = ShowPhone(v, masked)
			}
			out.Fields[f.Name] = v
		}
	}
	return out
}

// Duplicate is an existing customer a new or shown one may duplicate, and
// why (the fields that matched: "mobile", "contact_phone", "name", …). A
// customer outside the reader's scope shows only its name, city, owner
// and department: enough to see that a colleague already serves it.
type Duplicate struct {
	Customer *Customer
	Reasons  []string
}

func (r reader) duplicates(dups []crm.Duplicate) []Duplicate {
	out := make([]Duplicate, 0, len(dups))
	for _, d := range dups {
		cu := d.Customer
		var shown *Customer
		if reaches(r.c, access.CustomerRead, cu) {
			shown = r.show(cu)
		} else {
			shown = &Customer{ID: cu.ID, PhonesMasked: true, Fields: map[string]string{}}
			for _, f := range []string{"display_name", "city", "owner", "department"} {
				if v := cu.Get(f); v != "" {
					shown.Fields[f] = v
				}
			}
		}
		out = append(out, Duplicate{Customer: shown, Reasons: d.Reasons})
	}
	return out
}

// DuplicatesError refuses a new customer that looks like existing ones;
// Found are they, as the caller may see them. It wraps fault.ErrConflict.
type DuplicatesError struct{ Found []Duplicate }

// Error says how many customers look alike.
func (e *DuplicatesError) Error() string {
	return fmt.Sprintf("%d customers look like this one (set allow_duplicate to create it anyway)", len(e.Found))
}

// Unwrap makes the error a conflict.
func (e *DuplicatesError) Unwrap() error { return fault.ErrConflict }

// checkFields refuses the names of fields customers do not have: built-in
// fields by name, custom ones as "custom.<key>".
func checkFields(fields map[string]string) error {
	for n := range fields {
		if _, ok := crm.FieldByName(n); !ok && !strings.HasPrefix(n, crm.CustomPrefix) {
			return fault.Invalidf(n, "unknown_field", "no such customer field")
		}
	}
	return nil
}

// CustomerCreate is a new customer.
type CustomerCreate struct {
	// Fields are the values entered, built-in fields by name, custom ones
	// as "custom.<key>"; nil is no customer at all. An empty owner is the
	// caller; an empty department the caller's first, unless their scope
	// is the whole company.
	Fields map[string]string
	// AllowDuplicate creates the customer even when it looks like
	// existing ones; otherwise a *DuplicatesError lists them.
	AllowDuplicate bool
}

// Create adds a customer.
func (s *Customers) Create(ctx context.Context, c app.Caller, req CustomerCreate) (*Customer, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, err
	}
	if req.Fields == nil {
		return nil, fault.Invalidf("customer", "required", "is required")
	}
	fields := maps.Clone(req.Fields)
	if err := checkFields(fields); err != nil {
		return nil, err
	}
	if _, ok := fields["display_name"]; !ok {
		fields["display_name"] = "" // so that the domain reports it missing
	}
	if fields["owner"] == "" {
		fields["owner"] = c.User
	}
	if fields["department"] == "" && len(c.Departments) > 0 && c.Scope(access.CustomerWrite) != access.ScopeAll {
		fields["department"] = c.Departments[0]
	}
	if !c.Reaches(access.CustomerWrite, fields["owner"], fields["department"]) {
		return nil, fmt.Errorf("%w: owner %q and department %q are outside your data scope", fault.ErrDenied, fields["owner"], fields["department"])
	}
	id := s.IDs.New(s.Now.Time())
	if _, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(views, id, fields)
		if err != nil || req.AllowDuplicate {
			return app.One(d, err)
		}
		dups, err := crm.FindDuplicates(views, fields)
		if err != nil {
			return nil, err
		}
		if len(dups) > 0 {
			r, err := readerOf(views, c)
			if err != nil {
				return nil, err
			}
			return nil, &DuplicatesError{Found: r.duplicates(dups)}
		}
		return []replication.Draft{d}, nil
	}); err != nil {
		return nil, err
	}
	return s.after(c, id, access.CustomerWrite)
}

// CustomerUpdate writes fields of a customer.
type CustomerUpdate struct {
	ID string
	// Fields are the values to write, built-in fields by name, custom ones
	// as "custom.<key>"; nil is no customer at all. A field whose value is
	// the current one, as stored or as the caller was shown it (a phone in
	// national format, a masked number), is not written: an edit of one
	// field here does not overwrite a concurrent edit of another at
	// another branch, and a number the caller may not see stays as it is.
	Fields map[string]string
}

// Update changes fields of a customer within the caller's data scope, as
// one event, reading the customer once. It returns the customer as the
// caller may see it after the change, and whether anything changed.
func (s *Customers) Update(ctx context.Context, c app.Caller, req CustomerUpdate) (*Customer, bool, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, false, err
	}
	if req.Fields == nil {
		return nil, false, fault.Invalidf("customer", "required", "is required")
	}
	if err := checkID("name", req.ID); err != nil {
		return nil, false, err
	}
	if len(req.Fields) == 0 {
		return nil, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	if err := checkFields(req.Fields); err != nil {
		return nil, false, err
	}
	var out *Customer
	var changed []string
	evs, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionCustomerUpdate, customerRef(req.ID), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cu, err := scoped(views, c, access.CustomerWrite, req.ID)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		r, err := readerOf(views, c)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		shown := r.show(cu)
		fields := map[string]string{}
		for n, v := range req.Fields {
			if v != stored(cu, n) && v != shown.Get(n) && !samePhone(n, v, shown.Get(n)) {
				fields[n] = v
			}
		}
		owner, dept := cu.Get("owner"), cu.Get("department")
		if v, ok := fields["owner"]; ok {
			owner = v
		}
		if v, ok := fields["department"]; ok {
			dept = v
		}
		if !c.Reaches(access.CustomerWrite, owner, dept) {
			return nil, access.AuditNote{}, fmt.Errorf("%w: owner %q and department %q are outside your data scope", fault.ErrDenied, owner, dept)
		}
		out = shown
		if len(fields) == 0 {
			return nil, access.AuditNote{}, nil
		}
		d, ok, err := crm.ChangeCustomer(views, cu, fields)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		note := access.AuditNote{Changes: auditChanges(cu, d)}
		changed = cu.Changed(d)
		out = r.show(cu)
		return []replication.Draft{d}, note, nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(evs) > 0 {
		out.Updated = app.When(evs[0].HLC)
	}
	return out, len(changed) > 0, nil
}

// ActionCustomerUpdate is the audit action of a customer's edit.
const ActionCustomerUpdate = "customer.update"

// auditChanges lists what d, a field write ChangeCustomer decided for cu
// as read before it, changes: each value with what it was, from the
// record the edit read anyway. Phone numbers are marked, for the audit
// log to mask as pages do.
func auditChanges(cu *crm.Customer, d replication.Draft) []access.AuditChange {
	b, ok := d.Body.(*crmv1.CustomerFieldSet)
	if !ok {
		return nil
	}
	out := make([]access.AuditChange, 0, len(b.GetFields()))
	for _, fv := range b.GetFields() {
		out = append(out, access.AuditChange{Field: fv.GetField(), Before: stored(cu, fv.GetField()), After: fv.GetValue(),
			Phone: crm.IsPhoneField(fv.GetField())})
	}
	return out
}

// stored is the stored value of a built-in field or of "custom.<key>".
func stored(cu *crm.Customer, name string) string {
	if key, ok := strings.CutPrefix(name, crm.CustomPrefix); ok {
		return cu.Custom[key]
	}
	return cu.Get(name)
}

// samePhone reports whether v, typed into phone field name, is the number
// shown, in another notation.
func samePhone(name, v, shown string) bool {
	if !crm.IsPhoneField(name) || shown == "" || strings.Contains(shown, "*") {
		return false
	}
	return crm.FormatPhone(shown, crm.DefaultRegion) == v
}

// Get reads a customer with its contacts. An id merged into another
// customer reads as the survivor (MergedFrom set); a customer in the
// recycle bin reads only for callers who may restore it.
func (s *Customers) Get(_ context.Context, c app.Caller, id string) (*Customer, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) (*Customer, error) {
		cu, err := scoped(views, c, access.CustomerRead, id)
		if err != nil {
			return nil, err
		}
		if cu.Deleted && !reaches(c, access.CustomerDelete, cu) {
			return nil, fmt.Errorf("customer %s: %w", id, fault.ErrNotFound)
		}
		r, err := readerOf(views, c)
		if err != nil {
			return nil, err
		}
		out := r.show(cu)
		cts, err := crm.Contacts(views, cu.ID)
		for _, ct := range cts {
			out.Contacts = append(out.Contacts, showContact(ct, out.PhonesMasked))
		}
		return out, err
	})
}

// Delete moves a customer to the recycle bin, and Restore takes it out;
// each is audited in the same transaction.
func (s *Customers) Delete(ctx context.Context, c app.Caller, id string) (*Customer, error) {
	return s.binChange(ctx, c, id, "customer.delete", crm.DeleteCustomer)
}

// Restore takes a customer out of the recycle bin.
func (s *Customers) Restore(ctx context.Context, c app.Caller, id string) (*Customer, error) {
	return s.binChange(ctx, c, id, "customer.undelete", crm.RestoreCustomer)
}

func (s *Customers) binChange(ctx context.Context, c app.Caller, id, action string, cmd func(replication.Tx, string) (replication.Draft, error)) (*Customer, error) {
	if err := c.Require(access.CustomerDelete); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	var target string
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, action, customerRef(id), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cu, err := scoped(views, c, access.CustomerDelete, id)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		target = cu.ID
		d, err := cmd(views, cu.ID)
		return []replication.Draft{d}, access.AuditNote{Detail: cu.Get("display_name")}, err
	}); err != nil {
		return nil, err
	}
	return s.after(c, target, access.CustomerDelete)
}

// AuditMergedField is the field of a merge's audit entry: the name of
// the customer merged into the target.
const AuditMergedField = "merged"

// customerRef names a customer in audit entries, as the API does.
func customerRef(id string) string { return "customers/" + id }

// after reads a customer after a change, as the writer (holding perm)
// may see it.
func (s *Customers) after(c app.Caller, id string, perm access.Perm) (*Customer, error) {
	return app.Read(s.Store, func(views replication.Tx) (*Customer, error) {
		cu, err := scoped(views, c, perm, id)
		if err != nil {
			return nil, err
		}
		r, err := readerOf(views, c)
		return r.show(cu), err
	})
}

// ListDeleted lists the recycle bin, a page at a time: the customers the
// caller may restore.
func (s *Customers) ListDeleted(_ context.Context, c app.Caller, size int, after string) (app.Page[*Customer], error) {
	if err := c.Require(access.CustomerDelete); err != nil {
		return app.Page[*Customer]{}, err
	}
	size, err := app.PageSize(size, 50)
	if err != nil {
		return app.Page[*Customer]{}, err
	}
	if after != "" && !replication.ValidULID(after) {
		return app.Page[*Customer]{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return app.Read(s.Store, func(views replication.Tx) (app.Page[*Customer], error) {
		var out app.Page[*Customer]
		r, err := readerOf(views, c)
		if err != nil {
			return out, err
		}
		for len(out.Items) < size {
			cs, err := crm.ListDeleted(views, after, size)
			if err != nil {
				return out, err
			}
			for _, cu := range cs {
				after = cu.ID
				if reaches(c, access.CustomerDelete, cu) {
					out.Items = append(out.Items, r.show(cu))
					if len(out.Items) == size {
						break
					}
				}
			}
			if len(cs) < size {
				return out, nil
			}
		}
		if more, err := crm.ListDeleted(views, after, 1); err != nil || len(more) == 0 {
			return out, err
		}
		out.Next = after
		return out, nil
	})
}

// Condition is one condition of a search: a field (built-in, or
// "custom.<key>") that equals or contains a value.
type Condition struct {
	Field, Value string
	Contains     bool
}

// Search is a customer search: text anywhere, and conditions that all
// hold.
type Search struct {
	Text       string
	Conditions []Condition
	// Unknown, when set, is an operator the caller asked for that is
	// neither equals nor contains, for the field named: the search is
	// refused.
	Unknown *Condition
}

// maxConditions bounds the conditions of one search.
const maxConditions = 20

func (q Search) domain() (crm.Search, error) {
	if len(q.Conditions) > maxConditions {
		return crm.Search{}, fault.Invalidf("filters", "too_many", "%d filters, at most %d", len(q.Conditions), maxConditions)
	}
	if q.Unknown != nil {
		return crm.Search{}, fault.Invalidf(q.Unknown.Field, "bad_operator", "unknown operator %s", q.Unknown.Value)
	}
	out := crm.Search{Text: q.Text}
	for _, f := range q.Conditions {
		op := crm.OpEquals
		if f.Contains {
			op = crm.OpContains
		}
		out.Filters = append(out.Filters, crm.Filter{Field: f.Field, Op: op, Value: f.Value})
	}
	return out, nil
}

// search runs q as c may see it: the customers perms reach.
func search(views replication.Tx, c app.Caller, q crm.Search, perms ...access.Perm) ([]*crm.Customer, bool, error) {
	q.Visible = func(cu *crm.Customer) bool {
		for _, p := range perms {
			if !reaches(c, p, cu) {
				return false
			}
		}
		return true
	}
	return crm.SearchCustomers(views, q)
}

// Search finds the customers the caller may read, a page at a time in id
// order; an empty search lists them all.
func (s *Customers) Search(_ context.Context, c app.Caller, q Search, size int, after string) (app.Page[*Customer], error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return app.Page[*Customer]{}, err
	}
	dq, err := q.domain()
	if err != nil {
		return app.Page[*Customer]{}, err
	}
	if dq.Limit, err = app.PageSize(size, 50); err != nil {
		return app.Page[*Customer]{}, err
	}
	dq.After = after
	return app.Read(s.Store, func(views replication.Tx) (app.Page[*Customer], error) {
		var out app.Page[*Customer]
		cs, more, err := search(views, c, dq, access.CustomerRead)
		if err != nil {
			return out, err
		}
		r, err := readerOf(views, c)
		if err != nil {
			return out, err
		}
		for _, cu := range cs {
			out.Items = append(out.Items, r.show(cu))
		}
		if more {
			out.Next = cs[len(cs)-1].ID
		}
		return out, nil
	})
}

// Suggestion is one type-ahead hit: a customer and the field whose value
// holds what was typed (phones as the caller may see them).
type Suggestion struct {
	ID, Name, Code, City string
	Field, Value         string
}

// Suggest answers type-ahead with up to limit customers the caller may
// read (0: 10, at most 50).
func (s *Customers) Suggest(_ context.Context, c app.Caller, text string, limit int) ([]Suggestion, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	switch {
	case limit < 0:
		return nil, fault.Invalidf("limit", "negative", "must not be negative")
	case limit == 0:
		limit = 10
	case limit > 50:
		limit = 50
	}
	return app.Read(s.Store, func(views replication.Tx) ([]Suggestion, error) {
		hits, err := crm.Suggest(views, text, limit, func(cu *crm.Customer) bool { return reaches(c, access.CustomerRead, cu) })
		out := make([]Suggestion, 0, len(hits))
		for _, h := range hits {
			cu := h.Customer
			v := cu.Get(h.Field)
			if crm.IsPhoneField(h.Field) {
				v = ShowPhone(v, !reaches(c, access.PhoneView, cu))
			}
			out = append(out, Suggestion{ID: cu.ID, Name: cu.Get("display_name"), Code: cu.Get("code"), City: cu.Get("city"), Field: h.Field, Value: v})
		}
		return out, err
	})
}

// LookupByPhone lists the customers the caller may read that have number
// (in any notation) in a phone field of theirs or their contacts'.
func (s *Customers) LookupByPhone(_ context.Context, c app.Caller, number string) ([]*Customer, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) ([]*Customer, error) {
		cs, err := crm.LookupByPhone(views, number)
		if err != nil {
			return nil, err
		}
		r, err := readerOf(views, c)
		var out []*Customer
		for _, cu := range cs {
			if reaches(c, access.CustomerRead, cu) {
				out = append(out, r.show(cu))
			}
		}
		return out, err
	})
}

// DuplicateCheck is a customer to check for duplicates: the values
// entered (or, of an existing customer, its values; its id then keeps it
// out of its own duplicates).
type DuplicateCheck struct {
	ID     string
	Fields map[string]string
}

// FindDuplicates lists the customers that look like the one given.
func (s *Customers) FindDuplicates(_ context.Context, c app.Caller, req DuplicateCheck) ([]Duplicate, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	if req.Fields == nil {
		return nil, fault.Invalidf("customer", "required", "is required")
	}
	if err := checkFields(req.Fields); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) ([]Duplicate, error) {
		dups, err := crm.FindDuplicates(views, req.Fields)
		if err != nil {
			return nil, err
		}
		if req.ID != "" {
			dups = dropSelf(dups, req.ID)
		}
		r, err := readerOf(views, c)
		return r.duplicates(dups), err
	})
}

func dropSelf(dups []crm.Duplicate, id string) []crm.Duplicate {
	out := dups[:0]
	for _, d := range dups {
		if d.Customer.ID != id {
			out = append(out, d)
		}
	}
	return out
}

// Merge merges customer Loser into Winner; Fields are the values the
// survivor takes where the two differ (built-in or "custom.<key>"), the
// others keep the winner's value or, where it has none, the loser's.
type Merge struct {
	Winner, Loser string
	Fields        map[string]string
}

// Merge merges two customers the caller may merge, audited in the same
// transaction, and returns the survivor.
func (s *Customers) Merge(ctx context.Context, c app.Caller, req Merge) (*Customer, error) {
	if err := c.Require(access.CustomerMerge); err != nil {
		return nil, err
	}
	if err := checkID("winner", req.Winner); err != nil {
		return nil, err
	}
	if err := checkID("loser", req.Loser); err != nil {
		return nil, err
	}
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, "customer.merge", customerRef(req.Winner), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		var names [2]string
		for i, id := range []string{req.Winner, req.Loser} {
			cu, err := crm.GetCustomer(views, id)
			if errors.Is(err, fault.ErrNotFound) {
				break // the domain says which side is missing
			}
			if err != nil {
				return nil, access.AuditNote{}, err
			}
			if err := inScope(c, access.CustomerMerge, cu); err != nil {
				return nil, access.AuditNote{}, err
			}
			names[i] = cu.Get("display_name")
		}
		d, err := crm.MergeCustomers(views, req.Winner, req.Loser, req.Fields)
		return []replication.Draft{d}, access.AuditNote{Detail: fmt.Sprintf("merged %s (%s) into %s", customerRef(req.Loser), names[1], names[0]),
			Changes: []access.AuditChange{{Field: AuditMergedField, After: names[1]}}}, err
	}); err != nil {
		return nil, err
	}
	return s.after(c, req.Winner, access.CustomerMerge)
}

// ListRequest asks for one page of the customer list: a search, an order
// (one of crm.SortColumns; "" is the name) and a page position (see
// crm.List).
type ListRequest struct {
	Search Search
	keyset.Order
	Size int
}

// ListResult is one page of the customer list with the exact number of
// customers the caller may read under the search, and the cursors of the
// pages around it.
type ListResult struct {
	Items      []*Customer
	Total      int
	Prev, Next string
}

// List reads a page of the customers the caller may read, sorted, with
// the total. Its cost does not grow with the number of customers when the
// search is empty or filters on counted fields (city, level, owner,
// department, status, type, industry) and name text; see crm.SortedCustomers.
func (s *Customers) List(_ context.Context, c app.Caller, q ListRequest) (ListResult, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return ListResult{}, err
	}
	dq, err := q.Search.domain()
	if err != nil {
		return ListResult{}, err
	}
	l := crm.List{Search: dq, Order: q.Order}
	if l.Limit, err = app.PageSize(q.Size, 50); err != nil {
		return ListResult{}, err
	}
	switch c.Scope(access.CustomerRead) {
	case access.ScopeAll:
	case access.ScopeDepartment:
		l.Scope = &crm.ListScope{Owner: c.User, Departments: c.Departments}
	default:
		l.Scope = &crm.ListScope{Owner: c.User}
	}
	return app.Read(s.Store, func(views replication.Tx) (ListResult, error) {
		page, err := crm.SortedCustomers(views, l)
		if err != nil {
			return ListResult{}, err
		}
		r, err := readerOf(views, c)
		if err != nil {
			return ListResult{}, err
		}
		out := ListResult{Total: page.Total, Prev: page.Prev, Next: page.Next}
		for _, cu := range page.Customers {
			out.Items = append(out.Items, r.show(cu))
		}
		return out, nil
	})
}
