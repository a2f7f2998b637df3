package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"branchline/fault"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/replication"
	"branchline/volume"
)

// Keys of the node's store besides the views (see replication.ViewPrefix).
//
//	o \0 seq(8)     own event, encoded: the node's log and outbox
//	node \0 seq     highest own seq
//	node \0 hlc     highest HLC handed out or observed
//	node \0 cursor  hub position applied up to, and its commit time
//	node \0 pushed  highest own seq the hub acknowledged as durable
//	node \0 rebuild why the views must be rebuilt from the hub, if they must
//	node \0 gen     generation of the replicated state served
//	node \0 scopes  the scopes the node holds whole (see replication/scope.go)
//	node \0 gaining scopes whose history is being received, and how far it got
//	r<n> \0 …       replicated state of generation n ≥ 1; generation 0's is at
//	                the top (v \0, a \0, m \0, …; see replication.Views)
var (
	seqKey    = replication.Key("node", "seq")
	hlcKey    = replication.Key("node", "hlc")
	cursorKey = replication.Key("node", "cursor")
	pushedKey = replication.Key("node", "pushed")
	// rebuildKey, when present, says why the views must be rebuilt from
	// the hub: they hold stamps the rest of the company never will.
	rebuildKey = replication.Key("node", "rebuild")
	// genKey is the generation of the replicated state served (see
	// generation).
	genKey    = replication.Key("node", "gen")
	scopesKey = replication.Key("node", "scopes")
	// dormantKey: scopes held whole up to a position, no longer served.
	dormantKey = replication.Key("node", "dormant")
	gainKey    = replication.Key("node", "gaining")
	outPrefix  = []byte("o\x00")
)

func outKey(seq uint64) []byte {
	k := make([]byte, len(outPrefix)+8)
	copy(k, outPrefix)
	binary.BigEndian.PutUint64(k[len(outPrefix):], seq)
	return k
}

func u64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func putU64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// request is one unit of work for the writer: a local command, or a batch
// of events pulled from the hub.
type request struct {
	actor string
	cmd   replication.Command
	// own, when set, rewrites the node's own log in the transaction (see
	// Restamp); it returns how many events it changed in n.
	own func(tx replication.Tx) (int, error)
	// swap makes a rebuilt generation the one served (Rebuild.Swap).
	swap   *swap
	n      int
	remote []*replication.Event
	gen    uint64 // the generation remote was pulled for, or the command committed in
	// markerSeq is the last index marker the command's transaction wrote:
	// Exec returns once the indexer has passed it.
	markerSeq uint64
	pos       uint64 // hub position after remote
	posMs     int64  // commit time of pos
	// history says remote is the history of scopes being gained, or
	// followed the positions in remote of an entity's history: applied
	// whatever the origins' seqs (Batch.ApplyHistory).
	history  bool
	followed map[int]bool
	// scopes, when set, is the node's scope state after remote.
	scopes *Scopes

	events []*replication.Event // out: events the command made
	err    error
	done   chan struct{}
}

// Store is a node's event store and views on Badger. Every change goes
// through one writer goroutine that groups concurrent requests into one
// transaction and one fsync: a local command appends its events to the
// node's log and applies them to the views in the same transaction, and a
// pulled batch is applied together with the hub cursor, so a crash leaves
// either all of a request or none of it.
type Store struct {
	id    string
	dir   string
	db    *badger.DB
	reg   *replication.Registry
	cur   atomic.Pointer[generation] // the views served and written
	clock *replication.Clock
	log   *slog.Logger
	obs   Observer
	disk  *volume.Guard
	// indexer builds the indexes behind the commit, indexBatch markers at
	// a time (indexSome).
	indexer    *indexer
	indexBatch atomic.Int64

	reqs    chan *request
	stop    chan struct{}
	stopped chan struct{}
	bg      sync.WaitGroup // the indexer and the disk watch
	closeMu sync.Once

	rebuilding atomic.Bool
	// restoring is set while a store that replaced a lost one takes its
	// data back from the hub (Restore): commands are refused meanwhile.
	restoring atomic.Bool

	mu       sync.Mutex
	lastSeq  uint64
	cursor   uint64
	cursorMs int64
	pushed   uint64
	scopes   Scopes
	notify   chan struct{} // closed and replaced when own events commit
}

