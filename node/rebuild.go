package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/dgraph-io/badger/v4"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// RebuildReason says why the store's views must be rebuilt from the hub
// ("" when they need not be).
func (s *Store) RebuildReason() string {
	var why string
	_ = s.db.View(func(txn *badger.Txn) error {
		b, err := badgerTx{txn}.Get(rebuildKey)
		why = string(b)
		return err
	})
	return why
}

// RebuildProgress is what the syncer reports of a running rebuild.
type RebuildProgress struct {
	Running        bool
	Reason         string
	Position, Head uint64
	// Phase is the step: "snapshot", "history", "log", "swap".
	Phase string
	// SnapshotPos is the snapshot's global position; SnapshotPairs of
	// SnapshotTotal keys are installed.
	SnapshotPos, SnapshotPairs, SnapshotTotal uint64
}

// rebuildLoop rebuilds the node's views from the hub whenever the store
// says they must be (see Store.Restamp), retrying with backoff. The node
// keeps serving its current views meanwhile.
func (s *syncer) rebuildLoop(ctx context.Context) {
	var bo backoff
	for ctx.Err() == nil {
		reason := s.store.RebuildReason()
		if reason == "" {
			select {
			case <-ctx.Done():
				return
			case <-s.rebuildNow:
			}
			continue
		}
		s.log.Warn("rebuilding the views from the hub", "reason", reason)
		err := s.rebuild(ctx, reason)
		s.mu.Lock()
		s.rebuilt = RebuildProgress{}
		s.mu.Unlock()
		if err != nil {
			s.fail("rebuild views", err)
			bo.wait(ctx)
			continue
		}
		bo.reset()
	}
}

// snapshotWorth says whether a rebuild from nothing starts from a snapshot:
// when one is under way, or the hub's log is long enough for it to be
// quicker than a replay.
func (s *syncer) snapshotWorth(ctx context.Context, rb *Rebuild) bool {
	if rb.snap != nil {
		return true
	}
	if s.snapshotAbove == NoSnapshotByLength {
		return false // only when the log no longer reaches back
	}
	ctx, cancel := context.WithTimeout(ctx, s.heartbeat)
	defer cancel()
	resp, err := s.emptyPush(ctx)
	return err == nil && resp.GetHead() >= s.snapshotAbove
}

