package hub

import (
	"bytes"
	"errors"

	"github.com/cockroachdb/pebble/v2"

	"branchline/replication"
)

// pebbleTx implements replication.Tx over a Pebble reader, writing to an
// indexed batch (whose reads see its writes) when there is one.
type pebbleTx struct {
	r pebble.Reader
	b *pebble.Batch // nil: read-only
}

func (t pebbleTx) Get(k []byte) ([]byte, error) {
	v, c, err := t.r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, replication.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, c.Close()
}

func (t pebbleTx) Set(k, v []byte) error {
	if t.b == nil {
		return replication.ErrReadOnly
	}
	return t.b.Set(k, v, nil)
}

func (t pebbleTx) Delete(k []byte) error {
	if t.b == nil {
		return replication.ErrReadOnly
	}
	return t.b.Delete(k, nil)
}

func (t pebbleTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: replication.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	seek := prefix
	if start != nil && bytes.Compare(start, prefix) > 0 {
		seek = start
	}
	return walk(it, it.SeekGE(seek), it.Next, fn)
}

func (t pebbleTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: replication.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	var ok bool
	switch from := replication.ReverseStart(prefix, before); {
	case from == nil:
		ok = it.Last()
	case bytes.Compare(from, prefix) > 0:
		ok = it.SeekLT(from)
	}
	return walk(it, ok, it.Prev, fn)
}

// walk calls fn for each pair from where it is (ok: it is at one),
// stepping with step, while fn asks for more; it closes it.
func walk(it *pebble.Iterator, ok bool, step func() bool, fn func(k, v []byte) (bool, error)) error {
	for ; ok; ok = step() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		more, err := fn(it.Key(), v)
		if err != nil || !more {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// quietLogger keeps Pebble's info chatter out of the log.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Errorf(f string, a ...any) { pebble.DefaultLogger.Errorf(f, a...) }
func (quietLogger) Fatalf(f string, a ...any) { pebble.DefaultLogger.Fatalf(f, a...) }
