package bench

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
)

// BenchmarkNodeWrite times Store.Exec of a customer create on a Badger
// node store in a temp dir, synced before it returns: one writer at a
// time, and 16 at once (group commit shares each fsync among them).
func BenchmarkNodeWrite(b *testing.B) {
	for _, v := range []struct {
		name    string
		writers int
	}{
		{"1-writer", 1},
		{"16-writers", 16},
	} {
		b.Run(v.name, func(b *testing.B) {
			w, err := openWriter(b.TempDir(), slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer w.close()
			ctx := context.Background()
			for range warmupWrites {
				if _, err := w.create(ctx); err != nil {
					b.Fatal(err)
				}
			}
			txns0, evs0 := w.txns.Load(), w.evs.Load()
			b.ResetTimer()
			if v.writers == 1 {
				for b.Loop() {
					if _, err := w.create(ctx); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				// RunParallel starts parallelism × GOMAXPROCS goroutines.
				b.SetParallelism(max(1, v.writers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := w.create(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			if n := w.txns.Load() - txns0; n > 0 {
				b.ReportMetric(float64(w.evs.Load()-evs0)/float64(n), "events/fsync")
			}
		})
	}
}
