package hub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"branchline/auth"
	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/replication"
	"branchline/rpc"
)

// replicationService implements branchline.replication.v1 for nodes.
type replicationService struct{ h *Hub }

var _ replicationv1connect.ReplicationServiceHandler = replicationService{}

// pullHeartbeat is how often an idle Pull stream says it is alive; nodes
// give up on a stream silent for several of these.
const pullHeartbeat = 2 * time.Second

// callingNode returns the id of the node whose token authenticated ctx.
func callingNode(ctx context.Context) (string, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || !p.HasRole(auth.RoleNode) {
		return "", connect.NewError(connect.CodePermissionDenied, errors.New("only nodes replicate: call with the node's token"))
	}
	return p.User, nil
}

// checkBatch refuses, as a whole, a batch with any event that is
// malformed, of an unknown kind, not the caller's, or out of order.
func (s replicationService) checkBatch(node string, evs []*replicationv1.Event) error {
	if len(evs) > replication.MaxBatchEvents {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("batch of %d events exceeds %d", len(evs), replication.MaxBatchEvents))
	}
	for i, e := range evs {
		if e.GetOrigin() != node {
			return connect.NewError(connect.CodePermissionDenied,
				fmt.Errorf("event %d has origin %q: node %s may push only its own events", i, e.GetOrigin(), node))
		}
		ev := replication.FromProto(e)
		if err := ev.ValidateShape(); err != nil {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("event %d: %w", i, err))
		}
		// A kind this member does not know comes from a newer release: it
		// is committed and parked, and checked where it is applied once the
		// cluster knows it (an invalid one is then a no-op, listed). A stamp
		// beyond the year 9999 is refused by the state machine's clock
		// check, with the rest of the batch.
		if s.h.reg.Known(ev.Kind) && ev.HLC <= replication.MaxHLC {
			if err := s.h.reg.Check(ev); err != nil {
				return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("event %d (%s/%d): %w", i, ev.Origin, ev.Seq, err))
			}
		}
		if i > 0 && e.GetSeq() != evs[i-1].GetSeq()+1 {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("event %d: seq %d does not follow %d", i, e.GetSeq(), evs[i-1].GetSeq()))
		}
	}
	return nil
}

