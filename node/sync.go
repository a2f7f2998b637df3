package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/replication"
	"branchline/rpc"
	"branchline/version"
)

// syncer ships the node's own events to the hub and applies what the hub
// committed. Push and pull run independently, each retrying with
// exponential backoff and jitter and moving on to the next hub member after
// a failure; neither ever blocks local work.
type syncer struct {
	store   *Store
	clients []replicationv1connect.ReplicationServiceClient
	urls    []string
	log     *slog.Logger

	// heartbeat is how long a Pull stream may stay silent before the node
	// gives up on it; hub members send a heartbeat more often.
	heartbeat time.Duration

	// pulled, when set, is told of each slice of pulled events once it is
	// durable, for live pages (a courier acting from another node).
	pulled func(ctx context.Context, evs []*replication.Event)

	mu         sync.Mutex
	lastPush   time.Time
	lastPull   time.Time
	pushURL    string
	caughtUp   bool
	caughtUpAt time.Time
	lastErr    string
	offset     time.Duration   // this node's wall clock minus the hub's
	stuck      string          // why the hub refuses the outbox, if it does
	rebuilt    RebuildProgress // progress of a rebuild of the views

	// rebuildNow wakes the rebuild loop when the store asks for a rebuild.
	rebuildNow chan struct{}
	// snapshotAbove is the log length from which a rebuild from nothing
	// starts from a snapshot (bootstrap.go); mustSnapshot is set once the
	// hub refused a replay for its retention.
	snapshotAbove uint64
	mustSnapshot  atomic.Bool
}

func newSyncer(store *Store, urls []string, token string, hc *http.Client, log *slog.Logger) *syncer {
	s := &syncer{store: store, urls: urls, log: log, heartbeat: 10 * time.Second, rebuildNow: make(chan struct{}, 1), snapshotAbove: DefaultSnapshotAbove}
	for _, u := range urls {
		s.clients = append(s.clients, replicationv1connect.NewReplicationServiceClient(hc, u,
			rpc.WithBearer(token), rpc.ZstdClient(), connect.WithSendMaxBytes(replication.MaxBatchBytes+(1<<20)),
			connect.WithReadMaxBytes(replication.MaxBatchBytes+(1<<20))))
	}
	return s
}

// emptyPush sends an empty Push, trying each member until one answers or
// ctx ends: it tells the node's durable seq and the hub's head.
func (s *syncer) emptyPush(ctx context.Context) (*replicationv1.PushResponse, error) {
	var bo backoff
	for i := 0; ; i++ {
		resp, err := s.clients[i%len(s.clients)].Push(ctx, connect.NewRequest(&replicationv1.PushRequest{
			Protocol: replication.Protocol, SentMs: s.store.Clock().Wall().UnixMilli(), Version: version.String(),
		}))
		if err == nil {
			return resp.Msg, nil
		}
		if connect.CodeOf(err) == connect.CodePermissionDenied || connect.CodeOf(err) == connect.CodeUnauthenticated || ctx.Err() != nil {
			return nil, err
		}
		bo.wait(ctx)
	}
}

func (s *syncer) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.pushLoop(ctx) }()
	go func() { defer wg.Done(); s.pullLoop(ctx) }()
	go func() { defer wg.Done(); s.rebuildLoop(ctx) }()
	wg.Wait()
}

// backoff is exponential with full jitter, from 100 ms to 15 s.
type backoff struct{ n int }

func (b *backoff) reset() { b.n = 0 }

