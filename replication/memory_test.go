package replication_test

import (
	"errors"
	"maps"
	"sync"
	"testing"

	"branchline/replication"
	"branchline/replication/reptest"
)

// listMemory is a Memory that keeps what it is given, in order; a Load
// that fails after the first pair when failLoad is set.
type listMemory struct {
	mu       sync.Mutex
	got      map[string]string
	order    []string
	failLoad bool
}

func (m *listMemory) Load(scan func(put func(k, v []byte)) error) error {
	var failed bool
	err := scan(func(k, v []byte) {
		if failed {
			return
		}
		m.Set(k, v)
		failed = m.failLoad
	})
	if failed {
		return errors.New("memory full")
	}
	return err
}
func (m *listMemory) Set(k, v []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got[string(k)] = string(v)
	m.order = append(m.order, string(k))
}
func (m *listMemory) Delete(k []byte) {}

func feedRegistry(failLoad bool) *replication.Registry {
	reg := replication.NewRegistry()
	reg.AddIndex(replication.Index{Name: "t", Prefixes: [][]byte{replication.Prefix("t")},
		Watch: func([]byte) (string, bool) { return "", false }, Reindex: func(replication.Tx, string) error { return nil },
		MemoryPrefix: replication.Prefix("t", "mem"), Memory: func() replication.Memory { return &listMemory{got: map[string]string{}, failLoad: failLoad} }})
	return reg
}

// A MemoryFeed handed a store's pairs as they are written builds the
// memory a scan of the store would load: the pairs below its prefix, in
// the index area, in order, with keys as LoadMemories hands them.
func TestMemoryFeed(t *testing.T) {
	reg := feedRegistry(false)
	views := func(k string) []byte { return reg.DeferredKey(append([]byte("v\x00"), k...)) }
	keys := [][]byte{views("a\x00x"), views("t\x00mem\x001"), views("t\x00mem\x002"), views("t\x00other\x001"), views("u\x00mem\x001")}
	values := [][]byte{[]byte("a"), []byte("one"), []byte("two"), []byte("other"), []byte("u")}
	feed := reg.FeedMemories()
	feed.Feed(keys[:2], values[:2])
	feed.Feed(nil, nil)
	feed.Feed(keys[2:], values[2:])
	mems, err := feed.Memories()
	if err != nil {
		t.Fatal(err)
	}
	m := mems["t"].(*listMemory)
	want := map[string]string{"t\x00mem\x001": "one", "t\x00mem\x002": "two"}
	if !maps.Equal(m.got, want) || len(m.order) != 2 || m.order[0] != "t\x00mem\x001" {
		t.Fatalf("fed memory holds %q (in order %q), want %q", m.got, m.order, want)
	}
	if _, err := feed.Memories(); err == nil {
		t.Error("a feed ended twice gave its memories twice")
	}
	feed.Stop() // after Memories: nothing to do

	// The same pairs in a store, loaded by a scan: the same memory.
	store := reptest.NewMem()
	for i, k := range keys {
		if err := store.Set(k, values[i]); err != nil {
			t.Fatal(err)
		}
	}
	v, err := replication.OpenViewsIndexed(reg, store, replication.IndexDeferred)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.LoadMemories(store); err != nil {
		t.Fatal(err)
	}
	loaded := replication.MemoryOf(v.Read(store), "t").(*listMemory)
	if !maps.Equal(loaded.got, m.got) {
		t.Fatalf("a scan loads %q, the feed built %q", loaded.got, m.got)
	}

	// A Load that fails neither blocks the feed nor hides its error; a
	// feed stopped halfway returns at once.
	bad := feedRegistry(true).FeedMemories()
	for range 100 {
		bad.Feed(keys, values)
	}
	if _, err := bad.Memories(); err == nil {
		t.Error("a failed Load's error was lost")
	}
	stopped := reg.FeedMemories()
	stopped.Feed(keys, values)
	stopped.Stop()
}
