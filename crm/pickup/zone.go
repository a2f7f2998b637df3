package pickup

import (
	"fmt"
	"slices"
	"strings"

	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// Event kinds of zones.
const (
	KindZoneSet     = "crm.zone.set"
	KindZoneRemoved = "crm.zone.removed"
)

// Zone is an area (片区) that couriers cover. A pickup's zone is found
// from the sender's postcode (the longest matching prefix), else from the
// address (the longest district or keyword it contains).
type Zone struct {
	ID        string
	Name      string
	Districts []string
	Postcodes []string // prefixes
	Keywords  []string
}

// Zone fields, each a last-writer-wins register.
const (
	zoneName      = "name"
	zoneDistricts = "districts"
	zonePostcodes = "postcodes"
	zoneKeywords  = "keywords"
	zoneRemoved   = "removed"
)

// maxZoneItems bounds each list of a zone.
const maxZoneItems = 200

// ZoneEntity is the entity of zone id.
func ZoneEntity(id string) string { return "zone/" + id }

// Views:
//
//	pk \0 z \0 id \0 field   -> register
func zoneKey(id, field string) []byte { return replication.Key("pk", "z", id, field) }
func zonePrefix(id string) []byte     { return replication.Prefix("pk", "z", id) }

var zonesPrefix = replication.Prefix("pk", "z")

// canonicalZone validates z and returns its fields in canonical form.
func canonicalZone(z Zone) (map[string]string, error) {
	if !ValidZoneID(z.ID) {
		return nil, fault.Invalidf("id", "bad_id", "%q is not a zone id (a-z, 0-9 and -)", z.ID)
	}
	name, err := line("name", z.Name, 32, true)
	if err != nil {
		return nil, err
	}
	out := map[string]string{zoneName: name}
	for _, l := range []struct {
		field string
		items []string
		check func(string) bool
	}{
		{zoneDistricts, z.Districts, nil},
		{zonePostcodes, z.Postcodes, postcodeRe.MatchString},
		{zoneKeywords, z.Keywords, nil},
	} {
		v, err := canonicalList(l.field, l.items, l.check)
		if err != nil {
			return nil, err
		}
		out[l.field] = v
	}
	return out, nil
}

// canonicalList trims, checks, dedups and sorts items and joins them with
// ",", which items may not contain.
func canonicalList(field string, items []string, check func(string) bool) (string, error) {
	if len(items) > maxZoneItems {
		return "", fault.Invalidf(field, "too_many", "%d items, at most %d", len(items), maxZoneItems)
	}
	var out []string
	for _, it := range items {
		v, err := line(field, it, 32, false)
		if err != nil {
			return "", err
		}
		if v == "" {
			continue
		}
		if strings.Contains(v, ",") || (check != nil && !check(v)) {
			return "", fault.Invalidf(field, "bad_item", "%q is not allowed here", v)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ","), nil
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// SetZone decides the event creating zone z or changing it to z: only
// the fields that differ from the views are written, so concurrent edits
// of different fields both survive. Setting a removed zone brings it back.
func SetZone(views replication.Tx, z Zone) (replication.Draft, error) {
	fields, err := canonicalZone(z)
	if err != nil {
		return replication.Draft{}, err
	}
	cur, err := zoneFields(views, z.ID)
	if err != nil {
		return replication.Draft{}, err
	}
	body := &pickupv1.ZoneSet{}
	for _, f := range []string{zoneDistricts, zoneKeywords, zoneName, zonePostcodes} {
		if v, ok := cur[f]; !ok || v != fields[f] || cur[zoneRemoved] != "" {
			body.Fields = append(body.Fields, &eventv1.FieldValue{Field: f, Value: fields[f]})
		}
	}
	return replication.Draft{Kind: KindZoneSet, Entity: ZoneEntity(z.ID), Body: body}, nil
}

// RemoveZone decides the event removing zone id, which must exist.
func RemoveZone(views replication.Tx, id string) (replication.Draft, error) {
	if _, ok, err := GetZone(views, id); err != nil {
		return replication.Draft{}, err
	} else if !ok {
		return replication.Draft{}, fmt.Errorf("zone %s: %w", id, fault.ErrNotFound)
	}
	return replication.Draft{Kind: KindZoneRemoved, Entity: ZoneEntity(id), Body: &pickupv1.ZoneRemoved{}}, nil
}

func zoneFields(views replication.Tx, id string) (map[string]string, error) {
	if !ValidZoneID(id) {
		return map[string]string{}, nil
	}
	return replication.ReadRegisters(views, zonePrefix(id))
}

func zoneFrom(id string, f map[string]string) (Zone, bool) {
	if f[zoneName] == "" || f[zoneRemoved] != "" {
		return Zone{}, false
	}
	return Zone{ID: id, Name: f[zoneName], Districts: splitList(f[zoneDistricts]),
		Postcodes: splitList(f[zonePostcodes]), Keywords: splitList(f[zoneKeywords])}, true
}

// GetZone reads zone id; ok is false when it does not exist or is removed.
func GetZone(views replication.Tx, id string) (Zone, bool, error) {
	f, err := zoneFields(views, id)
	if err != nil {
		return Zone{}, false, err
	}
	z, ok := zoneFrom(id, f)
	return z, ok, nil
}

// ListZones returns every zone that is not removed, by id.
func ListZones(views replication.Tx) ([]Zone, error) {
	var out []Zone
	cur := ""
	var fields map[string]string
	flush := func() {
		if z, ok := zoneFrom(cur, fields); ok {
			out = append(out, z)
		}
	}
	err := views.Scan(zonesPrefix, nil, func(k, v []byte) (bool, error) {
		id, field, ok := strings.Cut(string(k[len(zonesPrefix):]), "\x00")
		if !ok {
			return false, fmt.Errorf("bad zone key %q", k)
		}
		if id != cur {
			flush()
			cur, fields = id, map[string]string{}
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("zone %s: %w", id, err)
		}
		fields[field] = string(r.Value)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// ZoneFor finds the zone of an address: the zone with the longest
// postcode prefix of postcode, else the zone with the longest district or
// keyword contained in address; ties go to the lower zone id. No match is
// an *fault.Invalid with code "no_zone": the agent picks the zone by hand.
func ZoneFor(views replication.Tx, address, postcode string) (string, error) {
	zones, err := ListZones(views)
	if err != nil {
		return "", err
	}
	best, bestLen := "", 0
	consider := func(id string, n int) {
		if n > bestLen { // zones come in id order: a tie keeps the lower id
			best, bestLen = id, n
		}
	}
	if pc := strings.TrimSpace(postcode); pc != "" {
		for _, z := range zones {
			for _, p := range z.Postcodes {
				if strings.HasPrefix(pc, p) {
					consider(z.ID, len(p))
				}
			}
		}
		if best != "" {
			return best, nil
		}
	}
	addr := strings.ToLower(address)
	for _, z := range zones {
		for _, w := range append(slices.Clone(z.Districts), z.Keywords...) {
			if w != "" && strings.Contains(addr, strings.ToLower(w)) {
				consider(z.ID, len(w))
			}
		}
	}
	if best == "" {
		return "", fault.Invalidf("zone", "no_zone", "no zone covers this address; choose the zone")
	}
	return best, nil
}

func zoneID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "zone/")
	return id, ok && ValidZoneID(id)
}

func checkZoneSet(ev *replication.Event, b *pickupv1.ZoneSet) error {
	id, ok := zoneID(ev)
	if !ok {
		return fmt.Errorf("entity %q is not a zone", ev.Entity)
	}
	z := Zone{ID: id, Name: "x"}
	seen := map[string]bool{}
	for _, f := range b.GetFields() {
		if seen[f.GetField()] {
			return fault.Invalidf(f.GetField(), "duplicate", "field written twice")
		}
		seen[f.GetField()] = true
		switch f.GetField() {
		case zoneName:
			z.Name = f.GetValue()
		case zoneDistricts:
			z.Districts = splitList(f.GetValue())
		case zonePostcodes:
			z.Postcodes = splitList(f.GetValue())
		case zoneKeywords:
			z.Keywords = splitList(f.GetValue())
		default:
			return fault.Invalidf(f.GetField(), "unknown_field", "no such zone field")
		}
	}
	canon, err := canonicalZone(z)
	if err != nil {
		return err
	}
	for _, f := range b.GetFields() {
		if canon[f.GetField()] != f.GetValue() {
			return fault.Invalidf(f.GetField(), "not_canonical", "value %q is not in canonical form", f.GetValue())
		}
	}
	return nil
}

func applyZoneSet(tx replication.Tx, ev *replication.Event, b *pickupv1.ZoneSet) error {
	id, ok := zoneID(ev)
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	for _, f := range b.GetFields() {
		switch f.GetField() {
		case zoneName, zoneDistricts, zonePostcodes, zoneKeywords:
			if _, _, err := replication.SetRegister(tx, zoneKey(id, f.GetField()), []byte(f.GetValue()), s); err != nil {
				return err
			}
		}
	}
	_, _, err := replication.SetRegister(tx, zoneKey(id, zoneRemoved), nil, s)
	return err
}

func checkZoneRemoved(ev *replication.Event, _ *pickupv1.ZoneRemoved) error {
	if _, ok := zoneID(ev); !ok {
		return fmt.Errorf("entity %q is not a zone", ev.Entity)
	}
	return nil
}

func applyZoneRemoved(tx replication.Tx, ev *replication.Event, _ *pickupv1.ZoneRemoved) error {
	id, ok := zoneID(ev)
	if !ok {
		return nil
	}
	_, _, err := replication.SetRegister(tx, zoneKey(id, zoneRemoved), []byte("1"), replication.StampOf(ev))
	return err
}
