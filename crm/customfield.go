package crm

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Event kinds of custom field definitions.
const (
	KindCustomFieldDefined = "crm.custom_field.defined"
	KindCustomFieldUpdated = "crm.custom_field.updated"
	KindCustomFieldRetired = "crm.custom_field.retired"
)

// Kinds of custom fields: how their values are checked.
const (
	CustomText   = "text"   // up to MaxCustomTextLen characters
	CustomNumber = "number" // a decimal number: "-12", "3.75"
	CustomDate   = "date"   // YYYY-MM-DD
	CustomChoice = "choice" // one of the field's options
)

// Limits of custom field definitions and values.
const (
	MaxCustomTextLen = 200
	MaxCustomOptions = 200
	maxLabelLen      = 64
)

// CustomField is a customer field an administrator defined. Each attribute
// of a definition is its own last-writer-wins register, and so is each
// customer's value of it (see setFields). Values are validated against the
// definition when written; retiring a field or changing its options leaves
// stored values as they are.
type CustomField struct {
	Key     string // [a-z][a-z0-9_]{0,31}; values are named "custom.<key>"
	Label   string
	Kind    string
	Options []string // of a choice field
	Retired bool
}

// crm \0 cfd \0 key \0 kind|label|options|retired -> register
func customDefKey(key, attr string) []byte { return replication.Key("crm", "cfd", key, attr) }
func customDefsPrefix() []byte             { return replication.Prefix("crm", "cfd") }

var customKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func validCustomKey(k string) bool { return customKeyRe.MatchString(k) }

func validDate(v string) bool {
	t, err := time.Parse(time.DateOnly, v)
	return err == nil && t.Format(time.DateOnly) == v
}

