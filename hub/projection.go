package hub

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// projection keeps the views hub pages and reports read: every event of
// the global log applied in log order, behind the commit, in large
// batches, with the position it reflects recorded in the same batch. A
// member's projection is its own (each member projects its own copy of
// the log), and deterministic: the cluster version it applies with is the
// one in force at each position (activations are recorded with their
// position), so members that projected up to the same position hold the
// same views.
//
// Beside them it keeps the company views (companyPrefix): the same
// appliers run on the company-wide events only (those with no scope),
// with their indexes kept as a node keeps them — deferred: markers in the
// projection's batches, the entries built behind it by indexCompany, in
// bulk — what every node holds alike, and what a new node's snapshot is
// made of (bootstrap.go). They move with
// the projection, in its batches; a state of a release before them
// catches them up from the log behind it (catchUpCompany), and until then
// the hub serves no snapshot.
type projection struct {
	views   *replication.Views
	company *replication.Views
	log     *slog.Logger

	mu      sync.Mutex // one projector at a time
	active  map[string]bool
	pending []activation // recorded activations after pos, in order
	loaded  []byte       // key of the last activation record read
	// batch is the size of the last projection batch, the next one's
	// first allocation (a batch doubling its buffer copied it each time).
	batch int

	posMu   sync.Mutex
	pos     uint64
	posMs   int64
	changed chan struct{} // closed and replaced when pos moves
	// cpos is the position the company views reflect, behind pos.
	cpos   uint64
	cposMs int64
	// cactive is the cluster version the company views apply with: the
	// projection's, copied at each of their batches (only the company
	// loop reads it).
	cactive map[string]bool
	// cindexed is the highest index marker seq of the company views the
	// company loop processed (only it writes it): every marker up to it
	// is deleted.
	cindexed atomic.Uint64
}

// companyPrefix holds the company views; companyKey the position they
// reflect and its commit time.
var (
	companyPrefix = []byte("cv\x00")
	companyKey    = replication.Key("h", "company")
)

// companyBatch starts applying to the company views in tx.
func (p *projection) companyBatch(tx replication.Tx) *replication.Batch {
	return p.company.Begin(replication.WithPrefix(tx, companyPrefix))
}

func encodePos(pos uint64, ms int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, pos), uint64(ms))
}

// activation is a cluster version change at a log position.
type activation struct {
	after, idx uint64 // the head it was made at, and its Raft index
	kinds      []string
}

func openProjection(reg *replication.Registry, db *pebble.DB, log *slog.Logger) (*projection, error) {
	tx := pebbleTx{r: db}
	v, err := replication.OpenViews(reg, tx)
	if err != nil {
		return nil, err
	}
	cv, err := replication.OpenShippedViews(reg, replication.WithPrefix(tx, companyPrefix))
	if err != nil {
		return nil, err
	}
	p := &projection{views: v, company: cv, log: log, changed: make(chan struct{})}
	v.TrackViewDigest(false)
	v.SetIndexing(replication.IndexOff)
	v.SetActive(func(kind string) bool { return p.isActive(kind) })
	cv.TrackViewDigest(false)
	cv.SetFeeds(false)
	cv.SetActive(func(kind string) bool { return p.isCompanyActive(kind) })
	for _, at := range []struct {
		key   []byte
		pos   *uint64
		posMs *int64
	}{{projKey, &p.pos, &p.posMs}, {companyKey, &p.cpos, &p.cposMs}} {
		if b, err := tx.Get(at.key); err == nil && len(b) >= 16 {
			*at.pos, *at.posMs = binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint64(b[8:]))
		} else if err != nil && !errors.Is(err, replication.ErrNotFound) {
			return nil, err
		}
	}
	err = tx.Scan(activatedAt, nil, func(k, val []byte) (bool, error) {
		rest := k[len(activatedAt):]
		if len(rest) < 16 {
			return true, nil
		}
		var a hubv1.ActivateKinds
		if err := proto.Unmarshal(val, &a); err != nil {
			return false, err
		}
		act := activation{after: binary.BigEndian.Uint64(rest), idx: binary.BigEndian.Uint64(rest[8:]), kinds: a.GetKinds()}
		p.loaded = bytes.Clone(k)
		if act.after <= p.pos {
			p.activate(act.kinds)
		} else {
			p.pending = append(p.pending, act)
		}
		return true, nil
	})
	return p, err
}