// Scopes is what a node holds of the company (see replication/scope.go):
// the scopes it holds whole, and those whose history it is receiving.
type Scopes struct {
	Held     []string
	Gaining  []string
	GainedTo uint64 // how far the history of Gaining got
	// Dormant are scopes the node held whole up to a position, and is no
	// longer served: gained again, their history starts there.
	Dormant map[string]uint64
}

func (sc Scopes) encode() (held, gaining, dormant []byte) {
	held = []byte(strings.Join(sc.Held, "\x00"))
	if len(sc.Gaining) > 0 {
		gaining = append(putU64(sc.GainedTo), strings.Join(sc.Gaining, "\x00")...)
	}
	for _, s := range slices.Sorted(maps.Keys(sc.Dormant)) {
		dormant = append(dormant, putU64(sc.Dormant[s])...)
		dormant = append(dormant, s...)
		dormant = append(dormant, 0)
	}
	return held, gaining, dormant
}

func decodeDormant(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	for len(b) > 8 {
		end := bytes.IndexByte(b[8:], 0)
		if end < 0 {
			break
		}
		out[string(b[8:8+end])] = u64(b)
		b = b[8+end+1:]
	}
	return out
}

// served is the scope state after the hub said it serves scopes, the
// node's cursor being at: a held scope no longer served turns dormant at
// cursor.
func (sc Scopes) served(scopes []string, cursor uint64) Scopes {
	next := Scopes{Held: scopes, Dormant: maps.Clone(sc.Dormant)}
	if next.Dormant == nil {
		next.Dormant = map[string]uint64{}
	}
	for _, h := range sc.Held {
		if !slices.Contains(scopes, h) {
			next.Dormant[h] = cursor
		}
	}
	for _, s := range scopes {
		delete(next.Dormant, s)
	}
	return next
}

