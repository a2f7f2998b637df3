package hub

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
	"branchline/rpc"
)

// Snapshots of the company views. A new node — or one that lost its disk,
// or rebuilds its views — does not replay the whole log: it installs the
// company views (projection.go) at one position, the same for every node,
// then pulls the history of its own scopes up to that position and tails
// from there. A snapshot is a Pebble snapshot of this member's state,
// kept while nodes read it and for snapshotIdle after, so that a stream cut
// by the WAN resumes after the last key received; a member that no longer
// has it (restarted, or restored from Raft) says so and the node starts
// again. Each chunk carries a CRC; the last carries the digest of every
// pair, which the node checks before it uses what it installed. Index
// entries outside their index's Shipped prefixes (a customer's list
// orders) are left out: the node builds them (replication.SnapshotMarks).

const (
	// snapshotReuse is how old the newest snapshot may be for a new
	// request to be served it rather than a new one: nodes bootstrapping
	// together share one.
	snapshotReuse = time.Minute
	// snapshotIdle is how long a snapshot nobody reads is kept for a
	// resume.
	snapshotIdle = 10 * time.Minute
	// snapshotChunkBytes bounds a chunk (and one write batch at the node).
	snapshotChunkBytes = 2 << 20
)

// errSnapshotGone refuses a resume of a snapshot this member no longer has.
var errSnapshotGone = errors.New("the snapshot to resume is no longer kept by this hub member: start again")

// companySnapshot is one snapshot of the company views.
type companySnapshot struct {
	pos   uint64
	posMs int64
	snap  *pebble.Snapshot
	made  time.Time

	// Guarded by snapshots.mu.
	users   int
	lastUse time.Time
	closed  bool

	counted chan struct{} // closed once the totals below are known
	keys    uint64
	bytes   uint64
	digest  replication.Digest
	err     error
}

// snapshots are the company snapshots a member keeps.
type snapshots struct {
	chunkBytes int // set at start
	mu         sync.Mutex
	list       []*companySnapshot
}

// acquireSnapshot returns the snapshot at pos (0: the newest recent one,
// or a new one), counted as read until releaseSnapshot. It takes f.mu
// (to make a snapshot) only without snaps.mu, which a restore takes
// under f.mu.
func (f *fsm) acquireSnapshot(pos uint64, now time.Time) (*companySnapshot, error) {
	ss := &f.snaps
	ss.mu.Lock()
	ss.list = slices.DeleteFunc(ss.list, func(s *companySnapshot) bool {
		if s.users == 0 && now.Sub(s.lastUse) > snapshotIdle {
			s.close()
			return true
		}
		return s.closed
	})
	var found *companySnapshot
	for _, s := range ss.list {
		if (pos != 0 && s.pos == pos) || (pos == 0 && now.Sub(s.made) < snapshotReuse && (found == nil || s.made.After(found.made))) {
			found = s
		}
	}
	if found != nil {
		found.users++
		found.lastUse = now
	}
	ss.mu.Unlock()
	switch {
	case found != nil:
		return found, nil
	case pos != 0:
		return nil, errSnapshotGone
	}
	s, err := f.newSnapshot(now)
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.users++ // the caller's; newSnapshot counted its own count
	ss.list = append(ss.list, s)
	return s, nil
}

func (f *fsm) releaseSnapshot(s *companySnapshot, now time.Time) {
	f.snaps.mu.Lock()
	defer f.snaps.mu.Unlock()
	s.users--
	s.lastUse = now
}

// closeSnapshots closes every snapshot, before the state they read is
// closed or replaced (f.mu held for writing: no chunk is being read).
func (f *fsm) closeSnapshots() {
	f.snaps.mu.Lock()
	defer f.snaps.mu.Unlock()
	for _, s := range f.snaps.list {
		s.close()
	}
	f.snaps.list = nil
}

func (s *companySnapshot) close() {
	if !s.closed {
		s.closed = true
		s.snap.Close()
	}
}

func (f *fsm) newSnapshot(now time.Time) (*companySnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := f.db.NewSnapshot()
	tx := pebbleTx{r: snap}
	// The company views and their position, written in the same batches:
	// the snapshot is of them at that position, which the node tails from.
	var cpos uint64
	var cposMs int64
	b, err := tx.Get(companyKey)
	if err == nil && len(b) >= 16 {
		cpos, cposMs = binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint64(b[8:]))
	} else if err != nil && !errors.Is(err, replication.ErrNotFound) {
		snap.Close()
		return nil, err
	}
	// The count reads it as a user, so that it is not closed for idleness
	// meanwhile.
	s := &companySnapshot{pos: cpos, posMs: cposMs, snap: snap, made: now, lastUse: now, counted: make(chan struct{}), users: 1}
	go func() {
		f.countSnapshot(s)
		f.releaseSnapshot(s, time.Now())
	}()
	f.log.Info("snapshot of the company views made", "position", cpos)
	return s, nil
}

// count computes the snapshot's totals and digest, for progress and the
// node's check, in pieces that each hold f.mu for a moment only.
func (f *fsm) countSnapshot(s *companySnapshot) {
	defer close(s.counted)
	var after []byte
	for {
		last, done, err := f.scanSnapshot(s, after, 8<<20, func(k, v []byte) {
			s.keys++
			s.bytes += uint64(len(k) + len(v))
			s.digest.AddPair(k, v)
		})
		if err != nil || done {
			s.err = err
			return
		}
		after = last
	}
}

