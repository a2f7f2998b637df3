package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/auth"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/replication"
)

// Store is what the node's services need of its event store.
type Store interface {
	// Exec runs a command and durably records the events it makes.
	Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error)
	// View reads the views in a consistent snapshot.
	View(fn func(views replication.Tx) error) error
}

// CustomerService implements branchline.crm.v1.CustomerService on a node.
// Every handler first checks the caller's permission (Grants), then the
// data scope of each customer it reads or writes against the customer's
// owner and department.
type CustomerService struct {
	Store  Store
	IDs    *replication.IDs
	Log    *slog.Logger
	Grants Grants
	// Auditor, when set, records exports, merges, deletions, restores and
	// imports.
	Auditor Auditor
}

var _ crmv1connect.CustomerServiceHandler = (*CustomerService)(nil)

const customerPrefix = "customers/"

// errNoGrants refuses everything when the service was built without a way
// to resolve grants.
var errNoGrants = errors.New("no grants configured")

func (s *CustomerService) require(ctx context.Context, perm access.Perm) (*access.Grant, error) {
	grants := s.Grants
	if grants == nil {
		grants = func(context.Context, *auth.Principal) (*access.Grant, error) { return nil, errNoGrants }
	}
	return Require(ctx, grants, perm)
}

// audit records an action that happened (the change is committed): a
// failure to record it is logged, not returned.
func (s *CustomerService) audit(ctx context.Context, action, target, detail string) {
	if s.Auditor == nil {
		return
	}
	if err := s.Auditor.Record(ctx, action, target, detail); err != nil {
		s.Log.Error("audit record lost", "action", action, "target", target, "err", err)
	}
}

func (s *CustomerService) view(fn func(views replication.Tx) error) error {
	return s.Store.View(fn)
}

// exec runs a command as the caller.
func (s *CustomerService) exec(ctx context.Context, cmd replication.Command) ([]*replication.Event, error) {
	return s.Store.Exec(ctx, actor(ctx), cmd)
}