var numberRe = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,6})?$`)

// CustomFields lists the definitions in key order, retired ones too.
func CustomFields(views replication.Tx) ([]CustomField, error) {
	return scanDefs(views, customDefsPrefix())
}

// scanDefs reads the definitions whose keys start with p.
func scanDefs(views replication.Tx, p []byte) ([]CustomField, error) {
	var out []CustomField
	n := len(customDefsPrefix())
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		key, attr, _ := strings.Cut(string(k[n:]), "\x00")
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("custom field %s: %w", key, err)
		}
		if len(out) == 0 || out[len(out)-1].Key != key {
			out = append(out, CustomField{Key: key})
		}
		d := &out[len(out)-1]
		switch attr {
		case "kind":
			d.Kind = string(r.Value)
		case "label":
			d.Label = string(r.Value)
		case "options":
			if len(r.Value) > 0 {
				d.Options = strings.Split(string(r.Value), "\n")
			}
		case "retired":
			d.Retired = len(r.Value) > 0
		}
		return true, nil
	})
	// Attributes may arrive before the definition's kind: not yet defined.
	return slices.DeleteFunc(out, func(d CustomField) bool { return d.Kind == "" }), err
}

// GetCustomField reads one definition.
func GetCustomField(views replication.Tx, key string) (CustomField, error) {
	if !validCustomKey(key) {
		return CustomField{}, fault.Invalidf("key", "bad_key", "%q is not a custom field key ([a-z][a-z0-9_]{0,31})", key)
	}
	defs, err := scanDefs(views, replication.Prefix("crm", "cfd", key))
	if err != nil {
		return CustomField{}, err
	}
	for _, d := range defs {
		if d.Key == key {
			return d, nil
		}
	}
	return CustomField{}, fmt.Errorf("custom field %s: %w", key, fault.ErrNotFound)
}

// Check validates a raw value of the field and returns its canonical form.
// name is the field name errors carry ("custom.<key>").
func (d CustomField) Check(name, raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return "", fault.Invalidf(name, "bad_text", "not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(v); n > MaxCustomTextLen {
		return "", fault.Invalidf(name, "too_long", "%d characters, at most %d", n, MaxCustomTextLen)
	}
	if v == "" {
		return "", nil
	}
	switch d.Kind {
	case CustomNumber:
		if !numberRe.MatchString(v) {
			return "", fault.Invalidf(name, "bad_number", "%q is not a number", v)
		}
	case CustomDate:
		if !validDate(v) {
			return "", fault.Invalidf(name, "bad_date", "%q is not a date (YYYY-MM-DD)", v)
		}
	case CustomChoice:
		if !slices.Contains(d.Options, v) {
			return "", fault.Invalidf(name, "bad_choice", "%q is not one of %s", v, strings.Join(d.Options, ", "))
		}
	}
	return v, nil
}

// normalizeCustom checks a write of custom field name ("custom.<key>")
// against its current definition.
func normalizeCustom(views replication.Tx, name, raw string) (string, error) {
	key := strings.TrimPrefix(name, CustomPrefix)
	if !validCustomKey(key) {
		return "", fault.Invalidf(name, "unknown_field", "no such custom field")
	}
	d, err := GetCustomField(views, key)
	if errors.Is(err, fault.ErrNotFound) || err == nil && d.Retired {
		return "", fault.Invalidf(name, "unknown_field", "no such custom field")
	}
	if err != nil {
		return "", err
	}
	return d.Check(name, raw)
}

// checkCustomValue is what the hub can check of a custom value without
// the definitions: the key's form, and text that any kind could hold.
func checkCustomValue(name, key, v string) error {
	if !validCustomKey(key) {
		return fault.Invalidf(name, "unknown_field", "no such custom field")
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || v != strings.TrimSpace(v) {
		return fault.Invalidf(name, "bad_text", "not valid canonical text")
	}
	if utf8.RuneCountInString(v) > MaxCustomTextLen {
		return fault.Invalidf(name, "too_long", "at most %d characters", MaxCustomTextLen)
	}
	return nil
}

// checkDefinition validates a definition's attributes; kind "" is allowed
// for updates, which do not change it.
func checkDefinition(d CustomField) error {
	if !validCustomKey(d.Key) {
		return fault.Invalidf("key", "bad_key", "%q is not a custom field key ([a-z][a-z0-9_]{0,31})", d.Key)
	}
	if !utf8.ValidString(d.Label) || strings.ContainsRune(d.Label, 0) {
		return fault.Invalidf("label", "bad_text", "not valid UTF-8 text")
	}
	if d.Label == "" {
		return fault.Invalidf("label", "required", "is required")
	}
	if n := utf8.RuneCountInString(d.Label); n > maxLabelLen {
		return fault.Invalidf("label", "too_long", "%d characters, at most %d", n, maxLabelLen)
	}
	switch d.Kind {
	case CustomText, CustomNumber, CustomDate, "":
		if len(d.Options) > 0 {
			return fault.Invalidf("options", "not_choice", "only choice fields have options")
		}
	case CustomChoice:
		if len(d.Options) == 0 {
			return fault.Invalidf("options", "required", "a choice field needs options")
		}
	default:
		return fault.Invalidf("kind", "bad_kind", "%q is not text, number, date or choice", d.Kind)
	}
	if len(d.Options) > MaxCustomOptions {
		return fault.Invalidf("options", "too_many", "%d options, at most %d", len(d.Options), MaxCustomOptions)
	}
	for i, o := range d.Options {
		switch {
		case !utf8.ValidString(o) || strings.ContainsAny(o, "\x00\n\r"):
			return fault.Invalidf("options", "bad_text", "option %d is not one line of text", i+1)
		case o == "" || o != strings.TrimSpace(o):
			return fault.Invalidf("options", "blank", "option %d is blank or has spaces around it", i+1)
		case utf8.RuneCountInString(o) > maxLabelLen:
			return fault.Invalidf("options", "too_long", "option %d is longer than %d characters", i+1, maxLabelLen)
		case slices.Contains(d.Options[:i], o):
			return fault.Invalidf("options", "repeated", "option %q is given twice", o)
		}
	}
	return nil
}

func cleanDefinition(d CustomField) CustomField {
	d.Key, d.Label = strings.TrimSpace(d.Key), strings.TrimSpace(d.Label)
	opts := make([]string, 0, len(d.Options))
	for _, o := range d.Options {
		opts = append(opts, strings.TrimSpace(o))
	}
	d.Options = opts
	return d
}

// DefineCustomField decides the event that defines a custom field, or
// reinstates a retired one of the same kind with a new label and options.
func DefineCustomField(views replication.Tx, d CustomField) (replication.Draft, error) {
	d = cleanDefinition(d)
	if d.Kind == "" {
		return replication.Draft{}, fault.Invalidf("kind", "required", "is required")
	}
	if err := checkDefinition(d); err != nil {
		return replication.Draft{}, err
	}
	cur, err := GetCustomField(views, d.Key)
	switch {
	case err == nil && !cur.Retired:
		return replication.Draft{}, fmt.Errorf("custom field %s: %w", d.Key, fault.ErrConflict)
	case err == nil && cur.Kind != d.Kind:
		return replication.Draft{}, fault.Invalidf("kind", "kind_change", "the retired field %s is a %s field", d.Key, cur.Kind)
	case err != nil && !errors.Is(err, fault.ErrNotFound):
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCustomFieldDefined, Entity: "custom_field/" + d.Key,
		Body: &crmv1.CustomFieldDefined{Key: d.Key, Label: d.Label, Kind: d.Kind, Options: d.Options}}, nil
}

// UpdateCustomField decides the event that changes the label and/or the
// options (as paths names) of a defined field.
func UpdateCustomField(views replication.Tx, d CustomField, paths []string) (replication.Draft, error) {
	d = cleanDefinition(d)
	cur, err := GetCustomField(views, d.Key)
	if err != nil {
		return replication.Draft{}, err
	}
	if len(paths) == 0 {
		return replication.Draft{}, fault.Invalidf("update_mask", "required", "names no field")
	}
	next := CustomField{Key: cur.Key, Kind: cur.Kind, Label: cur.Label, Options: cur.Options}
	body := &crmv1.CustomFieldDefined{Key: cur.Key}
	for _, p := range paths {
		switch p {
		case "label":
			next.Label, body.Label = d.Label, d.Label
		case "options":
			next.Options, body.Options = d.Options, d.Options
		default:
			return replication.Draft{}, fault.Invalidf(p, "unknown_field", "only label and options can change")
		}
	}
	if err := checkDefinition(next); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCustomFieldUpdated, Entity: "custom_field/" + d.Key, Body: body}, nil
}

// RetireCustomField decides the event that retires a field: it is no
// longer offered or shown, and writes of it are refused; values stay.
func RetireCustomField(views replication.Tx, key string) (replication.Draft, error) {
	cur, err := GetCustomField(views, key)
	if err != nil {
		return replication.Draft{}, err
	}
	if cur.Retired {
		return replication.Draft{}, fmt.Errorf("custom field %s is already retired: %w", key, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindCustomFieldRetired, Entity: "custom_field/" + key, Body: &crmv1.CustomFieldRetired{Key: key}}, nil
}

func checkCustomFieldDefined(_ *replication.Event, b *crmv1.CustomFieldDefined) error {
	if b.GetKind() == "" {
		return fault.Invalidf("kind", "required", "is required")
	}
	return checkDefinition(CustomField{Key: b.GetKey(), Label: b.GetLabel(), Kind: b.GetKind(), Options: b.GetOptions()})
}

func checkCustomFieldUpdated(_ *replication.Event, b *crmv1.CustomFieldDefined) error {
	if !validCustomKey(b.GetKey()) {
		return fault.Invalidf("key", "bad_key", "%q is not a custom field key", b.GetKey())
	}
	label := b.GetLabel()
	if label == "" {
		label = "-" // unchanged
	}
	kind := ""
	if len(b.GetOptions()) > 0 {
		kind = CustomChoice
	}
	return checkDefinition(CustomField{Key: b.GetKey(), Label: label, Kind: kind, Options: b.GetOptions()})
}

func checkCustomFieldRetired(_ *replication.Event, b *crmv1.CustomFieldRetired) error {
	if !validCustomKey(b.GetKey()) {
		return fault.Invalidf("key", "bad_key", "%q is not a custom field key", b.GetKey())
	}
	return nil
}

func setDefAttr(tx replication.Tx, ev *replication.Event, key, attr, value string) error {
	_, _, err := replication.SetRegister(tx, customDefKey(key, attr), []byte(value), replication.StampOf(ev))
	return err
}

func applyCustomFieldDefined(tx replication.Tx, ev *replication.Event, b *crmv1.CustomFieldDefined) error {
	if !validCustomKey(b.GetKey()) {
		return nil
	}
	for _, a := range [][2]string{{"kind", b.GetKind()}, {"label", b.GetLabel()}, {"options", strings.Join(b.GetOptions(), "\n")}, {"retired", ""}} {
		if err := setDefAttr(tx, ev, b.GetKey(), a[0], a[1]); err != nil {
			return err
		}
	}
	return nil
}

func applyCustomFieldUpdated(tx replication.Tx, ev *replication.Event, b *crmv1.CustomFieldDefined) error {
	if !validCustomKey(b.GetKey()) {
		return nil
	}
	if b.GetLabel() != "" {
		if err := setDefAttr(tx, ev, b.GetKey(), "label", b.GetLabel()); err != nil {
			return err
		}
	}
	if len(b.GetOptions()) > 0 {
		return setDefAttr(tx, ev, b.GetKey(), "options", strings.Join(b.GetOptions(), "\n"))
	}
	return nil
}

func applyCustomFieldRetired(tx replication.Tx, ev *replication.Event, b *crmv1.CustomFieldRetired) error {
	if !validCustomKey(b.GetKey()) {
		return nil
	}
	return setDefAttr(tx, ev, b.GetKey(), "retired", "1")
}