func splitScopes(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// Observer receives the store's measurements (metrics); nil fields are skipped.
type Observer struct {
	Committed func(d time.Duration, events int) // one transaction committed
	Applied   func(n int)                       // events applied to views
	// Parked is told of pulled events kept unapplied: their kind is
	// unknown to this release (or their origin waits behind such an event).
	Parked func(n int)
	// ClockIgnored is told of a pulled event stamped beyond the clock's
	// bound, which the clock did not follow.
	ClockIgnored func(ev *replication.Event)
}

// StoreConfig is what OpenStore needs.
type StoreConfig struct {
	Dir      string
	ID       string // the node's id, the origin of its events
	Registry *replication.Registry
	Log      *slog.Logger
	Observer Observer
	// MaxClockOffset bounds how far ahead of the wall clock a stamp may be
	// followed (0: replication.DefaultMaxOffset).
	MaxClockOffset time.Duration
	// MinFreeBytes is the free space on the data volume under which writes
	// are refused (0: sized from Badger's settings, see defaultMinFree; <0:
	// never refuse).
	MinFreeBytes int64
	// MemTableSize sizes Badger's memtables (0: 32 MiB); tests on a small
	// filesystem make it smaller.
	MemTableSize int64
	// Wall is the wall clock (nil: time.Now); tests of wrong clocks set it.
	Wall func() time.Time
}

// maxGroup bounds how many requests share one transaction.
const maxGroup = 256

// OpenStore opens (or creates) the store of a node.
func OpenStore(cfg StoreConfig) (*Store, error) {
	id, dir, reg, log := cfg.ID, cfg.Dir, cfg.Registry, cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if !replication.ValidNodeID(id) {
		return nil, fmt.Errorf("node id %q: %w", id, replication.ErrInvalidID)
	}
	opts := badgerOptions(dir, log, cfg.MemTableSize)
	var disk *volume.Guard
	switch {
	case cfg.MinFreeBytes > 0:
		disk = volume.NewGuard(dir, uint64(cfg.MinFreeBytes))
	case cfg.MinFreeBytes == 0:
		disk = volume.NewGuard(dir, defaultMinFree(opts))
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	if err := disk.Check(); err != nil {
		// Opening writes (a new memtable log, the manifest): refuse to
		// start rather than die of SIGBUS on the way.
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open badger in %s: %w", dir, err)
	}
	s := &Store{
		id: id, dir: dir, db: db, reg: reg, log: log, obs: cfg.Observer, disk: disk,
		reqs: make(chan *request, maxGroup), stop: make(chan struct{}), stopped: make(chan struct{}),
		notify: make(chan struct{}),
	}
	var floor replication.HLC
	err = db.View(func(txn *badger.Txn) error {
		tx := badgerTx{txn}
		var n uint64
		if b, err := tx.Get(genKey); err == nil {
			n = u64(b)
		} else if !errors.Is(err, replication.ErrNotFound) {
			return err
		}
		g, err := openGeneration(reg, n, txn, nil)
		if err != nil {
			return err
		}
		s.cur.Store(g)
		for _, m := range []struct {
			key []byte
			fn  func([]byte)
		}{
			{seqKey, func(b []byte) { s.lastSeq = u64(b) }},
			{hlcKey, func(b []byte) { floor = replication.HLC(u64(b)) }},
			{cursorKey, func(b []byte) { s.cursor = u64(b); s.cursorMs = int64(u64(b[min(8, len(b)):])) }},
			{pushedKey, func(b []byte) { s.pushed = u64(b) }},
			{scopesKey, func(b []byte) { s.scopes.Held = splitScopes(b) }},
			{dormantKey, func(b []byte) { s.scopes.Dormant = decodeDormant(b) }},
			{gainKey, func(b []byte) {
				if len(b) >= 8 {
					s.scopes.GainedTo, s.scopes.Gaining = u64(b), splitScopes(b[8:])
				}
			}},
		} {
			b, err := tx.Get(m.key)
			if errors.Is(err, replication.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m.fn(b)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load node state: %w", err)
	}
	s.restoring.Store(strings.HasPrefix(s.RebuildReason(), restorePrefix))
	s.clock = replication.NewClock(cfg.Wall, floor, cfg.MaxClockOffset)
	if ig := s.clock.Ignored(); ig != 0 {
		log.Warn("the store's clock had followed a stamp beyond the max clock offset; starting from the wall clock",
			"stamp", ig.String(), "max_offset", s.clock.MaxOffset())
	}
	if g := s.cur.Load(); g.views.AppliedCount() > 0 && len(g.views.EventDigests()) == 0 {
		if err := s.migrate(g); err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate the store of an older release: %w", err)
		}
	}
	if err := s.reindexStale(s.cur.Load()); err != nil {
		db.Close()
		return nil, fmt.Errorf("reindex indexes of another version: %w", err)
	}
	if err := s.unpark(); err != nil {
		db.Close()
		return nil, fmt.Errorf("apply parked events: %w", err)
	}
	s.indexer = newIndexer(s)
	if n := s.cur.Load().n; n > 0 {
		// A swap's deletion of the generation before may have been cut
		// short by a stop.
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			for k := uint64(0); k < n; k++ {
				if err := s.drop(k); err != nil {
					return
				}
			}
		}()
	}
	go s.run()
	s.bg.Add(2)
	go func() { defer s.bg.Done(); s.watchDisk() }()
	go func() { defer s.bg.Done(); s.indexer.run() }()
	s.indexer.poke() // markers a crash left behind
	return s, nil
}

// watchDisk checks the volume every second, so that /readyz and the UI
// banner clear by themselves once space is freed, with no write to try.
func (s *Store) watchDisk() {
	if s.disk == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.disk.Check() // the result is kept in the guard
		}
	}
}

// unpark applies the events an older release parked whose kinds this
// release knows, before anything else is written.
func (s *Store) unpark() error {
	g := s.cur.Load()
	if g.views.ParkedCount() == 0 {
		return nil
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	b := g.views.Begin(g.tx(badgerTx{txn}))
	n, err := b.Unpark()
	if err != nil || n == 0 {
		return err
	}
	if err := b.Finish(); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	b.Commit()
	s.log.Info("applied parked events", "events", n, "still_parked", g.views.ParkedCount())
	return nil
}

// ID is the node's id, the origin of its events.
func (s *Store) ID() string { return s.id }

// DB exposes Badger for the node's own non-replicated records (sessions).
func (s *Store) DB() *badger.DB { return s.db }

// Views returns the replicated views' bookkeeping (digest, count).
func (s *Store) Views() *replication.Views { return s.cur.Load().views }

// Clock is the node's hybrid logical clock.
func (s *Store) Clock() *replication.Clock { return s.clock }

// Exec runs cmd and durably records the events it makes. It returns once
// the transaction is synced to disk: an acknowledged write survives a
// crash.
func (s *Store) Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	r := &request{actor: actor, cmd: cmd, done: make(chan struct{})}
	if err := s.submit(ctx, r); err != nil {
		return nil, err
	}
	if r.err == nil && r.markerSeq > 0 {
		// What the caller wrote is found by the next search it makes.
		s.indexer.wait(ctx, r.gen, r.markerSeq)
	}
	return r.events, r.err
}

// ApplyRemote applies events pulled from the hub and records pos (with its
// commit time) as the cursor, in one transaction.
func (s *Store) ApplyRemote(ctx context.Context, events []*replication.Event, pos uint64, posMs int64) error {
	return s.applyRemote(ctx, s.Generation(), events, pos, posMs)
}

// applyRemote is ApplyRemote for a pull that started on generation gen: it
// fails with errGenerationChanged if the store swapped generations since,
// because pos is a position of the old generation's stream.
func (s *Store) applyRemote(ctx context.Context, gen uint64, events []*replication.Event, pos uint64, posMs int64) error {
	return s.applyPulled(ctx, gen, pulledBatch{events: events, pos: pos, posMs: posMs})
}

// pulledBatch is what one transaction of pulled events applies.
type pulledBatch struct {
	events   []*replication.Event
	pos      uint64 // the cursor after them (0: it stays)
	posMs    int64
	history  bool         // the history of scopes being gained
	followed map[int]bool // events of an entity's history
	scopes   *Scopes      // the scope state after them, when it changes
}

func (s *Store) applyPulled(ctx context.Context, gen uint64, p pulledBatch) error {
	if p.events == nil {
		p.events = []*replication.Event{}
	}
	r := &request{remote: p.events, gen: gen, pos: p.pos, posMs: p.posMs, history: p.history, followed: p.followed,
		scopes: p.scopes, done: make(chan struct{})}
	if err := s.submit(ctx, r); err != nil {
		return err
	}
	return r.err
}

// Generation is the number of the generation of replicated state served.
func (s *Store) Generation() uint64 { return s.cur.Load().n }

// errGenerationChanged fails a pulled batch that arrives after the store
// swapped to a rebuilt generation.
var errGenerationChanged = errors.New("the views were rebuilt: pull again from the new cursor")

// ErrRestoring refuses commands while the store takes back, from the hub,
// the data of the store it replaced (Restore).
var ErrRestoring = fmt.Errorf("this node is taking its data back from head office after its store was lost; "+
	"it takes changes again once done (see its status): %w", fault.ErrUnavailable)

// restorePrefix starts the rebuild reason of a restore.
const restorePrefix = "restore: "

// Fresh reports whether the store is new: it made no event and applied
// nothing from the hub.
func (s *Store) Fresh() bool {
	p := s.Progress()
	return p.LastSeq == 0 && p.Cursor == 0 && s.RebuildReason() == ""
}

// Restore makes a fresh store the continuation of a lost one whose events
// the hub holds up to seq durable: the node's next event is durable+1, so
// no seq is used twice, and the views are rebuilt from the hub — the lost
// store's own events included, which brings back its counters (pickup
// numbers). Commands are refused until then.
func (s *Store) Restore(durable uint64) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		tx := badgerTx{txn}
		for _, k := range [][]byte{seqKey, pushedKey} {
			if err := tx.Set(k, putU64(durable)); err != nil {
				return err
			}
		}
		return tx.Set(rebuildKey, []byte(fmt.Sprintf("%sthe store was lost; the hub holds this node's events up to seq %d", restorePrefix, durable)))
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.lastSeq, s.pushed = durable, durable
	s.mu.Unlock()
	s.restoring.Store(true)
	return nil
}