func (p *projection) isActive(kind string) bool { return activeIn(p.active, kind) }

func (p *projection) isCompanyActive(kind string) bool { return activeIn(p.cactive, kind) }

// activate adds kinds to the cluster version, as fsm.activate does: the
// first cluster version replaces the baseline.
func (p *projection) activate(kinds []string) {
	if p.active == nil {
		p.active = map[string]bool{}
	}
	for _, k := range kinds {
		p.active[k] = true
	}
}

// position returns the log position the projection reflects and its commit
// time.
func (p *projection) position() (uint64, int64, <-chan struct{}) {
	p.posMu.Lock()
	defer p.posMu.Unlock()
	return p.pos, p.posMs, p.changed
}

// project applies up to max events of the global log after the
// projection's position (and the activations among them) in one Pebble
// batch. It returns how many log positions it passed.
func (f *fsm) project(max int) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p := f.proj
	p.mu.Lock()
	defer p.mu.Unlock()
	from, fromMs, _ := p.position()
	head := f.state().Head
	// New activations are recorded with the entries that make them, in
	// the batches that also move head: those up to head are all there.
	if err := p.loadActivations(f.db); err != nil {
		return 0, err
	}
	if from >= head && (len(p.pending) == 0 || p.pending[0].after > from) {
		return 0, nil
	}
	b := f.db.NewIndexedBatchWithSize(p.batch)
	defer b.Close()
	tx, closeIters := stepTx(b, b)
	defer closeIters()
	vb := p.views.Begin(tx)
	pos, posMs := from, fromMs
	passed := 0
	var activated []string
	err := pebbleTx{r: f.db}.Scan(logPrefix, posKey(from+1), func(_, v []byte) (bool, error) {
		at, atMs, ev, err := decodeCommitted(v)
		if err != nil {
			return false, fmt.Errorf("log entry after %d: %w", pos, err)
		}
		if at > head {
			// Committed after head was read: the activations recorded with
			// it may not have been loaded. The next run takes it.
			return false, nil
		}
		n, err := p.activateUpTo(at-1, vb)
		if err != nil {
			return false, err
		}
		activated = append(activated, n...)
		if _, err := vb.Apply(ev); err != nil {
			return false, fmt.Errorf("project %d: %w", at, err)
		}
		if len(ev.Scopes) > 0 {
			// For the pulls of nodes that start to follow the entity.
			if err := tx.Set(entityIndexKey(ev.Entity, at), nil); err != nil {
				return false, err
			}
		}
		pos, posMs = at, atMs
		passed++
		return passed < max && pos < head, nil
	})
	if err != nil {
		return 0, err
	}
	n, err := p.activateUpTo(pos, vb)
	if err != nil {
		return 0, err
	}
	activated = append(activated, n...)
	if err := vb.Finish(); err != nil {
		return 0, err
	}
	if err := tx.Set(projKey, encodePos(pos, posMs)); err != nil {
		return 0, err
	}
	if err := closeIters(); err != nil {
		return 0, err
	}
	p.batch = b.Len()
	commitRetrying(b, f.log)
	vb.Commit()
	p.posMu.Lock()
	p.pos, p.posMs = pos, posMs
	close(p.changed)
	p.changed = make(chan struct{})
	p.posMu.Unlock()
	if len(activated) > 0 {
		f.log.Info("projection: cluster version applied", "capabilities", len(activated), "at", pos)
	}
	return passed + len(activated), nil
}

