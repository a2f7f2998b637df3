package crmapp

import (
	"context"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
)

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
	if _, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		cu, err := scoped(views, c, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		id = cu.ID
		return app.One(crm.AddContact(views, cu.ID, ct, fields))
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
	evs, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		cu, err := scoped(views, c, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		id = cu.ID
		cur, err := crm.GetContact(views, cu.ID, req.Contact)
		if err != nil {
			return nil, err
		}
		shown := showContact(cur, !reaches(c, access.PhoneView, cu))
		fields := map[string]string{}
		for n, v := range req.Fields {
			if v != cur.Fields[n] && v != shown.Fields[n] && !samePhone(n, v, shown.Fields[n]) {
				fields[n] = v
			}
		}
		if len(fields) == 0 {
			return nil, nil
		}
		return app.OneIf(crm.UpdateContact(views, cu.ID, req.Contact, fields))
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
	_, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		cu, err := scoped(views, c, access.CustomerWrite, customer)
		if err != nil {
			return nil, err
		}
		return app.One(crm.RemoveContact(views, cu.ID, contact))
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
	evs, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		cu, err := scoped(views, c, access.CustomerWrite, customer)
		if err != nil {
			return nil, err
		}
		return app.One(crm.AddNote(views, cu.ID, text))
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