// Bootstrap makes a fresh store take its views from the hub by a rebuild —
// from a snapshot of the company views when the hub's log is long — rather
// than by pulling the whole log into the views served. Commands are taken
// meanwhile: they are applied again on top of the rebuilt views.
func (s *Store) Bootstrap(head uint64) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(rebuildKey, []byte(fmt.Sprintf("%sa new node; the hub's log holds %d events", bootstrapPrefix, head)))
	})
}

// bootstrapPrefix starts the rebuild reason of a new node's bootstrap.
const bootstrapPrefix = "bootstrap: "

// retentionPrefix starts the rebuild reason of a node the hub's log
// retention overtook.
const retentionPrefix = "retention: "

// BehindRetention records that the hub no longer holds the company-wide
// events after the node's cursor (its log is retained from position
// retained): the views are rebuilt from a snapshot, served meanwhile as
// they are; the node's own events are pushed as ever and applied again on
// top of the new views.
func (s *Store) BehindRetention(retained string) error {
	return s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(rebuildKey); err == nil {
			return nil // a rebuild is due already: it takes a snapshot too
		}
		return txn.Set(rebuildKey, []byte(fmt.Sprintf("%sthe hub's log is retained from position %s, after this node's cursor", retentionPrefix, retained)))
	})
}

// Restoring reports whether the store is taking back a lost store's data.
func (s *Store) Restoring() bool { return s.restoring.Load() }

