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
//	crm \0 sx \0 gram \0 id           -> ""   substring index, see below
//	crm \0 nm \0 name \0 id           -> folded city (duplicate detection)
//	crm \0 at \0 field \0 value \0 id -> ""   equality search
//	crm \0 ix \0 id                   -> the entries above written for id
//
// The substring index ("sx") stores, for every rune position of the
// folded name, mnemonic and code and of the national digits of each phone,
// the n-gram starting there, up to maxGram runes. Scanning the prefix q
// finds every value containing q: one rune is the unigram list, two runes
// the bigram list, longer queries are exact. A type-ahead therefore costs
// one prefix scan that stops once it has a page, instead of intersecting
// posting lists (which for grams such as 公司, 有限 or a digit pair hold
// most customers).
func livePrefix() []byte              { return replication.Prefix("crm", "live") }
func liveKey(id string) []byte        { return replication.Key("crm", "live", id) }
func binPrefix() []byte               { return replication.Prefix("crm", "bin") }
func binKey(id string) []byte         { return replication.Key("crm", "bin", id) }
func phoneKey(e164, id string) []byte { return replication.Key("crm", "phone", e164, id) }
func phonePrefix(e164 string) []byte  { return replication.Prefix("crm", "phone", e164) }
func gramKey(gram, id string) []byte  { return replication.Key("crm", "sx", gram, id) }
func nameKey(name, id string) []byte  { return replication.Key("crm", "nm", name, id) }
func namePrefix(name string) []byte   { return replication.Prefix("crm", "nm", name) }
func indexRecordKey(id string) []byte { return replication.Key("crm", "ix", id) }

func attrKey(field, value, id string) []byte {
	return replication.Key("crm", "at", field, value, id)
}

func attrPrefix(field, value string) []byte { return replication.Prefix("crm", "at", field, value) }

// gramPrefix is the scan prefix of every indexed value containing q.
func gramPrefix(q string) []byte {
	return append(replication.Prefix("crm", "sx"), q...)
}

const (
	// maxGram bounds the length, in runes, of the grams of the substring
	// index; longer queries scan by their first maxGram runes and are
	// verified against the record.
	maxGram = 8
	// maxGramStarts bounds how many positions of one value are indexed: a
	// substring starting after it is not found by type-ahead.
	maxGramStarts = 64
	// maxAttrLen bounds the values indexed for equality search.
	maxAttrLen = 200
)

// gramFields are the built-in text fields of the substring index, in the
// order type-ahead reports a match.
var gramFields = []string{"display_name", "mnemonic", "code"}

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

// phoneDigits returns the digits of a stored (E.164) number as people of
// the default region dial it: "+8613812345678" → "13812345678",
// "+862162345678" → "02162345678".
//
// Chinese numbers, nearly all of them, take a fast path: formatting with
// phonenumbers (regular expressions) was a fifth of the cost of indexing a
// customer. Mobile numbers (eleven digits, 13… to 19…) are dialled as
// they are, others with the trunk prefix 0 (Beijing's 10… included); the few service numbers without one (400…, 800…) get
// it too, which costs nothing to searches — every substring of the
// digits is indexed, and "0400…" holds "400…".
func phoneDigits(e164 string) string {
	if national, ok := strings.CutPrefix(e164, "+86"); ok && DefaultRegion == "CN" && isE164(e164) {
		if len(national) == 11 && national[0] == '1' && national[1] >= '3' {
			return national
		}
		return "0" + national
	}
	return digitsOf(FormatPhone(e164, DefaultRegion))
}

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

// addGrams adds the grams of a folded value.
func addGrams(out map[string]string, id, folded string) {
	rs := []rune(folded)
	for i := 0; i < len(rs) && i < maxGramStarts; i++ {
		out[string(gramKey(string(rs[i:min(len(rs), i+maxGram)]), id))] = ""
	}
}

// indexEntries computes the index entries of id from its current state.
func indexEntries(tx replication.Tx, id string) (map[string]string, error) {
	if _, err := tx.Get(redirectKey(id)); err == nil {
		return nil, nil // merged away: the winner is indexed
	} else if !errors.Is(err, replication.ErrNotFound) {
		return nil, err
	}
	c, err := readCustomer(tx, id)
	if err != nil || c == nil {
		return nil, err
	}
	out := map[string]string{}
	if c.Deleted {
		out[string(binKey(id))] = ""
		return out, nil
	}
	out[string(liveKey(id))] = ""
	sources := map[string][]string{}
	for _, f := range Fields {
		v := c.Fields[f.Name]
		switch {
		case v == "":
		case f.typ == phoneField:
			sources[v] = append(sources[v], f.Name)
			addGrams(out, id, phoneDigits(v))
		case f.MaxLen <= 64:
			out[string(attrKey(f.Name, Fold(v), id))] = ""
		}
	}
	for _, name := range gramFields {
		if v := c.Fields[name]; v != "" {
			addGrams(out, id, Fold(v))
		}
	}
	for k, v := range c.Custom {
		if v != "" && len([]rune(v)) <= maxAttrLen {
			out[string(attrKey(CustomPrefix+k, Fold(v), id))] = ""
		}
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
// its record, its contacts or where it redirects to.
var CustomerIndex = replication.Index{
	Name: "crm.customer",
	Prefixes: [][]byte{
		replication.Prefix("crm", "live"), replication.Prefix("crm", "bin"), replication.Prefix("crm", "phone"),
		replication.Prefix("crm", "sx"), replication.Prefix("crm", "nm"), replication.Prefix("crm", "at"),
		replication.Prefix("crm", "ix"),
	},
	Watch:   watchCustomer,
	Reindex: reindexCustomer,
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
	want, err := indexEntries(tx, id)
	if err != nil {
		return err
	}
	rec := indexRecordKey(id)
	had := map[string]string{}
	if b, err := tx.Get(rec); err == nil {
		if had, err = decodeIndexRecord(b); err != nil {
			return fmt.Errorf("index record of %s: %w", id, err)
		}
	} else if !errors.Is(err, replication.ErrNotFound) {
		return err
	}
	for k := range had {
		if _, keep := want[k]; !keep {
			if err := tx.Delete([]byte(k)); err != nil {
				return err
			}
		}
	}
	for k, v := range want {
		if old, ok := had[k]; !ok || old != v {
			if err := tx.Set([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
	}
	if len(want) == 0 {
		return tx.Delete(rec)
	}
	return tx.Set(rec, encodeIndexRecord(want))
}

// encodeIndexRecord writes entries in key order, so that equal sets encode
// equally on every replica.
func encodeIndexRecord(entries map[string]string) []byte {
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(entries[k])))
		b = append(b, entries[k]...)
	}
	return b
}

var errBadIndexRecord = errors.New("corrupt index record")

func decodeIndexRecord(b []byte) (map[string]string, error) {
	out := map[string]string{}
	next := func() (string, error) {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return "", errBadIndexRecord
		}
		s := string(b[w : w+int(n)])
		b = b[w+int(n):]
		return s, nil
	}
	for len(b) > 0 {
		k, err := next()
		if err != nil {
			return nil, err
		}
		v, err := next()
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
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
