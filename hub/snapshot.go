package hub

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Snapshot implements raft.FSM. It runs between applies: it first syncs
// Pebble, because once the snapshot exists Raft may drop the log entries
// Pebble would otherwise be rebuilt from.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.db.LogData(nil, pebble.Sync); err != nil {
		return nil, fmt.Errorf("sync state before snapshot: %w", err)
	}
	return &snapshot{snap: f.db.NewSnapshot()}, nil
}

const snapshotMagic = "branchline-hub-snapshot-1\n"

// snapshot streams a consistent Pebble snapshot: the magic line, then
// uvarint-length-prefixed keys and values, a zero length, and the SHA-256
// of everything before it.
type snapshot struct{ snap *pebble.Snapshot }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) write(w io.Writer) error {
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
	bw.WriteString(snapshotMagic)
	it, err := s.snap.NewIter(nil)
	if err != nil {
		return err
	}
	var n [binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		bw.Write(n[:binary.PutUvarint(n[:], uint64(len(it.Key())))])
		bw.Write(it.Key())
		bw.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
		if _, err := bw.Write(v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	bw.WriteByte(0)
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(h.Sum(nil))
	return err
}

func (s *snapshot) Release() { s.snap.Close() }

// hashReader hashes what it reads.
type hashReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (h *hashReader) ReadByte() (byte, error) {
	b, err := h.r.ReadByte()
	if err == nil {
		h.h.Write([]byte{b})
	}
	return b, err
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// Restore implements raft.FSM: it replaces the state with a snapshot's.
// The snapshot is written to a new Pebble directory and checked before the
// old state is swapped out, so a bad or cut-off snapshot changes nothing.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := filepath.Join(f.dir, "state.new")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := restoreInto(tmp, rc); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeSnapshots()
	if err := f.db.Close(); err != nil {
		return err
	}
	cur, old := filepath.Join(f.dir, "state"), filepath.Join(f.dir, "state.old")
	if err := os.Rename(cur, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := f.open(); err != nil {
		return err
	}
	f.tail.reset()
	f.stateMu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.stateMu.Unlock()
	f.log.Info("state restored from snapshot", "head", f.st.Head, "index", f.st.Index)
	return nil
}

func restoreInto(dir string, r io.Reader) error {
	hr := &hashReader{r: bufio.NewReaderSize(r, 1<<20), h: sha256.New()}
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(hr, magic); err != nil || string(magic) != snapshotMagic {
		return errors.New("not a hub snapshot")
	}
	// Written only, then closed: little cache.
	db, err := pebble.Open(dir, pebbleOptions(64<<20))
	if err != nil {
		return err
	}
	defer db.Close()
	b := db.NewBatch()
	for {
		kl, err := binary.ReadUvarint(hr)
		if err != nil {
			return fmt.Errorf("read key length: %w", err)
		}
		if kl == 0 {
			break
		}
		if kl > 1<<20 {
			return fmt.Errorf("key of %d bytes", kl)
		}
		k := make([]byte, kl)
		if _, err := io.ReadFull(hr, k); err != nil {
			return err
		}
		vl, err := binary.ReadUvarint(hr)
		if err != nil || vl > 64<<20 {
			return fmt.Errorf("bad value length %d: %v", vl, err)
		}
		v := make([]byte, vl)
		if _, err := io.ReadFull(hr, v); err != nil {
			return err
		}
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
		if b.Len() > 8<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b = db.NewBatch()
		}
	}
	want := hr.h.Sum(nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(hr.r, got); err != nil || !bytes.Equal(got, want) {
		return errors.New("snapshot checksum mismatch")
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	return db.Flush()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
