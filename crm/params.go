package crm

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// System parameters (系统参数, SPEC §8) are replicated: an administrator
// changes one at any node and every replica applies the change. Each key is
// its own last-writer-wins register ordered by (hlc, origin), so concurrent
// changes of different keys both survive and of one key the later wins. An
// empty value resets the key to its default, which is known only to the
// code that reads it (GetParam's def), so defaults can change with a new
// version without rewriting any state.
//
//	crm \0 param \0 key   register: value

// KindParamSet is the event kind of a parameter change.
const KindParamSet = "crm.param.set"

// Parameters read by this package.
const (
	// ParamBlacklistThreshold is the number of distinct agents whose flags
	// blacklist a number (default DefaultBlacklistThreshold).
	ParamBlacklistThreshold = "blacklist.threshold"
	// ParamBlacklistPolicy is the policy of numbers listed without one of
	// their own: "warn" or "reject" (default "warn").
	ParamBlacklistPolicy = "blacklist.default_policy"
	// ParamCreditLowLevels lists, comma-separated, the credit levels that
	// call for caution (default "C").
	ParamCreditLowLevels = "credit.low_levels"
	// ParamCreditBadLevels lists the credit levels that call for a danger
	// warning (default "D").
	ParamCreditBadLevels = "credit.bad_levels"
)

// Limits on parameters.
const (
	maxParamKey   = 64
	maxParamValue = 1000 // characters
)

var paramKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// paramChecks validate the values of the known keys; other well-formed keys
// take any text (they belong to code that validates what it reads).
var paramChecks = map[string]func(string) error{
	ParamBlacklistThreshold: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxBlacklistThreshold {
			return fault.Invalidf("threshold", "bad_threshold", "must be a whole number from 1 to %d", MaxBlacklistThreshold)
		}
		return nil
	},
	ParamBlacklistPolicy: func(v string) error {
		if v != string(PolicyWarn) && v != string(PolicyReject) {
			return fault.Invalidf("default_policy", "bad_policy", "must be %q or %q", PolicyWarn, PolicyReject)
		}
		return nil
	},
}

func paramKey(key string) []byte { return replication.Key("crm", "param", key) }

// Entity of a parameter's events.
func paramEntity(key string) string { return "param/" + key }

func checkParam(key, value string) error {
	if len(key) > maxParamKey || !paramKeyRe.MatchString(key) {
		return fault.Invalidf("key", "bad_key", "%q is not a parameter name (like blacklist.threshold)", key)
	}
	if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
		return fault.Invalidf(key, "bad_text", "not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(value); n > maxParamValue {
		return fault.Invalidf(key, "too_long", "%d characters, at most %d", n, maxParamValue)
	}
	if check := paramChecks[key]; check != nil && value != "" {
		return check(value)
	}
	return nil
}

// SetParam decides the event that sets parameter key to value ("" resets
// it to its default). ok is false when the value does not change.
func SetParam(views replication.Tx, key, value string) (d replication.Draft, ok bool, err error) {
	d, _, ok, err = ChangeParam(views, key, value)
	return d, ok, err
}

// ChangeParam is SetParam that returns besides the value the parameter
// had ("" when it was never set), read to decide the change: its audit
// entry says what the value was.
func ChangeParam(views replication.Tx, key, value string) (d replication.Draft, before string, ok bool, err error) {
	value = strings.TrimSpace(value)
	if err := checkParam(key, value); err != nil {
		return d, "", false, err
	}
	r, set, err := replication.GetRegister(views, paramKey(key))
	if err != nil {
		return d, "", false, err
	}
	if set {
		before = string(r.Value)
	}
	if set && string(r.Value) == value || !set && value == "" {
		return d, before, false, nil
	}
	return replication.Draft{Kind: KindParamSet, Entity: paramEntity(key), Body: &crmv1.ParamSet{Key: key, Value: value}}, before, true, nil
}

// GetParam returns the value of parameter key, or def when it was never set
// or was reset.
func GetParam(views replication.Tx, key, def string) (string, error) {
	r, ok, err := replication.GetRegister(views, paramKey(key))
	if err != nil || !ok || len(r.Value) == 0 {
		return def, err
	}
	return string(r.Value), nil
}

// ParamInfo is a parameter's value with who set it last and when.
type ParamInfo struct {
	Value string
	Set   bool // false: the default is in force
	Stamp replication.Stamp
}

// GetParamInfo reads parameter key with its stamp.
func GetParamInfo(views replication.Tx, key, def string) (ParamInfo, error) {
	r, ok, err := replication.GetRegister(views, paramKey(key))
	if err != nil {
		return ParamInfo{}, err
	}
	if !ok || len(r.Value) == 0 {
		return ParamInfo{Value: def, Stamp: r.Stamp}, nil
	}
	return ParamInfo{Value: string(r.Value), Set: true, Stamp: r.Stamp}, nil
}

// getIntParam reads an integer parameter; a value that does not parse
// (written by a newer version with other rules) reads as def.
func getIntParam(views replication.Tx, key string, def int) (int, error) {
	v, err := GetParam(views, key, "")
	if err != nil || v == "" {
		return def, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def, nil
	}
	return n, nil
}

// RegisterParams adds the parameter applier to r.
func RegisterParams(r *replication.Registry) {
	replication.Handle(r, KindParamSet, applyParamSet, checkParamSet)
}

func checkParamSet(ev *replication.Event, b *crmv1.ParamSet) error {
	if ev.Entity != paramEntity(b.GetKey()) {
		return fault.Invalidf("entity", "bad_entity", "%q is not the entity of parameter %q", ev.Entity, b.GetKey())
	}
	return checkParam(b.GetKey(), b.GetValue())
}

func applyParamSet(tx replication.Tx, ev *replication.Event, b *crmv1.ParamSet) error {
	if len(b.GetKey()) > maxParamKey || !paramKeyRe.MatchString(b.GetKey()) {
		return nil // not a key this version can address; ignore
	}
	_, _, err := replication.SetRegister(tx, paramKey(b.GetKey()), []byte(b.GetValue()), replication.StampOf(ev))
	return err
}
