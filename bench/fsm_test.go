package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"google.golang.org/protobuf/proto"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/kinds"
	"branchline/replication"
)

// This file prototypes, outside the hub, what its state machine's apply
// costs with the Pebble options hub/fsm.go uses and with the ones this
// package proposes (see BENCHMARKS.md): the same keys, the same indexed
// batch per Raft batch, the same views. It is a model of fsm.ApplyBatch,
// not the hub itself; the hub commit figures come from Run.

// protoTx is hub's pebbleTx: replication.Tx over a Pebble reader and an
// indexed batch. memo, when set, remembers the last key read so that a
// Set right after a Get of the same key (what SetRegister followed by the
// digest's old-value read does) reads Pebble once.
type protoTx struct {
	r    pebble.Reader
	b    *pebble.Batch
	memo *getMemo
}

type getMemo struct {
	key   []byte
	value []byte
	found bool
	valid bool
}

func (t protoTx) Get(k []byte) ([]byte, error) {
	if m := t.memo; m != nil && m.valid && bytes.Equal(m.key, k) {
		if !m.found {
			return nil, replication.ErrNotFound
		}
		return bytes.Clone(m.value), nil
	}
	v, c, err := t.r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		if t.memo != nil {
			*t.memo = getMemo{key: append(t.memo.key[:0], k...), valid: true}
		}
		return nil, replication.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	if t.memo != nil {
		*t.memo = getMemo{key: append(t.memo.key[:0], k...), value: out, found: true, valid: true}
	}
	return out, c.Close()
}

func (t protoTx) Set(k, v []byte) error {
	if t.memo != nil {
		t.memo.valid = false
	}
	return t.b.Set(k, v, nil)
}

func (t protoTx) Delete(k []byte) error {
	if t.memo != nil {
		t.memo.valid = false
	}
	return t.b.Delete(k, nil)
}

func (t protoTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	return errors.New("not used by the model")
}

func (t protoTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	return errors.New("not used by the model")
}

// fsmModel applies pushes as hub's fsm.ApplyBatch does.
type fsmModel struct {
	db    *pebble.DB
	views *replication.Views
	head  uint64
	memo  bool
}

func openModel(b *testing.B, opts *pebble.Options, memo bool) *fsmModel {
	b.Helper()
	db, err := pebble.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	v, err := replication.OpenViews(kinds.Registry(), protoTx{r: db})
	if err != nil {
		b.Fatal(err)
	}
	return &fsmModel{db: db, views: v, memo: memo}
}

// apply commits the pushes of one Raft batch.
func (f *fsmModel) apply(pushes [][]*replicationv1.Event) error {
	b := f.db.NewIndexedBatch()
	defer b.Close()
	tx := protoTx{r: b, b: b}
	if f.memo {
		tx.memo = &getMemo{}
	}
	vb := f.views.Begin(tx)
	for _, evs := range pushes {
		if _, err := replication.AppliedSeq(tx, evs[0].GetOrigin()); err != nil {
			return err
		}
		for _, e := range evs {
			f.head++
			c, err := proto.MarshalOptions{Deterministic: true}.Marshal(&replicationv1.Committed{Position: f.head, CommitTimeMs: time.Now().UnixMilli(), Event: e})
			if err != nil {
				return err
			}
			if err := tx.Set(binary.BigEndian.AppendUint64([]byte("g\x00"), f.head), c); err != nil {
				return err
			}
			if err := tx.Set(binary.BigEndian.AppendUint64(replication.Prefix("d", e.GetOrigin()), e.GetSeq()), binary.BigEndian.AppendUint64(nil, f.head)); err != nil {
				return err
			}
			if _, err := vb.Apply(replication.FromProto(e)); err != nil {
				return err
			}
		}
	}
	if err := tx.Set([]byte("h\x00state"), binary.BigEndian.AppendUint64(nil, f.head)); err != nil {
		return err
	}
	if err := vb.Finish(); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	vb.Commit()
	return nil
}

// hubOptions are hub/fsm.go's pebbleOptions as of this writing.
func hubOptions() *pebble.Options {
	return &pebble.Options{MemTableSize: 64 << 20, Logger: quiet{}}
}

// proposedOptions add bloom filters and a block cache.
func proposedOptions() *pebble.Options {
	o := &pebble.Options{MemTableSize: 64 << 20, CacheSize: 256 << 20, Logger: quiet{}}
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return o
}

// BenchmarkHubApply measures the modelled state machine applying Raft
// batches of 8 pushes × 500 events after it holds 20,000 events; ns/op
// is per event. Run with -benchtime 40000x or so.
func BenchmarkHubApply(b *testing.B) {
	bodies, err := customerBodies(bodyPool)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		opts func() *pebble.Options
		memo bool
	}{
		{"hub-options", hubOptions, false},
		{"bloom+cache", proposedOptions, false},
		{"bloom+cache+get-memo", proposedOptions, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			f := openModel(b, v.opts(), v.memo)
			srcs := make([]*eventSource, 8)
			for i := range srcs {
				srcs[i] = newEventSource(fmt.Sprintf("bench-%02d", i+1), bodies)
			}
			round := func() {
				pushes := make([][]*replicationv1.Event, len(srcs))
				for i, s := range srcs {
					pushes[i] = s.next(500)
				}
				if err := f.apply(pushes); err != nil {
					b.Fatal(err)
				}
			}
			for range 20_000 / 4000 {
				round()
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += 4000 {
				round()
			}
		})
	}
}

// quiet keeps Pebble's info lines out of the benchmark output.
type quiet struct{}

func (quiet) Infof(string, ...any)      {}
func (quiet) Errorf(f string, a ...any) { pebble.DefaultLogger.Errorf(f, a...) }
func (quiet) Fatalf(f string, a ...any) { pebble.DefaultLogger.Fatalf(f, a...) }
