package pickup

import (
	"fmt"
	"slices"
	"strings"

	"branchline/dialplan"
	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// Event kinds of couriers.
const (
	KindCourierSet = "crm.courier.set"
	// KindCourierBranchesSet sets the branches serving a courier (body
	// CourierSet with the one field "branches"). A kind of its own, not a
	// field of crm.courier.set: a release that does not know it parks it
	// (a hub member commits it and applies it once the cluster runs it)
	// where its check of crm.courier.set would refuse the field, and with
	// it the pushing node's outbox.
	KindCourierBranchesSet = "crm.courier.branches_set"
	KindCourierZoneAdded   = "crm.courier.zone_added"
	KindCourierZoneRemoved = "crm.courier.zone_removed"
)

// Courier is a user who picks up: dispatch messages go to their phone
// extension; the automatic assignment considers them for the zones they
// cover while they are on duty.
type Courier struct {
	User      string // the access user name, the actor of their events
	Name      string
	Extension string // telephony extension for SIP MESSAGE; may be empty
	OnDuty    bool
	Zones     []string
	// Branches are the node ids of the branches that serve the courier:
	// besides the branch of each pickup, they receive the pickups assigned
	// to the courier (see ServedScopes). None: only the pickups' branches.
	Branches []string
	Open     int // pickups assigned and not picked up, cancelled or failed
}

// Courier fields, each a last-writer-wins register.
const (
	courierName      = "name"
	courierExtension = "extension"
	courierOnDuty    = "on_duty"
	courierBranches  = "branches"
)

// maxCourierBranches bounds the branches serving one courier.
const maxCourierBranches = 32

// CourierEntity is the entity of courier user.
func CourierEntity(user string) string { return "courier/" + user }

// Views:
//
//	pk \0 cr \0 user \0 field          -> register
//	pk \0 crz \0 user  (add-wins set of zone ids)
func courierKey(user, field string) []byte { return replication.Key("pk", "cr", user, field) }
func courierPrefix(user string) []byte     { return replication.Prefix("pk", "cr", user) }
func courierZones(user string) string      { return string(replication.Key("pk", "crz", user)) }

var couriersPrefix = replication.Prefix("pk", "cr")

func canonicalCourier(field, v string) (string, error) {
	switch field {
	case courierName:
		return line("name", v, maxName, true)
	case courierExtension:
		v, err := line("extension", v, 10, false)
		if err == nil && v != "" && !dialplan.ValidExtension(v) {
			return "", fault.Invalidf("extension", "bad_extension", "%q is not an extension (2-10 digits)", v)
		}
		return v, err
	case courierOnDuty:
		if v != "true" && v != "false" {
			return "", fault.Invalidf("on_duty", "bad_bool", "%q is not true or false", v)
		}
		return v, nil
	case courierBranches:
		bs, err := cleanBranches(strings.Split(v, ","))
		return strings.Join(bs, ","), err
	}
	return "", fault.Invalidf(field, "unknown_field", "no such courier field")
}

// cleanBranches trims, sorts and deduplicates node ids, dropping blanks,
// and checks each.
func cleanBranches(in []string) ([]string, error) {
	var out []string
	for _, b := range in {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if !replication.ValidNodeID(b) {
			return nil, fault.Invalidf("branches", "bad_node", "%q is not a node id", b)
		}
		out = append(out, b)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxCourierBranches {
		return nil, fault.Invalidf("branches", "too_many", "%d branches, at most %d", len(out), maxCourierBranches)
	}
	return out, nil
}

// splitBranches reads the branches field.
func splitBranches(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// SetCourier decides the events making the views' courier c.User equal
// to c: the fields that differ, one add per zone gained and one remove per
// zone lost. Every zone must exist.
func SetCourier(views replication.Tx, c Courier) ([]replication.Draft, error) {
	if !ValidUser(c.User) {
		return nil, fault.Invalidf("user", "bad_user", "%q is not a user name", c.User)
	}
	want := map[string]string{courierName: c.Name, courierExtension: c.Extension, courierOnDuty: fmt.Sprint(c.OnDuty),
		courierBranches: strings.Join(c.Branches, ",")}
	cur, err := courierFields(views, c.User)
	if err != nil {
		return nil, err
	}
	body, branches := &pickupv1.CourierSet{}, &pickupv1.CourierSet{}
	for _, f := range []string{courierBranches, courierExtension, courierName, courierOnDuty} {
		v, err := canonicalCourier(f, want[f])
		if err != nil {
			return nil, err
		}
		old, ok := cur[f]
		// Couriers set before branches existed have none: no event to
		// say so again.
		if !ok && f == courierBranches && v == "" {
			continue
		}
		switch {
		case ok && old == v:
		case f == courierBranches:
			branches.Fields = append(branches.Fields, &eventv1.FieldValue{Field: f, Value: v})
		default:
			body.Fields = append(body.Fields, &eventv1.FieldValue{Field: f, Value: v})
		}
	}
	var drafts []replication.Draft
	if len(body.Fields) > 0 {
		drafts = append(drafts, replication.Draft{Kind: KindCourierSet, Entity: CourierEntity(c.User), Body: body})
	}
	if len(branches.Fields) > 0 {
		drafts = append(drafts, replication.Draft{Kind: KindCourierBranchesSet, Entity: CourierEntity(c.User), Body: branches})
	}
	have, err := replication.SetElems(views, courierZones(c.User))
	if err != nil {
		return nil, err
	}
	zones := slices.Clone(c.Zones)
	slices.Sort(zones)
	zones = slices.Compact(zones)
	for _, z := range zones {
		if _, ok, err := GetZone(views, z); err != nil {
			return nil, err
		} else if !ok {
			return nil, fault.Invalidf("zones", "unknown_zone", "no zone %q", z)
		}
		if !slices.Contains(have, z) {
			drafts = append(drafts, replication.Draft{Kind: KindCourierZoneAdded, Entity: CourierEntity(c.User),
				Body: &pickupv1.CourierZoneAdded{Zone: z}})
		}
	}
	for _, z := range have {
		if slices.Contains(zones, z) {
			continue
		}
		tags, err := replication.SetTags(views, courierZones(c.User), z)
		if err != nil {
			return nil, err
		}
		b := &pickupv1.CourierZoneRemoved{Zone: z}
		for _, t := range tags {
			b.Observed = append(b.Observed, &pickupv1.Tag{Origin: t.Origin, Seq: t.Seq})
		}
		drafts = append(drafts, replication.Draft{Kind: KindCourierZoneRemoved, Entity: CourierEntity(c.User), Body: b})
	}
	return drafts, nil
}

func courierFields(views replication.Tx, user string) (map[string]string, error) {
	if !ValidUser(user) {
		return map[string]string{}, nil
	}
	return replication.ReadRegisters(views, courierPrefix(user))
}

func courierFrom(views replication.Tx, user string, f map[string]string) (Courier, error) {
	c := Courier{User: user, Name: f[courierName], Extension: f[courierExtension], OnDuty: f[courierOnDuty] == "true",
		Branches: splitBranches(f[courierBranches])}
	var err error
	if c.Zones, err = replication.SetElems(views, courierZones(user)); err != nil {
		return Courier{}, err
	}
	c.Open, err = openCount(views, user)
	return c, err
}

// GetCourier reads courier user; ok is false when it was never set.
func GetCourier(views replication.Tx, user string) (Courier, bool, error) {
	f, err := courierFields(views, user)
	if err != nil || len(f) == 0 {
		return Courier{}, false, err
	}
	c, err := courierFrom(views, user, f)
	return c, err == nil, err
}

// ListCouriers returns every courier, by user name.
func ListCouriers(views replication.Tx) ([]Courier, error) {
	var users []string
	all := map[string]map[string]string{}
	err := views.Scan(couriersPrefix, nil, func(k, v []byte) (bool, error) {
		user, field, ok := strings.Cut(string(k[len(couriersPrefix):]), "\x00")
		if !ok {
			return false, fmt.Errorf("bad courier key %q", k)
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("courier %s: %w", user, err)
		}
		if all[user] == nil {
			users = append(users, user)
			all[user] = map[string]string{}
		}
		all[user][field] = string(r.Value)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Courier, 0, len(users))
	for _, u := range users {
		c, err := courierFrom(views, u, all[u])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ServedScopes returns the courier scopes node serves: CourierScope of
// each courier whose branches include node, in order. The hub sends node
// the events of those scopes (the pickups assigned to those couriers,
// wherever booked) besides its own branch's.
func ServedScopes(views replication.Tx, node string) ([]string, error) {
	var out []string
	if !replication.ValidNodeID(node) {
		return nil, nil
	}
	err := views.Scan(couriersPrefix, nil, func(k, v []byte) (bool, error) {
		user, field, ok := strings.Cut(string(k[len(couriersPrefix):]), "\x00")
		if !ok || field != courierBranches {
			return true, nil
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("courier %s: %w", user, err)
		}
		if slices.Contains(splitBranches(string(r.Value)), node) {
			out = append(out, replication.CourierScope(user))
		}
		return true, nil
	})
	return out, err
}

// CouriersOf returns the couriers covering zone, by user name.
func CouriersOf(views replication.Tx, zone string) ([]Courier, error) {
	all, err := ListCouriers(views)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c Courier) bool { return !slices.Contains(c.Zones, zone) }), nil
}

// AutoCourier chooses the courier for a new pickup in zone: among the
// zone's couriers on duty, the one with the fewest open pickups, ties by
// user name. It depends only on the views, so every replica would choose
// the same; "" when no courier of the zone is on duty.
func AutoCourier(views replication.Tx, zone string) (string, error) {
	cs, err := CouriersOf(views, zone)
	if err != nil {
		return "", err
	}
	best, load := "", 0
	for _, c := range cs { // by user name: a tie keeps the first
		if c.OnDuty && (best == "" || c.Open < load) {
			best, load = c.User, c.Open
		}
	}
	return best, nil
}

func courierID(ev *replication.Event) (string, bool) {
	u, ok := strings.CutPrefix(ev.Entity, "courier/")
	return u, ok && ValidUser(u)
}

func checkCourierSet(ev *replication.Event, b *pickupv1.CourierSet) error {
	if _, ok := courierID(ev); !ok {
		return fmt.Errorf("entity %q is not a courier", ev.Entity)
	}
	seen := map[string]bool{}
	for _, f := range b.GetFields() {
		if (f.GetField() == courierBranches) != (ev.Kind == KindCourierBranchesSet) {
			return fault.Invalidf(f.GetField(), "unknown_field", "not a field of %s", ev.Kind)
		}
		if seen[f.GetField()] {
			return fault.Invalidf(f.GetField(), "duplicate", "field written twice")
		}
		seen[f.GetField()] = true
		v, err := canonicalCourier(f.GetField(), f.GetValue())
		if err != nil {
			return err
		}
		if v != f.GetValue() {
			return fault.Invalidf(f.GetField(), "not_canonical", "value %q is not in canonical form", f.GetValue())
		}
	}
	return nil
}

func applyCourierSet(tx replication.Tx, ev *replication.Event, b *pickupv1.CourierSet) error {
	user, ok := courierID(ev)
	if !ok {
		return nil
	}
	for _, f := range b.GetFields() {
		switch f.GetField() {
		case courierName, courierExtension, courierOnDuty, courierBranches:
			if _, _, err := replication.SetRegister(tx, courierKey(user, f.GetField()), []byte(f.GetValue()), replication.StampOf(ev)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkCourierZoneAdded(ev *replication.Event, b *pickupv1.CourierZoneAdded) error {
	if _, ok := courierID(ev); !ok {
		return fmt.Errorf("entity %q is not a courier", ev.Entity)
	}
	if !ValidZoneID(b.GetZone()) {
		return fault.Invalidf("zone", "bad_id", "%q is not a zone id", b.GetZone())
	}
	return nil
}

func applyCourierZoneAdded(tx replication.Tx, ev *replication.Event, b *pickupv1.CourierZoneAdded) error {
	user, ok := courierID(ev)
	if !ok || !ValidZoneID(b.GetZone()) {
		return nil
	}
	return replication.SetAdd(tx, courierZones(user), b.GetZone(), replication.TagOf(ev))
}

func checkCourierZoneRemoved(ev *replication.Event, b *pickupv1.CourierZoneRemoved) error {
	if _, ok := courierID(ev); !ok {
		return fmt.Errorf("entity %q is not a courier", ev.Entity)
	}
	if !ValidZoneID(b.GetZone()) {
		return fault.Invalidf("zone", "bad_id", "%q is not a zone id", b.GetZone())
	}
	for _, t := range b.GetObserved() {
		if !replication.ValidNodeID(t.GetOrigin()) || t.GetSeq() == 0 {
			return fault.Invalidf("observed", "bad_tag", "%q:%d is not an event", t.GetOrigin(), t.GetSeq())
		}
	}
	return nil
}

func applyCourierZoneRemoved(tx replication.Tx, ev *replication.Event, b *pickupv1.CourierZoneRemoved) error {
	user, ok := courierID(ev)
	if !ok || !ValidZoneID(b.GetZone()) {
		return nil
	}
	var tags []replication.Tag
	for _, t := range b.GetObserved() {
		if replication.ValidNodeID(t.GetOrigin()) {
			tags = append(tags, replication.Tag{Origin: t.GetOrigin(), Seq: t.GetSeq()})
		}
	}
	return replication.SetRemove(tx, courierZones(user), b.GetZone(), tags)
}
