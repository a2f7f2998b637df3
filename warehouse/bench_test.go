package warehouse

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// mapTx is a hash-map Tx without ordered scans: enough for appliers of
// stock moves, which never scan, and free of the cost of keeping keys
// sorted, so that the benchmark measures the applier.
type mapTx map[string][]byte

func (m mapTx) Get(k []byte) ([]byte, error) {
	v, ok := m[string(k)]
	if !ok {
		return nil, replication.ErrNotFound
	}
	return v, nil
}
func (m mapTx) Set(k, v []byte) error { m[string(k)] = v; return nil }
func (m mapTx) Delete(k []byte) error { delete(m, string(k)); return nil }
func (m mapTx) Scan(_, _ []byte, _ func(k, v []byte) (bool, error)) error {
	return errors.New("mapTx does not scan")
}
func (m mapTx) ScanReverse(_, _ []byte, _ func(k, v []byte) (bool, error)) error {
	return errors.New("mapTx does not scan")
}

// BenchmarkApplyMoves measures applying stock moves (one receipt line of
// one of 1,000 products into one of 10 bins, batch-tracked) through
// replication.Views, in batches of 100 events as a node's store applies
// them: the applier's and the digest's CPU per move, without a store.
func BenchmarkApplyMoves(b *testing.B) {
	reg := newRegistry()
	g := &idGen{}
	evs := make([]*replication.Event, b.N)
	at := time.UnixMilli(1_790_000_000_000)
	for i := range evs {
		body, err := proto.Marshal(&whv1.StockMoved{Warehouse: "A", Direction: DirReceipt, Type: ReceiptPurchase, AtMs: at.UnixMilli() + int64(i),
			Lines: []*whv1.Line{{Product: "P" + strconv.Itoa(i%1000), Bin: "G" + strconv.Itoa(i%10), Batch: "B" + strconv.Itoa(i%3), Qty: 5}}})
		if err != nil {
			b.Fatal(err)
		}
		evs[i] = &replication.Event{Origin: "wa", Seq: uint64(i + 1), HLC: replication.MakeHLC(at.UnixMilli()+int64(i), 0),
			Kind: KindStockMoved, Entity: MoveEntity(g.next()), Actor: "clerk", Body: body}
	}
	m := mapTx{}
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for len(evs) > 0 {
		n := min(len(evs), 100)
		batch := views.Begin(m)
		for _, ev := range evs[:n] {
			if _, err := batch.Apply(ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Finish(); err != nil {
			b.Fatal(err)
		}
		batch.Commit()
		evs = evs[n:]
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "moves/s")
}
