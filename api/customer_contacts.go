package api

import (
	"context"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
)

// contactName splits "customers/{id}/contacts/{contact}"; what does not
// split is passed on for the use case to refuse.
func contactName(name string) (customer, contact string) {
	rest := nameID(customerPrefix, name)
	customer, contact, _ = strings.Cut(rest, "/contacts/")
	return customer, contact
}

// contactFields reads the named fields of a proto contact; nil reads as
// nil.
func contactFields(c *crmv1.Contact, names []string) map[string]string {
	if c == nil {
		return nil
	}
	return stringFields(c.ProtoReflect(), names)
}

// AddContact implements CustomerService.AddContact.
func (s *CustomerService) AddContact(ctx context.Context, req *connect.Request[crmv1.AddContactRequest]) (*connect.Response[crmv1.Contact], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.AddContactRequest) (*crmv1.Contact, error) {
		var names []string
		if in := m.GetContact(); in != nil {
			pm := in.ProtoReflect()
			for _, f := range crm.ContactFields {
				if fd := contactDesc.Fields().ByName(protoreflect.Name(f.Name)); fd != nil && pm.Has(fd) {
					names = append(names, f.Name)
				}
			}
		}
		return pb(contactPB)(s.App.AddContact(ctx, c, crmapp.ContactAdd{Customer: nameID(customerPrefix, m.GetParent()),
			Fields: contactFields(m.GetContact(), names)}))
	})
}

// UpdateContact implements CustomerService.UpdateContact.
func (s *CustomerService) UpdateContact(ctx context.Context, req *connect.Request[crmv1.UpdateContactRequest]) (*connect.Response[crmv1.Contact], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.UpdateContactRequest) (*crmv1.Contact, error) {
		id, ct := contactName(m.GetContact().GetName())
		out, _, err := s.App.UpdateContact(ctx, c, crmapp.ContactUpdate{Customer: id, Contact: ct,
			Fields: contactFields(m.GetContact(), m.GetUpdateMask().GetPaths())})
		return pb(contactPB)(out, err)
	})
}

// RemoveContact implements CustomerService.RemoveContact.
func (s *CustomerService) RemoveContact(ctx context.Context, req *connect.Request[crmv1.RemoveContactRequest]) (*connect.Response[crmv1.RemoveContactResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.RemoveContactRequest) (*crmv1.RemoveContactResponse, error) {
		id, ct := contactName(m.GetName())
		return &crmv1.RemoveContactResponse{}, s.App.RemoveContact(ctx, c, id, ct)
	})
}

func timelinePB(e crmapp.TimelineEntry) *crmv1.TimelineEntry {
	return &crmv1.TimelineEntry{Kind: e.Kind, Time: ts(e.Time), Actor: e.Actor, Summary: e.Summary, Ref: e.Ref, Origin: e.Origin}
}

// AddNote implements CustomerService.AddNote.
func (s *CustomerService) AddNote(ctx context.Context, req *connect.Request[crmv1.AddNoteRequest]) (*connect.Response[crmv1.TimelineEntry], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.AddNoteRequest) (*crmv1.TimelineEntry, error) {
		return pb(timelinePB)(s.App.AddNote(ctx, c, nameID(customerPrefix, m.GetParent()), m.GetText()))
	})
}

// GetTimeline implements CustomerService.GetTimeline.
func (s *CustomerService) GetTimeline(ctx context.Context, req *connect.Request[crmv1.GetTimelineRequest]) (*connect.Response[crmv1.GetTimelineResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.GetTimelineRequest) (*crmv1.GetTimelineResponse, error) {
		return pb(func(p app.Page[crmapp.TimelineEntry]) *crmv1.GetTimelineResponse {
			return &crmv1.GetTimelineResponse{Entries: each(p.Items, timelinePB), NextPageToken: p.Next}
		})(s.App.Timeline(ctx, c, crmapp.TimelineQuery{Customer: nameID(customerPrefix, m.GetName()), Size: int(m.GetPageSize()),
			After: m.GetPageToken(), NewestFirst: m.GetNewestFirst()}))
	})
}
