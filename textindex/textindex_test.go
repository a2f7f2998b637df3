package textindex

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// model is what an index must answer: the documents in the order their
// texts last changed.
type model struct {
	text  map[string]string
	order []string // ids, oldest change first
}

func (m *model) put(id, text string) {
	if old, ok := m.text[id]; ok && old == text {
		return
	}
	m.text[id] = text
	m.order = slices.DeleteFunc(m.order, func(o string) bool { return o == id })
	m.order = append(m.order, id)
}

func (m *model) delete(id string) {
	delete(m.text, id)
	m.order = slices.DeleteFunc(m.order, func(o string) bool { return o == id })
}

func (m *model) find(q string) []string {
	var out []string
	for i := len(m.order) - 1; i >= 0; i-- {
		id := m.order[i]
		if strings.Contains(m.text[id], q) {
			out = append(out, id)
		}
	}
	return out
}

func find(x *Index, q string) []string {
	var out []string
	x.Find(q, func(id, text string) bool {
		out = append(out, id)
		return true
	})
	return out
}

// Texts from a small alphabet, so that queries hit: Chinese characters,
// digits, a letter, and NUL between fields.
var alphabet = []rune("浦东上海公司123a")

func genText(t *rapid.T, label string) string {
	fields := rapid.SliceOfN(rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 6), 1, 3).Draw(t, label)
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = string(f)
	}
	return strings.Join(parts, "\x00")
}

// TestMatchesModel runs random puts, deletes, folds and finds against the
// model, with tiny fold and compaction thresholds so that every segment
// kind, folds in the background and compactions all take part.
func TestMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := New()
		x.minFold = rapid.IntRange(1, 5).Draw(t, "minFold")
		x.minDead = rapid.IntRange(1, 5).Draw(t, "minDead")
		m := &model{text: map[string]string{}}
		ids := []string{"a", "b", "c", "d", "e", "f", "g"}
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0:
				id := rapid.SampledFrom(ids).Draw(t, "id")
				x.Delete(id)
				m.delete(id)
			case 1:
				x.Flush()
			default:
				id := rapid.SampledFrom(ids).Draw(t, "id")
				text := genText(t, "text")
				x.Put(id, text)
				m.put(id, text)
			}
			q := string(rapid.SliceOfN(rapid.SampledFrom(alphabet), 1, 3).Draw(t, "q"))
			if got, want := find(x, q), m.find(q); !slices.Equal(got, want) {
				t.Fatalf("Find(%q) = %q, want %q", q, got, want)
			}
		}
		if x.Len() != len(m.text) {
			t.Fatalf("Len = %d, want %d", x.Len(), len(m.text))
		}
		for id, text := range m.text {
			if got, ok := x.Text(id); !ok || got != text {
				t.Fatalf("Text(%s) = %q, %v; want %q", id, got, ok, text)
			}
		}
	})
}

func TestFindStopsAndRejects(t *testing.T) {
	x := New()
	for i := range 100 {
		x.Put(fmt.Sprint(i), fmt.Sprintf("上海浦东%d号\x00138%08d", i, i))
	}
	x.Flush()
	n := 0
	x.Find("浦东", func(id, text string) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("Find went on after fn returned false: %d calls", n)
	}
	for _, q := range []string{"", "浦\x00东", "\xff", "号1"} {
		if got := find(x, q); len(got) != 0 {
			t.Errorf("Find(%q) = %v, want nothing", q, got)
		}
	}
	// A query ends where a field does without crossing into the next.
	if got := find(x, "99号"); !slices.Equal(got, []string{"99"}) {
		t.Errorf(`Find("99号") = %v`, got)
	}
	if got := find(x, "00000099"); !slices.Equal(got, []string{"99"}) {
		t.Errorf(`Find("00000099") = %v`, got)
	}
}

// TestConcurrentReadsAndWrites runs finds while puts fold segments in the
// background (for the race detector), then checks the final answer.
func TestConcurrentReadsAndWrites(t *testing.T) {
	x := New()
	x.minFold = 50
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				x.Find("浦东", func(string, string) bool { return true })
				x.Find("7", func(string, string) bool { return true })
			}
		}()
	}
	for i := range 5000 {
		x.Put(fmt.Sprint(i%3000), fmt.Sprintf("浦东%d", i))
	}
	close(done)
	wg.Wait()
	x.Flush()
	if got := len(find(x, "浦东")); got != 3000 {
		t.Fatalf("found %d documents, want 3000", got)
	}
	if got := find(x, "浦东4999"); !slices.Equal(got, []string{"1999"}) {
		t.Fatalf(`Find("浦东4999") = %v`, got)
	}
}

// TestLongListsSeek: lists far longer than the skip distance, where a
// rare bigram leads common ones (phone digits: every number holds "13"),
// so seeks jump over skip points; answers must equal the model's.
func TestLongListsSeek(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := New()
		x.minFold = rapid.IntRange(50, 3000).Draw(t, "minFold")
		m := &model{text: map[string]string{}}
		n := rapid.IntRange(500, 4000).Draw(t, "docs")
		seed := rapid.Uint32().Draw(t, "seed")
		digits := func(i int) string {
			h := uint32(i)*2654435761 ^ seed
			return fmt.Sprintf("13%09d", h%1_000_000_000)
		}
		for i := range n {
			id, text := fmt.Sprint(i), digits(i)
			x.Put(id, text)
			m.put(id, text)
			if i%7 == 0 { // and some rewritten later
				id := fmt.Sprint(i / 2)
				x.Put(id, digits(i+n))
				m.put(id, digits(i+n))
			}
		}
		if rapid.Bool().Draw(t, "flush") {
			x.Flush()
		}
		for range 20 {
			var q string
			if rapid.Bool().Draw(t, "from a doc") {
				d := digits(rapid.IntRange(0, n-1).Draw(t, "doc"))
				at := rapid.IntRange(0, len(d)-2).Draw(t, "at")
				q = d[at:min(len(d), at+rapid.IntRange(2, 6).Draw(t, "len"))]
			} else {
				q = "13" + string(rapid.SliceOfN(rapid.SampledFrom([]rune("0123456789")), 1, 3).Draw(t, "rest"))
			}
			if got, want := find(x, q), m.find(q); !slices.Equal(got, want) {
				t.Fatalf("Find(%q) = %v, want %v", q, got, want)
			}
		}
	})
}
