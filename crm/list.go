package crm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
)

// Customer lists: a page of the customers a search finds, in the order of
// one column, with the exact number found, for a million customers.
//
// Orders come from ordered index entries, one per sortable column and
// customer, read forwards or backwards (Tx.ScanReverse) for either
// direction, kept by the deferred indexer with the other index entries:
//
//	crm \0 so \0 col \0 E(sort value) id                 -> the customer's filtered fields
//	crm \0 sf \0 field \0 value \0 col \0 E(sort value) id -> the same, per value of orderedFields
//
// E escapes NUL and ends the value, so that a shorter value sorts before
// its extensions. The entry's value holds the customer's folded values of countedFields, so a
// list filtered on them (or limited to an owner's or a department's
// customers) reads the entries alone. Totals come from counters kept in
// the same index batch (index.go): all live customers, and per value of
// each of countedFields.
//
// A list filtered on a city or an owner reads that value's own order. A
// list filtered otherwise reads the column's order from the cursor on and
// keeps the entries that pass the filter, so a page costs the page size
// divided by the share of customers the filter keeps — more where filter
// and order correlate, which is why cities and owners (company names
// start with their city; an agent's customers were created while they
// worked here) have orders of their own. When a filter keeps few
// customers (at most smallList, which its counter says before reading
// anything) the list reads their entries instead, found by the attribute
// index, and orders those few in memory.
//
// Searches the indexes cannot answer this way (containment in a field, a
// custom field, a phone filter) read every candidate customer, as
// SearchCustomers does, and order them in memory: their cost grows with
// the number of candidates.

// Sortable columns of customer lists.
const (
	SortName    = "name"
	SortCode    = "code"
	SortCity    = "city"
	SortLevel   = "level"
	SortCreated = "created"
	SortOwner   = "owner"
)

// SortColumns lists the columns a customer list can be sorted by.
var SortColumns = []string{SortName, SortCode, SortCity, SortLevel, SortCreated, SortOwner}

// sortField is the customer field each text column sorts by.
var sortField = map[string]string{
	SortName: "display_name", SortCode: "code", SortCity: "city", SortLevel: "level", SortOwner: "owner",
}

// countedFields are the fields with a counter per value and whose values
// the list entries carry: the filters a list answers from the indexes,
// and the data scope (owner, department).
var countedFields = []string{"city", "level", "owner", "department", "status", "type", "industry"}

// smallList is the most candidates a list orders in memory; see above.
var smallList = 2000

func countPrefix() []byte { return replication.Prefix("crm", "cnt") }
func countKey() []byte    { return replication.Key("crm", "cnt", "live") }
func attrCountKey(field, value string) []byte {
	return replication.Key("crm", "cnt", "at", field, value)
}

func orderPrefix(col string) []byte {
	return replication.Prefix("crm", "so", col)
}

// orderedFields are the fields with list orders of their own per value:
// a list filtered on one of them (a city; an owner, which is also what an
// agent who sees only their own customers lists) reads only its
// customers' entries, however the filter and the order correlate (company
// names start with their city; an agent's customers were created while
// they worked here).
var orderedFields = []string{"city", "owner"}

// fieldOrderPrefix holds the order of col among the customers whose field
// has the (folded) value.
func fieldOrderPrefix(field, value, col string) []byte {
	return replication.Prefix("crm", "sf", field, value, col)
}

// sortValue is the byte string customers are ordered by in column col.
func sortValue(c *Customer, col string) []byte {
	if col == SortCreated {
		return keyset.Uint(uint64(c.Created))
	}
	return keyset.Text(c.Fields[sortField[col]])
}

// idOf is the id ending an ascending key.
func idOf(asc []byte) string { return keyset.ID(asc, ulidLen) }

const ulidLen = 26

// listAttrs is the value of c's list entries.
func listAttrs(c *Customer) string {
	vals := make([]string, len(countedFields))
	for i, f := range countedFields {
		vals[i] = Fold(c.Fields[f])
	}
	return strings.Join(vals, "\x00")
}

