package crmapp

import (
	"context"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// The audit actions of a customer's contacts and notes. Their entries
// target the customer; a contact's values are recorded as changes of
// AuditContactPrefix+field, with what they were, and the contact's name as
// the detail.
const (
	ActionContactAdd    = "customer.contact_add"
	ActionContactUpdate = "customer.contact_update"
	ActionContactRemove = "customer.contact_remove"
	ActionNoteAdd       = "customer.note_add"
)

// AuditContactPrefix marks a contact's fields among audit changes
// ("contact.mobile"), which the audit log words as the contact form does.
const AuditContactPrefix = "contact."

// AuditNoteField is the field of a note's audit entry: its text.
const AuditNoteField = "note"

// contactChanges lists the values fvs write over those of before (nil for
// a new contact), for the audit entry; phone numbers marked, for the log
// to mask them as pages do.
func contactChanges(before map[string]string, fvs []*eventv1.FieldValue) []access.AuditChange {
	out := make([]access.AuditChange, 0, len(fvs))
	for _, fv := range fvs {
		out = append(out, access.AuditChange{Field: AuditContactPrefix + fv.GetField(), Before: before[fv.GetField()],
			After: fv.GetValue(), Phone: crm.IsPhoneField(fv.GetField())})
	}
	return out
}

// checkContactFields refuses the names of fields contacts do not have.
func checkContactFields(fields map[string]string) error {
	for n := range fields {
		if _, ok := crm.ContactFieldByName(n); !ok {
			return fault.Invalidf(n, "unknown_field", "no such contact field")
		}
	}
	return nil
}

// checkContact validates the ids of a contact a request names.
func checkContact(customer, contact string) error {
	if !replication.ValidULID(customer) || !replication.ValidULID(contact) {
		return fault.Invalidf("name", "bad_name", "%q, %q is not a contact", customer, contact)
	}
	return nil
}

// contactAfter reads a contact after a change, as the writer may see it.
func (s *Customers) contactAfter(c app.Caller, id, contact string) (*Contact, error) {
	return app.Read(s.Store, func(views replication.Tx) (*Contact, error) {
		cu, err := scoped(views, c, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		ct, err := crm.GetContact(views, cu.ID, contact)
		if err != nil {
			return nil, err
		}
		out := showContact(ct, !reaches(c, access.PhoneView, cu))
		return &out, nil
	})
}

// ContactAdd is a new contact of a customer: its fields by name
// (crm.ContactFields); nil is no contact at all.
type ContactAdd struct {
	Customer string
	Fields   map[string]string
}

// AddContact adds a contact to a customer the caller may write.
func (s *Customers) AddContact(ctx context.Context, c app.Caller, req ContactAdd) (*Contact, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, err
	}
	if err := checkID("parent", req.Customer); err != nil {
		return nil, err
	}
	if req.Fields == nil {
		return nil, fault.Invalidf("contact", "required", "is required")
	}
	if err := checkContactFields(req.Fields); err != nil {
		return nil, err
	}
	fields := map[string]string{"display_name": ""} // so that the domain reports it missing
	for k, v := range req.Fields {
		fields[k] = v
	}
	id, ct := req.Customer, s.IDs.New(s.Now.Time())
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionContactAdd, customerRef(id), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cu, err := scoped(views, c, access.CustomerWrite, id)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		id = cu.ID
		d, err := crm.AddContact(views, cu.ID, ct, fields)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		b, _ := d.Body.(*crmv1.ContactAdded)
		return []replication.Draft{d}, access.AuditNote{Detail: fields["display_name"], Changes: contactChanges(nil, b.GetFields())}, nil
	}); err != nil {
		return nil, err
	}
	return s.contactAfter(c, id, ct)
}

// ContactUpdate writes fields of a contact. A field whose value is the
// current one, as stored or as the caller was shown it, is not written.
type ContactUpdate struct {
	Customer, Contact string
	// Fields are the values to write; nil is no contact at all.
	Fields map[string]string
}

