package crm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// Event kinds of contacts (联系人).
const (
	KindContactAdded   = "crm.contact.added"
	KindContactUpdated = "crm.contact.updated"
	KindContactRemoved = "crm.contact.removed"
)

// ContactFields are the fields of a contact person, after the contact list
// of the source documents; each is its own last-writer-wins register.
var ContactFields = []Field{
	{Name: "display_name", MaxLen: 100, Required: true},
	{Name: "gender", MaxLen: 8},
	{Name: "title", MaxLen: 64},
	{Name: "department", MaxLen: 64},
	{Name: "manager", MaxLen: 64},
	{Name: "phone", MaxLen: 32, typ: phoneField},
	{Name: "mobile", MaxLen: 32, typ: phoneField},
	{Name: "home_phone", MaxLen: 32, typ: phoneField},
	{Name: "fax", MaxLen: 32, typ: phoneField},
	{Name: "email", MaxLen: 254, typ: emailField},
	{Name: "birthday", MaxLen: 10, typ: dateField},
	{Name: "hobbies", MaxLen: 200},
	{Name: "note", MaxLen: 2000},
}

// contactPhoneFields are the contact numbers phone lookup and duplicate
// checks find the customer by (a fax number is not a caller).
var contactPhoneFields = []string{"phone", "mobile", "home_phone"}

// ContactFieldByName finds a contact field.
func ContactFieldByName(name string) (Field, bool) {
	i := slices.IndexFunc(ContactFields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return Field{}, false
	}
	return ContactFields[i], true
}

// IsPhoneField reports whether a customer or contact field holds a phone
// number (stored in E.164), which readers without the right see masked.
func IsPhoneField(name string) bool {
	f, ok := FieldByName(name)
	if !ok {
		f, ok = ContactFieldByName(name)
	}
	return ok && f.IsPhone()
}

// IsPhone reports whether the field holds a phone number.
func (f Field) IsPhone() bool { return f.typ == phoneField }

// Contact is a contact person of a customer.
type Contact struct {
	ID         string
	CustomerID string
	Fields     map[string]string
	Created    replication.HLC
	Updated    replication.HLC
}

// Contacts live with their customer's record and move with it on a merge.
// Removal wins: once a contact's tombstone is written, its fields are
// dropped and every add or update of it, arriving before or after, writes
// nothing. A concurrent update therefore never resurrects a removed
// contact, on any replica.
//
//	crm \0 ct \0 customer \0 contact                -> added register (value "")
//	crm \0 ct \0 customer \0 contact \0 f \0 field  -> field register
//	crm \0 ct \0 customer \0 contact \0 x           -> tombstone register (value: actor)
func contactsPrefix(cust string) []byte    { return replication.Prefix("crm", "ct", cust) }
func contactKey(cust, ct string) []byte    { return replication.Key("crm", "ct", cust, ct) }
func contactPrefix(cust, ct string) []byte { return replication.Prefix("crm", "ct", cust, ct) }
func contactFieldKey(cust, ct, f string) []byte {
	return replication.Key("crm", "ct", cust, ct, "f", f)
}
func contactTombstoneKey(cust, ct string) []byte { return replication.Key("crm", "ct", cust, ct, "x") }

// Contacts reads the live contacts of customer id (already resolved), in
// id (creation) order.
func Contacts(views replication.Tx, id string) ([]*Contact, error) {
	var out []*Contact
	removed := map[string]bool{}
	p := contactsPrefix(id)
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		parts := strings.Split(string(k[len(p):]), "\x00")
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("contact %s of %s: %w", parts[0], id, err)
		}
		if len(out) == 0 || out[len(out)-1].ID != parts[0] {
			out = append(out, &Contact{ID: parts[0], CustomerID: id, Fields: map[string]string{}})
		}
		c := out[len(out)-1]
		switch {
		case len(parts) == 1:
			c.Created = r.Stamp.HLC
			c.Updated = max(c.Updated, r.Stamp.HLC)
		case len(parts) == 3 && parts[1] == "f":
			if len(r.Value) > 0 {
				c.Fields[parts[2]] = string(r.Value)
			}
			c.Updated = max(c.Updated, r.Stamp.HLC)
		case len(parts) == 2 && parts[1] == "x":
			removed[c.ID] = true
		}
		return true, nil
	})
	// A contact whose fields arrived before its add does not exist yet.
	return slices.DeleteFunc(out, func(c *Contact) bool { return removed[c.ID] || c.Created == 0 }), err
}

