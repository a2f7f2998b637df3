package hub

import (
	"bytes"
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
	"branchline/gen/branchline/admin/v1/adminv1connect"
	hubv1 "branchline/gen/branchline/hub/v1"
	"branchline/replication"
	"branchline/rpc"
	"branchline/version"
)

// Rolling upgrades.
//
// Members of one cluster may run different releases for a while. Whatever
// the state machine does must still be the same on every member, so the
// cluster only uses what every member's build can do: each member reports
// its capabilities — the event kinds its registry applies, its task names
// ("task:" name) and its reaction names ("reaction:" name) — in its member
// record, and the leader commits the intersection as the cluster version
// (ActivateKinds). Until then events of a new kind are committed to the
// global log like any other and parked in the views; a task or reaction
// that is not active is not run. Activation is a log entry, so every
// member starts applying at the same position. Capabilities once active
// stay active: a member must not be downgraded below the cluster version.

// Capabilities lists what a build can do, as reported in member records.
func Capabilities(reg *replication.Registry, tasks map[string]Task, reactions map[string]Reaction) []string {
	out := reg.Kinds()
	for n := range tasks {
		out = append(out, "task:"+n)
	}
	for n := range reactions {
		out = append(out, "reaction:"+n)
	}
	out = append(out, ScopeRules, Retention, replication.CompoundCapability)
	slices.Sort(out)
	return out
}

// ScopeRules is the capability of running this release's scope rules on
// the events the hub's tasks and reactions make: the state machine decides
// their scopes only once every member can, so that members of two releases
// commit the same events.
const ScopeRules = "scopes:1"

func loadActive(tx replication.Tx) (map[string]bool, error) {
	b, err := tx.Get(activeKey)
	if errors.Is(err, replication.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a hubv1.ActivateKinds
	if err := proto.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("cluster version: %w", err)
	}
	out := make(map[string]bool, len(a.GetKinds()))
	for _, k := range a.GetKinds() {
		out[k] = true
	}
	return out, nil
}

// isActive reports whether the cluster version includes c (a kind, or a
// "task:"/"reaction:" name). Before the first cluster version is
// committed, the baseline is: what the release before cluster versions
// applied, which is what its members (in a rolling upgrade from it) apply.
func (f *fsm) isActive(c string) bool { return activeIn(f.active, c) }

// activeIn reports whether c is in the cluster version active (nil: the
// baseline). A compound kind (replication/compound.go) is when both its
// kinds and compound events are.
func activeIn(active map[string]bool, c string) bool {
	if active == nil {
		active = baseline
	}
	if main, attached, ok := replication.SplitCompound(c); ok {
		return active[replication.CompoundCapability] && active[main] && active[attached]
	}
	return active[c]
}

