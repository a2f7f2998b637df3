package api

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
)

// CustomerService implements branchline.crm.v1.CustomerService on a node
// over the customer use cases (crmapp.Customers), which check the caller's
// permission and data scope.
type CustomerService struct {
	App    *crmapp.Customers
	Grants app.Grants
	Log    *slog.Logger
}

var _ crmv1connect.CustomerServiceHandler = (*CustomerService)(nil)

const customerPrefix = "customers/"

// The proto Customer has one string field per crm.Field, of the same name;
// these helpers copy between them by reflection so that a field added to
// both needs no code here. Contacts likewise.
var (
	customerDesc = (&crmv1.Customer{}).ProtoReflect().Descriptor()
	contactDesc  = (&crmv1.Contact{}).ProtoReflect().Descriptor()
)

func customerPB(c *crmapp.Customer) *crmv1.Customer {
	out := &crmv1.Customer{
		Name: customerPrefix + c.ID, Origin: c.Origin, CreateTime: ts(c.Created), UpdateTime: ts(c.Updated),
		Deleted: c.Deleted, DeleteUser: c.DeletedBy, DeleteTime: ts(c.DeletedAt), PhonesMasked: c.PhonesMasked,
		MergedFrom: ref(customerPrefix, c.MergedFrom), Custom: c.Custom,
	}
	m := out.ProtoReflect()
	for name, v := range c.Fields {
		if name == "parent" {
			v = ref(customerPrefix, v)
		}
		if fd := customerDesc.Fields().ByName(protoreflect.Name(name)); fd != nil && fd.Kind() == protoreflect.StringKind {
			m.Set(fd, protoreflect.ValueOfString(v))
		}
	}
	for _, ct := range c.Contacts {
		out.Contacts = append(out.Contacts, contactPB(&ct))
	}
	return out
}

func contactPB(ct *crmapp.Contact) *crmv1.Contact {
	out := &crmv1.Contact{Name: customerPrefix + ct.CustomerID + "/contacts/" + ct.ID, PhonesMasked: ct.PhonesMasked,
		CreateTime: ts(ct.Created), UpdateTime: ts(ct.Updated)}
	m := out.ProtoReflect()
	for name, v := range ct.Fields {
		if fd := contactDesc.Fields().ByName(protoreflect.Name(name)); fd != nil && fd.Kind() == protoreflect.StringKind {
			m.Set(fd, protoreflect.ValueOfString(v))
		}
	}
	return out
}

// stringFields reads the named string fields of a message; a name the
// message lacks is passed on with no value, for the use case to refuse.
func stringFields(m protoreflect.Message, names []string) map[string]string {
	out := make(map[string]string, len(names))
	for _, n := range names {
		if fd := m.Descriptor().Fields().ByName(protoreflect.Name(n)); fd != nil && fd.Kind() == protoreflect.StringKind {
			out[n] = m.Get(fd).String()
		} else {
			out[n] = ""
		}
	}
	return out
}

// customerFields reads the named fields of a proto customer: built-in
// fields by name, custom ones as "custom.<key>", the parent as an id. A
// nil customer reads as nil.
func customerFields(c *crmv1.Customer, names []string) map[string]string {
	if c == nil {
		return nil
	}
	var builtin []string
	custom := map[string]string{}
	for _, n := range names {
		if key, ok := strings.CutPrefix(n, crm.CustomPrefix); ok {
			custom[n] = c.GetCustom()[key]
		} else {
			builtin = append(builtin, n)
		}
	}
	out := stringFields(c.ProtoReflect(), builtin)
	for n, v := range custom {
		out[n] = v
	}
	if p, ok := out["parent"]; ok {
		out["parent"] = strings.TrimPrefix(p, customerPrefix)
	}
	return out
}

// setFields lists the fields of a proto customer that are not empty.
func setFields(c *crmv1.Customer) []string {
	var names []string
	m := c.ProtoReflect()
	for _, f := range crm.Fields {
		if fd := customerDesc.Fields().ByName(protoreflect.Name(f.Name)); fd != nil && m.Has(fd) {
			names = append(names, f.Name)
		}
	}
	for k := range c.GetCustom() {
		names = append(names, crm.CustomPrefix+k)
	}
	return names
}

func duplicatesPB(dups []crmapp.Duplicate) *crmv1.FindDuplicatesResponse {
	out := &crmv1.FindDuplicatesResponse{}
	for _, d := range dups {
		out.Duplicates = append(out.Duplicates, &crmv1.Duplicate{Customer: customerPB(d.Customer), Reasons: d.Reasons})
	}
	return out
}

