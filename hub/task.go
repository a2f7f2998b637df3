package hub

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"

	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// Task is a decision the hub itself makes, such as granting branches their
// shares of a warehouse's stock: it reads the views and returns the events
// to record, which are committed with origin replication.HubOrigin and
// actor "hub" and reach every node like any other event. A task must be
// deterministic — the same views and now give the same drafts — because
// every member runs it inside the state machine at the same log entry.
type Task = replication.HubTask

// HubActor is the actor of the events hub tasks make.
const HubActor = "hub"

// applyTask runs task name against the views as of this entry and commits
// its events. Deciding here, not on the proposer, means that two entries
// proposed by successive leaders from the same stale view cannot both
// act on it: the second sees what the first did.
func (f *fsm) applyTask(s *step, name string) (any, error) {
	task, ok := f.tasks[name]
	if !ok || !f.isActive("task:"+name) {
		// Deterministic: the cluster version is part of the state, and a
		// task is active only once every member knows it.
		return errRejected{connect.CodeInvalidArgument, fmt.Sprintf("hub task %q is not active in this cluster", name)}, nil
	}
	drafts, err := task(s.dec.Views(), time.UnixMilli(s.timeMs))
	if err != nil {
		f.log.Warn("hub task refused", "task", name, "err", err)
		return errRejected{0, fmt.Sprintf("hub task %s: %v", name, err)}, nil
	}
	n, bad, err := f.commitHubDrafts(s, drafts, HubActor)
	if err != nil {
		return nil, err
	}
	if bad != nil {
		// A task that makes an event no replica would accept is a bug;
		// refuse the whole entry rather than commit half of it.
		f.log.Error("hub task made a bad event", "task", name, "err", bad)
		return errRejected{connect.CodeInternal, fmt.Sprintf("hub task %s: %v", name, bad)}, nil
	}
	return len(n), nil
}

// applyHubEvents commits events a user made on the hub, with the user as
// actor; if one of them is invalid, none is committed.
func (f *fsm) applyHubEvents(s *step, c *hubv1.CommitEvents) (any, error) {
	drafts := make([]encodedDraft, len(c.GetDrafts()))
	for i, d := range c.GetDrafts() {
		drafts[i] = encodedDraft{kind: d.GetKind(), entity: d.GetEntity(), body: d.GetBody(), scopes: d.GetScopes(), leader: true}
	}
	committed, bad, err := f.commitHubEvents(s, drafts, c.GetActor())
	if err != nil {
		return nil, err
	}
	if bad != nil {
		return errRejected{connect.CodeInvalidArgument, bad.Error()}, nil
	}
	return &hubv1.CommitEventsResult{Events: committed}, nil
}

// Reaction is a decision the hub makes about an event a node pushed, at
// the point of the global log where it is committed (such as taking back
// stock released by a node that does not own the warehouse). Like a Task
// it must be deterministic; it returns no events for most events.
type Reaction = replication.HubReaction

// react runs the reactions on a pushed event just committed, in name
// order. A reaction cannot refuse the push (the node's outbox would be
// stuck behind it); its failures are logged, alike on every member, and
// nothing is made. Only active reactions run, and only on events of an
// active kind: what a member's build alone knows must not decide.
func (f *fsm) react(s *step, ev *replication.Event) error {
	if len(f.reactions) == 0 || !f.isActive(ev.Kind) {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(f.reactions)) {
		if !f.isActive("reaction:" + name) {
			continue
		}
		drafts, err := f.reactions[name](s.dec.Views(), ev)
		if err != nil || len(drafts) == 0 {
			if err != nil {
				f.log.Error("hub reaction failed", "event", ev.String(), "err", err)
			}
			continue
		}
		if _, bad, err := f.commitHubDrafts(s, drafts, HubActor); err != nil {
			return err
		} else if bad != nil {
			f.log.Error("hub reaction made a bad event", "event", ev.String(), "err", bad)
		}
	}
	return nil
}

// encodedDraft is a draft with its body encoded.
type encodedDraft struct {
	kind, entity string
	body         []byte
	// scopes decided by the leader (commands); nil: the state machine
	// decides them from the decision views, once the cluster runs the
	// scope rules (tasks and reactions).
	scopes []string
	leader bool
}

// commitHubDrafts commits drafts as events of the hub (commitHubEvents).
func (f *fsm) commitHubDrafts(s *step, drafts []replication.Draft, actor string) (committed []*replicationv1.Committed, bad, err error) {
	enc := make([]encodedDraft, len(drafts))
	for i, d := range drafts {
		kind, body, err := replication.EncodeDraft(d)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", d.Kind, err), nil
		}
		enc[i] = encodedDraft{kind: kind, entity: d.Entity, body: body}
	}
	return f.commitHubEvents(s, enc, actor)
}

