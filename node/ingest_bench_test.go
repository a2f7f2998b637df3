package node

import (
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// BenchmarkIngest measures what bounds a snapshot bootstrap: writing the
// snapshot's pairs into a node's Badger store (badgerOptions), per 2 MiB
// chunk, by a WriteBatch (the installation until 2026-12-06), by Badger's
// KVLoader (the installation since: no transaction), and as Badger's
// StreamWriter would (sorted pairs written as tables, no memtable, no
// compaction — but it blocks every other write of the store while it
// runs, and needs empty memtables). Pairs of 125 bytes in key order, as a
// snapshot's: 2.77M of them (100,000 customers), 100,000 with -short,
// -ingest-pairs N otherwise (27.7M: a million customers).
//
//	go test -run XXX -bench Ingest -benchtime 1x ./node [-ingest-pairs 27700000]
var (
	ingestPairs    = flag.Int("ingest-pairs", 2_770_000, "BenchmarkIngest: how many pairs")
	ingestMemTable = flag.Int64("ingest-memtable", 0, "BenchmarkIngest: Badger memtable size (0: the node's)")
	ingestL0       = flag.Int("ingest-l0", 0, "BenchmarkIngest: Badger level-0 tables before compaction (0: the node's)")
)

func BenchmarkIngest(b *testing.B) {
	n := *ingestPairs
	if testing.Short() {
		n = 100_000
	}
	pair := func(i int, r *rand.Rand) ([]byte, []byte) {
		k := fmt.Appendf(nil, "g\x00000001\x00x\x00crm\x00so\x00name\x00%016x\x00%08d", i/28, i)
		v := make([]byte, 125-len(k))
		for j := range v {
			v[j] = byte(' ' + r.IntN(90))
		}
		return k, v
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	open := func(b *testing.B) *badger.DB {
		o := badgerOptions(b.TempDir(), slog.New(slog.DiscardHandler), *ingestMemTable)
		if *ingestL0 > 0 {
			o = o.WithNumLevelZeroTables(*ingestL0).WithNumLevelZeroTablesStall(*ingestL0 + 5)
		}
		db, err := badger.Open(o)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
	report := func(b *testing.B, start time.Time, cpu0 time.Duration) {
		wall, used := time.Since(start), cpu()-cpu0
		b.ReportMetric(float64(n)/wall.Seconds(), "pairs/s")
		b.ReportMetric(float64(used.Nanoseconds())/float64(n), "cpu-ns/pair")
	}
	// A way of ingesting: chunk starts a 2 MiB chunk, returning how a pair
	// is written and how the chunk ends; done ends the ingest.
	type way struct {
		chunk func() (set func(k, v []byte) error, flush func() error)
		done  func() error
	}
	ingest := func(name string, prepare func(db *badger.DB) (way, error)) {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				db := open(b)
				r := rand.New(rand.NewPCG(1, 2))
				start, cpu0 := time.Now(), cpu()
				w, err := prepare(db)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < n; {
					set, flush := w.chunk()
					for size := 0; i < n && size < 2<<20; i++ {
						k, v := pair(i, r)
						size += len(k) + len(v)
						if err := set(k, v); err != nil {
							b.Fatal(err)
						}
					}
					if err := flush(); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.done(); err != nil {
					b.Fatal(err)
				}
				report(b, start, cpu0)
			}
		})
	}
	nothing := func() error { return nil }
	ingest("WriteBatch", func(db *badger.DB) (way, error) {
		return way{chunk: func() (func(k, v []byte) error, func() error) {
			wb := db.NewWriteBatch()
			return wb.Set, wb.Flush
		}, done: nothing}, nil
	})
	loader := func(db *badger.DB) (way, error) {
		version := committedVersion(db)
		return way{chunk: func() (func(k, v []byte) error, func() error) {
			l := db.NewKVLoader(2)
			return func(k, v []byte) error { return l.Set(&pb.KV{Key: k, Value: v, Version: version}) }, l.Finish
		}, done: nothing}, nil
	}
	ingest("KVLoader", loader)
	ingest("StreamWriter", func(db *badger.DB) (way, error) {
		sw := db.NewStreamWriter()
		return way{chunk: func() (func(k, v []byte) error, func() error) {
			buf := z.NewBuffer(4<<20, "ingest")
			return func(k, v []byte) error {
					badger.KVToBuffer(&pb.KV{Key: k, Value: v, Version: 1, StreamId: 1}, buf)
					return nil
				}, func() error {
					defer buf.Release()
					return sw.Write(buf)
				}
		}, done: sw.Flush}, sw.PrepareIncremental()
	})
}