// UpdateContact changes fields of a contact of a customer the caller may
// write; it reports whether anything changed.
func (s *Customers) UpdateContact(ctx context.Context, c app.Caller, req ContactUpdate) (*Contact, bool, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, false, err
	}
	if req.Fields == nil {
		return nil, false, fault.Invalidf("contact", "required", "is required")
	}
	if err := checkContact(req.Customer, req.Contact); err != nil {
		return nil, false, err
	}
	if len(req.Fields) == 0 {
		return nil, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	if err := checkContactFields(req.Fields); err != nil {
		return nil, false, err
	}
	id := req.Customer
	evs, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionContactUpdate, customerRef(id), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cu, err := scoped(views, c, access.CustomerWrite, id)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		id = cu.ID
		cur, err := crm.GetContact(views, cu.ID, req.Contact)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		shown := showContact(cur, !reaches(c, access.PhoneView, cu))
		fields := map[string]string{}
		for n, v := range req.Fields {
			if v != cur.Fields[n] && v != shown.Fields[n] && !samePhone(n, v, shown.Fields[n]) {
				fields[n] = v
			}
		}
		if len(fields) == 0 {
			return nil, access.AuditNote{}, nil
		}
		d, ok, err := crm.UpdateContact(views, cu.ID, req.Contact, fields)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		b, _ := d.Body.(*crmv1.ContactUpdated)
		return []replication.Draft{d}, access.AuditNote{Detail: cur.Fields["display_name"], Changes: contactChanges(cur.Fields, b.GetFields())}, nil
	})
	if err != nil {
		return nil, false, err
	}
	out, err := s.contactAfter(c, id, req.Contact)
	return out, len(evs) > 0, err
}

// RemoveContact removes a contact of a customer the caller may write.
func (s *Customers) RemoveContact(ctx context.Context, c app.Caller, customer, contact string) error {
	if err := c.Require(access.CustomerWrite); err != nil {
		return err
	}
	if err := checkContact(customer, contact); err != nil {
		return err
	}
	_, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionContactRemove, customerRef(customer), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cu, err := scoped(views, c, access.CustomerWrite, customer)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		d, ct, err := crm.DecideContactRemoval(views, cu.ID, contact)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		note := access.AuditNote{Detail: ct.Fields["display_name"]}
		for _, f := range crm.ContactFields {
			if v := ct.Fields[f.Name]; v != "" {
				note.Changes = append(note.Changes, access.AuditChange{Field: AuditContactPrefix + f.Name, Before: v, Phone: crm.IsPhoneField(f.Name)})
			}
		}
		return []replication.Draft{d}, note, nil
	})
	return err
}

// TimelineEntry is one entry of a customer's timeline (see
// crm.TimelineEntry).
type TimelineEntry struct {
	Kind    string
	Time    time.Time
	Actor   string
	Origin  string
	Summary string
	Ref     string
}

func entryOf(e crm.TimelineEntry) TimelineEntry {
	return TimelineEntry{Kind: e.Kind, Time: app.When(e.HLC), Actor: e.Actor, Origin: e.Origin, Summary: e.Summary, Ref: e.Ref}
}

// AddNote adds a note to the timeline of a customer the caller may write.
func (s *Customers) AddNote(ctx context.Context, c app.Caller, customer, text string) (TimelineEntry, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return TimelineEntry{}, err
	}
	if err := checkID("parent", customer); err != nil {
		return TimelineEntry{}, err
	}
	evs, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionNoteAdd, customerRef(customer), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cu, err := scoped(views, c, access.CustomerWrite, customer)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		d, err := crm.AddNote(views, cu.ID, text)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		b, _ := d.Body.(*crmv1.CustomerNoteAdded)
		return []replication.Draft{d}, access.AuditNote{Changes: []access.AuditChange{{Field: AuditNoteField, After: b.GetText()}}}, nil
	})
	if err != nil {
		return TimelineEntry{}, err
	}
	return entryOf(crm.EntryFor(evs[0], crm.TimelineNote, strings.TrimSpace(text), "")), nil
}

// TimelineQuery asks for a page of a customer's timeline.
type TimelineQuery struct {
	Customer    string
	Size        int
	After       string
	NewestFirst bool
}

// Timeline reads a page of the timeline of a customer the caller may
// read.
func (s *Customers) Timeline(_ context.Context, c app.Caller, q TimelineQuery) (app.Page[TimelineEntry], error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return app.Page[TimelineEntry]{}, err
	}
	if err := checkID("name", q.Customer); err != nil {
		return app.Page[TimelineEntry]{}, err
	}
	size, err := app.PageSize(q.Size, 50)
	if err != nil {
		return app.Page[TimelineEntry]{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (app.Page[TimelineEntry], error) {
		var out app.Page[TimelineEntry]
		cu, err := scoped(views, c, access.CustomerRead, q.Customer)
		if err != nil {
			return out, err
		}
		entries, next, err := crm.Timeline(views, cu.ID, q.After, size, q.NewestFirst)
		for _, e := range entries {
			out.Items = append(out.Items, entryOf(e))
		}
		out.Next = next
		return out, err
	})
}
