package crm

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// Event kinds of customers.
const (
	KindCustomerCreated  = "crm.customer.created"
	KindCustomerFieldSet = "crm.customer.field_set"
)

// CustomPrefix starts the field names of custom fields in field writes,
// update masks and filters: "custom.<key>".
const CustomPrefix = "custom."

// fieldType says how a customer field is validated and normalised.
type fieldType int

const (
	textField fieldType = iota
	phoneField
	emailField
	decimalField
	refField
	postcodeField
	dateField
)

// Field describes one customer field of the source documents' customer
// record. Each field is its own last-writer-wins register.
type Field struct {
	Name     string
	MaxLen   int // in characters
	Required bool
	typ      fieldType
}

// Fields lists the customer fields in display order.
var Fields = []Field{
	{Name: "code", MaxLen: 64},
	{Name: "mnemonic", MaxLen: 32},
	{Name: "display_name", MaxLen: 200, Required: true},
	{Name: "address", MaxLen: 500},
	{Name: "phone", MaxLen: 32, typ: phoneField},
	{Name: "mobile", MaxLen: 32, typ: phoneField},
	{Name: "finance_phone", MaxLen: 32, typ: phoneField},
	{Name: "postcode", MaxLen: 16, typ: postcodeField},
	{Name: "email", MaxLen: 254, typ: emailField},
	{Name: "city", MaxLen: 64},
	{Name: "industry", MaxLen: 64},
	{Name: "level", MaxLen: 32},
	{Name: "type", MaxLen: 32},
	{Name: "status", MaxLen: 32},
	{Name: "credit_level", MaxLen: 16},
	{Name: "credit_limit", MaxLen: 20, typ: decimalField},
	{Name: "parent", MaxLen: 64, typ: refField},
	{Name: "website", MaxLen: 256},
	{Name: "note", MaxLen: 2000},
	{Name: "owner", MaxLen: 64},
	{Name: "department", MaxLen: 64},
}

// FieldByName finds a field.
func FieldByName(name string) (Field, bool) {
	i := slices.IndexFunc(Fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return Field{}, false
	}
	return Fields[i], true
}

// Customer is a customer as the views hold it.
type Customer struct {
	ID      string
	Fields  map[string]string // field name → canonical value; absent or "" means empty
	Custom  map[string]string // custom field key → canonical value, as stored
	Origin  string            // node that created it
	Created replication.HLC
	Updated replication.HLC // stamp of the latest field write

	// Deleted says the customer is in the recycle bin, since DeletedAt, by
	// DeletedBy (the deleting event's HLC and actor).
	Deleted   bool
	DeletedBy string
	DeletedAt replication.HLC
	// MergedFrom is the id that was asked for when it was merged into this
	// customer (see Resolve); empty otherwise.
	MergedFrom string
}

// Get returns the customer's value of a field.
func (c *Customer) Get(field string) string { return c.Fields[field] }

// Entity is the event entity of customer id.
func Entity(id string) string { return "customer/" + id }

// View keys (below replication.ViewPrefix) of a customer's own data. The
// created register is a fact about the id and never moves; the keys below
// it ("record" keys) belong to whichever id the customer resolves to and
// move to the winner when the customer is merged (see merge.go).
//
//	crm \0 cust \0 id                 -> created register (value: origin)
//	crm \0 cust \0 id \0 f \0 name     -> field register (an edit)
//	crm \0 cust \0 id \0 c \0 key      -> custom field value register (an edit)
//	crm \0 cust \0 id \0 p \0 hlc \0 origin -> the fields a creation set, one register (record.go)
//	crm \0 cust \0 id \0 d            -> recycle-bin register ("D"+actor deleted, "A"+actor alive)
//
// Derived indexes (index.go), the contacts (contact.go) and the timeline
// (timeline.go) have their own key spaces.
func custKey(id string) []byte              { return replication.Key("crm", "cust", id) }
func fieldKey(id, field string) []byte      { return replication.Key("crm", "cust", id, "f", field) }
func customKey(id, key string) []byte       { return replication.Key("crm", "cust", id, "c", key) }
func binStateKey(id string) []byte          { return replication.Key("crm", "cust", id, "d") }
func customerRecordPrefix(id string) []byte { return replication.Prefix("crm", "cust", id) }

