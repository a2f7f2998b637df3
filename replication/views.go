package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// The key space every replica's store shares. Only views are replicated
// state; the rest is bookkeeping of this replica.
var (
	// ViewPrefix holds the views appliers write; the digest covers it.
	ViewPrefix = []byte("v\x00")
	// appliedPrefix holds each origin's highest applied seq.
	appliedPrefix = "a"
	digestKey     = Key("m", "digest")
	countKey      = Key("m", "applied")
)

// Outcome says what Apply did with an event.
type Outcome int

const (
	// Applied means the event changed (or was run against) the views.
	Applied Outcome = iota
	// Duplicate means the replica had applied the event before.
	Duplicate
	// Skipped means the event is recorded as seen but not applied: its kind
	// is unknown here or its body does not decode. Every replica of the same
	// version skips it alike.
	Skipped
)

// Views applies events to the views of one store, drops events it has
// seen (by origin and seq), and keeps the digest and count of applied
// events. One writer at a time uses it: the store's single write path.
type Views struct {
	reg *Registry

	mu      sync.Mutex
	digest  Digest
	applied uint64
}

// OpenViews loads the digest and count that tx's store recorded.
func OpenViews(reg *Registry, tx Tx) (*Views, error) {
	v := &Views{reg: reg}
	b, err := tx.Get(digestKey)
	switch {
	case err == nil:
		if v.digest, err = DigestFromBytes(b); err != nil {
			return nil, err
		}
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	b, err = tx.Get(countKey)
	switch {
	case err == nil && len(b) == 8:
		v.applied = binary.BigEndian.Uint64(b)
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return v, nil
}

// Registry returns the registry the views apply with.
func (v *Views) Registry() *Registry { return v.reg }

// Digest returns the digest of the committed views.
func (v *Views) Digest() Digest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.digest
}

// AppliedCount returns how many events the committed views applied.
func (v *Views) AppliedCount() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.applied
}

// Batch applies events within one store transaction. Call Finish before
// committing the transaction and Commit after it committed; drop the
// Batch if the transaction is discarded.
type Batch struct {
	v       *Views
	tx      Tx
	delta   Digest
	applied uint64
	last    lastRead // digestTx's memo, reused across events
}

// Begin starts applying in tx.
func (v *Views) Begin(tx Tx) *Batch { return &Batch{v: v, tx: tx} }

// ReadViews returns a read-only view of the views in a transaction: what
// domain commands and queries read.
func ReadViews(tx Tx) Tx { return ReadOnly(WithPrefix(tx, ViewPrefix)) }

// Views returns the batch's view Tx, read-only, seeing its writes so far.
func (b *Batch) Views() Tx { return ReadViews(b.tx) }

// AppliedSeq returns the highest seq of origin applied in tx.
func AppliedSeq(tx Tx, origin string) (uint64, error) {
	v, err := tx.Get(Key(appliedPrefix, origin))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("applied seq of %s: %d bytes", origin, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Apply applies ev unless the replica has applied it (or a later event of
// its origin) before. Events of one origin must come in seq order; gaps
// are allowed (a filtered pull leaves some out). It returns ErrSkipped
// wrapped in a nil-error outcome Skipped for events it cannot apply.
func (b *Batch) Apply(ev *Event) (Outcome, error) {
	hw, err := AppliedSeq(b.tx, ev.Origin)
	if err != nil {
		return 0, err
	}
	if ev.Seq <= hw {
		return Duplicate, nil
	}
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], ev.Seq)
	if err := b.tx.Set(Key(appliedPrefix, ev.Origin), seq[:]); err != nil {
		return 0, err
	}
	b.last.ok = false
	views := digestTx{Tx: WithPrefix(b.tx, ViewPrefix), delta: &b.delta, last: &b.last}
	if err := b.v.reg.apply(views, ev); err != nil {
		if errors.Is(err, ErrSkipped) {
			return Skipped, nil
		}
		return 0, err
	}
	b.applied++
	return Applied, nil
}

// Finish records the new digest and count in the transaction.
func (b *Batch) Finish() error {
	b.v.mu.Lock()
	d, n := b.v.digest, b.v.applied
	b.v.mu.Unlock()
	d.add(b.delta)
	var cnt [8]byte
	binary.BigEndian.PutUint64(cnt[:], n+b.applied)
	if err := b.tx.Set(digestKey, d.Bytes()); err != nil {
		return err
	}
	return b.tx.Set(countKey, cnt[:])
}

// Commit makes the batch's digest and count the committed ones. Call it
// only after the transaction committed.
func (b *Batch) Commit() {
	b.v.mu.Lock()
	defer b.v.mu.Unlock()
	b.v.digest.add(b.delta)
	b.v.applied += b.applied
}

// Reload re-reads the digest and count from a store, after the store was
// replaced (a snapshot restore).
func (v *Views) Reload(tx Tx) error {
	nv, err := OpenViews(v.reg, tx)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.digest, v.applied = nv.digest, nv.applied
	return nil
}
