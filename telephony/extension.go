package telephony

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strings"
	"unicode/utf8"

	"branchline/dialplan"
	"branchline/fault"
	"branchline/replication"
)

// Realm is the digest-authentication realm of every Branchline node. It is
// fixed so that the HA1 of an extension, computed once where the
// password is set and replicated, is valid at every node.
const Realm = "branchline"

// HA1 is the digest secret of user in Realm: MD5(user:realm:password)
// (RFC 2617). Nodes keep HA1, never the password.
func HA1(user, password string) string {
	sum := md5.Sum([]byte(user + ":" + Realm + ":" + password))
	return hex.EncodeToString(sum[:])
}

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	numberRe = regexp.MustCompile(`^\+?[0-9]{1,20}$`)
	ha1Re    = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// ValidExtension reports whether s can be an extension number: 2 to 10
// digits (dialplan's rule, which crm/pickup shares for couriers).
func ValidExtension(s string) bool { return dialplan.ValidExtension(s) }

// ValidUser reports whether s can name a user in telephony configuration
// (dialplan's rule).
func ValidUser(s string) bool { return dialplan.ValidUser(s) }

// ValidName reports whether s can name a trunk or queue: 1-32 of a-z,
// 0-9 and '-', not starting with '-'.
func ValidName(s string) bool { return nameRe.MatchString(s) }

// ValidNumber reports whether s is a dialable number: digits with an
// optional leading '+', at most 20.
func ValidNumber(s string) bool { return numberRe.MatchString(s) }

func textCheck(field string, max int) func(string) (string, error) {
	return func(v string) (string, error) {
		if n := utf8.RuneCountInString(v); n > max {
			return "", fault.Invalidf(field, "too_long", "%d characters, at most %d", n, max)
		}
		return v, nil
	}
}

func userCheck(field string) func(string) (string, error) {
	return func(v string) (string, error) {
		if v != "" && !ValidUser(v) {
			return "", fault.Invalidf(field, "bad_user", "%q is not a user name", v)
		}
		return v, nil
	}
}

func ha1Check(v string) (string, error) {
	v = strings.ToLower(v)
	if v != "" && !ha1Re.MatchString(v) {
		return "", fault.Invalidf("password", "bad_hash", "not an MD5 digest secret")
	}
	return v, nil
}

var extensionKind = &configKind{
	name: "extension", validID: ValidExtension, idField: "number",
	fields: map[string]func(string) (string, error){
		"user":         userCheck("user"),
		"display_name": textCheck("display_name", 64),
		"ha1":          ha1Check,
	},
}

// Extension is a phone number of the building. User is the user it
// belongs to; HA1 its digest secret (see HA1).
type Extension struct {
	Number      string
	User        string
	DisplayName string
	HA1         string
}

// ExtensionEntity is the entity of extension number.
func ExtensionEntity(number string) string { return extensionKind.entity(number) }

// SetExtension decides the event that creates or updates extension e. A
// non-empty password replaces the digest secret; a new extension needs
// one.
func SetExtension(views replication.Tx, e Extension, password string) (replication.Draft, error) {
	fields := map[string]string{"user": e.User, "display_name": e.DisplayName}
	if password != "" {
		if len(password) < 6 || len(password) > 64 || strings.ContainsAny(password, "\x00\r\n") {
			return replication.Draft{}, fault.Invalidf("password", "bad_password", "6 to 64 characters")
		}
		fields["ha1"] = HA1(e.Number, password)
	} else if _, ok, err := extensionKind.get(views, e.Number); err != nil {
		return replication.Draft{}, err
	} else if !ok {
		return replication.Draft{}, fault.Invalidf("password", "required", "a new extension needs a password")
	}
	return extensionKind.set(e.Number, fields)
}

// RemoveExtension decides the event that removes extension number.
func RemoveExtension(views replication.Tx, number string) (replication.Draft, error) {
	return extensionKind.remove(views, number)
}

func extensionFrom(number string, f map[string]string) Extension {
	return Extension{Number: number, User: f["user"], DisplayName: f["display_name"], HA1: f["ha1"]}
}

// GetExtension reads extension number; ok is false when there is none.
func GetExtension(views replication.Tx, number string) (Extension, bool, error) {
	f, ok, err := extensionKind.get(views, number)
	if !ok || err != nil {
		return Extension{}, false, err
	}
	return extensionFrom(number, f), true, nil
}

// ListExtensions reads every extension in number order.
func ListExtensions(views replication.Tx) ([]Extension, error) {
	ids, all, err := extensionKind.list(views)
	if err != nil {
		return nil, err
	}
	out := make([]Extension, len(ids))
	for i, id := range ids {
		out[i] = extensionFrom(id, all[i])
	}
	return out, nil
}

// ExtensionOf returns the extension bound to user, if any (the first in
// number order).
func ExtensionOf(views replication.Tx, user string) (Extension, bool, error) {
	exts, err := ListExtensions(views)
	if err != nil {
		return Extension{}, false, err
	}
	for _, e := range exts {
		if e.User == user {
			return e, true, nil
		}
	}
	return Extension{}, false, nil
}
