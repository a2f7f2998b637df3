package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// Bootstrap from a snapshot. A rebuild that starts from nothing — a new
// node joining a company with a long history, a node that lost its disk,
// one whose views must be rebuilt — does not replay the hub's whole log:
// it installs the hub's company views (every company-wide event applied,
// the same for every node) at one position P into the new generation, then
// pulls with only the company scope held, so that the hub sends the
// history of every scope of the node up to P, and tails from P. Each step
// records its progress with what it wrote, so a WAN cut or a restart goes
// on where it stopped:
//
//	node \0 snapshot          gen(8) P(8) commit ms(8) pairs(8) digest(32) last key
//	node \0 rebuild-history   gained-to(8) gaining scopes (\0-separated)
//
// The first is present while the snapshot is being installed; the second
// once it is installed, until the scopes' history is complete (the rebuild
// then holds the scopes, rebuildingKey).
//
// A snapshot carries only the index entries a node answers from at once
// (replication.Index.Shipped: phone numbers, type-ahead's texts); each
// entity whose other entries it left out (a customer's list orders, seven
// eighths of its index's bytes) is marked as its pairs arrive, in a queue
// the indexer serves after every other marker. A node with no views to
// serve meanwhile swaps as soon as the rest is installed and builds them
// behind (its pages say so); one serving older views builds them first.
var (
	snapshotKey = replication.Key("node", "snapshot")
	historyKey  = replication.Key("node", "rebuild-history")
)

// snapshotProgress is how far the installation of a snapshot got.
type snapshotProgress struct {
	gen, pos uint64
	posMs    int64
	pairs    uint64
	digest   replication.Digest
	after    []byte // the last key installed
}

func (p *snapshotProgress) encode() []byte {
	b := append(putU64(p.gen), putU64(p.pos)...)
	b = append(b, putU64(uint64(p.posMs))...)
	b = append(b, putU64(p.pairs)...)
	b = append(b, p.digest.Bytes()...)
	return append(b, p.after...)
}

func decodeSnapshotProgress(b []byte) (*snapshotProgress, error) {
	if len(b) < 64 {
		return nil, fmt.Errorf("snapshot progress of %d bytes", len(b))
	}
	d, err := replication.DigestFromBytes(b[32:64])
	if err != nil {
		return nil, err
	}
	return &snapshotProgress{gen: u64(b), pos: u64(b[8:]), posMs: int64(u64(b[16:])), pairs: u64(b[24:]), digest: d, after: bytes.Clone(b[64:])}, nil
}

func encodeHistory(gainedTo uint64, gaining []string) []byte {
	return append(putU64(gainedTo), strings.Join(gaining, "\x00")...)
}

// errNoSnapshot says the hub serves no snapshot (an older release, or
// company views still being built): the rebuild replays the log instead.
var errNoSnapshot = errors.New("the hub serves no snapshot")

// DefaultSnapshotAbove is the hub log length from which a new (or lost)
// store starts from a snapshot rather than by replaying the log, unless
// configured otherwise (Config.SnapshotAbove). On a 2-core machine
// (BENCHMARKS.md, issue 13) a new node of 100,000 customers serves in
// 3.9–5.3 s from a snapshot against 9.4 s by replay (one of a million in
// about 40 s from a snapshot); below some tens of thousands of events
// either takes a few seconds, and a replay has the lists complete at once
// where a snapshot builds them behind.
const DefaultSnapshotAbove = 50_000

// NoSnapshotByLength, as Config.SnapshotAbove, starts from a snapshot only
// when it must: when the hub's log no longer reaches back (retention),
// whatever its length.
const NoSnapshotByLength = math.MaxUint64

