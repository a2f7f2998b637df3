package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// earlierRaftLog writes what a member of an earlier release kept in
// raft/raft.db: n entries from index first (the head before it dropped
// by a snapshot), of every type Raft writes, and its votes unless
// neverVoted.
func earlierRaftLog(t *testing.T, raftDir string, first, n uint64, neverVoted bool) []*raft.Log {
	t.Helper()
	if err := os.MkdirAll(raftDir, 0o750); err != nil {
		t.Fatal(err)
	}
	b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var logs []*raft.Log
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i := first; i < first+n; i++ {
		l := &raft.Log{Index: i, Term: 1 + i/100, Type: raft.LogCommand, Data: fmt.Appendf(nil, "entry %d %s", i, make([]byte, i%3000)),
			AppendedAt: at.Add(time.Duration(i) * time.Millisecond)}
		switch i % 50 {
		case 0:
			l.Type, l.Data = raft.LogConfiguration, []byte("configuration")
		case 1:
			l.Type, l.Data = raft.LogNoop, nil
		case 2:
			l.Extensions = []byte("extensions")
		}
		logs = append(logs, l)
	}
	for i := 0; i < len(logs); i += 64 {
		if err := b.StoreLogs(logs[i:min(i+64, len(logs))]); err != nil {
			t.Fatal(err)
		}
	}
	if !neverVoted {
		for k, v := range map[string]uint64{"CurrentTerm": 9, "LastVoteTerm": 8} {
			if err := b.SetUint64([]byte(k), v); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Set([]byte("LastVoteCand"), []byte("127.0.0.1:7001")); err != nil {
			t.Fatal(err)
		}
	} else if err := b.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
	return logs
}

// sameRaftLog fails unless s holds exactly logs and the votes.
func sameRaftLog(t *testing.T, s raftStore, logs []*raft.Log, neverVoted bool) {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 {
		if first != 0 || last != 0 {
			t.Fatalf("indexes %d..%d, want an empty log", first, last)
		}
	} else if first != logs[0].Index || last != logs[len(logs)-1].Index {
		t.Fatalf("indexes %d..%d, want %d..%d", first, last, logs[0].Index, logs[len(logs)-1].Index)
	}
	for _, want := range logs {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatalf("entry %d: %v", want.Index, err)
		}
		if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
			string(got.Data) != string(want.Data) || string(got.Extensions) != string(want.Extensions) ||
			!got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("entry %d: got %+v, want %+v", want.Index, got, *want)
		}
	}
	want := map[string]uint64{"CurrentTerm": 9, "LastVoteTerm": 8}
	cand := "127.0.0.1:7001"
	if neverVoted {
		want, cand = map[string]uint64{"CurrentTerm": 1, "LastVoteTerm": 0}, ""
	}
	got := map[string]uint64{}
	for k := range want {
		v, err := s.GetUint64([]byte(k))
		if err != nil && !neverVoted {
			t.Fatalf("%s: %v", k, err)
		}
		got[k] = v
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("votes %v, want %v", got, want)
	}
	if c, _ := s.Get([]byte("LastVoteCand")); string(c) != cand {
		t.Fatalf("LastVoteCand %q, want %q", c, cand)
	}
}

func TestRaftLogOfAnEarlierRelease(t *testing.T) {
	hl := hclog.NewNullLogger()
	for _, tc := range []struct {
		name        string
		first, n    uint64
		neverVoted  bool
		crashedCopy bool // a copy into wal.new was under way
	}{
		{name: "a long log", first: 1, n: 5000},
		{name: "its head dropped by a snapshot", first: 40_001, n: 300},
		{name: "a member that never voted", first: 1, n: 3, neverVoted: true},
		{name: "an empty log", first: 1, n: 0, neverVoted: true},
		{name: "a copy cut short by a crash", first: 1, n: 700, crashedCopy: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raftDir := t.TempDir()
			logs := earlierRaftLog(t, raftDir, tc.first, tc.n, tc.neverVoted)
			if tc.crashedCopy {
				// Half a copy: a WAL holding other entries, and a stray file.
				partial := filepath.Join(raftDir, "wal.new")
				if err := migrateRaftLog(filepath.Join(raftDir, "raft.db"), partial, hl); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(partial, "00000000000000000002-0000000000000399.wal"), []byte("torn"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			w, err := openRaftLog(raftDir, hl, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			sameRaftLog(t, w, logs, tc.neverVoted)
			gone(t, filepath.Join(raftDir, "raft.db"))
			gone(t, filepath.Join(raftDir, "wal.new"))
			// The log goes on from where it was, and holds after a reopen.
			next := &raft.Log{Index: tc.first + tc.n, Term: 10, Type: raft.LogCommand, Data: []byte("after the copy")}
			w = appendThenReopen(t, w, next, raftDir)
			defer w.Close()
			sameRaftLog(t, w, append(logs, next), tc.neverVoted)
		})
	}
}

// A crash after the copy was renamed into place, before raft.db was
// removed: the copy is kept, not made again, and the old file removed.
func TestRaftLogCopiedBeforeACrash(t *testing.T) {
	hl := hclog.NewNullLogger()
	raftDir := t.TempDir()
	logs := earlierRaftLog(t, raftDir, 1, 100, false)
	if err := migrateRaftLog(filepath.Join(raftDir, "raft.db"), filepath.Join(raftDir, "wal"), hl); err != nil {
		t.Fatal(err)
	}
	// An entry in the copy only: a second copy would lose it.
	w, err := openWAL(filepath.Join(raftDir, "wal"), hl)
	if err != nil {
		t.Fatal(err)
	}
	next := &raft.Log{Index: 101, Term: 10, Type: raft.LogCommand, Data: []byte("appended after the rename")}
	w = appendThenReopen(t, w, next, raftDir)
	defer w.Close()
	sameRaftLog(t, w, append(logs, next), false)
	gone(t, filepath.Join(raftDir, "raft.db"))
}

// appendThenReopen appends next to w, closes it and opens raftDir's log
// as a member's start does.
func appendThenReopen(t *testing.T, w *raftLog, next *raft.Log, raftDir string) *raftLog {
	t.Helper()
	if err := w.StoreLog(next); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := openRaftLog(raftDir, hclog.NewNullLogger(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func gone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s left behind: %v", filepath.Base(path), err)
	}
}

// After Raft drops the head of its log (a snapshot taken), the entries
// before the first index are gone, though raft-wal keeps them in the
// segment file being written.
func TestRaftLogHeadDropped(t *testing.T) {
	w, err := openRaftLog(t.TempDir(), hclog.NewNullLogger(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := uint64(1); i <= 60; i++ {
		if err := w.StoreLog(&raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte("entry")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.DeleteRange(1, 40); err != nil {
		t.Fatal(err)
	}
	if first, _ := w.FirstIndex(); first != 41 {
		t.Fatalf("first index %d, want 41", first)
	}
	for _, i := range []uint64{1, 40} {
		var l raft.Log
		if err := w.GetLog(i, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("entry %d after the head was dropped: %v, want ErrLogNotFound", i, err)
		}
	}
	var l raft.Log
	if err := w.GetLog(41, &l); err != nil || l.Index != 41 {
		t.Fatalf("entry 41: %v, %+v", err, l)
	}
}
