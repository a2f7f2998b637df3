package telephony

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// Configuration (extensions, trunks, queues) is kept field by field: each
// field of each thing is its own last-writer-wins register, so that an
// administrator at one branch changing a queue's ring timeout and another
// changing its strategy both win. "removed" is a field too: a removal is
// undone by a later set.
//
//	tel \0 cfg \0 kind \0 id \0 field   -> register

// configKind describes one kind of configured thing.
type configKind struct {
	name    string // "extension", "trunk", "queue": entity prefix and key part
	validID func(string) bool
	idField string // for errors
	fields  map[string]func(string) (string, error)
}

const removedField = "removed"

func cfgKey(kind, id, field string) []byte { return replication.Key("tel", "cfg", kind, id, field) }
func cfgPrefix(kind, id string) []byte     { return replication.Prefix("tel", "cfg", kind, id) }
func cfgKindPrefix(kind string) []byte     { return replication.Prefix("tel", "cfg", kind) }

func (k *configKind) setKind() string     { return "telephony." + k.name + ".set" }
func (k *configKind) removedKind() string { return "telephony." + k.name + ".removed" }
func (k *configKind) entity(id string) string {
	return k.name + "/" + id
}

func (k *configKind) entityID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, k.name+"/")
	return id, ok && k.validID(id)
}

// set decides the event writing fields of thing id. Fields are validated
// and canonicalised; unknown fields are refused.
func (k *configKind) set(id string, fields map[string]string) (replication.Draft, error) {
	if !k.validID(id) {
		return replication.Draft{}, fault.Invalidf(k.idField, "bad_id", "%q is not a valid %s", id, k.idField)
	}
	vals, err := k.canonical(fields)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: k.setKind(), Entity: k.entity(id), Body: &telv1.ConfigSet{Fields: vals}}, nil
}

// canonical validates fields and returns them in name order.
func (k *configKind) canonical(fields map[string]string) ([]*eventv1.FieldValue, error) {
	out := make([]*eventv1.FieldValue, 0, len(fields))
	for name, raw := range fields {
		check, ok := k.fields[name]
		if !ok {
			return nil, fault.Invalidf(name, "unknown_field", "no such %s field", k.name)
		}
		if !utf8.ValidString(raw) || strings.ContainsAny(raw, "\x00\r\n") {
			return nil, fault.Invalidf(name, "bad_text", "not valid single-line UTF-8 text")
		}
		v, err := check(strings.TrimSpace(raw))
		if err != nil {
			return nil, err
		}
		out = append(out, &eventv1.FieldValue{Field: name, Value: v})
	}
	sortFields(out)
	return out, nil
}

func sortFields(fs []*eventv1.FieldValue) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Field < fs[j-1].Field; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// remove decides the event removing thing id, which must exist.
func (k *configKind) remove(views replication.Tx, id string) (replication.Draft, error) {
	if _, ok, err := k.get(views, id); err != nil {
		return replication.Draft{}, err
	} else if !ok {
		return replication.Draft{}, fmt.Errorf("%s %s: %w", k.name, id, fault.ErrNotFound)
	}
	return replication.Draft{Kind: k.removedKind(), Entity: k.entity(id), Body: &telv1.ConfigRemoved{}}, nil
}

// get reads the fields of thing id; ok is false when it was never set or
// is removed.
func (k *configKind) get(views replication.Tx, id string) (map[string]string, bool, error) {
	if !k.validID(id) {
		return nil, false, nil
	}
	fields, err := replication.ReadRegisters(views, cfgPrefix(k.name, id))
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", k.name, id, err)
	}
	if len(fields) == 0 || fields[removedField] != "" {
		return nil, false, nil
	}
	delete(fields, removedField)
	return fields, true, nil
}

// list reads every thing of the kind that is not removed, in id order.
func (k *configKind) list(views replication.Tx) (ids []string, all []map[string]string, err error) {
	p := cfgKindPrefix(k.name)
	cur := ""
	var fields map[string]string
	flush := func() {
		if fields != nil && fields[removedField] == "" {
			delete(fields, removedField)
			ids = append(ids, cur)
			all = append(all, fields)
		}
	}
	err = views.Scan(p, nil, func(key, v []byte) (bool, error) {
		rest := key[len(p):]
		i := strings.IndexByte(string(rest), 0)
		if i < 0 {
			return false, fmt.Errorf("bad %s key %q", k.name, key)
		}
		id, field := string(rest[:i]), string(rest[i+1:])
		if id != cur || fields == nil {
			flush()
			cur, fields = id, map[string]string{}
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, err
		}
		fields[field] = string(r.Value)
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	flush()
	return ids, all, nil
}

func (k *configKind) register(r *replication.Registry) {
	replication.Handle(r, k.setKind(), k.applySet, k.checkSet)
	replication.Handle(r, k.removedKind(), k.applyRemoved, k.checkRemoved)
}

func (k *configKind) checkSet(ev *replication.Event, b *telv1.ConfigSet) error {
	if _, ok := k.entityID(ev); !ok {
		return fmt.Errorf("entity %q is not a %s", ev.Entity, k.name)
	}
	m := make(map[string]string, len(b.GetFields()))
	for _, f := range b.GetFields() {
		if _, dup := m[f.GetField()]; dup {
			return fault.Invalidf(f.GetField(), "duplicate", "field written twice")
		}
		m[f.GetField()] = f.GetValue()
	}
	vals, err := k.canonical(m)
	if err != nil {
		return err
	}
	for _, v := range vals {
		if v.Value != m[v.Field] {
			return fault.Invalidf(v.Field, "not_canonical", "value %q is not in canonical form", m[v.Field])
		}
	}
	return nil
}

func (k *configKind) checkRemoved(ev *replication.Event, _ *telv1.ConfigRemoved) error {
	if _, ok := k.entityID(ev); !ok {
		return fmt.Errorf("entity %q is not a %s", ev.Entity, k.name)
	}
	return nil
}

// applySet writes each known field; fields this version does not know are
// ignored (appliers are total).
func (k *configKind) applySet(tx replication.Tx, ev *replication.Event, b *telv1.ConfigSet) error {
	id, ok := k.entityID(ev)
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	if _, _, err := replication.SetRegister(tx, cfgKey(k.name, id, removedField), nil, s); err != nil {
		return err
	}
	for _, f := range b.GetFields() {
		if _, known := k.fields[f.GetField()]; !known || f.GetField() == removedField {
			continue
		}
		if _, _, err := replication.SetRegister(tx, cfgKey(k.name, id, f.GetField()), []byte(f.GetValue()), s); err != nil {
			return err
		}
	}
	return nil
}

func (k *configKind) applyRemoved(tx replication.Tx, ev *replication.Event, _ *telv1.ConfigRemoved) error {
	id, ok := k.entityID(ev)
	if !ok {
		return nil
	}
	_, _, err := replication.SetRegister(tx, cfgKey(k.name, id, removedField), []byte("1"), replication.StampOf(ev))
	return err
}
