package warehouse

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	"branchline/replication"
)

// The views of the package, all below "wh". Parts are codes validated by
// ValidCode, node ids or ULIDs, so none holds a 0x00.
//
//	wh \0 p \0 product \0 field              -> register (product field)
//	wh \0 bc \0 barcode \0 product           -> stamp of the claim
//	wh \0 w \0 warehouse \0 field            -> register (warehouse field)
//	wh \0 bin \0 warehouse \0 bin \0 field   -> register (bin field)
//	wh \0 sel \0 warehouse ...               -> add-wins set of seller nodes
//	wh \0 lim \0 warehouse \0 product \0 f   -> register (min, max, safety)
//	wh \0 s \0 wh \0 product \0 bin \0 batch -> counter: on hand
//	wh \0 t \0 wh \0 product                 -> counter: on hand, all bins
//	wh \0 bw \0 wh \0 product \0 batch       -> counter: batch on hand, all bins
//	wh \0 bi \0 product \0 batch             -> first register: batch dates
//	wh \0 m \0 record                        -> first register: history record
//	wh \0 mg \0 rtime \0 rrecord             -> record id (history, all)
//	wh \0 mw \0 wh \0 rtime \0 rrecord       -> record id (by warehouse)
//	wh \0 mp \0 product \0 rtime \0 rrecord  -> record id (by product)
//	wh \0 st \0 id                           -> first register: sheet opened
//	wh \0 stc \0 id \0 product \0 bin \0 batch -> register: counted
//	wh \0 stp \0 id \0 hlc \0 origin         -> a post (the first one counts)
//	wh \0 stx \0 id                          -> register: cancelled
//	wh \0 sto \0 wh \0 id                    -> "" while the sheet is open
//	wh \0 sti \0 wh \0 rid                   -> "" (sheets of a warehouse)
//	wh \0 trs \0 id / trr \0 id              -> first register: shipped / received
//	wh \0 tit \0 id \0 product \0 batch      -> counter: shipped − received
//	wh \0 tro \0 to \0 id                    -> "" while shipped and not received
//	wh \0 tri \0 wh \0 rid                   -> "" (transfers from or to wh)
//	wh \0 r \0 id                            -> first register: reservation made
//	wh \0 rr \0 id / rs \0 id / rn \0 id     -> first registers: released, shipped, notice
//	wh \0 rv \0 wh \0 product                -> counter: reserved (active)
//	wh \0 rl \0 wh \0 product                -> counter: reserved locally (not escrow)
//	wh \0 ri \0 wh \0 rid / rf \0 ref \0 rid -> "" (reservations by warehouse, by ref)
//	wh \0 ep \0 wh \0 product                -> counter: escrow pool
//	wh \0 es \0 wh \0 product \0 node        -> counter: node's share
//	wh \0 esn \0 node \0 wh \0 product       -> counter: the same, by node
//	wh \0 er / ec / eb \0 wh \0 product      -> counters: released, reclaimed, backing
//	wh \0 et \0 wh \0 product                -> register: targets
//	wh \0 ed \0 wh \0 product                -> "" while the targets are stale
//	wh \0 po \0 id / poc \0 id               -> first register: created / closed
//	wh \0 por \0 id \0 product               -> counter: received
//	wh \0 poi \0 wh \0 rid                   -> ""
//	wh \0 n \0 id / nc \0 id                 -> first register: created / confirmed
//	wh \0 ni \0 wh \0 rid                    -> ""
//
// "rid" is an id with its bytes complemented, and "rtime" a time counted
// down, so that ascending scans list newest first.

const root = "wh"

func key(parts ...string) []byte    { return replication.Key(append([]string{root}, parts...)...) }
func prefix(parts ...string) []byte { return replication.Prefix(append([]string{root}, parts...)...) }

// rev complements the bytes of an id (ASCII, never 0xff), so that ids
// sort in reverse.
func rev(id string) string {
	b := []byte(id)
	for i := range b {
		b[i] = 0xff - b[i]
	}
	return string(b)
}

// rtime is a time in milliseconds counted down from the largest, in fixed
// width, so that later times sort first.
func rtime(ms int64) string {
	return fmt.Sprintf("%016x", uint64(math.MaxInt64-max(ms, 0)))
}

// parts splits what follows a prefix into its 0x00-separated parts.
func parts(k, p []byte) []string { return strings.Split(string(k[len(p):]), "\x00") }

// ms converts a time to Unix milliseconds, 0 for the zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMs converts Unix milliseconds, 0 being the zero time.
func fromMs(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// First registers keep the value of the write with the earliest stamp —
// the first claim wins, as with the records of the move history. They use
// the layout of replication's registers: HLC (8 bytes), origin length,
// origin, value.

func encodeFirst(value []byte, s replication.Stamp) []byte {
	b := make([]byte, 9+len(s.Origin)+len(value))
	binary.BigEndian.PutUint64(b, uint64(s.HLC))
	b[8] = byte(len(s.Origin))
	copy(b[9:], s.Origin)
	copy(b[9+len(s.Origin):], value)
	return b
}

var errBadFirst = errors.New("corrupt first register")

func decodeFirst(b []byte) (replication.Register, error) {
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return replication.Register{}, errBadFirst
	}
	n := int(b[8])
	return replication.Register{
		Stamp: replication.Stamp{HLC: replication.HLC(binary.BigEndian.Uint64(b)), Origin: string(b[9 : 9+n])},
		Value: append([]byte(nil), b[9+n:]...),
	}, nil
}