// ErrClosed is returned for work submitted to a closed store.
var ErrClosed = errors.New("store closed")

func (s *Store) submit(ctx context.Context, r *request) error {
	select {
	case s.reqs <- r:
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once submitted, the request is committed or failed by the writer; wait
	// for it even if ctx ends, so the caller never mistakes a durable write
	// for a failed one. A writer that stopped has either finished the
	// request or never will.
	select {
	case <-r.done:
		return nil
	case <-s.stopped:
		select {
		case <-r.done:
			return nil
		default:
			return ErrClosed
		}
	}
}

// View runs fn on a consistent read-only snapshot of the views.
func (s *Store) View(fn func(views replication.Tx) error) error {
	g := s.cur.Load()
	return s.db.View(func(txn *badger.Txn) error {
		return fn(g.views.Read(g.read(txn)))
	})
}

func (s *Store) run() {
	defer close(s.stopped)
	for {
		var first *request
		select {
		case first = <-s.reqs:
		case <-s.stop:
			// Drain what was submitted before the stop.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*request{r})
				default:
					return
				}
			}
		}
		group := []*request{first}
	fill:
		for len(group) < maxGroup {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		if err := s.disk.Check(); err != nil {
			for _, r := range group {
				r.events, r.err = nil, err
				close(r.done)
			}
			continue
		}

		s.commit(group)
	}
}

// commit runs a group of requests in one transaction. When the
// transaction fails — Badger finds it too big, or one request's events
// cannot be encoded or applied — the group is split and retried, so that
// a request fails only for its own fault: commands only read until they
// return, so running one again is safe.
func (s *Store) commit(group []*request) {
	err := s.tryCommit(group)
	if err != nil && len(group) > 1 {
		s.commit(group[:len(group)/2])
		s.commit(group[len(group)/2:])
		return
	}
	for _, r := range group {
		if err != nil {
			r.events, r.err = nil, err
		}
		close(r.done)
	}
}

