package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// A Memory keeps part of an index's stored entries — those below the
// index's MemoryPrefix — in memory too, in a form the store cannot offer:
// a substring index over customers' names, say, where a store would need
// dozens of keys per customer. The stored entries stay the truth: a
// replica loads its memories from them when it opens, and every later
// write of them reaches the memory once its transaction has committed. A
// reader finds the memory through the transaction the views gave it
// (MemoryOf); it may be a moment ahead of or behind that transaction's
// snapshot, so a reader checks what it finds against the views.
type Memory interface {
	// Load fills an empty memory with the stored entries, which scan
	// hands to put in key order; keys are below the MemoryPrefix, whole.
	Load(scan func(put func(k, v []byte)) error) error
	// Set and Delete mirror a committed write of an entry.
	Set(k, v []byte)
	Delete(k []byte)
}

// memoryOp is a write of a memory's entry, made once its transaction has
// committed.
type memoryOp struct {
	m    Memory
	k, v []byte
	del  bool
}

func applyMemoryOps(ops []memoryOp) {
	for _, op := range ops {
		if op.del {
			op.m.Delete(op.k)
		} else {
			op.m.Set(op.k, op.v)
		}
	}
}

// memories are a replica's memories, by index name.
type memories struct {
	mu    sync.RWMutex
	byIdx map[string]Memory
}

func (m *memories) get(name string) Memory {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byIdx[name]
}

// captureTx passes an index's writes through and records those of its
// memory's entries, to be applied after the commit.
type captureTx struct {
	Tx
	prefix []byte
	m      Memory
	ops    *[]memoryOp
}

func (t captureTx) Set(k, v []byte) error {
	if err := t.Tx.Set(k, v); err != nil {
		return err
	}
	if bytes.HasPrefix(k, t.prefix) {
		*t.ops = append(*t.ops, memoryOp{m: t.m, k: bytes.Clone(k), v: bytes.Clone(v)})
	}
	return nil
}

func (t captureTx) Delete(k []byte) error {
	if err := t.Tx.Delete(k); err != nil {
		return err
	}
	if bytes.HasPrefix(k, t.prefix) {
		*t.ops = append(*t.ops, memoryOp{m: t.m, k: bytes.Clone(k), del: true})
	}
	return nil
}

// reindexTx is the Tx an index's Reindex gets from tx: one that records
// its memory's writes into ops, when the replica keeps the memory.
func (v *Views) reindexTx(tx Tx, ix Index, ops *[]memoryOp) Tx {
	if ix.MemoryPrefix == nil {
		return tx
	}
	m := v.mem.get(ix.Name)
	if m == nil {
		return tx
	}
	return captureTx{Tx: tx, prefix: ix.MemoryPrefix, m: m, ops: ops}
}

// LoadMemories builds the memories of the registry's indexes from the
// stored entries in tx, as this replica keeps them (see SetIndexing): at
// open, before any write. With IndexOff there are none.
func (v *Views) LoadMemories(tx Tx) error {
	byIdx := map[string]Memory{}
	if v.indexing != IndexOff {
		views := IndexedViews(tx, v.reg, v.indexing)
		for _, ix := range v.reg.indexes {
			if ix.Memory == nil || ix.MemoryPrefix == nil {
				continue
			}
			m := ix.Memory()
			err := m.Load(func(put func(k, v []byte)) error {
				return views.Scan(ix.MemoryPrefix, nil, func(k, val []byte) (bool, error) {
					put(k, val)
					return true, nil
				})
			})
			if err != nil {
				return err
			}
			byIdx[ix.Name] = m
		}
	}
	v.mem.mu.Lock()
	v.mem.byIdx = byIdx
	v.mem.mu.Unlock()
	return nil
}

// UseMemories makes the views use memories built from their stored
// entries elsewhere (a MemoryFeed handed every pair of the store) rather
// than load them (LoadMemories): at open, before any write.
func (v *Views) UseMemories(byIdx map[string]Memory) {
	if v.indexing == IndexOff {
		byIdx = nil
	}
	v.mem.mu.Lock()
	v.mem.byIdx = byIdx
	v.mem.mu.Unlock()
}

// A MemoryFeed builds the memories of a registry's indexes from pairs
// being written into a store — a snapshot being installed — rather than by
// a scan of the store once they are (LoadMemories): each memory's Load
// runs in a goroutine of its own and takes the pairs below its prefix as
// they are fed, in key order, while the store writes them. The memories
// are those of a replica that builds its indexes behind the commit
// (IndexDeferred), whose keys the pairs are in.
type MemoryFeed struct {
	feeds  []*memoryFeed
	closed bool
}