// listEntries adds the list order entries of live customer c to out.
func listEntries(c *Customer, out map[string]string) {
	attrs := listAttrs(c)
	folded := make([]string, len(orderedFields))
	for i, f := range orderedFields {
		folded[i] = Fold(c.Fields[f])
	}
	for _, col := range SortColumns {
		s := keyset.Key(sortValue(c, col), c.ID)
		out[string(append(orderPrefix(col), s...))] = attrs
		for i, f := range orderedFields {
			if v := folded[i]; v != "" {
				out[string(append(fieldOrderPrefix(f, v, col), s...))] = attrs
			}
		}
	}
}

// CountCustomers returns the number of live customers, and of those whose
// field (one of countedFields) has value, from the counters.
func CountCustomers(views replication.Tx, field, value string) (int, error) {
	k := countKey()
	if field != "" {
		if !slices.Contains(countedFields, field) {
			return 0, fault.Invalidf(field, "not_counted", "no counter for %s", field)
		}
		k = attrCountKey(field, compareForm(field, value))
	}
	n, err := replication.ReadCount(views, k)
	return int(n), err
}

// ListScope limits a list to the customers a reader's data scope reaches:
// those Owner owns, and those of Departments.
type ListScope struct {
	Owner       string
	Departments []string
}

// reaches compares folded values, as the list entries hold them.
func (s *ListScope) reaches(owner, dept string) bool {
	if s == nil {
		return true
	}
	if Fold(owner) == Fold(s.Owner) {
		return true
	}
	dept = Fold(dept)
	return dept != "" && slices.ContainsFunc(s.Departments, func(d string) bool { return Fold(d) == dept })
}

// List asks for one page of a customer list: the customers Search finds
// (its After and Limit are not used), within Scope when set, in
// the order of Sort (one of SortColumns; "" is the name), Desc reversing
// it. Without Cursor it is the first page, or the last with Last; with
// Cursor (a page's Prev or Next) the page after it, or before it with
// Back.
type List struct {
	Search Search
	Scope  *ListScope
	keyset.Order
	Limit int
	// Skip passes over that many customers before the first page (a page
	// number); it costs a read of each.
	Skip int
}

// ListPage is one page of a list. Prev and Next are the cursors of the
// pages before and after it, empty at either end; Total is the number of
// customers the whole list holds.
type ListPage struct {
	Customers  []*Customer
	Total      int
	Prev, Next string
}

// listed is one customer of a list being built: its ascending suffix in
// the list's column and its list attributes.
type listed struct {
	asc   []byte
	attrs string
}

// restriction is one condition of an indexed list: how many customers it
// keeps and which.
type restriction struct {
	size int
	ids  func() ([]string, error)
	// order, when set, is the prefix of the list order of the customers
	// it keeps (orderedFields).
	order []byte
}

// fieldRestriction keeps the customers whose field has the folded value.
func fieldRestriction(views replication.Tx, field, value, col string) (restriction, error) {
	n, err := replication.ReadCount(views, attrCountKey(field, value))
	r := restriction{size: int(n), ids: func() ([]string, error) { return scanIDs(views, attrPrefix(field, value), 0) }}
	if slices.Contains(orderedFields, field) {
		r.order = fieldOrderPrefix(field, value, col)
	}
	return r, err
}

