package warehouse

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// Bounds on input. They keep one event well below replication.MaxBody.
const (
	// MaxCodeLen bounds product, warehouse, bin and batch codes.
	MaxCodeLen = 32
	// MaxLines bounds the lines of one move, sheet, transfer or order.
	MaxLines = 1000
	// MaxQty bounds one quantity.
	MaxQty = 1_000_000_000
	// MaxMoney bounds a price, in fen.
	MaxMoney = 1_000_000_000_000
	maxName  = 100
	maxNote  = 500
	maxRef   = 64
)

// ValidCode reports whether s can be a product, warehouse, bin or batch
// code: 1-32 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a
// letter or digit ("A100", "SH-01", "B2026.03").
func ValidCode(s string) bool {
	if s == "" || len(s) > MaxCodeLen || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func checkCode(field, s, what string) error {
	if !ValidCode(s) {
		return fault.Invalidf(field, "bad_code", "%q is not a %s code (1-%d of A-Z a-z 0-9 . _ -)", s, what, MaxCodeLen)
	}
	return nil
}

func checkNode(field, s string) error {
	if !replication.ValidNodeID(s) {
		return fault.Invalidf(field, "bad_node", "%q is not a node id", s)
	}
	return nil
}

func checkULID(field, s string) error {
	if !replication.ValidULID(s) {
		return fault.Invalidf(field, "bad_id", "%q is not an id", s)
	}
	return nil
}

// checkLine validates single-line text of at most maxRunes runes.
func checkLine(field, s string, maxRunes int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fault.Invalidf(field, "required", "is required")
	case !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n"):
		return fault.Invalidf(field, "bad_text", "not valid single-line text")
	case utf8.RuneCountInString(s) > maxRunes:
		return fault.Invalidf(field, "too_long", "at most %d characters", maxRunes)
	}
	return nil
}

// checkNote validates free text (line breaks allowed).
func checkNote(field, s string) error {
	switch {
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return fault.Invalidf(field, "bad_text", "not valid text")
	case utf8.RuneCountInString(s) > maxNote:
		return fault.Invalidf(field, "too_long", "at most %d characters", maxNote)
	}
	return nil
}

// checkQty validates a quantity that must be positive.
func checkQty(field string, q int64) error {
	switch {
	case q <= 0:
		return fault.Invalidf(field, "not_positive", "must be more than 0, not %d", q)
	case q > MaxQty:
		return fault.Invalidf(field, "too_large", "at most %d", MaxQty)
	}
	return nil
}

// fieldSpec validates and canonicalises the text form of each field of a
// kind of thing.
type fieldSpec map[string]func(string) (string, error)

func textField(field string, maxRunes int, required bool) func(string) (string, error) {
	return func(v string) (string, error) {
		v = strings.TrimSpace(v)
		return v, checkLine(field, v, maxRunes, required)
	}
}

func intField(field string, lo, hi int64) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "" {
			return "", nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return "", fault.Invalidf(field, "bad_number", "%q is not a whole number from %d to %d", v, lo, hi)
		}
		if n == 0 {
			return "", nil
		}
		return strconv.FormatInt(n, 10), nil
	}
}

func boolField(field string) func(string) (string, error) {
	return func(v string) (string, error) {
		switch v {
		case "1", "true":
			return "1", nil
		case "", "0", "false":
			return "", nil
		}
		return "", fault.Invalidf(field, "bad_bool", "%q is not true or false", v)
	}
}

func enumField(field string, values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "" || slices.Contains(values, v) {
			return v, nil
		}
		return "", fault.Invalidf(field, "bad_"+field, "%q is not one of %s", v, strings.Join(values, ", "))
	}
}

// canonical validates fields and returns them in name order.
func (spec fieldSpec) canonical(fields map[string]string, what string) ([]*eventv1.FieldValue, error) {
	out := make([]*eventv1.FieldValue, 0, len(fields))
	for name, raw := range fields {
		check, ok := spec[name]
		if !ok {
			return nil, fault.Invalidf(name, "unknown_field", "no such %s field", what)
		}
		if !utf8.ValidString(raw) || strings.ContainsAny(raw, "\x00\r\n") {
			return nil, fault.Invalidf(name, "bad_text", "not valid single-line text")
		}
		v, err := check(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, &eventv1.FieldValue{Field: name, Value: v})
	}
	slices.SortFunc(out, func(a, b *eventv1.FieldValue) int { return strings.Compare(a.Field, b.Field) })
	return out, nil
}

// check validates the fields of an event: known, written once, canonical.
func (spec fieldSpec) check(fvs []*eventv1.FieldValue, what string) error {
	if len(fvs) == 0 {
		return fault.Invalidf("fields", "required", "no field written")
	}
	m := make(map[string]string, len(fvs))
	for _, f := range fvs {
		if _, dup := m[f.GetField()]; dup {
			return fault.Invalidf(f.GetField(), "duplicate", "field written twice")
		}
		m[f.GetField()] = f.GetValue()
	}
	vals, err := spec.canonical(m, what)
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

// pick selects the named fields of all (every field when names is empty).
func (spec fieldSpec) pick(all map[string]string, names []string, what string) (map[string]string, error) {
	if len(names) == 0 {
		return all, nil
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if _, ok := spec[n]; !ok {
			return nil, fault.Invalidf(n, "unknown_field", "no such %s field", what)
		}
		out[n] = all[n]
	}
	return out, nil
}

// applyFields writes each field this version knows into its register;
// won is called for each write that won, with the value it replaced.
func (spec fieldSpec) apply(tx replication.Tx, fvs []*eventv1.FieldValue, keyOf func(field string) []byte, s replication.Stamp,
	won func(field string, prev replication.Register) error) error {
	for _, f := range fvs {
		if _, known := spec[f.GetField()]; !known {
			continue
		}
		ok, prev, err := replication.SetRegister(tx, keyOf(f.GetField()), []byte(f.GetValue()), s)
		if err != nil {
			return err
		}
		if ok && won != nil {
			if err := won(f.GetField(), prev); err != nil {
				return err
			}
		}
	}
	return nil
}

// readFields reads the field registers below p.
func readFields(tx replication.Tx, p []byte) (map[string]string, error) {
	return replication.ReadRegisters(tx, p)
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64) // canonical values; "" is 0
	return n
}

func itoa(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func btoa(b bool) string {
	if b {
		return "1"
	}
	return ""
}
