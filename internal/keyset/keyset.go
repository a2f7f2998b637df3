// Package keyset pages through ordered lists by key (keyset pagination):
// a page is read from just after the key of the previous page's last
// entry (or before its first), so reaching a page never counts or skips
// the entries before it, and an entry added or removed elsewhere never
// shifts a page. The domain packages keep the orders (index entries,
// a few records sorted in memory); this package only reads them, and
// makes the keys. It depends on nothing of Branchline.
package keyset

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// collators order text in the Chinese collation (pinyin), ignoring case
// and width, digits as numbers ("C2" before "C10"). A Collator is not
// safe for concurrent use; each comes with the buffer it makes keys in
// (4 KiB, which a key made per call allocated and cleared each time).
var collators = sync.Pool{New: func() any {
	return &collator{cl: collate.New(language.Chinese, collate.Loose, collate.Numeric)}
}}

type collator struct {
	cl  *collate.Collator
	buf collate.Buffer
}

// Text is the value text (names, cities, codes) is ordered by in lists:
// its collation key; nil for "". A release of x/text that changes the
// collation changes the keys: indexes that store them must be rebuilt
// (their Version bumped).
func Text(v string) []byte {
	if v == "" {
		return nil
	}
	c := collators.Get().(*collator)
	defer collators.Put(c)
	c.buf.Reset()
	return bytes.Clone(c.cl.KeyFromString(&c.buf, v))
}

// Key is the ascending key of an entry ordered by value, ties broken by
// id: the value escaped and terminated (so that a shorter value sorts
// before its extensions, and no value runs into the id), then the id. The
// id must be of a fixed length for ID to find it.
func Key(value []byte, id string) []byte {
	return append(escape(make([]byte, 0, len(value)+len(id)+4), value), id...)
}

// escape appends v to out escaped and terminated: NUL as NUL 0xff, then
// NUL 1, which sorts before any escaped byte.
func escape(out, v []byte) []byte {
	for _, b := range v {
		out = append(out, b)
		if b == 0 {
			out = append(out, 0xff)
		}
	}
	return append(out, 0, 1)
}

// VarKey is Key for ids of any length: the id escaped and terminated too,
// so that VarID finds it.
func VarKey(value []byte, id string) []byte {
	return escape(escape(nil, value), []byte(id))
}

// VarID is the id of a VarKey ("" when key is not one).
func VarID(key []byte) string {
	_, rest, ok := unescape(key)
	if !ok {
		return ""
	}
	id, _, ok := unescape(rest)
	if !ok {
		return ""
	}
	return string(id)
}