// Push commits a node's events through Raft and answers the highest seq of
// that node the hub holds. Only the leader proposes; followers forward the
// call to it (see forward).
func (s replicationService) Push(ctx context.Context, req *connect.Request[replicationv1.PushRequest]) (*connect.Response[replicationv1.PushResponse], error) {
	node, err := callingNode(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	now := time.Now()
	s.h.touch(node, func(c *contact) {
		c.lastSeq = max(c.lastSeq, m.GetLastSeq())
		c.version, c.protocol = m.GetVersion(), m.GetProtocol()
		if m.GetSentMs() > 0 {
			c.offset, c.offsetAt = time.UnixMilli(m.GetSentMs()).Sub(now), now
		}
	})
	if err := replication.ProtocolError("hub", "node "+node, m.GetProtocol()); err != nil {
		s.h.log.Warn("push refused", "node", node, "err", err)
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	evs := req.Msg.GetEvents()
	if err := s.checkBatch(node, evs); err != nil {
		s.h.log.Warn("push refused", "node", node, "err", err)
		return nil, err
	}
	if len(evs) == 0 {
		seq, err := s.h.fsm.DurableSeq(node)
		if err != nil {
			return nil, rpc.Error(s.h.log, err)
		}
		return connect.NewResponse(&replicationv1.PushResponse{DurableSeq: seq, Protocol: replication.Protocol, HubTimeMs: time.Now().UnixMilli(), Head: s.h.fsm.state().Head}), nil
	}
	start := time.Now()
	b, err := s.h.encode(&hubv1.Command{TimeMs: start.UnixMilli(), Op: &hubv1.Command_Push{Push: &hubv1.Push{
		Origin: node, Events: evs, MaxOffsetMs: s.h.cfg.MaxClockOffset.Milliseconds(),
	}}})
	if err != nil {
		return nil, s.h.commandError(err)
	}
	// A node's batches are proposed in seq order (pushOrder), several in
	// flight at once.
	turnDone := s.h.pushes.lineUp(node, evs[0].GetSeq(), evs[len(evs)-1].GetSeq())
	f := s.h.raft.Apply(b, applyTimeout)
	turnDone()
	res, err := s.h.applied(f)
	if err != nil {
		return nil, s.h.commandError(err)
	}
	s.h.commitSec.Observe(time.Since(start).Seconds())
	pr := res.(*hubv1.PushResult)
	if r := pr.GetClockRefusedSeq(); r != 0 {
		stamp := replication.HLC(pr.GetClockRefusedHlc())
		why := fmt.Sprintf("event %d is stamped %s, more than the max clock offset (%s) ahead of the hub's clock: "+
			"the branch computer's clock is ahead (or was, when it made the event)", r, stamp, s.h.cfg.MaxClockOffset)
		s.h.touch(node, func(c *contact) { c.stuck, c.stuckSeq, c.stuckStamp = why, r, stamp })
		s.h.log.Warn("push refused: clock", "node", node, "seq", r, "stamp", stamp.String(), "offset", time.UnixMilli(m.GetSentMs()).Sub(start))
		ce := connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("node %s: %s; nothing of the batch was committed", node, why))
		ce.Meta().Set(replication.ClockRefusedHeader, strconv.FormatUint(r, 10))
		ce.Meta().Set(replication.GapHeader, strconv.FormatUint(pr.GetDurableSeq(), 10))
		ce.Meta().Set(replication.HubTimeHeader, strconv.FormatInt(start.UnixMilli(), 10))
		return nil, ce
	}
	s.h.touch(node, func(c *contact) { c.stuck, c.stuckSeq, c.stuckStamp = "", 0, 0 })
	if pr.GetGap() {
		ce := connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("batch starts at seq %d but the hub holds %s up to %d: resend from %d",
				evs[0].GetSeq(), node, pr.GetDurableSeq(), pr.GetDurableSeq()+1))
		ce.Meta().Set(replication.GapHeader, strconv.FormatUint(pr.GetDurableSeq(), 10))
		return nil, ce
	}
	return connect.NewResponse(&replicationv1.PushResponse{DurableSeq: pr.GetDurableSeq(), Protocol: replication.Protocol, HubTimeMs: time.Now().UnixMilli(), Head: s.h.fsm.state().Head}), nil
}