func (b *backoff) wait(ctx context.Context) {
	ceil := min(100*time.Millisecond<<min(b.n, 8), 15*time.Second)
	b.n++
	d := ceil/2 + rand.N(ceil/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// pushLoop sends own events after the hub's durable mark, oldest first.
func (s *syncer) pushLoop(ctx context.Context) {
	var bo backoff
	member := rand.N(len(s.clients))
	// upTo, when not 0, is the last seq the next push may carry: the hub
	// refused a later one for its clock stamp, and the events before it
	// go first.
	var upTo uint64
	for ctx.Err() == nil {
		committed := s.store.Committed()
		p := s.store.Progress()
		if p.Pushed >= p.LastSeq {
			select {
			case <-committed:
			case <-ctx.Done():
			}
			continue
		}
		failed, err := s.pushRound(ctx, member, &upTo)
		switch {
		case err != nil:
			s.fail("push", err)
			bo.wait(ctx)
			continue
		case failed == nil:
			bo.reset()
			continue
		}
		if r, ok := clockRefused(failed.err); ok {
			upTo = s.clockRefused(ctx, r, failed.evs)
			bo.wait(ctx)
			continue
		}
		if durable, ok := gapDurable(failed.err); ok {
			// The hub holds less than this node thought: resend from there.
			s.log.Warn("hub asks to resend", "from", durable+1)
			s.store.resetPushed(durable)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.fail("push to "+s.urls[member], failed.err)
		member = (member + 1) % len(s.clients)
		bo.wait(ctx)
	}
}

// pushWindow is how many batches of its outbox a node keeps in flight to
// the hub: a branch reconnecting with a long outbox is held by what the
// hub can commit, not by one Raft round trip per batch. The hub proposes
// a node's batches in seq order (hub/pushorder.go) and commits a batch
// only if it follows what it holds of the node, so a batch after one that
// failed commits nothing and is sent again.
const pushWindow = 4

// flight is a batch pushed and its answer, once done is closed.
type flight struct {
	evs  []*replication.Event
	resp *replicationv1.PushResponse
	err  error
	done chan struct{}
}

// pushRound pushes the outbox from what the hub acknowledged, up to
// pushWindow batches in flight (one while upTo holds a clock refusal
// back), and records the acknowledgements in order. It returns once the
// hub acknowledged everything made, or the first batch that failed (the
// ones after it cancelled), or an error of this node's own (reading its
// outbox, recording a push).
func (s *syncer) pushRound(ctx context.Context, member int, upTo *uint64) (*flight, error) {
	ctx, cancel := context.WithCancel(ctx)
	var line []*flight
	defer func() {
		cancel()
		for _, f := range line {
			<-f.done // no push outlives the round
		}
	}()
	sent := s.store.Progress().Pushed
	for {
		p := s.store.Progress()
		for sent < p.LastSeq && (len(line) == 0 || (len(line) < pushWindow && *upTo == 0)) {
			limit := replication.MaxBatchEvents
			if *upTo > sent {
				limit = int(min(*upTo-sent, uint64(limit)))
			}
			evs, err := s.store.Outbox(sent, limit, replication.MaxBatchBytes)
			if err != nil {
				return nil, fmt.Errorf("read outbox: %w", err)
			}
			if len(evs) == 0 {
				break
			}
			line = append(line, s.push(ctx, member, evs, p.LastSeq))
			sent = evs[len(evs)-1].Seq
		}
		if len(line) == 0 {
			return nil, nil
		}
		f := line[0]
		<-f.done
		line = line[1:]
		if f.err != nil {
			return f, nil
		}
		durable := f.resp.GetDurableSeq()
		if err := s.store.SetPushed(durable); err != nil {
			return nil, fmt.Errorf("record push: %w", err)
		}
		s.mu.Lock()
		s.lastPush, s.pushURL, s.stuck = time.Now(), s.urls[member], ""
		s.mu.Unlock()
		if *upTo != 0 && durable >= *upTo {
			*upTo = 0
		}
		if durable < f.evs[len(f.evs)-1].Seq {
			// The hub holds less than was sent (never expected): the
			// batches in flight would not follow; start again from there.
			return nil, nil
		}
	}
}

// push sends a batch of the outbox in a goroutine of its own.
func (s *syncer) push(ctx context.Context, member int, evs []*replication.Event, lastSeq uint64) *flight {
	f := &flight{evs: evs, done: make(chan struct{})}
	req := &replicationv1.PushRequest{
		Events: make([]*replicationv1.Event, len(evs)), LastSeq: lastSeq,
		Protocol: replication.Protocol, SentMs: s.store.Clock().Wall().UnixMilli(), Version: version.String(),
	}
	for i, ev := range evs {
		req.Events[i] = ev.ToProto()
	}
	go func() {
		defer close(f.done)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		resp, err := s.clients[member].Push(ctx, connect.NewRequest(req))
		if err == nil {
			f.resp = resp.Msg
			err = replication.ProtocolError("node", "hub "+s.urls[member], resp.Msg.GetProtocol())
		}
		f.err = err
	}()
	return f
}

// refusal is the hub's answer to a push it refused for a clock stamp.
type refusal struct {
	durable uint64 // highest seq the hub holds
	seq     uint64 // the first event it refused
	hubMs   int64  // the hub's clock then
}

func clockRefused(err error) (refusal, bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition {
		return refusal{}, false
	}
	seq, err1 := strconv.ParseUint(ce.Meta().Get(replication.ClockRefusedHeader), 10, 64)
	durable, err2 := strconv.ParseUint(ce.Meta().Get(replication.GapHeader), 10, 64)
	hubMs, _ := strconv.ParseInt(ce.Meta().Get(replication.HubTimeHeader), 10, 64)
	if err1 != nil || err2 != nil || seq == 0 {
		return refusal{}, false
	}
	return refusal{durable: durable, seq: seq, hubMs: hubMs}, true
}

// clockRefused handles a push the hub refused because an event is stamped
// beyond its max clock offset, and returns the last seq the next push may
// carry. Events before the refused one go first. The refused event itself
// stays in the outbox (seqs stay gapless) and is sent, alone, until the
// hub accepts it: once this node's wall clock is right, its stamp falls
// within the bound. If the stamp is beyond even this node's own bound, the
// wall clock is not to blame: the node's clock had followed a poisoned
// stamp before this release bounded it, and the unpushed events are
// stamped afresh (the hub has never held them).
func (s *syncer) clockRefused(ctx context.Context, r refusal, sent []*replication.Event) uint64 {
	s.store.resetPushed(r.durable)
	if r.seq > r.durable+1 {
		return r.seq - 1
	}
	var stamp replication.HLC
	for _, ev := range sent {
		if ev.Seq == r.seq {
			stamp = ev.HLC
		}
	}
	if stamp > s.store.Clock().Bound() {
		n, err := s.store.Restamp(ctx, r.durable)
		if err != nil {
			s.fail("restamp events the hub refuses", err)
		} else {
			s.log.Warn("own events stamped beyond the max clock offset by a clock that had followed a poisoned stamp: stamped afresh",
				"events", n, "from_seq", r.seq)
			select {
			case s.rebuildNow <- struct{}{}:
			default:
			}
		}
		return 0
	}
	why := fmt.Sprintf("the hub refuses event %d: stamped %s, more than the max clock offset ahead of the hub's clock (%s); "+
		"this computer's clock is ahead: set it right and the events are sent by themselves",
		r.seq, stamp, time.UnixMilli(r.hubMs).UTC().Format(time.RFC3339))
	s.mu.Lock()
	s.stuck = why
	if r.hubMs > 0 {
		s.offset = s.store.Clock().Wall().Sub(time.UnixMilli(r.hubMs))
	}
	s.mu.Unlock()
	s.fail("push", errors.New(why))
	return r.seq
}

// clockOffset is this node's wall clock minus the hub's, as last measured.
func (s *syncer) clockOffset() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

func gapDurable(err error) (uint64, bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition {
		return 0, false
	}
	v := ce.Meta().Get(replication.GapHeader)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

func (s *syncer) fail(what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.mu.Lock()
	s.lastErr = fmt.Sprintf("%s: %v", what, err)
	s.mu.Unlock()
	s.log.Warn("sync", "op", what, "err", err)
}

// pullLoop applies committed events from the hub, resuming at the cursor
// stored with the views.
func (s *syncer) pullLoop(ctx context.Context) {
	var bo backoff
	member := rand.N(len(s.clients))
	for ctx.Err() == nil {
		if reason := s.store.RebuildReason(); reason != "" && (s.store.Progress().Cursor == 0 || strings.HasPrefix(reason, retentionPrefix)) {
			// The views served are empty and being rebuilt beside (a new
			// node's bootstrap, a lost store's restore): pulling the log
			// into them too would only slow the rebuild down. Or the hub
			// cannot serve them from their cursor (retention): they are
			// served as they are until the rebuilt ones replace them.
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		got, err := s.pullOnce(ctx, member)
		if got {
			bo.reset()
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errPullAgain) {
			continue
		}
		if retained := behindRetention(err); retained != "" {
			s.log.Warn("the hub's log no longer reaches back to this node's cursor: taking a snapshot of the company's data while serving the views as they are", "retained", retained)
			if err := s.store.BehindRetention(retained); err != nil {
				s.fail("record the rebuild", err)
			}
			select {
			case s.rebuildNow <- struct{}{}:
			default:
			}
		}
		s.fail("pull from "+s.urls[member], err)
		s.mu.Lock()
		s.caughtUp = false
		s.mu.Unlock()
		member = (member + 1) % len(s.clients)
		bo.wait(ctx)
	}
}

// behindRetention returns the hub's retention point when err refuses a
// Pull from before it ("" otherwise).
func behindRetention(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeFailedPrecondition {
		return ce.Meta().Get(replication.BehindRetentionHeader)
	}
	return ""
}

// errPullAgain ends a Pull stream the hub asked to start again (the node
// gains a scope).
var errPullAgain = errors.New("the hub asks to pull again")

// pullOnce runs one Pull stream until it fails or stays silent longer than
// the heartbeat. got says whether anything arrived.
func (s *syncer) pullOnce(ctx context.Context, member int) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(s.heartbeat, cancel)
	defer watchdog.Stop()

	gen := s.store.Generation()
	cursor := s.store.Progress().Cursor
	sc := s.store.Scopes()
	stream, err := s.clients[member].Pull(ctx, connect.NewRequest(&replicationv1.PullRequest{
		Cursor: cursor, ExcludeOwn: true, LastSeq: s.store.Progress().LastSeq, Protocol: replication.Protocol,
		Held: sc.Held, Gaining: sc.Gaining, GainedTo: sc.GainedTo, Dormant: dormantMarks(sc.Dormant),
	}))
	if err != nil {
		return false, err
	}
	defer stream.Close()
	for stream.Receive() {
		watchdog.Reset(s.heartbeat)
		got = true
		msg := stream.Msg()
		if err := replication.ProtocolError("node", "hub "+s.urls[member], msg.GetProtocol()); err != nil {
			return got, err
		}
		if len(msg.GetEvents()) == 0 && msg.GetHubTimeMs() > 0 {
			// A heartbeat is sent when it is due, not queued behind
			// events: the best moment to read the hub's clock.
			s.mu.Lock()
			s.offset = s.store.Clock().Wall().Sub(time.UnixMilli(msg.GetHubTimeMs()))
			s.mu.Unlock()
		}
		evs := make([]*replication.Event, len(msg.GetEvents()))
		for i, c := range msg.GetEvents() {
			evs[i] = replication.FromProto(c.GetEvent())
		}
		switch {
		case len(msg.GetGaining()) > 0 || msg.GetGained():
			// History of scopes the node gains: the cursor stays.
			next := Scopes{Held: sc.Held, Gaining: msg.GetGaining(), GainedTo: msg.GetGainedTo(), Dormant: sc.Dormant}
			if msg.GetGained() {
				next = sc.served(msg.GetScopes(), cursor)
				s.log.Info("scopes gained", "scopes", next.Held)
			}
			if err := s.store.applyPulled(ctx, gen, pulledBatch{events: evs, history: true, scopes: &next}); err != nil {
				return got, fmt.Errorf("apply pulled history: %w", err)
			}
			sc = next
		case msg.GetPosition() > cursor:
			var next *Scopes
			if len(msg.GetScopes()) > 0 && !slices.Equal(msg.GetScopes(), sc.Held) {
				n := sc.served(msg.GetScopes(), cursor)
				next, sc = &n, n
			}
			if err := s.apply(ctx, gen, msg, evs, next); err != nil {
				return got, err
			}
			cursor = msg.GetPosition()
		case len(msg.GetScopes()) > 0 && !slices.Equal(msg.GetScopes(), sc.Held):
			// The hub serves other scopes from here (a heartbeat says so).
			next := sc.served(msg.GetScopes(), cursor)
			if err := s.store.applyPulled(ctx, gen, pulledBatch{scopes: &next}); err != nil {
				return got, fmt.Errorf("record scopes: %w", err)
			}
			sc = next
		}
		now := time.Now()
		s.mu.Lock()
		s.lastPull = now
		s.caughtUp = cursor >= msg.GetHead()
		if s.caughtUp {
			s.caughtUpAt = now
		}
		s.mu.Unlock()
		if msg.GetAgain() {
			return got, errPullAgain
		}
	}
	if err := stream.Err(); err != nil {
		return got, err
	}
	if ctx.Err() != nil {
		return got, errors.New("pull stream silent for longer than the heartbeat")
	}
	return got, errors.New("pull stream ended")
}

// applyChunk is how many pulled events go into one store transaction. A
// Pull message may hold MaxBatchEvents events, and a customer event writes
// dozens of view keys (fields, search index, timeline): all of a message
// at once can exceed what one Badger transaction takes, and a message that
// can never be applied would stop the node's pulling for good.
const applyChunk = 200

// apply stores a Pull message's events in slices of applyChunk, each with
// the position of its last event as the cursor, so that every slice is
// durable on its own and a restart resumes after the last one applied.
// A message with an entity's history (Followed) is applied whole: its
// events and the one they lead to must be durable together. scopes, when
// set, is the node's new scope state, recorded with the first slice.
func (s *syncer) apply(ctx context.Context, gen uint64, msg *replicationv1.PullResponse, evs []*replication.Event, scopes *Scopes) error {
	for i, j := range chunks(msg) {
		pos, ms := chunkEnd(msg, j)
		if err := s.store.applyPulled(ctx, gen, pulledBatch{events: evs[i:j], pos: pos, posMs: ms, followed: followedIn(msg, i, j), scopes: scopes}); err != nil {
			return fmt.Errorf("apply pulled events: %w", err)
		}
		scopes = nil
		if s.pulled != nil && j > i {
			s.pulled(ctx, evs[i:j])
		}
	}
	return nil
}

// dormantMarks are the dormant scopes as a Pull request carries them.
func dormantMarks(d map[string]uint64) []*replicationv1.ScopeMark {
	var out []*replicationv1.ScopeMark
	for _, s := range slices.Sorted(maps.Keys(d)) {
		out = append(out, &replicationv1.ScopeMark{Scope: s, Position: d[s]})
	}
	return out
}

// chunks yields the slices [i, j) of a Pull message's events applied in
// one transaction each: applyChunk events, or the whole message when it
// carries an entity's history. A message without events yields one empty
// slice, which still moves the cursor.
func chunks(msg *replicationv1.PullResponse) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		n := len(msg.GetEvents())
		step := applyChunk
		if len(msg.GetFollowed()) > 0 {
			step = max(n, 1)
		}
		for i := 0; ; i += step {
			j := min(n, i+step)
			if !yield(i, j) || j >= n {
				return
			}
		}
	}
}

// chunkEnd is the cursor after the message's events up to j, and its
// commit time: the last event's, or the message's own position after the
// last slice (the head's time when it carries no event).
func chunkEnd(msg *replicationv1.PullResponse, j int) (uint64, int64) {
	pos, ms := msg.GetPosition(), msg.GetHeadTimeMs()
	if j > 0 {
		last := msg.GetEvents()[j-1]
		ms = last.GetCommitTimeMs()
		if j < len(msg.GetEvents()) {
			pos = last.GetPosition()
		}
	}
	return pos, ms
}

// followedIn returns which of the message's events in [i, j), by index
// from i, are an entity's history.
func followedIn(msg *replicationv1.PullResponse, i, j int) map[int]bool {
	if len(msg.GetFollowed()) == 0 {
		return nil
	}
	out := map[int]bool{}
	for k, c := range msg.GetEvents()[i:j] {
		if slices.Contains(msg.GetFollowed(), c.GetPosition()) {
			out[k] = true
		}
	}
	return out
}

// syncStatus is the syncer's view of the link, for Status and metrics.
type syncStatus struct {
	LastPush, LastPull time.Time
	PushURL, LastErr   string
	Lag                time.Duration
}

func (s *syncer) status(now time.Time) syncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := syncStatus{LastPush: s.lastPush, LastPull: s.lastPull, PushURL: s.pushURL, LastErr: s.lastErr}
	switch {
	case s.caughtUp && now.Sub(s.lastPull) < s.heartbeat:
		st.Lag = 0
	case !s.caughtUpAt.IsZero():
		st.Lag = now.Sub(s.caughtUpAt)
	default:
		// Never caught up since start: as old as the last event applied.
		if ms := s.store.Progress().CursorMs; ms > 0 {
			st.Lag = now.Sub(time.UnixMilli(ms))
		}
	}
	return st
}
