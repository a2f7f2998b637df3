package hub

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	adminv1 "branchline/gen/branchline/admin/v1"
	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// Keys of the state machine. The state machine itself writes only the
// global log, the dedup index, the committed seqs, the registry and the
// small decision views; the projection (projection.go) writes the views
// readers see, behind it:
//
//	g \0 pos(8)             committed event (replicationv1.Committed)
//	d \0 origin \0 seq(8)   position of (origin, seq): the dedup index
//	s \0 origin             highest seq of origin committed
//	h \0 state              head position | head commit ms | raft index
//	h \0 proj               position the projection reflects | its commit ms
//	n \0 id                 node record (JSON)
//	t \0 token hash         node id
//	mem \0 id               member record (JSON)
//	c \0 admin              the cluster admin's password hash
//	c \0 secret             the cluster's token signing key
//	c \0 hubhlc             the clock of the last event the hub made
//	c \0 active             the cluster version: active kinds, tasks and reactions
//	c \0 act \0 pos(8) idx(8)  capabilities activated after position pos (for the projection)
//	fd \0 …                 decision views (replication.Views of the decision kinds)
//	v \0, a \0, m \0, …     the projection: the views of every event (replication.Views)
//	ws \0 id hash           a revoked web session: until when (ms, 8 bytes)
var (
	hubHLCKey     = replication.Key("c", "hubhlc")
	activeKey     = replication.Key("c", "active")
	activatedAt   = replication.Prefix("c", "act")
	logPrefix     = []byte("g\x00")
	stateKey      = replication.Key("h", "state")
	projKey       = replication.Key("h", "proj")
	seqPrefix     = replication.Prefix("s")
	decPrefix     = []byte("fd\x00")
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

// MemberRecord is a hub member's addresses, release and capabilities (see
// Capabilities), as the member last reported them.
type MemberRecord struct {
	ID           string   `json:"id"`
	RaftAddr     string   `json:"raft_addr"`
	HTTPAddr     string   `json:"http_addr"`
	Version      string   `json:"version,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// fsm is the hub's Raft state machine on Pebble.
//
// Log first: a Push is answered once its events are in the global log and
// the dedup index — a few writes per event, whatever the store holds. The
// views that pages and reports read are a projection of the global log
// that follows behind (projection.go). What the hub decides itself — tasks
// and reactions, such as escrow grants — must be decided at a log
// position, alike on every member, so the state machine keeps the views
// those decisions read (the decision kinds, the warehouse's) current
// itself, in the same batch: small, and the only views on the commit path.
//
// Raft calls Apply, ApplyBatch, Snapshot and Restore from one goroutine;
// the projector and readers (Pull streams, reports, token checks) read and
// write Pebble concurrently, under mu.
type fsm struct {
	dir       string // holds state/ (and state.new/ during a restore)
	cache     int64  // Pebble's block cache in bytes (0: DefaultCacheBytes)
	log       *slog.Logger
	reg       *replication.Registry
	tasks     map[string]Task
	reactions map[string]Reaction
	// decisive says which kinds the decision views apply: what tasks and
	// reactions read.
	decisive func(kind string) bool
	obs      func(events int)

	// active is the cluster version (ActivateKinds): the kinds, tasks
	// ("task:" name) and reactions ("reaction:" name) every member can
	// run. nil before the first cluster version (see baseline). Only the
	// state machine's goroutine uses it.
	active map[string]bool
	// seqs are the committed seqs per origin; the state machine's goroutine
	// only (readers read s\0).
	seqs map[string]uint64

	mu   sync.RWMutex // held for reading by readers and the projector, for writing by Restore's swap
	db   *pebble.DB
	dec  *replication.Views // decision views
	proj *projection
	// snaps are the company snapshots served to bootstrapping nodes.
	snaps snapshots

	stateMu sync.Mutex
	st      headState
	changed chan struct{} // closed and replaced after every apply

	// served counts what this member read for nodes (Pull batches,
	// snapshot chunks): foreground work the company loop gives way to.
	served atomic.Uint64
	// tail holds the latest log entries for the Pulls that follow the
	// head (tail.go).
	tail tail
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

// DefaultCacheBytes is a member's Pebble block cache unless configured
// (Config.CacheBytes). At a million customers a member's state is a few
// GiB, and with 128 MiB of cache 40 % of the hub's CPU went to reading
// and decoding blocks the cache had dropped — index blocks above all —
// and projecting, indexing company views and serving each read slowed
// with the store (BENCHMARKS.md, 2026-12-07). The cache fills as blocks
// are read: a small hub holds little.
const DefaultCacheBytes = 1 << 30

// blockSize is the state machine's sstable data block: 32 KiB, not
// Pebble's 4 KiB. Flushes and compactions write every event's bytes
// several times (log, views, company views), and at 4 KiB each block was
// a compression call, an index entry and a write(2) of its own (Pebble
// buffers table writes 4 KiB at a time): 32 KiB took push runs from 37–49
// to 34–37 µs of CPU per committed event, and a member's tables from 400
// to 295 bytes per event (BENCHMARKS.md, 2026-12-07). A read of a block
// the cache dropped decodes 32 KiB instead of 4; a million-event reconnect,
// which reads views from tables, still came out faster.
const blockSize = 32 << 10

// pebbleOptions: applying an event reads many keys that do not exist yet:
// bloom filters answer those without searching every table, and the cache
// (of cache bytes; 0: DefaultCacheBytes) keeps the blocks that are read
// hot. Without them the cost per event grew with the store
// (BENCHMARKS.md).
func pebbleOptions(cache int64) *pebble.Options {
	if cache <= 0 {
		cache = DefaultCacheBytes
	}
	o := &pebble.Options{
		Logger:       quietLogger{},
		MemTableSize: 64 << 20,
		CacheSize:    cache,
	}
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // later levels inherit it and the block size
	o.Levels[0].BlockSize = blockSize
	return o
}

// openFSM opens the state machine in dir. decisive says which event kinds
// the decision views apply (nil: every kind).
func openFSM(dir string, reg *replication.Registry, tasks map[string]Task, decisive func(string) bool, log *slog.Logger, obs func(int), cache int64) (*fsm, error) {
	if decisive == nil {
		decisive = func(string) bool { return true }
	}
	f := &fsm{dir: dir, reg: reg, tasks: tasks, decisive: decisive, log: log, obs: obs, cache: cache, changed: make(chan struct{})}
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
	db, err := pebble.Open(filepath.Join(f.dir, "state"), pebbleOptions(f.cache))
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	if err := f.load(db); err != nil {
		db.Close()
		return err
	}
	return nil
}

// load reads the state machine's bookkeeping from db and makes it the
// state served.
func (f *fsm) load(db *pebble.DB) error {
	tx := pebbleTx{r: db}
	var st headState
	if b, err := tx.Get(stateKey); err == nil {
		st = decodeHead(b)
	} else if !errors.Is(err, replication.ErrNotFound) {
		return err
	}
	active, err := loadActive(tx)
	if err != nil {
		return err
	}
	if err := migrateState(db, st, f.log); err != nil {
		return fmt.Errorf("migrate the state of an older release: %w", err)
	}
	seqs := map[string]uint64{}
	err = tx.Scan(seqPrefix, nil, func(k, v []byte) (bool, error) {
		if len(v) == 8 {
			seqs[string(k[len(seqPrefix):])] = binary.BigEndian.Uint64(v)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	dec, err := replication.OpenViews(f.reg, replication.WithPrefix(tx, decPrefix))
	if err != nil {
		return err
	}
	dec.TrackViewDigest(false)
	dec.SetIndexing(replication.IndexOff)
	dec.SetActive(func(kind string) bool { return f.isActive(kind) })
	proj, err := openProjection(f.reg, db, f.log)
	if err != nil {
		return err
	}
	f.active, f.seqs, f.db, f.dec, f.proj = active, seqs, db, dec, proj
	f.stateMu.Lock()
	f.st = st
	f.stateMu.Unlock()
	if st.Head > 0 && dec.AppliedCount()+dec.ParkedCount() == 0 {
		if err := f.buildDecisionViews(); err != nil {
			return fmt.Errorf("build the decision views: %w", err)
		}
	}
	return nil
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeSnapshots()
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

// step is the work of one ApplyBatch: the Pebble batch, the decision
// views' batch, and the position and committed seqs as they move.
type step struct {
	tx     replication.Tx
	dec    *replication.Batch
	st     headState
	seqs   map[string]uint64 // committed seqs changed by this batch
	events int
	timeMs int64 // of the entry being applied
	// tail is the log entries this batch appends, for the ring (tail.go);
	// tailLost says one could not be kept, and the ring starts afresh.
	tail     []*tailEntry
	tailLost bool
}

// seq is origin's highest committed seq, this batch included.
func (f *fsm) seq(s *step, origin string) uint64 {
	if n, ok := s.seqs[origin]; ok {
		return n
	}
	return f.seqs[origin]
}

// ApplyBatch implements raft.BatchingFSM: a run of committed entries is
// applied in one Pebble batch. Entries at or below the applied index are
// skipped: Raft replays entries after its last snapshot on restart, and
// Pebble may already hold them.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.RLock()
	defer f.mu.RUnlock()
	// Sized for the entries' bytes, most of which it writes (a batch
	// doubling its buffer copied it each time).
	size := 0
	for _, l := range logs {
		size += len(l.Data)
	}
	b := f.db.NewIndexedBatchWithSize(size + size/4 + 4096)
	defer b.Close()
	tx := pebbleTx{r: b, b: b}
	s := &step{tx: tx, dec: f.dec.Begin(replication.WithPrefix(tx, decPrefix)), st: f.state(), seqs: map[string]uint64{}}
	for i, l := range logs {
		if l.Index <= s.st.Index {
			continue
		}
		s.st.Index = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		timeMs, push, isPush, err := splitCommand(l.Data)
		var cmd hubv1.Command
		if err == nil && !isPush {
			err = proto.Unmarshal(l.Data, &cmd)
		}
		var p rawPush
		if err == nil && isPush {
			p, err = parsePush(push)
		}
		if err != nil {
			// Every member fails alike on the same bytes, so this is
			// deterministic; proposers never send such entries.
			out[i] = fmt.Errorf("decode command at index %d: %w", l.Index, err)
			continue
		}
		s.timeMs = timeMs
		if isPush {
			out[i], err = f.applyPush(s, p)
		} else {
			out[i], err = f.applyCommand(s, &cmd)
		}
		if err != nil {
			// Only storage errors get here; the replica cannot go on.
			panic(fmt.Sprintf("hub state machine: apply index %d: %v", l.Index, err))
		}
	}
	for o, n := range s.seqs {
		if err := tx.Set(append(bytes.Clone(seqPrefix), o...), binary.BigEndian.AppendUint64(nil, n)); err != nil {
			panic(fmt.Sprintf("hub state machine: %v", err))
		}
	}
	if err := tx.Set(stateKey, s.st.encode()); err != nil {
		panic(fmt.Sprintf("hub state machine: %v", err))
	}
	if err := s.dec.Finish(); err != nil {
		panic(fmt.Sprintf("hub state machine: %v", err))
	}
	commitRetrying(b, f.log)
	s.dec.Commit()
	if s.tailLost {
		f.tail.reset()
	} else {
		f.tail.add(s.tail)
	}
	maps.Copy(f.seqs, s.seqs)
	f.stateMu.Lock()
	f.st = s.st
	close(f.changed)
	f.changed = make(chan struct{})
	f.stateMu.Unlock()
	if f.obs != nil && s.events > 0 {
		f.obs(s.events)
	}
	return out
}

// commitRetrying commits a batch of committed entries. A replica cannot
// skip a committed entry, so a volume without room makes it wait and
// retry (the member's /readyz says why; it has stopped proposing) instead
// of crashing; other errors are fatal.
func commitRetrying(b *pebble.Batch, log *slog.Logger) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		err := b.Commit(pebble.NoSync)
		if err == nil {
			return
		}
		if !errors.Is(err, syscall.ENOSPC) {
			panic(fmt.Sprintf("hub state machine: commit: %v", err))
		}
		log.Error("hub state machine: the data volume is full; retrying", "err", err)
		time.Sleep(wait)
	}
}

// errRejected answers commands that the state machine refuses; nothing of
// them is applied.
type errRejected struct {
	code connect.Code // 0: FailedPrecondition
	msg  string
}

func (e errRejected) Error() string { return e.msg }

func (f *fsm) applyCommand(s *step, cmd *hubv1.Command) (any, error) {
	tx := s.tx
	switch op := cmd.Op.(type) {
	case *hubv1.Command_AddNode:
		id := op.AddNode.GetId()
		if _, err := tx.Get(replication.Key("n", id)); err == nil {
			return errRejected{connect.CodeAlreadyExists, fmt.Sprintf("node %s is registered already", id)}, nil
		}
		rec, _ := json.Marshal(NodeRecord{ID: id, TokenHash: op.AddNode.GetTokenHash(), AddedMs: cmd.GetTimeMs()})
		if err := tx.Set(replication.Key("n", id), rec); err != nil {
			return nil, err
		}
		// A new node needs nothing of the log before now: it starts from
		// a snapshot, or replays a log that retention has not touched.
		if err := tx.Set(holdsKey(id), putU64(s.st.Head)); err != nil {
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
		if err := tx.Delete(holdsKey(rec.ID)); err != nil { // it holds the log back no more
			return nil, err
		}
		return nil, tx.Delete(replication.Key("n", rec.ID))
	case *hubv1.Command_SetMember:
		m := op.SetMember
		rec, _ := json.Marshal(MemberRecord{ID: m.GetId(), RaftAddr: m.GetRaftAddr(), HTTPAddr: m.GetHttpAddr(),
			Version: m.GetVersion(), Capabilities: m.GetKinds()})
		return nil, tx.Set(replication.Key("mem", m.GetId()), rec)
	case *hubv1.Command_RemoveMember:
		return nil, tx.Delete(replication.Key("mem", op.RemoveMember.GetId()))
	case *hubv1.Command_RunTask:
		return f.applyTask(s, op.RunTask.GetName())
	case *hubv1.Command_CommitEvents:
		return f.applyHubEvents(s, op.CommitEvents)
	case *hubv1.Command_ActivateKinds:
		return nil, f.activate(s, op.ActivateKinds.GetKinds())
	case *hubv1.Command_RevokeSession:
		return nil, applyRevokeSession(tx, op.RevokeSession, cmd.GetTimeMs())
	case *hubv1.Command_Retain:
		return f.applyRetain(s, op.Retain)
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
// resend from there), if an event the hub already has comes back with
// different content (the node's store was replaced and reuses seqs:
// accepting it would silently drop its new events), or if a new event is
// stamped too far ahead of the proposer's clock.
func (f *fsm) applyPush(s *step, p rawPush) (any, error) {
	origin := p.origin
	hw := f.seq(s, origin)
	evs := p.events
	// Check the whole batch before looking at any event's seq: the loop
	// below stops at the first new event.
	for i, e := range evs {
		if e.origin != origin || e.seq == 0 || (i > 0 && e.seq != evs[i-1].seq+1) {
			return errRejected{connect.CodeInvalidArgument, "batch is not a contiguous run of one origin's events from seq 1"}, nil
		}
	}
	for _, e := range evs {
		if e.seq > hw {
			if e.seq != hw+1 {
				return &hubv1.PushResult{DurableSeq: hw, Gap: true}, nil
			}
			break
		}
		m, err := e.message()
		if err != nil {
			return errRejected{connect.CodeInvalidArgument, err.Error()}, nil
		}
		same, err := f.sameAsCommitted(s.tx, m)
		if err != nil {
			return nil, err
		}
		if !same {
			return errRejected{0, fmt.Sprintf("%s/%d differs from the event the hub committed under that seq: "+
				"the node's store was replaced; register it under a new node id", origin, e.seq)}, nil
		}
	}
	// Bounded clocks: an event stamped further ahead of the proposer's
	// clock than the max offset would drag every replica's clock (and win
	// every concurrent edit) that far ahead. Refuse the batch whole; the
	// node keeps the events and sends them again once its clock is right.
	if off := p.maxOffsetMs; off > 0 {
		limit := replication.MakeHLC(s.timeMs+off, 0xffff)
		for _, e := range evs {
			if e.seq > hw && replication.HLC(e.hlc) > limit {
				return &hubv1.PushResult{DurableSeq: hw, ClockRefusedSeq: e.seq, ClockRefusedHlc: e.hlc}, nil
			}
		}
	}
	for _, e := range evs {
		if e.seq <= hw {
			continue
		}
		ev, err := f.commitRaw(s, e, nil)
		if err != nil {
			return nil, err
		}
		hw = e.seq
		if ev != nil {
			if err := f.react(s, ev); err != nil {
				return nil, err
			}
		}
	}
	return &hubv1.PushResult{DurableSeq: hw}, nil
}

// commitEvent commits an event the hub made (see commitRaw).
func (f *fsm) commitEvent(s *step, e *replicationv1.Event) error {
	e.Unchecked = false
	raw, err := marshalDeterministic(e)
	if err != nil {
		return err
	}
	_, err = f.commitRaw(s, rawEvent{origin: e.GetOrigin(), seq: e.GetSeq(), hlc: e.GetHlc(), kind: e.GetKind(), raw: raw}, e)
	return err
}

// commitRaw appends an event to the global log at the next position,
// indexes it for dedup and records its origin's seq; for a decision kind
// it also applies it to the decision views and returns it decoded, for
// the reactions (which read the decision views and react to their kinds).
// decoded is the event when the caller has it decoded already.
func (f *fsm) commitRaw(s *step, e rawEvent, decoded *replicationv1.Event) (*replication.Event, error) {
	// Whether the event was checked is decided from the cluster version,
	// alike on every member: the proposer checked it only if it knew the
	// kind, and every member knows the kinds that are active.
	unchecked := !f.isActive(e.kind)
	s.st.Head++
	s.st.HeadMs = s.timeMs
	c, err := committedBytes(s.st.Head, s.timeMs, e, unchecked)
	if err != nil {
		return nil, err
	}
	if err := s.tx.Set(posKey(s.st.Head), c); err != nil {
		return nil, err
	}
	if t, err := newTailEntry(c); err == nil && !s.tailLost {
		s.tail = append(s.tail, t)
	} else {
		s.tailLost = true
	}
	if err := s.tx.Set(dedupKey(e.origin, e.seq), binary.BigEndian.AppendUint64(nil, s.st.Head)); err != nil {
		return nil, err
	}
	s.seqs[e.origin] = e.seq
	s.events++
	if !f.decisive(e.kind) {
		return nil, nil
	}
	if decoded == nil {
		if decoded, err = e.message(); err != nil {
			return nil, err
		}
	}
	ev := replication.FromProto(decoded)
	ev.Unchecked = unchecked
	if _, err := s.dec.Apply(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

func (f *fsm) sameAsCommitted(tx replication.Tx, e *replicationv1.Event) (bool, error) {
	pb, err := tx.Get(dedupKey(e.GetOrigin(), e.GetSeq()))
	if errors.Is(err, replication.ErrNotFound) {
		return true, nil // dropped by retention (retain.go)
	}
	if err != nil {
		return false, err
	}
	cb, err := tx.Get(posKey(binary.BigEndian.Uint64(pb)))
	if errors.Is(err, replication.ErrNotFound) {
		return true, nil // dropped by retention: nothing to compare with
	}
	if err != nil {
		return false, err
	}
	var c replicationv1.Committed
	if err := proto.Unmarshal(cb, &c); err != nil {
		return false, err
	}
	committed, sent := c.GetEvent(), proto.CloneOf(e)
	committed.Unchecked, sent.Unchecked = false, false // the hub's mark, not the node's
	return proto.Equal(committed, sent), nil
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
		b, err := tx.Get(append(bytes.Clone(seqPrefix), origin...))
		if errors.Is(err, replication.ErrNotFound) {
			return nil
		}
		if err == nil && len(b) == 8 {
			seq = binary.BigEndian.Uint64(b)
		}
		return err
	})
	return seq, err
}

// Digest returns the digest of the projection's views, computed by scan:
// what `ctl verify` compares between members.
func (f *fsm) Digest() replication.Digest {
	var d replication.Digest
	_ = f.read(func(tx replication.Tx) error {
		var err error
		d, err = replication.DigestOf(tx, replication.ViewPrefix)
		return err
	})
	return d
}

// EventDigest returns the digest of the events the projection applied,
// of every scope.
func (f *fsm) EventDigest() replication.Digest {
	return replication.TotalDigest(f.EventDigests())
}

// EventDigests returns the projection's event digest of each home scope.
func (f *fsm) EventDigests() map[string]replication.Digest {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.proj.views.EventDigests()
}

// ParkedCount returns the number of events parked in the projection.
func (f *fsm) ParkedCount() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.proj.views.ParkedCount()
}

// InvalidCount returns the number of events refused as invalid.
func (f *fsm) InvalidCount() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.proj.views.InvalidCount()
}

// AppliedCount returns the number of events the projection applied.
func (f *fsm) AppliedCount() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.proj.views.AppliedCount()
}

// InvalidEvents lists up to max events the projection refused as invalid.
func (f *fsm) InvalidEvents(max int) []*adminv1.InvalidEvent {
	var out []*adminv1.InvalidEvent
	_ = f.read(func(tx replication.Tx) error {
		bad, err := replication.InvalidEvents(tx, max)
		for _, b := range bad {
			out = append(out, &adminv1.InvalidEvent{Origin: b.Origin, Seq: b.Seq, Reason: b.Reason})
		}
		return err
	})
	return out
}
