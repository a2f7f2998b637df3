package hub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/migrate"
)

// raftLog is a raft-wal log with the meta store it was opened with:
// raft-wal v0.4.0's Close leaves its meta store open, whose file lock
// then blocks the next open in the same process (a member restarted in
// place).
type raftLog struct {
	*raftwal.WAL
	meta *metadb.BoltMetaDB
}

func openWAL(dir string, log hclog.Logger) (*raftLog, error) {
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(dir, raftwal.WithLogger(log), raftwal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, err
	}
	return &raftLog{WAL: w, meta: meta}, nil
}

// GetLog reads the entry at index. raft-wal drops the head of its log a
// segment file at a time, and still returns the entries before the
// first index from the segment being written: Raft would then replay
// them to a member that joins after a snapshot, instead of sending the
// snapshot — and the entries that it would find gone depend on where the
// segment files begin. Entries before the first index are not found.
func (l *raftLog) GetLog(index uint64, log *raft.Log) error {
	first, err := l.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return l.WAL.GetLog(index, log)
}

func (l *raftLog) Close() error {
	return errors.Join(l.WAL.Close(), l.meta.Close())
}

// openRaftLog opens a member's Raft log and stable store: raft-wal's
// append-only segment files in raftDir/wal, one write and one fsync per
// append. (The appends to raft-boltdb's copy-on-write B-tree, which
// earlier releases kept in raftDir/raft.db, were 15 % of the hub's CPU in
// a push run: BENCHMARKS.md.) A member of an earlier release has its entries
// and votes copied over once, into raftDir/wal.new, which is renamed into
// place when complete; only then is raft.db removed. A crash before the
// rename leaves raft.db intact and the copy is made again.
func openRaftLog(raftDir string, log hclog.Logger, logger *slog.Logger) (*raftLog, error) {
	dir := filepath.Join(raftDir, "wal")
	old := filepath.Join(raftDir, "raft.db")
	if _, err := os.Stat(dir); err == nil {
		// A crash between the rename and the removal leaves raft.db.
		if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return openWAL(dir, log)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(old); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		return openWAL(dir, log)
	} else if err != nil {
		return nil, err
	}
	logger.Info("hub: copying the Raft log of an earlier release", "from", old, "to", dir)
	if err := migrateRaftLog(old, dir+".new", log); err != nil {
		return nil, fmt.Errorf("copy the Raft log of %s to %s: %w", old, dir, err)
	}
	if err := os.Rename(dir+".new", dir); err != nil {
		return nil, err
	}
	if err := syncDir(raftDir); err != nil {
		return nil, err
	}
	if err := os.Remove(old); err != nil {
		return nil, err
	}
	return openWAL(dir, log)
}

// migrateRaftLog copies the entries and votes of the raft-boltdb file old
// into a new raft-wal directory dst (made afresh).
func migrateRaftLog(old, dst string, log hclog.Logger) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return err
	}
	src, err := raftboltdb.New(raftboltdb.Options{Path: old})
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := openWAL(dst, log)
	if err != nil {
		return err
	}
	if err := copyRaftLog(w, src); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return syncDir(dst)
}

// raftStore is a Raft log with its stable store, as both packages provide.
type raftStore interface {
	raft.LogStore
	raft.StableStore
}

func copyRaftLog(dst, src raftStore) error {
	last, err := src.LastIndex()
	if err != nil {
		return err
	}
	if last > 0 {
		if err := migrate.CopyLogs(context.Background(), dst, src, 4<<20, nil); err != nil {
			return err
		}
	}
	// The keys hashicorp/raft keeps in its stable store; a member that
	// never voted has no LastVoteCand.
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
		v, err := src.GetUint64([]byte(k))
		if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return err
		}
		if err == nil {
			if err := dst.SetUint64([]byte(k), v); err != nil {
				return err
			}
		}
	}
	v, err := src.Get([]byte("LastVoteCand"))
	if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return err
	}
	if err == nil {
		return dst.Set([]byte("LastVoteCand"), v)
	}
	return nil
}
