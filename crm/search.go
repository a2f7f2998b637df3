package crm

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"branchline/fault"
	"branchline/replication"
)

// Op is how a filter compares a field with its value.
type Op int

// Filter operators. Both compare folded text (see Fold); phone fields
// compare the digits of the number as dialled in the default region.
const (
	OpEquals Op = iota
	OpContains
)

// Filter is one condition of a search on a field: a built-in field name or
// "custom.<key>".
type Filter struct {
	Field string
	Op    Op
	Value string
}

// Search is a customer search: every filter must hold and, when Text is
// not empty, the name, mnemonic, code or a phone must contain it.
// Visible, when set, leaves out customers the reader may not see (data
// scope). Results are in id order after After, at most Limit.
type Search struct {
	Filters []Filter
	Text    string
	After   string
	Limit   int
	Visible func(*Customer) bool
}

// maxFilterLen bounds filter values and search text, in characters.
const maxFilterLen = 200

// check validates the search and returns the filters' values in the form
// they are compared in.
func (s *Search) check(views replication.Tx) ([]string, error) {
	if s.After != "" && !replication.ValidULID(s.After) {
		return nil, fault.Invalidf("page_token", "bad_token", "not a page token of this search")
	}
	if err := checkQueryText("query", s.Text); err != nil {
		return nil, err
	}
	forms := make([]string, len(s.Filters))
	for i, f := range s.Filters {
		if err := checkQueryText(f.Field, f.Value); err != nil {
			return nil, err
		}
		if f.Op != OpEquals && f.Op != OpContains {
			return nil, fault.Invalidf(f.Field, "bad_operator", "unknown operator %d", f.Op)
		}
		if key, ok := strings.CutPrefix(f.Field, CustomPrefix); ok {
			if _, err := GetCustomField(views, key); err != nil {
				return nil, fault.Invalidf(f.Field, "unknown_field", "no such custom field")
			}
		} else if _, ok := FieldByName(f.Field); !ok {
			return nil, fault.Invalidf(f.Field, "unknown_field", "no such customer field")
		}
		forms[i] = compareForm(f.Field, f.Value)
	}
	return forms, nil
}

func checkQueryText(field, v string) error {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return fault.Invalidf(field, "bad_text", "not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(v); n > maxFilterLen {
		return fault.Invalidf(field, "too_long", "%d characters, at most %d", n, maxFilterLen)
	}
	return nil
}

// compareForm is the form a field's value is compared in.
func compareForm(field, v string) string {
	if IsPhoneField(field) {
		if strings.HasPrefix(v, "+") {
			if e, err := NormalizePhone(v, DefaultRegion); err == nil {
				return phoneDigits(e) // a stored E.164 number
			}
		}
		return digitsOf(Fold(v))
	}
	return Fold(v)
}

func (f Filter) holds(c *Customer, form string) bool {
	v := compareForm(f.Field, c.value(f.Field))
	if f.Op == OpContains {
		return strings.Contains(v, form)
	}
	return v == form
}

// textHolds reports whether one of the type-ahead fields contains q (in
// query form) and which.
func textHolds(c *Customer, q string) (field string, at int) {
	for _, name := range gramFields {
		if i := strings.Index(Fold(c.Fields[name]), q); i >= 0 {
			return name, i
		}
	}
	if isPhoneQuery(q) {
		for _, f := range Fields {
			if f.typ != phoneField || c.Fields[f.Name] == "" {
				continue
			}
			if i := strings.Index(phoneDigits(c.Fields[f.Name]), q); i >= 0 {
				return f.Name, i
			}
		}
	}
	return "", -1
}

// gramQuery is the prefix scanned in the substring index for q.
func gramQuery(q string) string {
	if rs := []rune(q); len(rs) > maxGram {
		return string(rs[:maxGram])
	}
	return q
}