func (s *Store) tryCommit(group []*request) error {
	start := time.Now()
	tx := newOverlay(s.db)
	defer tx.discard()
	g := s.cur.Load()
	b := g.views.Begin(g.tx(tx))
	batches := []*replication.Batch{b}
	markersBefore := b.MarkerSeq()
	var swapped *generation

	s.mu.Lock()
	seq, cursor, cursorMs := s.lastSeq, s.cursor, s.cursorMs
	scopes := s.scopes
	s.mu.Unlock()
	scopesChanged := false
	firstSeq := seq
	events, parked := 0, 0
	for _, r := range group {
		r.events, r.err = nil, nil
		if r.swap != nil {
			// From here on the transaction writes the new generation.
			n, err := r.swap.apply(s, tx)
			if err != nil {
				return err
			}
			r.n, events = n, events+n
			g, b, swapped = r.swap.gen, r.swap.batch, r.swap.gen
			batches = append(batches, b)
			cursor, cursorMs = r.swap.cursor, r.swap.cursorMs
			if r.swap.scopes != nil {
				scopes, scopesChanged = *r.swap.scopes, true
			}
			continue
		}
		if r.remote != nil && r.gen != g.n {
			// Pulled against the generation swapped out: the puller starts
			// again from the new generation's cursor.
			r.err = errGenerationChanged
			continue
		}
		if r.own != nil {
			n, err := r.own(tx)
			if err != nil {
				return err
			}
			r.n = n
			continue
		}
		if r.cmd != nil {
			if swapped == nil && s.restoring.Load() {
				r.err = ErrRestoring
				continue
			}
			drafts, err := r.cmd(b.Views())
			if err != nil {
				r.err = err
				continue
			}
			for _, d := range drafts {
				kind, body, err := replication.EncodeDraft(d)
				if err != nil {
					return fmt.Errorf("encode %s: %w", d.Kind, err)
				}
				ev := &replication.Event{
					Origin: s.id, Seq: seq + 1, HLC: s.clock.Now(), Kind: kind,
					Entity: d.Entity, Actor: r.actor, Body: body,
				}
				if ev.Scopes, err = s.reg.Scopes(b.Views(), ev); err != nil {
					return err
				}
				// An event the hub would refuse would stop this node's
				// outbox for good: refuse the command instead.
				if err := s.reg.Check(ev); err != nil {
					return fmt.Errorf("command made an invalid event: %w", err)
				}
				seq++
				enc, err := ev.Marshal()
				if err != nil {
					return err
				}
				if err := tx.Set(outKey(seq), enc); err != nil {
					return err
				}
				if out, err := b.Apply(ev); err != nil {
					return err
				} else if out != replication.Applied {
					return fmt.Errorf("own event %s not applied (outcome %d): kind not registered?", ev, out)
				}
				r.events = append(r.events, ev)
				events++
			}
			continue
		}
		for i, ev := range r.remote {
			if !s.clock.Observe(ev.HLC) && s.obs.ClockIgnored != nil {
				s.obs.ClockIgnored(ev)
			}
			apply := b.Apply
			if r.history || r.followed[i] {
				apply = b.ApplyHistory
			}
			out, err := apply(ev)
			if err != nil {
				return err
			}
			switch out {
			case replication.Applied:
				events++
			case replication.Parked:
				parked++
			case replication.Invalid:
				s.log.Warn("invalid event: recorded and not applied", "event", ev.String())
			}
		}

		if r.pos > cursor {
			cursor, cursorMs = r.pos, r.posMs
		}
		if r.scopes != nil {
			scopes, scopesChanged = *r.scopes, true
		}
	}
	if seq != firstSeq {
		if err := tx.Set(seqKey, putU64(seq)); err != nil {
			return err
		}
	}
	if err := tx.Set(hlcKey, putU64(uint64(s.clock.Last()))); err != nil {
		return err
	}
	if err := tx.Set(cursorKey, append(putU64(cursor), putU64(uint64(cursorMs))...)); err != nil {
		return err
	}
	if scopesChanged {
		held, gaining, dormant := scopes.encode()
		if err := tx.Set(scopesKey, held); err != nil {
			return err
		}
		if err := tx.Set(dormantKey, dormant); err != nil {
			return err
		}
		var err error
		if gaining == nil {
			err = tx.Delete(gainKey)
		} else {
			err = tx.Set(gainKey, gaining)
		}
		if err != nil {
			return err
		}
	}
	for _, b := range batches {
		if err := b.Finish(); err != nil {
			return err
		}
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	if err := tx.writeTo(txn); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	marked := false
	for _, b := range batches {
		b.Commit()
	}
	if swapped != nil {
		s.cur.Store(swapped)
		s.restoring.Store(false)
	}
	if m := b.MarkerSeq(); m > markersBefore {
		marked = true
		for _, r := range group {
			if r.cmd != nil {
				r.gen, r.markerSeq = g.n, m
			}
		}
	}
	if marked || swapped != nil {
		s.indexer.poke()
	}
	s.mu.Lock()
	s.lastSeq, s.cursor, s.cursorMs = seq, cursor, cursorMs
	if scopesChanged {
		s.scopes = scopes
	}
	if seq != firstSeq {
		close(s.notify)
		s.notify = make(chan struct{})
	}
	s.mu.Unlock()
	if s.obs.Committed != nil {
		s.obs.Committed(time.Since(start), events)
	}
	if s.obs.Applied != nil && events > 0 {
		s.obs.Applied(events)
	}
	if parked > 0 {
		s.log.Warn("events parked until this node is upgraded", "events", parked, "parked", g.views.ParkedCount())
		if s.obs.Parked != nil {
			s.obs.Parked(parked)
		}
	}
	return nil
}

// Restamp gives a fresh stamp to each own event after seq durable (which
// the hub does not hold) that is stamped beyond the clock's bound. Only a
// store whose clock followed a poisoned stamp before clocks were bounded
// holds such events; the hub refuses them, and without new stamps they
// would hold back the outbox for good. Views already applied them with
// the old stamps, so the store is marked for a rebuild of its views from
// the hub (see rebuildKey), after which they are applied again.
func (s *Store) Restamp(ctx context.Context, durable uint64) (int, error) {
	r := &request{done: make(chan struct{}), own: func(tx replication.Tx) (int, error) {
		bound := s.clock.Bound()
		var stale []*replication.Event
		err := tx.Scan(outPrefix, outKey(durable+1), func(_, v []byte) (bool, error) {
			ev, err := replication.UnmarshalEvent(v)
			if err != nil {
				return false, err
			}
			if ev.HLC > bound {
				stale = append(stale, ev)
			}
			return true, nil
		})
		if err != nil || len(stale) == 0 {
			return 0, err
		}
		for _, ev := range stale {
			ev.HLC = s.clock.Now()
			enc, err := ev.Marshal()
			if err != nil {
				return 0, err
			}
			if err := tx.Set(outKey(ev.Seq), enc); err != nil {
				return 0, err
			}
		}
		// Unique per restamp, so that a rebuild running meanwhile leaves
		// this request standing (Rebuild.reason).
		return len(stale), tx.Set(rebuildKey, []byte(fmt.Sprintf("restamped: %d own events from seq %d stamped afresh at %s",
			len(stale), stale[0].Seq, stale[0].HLC)))
	}}
	if err := s.submit(ctx, r); err != nil {
		return 0, err
	}
	return r.n, r.err
}

// Disk watches the free space of the store's volume; writes are refused
// while it is low.
func (s *Store) Disk() *volume.Guard { return s.disk }

// Close stops the writer after the requests already submitted and closes
// Badger.
func (s *Store) Close() error {
	s.closeMu.Do(func() { close(s.stop) })
	<-s.stopped
	s.bg.Wait()
	return s.db.Close()
}

// Outbox returns own events after seq, at most maxEvents of them and about
// maxBytes in all (at least one), for pushing to the hub.
func (s *Store) Outbox(after uint64, maxEvents, maxBytes int) ([]*replication.Event, error) {
	var out []*replication.Event
	size := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return badgerTx{txn}.Scan(outPrefix, outKey(after+1), func(_, v []byte) (bool, error) {
			ev, err := replication.UnmarshalEvent(v)
			if err != nil {
				return false, err
			}
			out = append(out, ev)
			size += len(v)
			return len(out) < maxEvents && size < maxBytes, nil
		})
	})
	return out, err
}