// one adapts a command making one draft.
func oneDraft(d replication.Draft, err error) ([]replication.Draft, error) {
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

// reaches reports whether g's perm covers customer c.
func reachesCustomer(g *access.Grant, perm access.Perm, c *crm.Customer) bool {
	return g.Reaches(perm, c.Get("owner"), c.Get("department"))
}

// inScope fails with ErrDenied unless g's perm covers c.
func customerInScope(g *access.Grant, perm access.Perm, c *crm.Customer) error {
	if !reachesCustomer(g, perm, c) {
		return fmt.Errorf("%w: customer %s is outside your data scope for %s", fault.ErrDenied, c.ID, perm)
	}
	return nil
}

// scopedCustomer reads a customer for a command or query and checks perm's
// scope on it.
func scopedCustomer(views replication.Tx, g *access.Grant, perm access.Perm, id string) (*crm.Customer, error) {
	c, err := crm.GetCustomer(views, id)
	if err != nil {
		return nil, err
	}
	return c, customerInScope(g, perm, c)
}

// The proto Customer has one string field per crm.Field, of the same name;
// these helpers copy between them by reflection so that a field added to
// both needs no code here. Contacts likewise.
var (
	customerDesc = (&crmv1.Customer{}).ProtoReflect().Descriptor()
	contactDesc  = (&crmv1.Contact{}).ProtoReflect().Descriptor()
)

func protoField(name string) protoreflect.FieldDescriptor {
	return customerDesc.Fields().ByName(protoreflect.Name(name))
}

func hlcTimestamp(h replication.HLC) *timestamppb.Timestamp {
	if h == 0 {
		return nil
	}
	return timestamppb.New(h.Time())
}

// view is how one reader sees customers: which custom fields exist and
// whether phone numbers are masked for a customer.
type customerView struct {
	g    *access.Grant
	defs []crm.CustomField
}

func (v customerView) masked(c *crm.Customer) bool { return !reachesCustomer(v.g, access.PhoneView, c) }

func (s *CustomerService) readerView(views replication.Tx, g *access.Grant) (customerView, error) {
	defs, err := crm.CustomFields(views)
	return customerView{g: g, defs: defs}, err
}

func (v customerView) proto(c *crm.Customer) *crmv1.Customer {
	masked := v.masked(c)
	out := &crmv1.Customer{
		Name:         customerPrefix + c.ID,
		Origin:       c.Origin,
		CreateTime:   hlcTimestamp(c.Created),
		UpdateTime:   hlcTimestamp(c.Updated),
		Deleted:      c.Deleted,
		DeleteUser:   c.DeletedBy,
		DeleteTime:   hlcTimestamp(c.DeletedAt),
		PhonesMasked: masked,
	}
	if c.MergedFrom != "" {
		out.MergedFrom = customerPrefix + c.MergedFrom
	}
	m := out.ProtoReflect()
	for _, f := range crm.Fields {
		val := c.Get(f.Name)
		if f.Name == "parent" && val != "" {
			val = customerPrefix + val
		}
		if crm.IsPhoneField(f.Name) {
			val = showPhone(val, masked)
		}
		if fd := protoField(f.Name); fd != nil && val != "" {
			m.Set(fd, protoreflect.ValueOfString(val))
		}
	}
	for _, d := range v.defs {
		if val := c.Custom[d.Key]; val != "" && !d.Retired {
			if out.Custom == nil {
				out.Custom = map[string]string{}
			}
			out.Custom[d.Key] = val
		}
	}
	return out
}

func contactToProto(ct *crm.Contact, masked bool) *crmv1.Contact {
	out := &crmv1.Contact{
		Name:         customerPrefix + ct.CustomerID + "/contacts/" + ct.ID,
		PhonesMasked: masked,
		CreateTime:   hlcTimestamp(ct.Created),
		UpdateTime:   hlcTimestamp(ct.Updated),
	}
	m := out.ProtoReflect()
	for _, f := range crm.ContactFields {
		val := ct.Fields[f.Name]
		if crm.IsPhoneField(f.Name) {
			val = showPhone(val, masked)
		}
		if fd := contactDesc.Fields().ByName(protoreflect.Name(f.Name)); fd != nil && val != "" {
			m.Set(fd, protoreflect.ValueOfString(val))
		}
	}
	return out
}

// fieldsFromProto reads the named fields of a proto customer: built-in
// fields by name, custom ones as "custom.<key>".
func fieldsFromProto(c *crmv1.Customer, names []string) (map[string]string, error) {
	m := c.ProtoReflect()
	out := make(map[string]string, len(names))
	for _, n := range names {
		if key, ok := strings.CutPrefix(n, "custom."); ok {
			out[n] = c.GetCustom()[key]
			continue
		}
		fd := protoField(n)
		if _, ok := crm.FieldByName(n); !ok || fd == nil {
			return nil, fault.Invalidf(n, "unknown_field", "no such customer field")
		}
		v := m.Get(fd).String()
		if n == "parent" {
			v = strings.TrimPrefix(v, customerPrefix)
		}
		out[n] = v
	}
	return out, nil
}

// setFields lists the fields of a proto customer that are not empty.
func setFields(c *crmv1.Customer) []string {
	var names []string
	m := c.ProtoReflect()
	for _, f := range crm.Fields {
		if fd := protoField(f.Name); fd != nil && m.Has(fd) {
			names = append(names, f.Name)
		}
	}
	for k := range c.GetCustom() {
		names = append(names, "custom."+k)
	}
	return names
}

func customerID(name string) (string, error) {
	return customerIDOf("name", name)
}

func customerIDOf(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, customerPrefix)
	if !ok || !replication.ValidULID(id) {
		return "", fault.Invalidf(field, "bad_name", "%q is not a customer name (customers/{id})", name)
	}
	return id, nil
}

func actor(ctx context.Context) string {
	if p, ok := PrincipalFrom(ctx); ok {
		return p.User
	}
	return ""
}