// baseline is what every member of the release before cluster versions
// can run: the kinds, tasks and reactions of that release. Never change
// it; later releases' additions go through the cluster version.
var baseline = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range []string{
		"access.audit.recorded",
		"access.department.created",
		"access.department.moved",
		"access.department.renamed",
		"access.department.retired",
		"access.role.created",
		"access.role.field_set",
		"access.role.permission_set",
		"access.token.created",
		"access.token.revoked",
		"access.user.created",
		"access.user.field_set",
		"access.user.password_set",
		"access.user.role_added",
		"access.user.role_removed",
		"crm.account.deposit_paid",
		"crm.account.deposit_refunded",
		"crm.account.payment_received",
		"crm.account.refund_paid",
		"crm.blacklist.flagged",
		"crm.blacklist.listed",
		"crm.blacklist.unlisted",
		"crm.contact.added",
		"crm.contact.removed",
		"crm.contact.updated",
		"crm.coupon.issued",
		"crm.coupon.redeemed",
		"crm.courier.set",
		"crm.courier.zone_added",
		"crm.courier.zone_removed",
		"crm.custom_field.defined",
		"crm.custom_field.retired",
		"crm.custom_field.updated",
		"crm.customer.created",
		"crm.customer.deleted",
		"crm.customer.field_set",
		"crm.customer.merged",
		"crm.customer.note_added",
		"crm.customer.restored",
		"crm.member.balance_spent",
		"crm.member.balance_topped_up",
		"crm.member.level_rules_set",
		"crm.member.points_earned",
		"crm.member.points_redeemed",
		"crm.param.set",
		"crm.pickup.accepted",
		"crm.pickup.assigned",
		"crm.pickup.cancelled",
		"crm.pickup.checked",
		"crm.pickup.created",
		"crm.pickup.failed",
		"crm.pickup.field_set",
		"crm.pickup.notified",
		"crm.pickup.picked_up",
		"crm.rateplan.set",
		"crm.rateplan.tiers_set",
		"crm.zone.removed",
		"crm.zone.set",
		"reaction:warehouse.refuse_foreign_release",
		"task:warehouse.rebalance",
		"telephony.call.ended",
		"telephony.call.wrap_up_ended",
		"telephony.callback.assigned",
		"telephony.callback.created",
		"telephony.callback.done",
		"telephony.extension.removed",
		"telephony.extension.set",
		"telephony.message.queued",
		"telephony.message.status",
		"telephony.queue.member_added",
		"telephony.queue.member_removed",
		"telephony.queue.removed",
		"telephony.queue.set",
		"telephony.trunk.removed",
		"telephony.trunk.set",
		"warehouse.bin.set",
		"warehouse.escrow.granted",
		"warehouse.escrow.reclaimed",
		"warehouse.escrow.released",
		"warehouse.escrow.returned",
		"warehouse.escrow.target",
		"warehouse.limit.set",
		"warehouse.notice.confirmed",
		"warehouse.notice.created",
		"warehouse.po.closed",
		"warehouse.po.created",
		"warehouse.product.set",
		"warehouse.reservation.made",
		"warehouse.reservation.released",
		"warehouse.reservation.shipped",
		"warehouse.seller.added",
		"warehouse.seller.removed",
		"warehouse.stock.moved",
		"warehouse.stocktake.cancelled",
		"warehouse.stocktake.counted",
		"warehouse.stocktake.opened",
		"warehouse.stocktake.posted",
		"warehouse.transfer.received",
		"warehouse.transfer.shipped",
		"warehouse.warehouse.set",
	} {
		m[c] = true
	}
	return m
}()

// activate adds capabilities to the cluster version and applies the
// decision views' parked events whose kinds became active. It records
// what it added at the current head, where the projection, passing it,
// activates them too.
func (f *fsm) activate(s *step, add []string) error {
	tx := s.tx
	next := map[string]bool{}
	maps.Copy(next, f.active)
	for _, c := range add {
		next[c] = true
	}
	all := slices.Sorted(maps.Keys(next))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&hubv1.ActivateKinds{Kinds: all})
	if err != nil {
		return err
	}
	if err := tx.Set(activeKey, b); err != nil {
		return err
	}
	rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(&hubv1.ActivateKinds{Kinds: add})
	if err != nil {
		return err
	}
	at := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(bytes.Clone(activatedAt), s.st.Head), s.st.Index)
	if err := tx.Set(at, rec); err != nil {
		return err
	}
	f.active = next
	n, err := s.dec.Unpark()
	if err != nil {
		return err
	}
	if n > 0 {
		f.log.Info("cluster version: parked decision events applied", "events", n)
	}
	return nil
}

// ActiveCapabilities returns the committed cluster version (nil before
// the first one).
func (f *fsm) ActiveCapabilities() ([]string, error) {
	var out []string
	err := f.read(func(tx replication.Tx) error {
		a, err := loadActive(tx)
		if a != nil {
			out = slices.Sorted(maps.Keys(a))
		}
		return err
	})
	return out, err
}