// Pull streams committed events after the cursor, then live-tails new
// commits, with a heartbeat while idle. Any member serves it from its own
// state, which may trail the leader's by the commits it has yet to apply.
// A caller of the scoped protocol gets the events of its scopes only (see
// scope.go), and first the history of any scope it gains.
func (s replicationService) Pull(ctx context.Context, req *connect.Request[replicationv1.PullRequest], stream *connect.ServerStream[replicationv1.PullResponse]) error {
	node, err := callingNode(ctx)
	if err != nil {
		return err
	}
	if err := replication.ProtocolError("hub", "node "+node, req.Msg.GetProtocol()); err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	sc := &scoping{node: node, kinds: req.Msg.GetKinds(), unscoped: req.Msg.GetProtocol() < ScopedProtocol}
	if req.Msg.GetExcludeOwn() {
		sc.exclude = node
	}
	cursor := req.Msg.GetCursor()
	s.h.touch(node, func(c *contact) { c.lastSeq = max(c.lastSeq, req.Msg.GetLastSeq()) })
	if retained, err := s.h.fsm.Retained(); err != nil {
		return rpc.Error(s.h.log, err)
	} else if cursor < retained {
		// The company-wide events after the cursor are gone: the node
		// takes a snapshot (its own scopes' events are all still here).
		return errBehindRetention(cursor, retained)
	}
	if !sc.unscoped {
		scopes, err := s.h.NodeScopes(node)
		if err != nil {
			return rpc.Error(s.h.log, err)
		}
		held := slices.Sorted(slices.Values(req.Msg.GetHeld()))
		if len(held) == 0 {
			// A new node, or one of an older release that took everything.
			held = scopes
		}
		held = slices.DeleteFunc(held, func(h string) bool { return !slices.Contains(scopes, h) })
		// Scopes gained are sent their history, those held before from
		// where the caller stopped holding them, in groups by that
		// position (each group's history is one scan of the log).
		dormant := map[string]uint64{}
		for _, m := range req.Msg.GetDormant() {
			dormant[m.GetScope()] = m.GetPosition()
		}
		for _, g := range gainGroups(gainingOf(held, scopes), dormant) {
			from := g.from
			if slices.Equal(slices.Sorted(slices.Values(req.Msg.GetGaining())), g.scopes) {
				from = max(from, req.Msg.GetGainedTo())
			}
			after := append(slices.Clone(held), g.scopes...)
			slices.Sort(after)
			if err := s.history(ctx, stream, sc, held, g.scopes, after, from, cursor); err != nil {
				return err
			}
			held = after
		}
		sc.scopes = scopes
	}
	send := func(m *replicationv1.PullResponse) error {
		st := s.h.fsm.state()
		m.Head, m.HeadTimeMs, m.Protocol, m.HubTimeMs, m.Scopes = st.Head, st.HeadMs, replication.Protocol, time.Now().UnixMilli(), sc.scopes
		return stream.Send(m)
	}
	beat := time.NewTimer(0) // the first message says where the hub is
	defer beat.Stop()
	rescope := time.Now().Add(pullHeartbeat)
	for {
		s.h.touch(node, func(c *contact) { c.cursor = cursor })
		if !sc.unscoped && time.Now().After(rescope) {
			// The views may have given the node a scope (a warehouse) or
			// taken one away.
			rescope = time.Now().Add(pullHeartbeat)
			now, err := s.h.NodeScopes(node)
			if err != nil {
				return rpc.Error(s.h.log, err)
			}
			if !slices.Equal(now, sc.scopes) {
				held := slices.DeleteFunc(slices.Clone(sc.scopes), func(h string) bool { return !slices.Contains(now, h) })
				sc.scopes = held
				if len(gainingOf(held, now)) > 0 {
					// The caller gains a scope: tell it what it still holds
					// (a scope lost turns dormant there), then end the stream;
					// it pulls again, with its dormant scopes, and is sent
					// the history of what it gains.
					return send(&replicationv1.PullResponse{Position: cursor, Again: true})
				}
			}
		}
		changed := s.h.fsm.Changed()
		if s.h.fsm.state().Head > cursor {
			b, err := s.next(ctx, sc, cursor, 0, replication.MaxBatchEvents)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			m := eventsResponse(b)
			m.Position = b.pos
			if err := send(m); err != nil {
				return err
			}
			sc.keep(b.wire)
			cursor = b.pos
			beat.Reset(pullHeartbeat)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-beat.C:
			if err := send(&replicationv1.PullResponse{Position: cursor}); err != nil {
				return err
			}
			beat.Reset(pullHeartbeat)
		}
	}
}