// GetContact reads one live contact of customer id.
func GetContact(views replication.Tx, id, contactID string) (*Contact, error) {
	c, err := GetCustomer(views, id)
	if err != nil {
		return nil, err
	}
	cs, err := Contacts(views, c.ID)
	if err != nil {
		return nil, err
	}
	for _, ct := range cs {
		if ct.ID == contactID {
			return ct, nil
		}
	}
	return nil, fmt.Errorf("contact %s of customer %s: %w", contactID, c.ID, fault.ErrNotFound)
}

// normalizeContact validates contact field writes, in field order.
func normalizeContact(in map[string]string) ([]*eventv1.FieldValue, error) {
	for _, name := range slices.Sorted(maps.Keys(in)) {
		if _, ok := ContactFieldByName(name); !ok {
			return nil, fault.Invalidf(name, "unknown_field", "no such contact field")
		}
	}
	var out []*eventv1.FieldValue
	for _, f := range ContactFields {
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
	return out, nil
}

// AddContact decides the event that adds contact contactID (a new ULID the
// caller made) to customer id.
func AddContact(views replication.Tx, id, contactID string, fields map[string]string) (replication.Draft, error) {
	if !replication.ValidULID(contactID) {
		return replication.Draft{}, fault.Invalidf("name", "bad_id", "%q is not a contact id", contactID)
	}
	if _, ok := fields["display_name"]; !ok {
		return replication.Draft{}, fault.Invalidf("display_name", "required", "is required")
	}
	vals, err := normalizeContact(fields)
	if err != nil {
		return replication.Draft{}, err
	}
	c, err := liveCustomer(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindContactAdded, Entity: Entity(c.ID), Body: &crmv1.ContactAdded{ContactId: contactID, Fields: vals}}, nil
}

// UpdateContact decides the event that writes the given fields of a
// contact; ok is false when nothing changes.
func UpdateContact(views replication.Tx, id, contactID string, fields map[string]string) (d replication.Draft, ok bool, err error) {
	if len(fields) == 0 {
		return d, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	vals, err := normalizeContact(fields)
	if err != nil {
		return d, false, err
	}
	c, err := liveCustomer(views, id)
	if err != nil {
		return d, false, err
	}
	ct, err := GetContact(views, c.ID, contactID)
	if err != nil {
		return d, false, err
	}
	changed := vals[:0]
	for _, fv := range vals {
		if ct.Fields[fv.Field] != fv.Value {
			changed = append(changed, fv)
		}
	}
	if len(changed) == 0 {
		return d, false, nil
	}
	return replication.Draft{Kind: KindContactUpdated, Entity: Entity(c.ID), Body: &crmv1.ContactUpdated{ContactId: contactID, Fields: changed}}, true, nil
}

// RemoveContact decides the event that removes a contact.
func RemoveContact(views replication.Tx, id, contactID string) (replication.Draft, error) {
	d, _, err := DecideContactRemoval(views, id, contactID)
	return d, err
}

// DecideContactRemoval decides the event that removes a contact, and
// returns the contact as it was: its audit entry records what was removed
// from the record the decision read.
func DecideContactRemoval(views replication.Tx, id, contactID string) (replication.Draft, *Contact, error) {
	c, err := liveCustomer(views, id)
	if err != nil {
		return replication.Draft{}, nil, err
	}
	ct, err := GetContact(views, c.ID, contactID)
	if err != nil {
		return replication.Draft{}, nil, err
	}
	return replication.Draft{Kind: KindContactRemoved, Entity: Entity(c.ID), Body: &crmv1.ContactRemoved{ContactId: contactID}}, ct, nil
}

func checkContactFields(fields []*eventv1.FieldValue) error {
	for _, fv := range fields {
		f, ok := ContactFieldByName(fv.GetField())
		if !ok {
			return fault.Invalidf(fv.GetField(), "unknown_field", "no such contact field")
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

func checkContactEvent(ev *replication.Event, contactID string) error {
	if _, ok := entityID(ev); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	if !replication.ValidULID(contactID) {
		return fault.Invalidf("contact_id", "bad_id", "%q is not a contact id", contactID)
	}
	return nil
}

func checkContactAdded(ev *replication.Event, b *crmv1.ContactAdded) error {
	if err := checkContactEvent(ev, b.GetContactId()); err != nil {
		return err
	}
	if !slices.ContainsFunc(b.GetFields(), func(fv *eventv1.FieldValue) bool { return fv.GetField() == "display_name" && fv.GetValue() != "" }) {
		return fault.Invalidf("display_name", "required", "is required")
	}
	return checkContactFields(b.GetFields())
}

func checkContactUpdated(ev *replication.Event, b *crmv1.ContactUpdated) error {
	if err := checkContactEvent(ev, b.GetContactId()); err != nil {
		return err
	}
	if len(b.GetFields()) == 0 {
		return fault.Invalidf("fields", "required", "no field written")
	}
	return checkContactFields(b.GetFields())
}

func checkContactRemoved(ev *replication.Event, b *crmv1.ContactRemoved) error {
	return checkContactEvent(ev, b.GetContactId())
}

// contactTarget resolves the customer a contact event is about and
// reports whether the contact is removed there.
func contactTarget(tx replication.Tx, ev *replication.Event, contactID string) (rep string, removed bool, ok bool, err error) {
	id, ok := entityID(ev)
	if !ok || !replication.ValidULID(contactID) {
		return "", false, false, nil
	}
	if rep, err = Resolve(tx, id); err != nil {
		return "", false, false, err
	}
	_, err = tx.Get(contactTombstoneKey(rep, contactID))
	switch {
	case err == nil:
		return rep, true, true, nil
	case errors.Is(err, replication.ErrNotFound):
		return rep, false, true, nil
	}
	return "", false, false, err
}

func setContactFields(tx replication.Tx, rep, contactID string, ev *replication.Event, fields []*eventv1.FieldValue) error {
	for _, fv := range fields {
		if _, ok := ContactFieldByName(fv.GetField()); !ok {
			continue
		}
		if _, _, err := replication.SetRegister(tx, contactFieldKey(rep, contactID, fv.GetField()), []byte(fv.GetValue()), replication.StampOf(ev)); err != nil {
			return err
		}
	}
	return nil
}

func applyContactAdded(tx replication.Tx, ev *replication.Event, b *crmv1.ContactAdded) error {
	rep, removed, ok, err := contactTarget(tx, ev, b.GetContactId())
	if err != nil || !ok {
		return err
	}
	if err := AddTimeline(tx, rep, EntryFor(ev, TimelineContactAdded, contactName(b.GetFields()), b.GetContactId())); err != nil {
		return err
	}
	if removed {
		return nil
	}
	if _, _, err := replication.SetRegister(tx, contactKey(rep, b.GetContactId()), nil, replication.StampOf(ev)); err != nil {
		return err
	}
	if err := setContactFields(tx, rep, b.GetContactId(), ev, b.GetFields()); err != nil {
		return err
	}
	return nil
}

func applyContactUpdated(tx replication.Tx, ev *replication.Event, b *crmv1.ContactUpdated) error {
	rep, removed, ok, err := contactTarget(tx, ev, b.GetContactId())
	if err != nil || !ok {
		return err
	}
	if err := AddTimeline(tx, rep, EntryFor(ev, TimelineContactUpdated, fieldNames(b.GetFields()), b.GetContactId())); err != nil {
		return err
	}
	if removed {
		return nil
	}
	if err := setContactFields(tx, rep, b.GetContactId(), ev, b.GetFields()); err != nil {
		return err
	}
	return nil
}

func applyContactRemoved(tx replication.Tx, ev *replication.Event, b *crmv1.ContactRemoved) error {
	rep, _, ok, err := contactTarget(tx, ev, b.GetContactId())
	if err != nil || !ok {
		return err
	}
	if err := AddTimeline(tx, rep, EntryFor(ev, TimelineContactRemoved, "", b.GetContactId())); err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, contactTombstoneKey(rep, b.GetContactId()), []byte(ev.Actor), replication.StampOf(ev)); err != nil {
		return err
	}
	if err := dropContactData(tx, rep, b.GetContactId()); err != nil {
		return err
	}
	return nil
}

// dropContactData deletes a removed contact's add and field registers,
// keeping its tombstone.
func dropContactData(tx replication.Tx, rep, contactID string) error {
	var keys [][]byte
	if err := tx.Scan(contactPrefix(rep, contactID), nil, func(k, _ []byte) (bool, error) {
		keys = append(keys, slices.Clone(k))
		return true, nil
	}); err != nil {
		return err
	}
	keys = append(keys, contactKey(rep, contactID))
	tomb := string(contactTombstoneKey(rep, contactID))
	for _, k := range keys {
		if string(k) == tomb {
			continue
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func contactName(fields []*eventv1.FieldValue) string {
	for _, fv := range fields {
		if fv.GetField() == "display_name" {
			return fv.GetValue()
		}
	}
	return ""
}