// versionLoop, on the leader, keeps the member records' releases and
// capabilities current and commits a new cluster version when every
// voter can do more than the current one.
//
// It looks every 200 ms and syncs at most every 2 s, so that the first
// cluster version of a new cluster is committed as soon as the cluster is
// initialised: until then the hub's views park every kind newer than the
// baseline, and had the first leader died before its first sync (the loop
// used to wait 2 s), they stayed parked until it came back, since a new
// version needs every voter's report.
func (h *Hub) versionLoop(ctx context.Context) {
	var last time.Time
	h.whileLeading(ctx, 200*time.Millisecond, func() {
		if !h.initialised() || time.Since(last) < 2*time.Second {
			return
		}
		last = time.Now()
		if err := h.syncVersions(ctx); err != nil {
			h.log.Warn("cluster version", "err", err)
		}
	})
}

func (h *Hub) syncVersions(ctx context.Context) error {
	recs, err := h.fsm.Members()
	if err != nil {
		return err
	}
	servers := h.raft.GetConfiguration().Configuration().Servers
	var common map[string]bool
	complete := true
	for _, srv := range servers {
		id := string(srv.ID)
		rec, ok := recs[id]
		if !ok {
			complete = false
			continue
		}
		ver, caps, err := h.memberCapabilities(ctx, rec)
		if err == nil && len(caps) == 0 {
			err = errors.New("the member's release does not report its capabilities")
		}
		if err != nil {
			// An unreachable member holds the version back until it answers.
			complete = false
			if len(rec.Capabilities) == 0 {
				continue
			}
			ver, caps = rec.Version, rec.Capabilities
		} else if ver != rec.Version || !slices.Equal(caps, rec.Capabilities) {
			if _, err := h.apply(&hubv1.Command{Op: &hubv1.Command_SetMember{SetMember: &hubv1.SetMember{
				Id: id, RaftAddr: rec.RaftAddr, HttpAddr: rec.HTTPAddr, Version: ver, Kinds: caps,
			}}}); err != nil {
				return err
			}
			h.log.Info("member release recorded", "member", id, "version", ver, "capabilities", len(caps))
		}
		set := map[string]bool{}
		for _, c := range caps {
			set[c] = true
		}
		if common == nil {
			common = set
		} else {
			maps.DeleteFunc(common, func(c string, _ bool) bool { return !set[c] })
		}
	}
	if !complete || common == nil {
		return nil
	}
	active, err := h.fsm.ActiveCapabilities()
	if err != nil {
		return err
	}
	var add []string
	for c := range common {
		if !slices.Contains(active, c) {
			add = append(add, c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	slices.Sort(add)
	if _, err := h.apply(&hubv1.Command{Op: &hubv1.Command_ActivateKinds{ActivateKinds: &hubv1.ActivateKinds{Kinds: add}}}); err != nil {
		return err
	}
	h.log.Info("cluster version committed", "added", len(add), "first", add[0])
	return nil
}

// memberCapabilities asks a member (this one locally) what its build can do.
func (h *Hub) memberCapabilities(ctx context.Context, rec MemberRecord) (string, []string, error) {
	if rec.ID == h.cfg.ID {
		return version.String(), h.capabilities, nil
	}
	if rec.HTTPAddr == "" {
		return "", nil, errors.New("no address")
	}
	s, err := h.Signer()
	if err != nil {
		return "", nil, err
	}
	tok, _ := s.Issue(auth.Principal{User: AdminUser, Roles: []string{auth.RoleAdmin}}, time.Now(), time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := adminv1connect.NewAdminServiceClient(h.hc, rec.HTTPAddr, rpc.WithBearer(tok)).
		Status(ctx, connect.NewRequest(&adminv1.StatusRequest{}))
	if err != nil {
		return "", nil, err
	}
	return st.Msg.GetVersion(), st.Msg.GetCapabilities(), nil
}