// duplicatesError refuses a new customer that looks like existing ones;
// the client gets them as a FindDuplicatesResponse detail.
type duplicatesError struct{ *crmapp.DuplicatesError }

func (e duplicatesError) ErrorDetails() []proto.Message {
	return []proto.Message{duplicatesPB(e.Found)}
}

// CreateCustomer implements CustomerService.CreateCustomer.
func (s *CustomerService) CreateCustomer(ctx context.Context, req *connect.Request[crmv1.CreateCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.CreateCustomerRequest) (*crmv1.Customer, error) {
		out, err := s.App.Create(ctx, c, crmapp.CustomerCreate{Fields: customerFields(m.GetCustomer(), setFields(m.GetCustomer())), AllowDuplicate: m.GetAllowDuplicate()})
		if dup := (*crmapp.DuplicatesError)(nil); errors.As(err, &dup) {
			return nil, duplicatesError{dup}
		}
		return pb(customerPB)(out, err)
	})
}

// GetCustomer implements CustomerService.GetCustomer.
func (s *CustomerService) GetCustomer(ctx context.Context, req *connect.Request[crmv1.GetCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.GetCustomerRequest) (*crmv1.Customer, error) {
		return pb(customerPB)(s.App.Get(ctx, c, nameID(customerPrefix, m.GetName())))
	})
}

// UpdateCustomer implements CustomerService.UpdateCustomer.
func (s *CustomerService) UpdateCustomer(ctx context.Context, req *connect.Request[crmv1.UpdateCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.UpdateCustomerRequest) (*crmv1.Customer, error) {
		fields := customerFields(m.GetCustomer(), m.GetUpdateMask().GetPaths())
		out, _, err := s.App.Update(ctx, c, crmapp.CustomerUpdate{ID: nameID(customerPrefix, m.GetCustomer().GetName()), Fields: fields})
		return pb(customerPB)(out, err)
	})
}

// DeleteCustomer implements CustomerService.DeleteCustomer.
func (s *CustomerService) DeleteCustomer(ctx context.Context, req *connect.Request[crmv1.DeleteCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.DeleteCustomerRequest) (*crmv1.Customer, error) {
		return pb(customerPB)(s.App.Delete(ctx, c, nameID(customerPrefix, m.GetName())))
	})
}

// UndeleteCustomer implements CustomerService.UndeleteCustomer.
func (s *CustomerService) UndeleteCustomer(ctx context.Context, req *connect.Request[crmv1.UndeleteCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.UndeleteCustomerRequest) (*crmv1.Customer, error) {
		return pb(customerPB)(s.App.Restore(ctx, c, nameID(customerPrefix, m.GetName())))
	})
}

// ListDeletedCustomers implements CustomerService.ListDeletedCustomers.
func (s *CustomerService) ListDeletedCustomers(ctx context.Context, req *connect.Request[crmv1.ListDeletedCustomersRequest]) (*connect.Response[crmv1.ListDeletedCustomersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ListDeletedCustomersRequest) (*crmv1.ListDeletedCustomersResponse, error) {
		return pb(func(p app.Page[*crmapp.Customer]) *crmv1.ListDeletedCustomersResponse {
			return &crmv1.ListDeletedCustomersResponse{Customers: customersPB(p.Items), NextPageToken: p.Next}
		})(s.App.ListDeleted(ctx, c, int(m.GetPageSize()), m.GetPageToken()))
	})
}

func customersPB(cs []*crmapp.Customer) []*crmv1.Customer {
	out := make([]*crmv1.Customer, len(cs))
	for i, c := range cs {
		out[i] = customerPB(c)
	}
	return out
}

// searchOf translates a search's query and filters.
func searchOf(query string, filters []*crmv1.Filter) crmapp.Search {
	q := crmapp.Search{Text: query}
	for _, f := range filters {
		cond := crmapp.Condition{Field: f.GetField(), Value: f.GetValue()}
		switch f.GetOperator() {
		case crmv1.Operator_OPERATOR_UNSPECIFIED, crmv1.Operator_OPERATOR_EQUALS:
		case crmv1.Operator_OPERATOR_CONTAINS:
			cond.Contains = true
		default:
			if q.Unknown == nil {
				q.Unknown = &crmapp.Condition{Field: f.GetField(), Value: f.GetOperator().String()}
			}
		}
		q.Conditions = append(q.Conditions, cond)
	}
	return q
}