var (
	decimalRe  = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,4})?$`)
	postcodeRe = regexp.MustCompile(`^[0-9A-Za-z -]{3,16}$`)
)

// normalizeInput validates one field value a user or import gives and
// returns its canonical form: normalize, and the stricter rules of this
// release (an e-mail address must have a domain people can mail: see
// validEmail). The checks of events use normalize alone, so that events
// earlier releases made under looser rules still apply everywhere.
func normalizeInput(f Field, raw string) (string, error) {
	v, err := normalize(f, raw)
	if err != nil {
		return "", err
	}
	if f.typ == emailField && v != "" && !validEmail(v) {
		return "", fault.Invalidf(f.Name, "bad_email", "%q is not an e-mail address", v)
	}
	return v, nil
}

// validEmail reports whether v, an address net/mail accepts bare, can be
// mailed: its domain is two or more labels of letters, digits and inner
// hyphens, the last (the top-level domain) of two letters or more — not an
// IP literal, a single label ("a@b", "bob@localhost") or a label with '_'
// or an outer '-'.
func validEmail(v string) bool {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		return false
	}
	labels := strings.Split(v[at+1:], ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || utf8.RuneCountInString(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return utf8.RuneCountInString(tld) >= 2 && strings.IndexFunc(tld, unicode.IsLetter) >= 0
}

// normalize validates one field value and returns its canonical form.
func normalize(f Field, raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return "", fault.Invalidf(f.Name, "bad_text", "not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(v); n > f.MaxLen && f.typ != phoneField {
		return "", fault.Invalidf(f.Name, "too_long", "%d characters, at most %d", n, f.MaxLen)
	}
	if v == "" {
		if f.Required {
			return "", fault.Invalidf(f.Name, "required", "is required")
		}
		return "", nil
	}
	switch f.typ {
	case phoneField:
		p, err := NormalizePhone(v, DefaultRegion)
		if err != nil {
			var inv *fault.Invalid
			if errors.As(err, &inv) {
				inv.Field = f.Name
			}
			return "", err
		}
		return p, nil
	case emailField:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v {
			return "", fault.Invalidf(f.Name, "bad_email", "%q is not an e-mail address", v)
		}
	case decimalField:
		if !decimalRe.MatchString(v) {
			return "", fault.Invalidf(f.Name, "bad_decimal", "%q is not a decimal number", v)
		}
	case postcodeField:
		if !postcodeRe.MatchString(v) {
			return "", fault.Invalidf(f.Name, "bad_postcode", "%q is not a postcode", v)
		}
	case refField:
		if !replication.ValidULID(v) {
			return "", fault.Invalidf(f.Name, "bad_ref", "%q is not a customer id", v)
		}
	case dateField:
		if !validDate(v) {
			return "", fault.Invalidf(f.Name, "bad_date", "%q is not a date (YYYY-MM-DD)", v)
		}
	}
	return v, nil
}

// normalizeAll validates a set of field writes: built-in fields in field
// order, then custom fields ("custom.<key>", checked against their
// definitions in views) in key order.
func normalizeAll(views replication.Tx, in map[string]string) ([]*eventv1.FieldValue, error) {
	var custom []string
	for _, name := range slices.Sorted(maps.Keys(in)) {
		if _, ok := FieldByName(name); ok {
			continue
		}
		if _, ok := strings.CutPrefix(name, CustomPrefix); !ok {
			return nil, fault.Invalidf(name, "unknown_field", "no such customer field")
		}
		custom = append(custom, name)
	}
	var out []*eventv1.FieldValue
	for _, f := range Fields {
		raw, ok := in[f.Name]
		if !ok {
			continue
		}
		v, err := normalizeInput(f, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, &eventv1.FieldValue{Field: f.Name, Value: v})
	}
	for _, name := range custom {
		v, err := normalizeCustom(views, name, in[name])
		if err != nil {
			return nil, err
		}
		out = append(out, &eventv1.FieldValue{Field: name, Value: v})
	}
	return out, nil
}

// CreateCustomer decides the event that creates customer id with the given
// fields. id is a new ULID the caller made.
func CreateCustomer(views replication.Tx, id string, fields map[string]string) (replication.Draft, error) {
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("name", "bad_id", "%q is not a customer id", id)
	}
	for _, f := range Fields {
		if _, ok := fields[f.Name]; f.Required && !ok {
			return replication.Draft{}, fault.Invalidf(f.Name, "required", "is required")
		}
	}
	vals, err := normalizeAll(views, fields)
	if err != nil {
		return replication.Draft{}, err
	}
	if _, err := views.Get(custKey(id)); err == nil {
		return replication.Draft{}, fmt.Errorf("customer %s: %w", id, fault.ErrConflict)
	} else if !errors.Is(err, replication.ErrNotFound) {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCustomerCreated, Entity: Entity(id), Body: &crmv1.CustomerCreated{Fields: vals}}, nil
}

// UpdateCustomer decides the event that writes the given fields of
// customer id. Fields whose value does not change are left out; ok is false
// when nothing changes.
func UpdateCustomer(views replication.Tx, id string, fields map[string]string) (d replication.Draft, ok bool, err error) {
	if len(fields) == 0 {
		return d, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	cur, err := liveCustomer(views, id)
	if err != nil {
		return d, false, err
	}
	return ChangeCustomer(views, cur, fields)
}

// ChangeCustomer is UpdateCustomer for a customer the caller read in the
// same transaction (GetCustomer), so that a command that checks the
// customer before it changes it reads it once.
func ChangeCustomer(views replication.Tx, cur *Customer, fields map[string]string) (d replication.Draft, ok bool, err error) {
	if len(fields) == 0 {
		return d, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	if cur.Deleted {
		return d, false, fmt.Errorf("customer %s is in the recycle bin: %w", cur.ID, fault.ErrNotFound)
	}
	vals, err := normalizeAll(views, fields)
	if err != nil {
		return d, false, err
	}
	changed := vals[:0]
	for _, fv := range vals {
		if cur.value(fv.Field) != fv.Value {
			changed = append(changed, fv)
		}
	}
	if len(changed) == 0 {
		return d, false, nil
	}
	return replication.Draft{Kind: KindCustomerFieldSet, Entity: Entity(cur.ID), Body: &crmv1.CustomerFieldSet{Fields: changed}}, true, nil
}

// Changed sets on c the values d writes, d being a field write that
// ChangeCustomer decided for c, and returns the names of the fields it
// sets. c is then the customer as the write leaves it at this replica,
// where it is the newest write, without reading it back.
func (c *Customer) Changed(d replication.Draft) []string {
	b, ok := d.Body.(*crmv1.CustomerFieldSet)
	if !ok {
		return nil
	}
	names := make([]string, 0, len(b.GetFields()))
	for _, fv := range b.GetFields() {
		if k, ok := strings.CutPrefix(fv.GetField(), CustomPrefix); ok {
			c.Custom[k] = fv.GetValue()
		} else {
			c.Fields[fv.GetField()] = fv.GetValue()
		}
		names = append(names, fv.GetField())
	}
	return names
}

// value reads a built-in field or, for "custom.<key>", a custom field.
func (c *Customer) value(name string) string {
	if k, ok := strings.CutPrefix(name, CustomPrefix); ok {
		return c.Custom[k]
	}
	return c.Fields[name]
}

// liveCustomer reads the customer a command acts on: it must exist and not
// be in the recycle bin. A merged id stands for its winner.
func liveCustomer(views replication.Tx, id string) (*Customer, error) {
	c, err := GetCustomer(views, id)
	if err != nil {
		return nil, err
	}
	if c.Deleted {
		return nil, fmt.Errorf("customer %s is in the recycle bin: %w", c.ID, fault.ErrNotFound)
	}
	return c, nil
}

// RegisterCustomers adds the appliers of customers, their contacts,
// timeline, recycle bin and merges, and of custom field definitions, to r.
func RegisterCustomers(r *replication.Registry) {
	replication.Handle(r, KindCustomerCreated, applyCreated, checkCreated)
	replication.Handle(r, KindCustomerFieldSet, applyFieldSet, checkFieldSet)
	replication.Handle(r, KindCustomerDeleted, applyDeleted, checkDeleted)
	replication.Handle(r, KindCustomerRestored, applyRestored, checkRestored)
	replication.Handle(r, KindCustomerMerged, applyMerged, checkMerged)
	replication.Handle(r, KindNoteAdded, applyNoteAdded, checkNoteAdded)
	replication.Handle(r, KindContactAdded, applyContactAdded, checkContactAdded)
	replication.Handle(r, KindContactUpdated, applyContactUpdated, checkContactUpdated)
	replication.Handle(r, KindContactRemoved, applyContactRemoved, checkContactRemoved)
	replication.Handle(r, KindCustomFieldDefined, applyCustomFieldDefined, checkCustomFieldDefined)
	replication.Handle(r, KindCustomFieldUpdated, applyCustomFieldUpdated, checkCustomFieldUpdated)
	replication.Handle(r, KindCustomFieldRetired, applyCustomFieldRetired, checkCustomFieldRetired)
	r.AddIndex(CustomerIndex)
}

func entityID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "customer/")
	return id, ok && replication.ValidULID(id)
}

func checkFields(fields []*eventv1.FieldValue) error {
	for _, fv := range fields {
		if key, ok := strings.CutPrefix(fv.GetField(), CustomPrefix); ok {
			if err := checkCustomValue(fv.GetField(), key, fv.GetValue()); err != nil {
				return err
			}
			continue
		}
		f, ok := FieldByName(fv.GetField())
		if !ok {
			return fault.Invalidf(fv.GetField(), "unknown_field", "no such customer field")
		}
		if f.typ == phoneField {
			// Stored numbers are E.164, normalised when they were typed;
			// parsing them again (phonenumbers is regular expressions all
			// the way down) cost the hub a third of its CPU per event.
			if v := fv.GetValue(); v != "" && !isE164(v) {
				return fault.Invalidf(f.Name, "not_canonical", "value %q is not an E.164 number", v)
			}
			continue
		}
		v, err := normalize(f, fv.GetValue())
		if err != nil {
			return err
		}
		if v != fv.GetValue() {
			return fault.Invalidf(f.Name, "not_canonical", "value %q is not in canonical form", fv.GetValue())
		}
	}
	return nil
}

func checkCreated(ev *replication.Event, b *crmv1.CustomerCreated) error {
	if _, ok := entityID(ev); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	have := map[string]bool{}
	for _, fv := range b.GetFields() {
		have[fv.GetField()] = fv.GetValue() != ""
	}
	for _, f := range Fields {
		if f.Required && !have[f.Name] {
			return fault.Invalidf(f.Name, "required", "is required")
		}
	}
	return checkFields(b.GetFields())
}

func checkFieldSet(ev *replication.Event, b *crmv1.CustomerFieldSet) error {
	if _, ok := entityID(ev); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	if len(b.GetFields()) == 0 {
		return fault.Invalidf("fields", "required", "no field written")
	}
	return checkFields(b.GetFields())
}

func applyCreated(tx replication.Tx, ev *replication.Event, b *crmv1.CustomerCreated) error {
	id, ok := entityID(ev)
	if !ok {
		return nil
	}
	rep, err := Resolve(tx, id)
	if err != nil {
		return err
	}
	// The created register is about the id itself, even when the id was
	// merged away before its creation arrived: should the id become the
	// winner of its merge group (merge.go), it is known to exist. It is
	// almost always absent (whoever writes the record learnt of the id
	// from this event, through the hub's log), and a point read of an
	// absent key is answered by the stores' filters; the fields the
	// creation sets are one register of their own, written without a read
	// (record.go).
	if _, _, err := replication.SetRegister(tx, custKey(id), []byte(ev.Origin), replication.StampOf(ev)); err != nil {
		return err
	}
	if err := writeCreatedFields(tx, rep, ev, b.GetFields()); err != nil {
		return err
	}
	return addTimeline(tx, rep, EntryFor(ev, TimelineCreated, fieldNames(b.GetFields()), id))
}

func applyFieldSet(tx replication.Tx, ev *replication.Event, b *crmv1.CustomerFieldSet) error {
	id, ok := entityID(ev)
	if !ok {
		return nil
	}
	rep, err := Resolve(tx, id)
	if err != nil {
		return err
	}
	if err := setFields(tx, rep, ev, b.GetFields()); err != nil {
		return err
	}
	if err := AddTimeline(tx, rep, EntryFor(ev, TimelineFieldsSet, fieldNames(b.GetFields()), "")); err != nil {
		return err
	}
	return nil
}

// fieldNames lists the fields a write names, for the timeline: which
// fields changed, not their values (phones may be masked for the reader).
func fieldNames(fields []*eventv1.FieldValue) string {
	names := make([]string, 0, len(fields))
	for _, fv := range fields {
		names = append(names, fv.GetField())
	}
	return strings.Join(names, ",")
}

// setFields writes each field as its own register of customer id (already
// resolved). Indexes are derived afterwards (CustomerIndex), from the
// current values only, which makes them independent of the order writes
// arrived in.
func setFields(tx replication.Tx, id string, ev *replication.Event, fields []*eventv1.FieldValue) error {
	stamp := replication.StampOf(ev)
	for _, fv := range fields {
		name, ok := recordFieldName(fv.GetField())
		if !ok {
			continue // written by a newer version; nothing here reads it
		}
		var key []byte
		if k, custom := strings.CutPrefix(name, CustomPrefix); custom {
			key = customKey(id, k)
		} else {
			key = fieldKey(id, name)
		}
		if _, _, err := replication.SetRegister(tx, key, []byte(fv.GetValue()), stamp); err != nil {
			return err
		}
	}
	return nil
}

// GetCustomer reads customer id from the views. An id merged into another
// customer reads as that customer, with MergedFrom set to id; a customer in
// the recycle bin reads with Deleted set.
func GetCustomer(views replication.Tx, id string) (*Customer, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("name", "bad_id", "%q is not a customer id", id)
	}
	rep, err := Resolve(views, id)
	if err != nil {
		return nil, err
	}
	c, err := readCustomer(views, rep)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("customer %s: %w", id, fault.ErrNotFound)
	}
	if rep != id {
		c.MergedFrom = id
	}
	return c, nil
}

// readCustomer reads the record kept under id, nil if id was never
// created here.
func readCustomer(views replication.Tx, id string) (*Customer, error) {
	rec, err := readRecord(views, id)
	if err != nil || !rec.hasCreated {
		return nil, err
	}
	created := rec.created
	c := &Customer{ID: id, Fields: map[string]string{}, Custom: map[string]string{}, Origin: string(created.Value), Created: created.Stamp.HLC, Updated: created.Stamp.HLC}
	for name, r := range rec.fields {
		if len(r.Value) > 0 {
			if k, custom := strings.CutPrefix(name, CustomPrefix); custom {
				c.Custom[k] = string(r.Value)
			} else {
				c.Fields[name] = string(r.Value)
			}
		}
		c.Updated = max(c.Updated, r.Stamp.HLC)
	}
	if rec.hasBin && len(rec.bin.Value) > 0 && rec.bin.Value[0] == 'D' {
		c.Deleted, c.DeletedBy, c.DeletedAt = true, string(rec.bin.Value[1:]), rec.bin.Stamp.HLC
	}
	return c, nil
}

// ListCustomers returns up to limit customers with ids after the given one,
// in id (that is, creation time) order. Customers in the recycle bin and
// customers merged into others are left out.
func ListCustomers(views replication.Tx, after string, limit int) ([]*Customer, error) {
	return listIndexed(views, livePrefix(), after, limit)
}

// listIndexed reads the customers of an index whose keys end in the id.
func listIndexed(views replication.Tx, p []byte, after string, limit int) ([]*Customer, error) {
	var start []byte
	if after != "" {
		start = append(append(slices.Clip(p), after...), 0)
	}
	var ids []string
	err := views.Scan(p, start, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(p):]))
		return len(ids) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Customer, 0, len(ids))
	for _, id := range ids {
		c, err := readCustomer(views, id)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// LookupByPhone finds the customers having a phone number, typed in any
// common notation, in one of their phone fields or their contacts'. The
// recycle bin and merged customers are left out.
func LookupByPhone(views replication.Tx, raw string) ([]*Customer, error) {
	e164, err := NormalizePhone(raw, DefaultRegion)
	if err != nil {
		var inv *fault.Invalid
		if errors.As(err, &inv) {
			inv.Field = "phone"
		}
		return nil, err
	}
	if e164 == "" {
		return nil, fault.Invalidf("phone", "required", "is required")
	}
	return listIndexed(views, phonePrefix(e164), "", 100)
}

// NormalizeField validates one value of field name (a built-in field, or
// "custom.<key>") as a file or a form gives it, and returns it normalized.
func NormalizeField(views replication.Tx, name, raw string) (string, error) {
	if strings.HasPrefix(name, CustomPrefix) {
		return normalizeCustom(views, name, raw)
	}
	f, ok := FieldByName(name)
	if !ok {
		return "", fault.Invalidf(name, "unknown_field", "no such customer field")
	}
	if f.Required && strings.TrimSpace(raw) == "" {
		return "", fault.Invalidf(name, "required", "is required")
	}
	return normalizeInput(f, raw)
}