type memoryFeed struct {
	name   string
	prefix []byte // the memory's entries, in the index area
	m      Memory
	pairs  chan [][2][]byte
	done   chan error
}

// FeedMemories starts a feed of the registry's memories (Memories or Stop
// ends it).
func (r *Registry) FeedMemories() *MemoryFeed {
	f := &MemoryFeed{}
	for _, ix := range r.indexes {
		if ix.Memory == nil || ix.MemoryPrefix == nil {
			continue
		}
		mf := &memoryFeed{name: ix.Name, prefix: append(bytes.Clone(indexAreaPrefix), ix.MemoryPrefix...), m: ix.Memory(),
			pairs: make(chan [][2][]byte, 8), done: make(chan error, 1)}
		go func() {
			err := mf.m.Load(func(put func(k, v []byte)) error {
				for batch := range mf.pairs {
					for _, p := range batch {
						put(p[0], p[1])
					}
				}
				return nil
			})
			for range mf.pairs { // a Load that failed: the rest is not needed
			}
			mf.done <- err
		}()
		f.feeds = append(f.feeds, mf)
	}
	return f
}

// Feed hands the memories the pairs of keys and values below their
// prefixes; keys are in the key space of a replica that defers its
// indexes (DeferredKey), in key order across calls. The slices must not
// change afterwards.
func (f *MemoryFeed) Feed(keys, values [][]byte) {
	for _, mf := range f.feeds {
		var batch [][2][]byte
		for i, k := range keys {
			if bytes.HasPrefix(k, mf.prefix) {
				batch = append(batch, [2][]byte{k[len(indexAreaPrefix):], values[i]})
			}
		}
		if len(batch) > 0 {
			mf.pairs <- batch
		}
	}
}

// Memories ends the feed and returns the memories, by index name, for
// UseMemories: those of a store that holds exactly the pairs fed.
func (f *MemoryFeed) Memories() (map[string]Memory, error) {
	if f.closed {
		return nil, errors.New("memory feed already ended")
	}
	f.closed = true
	out := make(map[string]Memory, len(f.feeds))
	var errs []error
	for _, mf := range f.feeds {
		close(mf.pairs)
		if err := <-mf.done; err != nil {
			errs = append(errs, fmt.Errorf("memory of %s: %w", mf.name, err))
		}
		out[mf.name] = mf.m
	}
	return out, errors.Join(errs...)
}

// Stop ends the feed, its memories dropped (the pairs did not all come).
func (f *MemoryFeed) Stop() {
	if !f.closed {
		_, _ = f.Memories()
	}
}

// memoryTx is the views as a reader gets them, with the replica's
// memories.
type memoryTx struct {
	Tx
	mem *memories
}

func (t memoryTx) memory(name string) Memory { return t.mem.get(name) }

// MemoryOf returns the memory of index name that the replica whose views
// tx reads keeps, or nil (a replica without it, or a Tx that did not come
// from Views.Read): the caller then reads the stored entries.
func MemoryOf(tx Tx, name string) Memory {
	if t, ok := tx.(interface{ memory(string) Memory }); ok {
		return t.memory(name)
	}
	return nil
}

// Index versions, kept per replica beside the marker seq:
//
//	m \0 xver \0 name   the Version of the index its entries were built by
func indexVersionKey(name string) []byte { return Key("m", "xver", name) }

// StaleIndexes names the registry's indexes whose entries in tx were
// built by another Version of them (or by a release that recorded none,
// when the views hold anything): they must be built again.
func (v *Views) StaleIndexes(tx Tx) ([]string, error) {
	var stale []string
	for _, ix := range v.reg.indexes {
		b, err := tx.Get(indexVersionKey(ix.Name))
		switch {
		case errors.Is(err, ErrNotFound):
			if ix.Version != 0 {
				stale = append(stale, ix.Name)
			}
		case err != nil:
			return nil, err
		default:
			if n, w := binary.Uvarint(b); w <= 0 || n != uint64(ix.Version) {
				stale = append(stale, ix.Name)
			}
		}
	}
	return stale, nil
}

// SaveIndexVersions records that the indexes' entries in tx are (or,
// once their markers are processed, will be) built by the registry's
// versions of them.
func (v *Views) SaveIndexVersions(tx Tx) error {
	for _, ix := range v.reg.indexes {
		if err := tx.Set(indexVersionKey(ix.Name), binary.AppendUvarint(nil, uint64(ix.Version))); err != nil {
			return err
		}
	}
	return nil
}
