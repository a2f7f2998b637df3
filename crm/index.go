package crm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/width"

	"branchline/replication"
	"branchline/textindex"
)

// Derived indexes. Every index entry of a customer is a pure function of
// the customer's current state (its record, its live contacts, whether it
// is in the recycle bin or merged away), recomputed by reindexCustomer
// after each change and diffed against the entries written last time. So
// the indexes never depend on the order events arrived in, and overwriting
// a value removes the grams of the value it replaced. They are a
// replication.Index (CustomerIndex): a node builds them behind the commit,
// outside the replicated views and their digest; the hub keeps none.
//
//	crm \0 live \0 id                 -> ""   customers shown in lists and search
//	crm \0 bin \0 id                  -> ""   the recycle bin
//	crm \0 phone \0 e164 \0 id        -> sources ("mobile,contact_phone")
//	crm \0 st \0 id                   -> the text type-ahead searches, see below
//	crm \0 nm \0 name \0 id           -> folded city (duplicate detection)
//	crm \0 at \0 field \0 value \0 id -> ""   equality search
//	crm \0 ix \0 id                   -> the entries above written for id
//
// The searched text ("st") of a customer is its folded name, mnemonic and
// code and the national digits of each of its phones, separated by NUL:
// one entry per customer, where a stored substring index needed one per
// n-gram (dozens per customer, most of a catch-up's cost). A node keeps
// them in memory too, in a substring index (textindex) that answers a
// type-ahead of one character among a million customers in
// milliseconds; a replica without that memory scans the entries.
func livePrefix() []byte              { return replication.Prefix("crm", "live") }
func liveKey(id string) []byte        { return replication.Key("crm", "live", id) }
func binPrefix() []byte               { return replication.Prefix("crm", "bin") }
func binKey(id string) []byte         { return replication.Key("crm", "bin", id) }
func phoneKey(e164, id string) []byte { return replication.Key("crm", "phone", e164, id) }
func phonePrefix(e164 string) []byte  { return replication.Prefix("crm", "phone", e164) }
func textKey(id string) []byte        { return replication.Key("crm", "st", id) }
func nameKey(name, id string) []byte  { return replication.Key("crm", "nm", name, id) }
func namePrefix(name string) []byte   { return replication.Prefix("crm", "nm", name) }
func indexRecordKey(id string) []byte { return replication.Key("crm", "ix", id) }

func attrKey(field, value, id string) []byte {
	return replication.Key("crm", "at", field, value, id)
}

func attrPrefix(field, value string) []byte { return replication.Prefix("crm", "at", field, value) }

// textPrefix holds the searched texts.
func textPrefix() []byte { return replication.Prefix("crm", "st") }

// maxAttrLen bounds the values indexed for equality search.
const maxAttrLen = 200

// textFields are the built-in text fields type-ahead searches, in the
// order it reports a match (then the phones).
var textFields = []string{"display_name", "mnemonic", "code"}