// chunk reads the pairs after key after (nil: from the start), up to
// snapshotChunkBytes.
func (f *fsm) snapshotChunk(s *companySnapshot, after []byte) (keys, values [][]byte, done bool, err error) {
	max := f.snaps.chunkBytes
	if max <= 0 {
		max = snapshotChunkBytes
	}
	_, done, err = f.scanSnapshot(s, after, max, func(k, v []byte) {
		keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v))
	})
	return keys, values, done, err
}

// scanSnapshot hands fn the pairs after key after (nil: from the start),
// keys without the company prefix, up to about max bytes, leaving out the
// index entries a node builds itself (Registry.SnapshotLeavesOut); it
// returns the last key read and whether the snapshot ended. It holds f.mu,
// so that a restore does not close the snapshot under it.
func (f *fsm) scanSnapshot(s *companySnapshot, after []byte, max int, fn func(k, v []byte)) (last []byte, done bool, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.snaps.mu.Lock()
	closed := s.closed
	f.snaps.mu.Unlock()
	if closed {
		return nil, false, errSnapshotGone
	}
	lower := companyPrefix
	if after != nil {
		lower = append(append(bytes.Clone(companyPrefix), after...), 0)
	}
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: replication.PrefixEnd(companyPrefix)})
	if err != nil {
		return nil, false, err
	}
	n := 0
	ok := it.First()
	for ok && n < max {
		k := it.Key()[len(companyPrefix):]
		if next, out := f.reg.SnapshotLeavesOut(k); out {
			// Index entries the node builds itself (Index.Shipped): the
			// whole run of them is passed over.
			last = append(last[:0], k...)
			ok = it.SeekGE(append(bytes.Clone(companyPrefix), next...))
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, false, err
		}
		fn(k, v)
		n += len(k) + len(v)
		last = append(last[:0], k...)
		ok = it.Next()
	}
	return last, !ok, it.Close()
}

// Snapshot streams the company views at one position (see above).
func (s replicationService) Snapshot(ctx context.Context, req *connect.Request[replicationv1.SnapshotRequest], stream *connect.ServerStream[replicationv1.SnapshotChunk]) error {
	node, err := callingNode(ctx)
	if err != nil {
		return err
	}
	if err := replication.ProtocolError("hub", "node "+node, req.Msg.GetProtocol()); err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	if len(req.Msg.GetAfter()) > 0 && req.Msg.GetPosition() == 0 {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("a resumed snapshot names its position"))
	}
	if err := replication.SnapshotReadsError("node "+node, req.Msg.GetReads()); err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	snap, err := s.h.fsm.acquireSnapshot(req.Msg.GetPosition(), time.Now())
	switch {
	case errors.Is(err, errSnapshotGone):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case err != nil:
		return rpc.Error(s.h.log, err)
	}
	defer func() { s.h.fsm.releaseSnapshot(snap, time.Now()) }()
	s.h.log.Info("node takes a snapshot of the company views", "node", node, "position", snap.pos, "resume_after", len(req.Msg.GetAfter()) > 0)
	after := req.Msg.GetAfter()
	if len(after) == 0 {
		after = nil
	}
	for {
		keys, values, done, err := s.h.fsm.snapshotChunk(snap, after)
		if errors.Is(err, errSnapshotGone) {
			return connect.NewError(connect.CodeFailedPrecondition, err)
		}
		if err != nil {
			return rpc.Error(s.h.log, err)
		}
		msg := &replicationv1.SnapshotChunk{Position: snap.pos, PositionTimeMs: snap.posMs, Keys: keys, Values: values,
			Crc32C: replication.SnapshotCRC(keys, values), Protocol: replication.Protocol}
		if done {
			select {
			case <-snap.counted:
			case <-ctx.Done():
				return nil
			}
			if snap.err != nil {
				return rpc.Error(s.h.log, snap.err)
			}
			msg.Done, msg.Digest = true, snap.digest.Bytes()
		}
		select {
		case <-snap.counted:
			msg.TotalKeys, msg.TotalBytes = snap.keys, snap.bytes
		default:
		}
		s.h.fsm.served.Add(1)
		if err := stream.Send(msg); err != nil {
			return err
		}
		if done {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// CompanyIndexed reports whether this member's company views hold every
// index entry of what they reflect: a snapshot made before carries index
// markers in their place, which the node that installs it indexes itself.
func (h *Hub) CompanyIndexed() (bool, error) {
	h.fsm.mu.RLock()
	defer h.fsm.mu.RUnlock()
	markers, err := replication.PendingMarkers(replication.WithPrefix(pebbleTx{r: h.fsm.db}, companyPrefix), h.fsm.proj.cindexed.Load(), 1)
	return len(markers) == 0, err
}

// CompanyPosition is the position of the global log this member's company
// views reflect: a snapshot made now is of that position.
func (h *Hub) CompanyPosition() uint64 { return h.fsm.companyPosition() }

func (f *fsm) companyPosition() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.proj.companyPos()
}