// unescape reads one escaped, terminated value off b.
func unescape(b []byte) (v, rest []byte, ok bool) {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0 {
			v = append(v, b[i])
			continue
		}
		switch b[i+1] {
		case 0xff:
			v = append(v, 0)
			i++
		case 1:
			return v, b[i+2:], true
		default:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// ID is the id of length n ending key ("" when key is shorter).
func ID(key []byte, n int) string {
	if len(key) < n {
		return ""
	}
	return string(key[len(key)-n:])
}

// Uint is the sort value of a number: fixed-width hex, so that byte order
// is numeric order.
func Uint(n uint64) []byte { return fmt.Appendf(nil, "%016x", n) }

// Int is the sort value of a count, an amount or a time in milliseconds;
// negative values (never meant) sort as 0.
func Int(n int64) []byte { return Uint(uint64(max(n, 0))) }

// Source reads an ordered list's keys (ascending keys, whatever the
// direction) in order, or in reverse with desc, strictly after key after
// in that direction (nil: from the start), until fn returns false.
type Source func(desc bool, after []byte, fn func(key []byte) bool) error

// Slice is the Source of a few keys ordered in memory; it sorts keys.
func Slice(keys [][]byte) Source {
	slices.SortFunc(keys, bytes.Compare)
	return func(desc bool, after []byte, fn func(key []byte) bool) error {
		if !desc {
			i := 0
			if after != nil {
				i, _ = slices.BinarySearchFunc(keys, after, bytes.Compare)
				for i < len(keys) && bytes.Equal(keys[i], after) {
					i++
				}
			}
			for ; i < len(keys) && fn(keys[i]); i++ {
			}
			return nil
		}
		i := len(keys) - 1
		if after != nil {
			j, _ := slices.BinarySearchFunc(keys, after, bytes.Compare)
			i = j - 1
		}
		for ; i >= 0 && fn(keys[i]); i-- {
		}
		return nil
	}
}

// Order is how a list request names its page: the column it is sorted
// by, the direction, and where the page lies — after Cursor (a token of
// Cursor), before it with Back, or the last page with Last; the first
// page without any. Domain list requests embed it, and the web list
// kernel reads it from a URL.
type Order struct {
	Sort   string
	Desc   bool
	Cursor string
	Back   bool
	Last   bool
}

// Request asks for one page: Limit entries in the list's order (Desc:
// descending). Without Cursor it is the first page (after Skip entries),
// or the last with Last; with Cursor, the page after it, or before it
// with Back.
type Request struct {
	Desc   bool
	Cursor []byte
	Back   bool
	Last   bool
	Limit  int
	Skip   int
}

// Page is a page's keys in the list's order and the cursors of the pages
// before and after it (nil at either end).
type Page struct {
	Keys       [][]byte
	Prev, Next []byte
}

// Read reads the page r asks for from src.
func Read(src Source, r Request) (Page, error) {
	limit := max(r.Limit, 1)
	// Forward is the list's own order; the page before a cursor and the
	// last page are read backwards and turned round.
	back := r.Back && r.Cursor != nil || r.Last && r.Cursor == nil
	skip := 0
	if r.Cursor == nil && !back {
		skip = r.Skip
	}
	skipped := skip
	var got [][]byte
	err := src(r.Desc != back, r.Cursor, func(k []byte) bool {
		if skip > 0 {
			skip--
			return true
		}
		got = append(got, k)
		return len(got) <= limit
	})
	if err != nil {
		return Page{}, err
	}
	more := len(got) > limit
	got = got[:min(len(got), limit)]
	if back {
		slices.Reverse(got)
	}
	p := Page{Keys: got}
	if len(got) == 0 {
		return p, nil
	}
	hasPrev, hasNext := more, r.Cursor != nil
	if !back {
		hasPrev, hasNext = r.Cursor != nil || skipped > 0, more
	}
	if hasPrev {
		p.Prev = got[0]
	}
	if hasNext {
		p.Next = got[len(got)-1]
	}
	return p, nil
}

// Cursor is a key as a page token, for URLs.
func Cursor(key []byte) string {
	if key == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(key)
}

// ErrBadCursor says a page token was not made by Cursor.
var ErrBadCursor = errors.New("keyset: not a page token")

// ParseCursor reads a page token ("" is none).
func ParseCursor(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, ErrBadCursor
	}
	return b, nil
}

// Found is a page of items ordered in memory (InMemory): the items, how
// many there are in all, and the cursors of the pages around it.
type Found[T any] struct {
	Items      []T
	Total      int
	Prev, Next string
}

// InMemory reads the page o names, of limit items, of items ordered by
// key — a VarKey of each item's sort value (in column o.Sort) and id —
// in memory: for lists of at most a few thousand items, read in full.
func InMemory[T any](items []T, key func(T) []byte, o Order, limit int) (Found[T], error) {
	c, err := ParseCursor(o.Cursor)
	if err != nil || c != nil && VarID(c) == "" {
		return Found[T]{}, ErrBadCursor
	}
	r := Request{Desc: o.Desc, Cursor: c, Back: o.Back, Last: o.Last, Limit: limit}
	byKey := make(map[string]T, len(items))
	keys := make([][]byte, 0, len(items))
	for _, it := range items {
		k := key(it)
		byKey[string(k)] = it
		keys = append(keys, k)
	}
	p, err := Read(Slice(keys), r)
	if err != nil {
		return Found[T]{}, err
	}
	out := Found[T]{Total: len(items), Prev: Cursor(p.Prev), Next: Cursor(p.Next)}
	for _, k := range p.Keys {
		out.Items = append(out.Items, byKey[string(k)])
	}
	return out, nil
}