// Fold is the form values are compared and indexed in: full-width letters
// and digits as ASCII, lower case, without white space. "ＡＢＣ 公司"
// folds to "abc公司".
func Fold(s string) string {
	s = width.Fold.String(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == 0 {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// searchText is the searched text of c: its text fields folded, then its
// phones' digits, NUL between them (a match never crosses one).
func searchText(c *Customer) string {
	var b strings.Builder
	for _, name := range textFields {
		if v := c.Fields[name]; v != "" {
			b.WriteString(Fold(v))
			b.WriteByte(0)
		}
	}
	for _, f := range Fields {
		if v := c.Fields[f.Name]; v != "" && f.typ == phoneField {
			b.WriteString(phoneDigits(v))
			b.WriteByte(0)
		}
	}
	return strings.TrimSuffix(b.String(), "\x00")
}

// phoneDigits returns the digits of a stored (E.164) number as people of
// the default region dial it: "+8613812345678" → "13812345678",
// "+862162345678" → "02162345678".
//
// Chinese numbers, nearly all of them, take a fast path: formatting with
// phonenumbers (regular expressions) was a fifth of the cost of indexing a
// customer. Mobile numbers (eleven digits, 13… to 19…) are dialled as
// they are, others with the trunk prefix 0 (Beijing's 10… included); the few service numbers without one (400…, 800…) get
// it too, which costs nothing to searches: "0400…" holds "400…".
func phoneDigits(e164 string) string {
	if national, ok := strings.CutPrefix(e164, "+86"); ok && DefaultRegion == "CN" && isE164(e164) {
		if len(national) == 11 && national[0] == '1' && national[1] >= '3' {
			return national
		}
		return "0" + national
	}
	return digitsOf(FormatPhone(e164, DefaultRegion))
}

// Digits keeps the digits of s: "139 1234-5678" → "13912345678".
func Digits(s string) string { return digitsOf(s) }

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// isPhoneQuery reports whether typed text is a (partial) phone number:
// digits with the separators people type.
func isPhoneQuery(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() ", r):
		default:
			return false
		}
	}
	return digits > 0
}

// queryForm is the form a typed query is looked up in.
func queryForm(s string) string {
	s = width.Fold.String(s)
	if isPhoneQuery(s) {
		return digitsOf(s)
	}
	return Fold(s)
}

// indexEntries computes the index entries of id from its current state:
// all of them, or (shipped) only those CustomerIndex ships in snapshots.
func indexEntries(tx replication.Tx, id string, shipped bool) (map[string]string, error) {
	if _, err := tx.Get(redirectKey(id)); err == nil {
		return nil, nil // merged away: the winner is indexed
	} else if !errors.Is(err, replication.ErrNotFound) {
		return nil, err
	}
	c, err := readCustomer(tx, id)
	if err != nil || c == nil {
		return nil, err
	}
	out := make(map[string]string, 32)
	if c.Deleted {
		if !shipped {
			out[string(binKey(id))] = ""
		}
		return out, nil
	}
	all := !shipped
	if all {
		out[string(liveKey(id))] = ""
	}
	sources := map[string][]string{}
	for _, f := range Fields {
		v := c.Fields[f.Name]
		switch {
		case v == "":
		case f.typ == phoneField:
			sources[v] = append(sources[v], f.Name)
		case all && f.MaxLen <= 64:
			out[string(attrKey(f.Name, Fold(v), id))] = ""
		}
	}
	if t := searchText(c); t != "" {
		out[string(textKey(id))] = t
	}
	if all {
		for k, v := range c.Custom {
			if v != "" && len([]rune(v)) <= maxAttrLen {
				out[string(attrKey(CustomPrefix+k, Fold(v), id))] = ""
			}
		}
		out[string(countKey())] = ""
		for _, f := range countedFields {
			if v := Fold(c.Fields[f]); v != "" {
				out[string(attrCountKey(f, v))] = ""
			}
		}
		listEntries(c, out)
	}
	if n := NormalizeName(c.Fields["display_name"]); n != "" {
		out[string(nameKey(n, id))] = Fold(c.Fields["city"])
	}
	contacts, err := Contacts(tx, id)
	if err != nil {
		return nil, err
	}
	for _, ct := range contacts {
		for _, f := range contactPhoneFields {
			if v := ct.Fields[f]; v != "" {
				sources[v] = append(sources[v], "contact_phone")
			}
		}
	}
	for number, src := range sources {
		slices.Sort(src)
		out[string(phoneKey(number, id))] = strings.Join(slices.Compact(src), ",")
	}
	return out, nil
}

// CustomerIndex is the customers' search, phone, duplicate and list index:
// the entries above, recomputed for a customer whenever a write touches
// its record, its contacts or where it redirects to, with the searched
// texts in memory too (version 1 kept n-grams in the store).
var CustomerIndex = replication.Index{
	Name: "crm.customer",
	Prefixes: [][]byte{
		replication.Prefix("crm", "live"), replication.Prefix("crm", "bin"), replication.Prefix("crm", "phone"),
		replication.Prefix("crm", "st"), replication.Prefix("crm", "nm"), replication.Prefix("crm", "at"),
		replication.Prefix("crm", "ix"), replication.Prefix("crm", "so"), replication.Prefix("crm", "sf"), replication.Prefix("crm", "cnt"),
		replication.Prefix("crm", "sx"), // version 1's n-grams: dropped by reindexing
	},
	// A node serves screen pops, type-ahead and duplicate warnings from
	// the snapshot's entries at once; lists — their orders, filters,
	// counters, the live set and the recycle bin — and the records of
	// entries (17 of a customer's 20 index pairs, seven eighths of their
	// bytes) it builds behind.
	Shipped:        [][]byte{replication.Prefix("crm", "phone"), replication.Prefix("crm", "st"), replication.Prefix("crm", "nm")},
	Watch:          watchCustomer,
	Reindex:        reindexCustomer,
	ReindexShipped: reindexShipped,
	Version:        4, // 3: list orders and counters; 4: one entry per order, read both ways
	MemoryPrefix:   replication.Prefix("crm", "st"),
	Memory:         func() replication.Memory { return newTextMemory() },
}

// textMemory keeps the searched texts in a substring index, by customer.
type textMemory struct{ ix *textindex.Index }

func newTextMemory() *textMemory { return &textMemory{ix: textindex.New()} }

func (m *textMemory) Load(scan func(put func(k, v []byte)) error) error {
	n := len(textPrefix())
	return m.ix.Load(func(put func(id, text string)) error {
		return scan(func(k, v []byte) { put(string(k[n:]), string(v)) })
	})
}

func (m *textMemory) Set(k, v []byte) { m.ix.Put(string(k[len(textPrefix()):]), string(v)) }
func (m *textMemory) Delete(k []byte) { m.ix.Delete(string(k[len(textPrefix()):])) }

// HasTextMemory reports whether the replica whose views tx reads keeps
// the searched texts in memory.
func HasTextMemory(views replication.Tx) bool {
	m, ok := replication.MemoryOf(views, CustomerIndex.Name).(*textMemory)
	return ok && m != nil
}

// findText returns the ids of up to max customers (0: all) whose
// searched text holds q (in query form): the newest first from a
// replica's memory, else in id order from the stored entries.
func findText(views replication.Tx, q string, max int) ([]string, error) {
	var ids []string
	if m, ok := replication.MemoryOf(views, CustomerIndex.Name).(*textMemory); ok && m != nil {
		m.ix.Find(q, func(id, _ string) bool {
			ids = append(ids, id)
			return max == 0 || len(ids) < max
		})
		return ids, nil
	}
	p := textPrefix()
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		for f := range bytes.SplitSeq(v, []byte{0}) {
			if bytes.Contains(f, []byte(q)) {
				ids = append(ids, string(k[len(p):]))
				break
			}
		}
		return max == 0 || len(ids) < max, nil
	})
	return ids, err
}

