package hub

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// Keys of the state machine besides the views (replication.ViewPrefix),
// the per-origin applied seq and the digest, which it shares with nodes:
//
//	g \0 pos(8)             committed event (replicationv1.Committed)
//	d \0 origin \0 seq(8)   position of (origin, seq): the dedup index
//	h \0 state              head position | head commit ms | raft index
//	n \0 id                 node record (JSON)
//	t \0 token hash         node id
//	mem \0 id               member record (JSON)
//	c \0 admin              the cluster admin's password hash
//	c \0 secret             the cluster's token signing key
//	c \0 hubhlc             the clock of the last event the hub made
//	ws \0 id hash           a revoked web session: until when (ms, 8 bytes)
var (
	hubHLCKey     = replication.Key("c", "hubhlc")
	logPrefix     = []byte("g\x00")
	stateKey      = replication.Key("h", "state")
	nodePrefix    = replication.Prefix("n")
	memberPrefix  = replication.Prefix("mem")
	adminKey      = replication.Key("c", "admin")
	secretKey     = replication.Key("c", "secret")
	revokedPrefix = replication.Prefix("ws")
)

func posKey(pos uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(logPrefix), pos)
}

func dedupKey(origin string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(replication.Prefix("d", origin), seq)
}

func tokenKey(hash []byte) []byte { return replication.Key("t", string(hash)) }

func revokedKey(idHash []byte) []byte { return replication.Key("ws", string(idHash)) }

// NodeRecord is a registered node.
type NodeRecord struct {
	ID        string `json:"id"`
	TokenHash []byte `json:"token_hash"`
	AddedMs   int64  `json:"added_ms"`
}

// MemberRecord is a hub member's addresses.
type MemberRecord struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// fsm is the hub's Raft state machine on Pebble. Raft calls Apply,
// ApplyBatch, Snapshot and Restore from one goroutine; readers (Pull
// streams, reports, token checks) read Pebble concurrently.
type fsm struct {
	dir       string // holds state/ (and state.new/ during a restore)
	log       *slog.Logger
	reg       *replication.Registry
	tasks     map[string]Task
	reactions []Reaction
	obs       func(events int)

	mu    sync.RWMutex // held for reading by readers, for writing by Restore's swap
	db    *pebble.DB
	views *replication.Views

	stateMu sync.Mutex
	st      headState
	changed chan struct{} // closed and replaced after every apply
}

// headState is the state machine's position.
type headState struct {
	Head   uint64 // last global position
	HeadMs int64  // commit time of Head
	Index  uint64 // last Raft index applied
}

func (h headState) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, h.Head)
	b = binary.BigEndian.AppendUint64(b, uint64(h.HeadMs))
	return binary.BigEndian.AppendUint64(b, h.Index)
}

func decodeHead(b []byte) headState {
	if len(b) < 24 {
		return headState{}
	}
	return headState{Head: binary.BigEndian.Uint64(b), HeadMs: int64(binary.BigEndian.Uint64(b[8:])), Index: binary.BigEndian.Uint64(b[16:])}
}

// pebbleOptions: applying an event reads many keys that do not exist yet
// (a new customer's index entries, the digest's old values): bloom filters
// answer those without searching every table, and the cache keeps the
// blocks that are read hot. Without them the cost per event grew with the
// store (BENCHMARKS.md).
func pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		Logger:       quietLogger{},
		MemTableSize: 64 << 20,
		CacheSize:    128 << 20,
	}
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // later levels inherit it
	return o
}

func openFSM(dir string, reg *replication.Registry, tasks map[string]Task, log *slog.Logger, obs func(int)) (*fsm, error) {
	f := &fsm{dir: dir, reg: reg, tasks: tasks, log: log, obs: obs, changed: make(chan struct{})}
	// A restore that crashed before its swap leaves state.new behind: the
	// old state is intact, and Raft will send the snapshot again.
	if err := os.RemoveAll(filepath.Join(dir, "state.new")); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(dir, "state.old")); err != nil {
		return nil, err
	}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fsm) open() error {
	db, err := pebble.Open(filepath.Join(f.dir, "state"), pebbleOptions())
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	tx := pebbleTx{r: db}
	views, err := replication.OpenViews(f.reg, tx)
	if err != nil {
		db.Close()
		return err
	}
	var st headState
	if b, err := tx.Get(stateKey); err == nil {
		st = decodeHead(b)
	} else if !errors.Is(err, replication.ErrNotFound) {
		db.Close()
		return err
	}
	f.db, f.views = db, views
	f.stateMu.Lock()
	f.st = st
	f.stateMu.Unlock()
	return nil
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db.Close()
}

