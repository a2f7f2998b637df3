package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// The merge rules of Branchline. Every applier writes its state through
// one of them, which is what makes apply commutative across origins.

// Stamp orders writes: by HLC, then by origin to break ties between
// origins (one origin never repeats an HLC).
type Stamp struct {
	HLC    HLC
	Origin string
}

// StampOf returns the stamp of an event.
func StampOf(ev *Event) Stamp { return Stamp{HLC: ev.HLC, Origin: ev.Origin} }

// After reports whether s orders after o.
func (s Stamp) After(o Stamp) bool {
	if s.HLC != o.HLC {
		return s.HLC > o.HLC
	}
	return s.Origin > o.Origin
}

// Register is the state of one last-writer-wins field.
type Register struct {
	Value []byte
	Stamp Stamp
}

func encodeRegister(value []byte, s Stamp) []byte {
	b := make([]byte, 8+1+len(s.Origin)+len(value))
	binary.BigEndian.PutUint64(b, uint64(s.HLC))
	b[8] = byte(len(s.Origin))
	copy(b[9:], s.Origin)
	copy(b[9+len(s.Origin):], value)
	return b
}

var errBadRegister = errors.New("corrupt register")

// DecodeRegister decodes a register's stored value, as read by a Scan.
func DecodeRegister(b []byte) (Register, error) {
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return Register{}, errBadRegister
	}
	n := int(b[8])
	return Register{
		Stamp: Stamp{HLC: HLC(binary.BigEndian.Uint64(b)), Origin: string(b[9 : 9+n])},
		Value: append([]byte(nil), b[9+n:]...),
	}, nil
}

// GetRegister reads the last-writer-wins register at key; ok is false when
// nothing was ever written.
func GetRegister(tx Tx, key []byte) (r Register, ok bool, err error) {
	b, err := tx.Get(key)
	if errors.Is(err, ErrNotFound) {
		return Register{}, false, nil
	}
	if err != nil {
		return Register{}, false, err
	}
	r, err = DecodeRegister(b)
	if err != nil {
		return Register{}, false, fmt.Errorf("register %q: %w", key, err)
	}
	return r, true, nil
}

// SetRegister writes value into the register at key if s orders after the
// register's current stamp (rule 1, per-field last writer wins). It
// returns whether the write won and the value it replaced, so that callers
// can maintain indexes. An empty value is a clear, kept with its stamp so
// that an older write arriving later still loses.
func SetRegister(tx Tx, key, value []byte, s Stamp) (won bool, prev Register, err error) {
	prev, ok, err := GetRegister(tx, key)
	if err != nil {
		return false, Register{}, err
	}
	if ok && !s.After(prev.Stamp) {
		return false, prev, nil
	}
	if err := tx.Set(key, encodeRegister(value, s)); err != nil {
		return false, prev, err
	}
	return true, prev, nil
}

// PutRegister writes value into a register the caller knows was never
// written (a record it has just found empty), without reading it first:
// the write every applier of a new record would otherwise pay a read for.
func PutRegister(tx Tx, key, value []byte, s Stamp) error {
	return tx.Set(key, encodeRegister(value, s))
}

// AddCounter adds delta to the counter at key (rule 2: quantities are
// signed deltas, summed, never absolute values) and returns the new total.
func AddCounter(tx Tx, key []byte, delta int64) (int64, error) {
	cur, err := GetCounter(tx, key)
	if err != nil {
		return 0, err
	}
	total := cur + delta
	if total == 0 {
		return 0, tx.Delete(key)
	}
	return total, tx.Set(key, []byte(strconv.FormatInt(total, 10)))
}

// GetCounter reads the counter at key; a missing counter is 0.
func GetCounter(tx Tx, key []byte) (int64, error) {
	b, err := tx.Get(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", key, err)
	}
	return n, nil
}

// Tag identifies one add to an add-wins set: the event that made it.
type Tag struct {
	Origin string
	Seq    uint64
}

// TagOf returns the tag of an event.
func TagOf(ev *Event) Tag { return Tag{Origin: ev.Origin, Seq: ev.Seq} }

func (t Tag) String() string { return t.Origin + ":" + strconv.FormatUint(t.Seq, 10) }

func parseTag(s string) (Tag, error) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			seq, err := strconv.ParseUint(s[i+1:], 10, 64)
			if err != nil {
				break
			}
			return Tag{Origin: s[:i], Seq: seq}, nil
		}
	}
	return Tag{}, fmt.Errorf("bad set tag %q", s)
}

// Add-wins observed-remove set (rule 3). Each add is kept under its own tag;
// a remove deletes only the tags its author had seen and leaves tombstones,
// so an add made concurrently with the remove survives, and an add that
// arrives after the remove that saw it stays removed.
//
//	set \0 a \0 elem \0 tag  -> ""   (live add)
//	set \0 r \0 elem \0 tag  -> ""   (tombstone)

// SetAdd adds elem to the set under the event's tag.
func SetAdd(tx Tx, set, elem string, tag Tag) error {
	if _, err := tx.Get(Key(set, "r", elem, tag.String())); err == nil {
		return nil // removed before this add arrived
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return tx.Set(Key(set, "a", elem, tag.String()), nil)
}

// SetRemove removes the observed adds of elem.
func SetRemove(tx Tx, set, elem string, observed []Tag) error {
	for _, t := range observed {
		if err := tx.Delete(Key(set, "a", elem, t.String())); err != nil {
			return err
		}
		if err := tx.Set(Key(set, "r", elem, t.String()), nil); err != nil {
			return err
		}
	}
	return nil
}

// SetTags returns the live tags of elem: what a remove issued now observes.
func SetTags(tx Tx, set, elem string) ([]Tag, error) {
	var tags []Tag
	err := tx.Scan(Prefix(set, "a", elem), nil, func(k, _ []byte) (bool, error) {
		t, err := parseTag(LastPart(k))
		if err != nil {
			return false, err
		}
		tags = append(tags, t)
		return true, nil
	})
	return tags, err
}

// SetContains reports whether elem has a live add.
func SetContains(tx Tx, set, elem string) (bool, error) {
	found := false
	err := tx.Scan(Prefix(set, "a", elem), nil, func(_, _ []byte) (bool, error) {
		found = true
		return false, nil
	})
	return found, err
}

// SetElems returns the elements with a live add, in order.
func SetElems(tx Tx, set string) ([]string, error) {
	var elems []string
	p := Prefix(set, "a")
	err := tx.Scan(p, nil, func(k, _ []byte) (bool, error) {
		rest := k[len(p):]
		i := len(rest) - 1
		for i >= 0 && rest[i] != 0 {
			i--
		}
		if i < 0 {
			return false, fmt.Errorf("bad set key %q", k)
		}
		e := string(rest[:i])
		if len(elems) == 0 || elems[len(elems)-1] != e {
			elems = append(elems, e)
		}
		return true, nil
	})
	return elems, err
}

// ReadRegisters reads every register whose key starts with prefix, by
// the rest of its key: a record kept as one last-writer-wins register per
// field. The map is empty, not nil, when there is none.
func ReadRegisters(tx Tx, prefix []byte) (map[string]string, error) {
	out := map[string]string{}
	err := tx.Scan(prefix, nil, func(k, v []byte) (bool, error) {
		r, err := DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("register %q: %w", k, err)
		}
		out[string(k[len(prefix):])] = string(r.Value)
		return true, nil
	})
	return out, err
}
