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
	"google.golang.org/protobuf/proto"

	"branchline/auth"
	adminv1 "branchline/gen/branchline/admin/v1"
	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
	"branchline/rpc"
)

// Retention. The global log would grow forever; the company views
// (projection.go) hold the effect of every company-wide event, and a node
// that needs what they hold takes a snapshot of them (bootstrap.go). So the
// hub drops company-wide events from the log once they are older than the
// rule (Config.RetainEvents: keep the last that many positions) and every
// registered node has applied them — or the operator released the nodes
// that have not (ctl retention --release): a released node behind the
// retention point is refused its Pull and takes a snapshot again, serving
// its old views meanwhile, then pushes its own events as ever.
//
// Events of a scope (a branch's pickups, calls, a warehouse's moves) stay:
// a node that gains a scope, or bootstraps, receives the scope's history
// from the log, and the views of one scope cannot be snapshotted apart
// from the company's (the appliers write both into the same keys).
//
// The point is a committed decision (a Retain command, with the positions
// the leader knew the nodes at); each member drops the events up to it
// once its own projection, and company views, have passed them.
//
//	h \0 retained        the retention point
//	h \0 compacted       how far this member dropped company-wide events
//	np \0 node           the position the log is kept for node
var (
	retainedKey  = replication.Key("h", "retained")
	compactedKey = replication.Key("h", "compacted")
	holdsPrefix  = replication.Prefix("np")
)

// Retention is the capability of applying Retain commands: the leader
// proposes them once every member can.
const Retention = "retain:1"

// retainEvery is how often the leader moves the retention point by the rule.
const retainEvery = 30 * time.Second

func holdsKey(node string) []byte { return replication.Key("np", node) }