// state returns the position the state machine has applied up to.
func (f *fsm) state() headState {
	f.stateMu.Lock()
	defer f.stateMu.Unlock()
	return f.st
}

// Changed returns a channel closed at the next apply.
func (f *fsm) Changed() <-chan struct{} {
	f.stateMu.Lock()
	defer f.stateMu.Unlock()
	return f.changed
}

// read runs fn on the committed state.
func (f *fsm) read(fn func(tx replication.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return fn(pebbleTx{r: f.db})
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch implements raft.BatchingFSM: a run of committed entries is
// applied in one Pebble batch. Entries at or below the applied index are
// skipped: Raft replays entries after its last snapshot on restart, and
// Pebble may already hold them.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := f.state()
	b := f.db.NewIndexedBatch()
	defer b.Close()
	tx := pebbleTx{r: b, b: b}
	vb := f.views.Begin(tx)
	events := 0
	for i, l := range logs {
		if l.Index <= st.Index {
			continue
		}
		st.Index = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		var cmd hubv1.Command
		if err := proto.Unmarshal(l.Data, &cmd); err != nil {
			// Every member fails alike on the same bytes, so this is
			// deterministic; proposers never send such entries.
			out[i] = fmt.Errorf("decode command at index %d: %w", l.Index, err)
			continue
		}
		var err error
		out[i], err = f.applyCommand(tx, vb, &cmd, &st, &events)
		if err != nil {
			// Only storage errors get here; the replica cannot go on.
			panic(fmt.Sprintf("hub state machine: apply index %d: %v", l.Index, err))
		}
	}
	if err := tx.Set(stateKey, st.encode()); err != nil {
		panic(fmt.Sprintf("hub state machine: %v", err))
	}
	if err := vb.Finish(); err != nil {
		panic(fmt.Sprintf("hub state machine: %v", err))
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		panic(fmt.Sprintf("hub state machine: commit: %v", err))
	}
	vb.Commit()
	f.stateMu.Lock()
	f.st = st
	close(f.changed)
	f.changed = make(chan struct{})
	f.stateMu.Unlock()
	if f.obs != nil && events > 0 {
		f.obs(events)
	}
	return out
}

// errRejected answers commands that the state machine refuses; nothing of
// them is applied.
type errRejected struct {
	code connect.Code // 0: FailedPrecondition
	msg  string
}

func (e errRejected) Error() string { return e.msg }

func (f *fsm) applyCommand(tx replication.Tx, vb *replication.Batch, cmd *hubv1.Command, st *headState, events *int) (any, error) {
	switch op := cmd.Op.(type) {
	case *hubv1.Command_Push:
		return f.applyPush(tx, vb, op.Push, cmd.GetTimeMs(), st, events)
	case *hubv1.Command_AddNode:
		id := op.AddNode.GetId()
		if _, err := tx.Get(replication.Key("n", id)); err == nil {
			return errRejected{connect.CodeAlreadyExists, fmt.Sprintf("node %s is registered already", id)}, nil
		}
		rec, _ := json.Marshal(NodeRecord{ID: id, TokenHash: op.AddNode.GetTokenHash(), AddedMs: cmd.GetTimeMs()})
		if err := tx.Set(replication.Key("n", id), rec); err != nil {
			return nil, err
		}
		return nil, tx.Set(tokenKey(op.AddNode.GetTokenHash()), []byte(id))
	case *hubv1.Command_RemoveNode:
		rec, err := getJSON[NodeRecord](tx, replication.Key("n", op.RemoveNode.GetId()))
		if errors.Is(err, replication.ErrNotFound) {
			return errRejected{connect.CodeNotFound, fmt.Sprintf("node %s is not registered", op.RemoveNode.GetId())}, nil
		}
		if err != nil {
			return nil, err
		}
		if err := tx.Delete(tokenKey(rec.TokenHash)); err != nil {
			return nil, err
		}
		return nil, tx.Delete(replication.Key("n", rec.ID))
	case *hubv1.Command_SetMember:
		m := op.SetMember
		rec, _ := json.Marshal(MemberRecord{ID: m.GetId(), RaftAddr: m.GetRaftAddr(), HTTPAddr: m.GetHttpAddr()})
		return nil, tx.Set(replication.Key("mem", m.GetId()), rec)
	case *hubv1.Command_RemoveMember:
		return nil, tx.Delete(replication.Key("mem", op.RemoveMember.GetId()))
	case *hubv1.Command_RunTask:
		return f.applyTask(tx, vb, op.RunTask.GetName(), cmd.GetTimeMs(), st, events)
	case *hubv1.Command_RevokeSession:
		return nil, applyRevokeSession(tx, op.RevokeSession, cmd.GetTimeMs())
	case *hubv1.Command_InitCluster:
		if _, err := tx.Get(secretKey); err == nil {
			return nil, nil // first writer wins; later inits are no-ops
		}
		if err := tx.Set(adminKey, []byte(op.InitCluster.GetAdminPasswordHash())); err != nil {
			return nil, err
		}
		return nil, tx.Set(secretKey, op.InitCluster.GetTokenSecret())
	}
	return errRejected{connect.CodeInvalidArgument, "unknown command"}, nil
}

// applyRevokeSession records a revoked web session and drops the
// revocations of sessions expired by the command's time, which every
// member applies alike: hub users log out rarely, and a revocation lives
// no longer than a session, so the set stays small.
func applyRevokeSession(tx replication.Tx, r *hubv1.RevokeSession, timeMs int64) error {
	var expired [][]byte
	err := tx.Scan(revokedPrefix, nil, func(k, v []byte) (bool, error) {
		if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= timeMs {
			expired = append(expired, bytes.Clone(k))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	if r.GetUntilMs() <= timeMs || len(r.GetIdHash()) == 0 {
		return nil // expired already: nothing to refuse
	}
	return tx.Set(revokedKey(r.GetIdHash()), binary.BigEndian.AppendUint64(nil, uint64(r.GetUntilMs())))
}

// SessionRevoked reports whether the web session with id hash idHash was
// revoked (and has not expired since).
func (f *fsm) SessionRevoked(idHash []byte, now time.Time) (bool, error) {
	var until int64
	err := f.read(func(tx replication.Tx) error {
		v, err := tx.Get(revokedKey(idHash))
		if err != nil {
			return err
		}
		if len(v) == 8 {
			until = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if errors.Is(err, replication.ErrNotFound) {
		return false, nil
	}
	return err == nil && until > now.UnixMilli(), err
}

// applyPush commits the new events of one origin. The batch is refused
// whole if it starts after the origin's next seq (a gap: the node must
// resend from there), or if an event the hub already has comes back with
// different content (the node's store was replaced and reuses seqs:
// accepting it would silently drop its new events).
func (f *fsm) applyPush(tx replication.Tx, vb *replication.Batch, p *hubv1.Push, timeMs int64, st *headState, events *int) (any, error) {
	origin := p.GetOrigin()
	hw, err := replication.AppliedSeq(tx, origin)
	if err != nil {
		return nil, err
	}
	evs := p.GetEvents()
	// Check the whole batch before looking at any event's seq: the loop
	// below stops at the first new event.
	for i, e := range evs {
		if e.GetOrigin() != origin || e.GetSeq() == 0 || (i > 0 && e.GetSeq() != evs[i-1].GetSeq()+1) {
			return errRejected{connect.CodeInvalidArgument, "batch is not a contiguous run of one origin's events from seq 1"}, nil
		}
	}
	for _, e := range evs {
		if e.GetSeq() > hw {
			if e.GetSeq() != hw+1 {
				return &hubv1.PushResult{DurableSeq: hw, Gap: true}, nil
			}
			break
		}
		same, err := f.sameAsCommitted(tx, e)
		if err != nil {
			return nil, err
		}
		if !same {
			return errRejected{0, fmt.Sprintf("%s/%d differs from the event the hub committed under that seq: "+
				"the node's store was replaced; register it under a new node id", origin, e.GetSeq())}, nil
		}
	}
	for _, e := range evs {
		if e.GetSeq() <= hw {
			continue
		}
		if err := commitEvent(tx, vb, e, timeMs, st); err != nil {
			return nil, err
		}
		hw = e.GetSeq()
		*events++
		if err := f.react(tx, vb, e, timeMs, st, events); err != nil {
			return nil, err
		}
	}
	return &hubv1.PushResult{DurableSeq: hw}, nil
}

// commitEvent appends e to the global log at the next position, indexes
// it for dedup and applies it to the views.
func commitEvent(tx replication.Tx, vb *replication.Batch, e *replicationv1.Event, timeMs int64, st *headState) error {
	st.Head++
	st.HeadMs = timeMs
	c, err := proto.MarshalOptions{Deterministic: true}.Marshal(&replicationv1.Committed{Position: st.Head, CommitTimeMs: timeMs, Event: e})
	if err != nil {
		return err
	}
	if err := tx.Set(posKey(st.Head), c); err != nil {
		return err
	}
	if err := tx.Set(dedupKey(e.GetOrigin(), e.GetSeq()), binary.BigEndian.AppendUint64(nil, st.Head)); err != nil {
		return err
	}
	_, err = vb.Apply(replication.FromProto(e))
	return err
}

func (f *fsm) sameAsCommitted(tx replication.Tx, e *replicationv1.Event) (bool, error) {
	pb, err := tx.Get(dedupKey(e.GetOrigin(), e.GetSeq()))
	if err != nil {
		return false, err
	}
	cb, err := tx.Get(posKey(binary.BigEndian.Uint64(pb)))
	if err != nil {
		return false, err
	}
	var c replicationv1.Committed
	if err := proto.Unmarshal(cb, &c); err != nil {
		return false, err
	}
	return proto.Equal(c.GetEvent(), e), nil
}

func getJSON[T any](tx replication.Tx, key []byte) (T, error) {
	var v T
	b, err := tx.Get(key)
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(b, &v)
}

// CommitTime returns when the event at global position pos was committed.
func (f *fsm) CommitTime(pos uint64) (time.Time, error) {
	var c replicationv1.Committed
	err := f.read(func(tx replication.Tx) error {
		b, err := tx.Get(posKey(pos))
		if err != nil {
			return err
		}
		return proto.Unmarshal(b, &c)
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(c.GetCommitTimeMs()), nil
}

// ReadLog returns committed events after position after that match,
// bounded in count and bytes, and the position it read up to.
func (f *fsm) ReadLog(after uint64, match func(*replicationv1.Event) bool, maxEvents, maxBytes int) ([]*replicationv1.Committed, uint64, error) {
	var out []*replicationv1.Committed
	pos, size, scanned := after, 0, 0
	err := f.read(func(tx replication.Tx) error {
		return tx.Scan(logPrefix, posKey(after+1), func(_, v []byte) (bool, error) {
			var c replicationv1.Committed
			if err := proto.Unmarshal(v, &c); err != nil {
				return false, err
			}
			pos = c.GetPosition()
			scanned++
			if match == nil || match(c.GetEvent()) {
				out = append(out, &c)
				size += len(v)
			}
			return len(out) < maxEvents && size < maxBytes && scanned < 8*maxEvents, nil
		})
	})
	return out, pos, err
}

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
	db, err := pebble.Open(dir, pebbleOptions())
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

// Nodes lists registered nodes.
func (f *fsm) Nodes() ([]NodeRecord, error) {
	var out []NodeRecord
	err := f.read(func(tx replication.Tx) error {
		return tx.Scan(nodePrefix, nil, func(_, v []byte) (bool, error) {
			var r NodeRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return false, err
			}
			out = append(out, r)
			return true, nil
		})
	})
	return out, err
}

// NodeForToken returns the node a token belongs to.
func (f *fsm) NodeForToken(hash []byte) (string, bool) {
	var id string
	err := f.read(func(tx replication.Tx) error {
		b, err := tx.Get(tokenKey(hash))
		id = string(b)
		return err
	})
	return id, err == nil
}

// Members lists the recorded member addresses.
func (f *fsm) Members() (map[string]MemberRecord, error) {
	out := map[string]MemberRecord{}
	err := f.read(func(tx replication.Tx) error {
		return tx.Scan(memberPrefix, nil, func(_, v []byte) (bool, error) {
			var r MemberRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return false, err
			}
			out[r.ID] = r
			return true, nil
		})
	})
	return out, err
}

// Secret returns the cluster's token key and admin password hash, once the
// cluster is initialised.
func (f *fsm) Secret() (key []byte, adminHash string, ok bool) {
	err := f.read(func(tx replication.Tx) error {
		var err error
		if key, err = tx.Get(secretKey); err != nil {
			return err
		}
		h, err := tx.Get(adminKey)
		adminHash = string(h)
		return err
	})
	return key, adminHash, err == nil
}

// DurableSeq returns the highest seq of origin the hub committed.
func (f *fsm) DurableSeq(origin string) (uint64, error) {
	var seq uint64
	err := f.read(func(tx replication.Tx) error {
		var err error
		seq, err = replication.AppliedSeq(tx, origin)
		return err
	})
	return seq, err
}

// Digest returns the digest of the views.
func (f *fsm) Digest() replication.Digest {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.views.Digest()
}

// AppliedCount returns the number of events applied to the views.
func (f *fsm) AppliedCount() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.views.AppliedCount()
}
