package access

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// fieldType says how a field of a user or role is validated.
type fieldType int

const (
	textField fieldType = iota
	usernameField
	departmentField
	phoneField
	extensionField
	flagField
	zoneField
	windowsField
)

// field describes one last-writer-wins field of a user or a role.
type field struct {
	name     string
	maxLen   int // in characters
	required bool
	typ      fieldType
}

func fieldByName(fields []field, name string) (field, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

var (
	usernameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	phoneRe     = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{1,30}$`)
	extensionRe = regexp.MustCompile(`^[0-9*#]{1,16}$`)
)

// reservedUsernames cannot be given to replicated users: "admin" is every
// node's local administrator, which must stay distinguishable from any
// company account.
var reservedUsernames = []string{"admin", "root", "system", "hub"}

// Reserved reports whether username is kept for a node's local accounts
// and cannot name a replicated user.
func Reserved(username string) bool {
	return slices.Contains(reservedUsernames, NormalizeUsername(username))
}

// NormalizeUsername returns the canonical form of a username as typed:
// trimmed and lower-cased. Logins, lookups and uniqueness use it.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// cleanText trims s and checks that it is text: valid UTF-8 without
// control characters, at most max characters.
func cleanText(name, s string, max int, required bool) (string, error) {
	v := strings.TrimSpace(s)
	if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", fault.Invalidf(name, "bad_text", "not valid text")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", fault.Invalidf(name, "too_long", "%d characters, at most %d", n, max)
	}
	if v == "" && required {
		return "", fault.Invalidf(name, "required", "is required")
	}
	return v, nil
}

// normalize validates one field value and returns its canonical form. It
// checks the value alone; references to other records are checked by the
// commands against the views.
func normalize(f field, raw string) (string, error) {
	if f.typ == usernameField {
		raw = NormalizeUsername(raw)
	}
	v, err := cleanText(f.name, raw, f.maxLen, f.required)
	if err != nil || v == "" {
		return v, err
	}
	switch f.typ {
	case usernameField:
		if !usernameRe.MatchString(v) {
			return "", fault.Invalidf(f.name, "bad_username", "%q: use 1-64 characters of a-z, 0-9, '.', '_' and '-'", v)
		}
	case departmentField:
		if !replication.ValidULID(v) {
			return "", fault.Invalidf(f.name, "bad_ref", "%q is not a department id", v)
		}
	case phoneField:
		if !phoneRe.MatchString(v) {
			return "", fault.Invalidf(f.name, "bad_phone", "%q is not a phone number", v)
		}
	case extensionField:
		if !extensionRe.MatchString(v) {
			return "", fault.Invalidf(f.name, "bad_extension", "%q is not an extension (digits, * and #)", v)
		}
	case flagField:
		if v != "1" {
			return "", fault.Invalidf(f.name, "bad_flag", "a flag is \"1\" or empty")
		}
	case zoneField:
		if _, err := loadZone(v); err != nil {
			return "", fault.Invalidf(f.name, "bad_time_zone", "%q is not a time zone", v)
		}
	case windowsField:
		ws, err := ParseWindows(v)
		if err != nil {
			return "", fault.Invalidf(f.name, "bad_window", "%v", err)
		}
		v = FormatWindows(ws)
	}
	return v, nil
}

// normalizeAll validates a set of field writes against a field list and
// returns them in list order.
func normalizeAll(fields []field, in map[string]string) ([]*eventv1.FieldValue, error) {
	for name := range in {
		if _, ok := fieldByName(fields, name); !ok {
			return nil, fault.Invalidf(name, "unknown_field", "no such field")
		}
	}
	var out []*eventv1.FieldValue
	for _, f := range fields {
		raw, ok := in[f.name]
		if !ok {
			continue
		}
		v, err := normalize(f, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, &eventv1.FieldValue{Field: f.name, Value: v})
	}
	return out, nil
}

// checkFields is the hub's check of field writes in an event: known
// fields (of this version) in canonical form.
func checkFields(fields []field, fvs []*eventv1.FieldValue) error {
	for _, fv := range fvs {
		f, ok := fieldByName(fields, fv.GetField())
		if !ok {
			return fault.Invalidf(fv.GetField(), "unknown_field", "no such field")
		}
		v, err := normalize(f, fv.GetValue())
		if err != nil {
			return err
		}
		if v != fv.GetValue() {
			return fault.Invalidf(f.name, "not_canonical", "value %q is not in canonical form", fv.GetValue())
		}
	}
	return nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// entityID returns the id of an entity "<kind>/<ULID>".
func entityID(ev *replication.Event, kind string) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, kind+"/")
	return id, ok && replication.ValidULID(id)
}

func checkEntity(ev *replication.Event, kind string) error {
	if _, ok := entityID(ev, kind); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a %s entity", ev.Entity, kind)
	}
	return nil
}

// stampHex is the fixed-width hex form of an HLC, so that keys sort in
// stamp order.
func stampHex(h replication.HLC) string { return fmt.Sprintf("%016x", uint64(h)) }

// exists reports whether key holds a value.
func exists(tx replication.Tx, key []byte) (bool, error) {
	_, err := tx.Get(key)
	if errors.Is(err, replication.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// getString reads a plain value; a missing key is "".
func getString(tx replication.Tx, key []byte) (string, bool, error) {
	b, err := tx.Get(key)
	if errors.Is(err, replication.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// registers reads every register below prefix into name → value, and
// returns the newest stamp among them.
func registers(tx replication.Tx, prefix []byte) (map[string]string, replication.HLC, error) {
	out := map[string]string{}
	var newest replication.HLC
	err := tx.Scan(prefix, nil, func(k, v []byte) (bool, error) {
		rest := k[len(prefix):]
		if strings.IndexByte(string(rest), 0) >= 0 {
			return true, nil // deeper keys (sets) are not registers
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("register %q: %w", k, err)
		}
		if len(r.Value) > 0 {
			out[string(rest)] = string(r.Value)
		}
		newest = max(newest, r.Stamp.HLC)
		return true, nil
	})
	return out, newest, err
}

// listIDs returns the ids of records stored as Key(prefix..., id) with
// their parts below, in id order.
func listIDs(tx replication.Tx, prefix []byte, after string, limit int) ([]string, error) {
	var start []byte
	if after != "" {
		start = append(append(append([]byte(nil), prefix...), after...), 1)
	}
	var ids []string
	err := tx.Scan(prefix, start, func(k, _ []byte) (bool, error) {
		rest := k[len(prefix):]
		if strings.IndexByte(string(rest), 0) >= 0 {
			return true, nil
		}
		ids = append(ids, string(rest))
		return limit <= 0 || len(ids) < limit, nil
	})
	return ids, err
}
