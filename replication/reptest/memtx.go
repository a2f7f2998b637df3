// Package reptest has helpers for tests of appliers: an in-memory Tx and
// generators of event streams. Only tests import it.
package reptest

import (
	"bytes"
	"sort"

	"branchline/replication"
)

// Mem is an in-memory, ordered key-value store implementing
// replication.Tx. It is a test double for appliers' unit and property
// tests, where opening a real store per case would be too slow; node and
// hub tests use Badger and Pebble.
type Mem struct {
	keys []string
	vals map[string][]byte
}

// NewMem returns an empty store.
func NewMem() *Mem { return &Mem{vals: map[string][]byte{}} }

// Get implements replication.Tx.
func (m *Mem) Get(k []byte) ([]byte, error) {
	v, ok := m.vals[string(k)]
	if !ok {
		return nil, replication.ErrNotFound
	}
	return v, nil
}

// Set implements replication.Tx.
func (m *Mem) Set(k, v []byte) error {
	s := string(k)
	if _, ok := m.vals[s]; !ok {
		i := sort.SearchStrings(m.keys, s)
		m.keys = append(m.keys, "")
		copy(m.keys[i+1:], m.keys[i:])
		m.keys[i] = s
	}
	m.vals[s] = append([]byte(nil), v...)
	return nil
}

// Delete implements replication.Tx.
func (m *Mem) Delete(k []byte) error {
	s := string(k)
	if _, ok := m.vals[s]; !ok {
		return nil
	}
	delete(m.vals, s)
	i := sort.SearchStrings(m.keys, s)
	m.keys = append(m.keys[:i], m.keys[i+1:]...)
	return nil
}

// Scan implements replication.Tx.
func (m *Mem) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	from := prefix
	if start != nil && bytes.Compare(start, prefix) > 0 {
		from = start
	}
	keys := append([]string(nil), m.keys...) // fn may write
	return m.walk(keys, prefix, sort.SearchStrings(keys, string(from)), 1, fn)
}

// ScanReverse implements replication.Tx.
func (m *Mem) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	keys := append([]string(nil), m.keys...) // fn may write
	i := len(keys)
	if from := replication.ReverseStart(prefix, before); from != nil {
		i = sort.SearchStrings(keys, string(from))
	}
	return m.walk(keys, prefix, i-1, -1, fn)
}

// walk calls fn for keys[i], keys[i+step], … while they have prefix and
// fn asks for more.
func (m *Mem) walk(keys []string, prefix []byte, i, step int, fn func(k, v []byte) (bool, error)) error {
	for ; i >= 0 && i < len(keys) && bytes.HasPrefix([]byte(keys[i]), prefix); i += step {
		v, ok := m.vals[keys[i]]
		if !ok {
			continue
		}
		if more, err := fn([]byte(keys[i]), v); err != nil || !more {
			return err
		}
	}
	return nil
}

// Dump returns a copy of every pair, for comparing whole stores.
func (m *Mem) Dump() map[string]string {
	out := make(map[string]string, len(m.vals))
	for k, v := range m.vals {
		out[k] = string(v)
	}
	return out
}