// history streams the history of the scopes gaining, from position from
// up to the caller's cursor: the events of those scopes that the scopes
// held did not cover. Each message says how far it got (GainedTo); the
// last says the scopes are gained, and that the caller then holds
// scopes (held and gaining).
func (s replicationService) history(ctx context.Context, stream *connect.ServerStream[replicationv1.PullResponse], sc *scoping,
	held, gaining, scopes []string, from, cursor uint64) error {
	hs := *sc
	hs.history, hs.held, hs.gaining, hs.scopes = true, held, gaining, scopes
	s.h.log.Info("node gains scopes: sending their history", "node", sc.node, "scopes", gaining, "from", from, "to", cursor)
	send := func(m *replicationv1.PullResponse) error {
		st := s.h.fsm.state()
		m.Position, m.Head, m.HeadTimeMs, m.Protocol, m.HubTimeMs, m.Scopes = cursor, st.Head, st.HeadMs, replication.Protocol, time.Now().UnixMilli(), scopes
		m.Gaining = gaining
		return stream.Send(m)
	}
	for pos := from; pos < cursor; {
		b, err := s.next(ctx, &hs, pos, cursor, historyBatch)
		if err != nil {
			return err
		}
		if b.pos == pos {
			break // nothing more up to the cursor
		}
		m := eventsResponse(b)
		m.GainedTo = b.pos
		if err := send(m); err != nil {
			return err
		}
		hs.keep(b.wire)
		pos = b.pos
	}
	return send(&replicationv1.PullResponse{GainedTo: cursor, Gained: true})
}

// next reads the message after position from (up to until, 0: the
// head), waiting for the projection when the next event's entity index
// must be read first.
func (s replicationService) next(ctx context.Context, sc *scoping, from, until uint64, maxEvents int) (batch, error) {
	for {
		b, err := s.h.fsm.readScoped(sc, from, until, maxEvents, replication.MaxBatchBytes)
		if err != nil {
			return b, rpc.Error(s.h.log, err)
		}
		if b.n > 0 || b.waitFor == 0 || b.pos != from {
			if b.n > 0 {
				s.h.fsm.served.Add(1)
			}
			return b, nil
		}
		if err := s.h.fsm.WaitProjected(ctx, b.waitFor); err != nil {
			return b, err
		}
	}
}

// gainGroup is scopes gained whose history starts at from.
type gainGroup struct {
	from   uint64
	scopes []string
}

// gainGroups groups gaining by where each one's history starts: after its
// dormant position, or from the start; in order of that position.
func gainGroups(gaining []string, dormant map[string]uint64) []gainGroup {
	var out []gainGroup
	for _, s := range gaining {
		from := dormant[s]
		i := slices.IndexFunc(out, func(g gainGroup) bool { return g.from == from })
		if i < 0 {
			out = append(out, gainGroup{from: from})
			i = len(out) - 1
		}
		out[i].scopes = append(out[i].scopes, s)
	}
	slices.SortFunc(out, func(a, b gainGroup) int { return cmp.Compare(a.from, b.from) })
	return out
}

// historyBatch bounds a history message: the node applies one in a
// single transaction.
const historyBatch = 200

// contact is what this member last heard from a node. It is kept in
// memory: after a restart the member knows again at the node's next call.
type contact struct {
	at         time.Time
	lastSeq    uint64 // the node's highest seq, as reported
	cursor     uint64 // the position the node has applied, as far as this member streamed it
	offset     time.Duration
	offsetAt   time.Time // when offset (node clock - hub clock) was measured, at a Push
	stuck      string    // why the last push was refused, if it was
	stuckSeq   uint64    // the event refused for its clock stamp
	stuckStamp replication.HLC
	version    string
	protocol   uint32
}

// touch records that node was heard from, updating what update changes.
func (h *Hub) touch(node string, update func(*contact)) {
	h.contactMu.Lock()
	defer h.contactMu.Unlock()
	c := h.contact[node]
	c.at = time.Now()
	if update != nil {
		update(&c)
	}
	h.contact[node] = c
}

func (h *Hub) lastContact(node string) contact {
	h.contactMu.Lock()
	defer h.contactMu.Unlock()
	return h.contact[node]
}

// commandError maps the failure of a proposed command.
func (h *Hub) commandError(err error) error {
	var rej errRejected
	if errors.As(err, &rej) {
		code := connect.CodeFailedPrecondition
		if rej.code != 0 {
			code = rej.code
		}
		return connect.NewError(code, errors.New(rej.msg))
	}
	return rpc.Error(h.log, err)
}