// duplicatesError refuses a new customer that looks like existing ones;
// the client gets them as a FindDuplicatesResponse detail.
type duplicatesError struct{ found *crmv1.FindDuplicatesResponse }

func (e *duplicatesError) Error() string {
	return fmt.Sprintf("%d customers look like this one (set allow_duplicate to create it anyway)", len(e.found.GetDuplicates()))
}

func (e *duplicatesError) Unwrap() error                 { return fault.ErrConflict }
func (e *duplicatesError) ErrorDetails() []proto.Message { return []proto.Message{e.found} }

// duplicatesProto shows duplicates to a reader: customers outside the
// reader's scope only by name, city, owner and department (enough to see
// that a colleague already serves the customer).
func (v customerView) duplicatesProto(dups []crm.Duplicate) *crmv1.FindDuplicatesResponse {
	out := &crmv1.FindDuplicatesResponse{}
	for _, d := range dups {
		c := d.Customer
		var pc *crmv1.Customer
		if reachesCustomer(v.g, access.CustomerRead, c) {
			pc = v.proto(c)
		} else {
			pc = &crmv1.Customer{Name: customerPrefix + c.ID, DisplayName: c.Get("display_name"), City: c.Get("city"),
				Owner: c.Get("owner"), Department: c.Get("department"), PhonesMasked: true}
		}
		out.Duplicates = append(out.Duplicates, &crmv1.Duplicate{Customer: pc, Reasons: d.Reasons})
	}
	return out
}

// CreateCustomer implements CustomerService.CreateCustomer.
func (s *CustomerService) CreateCustomer(ctx context.Context, req *connect.Request[crmv1.CreateCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	g, err := s.require(ctx, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetCustomer()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("customer", "required", "is required"))
	}
	fields, err := fieldsFromProto(in, setFields(in))
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, ok := fields["display_name"]; !ok {
		fields["display_name"] = "" // so that the domain reports it missing
	}
	if fields["owner"] == "" {
		fields["owner"] = g.User
	}
	if fields["department"] == "" && len(g.Departments) > 0 && g.Scope(access.CustomerWrite) != access.ScopeAll {
		fields["department"] = g.Departments[0]
	}
	if !g.Reaches(access.CustomerWrite, fields["owner"], fields["department"]) {
		return nil, Error(s.Log, fmt.Errorf("%w: owner %q and department %q are outside your data scope", fault.ErrDenied, fields["owner"], fields["department"]))
	}
	id := s.IDs.New(time.Now())
	var dupErr *duplicatesError
	_, err = s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(views, id, fields)
		if err != nil || req.Msg.GetAllowDuplicate() {
			return oneDraft(d, err)
		}
		dups, err := crm.FindDuplicates(views, fields)
		if err != nil {
			return nil, err
		}
		if len(dups) > 0 {
			rv, err := s.readerView(views, g)
			if err != nil {
				return nil, err
			}
			dupErr = &duplicatesError{rv.duplicatesProto(dups)}
			return nil, dupErr
		}
		return oneDraft(d, nil)
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.get(g, id, access.CustomerWrite)
}

