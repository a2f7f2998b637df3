package crm_test

import (
	"bytes"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/RaduBerinde/btreemap"
	"google.golang.org/protobuf/proto"

	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// benchN is how many customers the search benchmarks hold:
//
//	go test -run XXX -bench 'Suggest|Search' -benchtime 200x ./crm -customers 1000000
var benchN = flag.Int("customers", 100_000, "customers the search benchmarks hold")

// treeTx is an ordered in-memory Tx on a B-tree, for benchmarks with a
// realistic number of customers: reptest.Mem inserts into a sorted slice
// and copies its keys on every scan, which is fine for a few hundred keys
// and far too slow for the keys of 100,000 customers.
type treeTx struct {
	t *btreemap.BTreeMap[string, []byte]
}

func newTreeTx() *treeTx {
	return &treeTx{btreemap.New[string, []byte](32, func(a, b string) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})}
}

func (m *treeTx) Get(k []byte) ([]byte, error) {
	if _, v, ok := m.t.Get(string(k)); ok {
		return v, nil
	}
	return nil, replication.ErrNotFound
}

func (m *treeTx) Set(k, v []byte) error {
	m.t.ReplaceOrInsert(string(k), append([]byte(nil), v...))
	return nil
}

func (m *treeTx) Delete(k []byte) error { m.t.Delete(string(k)); return nil }

func (m *treeTx) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	from := prefix
	if start != nil && bytes.Compare(start, prefix) > 0 {
		from = start
	}
	var err error
	m.t.AscendFunc(btreemap.GE(string(from)), btreemap.Max[string](), func(k string, v []byte) bool {
		if !bytes.HasPrefix([]byte(k), prefix) {
			return false
		}
		var more bool
		more, err = fn([]byte(k), v)
		return err == nil && more
	})
	return err
}

func (m *treeTx) ScanReverse(prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	upper := btreemap.Max[string]()
	if from := replication.ReverseStart(prefix, before); from != nil {
		upper = btreemap.LT(string(from))
	}
	var err error
	m.t.DescendFunc(upper, btreemap.GE(string(prefix)), func(k string, v []byte) bool {
		var more bool
		more, err = fn([]byte(k), v)
		return err == nil && more
	})
	return err
}

var (
	benchOnce  sync.Once
	benchViews replication.Tx
)

// benchCustomers applies benchN customer-created events with Chinese
// company names, cities, levels, codes and mobiles.
func benchCustomers(b *testing.B) replication.Tx {
	benchOnce.Do(func() {
		start := time.Now()
		reg := replication.NewRegistry()
		crm.RegisterCustomers(reg)
		store := newTreeTx()
		views, err := replication.OpenViews(reg, store)
		if err != nil {
			b.Fatal(err)
		}
		cities := []string{"上海", "北京", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "天津"}
		districts := []string{"浦东", "闵行", "朝阳", "海淀", "天河", "南山", "西湖", "鼓楼", "锦江", "江汉", "雁塔", "和平"}
		trades := []string{"速递", "物流", "五金", "餐饮", "贸易", "电子", "服装", "印刷", "建材", "医药", "食品", "家具"}
		forms := []string{"有限公司", "有限责任公司", "商行", "公司", "经营部"}
		ids := replication.NewIDs()
		n := *benchN
		batch := views.Begin(store)
		for i := range n {
			city := cities[i%len(cities)]
			name := fmt.Sprintf("%s%s%s%s%d号%s", city, districts[(i/7)%len(districts)], trades[(i/3)%len(trades)], []string{"", "东方", "华联", "兴旺", "金桥"}[i%5], i%97, forms[(i/11)%len(forms)])
			body, _ := proto.Marshal(&crmv1.CustomerCreated{Fields: []*eventv1.FieldValue{
				{Field: "code", Value: fmt.Sprintf("C%06d", i)},
				{Field: "display_name", Value: name},
				{Field: "mobile", Value: fmt.Sprintf("+86138%08d", (i*7919)%100_000_000)},
				{Field: "city", Value: city},
				{Field: "level", Value: []string{"VIP", "普通", "重要"}[i%3]},
			}})
			ev := &replication.Event{Origin: "sh-pudong", Seq: uint64(i + 1), HLC: replication.MakeHLC(reptest.BaseMillis+int64(i), 0),
				Kind: crm.KindCustomerCreated, Entity: crm.Entity(ids.New(time.UnixMilli(reptest.BaseMillis))), Actor: "bench", Body: body}
			if _, err := batch.Apply(ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Finish(); err != nil {
			b.Fatal(err)
		}
		batch.Commit()
		benchViews = views.Read(store)
		b.Logf("loaded %d customers (%d keys) in %v", n, store.t.Len(), time.Since(start))
		start = time.Now()
		if err := views.LoadMemories(store); err != nil {
			b.Fatal(err)
		}
		b.Logf("loaded the searched texts into memory in %v", time.Since(start))
	})
	return benchViews
}

// BenchmarkSuggest measures type-ahead over benchN customers: one call
// per typed text, 10 hits.
func BenchmarkSuggest(b *testing.B) {
	views := benchCustomers(b)
	for _, q := range []string{"浦东", "浦东速递", "有限公司", "5678", "138123", "c0123", "金桥7号", "不存在的名字"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := crm.Suggest(views, q, 10, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSearch measures a combined search over benchN customers.
func BenchmarkSearch(b *testing.B) {
	views := benchCustomers(b)
	s := crm.Search{Limit: 50, Filters: []crm.Filter{
		{Field: "city", Value: "上海"}, {Field: "level", Value: "VIP"}, {Field: "display_name", Op: crm.OpContains, Value: "浦东"},
	}}
	for b.Loop() {
		if _, _, err := crm.SearchCustomers(views, s); err != nil {
			b.Fatal(err)
		}
	}
}