// installSnapshot installs the hub's company views into the rebuild's
// generation (resuming an installation cut before) and leaves the rebuild
// at the snapshot's position holding the company scope only. A chunk is
// checked as it arrives (its CRC, its keys' order, the digest) and written
// by a goroutine of its own while the next one is received and checked:
// on a node's two cores the stream's decoding overlaps Badger's writes.
// One chunk is written at a time, in order, each with the progress it
// brings, so a cut leaves the progress of the last chunk written.
func (s *syncer) installSnapshot(ctx context.Context, rb *Rebuild, member int) error {
	p := rb.snap // of the chunks checked; rb.snap is of those written
	req := &replicationv1.SnapshotRequest{Protocol: replication.Protocol, Reads: replication.SnapshotReads}
	if p != nil {
		req.Position, req.After = p.pos, p.after
		s.log.Info("resuming the snapshot of the company views", "position", p.pos, "pairs", p.pairs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(s.heartbeat, cancel)
	defer watchdog.Stop()
	stream, err := s.clients[member].Snapshot(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer stream.Close()
	began := time.Now()
	var writing time.Duration // the writer's, of the time since began
	// The type-ahead's memory is built from the pairs as they come, beside
	// the writes, rather than by a scan of the generation after them — but
	// only by an installation that sees every pair (not a resumed one).
	var feed *replication.MemoryFeed
	if p == nil {
		feed = s.store.reg.FeedMemories()
		defer feed.Stop()
	}

	// The chunk being written, if any: wait blocks until it is, and
	// records its progress.
	var inFlight *checkedChunk
	written := make(chan error, 1)
	wait := func() error {
		if inFlight == nil {
			return nil
		}
		c := inFlight
		inFlight = nil
		if err := <-written; err != nil {
			return err
		}
		rb.snap = c.progress
		s.mu.Lock()
		s.rebuilt.Phase, s.rebuilt.SnapshotPos, s.rebuilt.SnapshotPairs = "snapshot", c.progress.pos, c.progress.pairs
		if c.total > 0 {
			s.rebuilt.SnapshotTotal = c.total
		}
		s.mu.Unlock()
		return nil
	}
	defer func() { _ = wait() }() // never leave a write behind
	// The version the pairs are written at (writeChunk): read once, not
	// per chunk.
	version := committedVersion(s.store.db)
	// Entities whose index entries the snapshot leaves out are marked as
	// they come, in bulk markers after those a resumed installation wrote.
	marks, err := rb.snapshotMarks()
	if err != nil {
		return err
	}
	// Where the receiving side's time goes, for the log: in the stream
	// (waiting for the hub, decoding), checking chunks, waiting for the
	// writer.
	var receiving, checking, waiting time.Duration
	mark := time.Now()
	for stream.Receive() {
		received := time.Now()
		receiving += received.Sub(mark)
		watchdog.Reset(s.heartbeat)
		msg := stream.Msg()
		if err := replication.ProtocolError("node", "hub "+s.urls[member], msg.GetProtocol()); err != nil {
			return err
		}
		if p == nil {
			p = &snapshotProgress{gen: rb.gen.n, pos: msg.GetPosition(), posMs: msg.GetPositionTimeMs()}
		}
		if msg.GetPosition() != p.pos {
			return fmt.Errorf("snapshot at %d sent for the one at %d", msg.GetPosition(), p.pos)
		}
		c, err := rb.checkChunk(p, msg, marks)
		if err != nil {
			return err
		}
		if feed != nil {
			feed.Feed(c.stored, c.values)
		}
		checked := time.Now()
		checking += checked.Sub(received)
		if err := wait(); err != nil {
			return err
		}
		waiting += time.Since(checked)
		p, inFlight = c.progress, c
		go func() {
			w := time.Now()
			err := rb.writeChunk(c, version)
			writing += time.Since(w)
			written <- err
		}()
		mark = time.Now()
		if msg.GetDone() {
			if err := wait(); err != nil {
				return err
			}
			want, err := replication.DigestFromBytes(msg.GetDigest())
			if err != nil {
				return fmt.Errorf("snapshot digest: %w", err)
			}
			if want != p.digest {
				rb.snap = nil
				return errors.Join(fmt.Errorf("the snapshot at %d installed does not match its digest: starting again", p.pos), rb.dropSnapshot())
			}
			var mems map[string]replication.Memory
			memStart := time.Now()
			if feed != nil {
				if mems, err = feed.Memories(); err != nil {
					return err
				}
			}
			memories := time.Since(memStart)
			s.log.Info("snapshot of the company views installed", "position", p.pos, "pairs", p.pairs,
				"took", time.Since(began).Round(time.Millisecond), "writing", writing.Round(time.Millisecond),
				"receiving", receiving.Round(time.Millisecond), "checking", checking.Round(time.Millisecond), "waiting_for_writer", waiting.Round(time.Millisecond), "memories", memories.Round(time.Millisecond))
			return rb.snapshotInstalled(p, mems)
		}
	}
	err = stream.Err()
	if werr := wait(); werr != nil {
		return errors.Join(err, werr)
	}
	switch {
	case ctx.Err() != nil:
		return errors.New("snapshot stream silent for longer than the heartbeat")
	case err == nil:
		return errors.New("snapshot stream ended before its last chunk")
	case connect.CodeOf(err) == connect.CodeUnimplemented:
		return fmt.Errorf("%w: %v", errNoSnapshot, err)
	case connect.CodeOf(err) == connect.CodeFailedPrecondition && p == nil:
		return fmt.Errorf("%w: %v", errNoSnapshot, err)
	case connect.CodeOf(err) == connect.CodeFailedPrecondition:
		// The member no longer has the snapshot being resumed.
		rb.snap = nil
		return errors.Join(err, rb.dropSnapshot())
	}
	return err
}

// checkedChunk is a chunk checked and ready to be written: its pairs at
// the keys they take in the generation, and the progress they bring.
type checkedChunk struct {
	keys, values [][]byte
	stored       [][]byte // the keys in the views' key space (without the generation's root)
	// marks are the index markers the chunk's pairs call for, at the
	// keys they take in the generation (see mark).
	marks    [][2][]byte
	progress *snapshotProgress
	total    uint64 // the snapshot's pairs, when the hub knew them
	root     []byte // the generation's
}

// mark adds a marker (key in the views' key space) to the chunk's pairs.
func (c *checkedChunk) mark(k, v []byte) {
	c.marks = append(c.marks, [2][]byte{append(bytes.Clone(c.root), k...), v})
}

// snapshotMarks starts marking the entities of a snapshot being installed
// (replication.SnapshotMarks) after the markers the generation holds: a
// resumed installation's.
func (r *Rebuild) snapshotMarks() (*replication.SnapshotMarks, error) {
	var m *replication.SnapshotMarks
	err := r.s.db.View(func(txn *badger.Txn) error {
		var err error
		m, err = r.s.reg.NewSnapshotMarks(r.gen.read(txn))
		return err
	})
	return m, err
}

// checkChunk checks a chunk's CRC and its keys' order after p, and returns
// it with the progress it brings (p is not changed) and the index markers
// its pairs call for (marks).
func (r *Rebuild) checkChunk(p *snapshotProgress, msg *replicationv1.SnapshotChunk, marks *replication.SnapshotMarks) (*checkedChunk, error) {
	keys, values := msg.GetKeys(), msg.GetValues()
	if len(keys) != len(values) {
		return nil, fmt.Errorf("snapshot chunk of %d keys and %d values", len(keys), len(values))
	}
	if crc := replication.SnapshotCRC(keys, values); crc != msg.GetCrc32C() {
		return nil, fmt.Errorf("snapshot chunk CRC %08x, want %08x", crc, msg.GetCrc32C())
	}
	next := *p
	c := &checkedChunk{keys: make([][]byte, len(keys)), stored: make([][]byte, len(keys)), values: values, progress: &next, total: msg.GetTotalKeys(), root: r.gen.root}
	for i, k := range keys {
		if len(next.after) > 0 && bytes.Compare(k, next.after) <= 0 {
			return nil, fmt.Errorf("snapshot keys out of order at %q", k)
		}
		c.stored[i] = r.s.reg.DeferredKey(k)
		c.keys[i] = append(bytes.Clone(r.gen.root), c.stored[i]...)
		next.digest.AddPair(k, values[i])
		next.pairs++
		next.after = k
		marks.Pair(c.stored[i], c.mark)
	}
	marks.Flush(c.mark)
	if len(keys) > 0 {
		next.after = bytes.Clone(next.after)
	}
	return c, nil
}

// writeChunk writes a checked chunk's pairs into the generation, then the
// progress they bring. The pairs go through Badger's loader (the path of a
// backup's restore), not a transaction: no pending-writes map, no
// per-transaction sort, ≈ 1.6× the pairs per second of a WriteBatch
// (BenchmarkIngest). They are written at version, the store's version
// when the installation began, so every read from then on sees them and
// every later write of their keys is newer; nothing else writes a
// generation being installed. Synced like any commit, they are durable
// before the progress record that counts them is committed; after a crash
// between the two the chunk is sent and written again (the same keys,
// values and version).
func (r *Rebuild) writeChunk(c *checkedChunk, version uint64) error {
	if err := r.s.disk.Check(); err != nil {
		return err
	}
	l := r.s.db.NewKVLoader(2)
	for i, k := range c.keys {
		if err := l.Set(&pb.KV{Key: k, Value: c.values[i], Version: version}); err != nil {
			return err
		}
	}
	for _, m := range c.marks {
		if err := l.Set(&pb.KV{Key: m[0], Value: m[1], Version: version}); err != nil {
			return err
		}
	}
	if err := l.Finish(); err != nil {
		return err
	}
	return r.s.db.Update(func(txn *badger.Txn) error { return badgerTx{txn}.Set(snapshotKey, c.progress.encode()) })
}

// snapshotInstalled ends the installation: the generation's bookkeeping is
// read from what was installed (its memories are mems when built from the
// pairs as they came), and the rebuild holds the company scope at the
// snapshot's position, its scopes' history to come.
func (r *Rebuild) snapshotInstalled(p *snapshotProgress, mems map[string]replication.Memory) error {
	err := r.s.db.Update(func(txn *badger.Txn) error {
		tx := badgerTx{txn}
		if err := tx.Delete(snapshotKey); err != nil {
			return err
		}
		if err := tx.Set(historyKey, encodeHistory(0, nil)); err != nil {
			return err
		}
		return tx.Set(rebuildingKey, encodeRebuilding(r.gen.n, p.pos, p.posMs, nil))
	})
	if err != nil {
		return err
	}
	err = r.s.db.View(func(txn *badger.Txn) error {
		g, err := openGeneration(r.s.reg, r.gen.n, txn, mems)
		r.gen = g
		return err
	})
	if err != nil {
		return err
	}
	r.snap, r.companyOnly = nil, true
	r.Cursor, r.CursorMs, r.Scopes, r.Gaining, r.GainedTo = p.pos, p.posMs, nil, nil, 0
	r.applied.Store(r.gen.views.AppliedCount())
	return nil
}

// SnapshotPairs is how many pairs of a snapshot the store installed so
// far, as recorded with them (0: none being installed).
func (s *Store) SnapshotPairs() uint64 {
	var n uint64
	_ = s.db.View(func(txn *badger.Txn) error {
		b, err := badgerTx{txn}.Get(snapshotKey)
		if err != nil {
			return err
		}
		p, err := decodeSnapshotProgress(b)
		if err == nil {
			n = p.pairs
		}
		return err
	})
	return n
}

// dropSnapshot deletes what an installation wrote.
func (r *Rebuild) dropSnapshot() error {
	if err := r.s.db.Update(func(txn *badger.Txn) error { return txn.Delete(snapshotKey) }); err != nil {
		return err
	}
	return r.s.drop(r.gen.n)
}

// applyHistory applies history of the scopes the rebuild gains (the hub
// sends it after a snapshot), recording how far it got; gained, when not
// nil, ends it: the rebuild then holds those scopes.
func (r *Rebuild) applyHistory(evs []*replication.Event, gaining []string, gainedTo uint64, gained []string) error {
	followed := make(map[int]bool, len(evs))
	for i := range evs {
		followed[i] = true
	}
	record := func(o *overlayTx) error {
		if gained != nil {
			if err := o.Delete(historyKey); err != nil {
				return err
			}
			return o.Set(rebuildingKey, encodeRebuilding(r.gen.n, r.Cursor, r.CursorMs, gained))
		}
		return o.Set(historyKey, encodeHistory(gainedTo, gaining))
	}
	if err := r.applyRecording(evs, followed, record); err != nil {
		return err
	}
	if gained != nil {
		r.companyOnly, r.Scopes, r.Gaining, r.GainedTo = false, gained, nil, 0
	} else {
		r.Gaining, r.GainedTo = gaining, gainedTo
	}
	return nil
}
