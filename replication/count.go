package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Counters of an index: how many entries of a kind it holds ("live
// customers", "customers in 上海"), kept beside the entries so that a list
// shows its total without scanning them. An index changes a counter only
// through AddCount, by the difference between the entries it removes and
// those it writes for one entity, so the counter stays the number of
// entities it counts whatever order entities are reindexed in.
//
// Why not a read-modify-write in Reindex: an indexer's step reads the
// committed state and writes a batch of its own (SplitTx), so two
// entities of one step would both read the counter as committed and the
// second write would lose the first's change. ProcessMarkers therefore
// hands Reindex a Tx that sums the step's deltas per counter and writes
// each counter once, after the step's last entity; the writer's inline
// indexing (which reads its own writes) adds to the stored value at once.

// counting is implemented by the Tx ProcessMarkers gives Reindex.
type counting interface {
	addCount(key []byte, delta int64)
}

// countTx sums the counter deltas of one indexer step.
type countTx struct {
	Tx
	deltas map[string]int64
}

func (t countTx) addCount(key []byte, delta int64) { t.deltas[string(key)] += delta }

// AddCount adds delta to the counter at key, a key within one of the
// prefixes of the index whose Reindex calls it, with tx the Tx Reindex
// was given. A counter that comes to 0 is deleted. Reindex must not read
// a counter it changes: within an indexer step the read would not see the
// step's changes.
func AddCount(tx Tx, key []byte, delta int64) error {
	if delta == 0 {
		return nil
	}
	if c, ok := tx.(counting); ok {
		c.addCount(key, delta)
		return nil
	}
	return addStored(tx, key, delta)
}

func addStored(tx Tx, key []byte, delta int64) error {
	n, err := ReadCount(tx, key)
	if err != nil {
		return err
	}
	if n += delta; n == 0 {
		return tx.Delete(key)
	}
	return tx.Set(key, binary.AppendVarint(nil, n))
}

// flush writes the summed deltas, in key order.
func (t countTx) flush(tx Tx) error {
	for _, k := range slices.Sorted(maps.Keys(t.deltas)) {
		if err := addStored(tx, []byte(k), t.deltas[k]); err != nil {
			return err
		}
	}
	return nil
}

var errBadCount = errors.New("corrupt counter")

// ReadCount returns the counter at key (0 when absent).
func ReadCount(tx Tx, key []byte) (int64, error) {
	b, err := tx.Get(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n, w := binary.Varint(b)
	if w <= 0 || w != len(b) {
		return 0, fmt.Errorf("counter %q: %w", key, errBadCount)
	}
	return n, nil
}