// loadActivations reads the activation records written since the last
// it read; they are pending until the projection passes their position.
func (p *projection) loadActivations(db *pebble.DB) error {
	start := activatedAt
	if p.loaded != nil {
		start = append(bytes.Clone(p.loaded), 0) // just after it
	}
	return pebbleTx{r: db}.Scan(activatedAt, start, func(k, val []byte) (bool, error) {
		rest := k[len(activatedAt):]
		if len(rest) < 16 {
			return true, nil
		}
		var a hubv1.ActivateKinds
		if err := proto.Unmarshal(val, &a); err != nil {
			return false, err
		}
		p.loaded = bytes.Clone(k)
		p.pending = append(p.pending, activation{after: binary.BigEndian.Uint64(rest), idx: binary.BigEndian.Uint64(rest[8:]), kinds: a.GetKinds()})
		return true, nil
	})
}

// activateUpTo applies the pending activations made after positions up to
// pos, unparking what they allow in each batch (nil ones skipped).
func (p *projection) activateUpTo(pos uint64, bs ...*replication.Batch) ([]string, error) {
	var done []string
	for len(p.pending) > 0 && p.pending[0].after <= pos {
		a := p.pending[0]
		p.pending = p.pending[1:]
		p.activate(a.kinds)
		for _, b := range bs {
			if b == nil {
				continue
			}
			if _, err := b.Unpark(); err != nil {
				return nil, err
			}
		}
		done = append(done, a.kinds...)
	}
	return done, nil
}

// indexCompany builds the company views' index entries of up to max
// changed entities (their markers), reading the committed state and
// writing a plain batch: what a node's indexer does behind its commit,
// here behind the projection. Inline, in the projection's batch, each
// customer's reindex scanned through an indexed Pebble batch, which cost
// the projection 700 µs per event. It returns how many markers it took.
func (f *fsm) indexCompany(max int) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p := f.proj
	read := replication.WithPrefix(pebbleTx{r: f.db}, companyPrefix)
	markers, err := replication.PendingMarkers(read, p.cindexed.Load(), max)
	if err != nil || len(markers) == 0 {
		return 0, err
	}
	b := f.db.NewBatch()
	defer b.Close()
	// The reads see the company views as the step began: only this loop
	// writes them, and this step's writes go to b (as a node's indexer
	// reads committed state). The entities are shared out among the
	// CPUs, each goroutine reading through iterators of its own.
	reads := make([]replication.Tx, replication.StepWorkers(len(markers)))
	closers := make([]func() error, len(reads))
	for i := range reads {
		read, closeIters := stepTx(f.db, nil)
		defer closeIters()
		reads[i], closers[i] = replication.WithPrefix(read, companyPrefix), closeIters
	}
	write := replication.WithPrefix(pebbleTx{r: f.db, b: b}, companyPrefix)
	last, committed, err := p.company.ProcessMarkersShared(write, reads, markers)
	if err != nil {
		return 0, err
	}
	for _, c := range closers {
		if err := c(); err != nil {
			return 0, err
		}
	}
	commitRetrying(b, f.log)
	committed()
	p.cindexed.Store(last)
	return len(markers), nil
}

// companyPos is the position the company views reflect.
func (p *projection) companyPos() uint64 {
	p.posMu.Lock()
	defer p.posMu.Unlock()
	return p.cpos
}

