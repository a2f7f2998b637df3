package telephony

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// Records and callbacks by number: a customer card lists the calls and
// callbacks of the customer's numbers, and a call list searched by a
// number reads that number's calls, each in time proportional to the
// calls of those numbers rather than to all calls.
//
// The appliers write the entries in the transaction that records the
// call or callback, one key each and without reading anything more: the
// call-record applier runs for every call (up to 1,000 a second) and
// already holds the record's previous value (the register it sets), which
// is all it needs to move an entry.
//
//	tel \0 rnum \0 digits \0 arrive(16 hex) \0 id -> ""   (a call's outside party)
//	tel \0 cbnum \0 digits \0 id                   -> ""   (a callback's number)
//
// digits is the number as NumberKey keys it. The switch records numbers
// as the trunk sent them ("13800138000", "+8613800138000",
// "008613800138000"); this package knows no numbering plan, so a reader
// that holds a number in another notation asks for each of its
// notations (telephonyapp does, from the customer's E.164 numbers).

// NumberKey is the form the number indexes key a phone number by: its
// ASCII digits, in order ("+86 138-0013-8000" → "8613800138000"); "" for
// a number without any.
func NumberKey(number string) string {
	var b strings.Builder
	for i := 0; i < len(number); i++ {
		if c := number[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func recNumPrefix(digits string) []byte { return replication.Prefix("tel", "rnum", digits) }

func recNumKey(digits string, arriveMs int64, id string) []byte {
	return replication.Key("tel", "rnum", digits, fmt.Sprintf("%016x", uint64(arriveMs)), id)
}

func cbNumPrefix(digits string) []byte  { return replication.Prefix("tel", "cbnum", digits) }
func cbNumKey(digits, id string) []byte { return replication.Key("tel", "cbnum", digits, id) }

// setNumberEntry writes the number index entry of record b, if its
// outside party has a number.
func setNumberEntry(tx replication.Tx, b *telv1.CallEnded, id string) error {
	d := NumberKey(Party(b.GetDirection(), b.GetCaller(), b.GetDid()))
	if d == "" {
		return nil
	}
	return tx.Set(recNumKey(d, b.GetArriveMs(), id), nil)
}

// deleteNumberEntry removes the entry setNumberEntry wrote for b.
func deleteNumberEntry(tx replication.Tx, b *telv1.CallEnded, id string) error {
	d := NumberKey(Party(b.GetDirection(), b.GetCaller(), b.GetDid()))
	if d == "" {
		return nil
	}
	return tx.Delete(recNumKey(d, b.GetArriveMs(), id))
}

// CallRef names a call record as the time indexes hold it: when the call
// arrived (Unix milliseconds) and the record's id.
type CallRef struct {
	Arrive int64
	ID     string
}

// compareRefs orders refs by arrival, then id.
func compareRefs(a, b CallRef) int {
	return cmp.Or(cmp.Compare(a.Arrive, b.Arrive), strings.Compare(a.ID, b.ID))
}

// parseRef reads "arrive(16 hex) \0 id", the end of a time index key.
func parseRef(rest []byte) (CallRef, error) {
	ts, id, ok := bytes.Cut(rest, []byte{0})
	if !ok {
		return CallRef{}, fmt.Errorf("bad record index key %q", rest)
	}
	v, err := strconv.ParseUint(string(ts), 16, 64)
	if err != nil {
		return CallRef{}, fmt.Errorf("bad record index key %q: %w", rest, err)
	}
	return CallRef{Arrive: int64(v), ID: string(id)}, nil
}

// WindowCalls returns the refs of the calls that arrived in [from, to),
// oldest first, reading the time index's keys only (no record): the
// calls of a window are counted this way. At most max refs are read
// (max ≤ 0: all); more says there were more.
func WindowCalls(views replication.Tx, from, to time.Time, max int) (refs []CallRef, more bool, err error) {
	start := recTimeKey(ms(from), "")
	end := ms(to)
	err = views.Scan(recTimePrefix, start[:len(start)-1], func(k, _ []byte) (bool, error) {
		r, err := parseRef(k[len(recTimePrefix):])
		if err != nil || r.Arrive >= end {
			return false, err
		}
		if max > 0 && len(refs) == max {
			more = true
			return false, nil
		}
		refs = append(refs, r)
		return true, nil
	})
	return refs, more, err
}

// NumberCalls returns the refs of the calls whose outside party has one
// of numbers (each as NumberKey keys it; duplicates and numbers without
// digits are ignored) and that arrived in [from, to) (a zero to: any
// time after from), oldest first. It reads the number index's keys of
// those numbers: its cost is the calls of those numbers.
func NumberCalls(views replication.Tx, numbers []string, from, to time.Time) ([]CallRef, error) {
	var refs []CallRef
	seen := map[string]bool{}
	lo, hi := ms(from), ms(to)
	for _, n := range numbers {
		d := NumberKey(n)
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		p := recNumPrefix(d)
		var start []byte
		if lo > 0 {
			start = recNumKey(d, lo, "")
			start = start[:len(start)-1]
		}
		err := views.Scan(p, start, func(k, _ []byte) (bool, error) {
			r, err := parseRef(k[len(p):])
			if err != nil || hi > 0 && r.Arrive >= hi {
				return false, err
			}
			refs = append(refs, r)
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(refs, compareRefs)
	return slices.CompactFunc(refs, func(a, b CallRef) bool { return a.ID == b.ID }), nil
}

// NumberCallbacks returns the callbacks of numbers (as NumberCalls takes
// them), newest first, reading those numbers' entries only.
func NumberCallbacks(views replication.Tx, numbers []string) ([]*Callback, error) {
	var ids []string
	seen := map[string]bool{}
	for _, n := range numbers {
		d := NumberKey(n)
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		p := cbNumPrefix(d)
		err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k[len(p):]))
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	// ULIDs sort by creation time.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	slices.Reverse(ids)
	out := make([]*Callback, 0, len(ids))
	for _, id := range ids {
		cb, err := GetCallback(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, cb)
	}
	return out, nil
}