// Progress is the node's replication bookkeeping.
type Progress struct {
	LastSeq  uint64 // highest own seq
	Pushed   uint64 // highest own seq the hub acknowledged as durable
	Cursor   uint64 // hub position applied up to
	CursorMs int64  // commit time of Cursor on the hub
}

// Progress reads the current bookkeeping.
func (s *Store) Progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Progress{LastSeq: s.lastSeq, Pushed: s.pushed, Cursor: s.cursor, CursorMs: s.cursorMs}
}

// Scopes returns what the node holds of the company.
func (s *Store) Scopes() Scopes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scopes
}

// ScopeDigest is the digest of the events the node holds whole: those of
// the company and of its held scopes. A hub's digest of the same scopes
// equals it when the node holds exactly what the hub holds of them.
// A node that holds no scope (its hub serves every event: an older
// release) holds everything it applied.
func (s *Store) ScopeDigest() replication.Digest {
	ds, held := s.Views().EventDigests(), s.Scopes().Held
	if len(held) == 0 {
		return replication.TotalDigest(ds)
	}
	return replication.ScopeDigest(ds, held)
}

// Committed returns a channel closed when own events commit after the call.
func (s *Store) Committed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// SetPushed records that the hub holds own events up to seq durably. It is
// not synced: after a crash the node resends from an older mark, which the
// hub ignores as duplicates.
func (s *Store) SetPushed(seq uint64) error {
	s.mu.Lock()
	if seq <= s.pushed {
		s.mu.Unlock()
		return nil
	}
	if seq > s.lastSeq {
		s.mu.Unlock()
		return fmt.Errorf("hub acknowledges seq %d but this node has made only %d events: "+
			"its store was replaced; register it under a new node id", seq, s.lastSeq)
	}
	s.pushed = seq
	s.mu.Unlock()
	if s.disk.Low() {
		// Kept in memory only: after a restart the node resends from the
		// last mark written, which the hub drops as duplicates.
		return nil
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	if err := wb.Set(pushedKey, putU64(seq)); err != nil {
		return err
	}
	return wb.Flush()
}

// resetPushed moves the durable mark back when the hub says it holds less.
func (s *Store) resetPushed(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < s.pushed {
		s.pushed = seq
	}
}

// ViewsDigest computes the digest of the replicated views' content by
// scan (the index is not part of it): what ctl verify compares with other
// replicas holding the same events.
func (s *Store) ViewsDigest() (replication.Digest, error) {
	g := s.cur.Load()
	var d replication.Digest
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		d, err = replication.DigestOf(g.read(txn), replication.ViewPrefix)
		return err
	})
	return d, err
}

