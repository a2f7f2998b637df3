package hub

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkPebbleGet measures a point read of pebbleTx (through the bloom
// filters of every level), alone and in a step reusing its iterator
// (stepTx), against Pebble's own Get (which skips the last level's
// filters), for keys absent and present among 1,000,000 keys
// compacted into the last level — the shape of a member's state, where
// the appliers mostly ask for keys that do not exist.
//
//	go test -run XXX -bench PebbleGet ./hub
func BenchmarkPebbleGet(b *testing.B) {
	const n = 1_000_000
	db, err := pebble.Open(b.TempDir(), pebbleOptions(256<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key := func(i int) []byte { return fmt.Appendf(nil, "v\x00crm\x00cust\x00%026d", i) }
	batch := db.NewBatch()
	for i := 0; i < n; i += 2 { // the even keys exist, the odd ones not
		if err := batch.Set(key(i), make([]byte, 100), nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(context.Background(), []byte("v"), []byte("w"), true); err != nil {
		b.Fatal(err)
	}
	pebbleGet := func(k []byte) bool {
		v, c, err := db.Get(k)
		if err != nil {
			return false
		}
		_ = bytes.Clone(v) // as pebbleTx does
		c.Close()
		return true
	}
	txGet := func(k []byte) bool {
		_, err := pebbleTx{r: db}.Get(k)
		return err == nil
	}
	step, closeIters := stepTx(db, nil)
	defer closeIters()
	stepGet := func(k []byte) bool {
		_, err := step.Get(k)
		return err == nil
	}
	for _, c := range []struct {
		name   string
		get    func([]byte) bool
		parity int
	}{
		{"absent/pebble", pebbleGet, 1},
		{"absent/tx", txGet, 1},
		{"absent/step", stepGet, 1},
		{"present/pebble", pebbleGet, 0},
		{"present/tx", txGet, 0},
		{"present/step", stepGet, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				k := (i*7919%(n/2))*2 + c.parity
				if c.get(key(k)) != (c.parity == 0) {
					b.Fatalf("key %d: found %t", k, c.parity == 1)
				}
			}
		})
	}
}
