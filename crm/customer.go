package crm

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Event kinds of customers.
const (
	KindCustomerCreated  = "crm.customer.created"
	KindCustomerFieldSet = "crm.customer.field_set"
)

// fieldType says how a customer field is validated and normalised.
type fieldType int

const (
	textField fieldType = iota
	phoneField
	emailField
	decimalField
	refField
	postcodeField
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
	Origin  string            // node that created it
	Created replication.HLC
	Updated replication.HLC // stamp of the latest field write
}

// Get returns the customer's value of a field.
func (c *Customer) Get(field string) string { return c.Fields[field] }

// Entity is the event entity of customer id.
func Entity(id string) string { return "customer/" + id }

// View keys (below replication.ViewPrefix):
//
//	crm \0 cust \0 id            -> created register (value: "")
//	crm \0 cust \0 id \0 f \0 name -> field register
//	crm \0 phone \0 e164 \0 id   -> "" (phone index)
func custKey(id string) []byte              { return replication.Key("crm", "cust", id) }
func fieldKey(id, field string) []byte      { return replication.Key("crm", "cust", id, "f", field) }
func phoneKey(e164, id string) []byte       { return replication.Key("crm", "phone", e164, id) }
func phonePrefix(e164 string) []byte        { return replication.Prefix("crm", "phone", e164) }
func customerFieldsPrefix(id string) []byte { return replication.Prefix("crm", "cust", id, "f") }

var (
	decimalRe  = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,4})?$`)
	postcodeRe = regexp.MustCompile(`^[0-9A-Za-z -]{3,16}$`)
)

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
	}
	return v, nil
}

// normalizeAll validates a set of field writes, in field order.
func normalizeAll(in map[string]string) ([]*crmv1.FieldValue, error) {
	for name := range in {
		if _, ok := FieldByName(name); !ok {
			return nil, fault.Invalidf(name, "unknown_field", "no such customer field")
		}
	}
	var out []*crmv1.FieldValue
	for _, f := range Fields {
		raw, ok := in[f.Name]
		if !ok {
			continue
		}
		v, err := normalize(f, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, &crmv1.FieldValue{Field: f.Name, Value: v})
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
	vals, err := normalizeAll(fields)
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
	cur, err := GetCustomer(views, id)
	if err != nil {
		return d, false, err
	}
	vals, err := normalizeAll(fields)
	if err != nil {
		return d, false, err
	}
	changed := vals[:0]
	for _, fv := range vals {
		if cur.Fields[fv.Field] != fv.Value {
			changed = append(changed, fv)
		}
	}
	if len(changed) == 0 {
		return d, false, nil
	}
	return replication.Draft{Kind: KindCustomerFieldSet, Entity: Entity(id), Body: &crmv1.CustomerFieldSet{Fields: changed}}, true, nil
}

// RegisterCustomers adds the customer appliers to r.
func RegisterCustomers(r *replication.Registry) {
	replication.Handle(r, KindCustomerCreated, applyCreated, checkCreated)
	replication.Handle(r, KindCustomerFieldSet, applyFieldSet, checkFieldSet)
}

func entityID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "customer/")
	return id, ok && replication.ValidULID(id)
}

func checkFields(fields []*crmv1.FieldValue) error {
	for _, fv := range fields {
		f, ok := FieldByName(fv.GetField())
		if !ok {
			return fault.Invalidf(fv.GetField(), "unknown_field", "no such customer field")
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
	if _, _, err := replication.SetRegister(tx, custKey(id), []byte(ev.Origin), replication.StampOf(ev)); err != nil {
		return err
	}
	return setFields(tx, id, ev, b.GetFields())
}

func applyFieldSet(tx replication.Tx, ev *replication.Event, b *crmv1.CustomerFieldSet) error {
	id, ok := entityID(ev)
	if !ok {
		return nil
	}
	return setFields(tx, id, ev, b.GetFields())
}

// setFields writes each field as its own register and keeps the phone index
// equal to the set of current phone values of the customer, which makes
// the index independent of the order writes arrived in.
func setFields(tx replication.Tx, id string, ev *replication.Event, fields []*crmv1.FieldValue) error {
	stamp := replication.StampOf(ev)
	for _, fv := range fields {
		f, known := FieldByName(fv.GetField())
		if !known {
			continue // written by a newer version; nothing here reads it
		}
		won, prev, err := replication.SetRegister(tx, fieldKey(id, f.Name), []byte(fv.GetValue()), stamp)
		if err != nil || !won || f.typ != phoneField || string(prev.Value) == fv.GetValue() {
			if err != nil {
				return err
			}
			continue
		}
		if old := string(prev.Value); old != "" {
			if err := unindexPhone(tx, id, old); err != nil {
				return err
			}
		}
		if fv.GetValue() != "" {
			if err := tx.Set(phoneKey(fv.GetValue(), id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// unindexPhone drops (number, id) from the phone index unless another phone
// field of the customer still holds the number.
func unindexPhone(tx replication.Tx, id, number string) error {
	for _, f := range Fields {
		if f.typ != phoneField {
			continue
		}
		r, ok, err := replication.GetRegister(tx, fieldKey(id, f.Name))
		if err != nil {
			return err
		}
		if ok && string(r.Value) == number {
			return nil
		}
	}
	return tx.Delete(phoneKey(number, id))
}

// GetCustomer reads customer id from the views.
func GetCustomer(views replication.Tx, id string) (*Customer, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("name", "bad_id", "%q is not a customer id", id)
	}
	created, ok, err := replication.GetRegister(views, custKey(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("customer %s: %w", id, fault.ErrNotFound)
	}
	c := &Customer{ID: id, Fields: map[string]string{}, Origin: string(created.Value), Created: created.Stamp.HLC, Updated: created.Stamp.HLC}
	p := customerFieldsPrefix(id)
	err = views.Scan(p, nil, func(k, v []byte) (bool, error) {
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("customer %s field %s: %w", id, k[len(p):], err)
		}
		if len(r.Value) > 0 {
			c.Fields[string(k[len(p):])] = string(r.Value)
		}
		c.Updated = max(c.Updated, r.Stamp.HLC)
		return true, nil
	})
	return c, err
}

// ListCustomers returns up to limit customers with ids after the given one,
// in id (that is, creation time) order.
func ListCustomers(views replication.Tx, after string, limit int) ([]*Customer, error) {
	p := replication.Prefix("crm", "cust")
	var start []byte
	if after != "" {
		start = append(replication.Key("crm", "cust", after), 1)
	}
	var ids []string
	err := views.Scan(p, start, func(k, _ []byte) (bool, error) {
		rest := k[len(p):]
		if slices.Contains(rest, 0) {
			// A field key of the customer: skip to the next customer.
			return true, nil
		}
		ids = append(ids, string(rest))
		return len(ids) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Customer, 0, len(ids))
	for _, id := range ids {
		c, err := GetCustomer(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// LookupByPhone finds the customers having a phone number, typed in any
// common notation.
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
	var ids []string
	p := phonePrefix(e164)
	if err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(p):]))
		return len(ids) < 100, nil
	}); err != nil {
		return nil, err
	}
	out := make([]*Customer, 0, len(ids))
	for _, id := range ids {
		c, err := GetCustomer(views, id)
		if errors.Is(err, fault.ErrNotFound) {
			continue // fields arrived before the creation
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
