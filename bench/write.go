package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
)

// writer creates customers on a stand-alone node store, as the node's API
// does for a clerk: one Exec per customer, acknowledged once synced.
type writer struct {
	store *node.Store
	ids   *replication.IDs
	n     atomic.Int64 // customers made, for distinct sample fields
	txns  atomic.Int64 // store transactions committed (each one fsync)
	evs   atomic.Int64 // events in them
}

// openWriter opens a node store in dir.
func openWriter(dir string, log *slog.Logger) (*writer, error) {
	w := &writer{ids: replication.NewIDs()}
	s, err := node.OpenStore(node.StoreConfig{Dir: dir, ID: "bench-writer", Registry: kinds.Registry(), Log: log, Observer: node.Observer{
		Committed: func(_ time.Duration, events int) { w.txns.Add(1); w.evs.Add(int64(events)) },
	}})
	if err != nil {
		return nil, err
	}
	w.store = s
	return w, nil
}

func (w *writer) close() error { return w.store.Close() }

// create makes one customer and returns how long Exec took.
func (w *writer) create(ctx context.Context) (time.Duration, error) {
	i := int(w.n.Add(1))
	cmd := customerCommand(w.ids.New(time.Now()), i)
	start := time.Now()
	evs, err := w.store.Exec(ctx, "bench", cmd)
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if len(evs) != 1 {
		return d, fmt.Errorf("create customer made %d events, want 1", len(evs))
	}
	return d, nil
}

// writes is the result of the node write measurement.
type writes struct {
	Sequential summary // one writer, one Exec at a time
	Writers    int
	Concurrent summary // Writers goroutines at once
	Rate       float64 // Execs per second with Writers
	PerFsync   float64 // events per transaction (and fsync) with Writers
	CPU        cpuUse  // during the whole measurement
}

// warmupWrites are done and thrown away before measuring: the first
// writes pay for opening value-log files and filling caches.
const warmupWrites = 50

// measureWrites times seq sequential creates, then writers concurrent
// writers for dur.
func measureWrites(ctx context.Context, dir string, seq, writers int, dur time.Duration, log *slog.Logger) (writes, error) {
	w, err := openWriter(dir, log)
	if err != nil {
		return writes{}, err
	}
	defer w.close()
	for range warmupWrites {
		if _, err := w.create(ctx); err != nil {
			return writes{}, err
		}
	}
	m := markCPU()
	var lat latencies
	for range seq {
		d, err := w.create(ctx)
		if err != nil {
			return writes{}, err
		}
		lat.add(d)
	}
	res := writes{Sequential: lat.summarize(), Writers: writers}

	txns0, evs0 := w.txns.Load(), w.evs.Load()
	lats := make([]latencies, writers)
	errs := make([]error, writers)
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				d, err := w.create(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				lats[i].add(d)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return writes{}, err
		}
	}
	all := merge(lats...)
	res.Concurrent = all.summarize()
	res.Rate = rate(len(all), elapsed)
	res.CPU = m.use()
	if n := w.txns.Load() - txns0; n > 0 {
		res.PerFsync = float64(w.evs.Load()-evs0) / float64(n)
	}
	return res, nil
}
