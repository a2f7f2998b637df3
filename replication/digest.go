package replication

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Digest is an order-independent hash of a set of key/value pairs: the
// lane-wise sum, modulo 2^64, of SHA-256 of each pair. Adding and removing
// pairs updates it in constant time, so every store keeps the digest of its
// views current in the same transaction that changes them, and Status can
// report it without reading the views. Two replicas with equal views have
// equal digests whatever order they wrote them in.
type Digest [4]uint64

func pairHash(key, value []byte) Digest {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	h.Write(key)
	h.Write(value)
	var sum [32]byte
	h.Sum(sum[:0])
	var d Digest
	for i := range d {
		d[i] = binary.LittleEndian.Uint64(sum[i*8:])
	}
	return d
}

// AddPair adds a key/value pair to the digest: what a replica receiving
// a set of pairs in pieces (a snapshot) keeps to check the whole.
func (d *Digest) AddPair(key, value []byte) { d.add(pairHash(key, value)) }

func (d *Digest) add(o Digest) {
	for i := range d {
		d[i] += o[i]
	}
}

func (d *Digest) sub(o Digest) {
	for i := range d {
		d[i] -= o[i]
	}
}

// Bytes encodes the digest in 32 bytes.
func (d Digest) Bytes() []byte {
	b := make([]byte, 32)
	for i, x := range d {
		binary.LittleEndian.PutUint64(b[i*8:], x)
	}
	return b
}

// String is the hex form of Bytes.
func (d Digest) String() string { return hex.EncodeToString(d.Bytes()) }

// DigestFromBytes decodes Bytes.
func DigestFromBytes(b []byte) (Digest, error) {
	var d Digest
	if len(b) != 32 {
		return d, fmt.Errorf("digest of %d bytes, want 32", len(b))
	}
	for i := range d {
		d[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return d, nil
}

// DigestOf computes the digest of every pair below prefix in tx from
// scratch: the check that the incremental digest is right.
func DigestOf(tx Tx, prefix []byte) (Digest, error) {
	var d Digest
	err := tx.Scan(prefix, nil, func(k, v []byte) (bool, error) {
		d.add(pairHash(k[len(prefix):], v))
		return true, nil
	})
	return d, err
}

// digestTx passes writes through to a Tx and keeps the digest of its keys
// current in delta: a write subtracts the pair it replaces, which it must
// read first. Appliers mostly write a key they have just read (a register
// is read, compared and written), so the last read is remembered and
// spares the second read.
type digestTx struct {
	Tx
	delta *Digest
	last  *lastRead // nil: no memo
}

// lastRead is the last key read through a digestTx and what it held. It
// is valid until the next write through the same digestTx.
type lastRead struct {
	key   []byte
	value []byte
	found bool
	ok    bool
}

func (t digestTx) Get(k []byte) ([]byte, error) {
	v, err := t.Tx.Get(k)
	if m := t.last; m != nil {
		m.ok = err == nil || errors.Is(err, ErrNotFound)
		m.found = err == nil
		m.key = append(m.key[:0], k...)
		m.value = append(m.value[:0], v...)
	}
	return v, err
}

// old returns the value k holds before a write, from the memo when the
// last read was of k.
func (t digestTx) old(k []byte) ([]byte, error) {
	if m := t.last; m != nil && m.ok && bytes.Equal(m.key, k) {
		m.ok = false
		if !m.found {
			return nil, ErrNotFound
		}
		return m.value, nil
	}
	return t.Tx.Get(k)
}

func (t digestTx) Set(k, v []byte) error {
	old, err := t.old(k)
	if t.last != nil {
		t.last.ok = false
	}
	switch {
	case err == nil:
		t.delta.sub(pairHash(k, old))
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if err := t.Tx.Set(k, v); err != nil {
		return err
	}
	t.delta.add(pairHash(k, v))
	return nil
}

func (t digestTx) Delete(k []byte) error {
	old, err := t.old(k)
	if t.last != nil {
		t.last.ok = false
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := t.Tx.Delete(k); err != nil {
		return err
	}
	t.delta.sub(pairHash(k, old))
	return nil
}

// eventHash is an event's contribution to an event digest: SHA-256 over
// its identity and content, each part length-prefixed.
func eventHash(ev *Event) Digest {
	h := sha256.New()
	var b [binary.MaxVarintLen64]byte
	put := func(p []byte) {
		h.Write(b[:binary.PutUvarint(b[:], uint64(len(p)))])
		h.Write(p)
	}
	h.Write(b[:binary.PutUvarint(b[:], ev.Seq)])
	h.Write(b[:binary.PutUvarint(b[:], uint64(ev.HLC))])
	put([]byte(ev.Origin))
	put([]byte(ev.Kind))
	put([]byte(ev.Entity))
	put([]byte(ev.Actor))
	put(ev.Body)
	var sum [32]byte
	h.Sum(sum[:0])
	var d Digest
	for i := range d {
		d[i] = binary.LittleEndian.Uint64(sum[i*8:])
	}
	return d
}