// SearchCustomers runs a search. more says whether customers beyond the
// page match.
//
// Candidates come from the indexes where a condition allows (equality on
// short fields from the attribute index, containment in name, mnemonic,
// code or phone from the substring index, intersected), otherwise from all
// live customers; each candidate is then read and checked against every
// condition, so the indexes only have to hold a superset.
func SearchCustomers(views replication.Tx, s Search) (page []*Customer, more bool, err error) {
	forms, err := s.check(views)
	if err != nil {
		return nil, false, err
	}
	limit := max(s.Limit, 1)
	var sets [][]string
	addSet := func(prefix []byte) error {
		ids, err := scanIDs(views, prefix, 0)
		if err != nil {
			return err
		}
		slices.Sort(ids)
		sets = append(sets, ids)
		return nil
	}
	for i, f := range s.Filters {
		switch {
		case forms[i] == "":
			// An empty value matches empty fields, which no index holds.
		case f.Op == OpEquals && attrIndexed(f.Field):
			err = addSet(attrPrefix(f.Field, forms[i]))
		case slices.Contains(gramFields, f.Field) || IsPhoneField(f.Field):
			err = addSet(gramPrefix(gramQuery(forms[i])))
		}
		if err != nil {
			return nil, false, err
		}
	}
	q := queryForm(s.Text)
	if q != "" {
		if err := addSet(gramPrefix(gramQuery(q))); err != nil {
			return nil, false, err
		}
	}
	match := func(c *Customer) bool {
		if c == nil || c.Deleted {
			return false
		}
		for i, f := range s.Filters {
			if !f.holds(c, forms[i]) {
				return false
			}
		}
		if q != "" {
			if _, at := textHolds(c, q); at < 0 {
				return false
			}
		}
		return s.Visible == nil || s.Visible(c)
	}
	take := func(id string) (bool, error) {
		c, err := readCustomer(views, id)
		if err != nil {
			return false, err
		}
		if match(c) {
			if len(page) == limit {
				more = true
				return false, nil
			}
			page = append(page, c)
		}
		return true, nil
	}
	if len(sets) == 0 {
		var start []byte
		p := livePrefix()
		if s.After != "" {
			start = append(liveKey(s.After), 0)
		}
		var ids []string
		// Read ids in batches so that no Tx call runs inside another's
		// scan callback.
		for {
			ids = ids[:0]
			err := views.Scan(p, start, func(k, _ []byte) (bool, error) {
				ids = append(ids, string(k[len(p):]))
				return len(ids) < 256, nil
			})
			if err != nil {
				return nil, false, err
			}
			for _, id := range ids {
				goOn, err := take(id)
				if err != nil || !goOn {
					return page, more, err
				}
			}
			if len(ids) < 256 {
				return page, more, nil
			}
			start = append(liveKey(ids[len(ids)-1]), 0)
		}
	}
	cands := sets[0]
	for _, set := range sets[1:] {
		cands = slices.DeleteFunc(cands, func(id string) bool {
			_, found := slices.BinarySearch(set, id)
			return !found
		})
	}
	for _, id := range cands {
		if id <= s.After {
			continue
		}
		goOn, err := take(id)
		if err != nil || !goOn {
			return page, more, err
		}
	}
	return page, more, nil
}

// attrIndexed reports whether the attribute index holds field's values.
func attrIndexed(field string) bool {
	if strings.HasPrefix(field, CustomPrefix) {
		return true
	}
	f, ok := FieldByName(field)
	return ok && f.typ != phoneField && f.MaxLen <= 64
}

// Suggestion is one type-ahead hit: the customer and the field whose value
// contains what was typed.
type Suggestion struct {
	Customer *Customer
	Field    string
}

// Type-ahead bounds: how many distinct candidates per requested hit are
// ranked, and how many index keys one call reads at most.
const (
	suggestCandidates = 4
	suggestMaxKeys    = 20000
)

// Suggest answers type-ahead: up to limit live customers whose name,
// mnemonic, code or phone digits contain text ("浦东" finds 上海浦东速递有限公司,
// "5678" finds +8613812345678). It scans the substring index from the
// typed text and ranks the first few candidates: matches at the start of
// the value first, then shorter names. visible, when set, leaves out
// customers the reader may not see.
func Suggest(views replication.Tx, text string, limit int, visible func(*Customer) bool) ([]Suggestion, error) {
	if err := checkQueryText("query", text); err != nil {
		return nil, err
	}
	q := queryForm(text)
	if q == "" || limit <= 0 {
		return nil, nil
	}
	type hit struct {
		s  Suggestion
		at int
	}
	var hits []hit
	seen := map[string]bool{}
	start := gramPrefix(gramQuery(q))
	p := start
	for scanned := 0; len(hits) < limit*suggestCandidates && scanned < suggestMaxKeys; {
		var ids []string
		n := 0
		err := views.Scan(p, start, func(k, _ []byte) (bool, error) {
			n++
			start = append(slices.Clone(k), 0)
			if id := replication.LastPart(k); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
			return n < 256, nil
		})
		if err != nil {
			return nil, err
		}
		scanned += n
		for _, id := range ids {
			c, err := readCustomer(views, id)
			if err != nil {
				return nil, err
			}
			if c == nil || c.Deleted || visible != nil && !visible(c) {
				continue
			}
			if f, at := textHolds(c, q); at >= 0 {
				hits = append(hits, hit{Suggestion{Customer: c, Field: f}, at})
			}
		}
		if n < 256 {
			break
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(
			cmp.Compare(min(a.at, 1), min(b.at, 1)),
			cmp.Compare(utf8.RuneCountInString(a.s.Customer.Fields["display_name"]), utf8.RuneCountInString(b.s.Customer.Fields["display_name"])),
			strings.Compare(a.s.Customer.ID, b.s.Customer.ID),
		)
	})
	out := make([]Suggestion, 0, min(limit, len(hits)))
	for _, h := range hits[:min(limit, len(hits))] {
		out = append(out, h.s)
	}
	return out, nil
}