var (
	custWatch     = replication.Prefix("crm", "cust")
	contactWatch  = replication.Prefix("crm", "ct")
	redirectWatch = replication.Prefix("crm", "redirect")
)

// watchCustomer names the customer whose index a write to key changes.
func watchCustomer(key []byte) (string, bool) {
	for _, p := range [][]byte{custWatch, contactWatch, redirectWatch} {
		if rest, ok := bytes.CutPrefix(key, p); ok {
			id, _, _ := bytes.Cut(rest, []byte{0})
			return string(id), len(id) > 0
		}
	}
	return "", false
}

// reindexCustomer brings the index entries of id up to date with its state.
func reindexCustomer(tx replication.Tx, id string) error {
	want, err := indexEntries(tx, id, false)
	if err != nil {
		return err
	}
	return reindexTo(tx, id, want)
}

// reindexShipped brings only the entries a snapshot ships up to date (and
// the record of them): what views kept for snapshots hold, which nobody
// searches or lists (the hub's company views): some three pairs of a
// customer's twenty, and no list orders, attributes or counters to
// compute. Index.ReindexShipped.
func reindexShipped(tx replication.Tx, id string) error {
	want, err := indexEntries(tx, id, true)
	if err != nil {
		return err
	}
	return reindexTo(tx, id, want)
}

// reindexTo writes id's entries want, removing those of its record that
// want lacks, and records want.
func reindexTo(tx replication.Tx, id string, want map[string]string) error {
	rec := indexRecordKey(id)
	had := map[string]string{}
	if b, err := tx.Get(rec); err == nil {
		if had, err = decodeIndexRecord(id, b); err != nil {
			return fmt.Errorf("index record of %s: %w", id, err)
		}
	} else if !errors.Is(err, replication.ErrNotFound) {
		return err
	}
	cnt := countPrefix()
	changed := false
	var err error
	for k := range had {
		if _, keep := want[k]; !keep {
			changed = true
			if strings.HasPrefix(k, string(cnt)) {
				err = replication.AddCount(tx, []byte(k), -1)
			} else {
				err = tx.Delete([]byte(k))
			}
			if err != nil {
				return err
			}
		}
	}
	for k, v := range want {
		if old, ok := had[k]; !ok || old != v {
			changed = true
			if strings.HasPrefix(k, string(cnt)) {
				err = replication.AddCount(tx, []byte(k), 1)
			} else {
				err = tx.Set([]byte(k), []byte(v))
			}
			if err != nil {
				return err
			}
		}
	}
	if len(want) == 0 {
		return tx.Delete(rec)
	}
	if !changed && len(had) > 0 {
		return nil // a change the indexes do not see (a note): the record stands
	}
	return tx.Set(rec, encodeIndexRecord(id, want))
}