// SortedCustomers returns a page of a customer list.
func SortedCustomers(views replication.Tx, l List) (ListPage, error) {
	forms, err := l.Search.check(views)
	if err != nil {
		return ListPage{}, err
	}
	if l.Sort == "" {
		l.Sort = SortName
	}
	if !slices.Contains(SortColumns, l.Sort) {
		return ListPage{}, fault.Invalidf("sort", "unknown_column", "cannot sort by %q", l.Sort)
	}
	l.Limit = max(l.Limit, 1)
	cursor, err := keyset.ParseCursor(l.Cursor)
	if err != nil || cursor != nil && !replication.ValidULID(idOf(cursor)) {
		return ListPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	eq := map[string]string{} // counted field → folded value every customer listed has
	indexed := true
	for i, f := range l.Search.Filters {
		if f.Op != OpEquals || !slices.Contains(countedFields, f.Field) || forms[i] == "" {
			indexed = false
			break
		}
		if v, ok := eq[f.Field]; ok && v != forms[i] {
			return ListPage{}, nil // two values of one field: nothing
		}
		eq[f.Field] = forms[i]
	}
	if !indexed {
		return slowList(views, l, cursor)
	}
	var rs []restriction
	for _, f := range countedFields {
		v, ok := eq[f]
		if !ok {
			continue
		}
		r, err := fieldRestriction(views, f, v, l.Sort)
		if err != nil {
			return ListPage{}, err
		}
		rs = append(rs, r)
	}
	var text map[string]bool
	if q := queryForm(l.Search.Text); q != "" {
		ids, err := findText(views, q, 0)
		if err != nil {
			return ListPage{}, err
		}
		text = make(map[string]bool, len(ids))
		for _, id := range ids {
			text[id] = true
		}
		rs = append(rs, restriction{size: len(ids), ids: func() ([]string, error) { return ids, nil }})
	}
	if sc := l.Scope; sc != nil {
		if len(sc.Departments) == 0 {
			r, err := fieldRestriction(views, "owner", Fold(sc.Owner), l.Sort)
			if err != nil {
				return ListPage{}, err
			}
			rs = append(rs, r)
		} else {
			// The union of the owner's and the departments' customers.
			ids, err := scanIDs(views, attrPrefix("owner", Fold(sc.Owner)), 0)
			if err != nil {
				return ListPage{}, err
			}
			for _, d := range sc.Departments {
				more, err := scanIDs(views, attrPrefix("department", Fold(d)), 0)
				if err != nil {
					return ListPage{}, err
				}
				ids = append(ids, more...)
			}
			slices.Sort(ids)
			ids = slices.Compact(ids)
			rs = append(rs, restriction{size: len(ids), ids: func() ([]string, error) { return ids, nil }})
		}
	}
	ownerAt, deptAt := slices.Index(countedFields, "owner"), slices.Index(countedFields, "department")
	keep := func(id, attrs string) bool {
		vals := strings.Split(attrs, "\x00")
		if len(vals) != len(countedFields) {
			return false
		}
		for i, f := range countedFields {
			if v, ok := eq[f]; ok && vals[i] != v {
				return false
			}
		}
		if text != nil && !text[id] {
			return false
		}
		return l.Scope.reaches(vals[ownerAt], vals[deptAt])
	}
	if len(rs) == 0 {
		n, err := replication.ReadCount(views, countKey())
		if err != nil {
			return ListPage{}, err
		}
		return finishPage(views, l, cursor, int(n), indexSource(views, orderPrefix(l.Sort), nil))
	}
	small := slices.MinFunc(rs, func(a, b restriction) int { return a.size - b.size })
	// A few customers without an order of their own are read and ordered
	// in memory; a city's or an owner's have one, which is cheaper.
	if small.size <= smallList && small.order == nil {
		ids, err := small.ids()
		if err != nil {
			return ListPage{}, err
		}
		var all [][]byte
		for _, id := range ids {
			e, ok, err := orderEntry(views, id, l.Sort)
			if err != nil {
				return ListPage{}, err
			}
			if ok && keep(id, e.attrs) {
				all = append(all, e.asc)
			}
		}
		return finishPage(views, l, cursor, len(all), keyset.Slice(all))
	}
	total := small.size
	if len(rs) > 1 {
		// Several broad conditions: count the customers of the narrowest
		// that pass the others, one record each.
		ids, err := small.ids()
		if err != nil {
			return ListPage{}, err
		}
		total = 0
		for _, id := range ids {
			e, ok, err := orderEntry(views, id, l.Sort)
			if err != nil {
				return ListPage{}, err
			}
			if ok && keep(id, e.attrs) {
				total++
			}
		}
	}
	// The narrowest condition with an order of its own gives the order;
	// else the list's order, read through the filter.
	order := orderPrefix(l.Sort)
	best := -1
	for i, r := range rs {
		if r.order != nil && (best < 0 || r.size < rs[best].size) {
			best = i
		}
	}
	if best >= 0 {
		order = rs[best].order
	}
	return finishPage(views, l, cursor, total, indexSource(views, order, keep))
}

// orderEntry reads customer id's ascending entry of column col from its
// index record.
func orderEntry(views replication.Tx, id, col string) (listed, bool, error) {
	b, err := views.Get(indexRecordKey(id))
	if errors.Is(err, replication.ErrNotFound) {
		return listed{}, false, nil
	} else if err != nil {
		return listed{}, false, err
	}
	// Find the one entry without building the whole record.
	p := orderPrefix(col)
	var found listed
	var ok bool
	err = eachIndexEntry(id, b, func(k, v []byte) bool {
		var s []byte
		if s, ok = bytes.CutPrefix(k, p); ok {
			found = listed{asc: bytes.Clone(s), attrs: string(v)}
		}
		return !ok
	})
	if err != nil {
		return listed{}, false, fmt.Errorf("index record of %s: %w", id, err)
	}
	return found, ok, nil
}

// cutUvarintBytes cuts a length-prefixed byte string off b.
func cutUvarintBytes(b []byte) (s, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

// indexSource reads the order entries below prefix p, forwards or
// backwards, keeping those keep passes (nil: all).
func indexSource(views replication.Tx, p []byte, keep func(id, attrs string) bool) keyset.Source {
	return func(desc bool, after []byte, fn func(key []byte) bool) error {
		each := func(k, v []byte) (bool, error) {
			s := k[len(p):]
			if keep != nil && !keep(idOf(s), string(v)) {
				return true, nil
			}
			return fn(bytes.Clone(s)), nil
		}
		var bound []byte
		if after != nil {
			bound = append(bytes.Clone(p), after...)
		}
		if desc {
			return views.ScanReverse(p, bound, each)
		}
		if bound != nil {
			bound = append(bound, 0) // strictly after
		}
		return views.Scan(p, bound, each)
	}
}

// finishPage reads the page l asks for from src and the customers on it.
func finishPage(views replication.Tx, l List, cursor []byte, total int, src keyset.Source) (ListPage, error) {
	kp, err := keyset.Read(src, keyset.Request{Desc: l.Desc, Cursor: cursor, Back: l.Back, Last: l.Last, Limit: l.Limit, Skip: l.Skip})
	if err != nil {
		return ListPage{}, err
	}
	page := ListPage{Total: total, Prev: keyset.Cursor(kp.Prev), Next: keyset.Cursor(kp.Next)}
	for _, k := range kp.Keys {
		c, err := readCustomer(views, idOf(k))
		if err != nil {
			return ListPage{}, err
		}
		if c != nil && !c.Deleted {
			page.Customers = append(page.Customers, c)
		}
	}
	return page, nil
}

// slowList lists a search the indexes cannot answer: every customer it
// finds is read (as SearchCustomers reads them), counted and ordered in
// memory.
func slowList(views replication.Tx, l List, cursor []byte) (ListPage, error) {
	s := l.Search
	s.After, s.Limit = "", int(^uint(0)>>1)
	sc := l.Scope
	visible := s.Visible
	s.Visible = func(c *Customer) bool {
		return sc.reaches(c.Fields["owner"], c.Fields["department"]) && (visible == nil || visible(c))
	}
	found, _, err := SearchCustomers(views, s)
	if err != nil {
		return ListPage{}, err
	}
	all := make([][]byte, len(found))
	for i, c := range found {
		all[i] = keyset.Key(sortValue(c, l.Sort), c.ID)
	}
	return finishPage(views, l, cursor, len(all), keyset.Slice(all))
}
