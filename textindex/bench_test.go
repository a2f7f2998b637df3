package textindex

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Sample customers for benchmarks: company names of a city, a district, a
// two-character brand drawn from a few hundred common characters, a
// trade and a legal form; a mnemonic, a code, a mobile and for a third of
// them a landline. Fields as crm indexes them (folded, NUL between).
var (
	cities    = []rune("上北广深杭南成武西天重苏郑长青沈宁合福厦济昆")
	districts = []string{"浦东", "闵行", "朝阳", "海淀", "天河", "南山", "西湖", "鼓楼", "锦江", "江汉", "雁塔", "和平", "黄浦", "徐汇", "静安", "宝安", "龙岗", "越秀"}
	brandRune = []rune("金银华兴隆昌盛泰丰源宏达恒通顺鑫瑞祥福安康宁德信诚建新东方明星光辉永长富贵佳美嘉乐和平中天海洋山川林森木火土石玉珠宝龙凤鹏飞翔云雨雪春夏秋冬红绿蓝紫青白黑黄亿万千百联合众志同创业利民生国际环球亚欧美港澳台")
	trades    = []string{"速递", "物流", "五金", "餐饮", "贸易", "电子", "服装", "印刷", "建材", "医药", "食品", "家具", "科技", "文化", "化工", "机械", "纺织", "包装"}
	forms     = []string{"有限公司", "有限责任公司", "商行", "公司", "经营部", "店", "厂", "工作室"}
)

func sampleText(r *rand.Rand, i int) string {
	name := fmt.Sprintf("%c%c%s%c%c%s%s", cities[r.IntN(len(cities))], '市', districts[r.IntN(len(districts))],
		brandRune[r.IntN(len(brandRune))], brandRune[r.IntN(len(brandRune))], trades[r.IntN(len(trades))], forms[r.IntN(len(forms))])
	mnemonic := fmt.Sprintf("%c%c%c%c", 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26))
	text := fmt.Sprintf("%s\x00%s\x00c%07d\x001%d%09d", name, mnemonic, i, 3+r.IntN(7), r.IntN(1_000_000_000))
	if i%3 == 0 {
		text += fmt.Sprintf("\x00021%08d", r.IntN(100_000_000))
	}
	return text
}

var (
	millionOnce sync.Once
	million     *Index
)

// loadMillion builds an index of 1,000,000 sample customers and reports
// the time and the memory it took.
func loadMillion(b *testing.B) *Index {
	millionOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		x := New()
		_ = x.Load(func(put func(id, text string)) error {
			for i := range 1_000_000 {
				put(fmt.Sprintf("01JCUSTOMER%015d", i), sampleText(r, i))
			}
			return nil
		})
		took := time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		s := x.Stats()
		b.Logf("1,000,000 documents loaded in %v: heap %d MiB (texts %d MiB, lists %d MiB for %d postings of %d bigrams)",
			took.Round(time.Millisecond), (after.HeapAlloc-before.HeapAlloc)>>20, s.TextBytes>>20, s.ListBytes>>20, s.Postings, s.Bigrams)
		million = x
	})
	return million
}

// BenchmarkFind1M measures one type-ahead lookup among a million
// documents: the first 40 matches, as crm's Suggest asks for 10 hits.
func BenchmarkFind1M(b *testing.B) {
	x := loadMillion(b)
	for _, q := range []string{"浦", "金", "7", "浦东", "有限公司", "浦东金", "1381234", "0211234", "c0123", "不存在的名字", "司有限", "qz"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				n := 0
				x.Find(q, func(string, string) bool { n++; return n < 40 })
			}
		})
	}
}

// BenchmarkPut measures putting new documents into a million.
func BenchmarkPut(b *testing.B) {
	x := loadMillion(b)
	r := rand.New(rand.NewPCG(3, 4))
	i := 2_000_000
	for b.Loop() {
		x.Put(fmt.Sprintf("01JNEW%020d", i), sampleText(r, i))
		i++
	}
}