// The index record of a customer lists the entries written for it, so
// that reindexing can delete those it no longer wants. Its keys share long
// prefixes ("crm\0so\0…") and nearly all end with the customer's id, so
// they are stored front-coded and without that id:
//
//	0x00, then per entry in key order:
//	  shared(uvarint) rest-length<<1 | ends-with-id (uvarint) rest
//	  value-length+1 (uvarint) value, or 0: the previous entry's value
//
// where the entry's key is the first shared bytes of the previous entry's
// stem, then rest (its stem), then the id when flagged. The list orders'
// entries all hold the same value (the columns a list filters on). This
// took the bench's sample customer's record from 1,457 to ≈ 590 bytes, a
// snapshot from 3,456 to 2,628 MiB per million customers, and a creation's
// index writes from 4,003 to 2,720 bytes (BENCHMARKS.md). Records written
// before (each key and value length-prefixed, whose first byte is never 0:
// keys are not empty) are read as well; a customer's next reindex rewrites
// its record.
const frontCoded = 0x00

// encodeIndexRecord writes the entries of customer id in key order, so
// that equal sets encode equally on every replica.
func encodeIndexRecord(id string, entries map[string]string) []byte {
	b := []byte{frontCoded}
	var prev, prevValue string
	for i, k := range slices.Sorted(maps.Keys(entries)) {
		stem, hasID := strings.CutSuffix(k, id)
		if !hasID || stem == "" {
			stem, hasID = k, false
		}
		shared := 0
		for shared < min(len(stem), len(prev)) && stem[shared] == prev[shared] {
			shared++
		}
		flag := uint64(0)
		if hasID {
			flag = 1
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(stem)-shared)<<1|flag)
		b = append(b, stem[shared:]...)
		if v := entries[k]; i > 0 && v == prevValue {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(v))+1)
			b = append(b, v...)
			prevValue = v
		}
		prev = stem
	}
	return b
}

var errBadIndexRecord = errors.New("corrupt index record")

func decodeIndexRecord(id string, b []byte) (map[string]string, error) {
	out := map[string]string{}
	err := eachIndexEntry(id, b, func(k, v []byte) bool {
		out[string(k)] = string(v)
		return true
	})
	return out, err
}

// eachIndexEntry hands fn the entries of customer id's index record b in
// key order, until fn returns false. k is valid only during the call.
func eachIndexEntry(id string, b []byte, fn func(k, v []byte) bool) error {
	if len(b) == 0 || b[0] != frontCoded {
		for len(b) > 0 {
			k, rest, ok := cutUvarintBytes(b)
			if !ok {
				return errBadIndexRecord
			}
			v, rest, ok := cutUvarintBytes(rest)
			if !ok {
				return errBadIndexRecord
			}
			if !fn(k, v) {
				return nil
			}
			b = rest
		}
		return nil
	}
	b = b[1:]
	var stem, key, v []byte
	for first := true; len(b) > 0; first = false {
		shared, w := binary.Uvarint(b)
		if w <= 0 || shared > uint64(len(stem)) {
			return errBadIndexRecord
		}
		b = b[w:]
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n>>1 {
			return errBadIndexRecord
		}
		rest := b[w : w+int(n>>1)]
		stem = append(stem[:shared], rest...)
		key = append(key[:0], stem...)
		if n&1 == 1 {
			key = append(key, id...)
		}
		b = b[w+int(n>>1):]
		vn, w := binary.Uvarint(b)
		switch {
		case w <= 0 || uint64(len(b)-w)+1 < vn || (vn == 0 && first):
			return errBadIndexRecord
		case vn == 0: // the previous entry's value
			b = b[w:]
		default:
			v, b = b[w:w+int(vn-1)], b[w+int(vn-1):]
		}
		if !fn(key, v) {
			return nil
		}
	}
	return nil
}

// scanIDs collects the distinct ids ending the keys below prefix (ids
// after the last separator), at most limit of them (0: all).
func scanIDs(views replication.Tx, prefix []byte, limit int) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	err := views.Scan(prefix, nil, func(k, _ []byte) (bool, error) {
		id := string(k[bytes.LastIndexByte(k, 0)+1:])
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return limit == 0 || len(ids) < limit, nil
	})
	return ids, err
}
