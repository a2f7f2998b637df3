package node

import (
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
// snapshot's pairs into a node's Badger store (badgerOptions), as the
// installation does (WriteBatch, a synced batch per 2 MiB chunk) and as
// Badger's StreamWriter would (sorted pairs written as tables, no
// memtable, no compaction — but it blocks every other write of the store
// while it runs, and needs empty memtables). Pairs of 125 bytes in key
// order, as a snapshot's: -ingest-pairs of them (2.77M: 100,000 customers).
//
//	go test -run XXX -bench Ingest -benchtime 1x ./node
func BenchmarkIngest(b *testing.B) {
	n := 2_770_000
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
		db, err := badger.Open(badgerOptions(b.TempDir(), slog.New(slog.DiscardHandler), 0))
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
	b.Run("WriteBatch", func(b *testing.B) {
		for range b.N {
			db := open(b)
			r := rand.New(rand.NewPCG(1, 2))
			start, cpu0 := time.Now(), cpu()
			for i := 0; i < n; {
				wb := db.NewWriteBatch()
				for size := 0; i < n && size < 2<<20; i++ {
					k, v := pair(i, r)
					size += len(k) + len(v)
					if err := wb.Set(k, v); err != nil {
						b.Fatal(err)
					}
				}
				if err := wb.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			report(b, start, cpu0)
		}
	})
	b.Run("StreamWriter", func(b *testing.B) {
		for range b.N {
			db := open(b)
			r := rand.New(rand.NewPCG(1, 2))
			start, cpu0 := time.Now(), cpu()
			sw := db.NewStreamWriter()
			if err := sw.PrepareIncremental(); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; {
				buf := z.NewBuffer(4<<20, "ingest")
				for size := 0; i < n && size < 2<<20; i++ {
					k, v := pair(i, r)
					size += len(k) + len(v)
					badger.KVToBuffer(&pb.KV{Key: k, Value: v, Version: 1, StreamId: 1}, buf)
				}
				if err := sw.Write(buf); err != nil {
					b.Fatal(err)
				}
				_ = buf.Release()
			}
			if err := sw.Flush(); err != nil {
				b.Fatal(err)
			}
			report(b, start, cpu0)
		}
	})
}
