package crm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// A customer's record: its field registers, in two forms.
//
// An edit writes one last-writer-wins register per field it names
// (fieldKey, customKey). A creation writes all the fields it sets as one
// register (createdFieldsKey), at the creation's stamp and keyed by it —
// two creations of one id, or two customers merged into one, keep both —
// so it is written without a read: most
// customers are never edited, and one pair instead of one per field
// halves the pairs a hub projects, a catching-up node applies and a new
// node installs per customer. A field's value is the later by stamp of its
// own register and of every creation register of the record that names it
// — the same last writer as if each had been a register of its own, so
// the merge rules are unchanged. Where a creation register lands depends
// only on the set of events (merge.go moves it whole, like any register),
// which keeps the views of replicas that applied the same events equal.

// createdFieldsKey is the register of the fields that a creation stamped
// s set, kept in the record of rep: the created customer, or the one it
// was merged into.
func createdFieldsKey(rep string, s replication.Stamp) []byte {
	return replication.Key("crm", "cust", rep, "p", fmt.Sprintf("%016x", uint64(s.HLC)), s.Origin)
}

// recordFieldName is the name under which a record keeps the value of a
// field a write names — the built-in field's name, or CustomPrefix and a
// valid custom key — and false for a field no record keeps (written by a
// newer release; nothing here reads it).
func recordFieldName(name string) (string, bool) {
	if k, ok := strings.CutPrefix(name, CustomPrefix); ok {
		return name, validCustomKey(k)
	}
	f, ok := FieldByName(name)
	return f.Name, ok
}

// packFields encodes the fields of a creation that a record keeps, each
// once (the first the event names, as the first of several writes at one
// stamp wins a register): uvarint-prefixed name, uvarint-prefixed value.
func packFields(fields []*eventv1.FieldValue) []byte {
	var b []byte
	seen := make([]string, 0, len(fields))
	for _, fv := range fields {
		name, ok := recordFieldName(fv.GetField())
		if !ok || slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(len(fv.GetValue())))
		b = append(b, fv.GetValue()...)
	}
	return b
}

var errBadPacked = errors.New("corrupt packed fields")

// unpackFields calls fn with each field packFields encoded in b.
func unpackFields(b []byte, fn func(name, value string)) error {
	next := func() (string, error) {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return "", errBadPacked
		}
		s := string(b[w : w+int(n)])
		b = b[w+int(n):]
		return s, nil
	}
	for len(b) > 0 {
		name, err := next()
		if err != nil {
			return err
		}
		value, err := next()
		if err != nil {
			return err
		}
		fn(name, value)
	}
	return nil
}

// writeCreatedFields writes the fields a creation sets into the record of
// rep, as one register of its own.
func writeCreatedFields(tx replication.Tx, rep string, ev *replication.Event, fields []*eventv1.FieldValue) error {
	s := replication.StampOf(ev)
	return replication.PutRegister(tx, createdFieldsKey(rep, s), packFields(fields), s)
}

// record is what the record kept under a customer id holds.
type record struct {
	// fields are the current field registers by recordFieldName: for each
	// field, the later by stamp of its own register and of the creation
	// registers that name it. A value may be empty: a clear.
	fields map[string]replication.Register
	// bin is the recycle-bin register, if ever written.
	bin    replication.Register
	hasBin bool
	// created is the created register (custKey), if the id was created.
	created    replication.Register
	hasCreated bool
}

// readRecord reads the record kept under id, and its created register,
// in one scan: custKey(id) prefixes the record's keys (ids have one
// length).
func readRecord(views replication.Tx, id string) (*record, error) {
	rec := &record{fields: map[string]replication.Register{}}
	put := func(name string, r replication.Register) {
		if cur, ok := rec.fields[name]; !ok || r.Stamp.After(cur.Stamp) {
			rec.fields[name] = r
		}
	}
	ck := custKey(id)
	p := len(ck) + 1 // the record's keys: ck, 0, the rest
	err := views.Scan(ck, nil, func(k, v []byte) (bool, error) {
		if len(k) > len(ck) && k[len(ck)] != 0 {
			return false, nil // another id's, were ids of other lengths
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("customer %s record %q: %w", id, k[len(ck):], err)
		}
		if len(k) == len(ck) {
			rec.created, rec.hasCreated = r, true
			return true, nil
		}
		kind, name, _ := strings.Cut(string(k[p:]), "\x00")
		switch kind {
		case "f":
			put(name, r)
		case "c":
			put(CustomPrefix+name, r)
		case "p":
			err := unpackFields(r.Value, func(name, value string) {
				put(name, replication.Register{Value: []byte(value), Stamp: r.Stamp})
			})
			if err != nil {
				return false, fmt.Errorf("customer %s record %q: %w", id, k[p:], err)
			}
		case "d":
			rec.bin, rec.hasBin = r, true
		}
		return true, nil
	})
	return rec, err
}
