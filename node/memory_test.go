package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"branchline/replication"
)

// mapMemory is a replication.Memory on a map, for the store's tests.
type mapMemory struct {
	mu sync.Mutex
	m  map[string]string
}

func (m *mapMemory) Load(scan func(put func(k, v []byte)) error) error {
	return scan(func(k, v []byte) { m.Set(k, v) })
}
func (m *mapMemory) Set(k, v []byte) { m.mu.Lock(); m.m[string(k)] = string(v); m.mu.Unlock() }
func (m *mapMemory) Delete(k []byte) { m.mu.Lock(); delete(m.m, string(k)); m.mu.Unlock() }
func (m *mapMemory) snapshot() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.m)
}

var upperPrefix = replication.Prefix("up", "st")

// upperRegistry is testRegistry with an index of the registers' values in
// upper case (version 1) or with a "v2:" tag (version 2), kept in memory
// too.
func upperRegistry(version int) *replication.Registry {
	r := testRegistry()
	r.AddIndex(upperIndex(version))
	return r
}

func upperIndex(version int) replication.Index {
	setPrefix := replication.Prefix("set")
	return replication.Index{
		Name:     "test.upper",
		Prefixes: [][]byte{replication.Prefix("up")},
		Watch: func(k []byte) (string, bool) {
			rest, ok := bytes.CutPrefix(k, setPrefix)
			return string(rest), ok
		},
		Reindex: func(tx replication.Tx, key string) error {
			r, found, err := replication.GetRegister(tx, replication.Key("set", key))
			if err != nil || !found {
				return err
			}
			// Version 2 also drops version 1's entry of key, as a real
			// index does through its record of what it wrote.
			if err := tx.Delete(replication.Key("up", "st", "v1", key)); err != nil {
				return err
			}
			if version == 1 {
				return tx.Set(replication.Key("up", "st", "v1", key), []byte(strings.ToUpper(string(r.Value))))
			}
			return tx.Set(replication.Key("up", "st", "v2", key), []byte("v2:"+string(r.Value)))
		},
		Version:      version,
		MemoryPrefix: upperPrefix,
		Memory:       func() replication.Memory { return &mapMemory{m: map[string]string{}} },
	}
}

func memoryOf(t *testing.T, s *Store) map[string]string {
	t.Helper()
	var out map[string]string
	err := s.View(func(views replication.Tx) error {
		m, ok := replication.MemoryOf(views, "test.upper").(*mapMemory)
		if !ok {
			t.Fatal("the store's readers get no memory of test.upper")
		}
		out = m.snapshot()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIndexMemory: a node's memory of an index follows local writes before
// they are acknowledged, is loaded from the stored entries when the store
// opens, and a release with another Version of the index reindexes every
// entity behind the commit, the memory following.
func TestIndexMemory(t *testing.T) {
	dir := t.TempDir()
	var s *Store
	closeStore := func() {
		if s != nil {
			_ = s.Close()
			s = nil
		}
	}
	t.Cleanup(func() { closeStore() })
	open := func(version int) *Store {
		s, err := OpenStore(StoreConfig{Dir: dir, ID: "sh-pudong", Registry: upperRegistry(version), Log: slog.New(slog.DiscardHandler), Observer: Observer{}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	key := func(v, k string) string { return string(replication.Key("up", "st", v, k)) }

	s = open(1)
	if _, err := s.Exec(context.Background(), "alice", set("a=x", "b=y")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{key("v1", "a"): "X", key("v1", "b"): "Y"}
	if got := memoryOf(t, s); !maps.Equal(got, want) {
		t.Fatalf("memory after the write = %v, want %v", got, want)
	}
	if _, err := s.Exec(context.Background(), "alice", set("a=z")); err != nil {
		t.Fatal(err)
	}
	want[key("v1", "a")] = "Z"
	if got := memoryOf(t, s); !maps.Equal(got, want) {
		t.Fatalf("memory after the overwrite = %v, want %v", got, want)
	}
	closeStore()

	s = open(1)
	if got := memoryOf(t, s); !maps.Equal(got, want) {
		t.Fatalf("memory loaded at open = %v, want %v", got, want)
	}
	closeStore()

	s = open(2)
	want = map[string]string{key("v2", "a"): "v2:z", key("v2", "b"): "v2:y"}
	deadline := time.Now().Add(20 * time.Second)
	for !maps.Equal(memoryOf(t, s), want) || !s.IndexCaughtUp() {
		if time.Now().After(deadline) {
			t.Fatalf("memory after the upgrade = %v, want %v (caught up: %v)", memoryOf(t, s), want, s.IndexCaughtUp())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var stored map[string]string
	err := s.View(func(views replication.Tx) error {
		stored = map[string]string{}
		return replication.WithPrefix(views, nil).Scan(upperPrefix, nil, func(k, v []byte) (bool, error) {
			stored[string(k)] = string(v)
			return true, nil
		})
	})
	if err != nil || !maps.Equal(stored, want) {
		t.Fatalf("stored entries after the upgrade = %v (%v), want %v", stored, err, want)
	}
	closeStore()
	s = open(2)
	if got := memoryOf(t, s); !maps.Equal(got, want) {
		t.Fatalf("memory reopened at version 2 = %v, want %v", got, want)
	}
}

// TestBulkMarkersWait: the entities a snapshot marked in bulk are indexed
// after what changes meanwhile — a local write is findable while a
// backlog of them remains — and every one of them is indexed in the end.
func TestBulkMarkersWait(t *testing.T) {
	ix := upperIndex(1)
	ix.Shipped = [][]byte{replication.Prefix("up", "none")} // the rest is left out
	reg := testRegistry()
	reg.AddIndex(ix)
	s, err := OpenStore(StoreConfig{Dir: t.TempDir(), ID: "sh-pudong", Registry: reg, Log: slog.New(slog.DiscardHandler), Observer: Observer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const bulk = 200_000
	g := s.cur.Load()
	wb := s.db.NewWriteBatch()
	err = s.db.View(func(txn *badger.Txn) error {
		marks, err := reg.NewSnapshotMarks(g.read(txn))
		if err != nil {
			return err
		}
		mark := func(k, v []byte) {
			if err == nil {
				err = wb.Set(append(bytes.Clone(g.root), k...), v)
			}
		}
		for i := range bulk {
			marks.Pair(append(bytes.Clone(replication.ViewPrefix), replication.Key("set", fmt.Sprintf("bulk%06d", i))...), mark)
		}
		marks.Flush(mark)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := s.BulkBacklog(); n != bulk {
		t.Fatalf("bulk backlog %d, want %d", n, bulk)
	}
	s.indexer.poke()
	if _, err := s.Exec(context.Background(), "alice", set("a=x")); err != nil {
		t.Fatal(err)
	}
	if got := memoryOf(t, s)[string(replication.Key("up", "st", "v1", "a"))]; got != "X" {
		t.Errorf("a local write waits behind the bulk markers: its entry is %q", got)
	}
	if n := s.BulkBacklog(); n == 0 {
		t.Errorf("the bulk markers were all indexed before the local write: nothing shows it went first")
	}
	for deadline := time.Now().Add(60 * time.Second); !s.IndexCaughtUp() || s.IndexBacklog() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the bulk markers are not indexed: %d left", s.BulkBacklog())
		}
	}
}
