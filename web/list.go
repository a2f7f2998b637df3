package web

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"branchline/internal/keyset"
)

// List is the state of a list page as its URL holds it, so that every
// list is bookmarkable and a reload shows the same page: the search text
// (q), the sort column and direction (sort, dir=desc), where the page is
// (after=cursor: the page after it; before=cursor: the page before it;
// page=last) and the page's own filters, whatever their names. Every list
// page reads its URL with ParseList and renders the sortable column
// headers ("sort-th") and the pager with the total ("pager") of
// templates/list.html from it.
type List struct {
	Path string
	Text string
	// Order is the column, direction and page position, as the domain's
	// list requests take them.
	keyset.Order
	Filters url.Values

	spec ListSpec
}

// ListSpec is what a list page allows: the columns it sorts by (the first
// is the default, in DefaultDesc's direction) and the query parameters it
// filters by.
type ListSpec struct {
	Sorts       []string
	DefaultDesc bool
	Filters     []string
}

// maxListParam bounds what a list keeps of a URL parameter, in
// characters: cursors and search texts are shorter; longer values are a
// mistake or an attack, and are dropped.
const maxListParam = 512

// ParseList reads a list's state from a query string. A sort column the
// page does not allow, an unknown direction and a cursor with both after
// and before are ignored: a hand-edited URL shows the default list rather
// than an error.
func ParseList(path string, q url.Values, spec ListSpec) List {
	get := func(name string) string {
		v := strings.TrimSpace(q.Get(name))
		if len(v) > maxListParam || !utf8.ValidString(v) {
			return ""
		}
		return v
	}
	l := List{Path: path, Text: get("q"), Filters: url.Values{}, spec: spec}
	if len(spec.Sorts) > 0 {
		l.Sort, l.Desc = spec.Sorts[0], spec.DefaultDesc
	}
	if s := get("sort"); s != "" && slices.Contains(spec.Sorts, s) {
		l.Sort = s
		l.Desc = s == spec.Sorts[0] && spec.DefaultDesc
	}
	switch get("dir") {
	case "desc":
		l.Desc = true
	case "asc":
		l.Desc = false
	}
	after, before := get("after"), get("before")
	switch {
	case after != "" && before != "":
	case after != "":
		l.Cursor = after
	case before != "":
		l.Cursor, l.Back = before, true
	case get("page") == "last":
		l.Last = true
	}
	for _, f := range spec.Filters {
		for _, v := range q[f] {
			if v = strings.TrimSpace(v); v != "" && len(v) <= maxListParam && utf8.ValidString(v) {
				l.Filters.Add(f, v)
			}
		}
	}
	return l
}

// Filter returns the value of one of the page's filters.
func (l List) Filter(name string) string { return l.Filters.Get(name) }

// query is the list's query string without a page position: its search,
// order (when not the default) and filters.
func (l List) query(sort string, desc bool) url.Values {
	v := url.Values{}
	for k, vals := range l.Filters {
		v[k] = slices.Clone(vals)
	}
	if l.Text != "" {
		v.Set("q", l.Text)
	}
	if len(l.spec.Sorts) > 0 && sort != l.spec.Sorts[0] {
		v.Set("sort", sort)
	}
	if len(l.spec.Sorts) == 0 || desc != (sort == l.spec.Sorts[0] && l.spec.DefaultDesc) {
		if desc {
			v.Set("dir", "desc")
		} else {
			v.Set("dir", "asc")
		}
	}
	return v
}

func (l List) link(v url.Values) string {
	if len(v) == 0 {
		return l.Path
	}
	return l.Path + "?" + v.Encode()
}

// URL is the address of the list's first page as filtered and sorted.
func (l List) URL() string { return l.link(l.query(l.Sort, l.Desc)) }

// Query is the list's filter, search and order as a query string, for
// links that act on the same list (an export, a print, a bulk action's
// way back).
func (l List) Query() string { return l.query(l.Sort, l.Desc).Encode() }

// Here is the address of the page shown, to come back to after an action
// (POST-redirect-GET).
func (l List) Here() string {
	v := l.query(l.Sort, l.Desc)
	switch {
	case l.Cursor != "" && l.Back:
		v.Set("before", l.Cursor)
	case l.Cursor != "":
		v.Set("after", l.Cursor)
	case l.Last:
		v.Set("page", "last")
	}
	return l.link(v)
}

// Header is a sortable column header: its label, the address that sorts
// by it (the other way round when the list is sorted by it already) and
// the order it shows, as aria-sort says it.
type Header struct {
	Label, URL, Sort string
	// Class is the header cell's class (which screens hide the column).
	Class string
}

// Col is the header of column col labelled label, of class class when
// given.
func (l List) Col(col, label string, class ...string) Header {
	h := Header{Label: label, Sort: "none", Class: strings.Join(class, " ")}
	desc := false
	if col == l.Sort {
		desc = !l.Desc
		h.Sort = "ascending"
		if l.Desc {
			h.Sort = "descending"
		}
	}
	h.URL = l.link(l.query(col, desc))
	return h
}

// Pager is the pager of a list page: the exact total under the list's
// filter and the addresses of the first, previous, next and last pages
// (empty where there is none).
type Pager struct {
	Total                     int
	First, Prev, Next, LastAt string
}

// Pager makes the pager of a page whose cursors (those the domain's list
// returned) are prev and next, empty at either end.
func (l List) Pager(total int, prev, next string) Pager {
	p := Pager{Total: total}
	v := l.query(l.Sort, l.Desc)
	if prev != "" {
		p.First = l.link(v)
		b := l.query(l.Sort, l.Desc)
		b.Set("before", prev)
		p.Prev = l.link(b)
	}
	if next != "" {
		a := l.query(l.Sort, l.Desc)
		a.Set("after", next)
		p.Next = l.link(a)
		z := l.query(l.Sort, l.Desc)
		z.Set("page", "last")
		p.LastAt = l.link(z)
	}
	return p
}
