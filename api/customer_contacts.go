package api

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// contactName splits "customers/{id}/contacts/{contact}".
func contactName(name string) (customer, contact string, err error) {
	rest, ok := strings.CutPrefix(name, customerPrefix)
	id, ct, ok2 := strings.Cut(rest, "/contacts/")
	if !ok || !ok2 || !replication.ValidULID(id) || !replication.ValidULID(ct) {
		return "", "", fault.Invalidf("name", "bad_name", "%q is not a contact name (customers/{id}/contacts/{contact})", name)
	}
	return id, ct, nil
}

// contactFields reads the named fields of a proto contact.
func contactFields(c *crmv1.Contact, names []string) (map[string]string, error) {
	m := c.ProtoReflect()
	out := make(map[string]string, len(names))
	for _, n := range names {
		fd := contactDesc.Fields().ByName(protoreflect.Name(n))
		if _, ok := crm.ContactFieldByName(n); !ok || fd == nil {
			return nil, fault.Invalidf(n, "unknown_field", "no such contact field")
		}
		out[n] = m.Get(fd).String()
	}
	return out, nil
}

// contactResponse reads a contact after a write, as the writer may see it.
func (s *CustomerService) contactResponse(g *access.Grant, id, ct string) (*connect.Response[crmv1.Contact], error) {
	var out *crmv1.Contact
	err := s.view(func(views replication.Tx) error {
		c, err := scopedCustomer(views, g, access.CustomerWrite, id)
		if err != nil {
			return err
		}
		contact, err := crm.GetContact(views, c.ID, ct)
		if err != nil {
			return err
		}
		out = contactToProto(contact, !reachesCustomer(g, access.PhoneView, c))
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// AddContact implements CustomerService.AddContact.
func (s *CustomerService) AddContact(ctx context.Context, req *connect.Request[crmv1.AddContactRequest]) (*connect.Response[crmv1.Contact], error) {
	g, err := s.require(ctx, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	id, err := customerIDOf("parent", req.Msg.GetParent())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	in := req.Msg.GetContact()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("contact", "required", "is required"))
	}
	var names []string
	m := in.ProtoReflect()
	for _, f := range crm.ContactFields {
		if fd := contactDesc.Fields().ByName(protoreflect.Name(f.Name)); fd != nil && m.Has(fd) {
			names = append(names, f.Name)
		}
	}
	fields, err := contactFields(in, names)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, ok := fields["display_name"]; !ok {
		fields["display_name"] = ""
	}
	ct := s.IDs.New(time.Now())
	if _, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := scopedCustomer(views, g, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		id = c.ID
		return oneDraft(crm.AddContact(views, c.ID, ct, fields))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.contactResponse(g, id, ct)
}

// UpdateContact implements CustomerService.UpdateContact.
func (s *CustomerService) UpdateContact(ctx context.Context, req *connect.Request[crmv1.UpdateContactRequest]) (*connect.Response[crmv1.Contact], error) {
	g, err := s.require(ctx, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetContact()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("contact", "required", "is required"))
	}
	id, ct, err := contactName(in.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(s.Log, fault.Invalidf("update_mask", "required", "names no field"))
	}
	fields, err := contactFields(in, paths)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := scopedCustomer(views, g, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		id = c.ID
		d, ok, err := crm.UpdateContact(views, c.ID, ct, fields)
		if err != nil || !ok {
			return nil, err
		}
		return oneDraft(d, nil)
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.contactResponse(g, id, ct)
}

// RemoveContact implements CustomerService.RemoveContact.
func (s *CustomerService) RemoveContact(ctx context.Context, req *connect.Request[crmv1.RemoveContactRequest]) (*connect.Response[crmv1.RemoveContactResponse], error) {
	g, err := s.require(ctx, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	id, ct, err := contactName(req.Msg.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := scopedCustomer(views, g, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		return oneDraft(crm.RemoveContact(views, c.ID, ct))
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(&crmv1.RemoveContactResponse{}), nil
}

func timelineToProto(e crm.TimelineEntry) *crmv1.TimelineEntry {
	return &crmv1.TimelineEntry{Kind: e.Kind, Time: hlcTimestamp(e.HLC), Actor: e.Actor, Summary: e.Summary, Ref: e.Ref, Origin: e.Origin}
}

// AddNote implements CustomerService.AddNote.
func (s *CustomerService) AddNote(ctx context.Context, req *connect.Request[crmv1.AddNoteRequest]) (*connect.Response[crmv1.TimelineEntry], error) {
	g, err := s.require(ctx, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	id, err := customerIDOf("parent", req.Msg.GetParent())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	evs, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := scopedCustomer(views, g, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		return oneDraft(crm.AddNote(views, c.ID, req.Msg.GetText()))
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(timelineToProto(crm.EntryFor(evs[0], crm.TimelineNote, strings.TrimSpace(req.Msg.GetText()), ""))), nil
}

// GetTimeline implements CustomerService.GetTimeline.
func (s *CustomerService) GetTimeline(ctx context.Context, req *connect.Request[crmv1.GetTimelineRequest]) (*connect.Response[crmv1.GetTimelineResponse], error) {
	g, err := s.require(ctx, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	id, err := customerID(req.Msg.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &crmv1.GetTimelineResponse{}
	err = s.view(func(views replication.Tx) error {
		c, err := scopedCustomer(views, g, access.CustomerRead, id)
		if err != nil {
			return err
		}
		entries, next, err := crm.Timeline(views, c.ID, req.Msg.GetPageToken(), size, req.Msg.GetNewestFirst())
		if err != nil {
			return err
		}
		for _, e := range entries {
			resp.Entries = append(resp.Entries, timelineToProto(e))
		}
		resp.NextPageToken = next
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}