func getU64(tx replication.Tx, key []byte) (uint64, error) {
	b, err := tx.Get(key)
	if errors.Is(err, replication.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) < 8 {
		return 0, fmt.Errorf("%q: %d bytes", key, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func putU64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// applyRetain records the nodes' positions (each only moves up) and moves
// the retention point up to r.up_to (never back, never past the head).
func (f *fsm) applyRetain(s *step, r *hubv1.Retain) (any, error) {
	tx := s.tx
	for _, node := range slices.Sorted(maps.Keys(r.GetPositions())) {
		if _, err := tx.Get(replication.Key("n", node)); errors.Is(err, replication.ErrNotFound) {
			continue // removed meanwhile
		}
		cur, err := getU64(tx, holdsKey(node))
		if err != nil {
			return nil, err
		}
		if p := min(r.GetPositions()[node], s.st.Head); p > cur {
			if err := tx.Set(holdsKey(node), putU64(p)); err != nil {
				return nil, err
			}
		}
	}
	cur, err := getU64(tx, retainedKey)
	if err != nil {
		return nil, err
	}
	if up := min(r.GetUpTo(), s.st.Head); up > cur {
		return nil, tx.Set(retainedKey, putU64(up))
	}
	return nil, nil
}

// Retained is the retention point: Pulls from before it are refused.
func (f *fsm) Retained() (uint64, error) {
	var p uint64
	err := f.read(func(tx replication.Tx) error {
		var err error
		p, err = getU64(tx, retainedKey)
		return err
	})
	return p, err
}

// holds returns the position the log is kept for each registered node.
func (f *fsm) holds() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := f.read(func(tx replication.Tx) error {
		return tx.Scan(holdsPrefix, nil, func(k, v []byte) (bool, error) {
			if len(v) >= 8 {
				out[string(k[len(holdsPrefix):])] = binary.BigEndian.Uint64(v)
			}
			return true, nil
		})
	})
	return out, err
}

// compact drops, from this member's log, up to max company-wide events up
// to the retention point that its projection and company views have
// passed. It returns how many log positions it went over.
func (f *fsm) compact(max int) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	tx := pebbleTx{r: f.db}
	retained, err := getU64(tx, retainedKey)
	if err != nil {
		return 0, err
	}
	done, err := getU64(tx, compactedKey)
	if err != nil {
		return 0, err
	}
	f.proj.posMu.Lock()
	limit := min(retained, f.proj.pos, f.proj.cpos)
	f.proj.posMu.Unlock()
	if done >= limit {
		return 0, nil
	}
	b := f.db.NewBatch()
	defer b.Close()
	pos, passed := done, 0
	var e entry
	err = tx.Scan(logPrefix, posKey(done+1), func(k, v []byte) (bool, error) {
		if err := peekCommitted(v, &e); err != nil {
			return false, err
		}
		if e.pos > limit {
			return false, nil
		}
		if len(e.scopes) == 0 {
			var c replicationv1.Committed
			if err := proto.Unmarshal(v, &c); err != nil {
				return false, err
			}
			if err := b.Delete(k, nil); err != nil {
				return false, err
			}
			if err := b.Delete(dedupKey(c.GetEvent().GetOrigin(), c.GetEvent().GetSeq()), nil); err != nil {
				return false, err
			}
		}
		pos = e.pos
		passed++
		return passed < max && pos < limit, nil
	})
	if err != nil {
		return 0, err
	}
	if pos < limit && passed < max {
		pos = limit // no entry left up to the limit
	}
	if err := b.Set(compactedKey, putU64(pos), nil); err != nil {
		return 0, err
	}
	commitRetrying(b, f.log)
	return passed, nil
}

// retainLoop moves the retention point by the rule while this member leads.
func (h *Hub) retainLoop(ctx context.Context) {
	if h.cfg.RetainEvents == 0 {
		return
	}
	h.whileLeading(ctx, retainEvery, func() {
		if !h.fsm.isActive(Retention) {
			return
		}
		if _, err := h.retain(ctx, nil, false); err != nil {
			h.log.Warn("retention", "err", err)
		}
	})
}

// retain moves the retention point as far as the rule and the nodes'
// positions allow, released nodes aside; it returns the outcome.
func (h *Hub) retain(ctx context.Context, release []string, releaseAll bool) (*adminv1.RetainResponse, error) {
	st, err := h.clusterView(ctx)
	if err != nil {
		return nil, err
	}
	holds, err := h.fsm.holds()
	if err != nil {
		return nil, err
	}
	head := h.fsm.state().Head
	target := uint64(0)
	if h.cfg.RetainEvents > 0 && head > h.cfg.RetainEvents {
		target = head - h.cfg.RetainEvents
	}
	positions := map[string]uint64{}
	out := &adminv1.RetainResponse{Head: head}
	for _, n := range st.GetNodes() {
		p := max(holds[n.GetId()], n.GetCursor())
		if n.GetCursor() > holds[n.GetId()] {
			positions[n.GetId()] = n.GetCursor()
		}
		n.Holds = p
		if releaseAll || slices.Contains(release, n.GetId()) || p >= target {
			continue
		}
		out.HeldBy = append(out.HeldBy, n)
	}
	for _, n := range out.HeldBy {
		target = min(target, n.GetHolds())
	}
	retained, err := h.fsm.Retained()
	if err != nil {
		return nil, err
	}
	if target <= retained && len(positions) == 0 {
		out.Retained = retained // nothing to record: no Raft entry
		return out, nil
	}
	if _, err := h.apply(&hubv1.Command{Op: &hubv1.Command_Retain{Retain: &hubv1.Retain{UpTo: target, Positions: positions}}}); err != nil {
		return nil, err
	}
	if out.Retained, err = h.fsm.Retained(); err != nil {
		return nil, err
	}
	return out, nil
}

// clusterView is ClusterStatus as the cluster's admin sees it: every
// member's view of the nodes.
func (h *Hub) clusterView(ctx context.Context) (*adminv1.ClusterStatusResponse, error) {
	s, err := h.Signer()
	if err != nil {
		return nil, err
	}
	p := auth.Principal{User: AdminUser, Roles: []string{auth.RoleAdmin}}
	tok, _ := s.Issue(p, time.Now(), time.Minute)
	req := connect.NewRequest(&adminv1.ClusterStatusRequest{})
	req.Header().Set("Authorization", "Bearer "+tok)
	resp, err := clusterService{h}.ClusterStatus(auth.WithPrincipal(ctx, &p), req)
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// Retain moves the retention point now (see ClusterService.Retain).
func (s clusterService) Retain(ctx context.Context, req *connect.Request[adminv1.RetainRequest]) (*connect.Response[adminv1.RetainResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if !s.h.fsm.isActive(Retention) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("a hub member runs a release without log retention: upgrade every member first"))
	}
	for _, id := range req.Msg.GetRelease() {
		if !replication.ValidNodeID(id) {
			return nil, invalid("node id %q: %v", id, replication.ErrInvalidID)
		}
	}
	out, err := s.h.retain(ctx, req.Msg.GetRelease(), req.Msg.GetReleaseAll())
	if err != nil {
		return nil, s.h.commandError(err)
	}
	s.h.log.Info("retention point moved", "retained", out.GetRetained(), "head", out.GetHead(), "released", req.Msg.GetRelease(), "release_all", req.Msg.GetReleaseAll())
	return connect.NewResponse(out), nil
}

func errBehindRetention(cursor, retained uint64) error {
	err := connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
		"the hub no longer holds the company-wide events after position %d (its log is retained from %d): take a snapshot", cursor, retained))
	err.Meta().Set(replication.BehindRetentionHeader, fmt.Sprint(retained))
	return err
}

// Compacted is how far this member has dropped company-wide events from
// its log (up to the retention point, behind its projection).
func (h *Hub) Compacted() uint64 {
	var p uint64
	_ = h.fsm.read(func(tx replication.Tx) error {
		var err error
		p, err = getU64(tx, compactedKey)
		return err
	})
	return p
}