// InvalidEvents lists up to max events refused as invalid.
func (s *Store) InvalidEvents(max int) []*adminv1.InvalidEvent {
	g := s.cur.Load()
	var out []*adminv1.InvalidEvent
	_ = s.db.View(func(txn *badger.Txn) error {
		bad, err := replication.InvalidEvents(g.read(txn), max)
		for _, b := range bad {
			out = append(out, &adminv1.InvalidEvent{Origin: b.Origin, Seq: b.Seq, Reason: b.Reason})
		}
		return err
	})
	return out
}

// FeedEntries lists up to max entries of a feed (replication.Feed) of the
// generation served.
func (s *Store) FeedEntries(name string, max int) ([]replication.FeedEntry, error) {
	g := s.cur.Load()
	var out []replication.FeedEntry
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = replication.FeedEntries(g.read(txn), name, max)
		return err
	})
	return out, err
}

// DeleteFeedEntries deletes entries a task has dealt with, through the
// writer (a swap of generations in between leaves them be: the new
// generation has feeds of its own).
func (s *Store) DeleteFeedEntries(ctx context.Context, entries []replication.FeedEntry) error {
	gen := s.cur.Load().n
	r := &request{done: make(chan struct{}), own: func(tx replication.Tx) (int, error) {
		g := s.cur.Load()
		if g.n != gen {
			return 0, nil
		}
		for _, e := range entries {
			if err := g.tx(tx).Delete(e.Key); err != nil {
				return 0, err
			}
		}
		return len(entries), nil
	}}
	if err := s.submit(ctx, r); err != nil {
		return err
	}
	return r.err
}