// catchUpCompany applies up to max company-wide events of the log after
// the company views' position, up to the projection's. It runs with the
// cluster version the projection is at, which leaves the same views as
// applying each event at its own position would: an event parked there is
// applied in its origin's order once its kind is active. It returns how
// many log positions it passed.
func (f *fsm) catchUpCompany(max int) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p := f.proj
	p.mu.Lock()
	p.cactive = maps.Clone(p.active) // the cluster version as far as projected
	p.mu.Unlock()
	p.posMu.Lock()
	from, to := p.cpos, p.pos
	p.posMu.Unlock()
	if from >= to {
		return 0, nil
	}
	b := f.db.NewIndexedBatch()
	defer b.Close()
	tx, closeIters := stepTx(b, b)
	defer closeIters()
	cb := p.companyBatch(tx)
	if p.company.ParkedCount() > 0 {
		// Kinds activated since they were parked.
		if _, err := cb.Unpark(); err != nil {
			return 0, err
		}
	}
	pos, posMs, passed := from, int64(0), 0
	err := pebbleTx{r: f.db}.Scan(logPrefix, posKey(from+1), func(_, v []byte) (bool, error) {
		at, atMs, ev, err := decodeCommitted(v)
		if err != nil {
			return false, fmt.Errorf("log entry after %d: %w", pos, err)
		}
		if at > to {
			return false, nil
		}
		if len(ev.Scopes) == 0 {
			if _, err := cb.Apply(ev); err != nil {
				return false, fmt.Errorf("company views, %d: %w", at, err)
			}
		}
		pos, posMs = at, atMs
		passed++
		return passed < max && pos < to, nil
	})
	if err != nil {
		return 0, err
	}
	if passed == 0 {
		return 0, nil
	}
	if err := cb.Finish(); err != nil {
		return 0, err
	}
	if err := tx.Set(companyKey, encodePos(pos, posMs)); err != nil {
		return 0, err
	}
	if err := closeIters(); err != nil {
		return 0, err
	}
	commitRetrying(b, f.log)
	cb.Commit()
	p.posMu.Lock()
	p.cpos, p.cposMs = pos, posMs
	p.posMu.Unlock()
	return passed, nil
}

