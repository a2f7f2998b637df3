package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// rebuildProgress is what the syncer reports of a running rebuild.
type rebuildProgress struct {
	running        bool
	reason         string
	position, head uint64
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
		s.rebuilt = rebuildProgress{}
		s.mu.Unlock()
		if err != nil {
			s.fail("rebuild views", err)
			bo.wait(ctx)
			continue
		}
		bo.reset()
	}
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
	cursor, cursorMs := rb.Cursor, rb.CursorMs
	s.mu.Lock()
	s.rebuilt = rebuildProgress{running: true, reason: reason, position: cursor}
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(s.heartbeat, cancel)
	defer watchdog.Stop()
	member := rand.N(len(s.clients))
	// From the start without held scopes, the hub serves the node's scopes
	// from their beginning; a resumed rebuild holds those it was pulling.
	stream, err := s.clients[member].Pull(ctx, connect.NewRequest(&replicationv1.PullRequest{
		Protocol: replication.Protocol, Cursor: cursor, Held: rb.Scopes}))
	if err != nil {
		return err
	}
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
			// The node's scopes changed while the rebuild was cut: what it
			// pulled is of the old ones. Start again.
			abort = true
			return errors.New("the node's scopes changed during the rebuild: starting it again")
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
		s.rebuilt.position, s.rebuilt.head = cursor, msg.GetHead()
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
	if err := rb.CatchUpOwn(); err != nil {
		return fmt.Errorf("apply own events: %w", err)
	}
	if err := rb.IndexAll(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := rb.Swap(ctx, cursor, cursorMs, scopes); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	done = true
	return nil
}