// commitHubEvents commits events of the hub: origin hub, the next seqs,
// the hub's clock moved past its last event, actor as given. If any would
// be refused by a replica, or is of a kind the cluster has not activated
// (bad is set), none is committed.
func (f *fsm) commitHubEvents(s *step, drafts []encodedDraft, actor string) (committed []*replicationv1.Committed, bad, err error) {
	tx := s.tx
	seq := f.seq(s, replication.HubOrigin)
	var last replication.HLC
	if b, err := tx.Get(hubHLCKey); err == nil && len(b) == 8 {
		last = replication.HLC(binary.BigEndian.Uint64(b))
	} else if err != nil && !errors.Is(err, replication.ErrNotFound) {
		return nil, nil, err
	}
	evs := make([]*replicationv1.Event, 0, len(drafts))
	for _, d := range drafts {
		// The hub's clock: the entry's time, moved past the hub's last
		// event so that its events are ordered like any origin's.
		hlc := replication.MakeHLC(s.timeMs, 0)
		if hlc <= last {
			hlc = last + 1
		}
		last = hlc
		seq++
		ev := &replication.Event{Origin: replication.HubOrigin, Seq: seq, HLC: hlc, Kind: d.kind, Entity: d.entity, Actor: actor, Body: d.body, Scopes: d.scopes}
		if !f.isActive(d.kind) {
			return nil, fmt.Errorf("%s: kind %s is not active in this cluster", ev, d.kind), nil
		}
		if !d.leader && f.isActive(ScopeRules) {
			// Decided here, alike on every member: the rules of the hub's
			// own kinds read the event and the decision views only.
			scopes, err := f.reg.Scopes(s.dec.Views(), ev)
			if err != nil {
				return nil, err, nil
			}
			ev.Scopes = scopes
		}
		if err := f.reg.Check(ev); err != nil {
			return nil, fmt.Errorf("%s: %w", ev, err), nil
		}
		evs = append(evs, ev.ToProto())
	}
	for _, e := range evs {
		if err := f.commitEvent(s, e); err != nil {
			return nil, nil, err
		}
		committed = append(committed, &replicationv1.Committed{Position: s.st.Head, CommitTimeMs: s.timeMs, Event: e})
	}
	if len(evs) > 0 {
		if err := tx.Set(hubHLCKey, binary.BigEndian.AppendUint64(nil, uint64(last))); err != nil {
			return nil, nil, err
		}
	}
	return committed, nil, nil
}

// taskLoop runs the hub's tasks every cfg.TaskEvery while this member
// leads. A task is proposed only when a dry run on the leader's views
// makes events, so an idle cluster does not grow its log.
func (h *Hub) taskLoop(ctx context.Context) {
	if len(h.cfg.Tasks) == 0 {
		return
	}
	every := h.cfg.TaskEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	names := make([]string, 0, len(h.cfg.Tasks))
	for n := range h.cfg.Tasks {
		names = append(names, n)
	}
	slices.Sort(names)
	wait := every
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = every
		if h.raft.State() != raft.Leader || !h.initialised() {
			continue
		}
		start := time.Now()
		for _, name := range names {
			if ctx.Err() != nil {
				return
			}
			if !h.taskActive(name) {
				continue
			}
			if err := h.RunTask(name); err != nil {
				h.log.Warn("hub task", "task", name, "err", err)
			}
		}
		// Dry runs read every escrow: at most a tenth of the leader's time.
		wait = max(every, 9*time.Since(start))
	}
}

// RunTask runs hub task name now if a dry run on this member's views
// makes events; it must be called on the leader.
func (h *Hub) RunTask(name string) error {
	task, ok := h.cfg.Tasks[name]
	if !ok {
		return fmt.Errorf("unknown hub task %q", name)
	}
	var n int
	now := time.Now()
	err := h.fsm.read(func(tx replication.Tx) error {
		drafts, err := task(replication.ReadViews(tx), now)
		n = len(drafts)
		return err
	})
	if err != nil || n == 0 {
		return err
	}
	_, err = h.apply(&hubv1.Command{TimeMs: now.UnixMilli(), Op: &hubv1.Command_RunTask{RunTask: &hubv1.RunTask{Name: name}}})
	return err
}

// taskActive reports whether the committed cluster version includes task
// name, so that proposing it is not refused.
func (h *Hub) taskActive(name string) bool {
	active, err := h.fsm.ActiveCapabilities()
	return err == nil && (active == nil || slices.Contains(active, "task:"+name))
}