// projectLoop keeps the projection up with the log until ctx ends.
//
// While pushes are being committed, the projector gives way: after each
// batch it pauses three times as long as the batch took, so that it takes
// at most about a quarter of a CPU from the commit path, which
// acknowledges the branches' events (bench sync, 32 pushers: 38,400
// events/s at 48 µs per event when it paused as long as a batch took,
// 44,500 at 37 µs with this). A branch reconnecting after a long outage is
// acknowledged first and seen on head office's pages a little later; the
// projection runs at full speed as soon as the pushes stop.
func (f *fsm) projectLoop(ctx context.Context) {
	for ctx.Err() == nil {
		changed := f.Changed()
		head := f.state().Head
		start := time.Now()
		n, err := f.project(2000)
		if err != nil {
			f.log.Error("projection", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if n == 0 {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		if f.state().Head != head {
			select {
			case <-ctx.Done():
			case <-time.After(3 * time.Since(start)):
			}
		}
	}
}

// companyLoop keeps the company views up with the projection, their
// indexes built and the log's retention applied, giving way to the
// projection: it works only while the projection is up with the head, and
// after a step during which commits arrived or nodes were served (Pulls,
// snapshots) it pauses for companyPause steps, so that head office's pages
// (which wait for the projection), the commit path and nodes' catch-up
// keep most of a CPU. On a quiet hub it runs on: a million customers
// imported at once were indexed for snapshots 7.6 minutes after the first
// push, against 25 at a quarter of a CPU (BENCHMARKS.md, 2026-12-07).
func (f *fsm) companyLoop(ctx context.Context) {
	for ctx.Err() == nil {
		f.mu.RLock()
		pos, _, moved := f.proj.position()
		f.mu.RUnlock()
		changed := f.Changed()
		if pos < f.state().Head {
			select {
			case <-ctx.Done():
			case <-moved:
			case <-changed:
			}
			continue
		}
		head, served, start := f.state().Head, f.served.Load(), time.Now()
		n, err := f.catchUpCompany(500)
		if err == nil && n == 0 {
			n, err = f.indexCompany(500)
		}
		if err == nil && n == 0 {
			n, err = f.compact(5000)
		}
		if err != nil {
			f.log.Error("company views", "err", err)
			n = 1 // and pause below
		}
		if n == 0 {
			select {
			case <-ctx.Done():
			case <-moved:
			case <-changed:
			}
			continue
		}
		if f.state().Head != head || f.served.Load() != served {
			select {
			case <-ctx.Done():
			case <-time.After(companyPause * time.Since(start)):
			}
		}
	}
}

// companyPause is how long the company loop pauses after a step while
// commits arrive or nodes are served, in steps: 3 leaves it a quarter of
// a CPU, as the projection has while pushes arrive. The company views
// serve snapshots only — a new node when the log no longer reaches back —
// which may be at an older position (the node replays the rest); the
// member's commit path, its projection and the Pulls of catching-up nodes
// come first.
const companyPause = 3

// projectAll brings the projection up to the head (tests, and reads that
// must see everything committed).
func (f *fsm) projectAll() error {
	for {
		n, err := f.project(2000)
		if err != nil || n == 0 {
			return err
		}
	}
}

// Projected returns the position the projection reflects.
func (f *fsm) Projected() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	pos, _, _ := f.proj.position()
	return pos
}

// WaitProjected returns once the projection reflects position pos, or ctx
// ends: what a page or RPC that must see a write waits for.
func (f *fsm) WaitProjected(ctx context.Context, pos uint64) error {
	for {
		f.mu.RLock()
		at, _, ch := f.proj.position()
		f.mu.RUnlock()
		if at >= pos {
			return nil
		}
		select {
		case <-ch:
		case <-f.Changed(): // a restore replaces the projection
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// migrateState brings the state of a release before the log-first hub up
// to date: the committed seqs move out of the views' bookkeeping, and the
// views, which were applied on the commit path with a digest of their
// content, are dropped and projected again from the global log (which
// holds every event), this time with event digests.
func migrateState(db *pebble.DB, st headState, log *slog.Logger) error {
	if st.Head == 0 {
		return nil
	}
	tx := pebbleTx{r: db}
	has := func(prefix []byte) (bool, error) {
		found := false
		err := tx.Scan(prefix, nil, func(_, _ []byte) (bool, error) { found = true; return false, nil })
		return found, err
	}
	hasSeqs, err := has(seqPrefix)
	if err != nil {
		return err
	}
	hasEvents, err := has(replication.Prefix("m", "events"))
	if err != nil || hasEvents {
		return err
	}
	b := db.NewBatch()
	defer b.Close()
	if !hasSeqs {
		applied := replication.Prefix("a")
		err := tx.Scan(applied, nil, func(k, v []byte) (bool, error) {
			return true, b.Set(append(bytes.Clone(seqPrefix), k[len(applied):]...), v, nil)
		})
		if err != nil {
			return err
		}
	}
	for _, p := range [][]byte{replication.ViewPrefix, replication.Prefix("a"), replication.Prefix("p"), replication.Prefix("bad"), replication.Prefix("m")} {
		if err := b.DeleteRange(p, replication.PrefixEnd(p), nil); err != nil {
			return err
		}
	}
	if err := b.Delete(projKey, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	log.Info("state of an older release migrated: the views are projected again from the global log", "head", st.Head)
	return nil
}

// buildDecisionViews applies the decision kinds of the whole global log
// to the decision views: once, for a state of the release before them.
func (f *fsm) buildDecisionViews() error {
	var pos uint64
	for {
		b := f.db.NewIndexedBatch()
		tx := pebbleTx{r: b, b: b}
		vb := f.dec.Begin(replication.WithPrefix(tx, decPrefix))
		n := 0
		err := pebbleTx{r: f.db}.Scan(logPrefix, posKey(pos+1), func(_, v []byte) (bool, error) {
			var c replicationv1.Committed
			if err := proto.Unmarshal(v, &c); err != nil {
				return false, err
			}
			pos = c.GetPosition()
			n++
			if f.decisive(c.GetEvent().GetKind()) {
				if _, err := vb.Apply(replication.FromProto(c.GetEvent())); err != nil {
					return false, err
				}
			}
			return n < 5000, nil
		})
		if err == nil {
			err = vb.Finish()
		}
		if err == nil {
			err = b.Commit(pebble.NoSync)
		}
		b.Close()
		if err != nil {
			return err
		}
		vb.Commit()
		if n == 0 {
			return nil
		}
	}
}
