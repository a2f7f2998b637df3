package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
)

// searchCustomers is how many customers BenchmarkCustomerLookup's node
// holds:
//
//	go test -run XXX -bench CustomerLookup -benchtime 2000x ./bench -customers 1000000
var searchCustomers = flag.Int("customers", 100_000, "customers BenchmarkCustomerLookup's node holds")

// Sample customers as a courier company's branches collect them: company
// names of a city, a district, a two-character brand, a trade and a legal
// form; a code; a mobile; a landline for a third of them.
var (
	sampleCities    = []string{"上海", "北京", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "天津", "重庆", "苏州"}
	sampleDistricts = []string{"浦东", "闵行", "朝阳", "海淀", "天河", "南山", "西湖", "鼓楼", "锦江", "江汉", "雁塔", "和平", "黄浦", "徐汇", "静安", "宝安"}
	sampleBrand     = []rune("金银华兴隆昌盛泰丰源宏达恒通顺鑫瑞祥福安康宁德信诚建新东方明星光辉永长富贵佳美嘉乐和平中天海洋山川林森")
	sampleTrades    = []string{"速递", "物流", "五金", "餐饮", "贸易", "电子", "服装", "印刷", "建材", "医药", "食品", "家具", "科技", "文化"}
	sampleForms     = []string{"有限公司", "有限责任公司", "商行", "公司", "经营部", "店", "厂"}
)

func sampleCustomer(r *rand.Rand, i int) map[string]string {
	city := sampleCities[r.IntN(len(sampleCities))]
	f := map[string]string{
		"display_name": fmt.Sprintf("%s%s%c%c%s%s", city, sampleDistricts[r.IntN(len(sampleDistricts))],
			sampleBrand[r.IntN(len(sampleBrand))], sampleBrand[r.IntN(len(sampleBrand))],
			sampleTrades[r.IntN(len(sampleTrades))], sampleForms[r.IntN(len(sampleForms))]),
		"code":   fmt.Sprintf("C%07d", i),
		"mobile": fmt.Sprintf("+86%s%08d", []string{"138", "139", "137", "150", "151", "186", "188"}[r.IntN(7)], r.IntN(100_000_000)),
		"city":   city,
		"level":  []string{"VIP", "普通", "重要"}[i%3],
	}
	if i%3 == 0 {
		f["phone"] = fmt.Sprintf("+8621%08d", 50_000_000+r.IntN(20_000_000))
	}
	return f
}

// lookupNode builds (once per run) a node store holding n customers,
// applied as pulled events in batches, indexed, then closed and opened
// again: it reports how long the reopened node took to load its memory
// of the searched texts, and its heap. decorate, when set, adds fields to
// each sample customer.
func lookupNode(b *testing.B, n int, decorate func(i int, fields map[string]string)) (*node.Store, []map[string]string) {
	dir := b.TempDir()
	open := func() *node.Store {
		s, err := openLookupStore(dir)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	sample := buildLookupStore(b, open(), n, decorate)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	s := open()
	took := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.Logf("reopened in %v (searched texts loaded into memory): heap %d MiB more; process RSS %s, peak %s (the peak includes building the store)",
		took.Round(time.Millisecond), (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>20, procStatus("VmRSS"), procStatus("VmHWM"))
	b.Cleanup(func() { s.Close() })
	return s, sample
}

func openLookupStore(dir string) (*node.Store, error) {
	return node.OpenStore(node.StoreConfig{Dir: dir, ID: "bench-lookup", Registry: kinds.Registry(), Log: slog.New(slog.DiscardHandler)})
}

// buildLookupStore applies n sample customers to s, waits for them to be
// indexed and closes s; it returns a sample of their fields.
func buildLookupStore(b *testing.B, s *node.Store, n int, decorate func(i int, fields map[string]string)) []map[string]string {
	r := rand.New(rand.NewPCG(7, 11))
	ids := replication.NewIDs()
	clock := replication.NewClock(nil, 0, 0)
	sample := make([]map[string]string, 0, 2000)
	start := time.Now()
	const batch = 1000
	for done := 0; done < n; {
		evs := make([]*replication.Event, 0, batch)
		for ; len(evs) < batch && done < n; done++ {
			fields := sampleCustomer(r, done)
			if decorate != nil {
				decorate(done, fields)
			}
			if done%(max(1, n/2000)) == 0 {
				sample = append(sample, fields)
			}
			d, err := crm.CreateCustomer(noViews{}, ids.New(time.Now()), fields)
			if err != nil {
				b.Fatal(err)
			}
			body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, &replication.Event{Origin: "sh-import", Seq: uint64(done + 1), HLC: clock.Now(),
				Kind: d.Kind, Entity: d.Entity, Actor: "bench", Body: body})
		}
		if err := s.ApplyRemote(context.Background(), evs, uint64(done), time.Now().UnixMilli()); err != nil {
			b.Fatal(err)
		}
	}
	for !s.IndexCaughtUp() {
		time.Sleep(50 * time.Millisecond)
	}
	b.Logf("%d customers applied and indexed in %v", n, time.Since(start).Round(time.Millisecond))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return sample
}

// reopenDirEnv names the store TestReopenedStoreMemory opens.
const reopenDirEnv = "BRANCHLINE_BENCH_REOPEN_DIR"

// BenchmarkNodeMemory measures what a branch PC needs for a node store of
// -customers customers (issue 13): it builds the store, then opens it in
// a process of its own (this test binary, running
// TestReopenedStoreMemory), which answers type-ahead and a screen pop
// and reports its resident memory — the store, Badger's caches and the
// type-ahead memory, without the building.
//
//	go test -run XXX -bench NodeMemory -benchtime 1x -timeout 2h ./bench -customers 1000000
func BenchmarkNodeMemory(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a store of -customers customers")
	}
	dir := b.TempDir()
	s, err := openLookupStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	sample := buildLookupStore(b, s, *searchCustomers, nil)
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReopenedStoreMemory$", "-test.v")
		one := sample[len(sample)/2]
		cmd.Env = append(os.Environ(), reopenDirEnv+"="+dir, "BRANCHLINE_BENCH_REOPEN_NAME="+one["display_name"],
			"BRANCHLINE_BENCH_REOPEN_PHONE="+strings.TrimPrefix(one["mobile"], "+86"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("reopening in a process of its own: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if i := strings.Index(line, "node store of"); i >= 0 {
				b.Log(line[i:])
			}
		}
	}
}