func searchPB(p app.Page[*crmapp.Customer]) *crmv1.SearchCustomersResponse {
	return &crmv1.SearchCustomersResponse{Customers: customersPB(p.Items), NextPageToken: p.Next}
}

// ListCustomers implements CustomerService.ListCustomers.
func (s *CustomerService) ListCustomers(ctx context.Context, req *connect.Request[crmv1.ListCustomersRequest]) (*connect.Response[crmv1.ListCustomersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ListCustomersRequest) (*crmv1.ListCustomersResponse, error) {
		return pb(func(p app.Page[*crmapp.Customer]) *crmv1.ListCustomersResponse {
			return &crmv1.ListCustomersResponse{Customers: customersPB(p.Items), NextPageToken: p.Next}
		})(s.App.Search(ctx, c, crmapp.Search{}, int(m.GetPageSize()), m.GetPageToken()))
	})
}

// SearchCustomers implements CustomerService.SearchCustomers.
func (s *CustomerService) SearchCustomers(ctx context.Context, req *connect.Request[crmv1.SearchCustomersRequest]) (*connect.Response[crmv1.SearchCustomersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.SearchCustomersRequest) (*crmv1.SearchCustomersResponse, error) {
		return pb(searchPB)(s.App.Search(ctx, c, searchOf(m.GetQuery(), m.GetFilters()), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// SuggestCustomers implements CustomerService.SuggestCustomers.
func (s *CustomerService) SuggestCustomers(ctx context.Context, req *connect.Request[crmv1.SuggestCustomersRequest]) (*connect.Response[crmv1.SuggestCustomersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.SuggestCustomersRequest) (*crmv1.SuggestCustomersResponse, error) {
		return pb(func(hits []crmapp.Suggestion) *crmv1.SuggestCustomersResponse {
			out := &crmv1.SuggestCustomersResponse{}
			for _, h := range hits {
				out.Suggestions = append(out.Suggestions, &crmv1.Suggestion{Customer: customerPrefix + h.ID, DisplayName: h.Name,
					Code: h.Code, City: h.City, Field: h.Field, Value: h.Value})
			}
			return out
		})(s.App.Suggest(ctx, c, m.GetQuery(), int(m.GetLimit())))
	})
}

// LookupByPhone implements CustomerService.LookupByPhone.
func (s *CustomerService) LookupByPhone(ctx context.Context, req *connect.Request[crmv1.LookupByPhoneRequest]) (*connect.Response[crmv1.LookupByPhoneResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.LookupByPhoneRequest) (*crmv1.LookupByPhoneResponse, error) {
		return pb(func(cs []*crmapp.Customer) *crmv1.LookupByPhoneResponse {
			return &crmv1.LookupByPhoneResponse{Customers: customersPB(cs)}
		})(s.App.LookupByPhone(ctx, c, m.GetPhone()))
	})
}

// FindDuplicates implements CustomerService.FindDuplicates.
func (s *CustomerService) FindDuplicates(ctx context.Context, req *connect.Request[crmv1.FindDuplicatesRequest]) (*connect.Response[crmv1.FindDuplicatesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.FindDuplicatesRequest) (*crmv1.FindDuplicatesResponse, error) {
		in := m.GetCustomer()
		return pb(duplicatesPB)(s.App.FindDuplicates(ctx, c, crmapp.DuplicateCheck{
			ID: strings.TrimPrefix(in.GetName(), customerPrefix), Fields: customerFields(in, setFields(in))}))
	})
}

// MergeCustomers implements CustomerService.MergeCustomers.
func (s *CustomerService) MergeCustomers(ctx context.Context, req *connect.Request[crmv1.MergeCustomersRequest]) (*connect.Response[crmv1.MergeCustomersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.MergeCustomersRequest) (*crmv1.MergeCustomersResponse, error) {
		loser := nameID(customerPrefix, m.GetLoser())
		return pb(func(w *crmapp.Customer) *crmv1.MergeCustomersResponse {
			return &crmv1.MergeCustomersResponse{Customer: customerPB(w), Loser: customerPrefix + loser}
		})(s.App.Merge(ctx, c, crmapp.Merge{Winner: nameID(customerPrefix, m.GetWinner()), Loser: loser, Fields: m.GetFields()}))
	})
}