// rebuild pulls the hub's whole log (of the node's scopes), the node's own
// events included, into a new generation of the views, adds the own events
// the hub does not hold yet and swaps to it. The generation records how
// far it got with its events: a rebuild cut by a WAN outage or a restart
// goes on from there.
func (s *syncer) rebuild(ctx context.Context, reason string) error {
	rb, err := s.store.BeginRebuild()
	if err != nil {
		return err
	}
	done, abort := false, false
	defer func() {
		switch {
		case done:
		case abort:
			if err := rb.Abort(); err != nil {
				s.log.Warn("abort rebuild", "err", err)
			}
		default:
			rb.Pause()
		}
	}()
	s.mu.Lock()
	s.rebuilt = RebuildProgress{Running: true, Reason: reason, Position: rb.Cursor}
	s.mu.Unlock()
	member := rand.N(len(s.clients))
	if rb.Cursor == 0 && !rb.companyOnly && (s.snapshotWorth(ctx, rb) || strings.HasPrefix(reason, retentionPrefix) || s.mustSnapshot.Load()) {
		// From nothing: the company views from a snapshot, rather than
		// every event since the company began.
		err := s.installSnapshot(ctx, rb, member)
		switch {
		case errors.Is(err, errNoSnapshot):
			s.log.Warn("no snapshot from the hub: replaying its log instead", "err", err)
		case err != nil:
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	cursor, cursorMs := rb.Cursor, rb.CursorMs

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(s.heartbeat, cancel)
	defer watchdog.Stop()
	// From the start without held scopes, the hub serves the node's scopes
	// from their beginning; a resumed rebuild holds those it was pulling;
	// after a snapshot, the company scope alone is held ([""]), and the hub
	// sends the history of the node's scopes up to the snapshot first.
	req := &replicationv1.PullRequest{Protocol: replication.Protocol, Cursor: cursor, Held: rb.Scopes}
	phase := "log"
	if rb.companyOnly {
		req.Held, req.Gaining, req.GainedTo = []string{""}, rb.Gaining, rb.GainedTo
		phase = "history"
	}
	s.mu.Lock()
	s.rebuilt.Phase, s.rebuilt.Position = phase, cursor
	s.mu.Unlock()
	stream, err := s.clients[member].Pull(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer func() {
		if behindRetention(stream.Err()) != "" && !rb.companyOnly {
			// A replay from the start, or of a rebuild cut before the
			// hub moved its retention point: only a snapshot will do.
			s.mustSnapshot.Store(true)
			abort = true
		}
	}()
	defer stream.Close()
	var scopes *Scopes
	if len(rb.Scopes) > 0 {
		scopes = &Scopes{Held: rb.Scopes}
	}
	for stream.Receive() {
		watchdog.Reset(s.heartbeat)
		msg := stream.Msg()
		if err := replication.ProtocolError("node", "hub "+s.urls[member], msg.GetProtocol()); err != nil {
			return err
		}
		if len(msg.GetGaining()) > 0 || msg.GetGained() {
			if !rb.companyOnly {
				// The node's scopes changed while the rebuild was cut: what
				// it pulled is of the old ones. Start again.
				abort = true
				return errors.New("the node's scopes changed during the rebuild: starting it again")
			}
			// The history of the node's scopes up to the snapshot.
			var gained []string
			if msg.GetGained() {
				gained = msg.GetScopes()
				if gained == nil {
					gained = []string{}
				}
			}
			evs := make([]*replication.Event, len(msg.GetEvents()))
			for i, c := range msg.GetEvents() {
				evs[i] = replication.FromProto(c.GetEvent())
			}
			if err := rb.applyHistory(evs, msg.GetGaining(), msg.GetGainedTo(), gained); err != nil {
				return fmt.Errorf("apply history: %w", err)
			}
			if gained != nil {
				scopes = &Scopes{Held: gained}
				s.mu.Lock()
				s.rebuilt.Phase = "log"
				s.mu.Unlock()
			}
			continue
		}
		if rb.companyOnly && msg.GetPosition() > cursor {
			return errors.New("the hub sent events past the snapshot before the history of the node's scopes")
		}
		if len(msg.GetScopes()) > 0 {
			rb.Scopes = msg.GetScopes()
			scopes = &Scopes{Held: msg.GetScopes()}
		}
		evs := make([]*replication.Event, len(msg.GetEvents()))
		for i, c := range msg.GetEvents() {
			evs[i] = replication.FromProto(c.GetEvent())
		}
		for i, j := range chunks(msg) {
			pos, ms := chunkEnd(msg, j)
			if pos <= cursor {
				pos, ms = 0, 0 // a heartbeat: nothing to record
			}
			if err := rb.apply(evs[i:j], followedIn(msg, i, j), pos, ms); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			if pos > 0 {
				cursor, cursorMs = pos, ms
			}
		}
		s.mu.Lock()
		s.rebuilt.Position, s.rebuilt.Head = cursor, msg.GetHead()
		s.mu.Unlock()
		if cursor >= msg.GetHead() {
			break
		}
	}
	if err := stream.Err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("pull stream silent for longer than the heartbeat")
	}
	s.mu.Lock()
	s.rebuilt.Phase = "swap"
	s.mu.Unlock()
	if err := rb.CatchUpOwn(); err != nil {
		return fmt.Errorf("apply own events: %w", err)
	}
	// A node that serves older views keeps them until the new ones index
	// everything; one with none serves as soon as searches and screen
	// pops work, and builds its lists behind.
	if err := rb.IndexAll(s.store.Progress().Cursor != 0); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := rb.Swap(ctx, cursor, cursorMs, scopes); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	done = true
	s.mustSnapshot.Store(false)
	return nil
}