// getFirst reads the first register at k.
func getFirst(tx replication.Tx, k []byte) (replication.Register, bool, error) {
	b, err := tx.Get(k)
	if errors.Is(err, replication.ErrNotFound) {
		return replication.Register{}, false, nil
	}
	if err != nil {
		return replication.Register{}, false, err
	}
	r, err := decodeFirst(b)
	if err != nil {
		return replication.Register{}, false, fmt.Errorf("%q: %w", k, err)
	}
	return r, true, nil
}

// setFirst writes value at k unless the register holds a write of an
// earlier (or the same) stamp. It reports whether the write won and what
// it displaced.
func setFirst(tx replication.Tx, k, value []byte, s replication.Stamp) (won bool, prev replication.Register, had bool, err error) {
	prev, had, err = getFirst(tx, k)
	if err != nil {
		return false, prev, had, err
	}
	if had && !prev.Stamp.After(s) {
		return false, prev, had, nil
	}
	return true, prev, had, tx.Set(k, encodeFirst(value, s))
}

// exists reports whether key k is present.
func exists(tx replication.Tx, k []byte) (bool, error) {
	_, err := tx.Get(k)
	if errors.Is(err, replication.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// addCounters adds delta to each counter key.
func addCounters(tx replication.Tx, delta int64, keys ...[]byte) error {
	if delta == 0 {
		return nil
	}
	for _, k := range keys {
		if _, err := replication.AddCounter(tx, k, delta); err != nil {
			return err
		}
	}
	return nil
}

// errStop ends a page scan early, without an error.
var errStop = errors.New("stop")

// pageOf scans prefix p from just after the key named by token (from a
// previous page), calling fn for each key until limit keys were taken,
// and returns the token of the next page ("" at the end). fn returns
// errStop to end the scan. Tokens are hex, safe in any text field.
func pageOf(tx replication.Tx, p []byte, token string, limit int, fn func(k, v []byte) (take bool, err error)) (string, error) {
	return pageFrom(tx, p, nil, token, limit, fn)
}

// pageFrom is pageOf starting at first (a key below p) when there is no
// token.
func pageFrom(tx replication.Tx, p, first []byte, token string, limit int, fn func(k, v []byte) (take bool, err error)) (string, error) {
	start, err := pageStart(p, token)
	if err != nil {
		return "", err
	}
	if start == nil {
		start = first
	}
	n, last, next := 0, "", ""
	err = tx.Scan(p, start, func(k, v []byte) (bool, error) {
		if n >= limit {
			next = last
			return false, nil
		}
		take, err := fn(k, v)
		if err != nil {
			return false, err
		}
		if take {
			n++
			last = string(k[len(p):])
		}
		return true, nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if next == "" || err != nil {
		return "", err
	}
	return hexToken(next), nil
}

// pageStart is where the page after token begins: the successor of the
// key the token names.
func pageStart(p []byte, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	suffix, err := hex.DecodeString(token)
	if err != nil || len(suffix) == 0 || len(suffix) > 512 {
		return nil, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return append(append(append([]byte(nil), p...), suffix...), 0), nil
}

func isNotFound(err error) bool { return errors.Is(err, fault.ErrNotFound) }

// hexToken makes a page token of a key suffix.
func hexToken(s string) string { return hex.EncodeToString([]byte(s)) }

// listNewest pages through the index of warehouse wh named by index,
// whose keys end in reversed ids (newest first), reading each with get.
func listNewest[T any](views replication.Tx, index, wh, token string, limit int, get func(replication.Tx, string) (T, error)) ([]T, string, error) {
	if err := checkCode("warehouse", wh, "warehouse"); err != nil {
		return nil, "", err
	}
	p := prefix(index, wh)
	var out []T
	next, err := pageOf(views, p, token, limit, func(k, _ []byte) (bool, error) {
		x, err := get(views, rev(string(k[len(p):])))
		if err != nil {
			return false, err
		}
		out = append(out, x)
		return true, nil
	})
	return out, next, err
}

// readFirst decodes the first register at k into m and returns the stamp
// of its write; ok is false when there is none.
func readFirst(views replication.Tx, k []byte, m proto.Message) (s replication.Stamp, ok bool, err error) {
	r, ok, err := getFirst(views, k)
	if err != nil || !ok {
		return s, false, err
	}
	if err := proto.Unmarshal(r.Value, m); err != nil {
		return s, false, fmt.Errorf("%q: %w", k, err)
	}
	return r.Stamp, true, nil
}

// recordFirst writes event ev's body at k unless the register holds an
// earlier event's (setFirst).
func recordFirst(tx replication.Tx, k []byte, body proto.Message, ev *replication.Event) (won bool, prev replication.Register, had bool, err error) {
	v, err := marshal.Marshal(body)
	if err != nil {
		return false, prev, false, err
	}
	return setFirst(tx, k, v, replication.StampOf(ev))
}

// readRecord reads into m the first write of record id (what names it,
// "stocktake") at key(id): fault.ErrNotFound when there is none or id is
// not a record's id.
func readRecord(views replication.Tx, what, id string, key func(string) []byte, m proto.Message) (replication.Stamp, error) {
	if !replication.ValidULID(id) {
		return replication.Stamp{}, fmt.Errorf("%s %q: %w", what, id, fault.ErrNotFound)
	}
	s, ok, err := readFirst(views, key(id), m)
	if err == nil && !ok {
		err = fmt.Errorf("%s %s: %w", what, id, fault.ErrNotFound)
	}
	return s, err
}