// TestReopenedStoreMemory is BenchmarkNodeMemory's child process; it does
// nothing unless that benchmark starts it.
func TestReopenedStoreMemory(t *testing.T) {
	dir := os.Getenv(reopenDirEnv)
	if dir == "" {
		t.Skip("run by BenchmarkNodeMemory")
	}
	start := time.Now()
	s, err := openLookupStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opened := time.Since(start)
	// What an agent does first: type a name, take a call.
	name := []rune(os.Getenv("BRANCHLINE_BENCH_REOPEN_NAME"))
	q := string(name[:min(4, len(name))])
	err = s.View(func(views replication.Tx) error {
		if _, err := suggest(views, q); err != nil {
			return err
		}
		cs, err := crm.LookupByPhone(views, os.Getenv("BRANCHLINE_BENCH_REOPEN_PHONE"))
		if err == nil && len(cs) == 0 {
			err = fmt.Errorf("no customer has the sample's mobile")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("node store of %d customers reopened alone in %v: process RSS %s (peak %s), Go heap %d MiB",
		s.Views().AppliedCount(), opened.Round(time.Millisecond), procStatus("VmRSS"), procStatus("VmHWM"), m.HeapAlloc>>20)
}

// BenchmarkCustomerLookup measures, on a Badger node store holding
// -customers customers, what an agent's screen does: type-ahead of one
// and two characters of a name, of digits of a phone and of a code
// (10 hits, as the desk asks), and the screen pop's LookupByPhone of a
// caller's number. It reports each query's p50 and p99.
func BenchmarkCustomerLookup(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a store of -customers customers")
	}
	s, sample := lookupNode(b, *searchCustomers, nil)
	r := rand.New(rand.NewPCG(3, 5))
	pick := func() map[string]string { return sample[r.IntN(len(sample))] }
	runeAt := func(s string, i int) string { rs := []rune(s); return string(rs[i%len(rs):][:1]) }
	classes := []struct {
		name  string
		query func() string
		run   func(views replication.Tx, q string) (int, error)
	}{
		{"typeahead-1-char", func() string { return runeAt(pick()["display_name"], r.IntN(8)) }, suggest},
		{"typeahead-2-chars", func() string {
			rs := []rune(pick()["display_name"])
			i := r.IntN(len(rs) - 1)
			return string(rs[i : i+2])
		}, suggest},
		{"typeahead-4-digits", func() string {
			m := strings.TrimPrefix(pick()["mobile"], "+86")
			i := r.IntN(len(m) - 3)
			return m[i : i+4]
		}, suggest},
		{"typeahead-7-digits", func() string { return strings.TrimPrefix(pick()["mobile"], "+86")[:7] }, suggest},
		{"typeahead-code", func() string { return strings.ToLower(pick()["code"][:6]) }, suggest},
		{"lookup-by-phone", func() string { return strings.TrimPrefix(pick()["mobile"], "+86") }, func(views replication.Tx, q string) (int, error) {
			cs, err := crm.LookupByPhone(views, q)
			if err == nil && len(cs) == 0 {
				err = fmt.Errorf("no customer has %s", q)
			}
			return len(cs), err
		}},
	}
	for _, c := range classes {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				q := c.query()
				start := time.Now()
				err := s.View(func(views replication.Tx) error {
					_, err := c.run(views, q)
					return err
				})
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatalf("%q: %v", q, err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func suggest(views replication.Tx, q string) (int, error) {
	hits, err := crm.Suggest(views, q, 10, nil)
	if err == nil && len(hits) == 0 {
		err = fmt.Errorf("no customer matches %q", q)
	}
	return len(hits), err
}

// procStatus is a field of /proc/self/status ("VmRSS": resident memory),
// or "?" where there is none.
func procStatus(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