// get reads a customer after a write, as the writer may see it.
func (s *CustomerService) get(g *access.Grant, id string, perm access.Perm) (*connect.Response[crmv1.Customer], error) {
	var out *crmv1.Customer
	err := s.view(func(views replication.Tx) error {
		c, err := scopedCustomer(views, g, perm, id)
		if err != nil {
			return err
		}
		rv, err := s.readerView(views, g)
		if err != nil {
			return err
		}
		out = rv.proto(c)
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// GetCustomer implements CustomerService.GetCustomer.
func (s *CustomerService) GetCustomer(ctx context.Context, req *connect.Request[crmv1.GetCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	g, err := s.require(ctx, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	id, err := customerID(req.Msg.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var out *crmv1.Customer
	err = s.view(func(views replication.Tx) error {
		c, err := scopedCustomer(views, g, access.CustomerRead, id)
		if err != nil {
			return err
		}
		if c.Deleted && !reachesCustomer(g, access.CustomerDelete, c) {
			return fmt.Errorf("customer %s: %w", id, fault.ErrNotFound)
		}
		rv, err := s.readerView(views, g)
		if err != nil {
			return err
		}
		out = rv.proto(c)
		cts, err := crm.Contacts(views, c.ID)
		if err != nil {
			return err
		}
		for _, ct := range cts {
			out.Contacts = append(out.Contacts, contactToProto(ct, rv.masked(c)))
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// UpdateCustomer implements CustomerService.UpdateCustomer.
func (s *CustomerService) UpdateCustomer(ctx context.Context, req *connect.Request[crmv1.UpdateCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	g, err := s.require(ctx, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetCustomer()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("customer", "required", "is required"))
	}
	id, err := customerID(in.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(s.Log, fault.Invalidf("update_mask", "required", "names no field"))
	}
	fields, err := fieldsFromProto(in, paths)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var target string
	if _, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := scopedCustomer(views, g, access.CustomerWrite, id)
		if err != nil {
			return nil, err
		}
		target = c.ID
		owner, dept := c.Get("owner"), c.Get("department")
		if v, ok := fields["owner"]; ok {
			owner = v
		}
		if v, ok := fields["department"]; ok {
			dept = v
		}
		if !g.Reaches(access.CustomerWrite, owner, dept) {
			return nil, fmt.Errorf("%w: owner %q and department %q are outside your data scope", fault.ErrDenied, owner, dept)
		}
		d, ok, err := crm.UpdateCustomer(views, id, fields)
		if err != nil || !ok {
			return nil, err
		}
		return oneDraft(d, nil)
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.get(g, target, access.CustomerWrite)
}

// DeleteCustomer implements CustomerService.DeleteCustomer.
func (s *CustomerService) DeleteCustomer(ctx context.Context, req *connect.Request[crmv1.DeleteCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return s.binChange(ctx, req.Msg.GetName(), "customer.delete", crm.DeleteCustomer)
}

// UndeleteCustomer implements CustomerService.UndeleteCustomer.
func (s *CustomerService) UndeleteCustomer(ctx context.Context, req *connect.Request[crmv1.UndeleteCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	return s.binChange(ctx, req.Msg.GetName(), "customer.undelete", crm.RestoreCustomer)
}

func (s *CustomerService) binChange(ctx context.Context, name, action string, cmd func(replication.Tx, string) (replication.Draft, error)) (*connect.Response[crmv1.Customer], error) {
	g, err := s.require(ctx, access.CustomerDelete)
	if err != nil {
		return nil, err
	}
	id, err := customerID(name)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var display string
	evs, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := scopedCustomer(views, g, access.CustomerDelete, id)
		if err != nil {
			return nil, err
		}
		id, display = c.ID, c.Get("display_name")
		return oneDraft(cmd(views, c.ID))
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	s.audit(ctx, action, customerPrefix+id, fmt.Sprintf("%s (event %s)", display, evs[0]))
	return s.get(g, id, access.CustomerDelete)
}

// ListDeletedCustomers implements CustomerService.ListDeletedCustomers.
func (s *CustomerService) ListDeletedCustomers(ctx context.Context, req *connect.Request[crmv1.ListDeletedCustomersRequest]) (*connect.Response[crmv1.ListDeletedCustomersResponse], error) {
	g, err := s.require(ctx, access.CustomerDelete)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	after := req.Msg.GetPageToken()
	if after != "" && !replication.ValidULID(after) {
		return nil, Error(s.Log, fault.Invalidf("page_token", "bad_token", "not a page token of this list"))
	}
	resp := &crmv1.ListDeletedCustomersResponse{}
	err = s.view(func(views replication.Tx) error {
		rv, err := s.readerView(views, g)
		if err != nil {
			return err
		}
		for len(resp.Customers) < size {
			cs, err := crm.ListDeleted(views, after, size)
			if err != nil {
				return err
			}
			for _, c := range cs {
				after = c.ID
				if reachesCustomer(g, access.CustomerDelete, c) {
					resp.Customers = append(resp.Customers, rv.proto(c))
					if len(resp.Customers) == size {
						break
					}
				}
			}
			if len(cs) < size {
				return nil
			}
		}
		if more, err := crm.ListDeleted(views, after, 1); err != nil || len(more) == 0 {
			return err
		}
		resp.NextPageToken = after
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// search runs a search as the reader may see it.
func (s *CustomerService) search(views replication.Tx, g *access.Grant, q crm.Search, perms ...access.Perm) ([]*crm.Customer, bool, error) {
	q.Visible = func(c *crm.Customer) bool {
		for _, p := range perms {
			if !reachesCustomer(g, p, c) {
				return false
			}
		}
		return true
	}
	return crm.SearchCustomers(views, q)
}

// maxFilters bounds the conditions of one search.
const maxFilters = 20

func customerSearchOf(filters []*crmv1.Filter, query string) (crm.Search, error) {
	if len(filters) > maxFilters {
		return crm.Search{}, fault.Invalidf("filters", "too_many", "%d filters, at most %d", len(filters), maxFilters)
	}
	q := crm.Search{Text: query}
	for _, f := range filters {
		op := crm.OpEquals
		switch f.GetOperator() {
		case crmv1.Operator_OPERATOR_UNSPECIFIED, crmv1.Operator_OPERATOR_EQUALS:
		case crmv1.Operator_OPERATOR_CONTAINS:
			op = crm.OpContains
		default:
			return q, fault.Invalidf(f.GetField(), "bad_operator", "unknown operator %v", f.GetOperator())
		}
		q.Filters = append(q.Filters, crm.Filter{Field: f.GetField(), Op: op, Value: f.GetValue()})
	}
	return q, nil
}

// ListCustomers implements CustomerService.ListCustomers.
func (s *CustomerService) ListCustomers(ctx context.Context, req *connect.Request[crmv1.ListCustomersRequest]) (*connect.Response[crmv1.ListCustomersResponse], error) {
	resp, err := s.searchPage(ctx, crm.Search{}, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&crmv1.ListCustomersResponse{Customers: resp.Customers, NextPageToken: resp.NextPageToken}), nil
}

// SearchCustomers implements CustomerService.SearchCustomers.
func (s *CustomerService) SearchCustomers(ctx context.Context, req *connect.Request[crmv1.SearchCustomersRequest]) (*connect.Response[crmv1.SearchCustomersResponse], error) {
	if _, err := s.require(ctx, access.CustomerRead); err != nil {
		return nil, err
	}
	q, err := customerSearchOf(req.Msg.GetFilters(), req.Msg.GetQuery())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp, err := s.searchPage(ctx, q, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

func (s *CustomerService) searchPage(ctx context.Context, q crm.Search, size32 int32, token string) (*crmv1.SearchCustomersResponse, error) {
	g, err := s.require(ctx, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(size32, 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	q.After, q.Limit = token, size
	resp := &crmv1.SearchCustomersResponse{}
	err = s.view(func(views replication.Tx) error {
		cs, more, err := s.search(views, g, q, access.CustomerRead)
		if err != nil {
			return err
		}
		rv, err := s.readerView(views, g)
		if err != nil {
			return err
		}
		for _, c := range cs {
			resp.Customers = append(resp.Customers, rv.proto(c))
		}
		if more {
			resp.NextPageToken = cs[len(cs)-1].ID
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return resp, nil
}

// SuggestCustomers implements CustomerService.SuggestCustomers.
func (s *CustomerService) SuggestCustomers(ctx context.Context, req *connect.Request[crmv1.SuggestCustomersRequest]) (*connect.Response[crmv1.SuggestCustomersResponse], error) {
	g, err := s.require(ctx, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetLimit())
	switch {
	case limit < 0:
		return nil, Error(s.Log, fault.Invalidf("limit", "negative", "must not be negative"))
	case limit == 0:
		limit = 10
	case limit > 50:
		limit = 50
	}
	resp := &crmv1.SuggestCustomersResponse{}
	err = s.view(func(views replication.Tx) error {
		hits, err := crm.Suggest(views, req.Msg.GetQuery(), limit, func(c *crm.Customer) bool { return reachesCustomer(g, access.CustomerRead, c) })
		if err != nil {
			return err
		}
		for _, h := range hits {
			c := h.Customer
			v := c.Get(h.Field)
			if crm.IsPhoneField(h.Field) {
				v = showPhone(v, !reachesCustomer(g, access.PhoneView, c))
			}
			resp.Suggestions = append(resp.Suggestions, &crmv1.Suggestion{
				Customer: customerPrefix + c.ID, DisplayName: c.Get("display_name"), Code: c.Get("code"),
				City: c.Get("city"), Field: h.Field, Value: v,
			})
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// LookupByPhone implements CustomerService.LookupByPhone.
func (s *CustomerService) LookupByPhone(ctx context.Context, req *connect.Request[crmv1.LookupByPhoneRequest]) (*connect.Response[crmv1.LookupByPhoneResponse], error) {
	g, err := s.require(ctx, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	resp := &crmv1.LookupByPhoneResponse{}
	err = s.view(func(views replication.Tx) error {
		cs, err := crm.LookupByPhone(views, req.Msg.GetPhone())
		if err != nil {
			return err
		}
		rv, err := s.readerView(views, g)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if reachesCustomer(g, access.CustomerRead, c) {
				resp.Customers = append(resp.Customers, rv.proto(c))
			}
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// FindDuplicates implements CustomerService.FindDuplicates.
func (s *CustomerService) FindDuplicates(ctx context.Context, req *connect.Request[crmv1.FindDuplicatesRequest]) (*connect.Response[crmv1.FindDuplicatesResponse], error) {
	g, err := s.require(ctx, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetCustomer()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("customer", "required", "is required"))
	}
	fields, err := fieldsFromProto(in, setFields(in))
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var resp *crmv1.FindDuplicatesResponse
	err = s.view(func(views replication.Tx) error {
		dups, err := crm.FindDuplicates(views, fields)
		if err != nil {
			return err
		}
		if in.GetName() != "" { // checking an existing customer: not itself
			dups = dropSelf(dups, strings.TrimPrefix(in.GetName(), customerPrefix))
		}
		rv, err := s.readerView(views, g)
		if err != nil {
			return err
		}
		resp = rv.duplicatesProto(dups)
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

func dropSelf(dups []crm.Duplicate, id string) []crm.Duplicate {
	out := dups[:0]
	for _, d := range dups {
		if d.Customer.ID != id {
			out = append(out, d)
		}
	}
	return out
}

// MergeCustomers implements CustomerService.MergeCustomers.
func (s *CustomerService) MergeCustomers(ctx context.Context, req *connect.Request[crmv1.MergeCustomersRequest]) (*connect.Response[crmv1.MergeCustomersResponse], error) {
	g, err := s.require(ctx, access.CustomerMerge)
	if err != nil {
		return nil, err
	}
	winner, err := customerIDOf("winner", req.Msg.GetWinner())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	loser, err := customerIDOf("loser", req.Msg.GetLoser())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var names [2]string
	evs, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
		for i, id := range []string{winner, loser} {
			c, err := crm.GetCustomer(views, id)
			if err != nil {
				if errors.Is(err, fault.ErrNotFound) {
					break // the domain says which side is missing
				}
				return nil, err
			}
			if err := customerInScope(g, access.CustomerMerge, c); err != nil {
				return nil, err
			}
			names[i] = c.Get("display_name")
		}
		return oneDraft(crm.MergeCustomers(views, winner, loser, req.Msg.GetFields()))
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	s.audit(ctx, "customer.merge", customerPrefix+winner,
		fmt.Sprintf("merged %s%s (%s) into %s (event %s)", customerPrefix, loser, names[1], names[0], evs[0]))
	c, err := s.get(g, winner, access.CustomerMerge)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&crmv1.MergeCustomersResponse{Customer: c.Msg, Loser: customerPrefix + loser}), nil
}
