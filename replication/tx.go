package replication

import (
	"bytes"
	"errors"
)

// ErrNotFound is returned by Tx.Get for a missing key.
var ErrNotFound = errors.New("not found")

// ErrReadOnly is returned by writes on a read-only transaction.
var ErrReadOnly = errors.New("read-only transaction")

// Tx is one transaction on a key-value store: what appliers and domain
// commands need, and all that node (Badger) and hub (Pebble) implement.
// Reads see the transaction's own writes. Keys and values passed to Set
// must not be changed afterwards; slices returned by Get and Scan are only
// valid until the next call on the Tx, so callers copy what they keep.
type Tx interface {
	// Get returns the value at key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Set writes value at key.
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
	// Scan calls fn for each key that starts with prefix, in ascending
	// key order, beginning at the first key >= start (nil: the prefix).
	// fn returns false to stop early.
	Scan(prefix, start []byte, fn func(key, value []byte) (more bool, err error)) error
	// ScanReverse calls fn for each key that starts with prefix, in
	// descending key order, beginning at the last key < before (nil or
	// empty: the last key of the prefix). A list read newest first, or in a column's
	// descending order, reads its entries backwards instead of keeping a
	// second, inverted copy of them.
	ScanReverse(prefix, before []byte, fn func(key, value []byte) (more bool, err error)) error
}

// ReverseStart is where a reverse scan of prefix bounded by before
// begins, exclusively: before when it lies within the prefix's keys, else
// the first key after them (nil when no key follows them: the scan begins
// at the store's last key). Stores use it to seek.
func ReverseStart(prefix, before []byte) []byte {
	end := PrefixEnd(prefix)
	if len(before) > 0 && (end == nil || bytes.Compare(before, end) < 0) {
		return before
	}
	return end
}

// PrefixEnd returns the smallest key greater than every key with prefix
// (nil when there is none).
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Key builds a key from parts separated by 0x00, so that the key of a
// thing is a prefix of nothing but the keys of its own parts. Parts must
// not contain 0x00; callers validate user-supplied parts before.
func Key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// Prefix is Key(parts...) followed by the separator: the prefix of every
// key below parts.
func Prefix(parts ...string) []byte {
	return append(Key(parts...), 0)
}

// LastPart returns what follows the final separator of key.
func LastPart(key []byte) string {
	return string(key[bytes.LastIndexByte(key, 0)+1:])
}

// prefixedTx exposes the keys of a Tx below a prefix as if they were the
// whole store.
type prefixedTx struct {
	tx     Tx
	prefix []byte
}

// WithPrefix returns a Tx that sees only keys of tx below prefix, with the
// prefix removed.
func WithPrefix(tx Tx, prefix []byte) Tx {
	return &prefixedTx{tx: tx, prefix: prefix}
}

func (p *prefixedTx) key(k []byte) []byte {
	out := make([]byte, 0, len(p.prefix)+len(k))
	return append(append(out, p.prefix...), k...)
}

func (p *prefixedTx) Get(k []byte) ([]byte, error) { return p.tx.Get(p.key(k)) }
func (p *prefixedTx) Set(k, v []byte) error        { return p.tx.Set(p.key(k), v) }
func (p *prefixedTx) Delete(k []byte) error        { return p.tx.Delete(p.key(k)) }

func (p *prefixedTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	var s []byte
	if start != nil {
		s = p.key(start)
	}
	n := len(p.prefix)
	return p.tx.Scan(p.key(prefix), s, func(k, v []byte) (bool, error) {
		return fn(k[n:], v)
	})
}

func (p *prefixedTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	var b []byte
	if len(before) > 0 {
		b = p.key(before)
	}
	n := len(p.prefix)
	return p.tx.ScanReverse(p.key(prefix), b, func(k, v []byte) (bool, error) {
		return fn(k[n:], v)
	})
}

type readOnlyTx struct{ Tx }

// ReadOnly returns a Tx whose writes fail with ErrReadOnly. Domain commands
// get one: they decide on events by reading, and only applying writes.
func ReadOnly(tx Tx) Tx { return readOnlyTx{tx} }

func (readOnlyTx) Set(_, _ []byte) error { return ErrReadOnly }
func (readOnlyTx) Delete(_ []byte) error { return ErrReadOnly }

// SplitTx reads one Tx and writes another: an indexer's step reads the
// committed views and writes its entries into a batch of its own (nothing
// it writes is read back in the step).
type SplitTx struct{ Read, Write Tx }

func (t SplitTx) Get(k []byte) ([]byte, error) { return t.Read.Get(k) }
func (t SplitTx) Set(k, v []byte) error        { return t.Write.Set(k, v) }
func (t SplitTx) Delete(k []byte) error        { return t.Write.Delete(k) }
func (t SplitTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	return t.Read.Scan(prefix, start, fn)
}
func (t SplitTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	return t.Read.ScanReverse(prefix, before, fn)
}
